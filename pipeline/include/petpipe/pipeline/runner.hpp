#pragma once
// The pipeline runner: `petpipe run` chains the stages of one subject, `petpipe group` the group
// statistics. Every stage is one petpipe subcommand run in-process with the arguments its parameter
// table gives for the effective configuration (stage_params.hpp), so any stage can be repeated by hand
// with the command line recorded in its stage record. Stages are skipped when their inputs, parameters and outputs are unchanged (see
// stage_cache.hpp); a failing subject is recorded and never stops the others.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/layout.hpp"

namespace petpipe::pipeline {

namespace fs = std::filesystem;

struct RunOptions {
  fs::path bids;                     // PET-BIDS dataset
  fs::path out;                      // derivatives directory
  nlohmann::json user_config;        // null: tracer presets only
  std::string config_source = "defaults";
  std::vector<std::string> participants;  // empty: every subject
  bool force = false;                // redo every stage
};

// Output file names of one scan (see docs/OUTPUTS.md and core/layout.hpp), with its inputs.
struct ScanPaths : layout::ScanLayout {
  fs::path pet, sidecar, t1;  // inputs
  fs::path subject_ref_mask;  // reference.subject_mask: the scan's own PET-space reference mask
};
ScanPaths scan_paths(const bids::PetScan& scan, const fs::path& out, const nlohmann::json& config);

struct ScanStatus {
  std::string subject, session, tracer;
  std::string stem;    // the scan's output stem (layout::ScanLayout::stem), when known
  std::string status;  // "complete" or "failed"
  std::string error, failed_stage;
  double duration_s = 0.0;
  nlohmann::json stages = nlohmann::json::object();  // stage -> {"status": "run"|"skipped", "seconds": s}
  nlohmann::json to_json() const;
};

// The effective configuration of every selected scan, checked before any work (throws naming the scan,
// the configuration file and the key).
std::vector<nlohmann::json> scan_configs(const bids::Dataset& ds, const RunOptions& options);

// Runs every stage of one scan with its effective configuration; never throws for processing errors
// (they are recorded in the status).
ScanStatus run_scan(const bids::PetScan& scan, const nlohmann::json& config, const RunOptions& options);

// Runs the selected subjects of the dataset one after the other, writes each status file and the run
// summary. Returns the number of failed scans.
std::size_t run_cohort(const RunOptions& options);

// Rewrites OUT/run_summary.tsv and .json from every status file under OUT (atomic).
void write_run_summary(const fs::path& out);

}  // namespace petpipe::pipeline
