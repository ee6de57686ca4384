#pragma once
// The derivatives layout: every path petpipe writes for a scan, a subject and a group is computed
// here, and only here. The commands (for the files they write beside their inputs), the runner, group,
// slurm, the QC loader and the tests use it. Names are BIDS-derivative names built from the entities
// of the input file (sub, ses, trc, rec, run); a non-BIDS input name gives a prefix instead.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "petpipe/core/bids.hpp"

namespace petpipe::layout {

namespace fs = std::filesystem;
using Entities = std::vector<std::pair<std::string, std::string>>;

// Spaces and segmentations named in outputs.
inline constexpr const char* kMniSpace = "MNIColin27";  // space- of maps in the template's space
inline constexpr const char* kAtlasSeg = "AAL";          // seg- of the atlas labels and ROI tables
inline constexpr const char* kModel = "SRTM";            // model- of the voxelwise maps and regional fits

// The naming source of a scan: the BIDS entities of its input file, or a prefix for other names.
struct Source {
  bids::Name name;     // entities of the input (only sub, ses, trc, rec and run are used)
  std::string prefix;  // "<stem>_" for a non-BIDS input name, else empty
  // dir / <prefix><entities of the input><extra entities>_<suffix><extension>
  fs::path file(const fs::path& dir, const Entities& extra, const std::string& suffix, const std::string& ext) const;
  // "sub-01_trc-carfentanil" (or the prefix without its trailing "_")
  std::string stem() const;
};
// From an input file name. `strip_suffixes`: for non-BIDS names, suffixes dropped from the stem
// (e.g. "_pet" so that "scan_pet.nii.gz" gives the prefix "scan_").
Source source_of(const fs::path& input, const std::vector<std::string>& strip_suffixes = {"_pet"});

// The JSON sidecar of a table: x_roistats.tsv -> x_roistats.json.
fs::path table_sidecar(const fs::path& table);

// "sm8" for 8 mm, "sm6.5" for 6.5 mm: the desc- of smoothed maps and tables.
std::string smoothing_desc(double fwhm_mm);

// petpipe realign (in its --out directory)
struct RealignFiles {
  fs::path mc, mc_json, mean, mean_json, motion, motion_json;
};
RealignFiles realign_files(const Source& src, const fs::path& dir);

// petpipe srtm (in its --out directory)
const std::vector<std::string>& srtm_measures();  // BPND R1 k2 k2a RSS theta3index
struct SrtmFiles {
  Source src;
  fs::path dir;
  fs::path gridedge, fitmask, ref_tac;
  fs::path map(const std::string& meas) const;  // _model-SRTM_meas-<meas>_mimap.nii.gz
  std::vector<fs::path> all() const;            // every file written
};
SrtmFiles srtm_files(const Source& src, const fs::path& dir);

// The transforms folder of petpipe normalize (read by normalize --apply).
struct TransformFiles {
  fs::path dir;
  fs::path json, pet_to_t1, t1_to_mni_affine;     // always
  fs::path t1_to_mni_warp, t1_to_mni_inverse_warp;  // with a deformable step
};
TransformFiles transform_files(const fs::path& dir);

// petpipe normalize (in its --out directory). `pet` names the PET-space outputs, `t1` the T1 ones.
struct NormalizeFiles {
  fs::path dir, xfm_dir;
  TransformFiles xfm;
  fs::path transforms_json, pet_to_t1, t1_to_mni_affine;  // = xfm.json, xfm.pet_to_t1, xfm.t1_to_mni_affine
  fs::path t1_mni, t1_coreg, template_in_t1, t1_kmeans;   // T1 entities
  fs::path pet_in_t1, pet_mean, dseg, dseg_subvoxel, record;  // PET entities
  fs::path ref_mask(const std::string& region) const;     // _desc-<region>_mask.nii.gz
  fs::path ref_tacs(const std::string& region) const;     // _desc-<region>_tacs.tsv
  Source pet;
  std::vector<fs::path> transforms() const;  // the files petpipe normalize --apply reads
};
NormalizeFiles normalize_files(const Source& pet, const Source& t1, const fs::path& dir);

// One scan of petpipe run.
struct ScanLayout {
  std::string subject, session, tracer;
  std::string stem;        // sub-XX[_ses-YY]_trc-T...
  fs::path dir;            // OUT/sub-XX[/ses-YY]
  fs::path pet_dir;        // dir/pet
  fs::path state_dir;      // dir/.petpipe/<stem>: stage records
  RealignFiles realign;    // in pet_dir
  NormalizeFiles normalize;  // in dir/normalize
  SrtmFiles srtm;          // in pet_dir
  std::string reference;   // reference region name
  fs::path ref_mask;       // normalize.ref_mask(reference)
  std::string smoothing;   // smoothing_desc(fwhm)
  fs::path mni_map(const std::string& meas) const;     // _space-MNIColin27_model-SRTM_meas-<m>_mimap.nii.gz
  fs::path mni_sm_map(const std::string& meas) const;  // ..._desc-sm<fwhm>_model-SRTM_meas-<m>_mimap.nii.gz
  fs::path roistats;       // _seg-AAL_desc-sm<fwhm>_roistats.tsv (MNI)
  fs::path tacs;           // _seg-AAL_tacs.tsv (PET space)
  fs::path fits;           // _seg-AAL_desc-fits_tacs.tsv
  fs::path kinpar;         // _seg-AAL_model-SRTM_kinpar.tsv
  fs::path h5, report, status, config;
  // Every file a run of the scan may write below `dir` (with the images' JSON sidecars), except the
  // stage records in state_dir; optional ones (the deformable warps, the k-means segmentation, the
  // reference TAC of normalize) included.
  std::vector<fs::path> files() const;
};
// `pet_input`: the scan's PET file (its name gives the entities; trc- is added from `tracer` when absent);
// `t1_input`: its T1w image (names the T1 outputs; empty: sub and ses only).
ScanLayout scan_layout(const fs::path& out, const std::string& subject, const std::string& session,
                       const std::string& tracer, const fs::path& pet_input, const fs::path& t1_input,
                       const std::string& reference, double smooth_fwhm_mm);
// A scan's own reference-region mask in PET space, supplied by the user in a derivatives folder `dir`:
// dir/sub-<label>/[ses-<label>/]pet/<stem>_desc-reference_mask.nii.gz (stem: sub-<label>[_ses-<label>]_trc-<tracer>).
fs::path subject_reference_mask(const fs::path& dir, const std::string& subject, const std::string& session,
                                const std::string& stem);
// The status file of a scan whose configuration could not be built (no layout): OUT/sub-XX/...
fs::path fallback_status(const fs::path& out, const std::string& subject, const std::string& tracer);

// The cohort and group outputs of petpipe run / group / slurm.
struct CohortLayout {
  fs::path out;
  fs::path dataset_description, participants, run_summary_tsv, run_summary_json;
  fs::path group_dir, group_participants, group_maps, group_brain_mask, group_voxelwise, group_roi, group_summary,
      group_report;
  fs::path slurm_dir, slurm_logs, slurm_submissions;
  fs::path group_roi_long(const std::string& map) const;  // group/roi_long_<map>.tsv
};
CohortLayout cohort_layout(const fs::path& out);

// Folder names under OUT that are not subjects' (skipped when searching for status files).
bool is_internal_dir(const std::string& name);

}  // namespace petpipe::layout
