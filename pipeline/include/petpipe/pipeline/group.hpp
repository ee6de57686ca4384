#pragma once
// `petpipe group`: the group statistics of a cohort processed by `petpipe run`.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace petpipe::pipeline {

struct GroupOptions {
  std::filesystem::path derivatives;   // the --out of petpipe run
  std::filesystem::path participants;  // default: derivatives/participants.tsv
  nlohmann::json user_config;          // null: defaults
  std::string config_source = "defaults";
  std::string tracer;                  // default: the tracer of the complete scans (must be one)
  bool allow_missing = false;          // run on the complete subjects when some are missing or failed
};

struct GroupResult {
  std::vector<std::string> included, missing;  // participant_id
  std::filesystem::path dir;                   // derivatives/group
};

// Stacks the smoothed MNI maps of the complete subjects and runs the voxelwise GLM (petpipe glm), the
// group ROI table (petpipe roi) and the ROI statistics (petpipe glm --roi-table) the configuration names.
// Throws when subjects of the participants table are missing or failed and allow_missing is false.
GroupResult run_group(const GroupOptions& options);

}  // namespace petpipe::pipeline
