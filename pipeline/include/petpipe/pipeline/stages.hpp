#pragma once
// The commands the runner chains, as functions: each takes the files and the typed options of one
// call (a request) and writes that command's outputs. `petpipe <command>` parses its command line into
// the same request; the runner builds the request from the effective configuration and records
// request_args(request), the equivalent command line, so every stage can be repeated by hand.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "petpipe/pipeline/stage_params.hpp"

namespace petpipe::pipeline {

namespace fs = std::filesystem;

// petpipe realign
struct RealignRequest {
  fs::path pet, out;  // 4D PET image; output directory
  bool estimate_only = false;
  bool force = false;
  RealignParams params;
};
void run_realign(const RealignRequest& r);
std::vector<std::string> request_args(const RealignRequest& r);

// petpipe srtm
struct SrtmRequest {
  fs::path pet, out;
  fs::path ref_mask, ref_tac;  // exactly one
  fs::path mask;               // optional fit mask
  std::string tracer;          // names the preset for a missing theta3 range (default: the sidecar's)
  bool force = false;
  SrtmParams params;
};
void run_srtm(const SrtmRequest& r);
std::vector<std::string> request_args(const SrtmRequest& r);

// petpipe smooth
struct SmoothRequest {
  fs::path in, out;
  bool force = false;
  SmoothParams params;
};
void run_smooth(const SmoothRequest& r);
std::vector<std::string> request_args(const SmoothRequest& r);

// petpipe roi
struct RoiRequest {
  std::vector<fs::path> in;  // a 3D map, a 4D PET image, or several maps
  fs::path out;              // .tsv
  fs::path labels;           // native-space labels (empty: the atlas's own, in its space)
  bool fractional = false;   // partial-volume weights from finer labels
  fs::path participants;     // group long table: participants.tsv to join
  bool group = false;        // group long table even for one map
  std::string stat = "mean";
  bool force = false;
  RoiParams params;
};
void run_roi(const RoiRequest& r);
std::vector<std::string> request_args(const RoiRequest& r);

// petpipe normalize
struct NormalizeRequest {
  fs::path pet;          // mean PET (3D), or dynamic PET when `dynamic`
  bool dynamic = false;
  fs::path t1, out;
  std::string atlas = "aal";
  std::string tracer;    // names the preset whose reference region is placed when reference.region is empty
  bool force = false;
  NormalizeParams params;
  ReferenceParams reference;
};
void run_normalize(const NormalizeRequest& r);
std::vector<std::string> request_args(const NormalizeRequest& r);

// petpipe normalize --apply
struct ApplyRequest {
  fs::path in, transforms, out;
  fs::path like;         // --inverse: the output grid (default: the PET grid recorded with the transforms)
  bool inverse = false;  // MNI -> PET
  bool labels = false;   // nearest neighbour
  bool force = false;
  MniParams params;
  std::vector<double> bbox{-90, -126, -72, 90, 90, 108};  // MNI box, RAS mm (SPM's)
};
void run_apply(const ApplyRequest& r);
std::vector<std::string> request_args(const ApplyRequest& r);

// The equivalent command line of a request, as one string ("petpipe realign --pet ..."); also set as
// the process's command line for the provenance of the outputs while the request runs.
std::string command_string(const std::vector<std::string>& args);

// Runs `body` with the provenance command line set to `args` (restored afterwards).
void with_command_line(const std::vector<std::string>& args, const std::function<void()>& body);

}  // namespace petpipe::pipeline
