#pragma once
// The pipeline runner: `petpipe run` chains the stages of one subject, `petpipe group` the group
// statistics. Every stage is one petpipe subcommand run in-process with arguments derived from the
// effective configuration, so any stage can be repeated by hand with the command line recorded in its
// stage record. Stages are skipped when their inputs, parameters and outputs are unchanged (see
// stage_cache.hpp); a failing subject is recorded and never stops the others.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"

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

// Output file names of one scan (see docs/OUTPUTS.md).
struct ScanPaths {
  std::string subject, session, tracer;
  fs::path pet, sidecar, t1;
  fs::path dir;       // OUT/sub-XX[/ses-YY]
  fs::path pet_dir;   // .../pet
  fs::path norm_dir;  // .../normalize (petpipe normalize: transforms/, T1 in MNI, labels, reference mask)
  fs::path xfm_dir;   // .../normalize/transforms
  fs::path state_dir; // .../.petpipe (stage records)
  std::string stem;   // sub-XX[_ses-YY]_trc-T
  fs::path mc, mc_json, mean, motion, motion_json;
  fs::path ref_mask, dseg, dseg_subvoxel, brain_mask;
  fs::path bpnd, r1, k2, k2a, rss, gridedge, ref_tac;
  fs::path mni_bpnd, mni_sm_bpnd;
  fs::path roistats, tacs, fits, kinpar;
  fs::path t1_mni, pet_in_t1, t1_coreg;  // t1_coreg: the T1 resampled into PET space
  fs::path h5, report, status, config;
  std::vector<fs::path> transforms;  // files written by `petpipe normalize`
  std::string reference;             // reference region name
};
ScanPaths scan_paths(const bids::PetScan& scan, const fs::path& out, const nlohmann::json& config);

struct ScanStatus {
  std::string subject, session, tracer;
  std::string status;  // "complete" or "failed"
  std::string error, failed_stage;
  double duration_s = 0.0;
  nlohmann::json stages = nlohmann::json::object();  // stage -> {"status": "run"|"skipped", "seconds": s}
  nlohmann::json to_json() const;
};

// Runs every stage of one scan; never throws for processing errors (they are recorded in the status).
ScanStatus run_scan(const bids::PetScan& scan, const RunOptions& options);

// Runs the selected subjects of the dataset one after the other, writes each status file and the run
// summary. Returns the number of failed scans.
std::size_t run_cohort(const RunOptions& options);

// Rewrites OUT/run_summary.tsv and .json from every status file under OUT (atomic).
void write_run_summary(const fs::path& out);

}  // namespace petpipe::pipeline
