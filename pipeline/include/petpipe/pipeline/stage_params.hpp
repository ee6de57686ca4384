#pragma once
// The parameter table of every stage (see params.hpp): one row per tunable option, with its
// configuration key, command-line flag, type, unit, allowed values and description. The Options
// structs below gather what a stage's command takes besides its input and output files; their
// defaults are the defaults of petpipe (taken from the modules' own Options where the module has one).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "petpipe/kinetics/reference.hpp"
#include "petpipe/normalize/normalize.hpp"
#include "petpipe/qc/checks.hpp"
#include "petpipe/qc/report.hpp"
#include "petpipe/pipeline/params.hpp"
#include "petpipe/pipeline/slurm_resources.hpp"
#include "petpipe/realign/realign.hpp"
#include "petpipe/smooth/gaussian.hpp"

namespace petpipe::pipeline {

// petpipe realign
struct RealignParams {
  realign::Options estimation;
  realign::Interpolation interpolation = realign::Interpolation::bspline;
};

// petpipe normalize: registration (section "normalize")
struct NormalizeParams {
  std::string template_name = "auto";  // auto | head | brain
  normalize::TemplateOptions registration;  // T1 -> MNI (its defaults are petpipe's)
  double bspline_grid_mm = normalize::BSplineOptions{}.grid_mm.back();  // finest lattice (levels at 4x, 2x, 1x)
  std::string bspline_iterations;  // "60,60,20": per level, coarse to fine; empty: the module's
  std::string demons_iterations;   // the same for demons
  bool brain_mask = true;          // deformable cost only inside the template brain + brain_margin_mm
};

// petpipe normalize: the reference region placed in PET space (section "reference")
struct ReferenceParams {
  std::string region;  // atlas reference region; empty: the tracer preset's
  bool trim = true;
  bool gm_mask = false;
};

// The runner's other sources of the reference region (section "reference" too; flags of petpipe run)
struct ReferenceSourceParams {
  std::string mni_mask;      // a mask (non-zero = region) in MNI space, warped to PET space per scan
  std::string subject_mask;  // a derivatives folder with a PET-space mask per scan (layout::subject_reference_mask)
};

// petpipe normalize --apply: the MNI grid of warped maps (section "mni")
struct MniParams {
  double voxel_mm = 2.0;
};

// petpipe srtm (section "srtm")
struct SrtmParams {
  double theta3_min_per_min = std::numeric_limits<double>::quiet_NaN();  // NaN: the tracer preset's
  double theta3_max_per_min = std::numeric_limits<double>::quiet_NaN();
  std::size_t basis_functions = 300;
  kinetics::WeightScheme weights = kinetics::WeightScheme::counts;
  double mask_threshold_fraction = kinetics::BrainMaskOptions{}.threshold_fraction;
  bool subgrid_refinement = true;
};

// petpipe smooth (section "smooth")
struct SmoothParams {
  Vec3 fwhm_mm = smooth::Options{}.fwhm_mm;  // per voxel axis
  bool nan_aware = smooth::Options{}.nan_aware;
};

// petpipe roi as the runner uses it (section "roi")
struct RoiParams {
  std::string atlas = "aal";
  std::vector<std::string> regions;  // empty: every analysis region of the atlas
};

// Runner stages without a subcommand of their own (section "roi" too; flags of petpipe run)
enum class NativeWeights { fractional, nearest };
struct RegionalParams {
  bool regional_fits = true;
  NativeWeights native_weights = NativeWeights::fractional;
};

// The runner's QC reports (section "report"; flags of petpipe run)
struct ReportParams {
  bool enabled = true;
};

// petpipe report: warning thresholds and display (section "report" too)
struct ReportQcParams {
  qc::QcThresholds thresholds;
  qc::Convention convention = qc::ReportOptions{}.convention;
};

// petpipe group (section "group")
struct GroupParams {
  std::string map = "BPND";
  std::string design = "group";
  std::vector<std::string> contrasts;
  double fdr_q = 0.025;
  double cluster_p = 0.001;
  std::string mask = "brain";
  std::size_t permutations = 0;
  bool tfce = false;
  std::uint64_t seed = 1;
};

// petpipe slurm (section "slurm"): the resources of every job
using SlurmParams = SlurmResources;

const params::StageTable<RealignParams>& realign_table();
const params::StageTable<NormalizeParams>& normalize_table();
const params::StageTable<ReferenceParams>& reference_table();
const params::StageTable<ReferenceSourceParams>& reference_source_table();
const params::StageTable<MniParams>& mni_table();
const params::StageTable<SrtmParams>& srtm_table();
const params::StageTable<SmoothParams>& smooth_table();
const params::StageTable<RoiParams>& roi_table();
const params::StageTable<RegionalParams>& regional_table();
const params::StageTable<ReportParams>& report_table();
const params::StageTable<ReportQcParams>& report_qc_table();
const params::StageTable<GroupParams>& group_table();
const params::StageTable<SlurmParams>& slurm_table();

// Every table, in configuration order (sections may repeat: "roi" has two tables).
std::vector<const params::Table*> all_tables();

// Typed options of every stage of a study configuration.
struct StudyParams {
  std::string tracer;
  RealignParams realign;
  NormalizeParams normalize;
  ReferenceParams reference;
  ReferenceSourceParams reference_source;
  MniParams mni;
  SrtmParams srtm;
  SmoothParams smooth;
  RoiParams roi;
  RegionalParams regional;
  ReportParams report;
  ReportQcParams report_qc;
  GroupParams group;
  SlurmParams slurm;
};

// The configuration with every key at its default (tracer "", no tracer settings).
nlohmann::json default_config();
// Checks a whole configuration: unknown sections and keys, types, ranges and choices. Errors name
// `source` and the key path. Null sections are not allowed.
void check_config(const nlohmann::json& config, const std::string& source);
// Typed options from a complete, checked configuration.
StudyParams study_params(const nlohmann::json& config, const std::string& source);

}  // namespace petpipe::pipeline
