#pragma once
// Pipeline configuration: JSON with one section per stage. The effective configuration is built as
// built-in defaults <- tracer preset <- user file, and every key a user gives must exist in the
// defaults (a misspelt key is an error, not silently ignored). The effective configuration, with every
// default filled in, is written next to the outputs.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace petpipe::pipeline {

// Built-in defaults of every stage (tracer-independent).
nlohmann::json default_config();
// Tracer preset overrides: "carfentanil" (occipital reference, theta3 0.06-0.6 /min) and "madam"
// (cerebellar grey-matter reference, theta3 0.045-0.6 /min). Throws for unknown tracers.
nlohmann::json tracer_preset(const std::string& tracer);
std::string canonical_tracer(const std::string& tracer);  // "Carfentanil", "[11C]carfentanil" -> "carfentanil"

// Deep merge: keys of `overrides` replace those of `base`; objects merge recursively. Keys not present
// in `base` are an error naming `source` and the key path.
nlohmann::json merge_config(const nlohmann::json& base, const nlohmann::json& overrides, const std::string& source);

// Effective configuration for a tracer: defaults <- preset(tracer) <- user (may be null). When the
// user file names a tracer ("tracer" key) it must match `tracer` unless `tracer` is empty.
nlohmann::json effective_config(const std::string& tracer, const nlohmann::json& user, const std::string& source);

// Reads a configuration file (throws with the file name on invalid JSON).
nlohmann::json read_config(const std::filesystem::path& path);

}  // namespace petpipe::pipeline
