#pragma once
// Provenance of every output: petpipe version, git hash, time, command line, effective configuration
// and SHA-256 of the inputs.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace petpipe {

std::string version_string();  // "0.1.0"
std::string git_hash();        // short hash at build time or "unknown"

std::string sha256_hex(const std::string& bytes);
std::string sha256_file(const std::filesystem::path& path);

struct Provenance {
  std::string command_line;
  nlohmann::json configuration = nlohmann::json::object();
  std::vector<std::filesystem::path> inputs;

  nlohmann::json to_json() const;  // {"GeneratedBy": [...], "Configuration": ..., "Sources": [...]}
};

// The command line as one string, set once by main().
void set_command_line(int argc, const char* const* argv);
const std::string& command_line();

}  // namespace petpipe
