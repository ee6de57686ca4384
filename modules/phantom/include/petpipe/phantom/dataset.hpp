#pragma once
// Cohort configuration files and the PET-BIDS output of `petpipe simulate`.
//
// Layout of an output directory DIR:
//   DIR/dataset_description.json, participants.tsv, participants.json
//   DIR/sub-XX/pet/sub-XX_trc-<tracer>_pet.nii.gz + .json      dynamic PET (native space)
//   DIR/sub-XX/anat/sub-XX_T1w.nii.gz + .json                  synthetic T1 (native space)
//   DIR/derivatives/truth/                                     the truth (a BIDS derivative dataset)
//     dataset_description.json, seg-phantom_dseg.tsv (class index -> name), provenance.json (the
//     command line and date: the only file that differs between two runs with the same seed)
//     sub-XX/sub-XX_trc-<tracer>[_space-MNIColin27]_meas-{BPND,R1,k2}_mimap.nii.gz
//     sub-XX/sub-XX[_space-MNIColin27]_seg-phantom_dseg.nii.gz
//     sub-XX/sub-XX_trc-<tracer>[_space-MNIColin27]_label-<reference>_mask.nii.gz
//     sub-XX/sub-XX_trc-<tracer>_motion.tsv + .json          per-frame rigid motion (motion.hpp)
//     sub-XX/sub-XX_from-native_to-MNIColin27_affine.json    4x4 affine, native RAS -> MNI RAS
//     sub-XX/sub-XX_from-native_to-MNIColin27_mode-image_xfm.nii.gz  (--warp) x_mni - x_native, RAS mm,
//                                                            3 volumes (x, y, z) on the PET grid
//     sub-XX/sub-XX_trc-<tracer>_regions.tsv                 region, label, R1, k2, k2a, BPND, voxels
//     sub-XX/sub-XX_trc-<tracer>_desc-truth_tacs.tsv         true regional frame means (before PSF)
//     sub-XX/sub-XX_trc-<tracer>_desc-reference_tac.tsv + .json  noiseless reference TAC and its curve
//     sub-XX/sub-XX_truth.json                               participant, seed and simulation settings
// Without --warp, native space is the MNI grid and the native and MNI truth maps are identical.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/frame_table.hpp"
#include "petpipe/phantom/cohort.hpp"
#include "petpipe/phantom/simulate.hpp"

namespace petpipe::phantom {

namespace fs = std::filesystem;

inline constexpr const char* kTruthDir = "derivatives/truth";
inline constexpr const char* kSpace = "MNIColin27";

struct SimulationConfig {
  std::string name = "petpipe synthetic PET cohort";
  CohortSpec cohort;
  SimulationOptions options;
  std::vector<double> frame_durations_s;  // empty: the tracer preset's schedule
  fs::path motion_file;                   // source of options.motion_table (recorded in the truth)
};

// Reads a JSON cohort configuration (see examples/*.json). Unknown keys and wrong types are errors
// that name the file and the key.
SimulationConfig read_simulation_config(const fs::path& path);

// A per-frame rigid motion table (BIDS TSV with columns tx ty tz in mm and rx ry rz in degrees, one
// row per frame, in the convention of motion.hpp), e.g. a phantom's truth table or a `petpipe realign`
// motion table. An optional "frame" column must number the rows 1, 2, ... Missing or non-numeric
// values are errors naming the file, row and column.
std::vector<RigidMotion> read_motion_table(const fs::path& path);

// Contiguous frames from t = 0 with the preset's radionuclide and tracer name.
FrameTable make_frame_table(const TracerPreset& preset, const std::vector<double>& durations_s);

// dataset_description.json, participants.tsv/json and the truth folder's description and class table.
void write_dataset_files(const fs::path& out, const SimulationConfig& config,
                         const std::vector<Participant>& participants,
                         const std::map<int, std::string>& class_names);
// Every file of one subject (PET, T1, truth).
void write_subject(const fs::path& out, const Participant& participant, const TracerPreset& preset,
                   const SubjectSimulation& sim, const SimulationConfig& config);

}  // namespace petpipe::phantom
