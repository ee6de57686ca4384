#pragma once
// Pipeline configuration: JSON with one section per stage, whose keys are the rows of the stages'
// parameter tables (stage_params.hpp). The effective configuration of a scan is
//   defaults (the tables) <- tracer preset (tracers/<name>.json) <- user file,
// checked as a whole (unknown key, type, range, choice) before any work. Tracer knowledge lives only in
// the preset files; a tracer without a preset runs when the configuration gives what a preset would
// (the reference region and the srtm theta3 range).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/pipeline/stage_params.hpp"

namespace petpipe::pipeline {

// "Carfentanil", "[11C]carfentanil", "11C-carfentanil" -> "carfentanil"
std::string canonical_tracer(const std::string& tracer);

// The folder of the tracer preset files: $PETPIPE_TRACER_DIR, else the one petpipe was built with.
std::filesystem::path tracer_dir();
// Canonical names of the tracers with a preset file.
std::vector<std::string> known_tracers();

struct TracerPreset {
  std::string name;                    // canonical name (the file's stem)
  std::filesystem::path file;
  std::string description;
  nlohmann::json config;               // configuration overrides (sections and keys of the tables)
};
// The preset of a tracer by any of its names (the file's "names" list, canonicalised); nullopt when
// no preset file names it. Throws for a preset file that is not valid.
std::optional<TracerPreset> find_tracer_preset(const std::string& tracer);

// Deep merge: keys of `overrides` replace those of `base`; objects merge recursively.
nlohmann::json merge_config(const nlohmann::json& base, const nlohmann::json& overrides);

// Effective configuration of a scan whose tracer is `tracer` (may be empty when the user file names
// it): defaults <- preset <- user (may be null). The user file's "tracer" names the preset it is built
// on: it must agree with a scan tracer that has a preset of its own; a scan tracer without a preset
// takes the file's tracer's preset as its base. Checked; throws naming `source` and the key path.
nlohmann::json effective_config(const std::string& tracer, const nlohmann::json& user, const std::string& source);

// Checks what a run needs beyond the tables' own checks: a reference region (atlas region, MNI mask
// or per-subject mask) and both ends of the theta3 range, with min < max.
void check_run_config(const nlohmann::json& config, const std::string& source);

// Reads a configuration file (throws with the file name on invalid JSON) and checks its keys, types and
// ranges (tracer-independent).
nlohmann::json read_config(const std::filesystem::path& path);

}  // namespace petpipe::pipeline
