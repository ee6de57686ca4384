#include "petpipe/pipeline/stage_params.hpp"

#include "petpipe/core/error.hpp"

namespace petpipe::pipeline {

using namespace petpipe::params;
using nlohmann::json;
using realign::Metric;

namespace {
// The reference frame: 0-based with -1 = automatic in realign::Options; 1-based with null = automatic
// to the user.
Param reference_frame_row() {
  using O = RealignParams;
  Param p = integer<O>("reference_frame", "ref-frame", "", between(1, 1000000), "reference frame (1-based)",
                       [](O& o) -> auto& { return o.estimation.reference_frame; });
  p.optional = true;
  p.null_means = "the highest-count frame in the last two thirds of the scan";
  p.get = [](const void* o) {
    const int r = static_cast<const O*>(o)->estimation.reference_frame;
    return r < 0 ? json(nullptr) : json(r + 1);
  };
  p.set = [](void* o, const json& v) {
    static_cast<O*>(o)->estimation.reference_frame = v.is_null() ? -1 : static_cast<int>(v.get<long long>() - 1);
  };
  return p;
}
}  // namespace

const StageTable<RealignParams>& realign_table() {
  using O = RealignParams;
  static const StageTable<O> t(
      "realign",
      {real<O>("fwhm_mm", "fwhm", "mm", at_least(0), "smoothing of the first pass's estimation images (FWHM)",
               [](O& o) -> auto& { return o.estimation.fwhm_mm; }),
       reference_frame_row(),
       frame_list<O>("exclude_frames", "exclude-frames", "frames never estimated, 1-based: 1 2 3, 1-3 or 1,2,5-7",
                     [](O& o) -> auto& { return o.estimation.exclude_frames; }),
       real<O>("start_time_s", "start-time", "s", at_least(0), "frames starting before this time are not estimated",
               [](O& o) -> auto& { return o.estimation.start_time_s; }),
       real<O>("empty_fraction", "empty-fraction", "", between(0, 1),
               "near-empty frame (not estimated): mean below this fraction of the largest frame mean",
               [](O& o) -> auto& { return o.estimation.empty_fraction; }),
       choice<O, realign::ExcludedPolicy>(
           "excluded_policy", "excluded",
           {{"nearest", realign::ExcludedPolicy::nearest}, {"identity", realign::ExcludedPolicy::identity}},
           "frames not estimated take the transform of the nearest estimated frame, or none",
           [](O& o) -> auto& { return o.estimation.excluded; }),
       boolean<O>("two_pass", "single-pass", "skip the second pass (registration to the realigned series)",
                  [](O& o) -> auto& { return o.estimation.two_pass; }, false),
       real<O>("sampling_fraction", "sampling", "", open_between(0, 1.000001),
               "first pass: fraction of estimation voxels sampled by the metric",
               [](O& o) -> auto& { return o.estimation.sampling_fraction; }),
       integer<O>("refine_passes", "refine-passes", "", between(1, 12),
                  "second pass: rounds, each from the previous one's result with rebuilt targets",
                  [](O& o) -> auto& { return o.estimation.refine_passes; }),
       real<O>("refine_fwhm_mm", "refine-fwhm", "mm", Range{},
               "second pass: smoothing of its images (0: none; < 0: as the first pass)",
               [](O& o) -> auto& { return o.estimation.refine_fwhm_mm; }),
       integer<O>("refine_samples", "refine-samples", "points", at_least(1000),
                  "second pass: metric points per frame inside the head (mutual information, correlation)",
                  [](O& o) -> auto& { return o.estimation.refine_max_samples; }),
       choice<O, realign::RefineTarget>(
           "refine_target", "refine-target",
           {{"model", realign::RefineTarget::model}, {"mean", realign::RefineTarget::mean}},
           "second pass target: each frame's prediction from the other frames (model) or the mean of the "
           "realigned frames (mean, as SPM)",
           [](O& o) -> auto& { return o.estimation.refine_target; }),
       integer<O>("refine_components", "refine-components", "", between(1, 8),
                  "model target: temporal components of the low-rank model",
                  [](O& o) -> auto& { return o.estimation.refine_components; }),
       choice<O, Metric>("reference_metric", "reference-metric",
                         {{"wncc", Metric::window_ncc}, {"mattes", Metric::mattes}},
                         "model target, round against the reference frame: local normalized correlation on "
                         "jittered windows (wncc) or mutual information (mattes)",
                         [](O& o) -> auto& { return o.estimation.reference_metric; }),
       real<O>("window_radius_mm", "window-radius", "mm", above(0),
               "wncc: window half-width (rounded to 1..3 estimation voxels)",
               [](O& o) -> auto& { return o.estimation.window_radius_mm; }),
       integer<O>("window_samples", "window-samples", "points", at_least(1000),
                  "wncc: points per frame in all ((2 r + 1)^3 per window)",
                  [](O& o) -> auto& { return o.estimation.window_samples; }),
       integer<O>("lsq_samples", "lsq-samples", "points", at_least(1000),
                  "least squares: points per frame (every head voxel up to this many)",
                  [](O& o) -> auto& { return o.estimation.lsq_max_samples; }),
       real<O>("model_prior_weight", "model-prior", "", at_least(0),
               "model rounds: weight of the prior holding frames near their relative poses from the "
               "reference round (0: none)",
               [](O& o) -> auto& { return o.estimation.model_prior_weight; }),
       integer<O>("seed", "seed", "", between(0, 4294967295.0), "sampling seed (results are reproducible)",
                  [](O& o) -> auto& { return o.estimation.seed; }),
       choice<O, realign::Interpolation>(
           "interpolation", "interp",
           {{"bspline", realign::Interpolation::bspline}, {"linear", realign::Interpolation::linear}},
           "reslicing: cubic B-spline (as SPM) or trilinear", [](O& o) -> auto& { return o.interpolation; })});
  return t;
}

const StageTable<NormalizeParams>& normalize_table() {
  using O = NormalizeParams;
  using D = normalize::TemplateOptions::Deformable;
  static const StageTable<O> t(
      "normalize",
      {choice<O, std::string>("template", "template", {{"auto", "auto"}, {"head", "head"}, {"brain", "brain"}},
                              "Colin27 with skull (head), skull-stripped (brain), or chosen from the T1 (auto)",
                              [](O& o) -> auto& { return o.template_name; }),
       boolean<O>("deformable", "affine-only", "T1 -> MNI by the affine alone (no deformable step)",
                  [](O& o) -> auto& { return o.registration.deformable; }, false),
       choice<O, D>("deformable_method", "deformable", {{"bspline", D::bspline}, {"demons", D::demons}},
                    "deformable step: cubic B-spline free-form deformation (L-BFGS) or symmetric-force demons",
                    [](O& o) -> auto& { return o.registration.method; }),
       real<O>("working_spacing_mm", "working-spacing", "mm", between(0.5, 8),
               "grid of the displacement field (and of the demons images)",
               [](O& o) -> auto& { return o.registration.working_spacing_mm; }),
       real<O>("bspline_grid_mm", "bspline-grid", "mm", between(4, 100),
               "final control-point spacing of the B-spline lattices (levels at 4x, 2x, 1x)",
               [](O& o) -> auto& { return o.bspline_grid_mm; }),
       real<O>("bspline_image_spacing_mm", "bspline-image-spacing", "mm", between(0.5, 8),
               "grid of the images matched at the finest B-spline level (at most the working spacing)",
               [](O& o) -> auto& { return o.registration.bspline_image_spacing_mm; }),
       real<O>("bspline_smoothness", "bspline-smoothness", "", at_least(0),
               "weight of the B-spline membrane energy against the mean squared image difference (0: none)",
               [](O& o) -> auto& { return o.registration.bspline.smoothness_weight; }),
       text<O>("bspline_iterations", "bspline-iterations",
               "L-BFGS iterations per level, coarse to fine, e.g. 60,60,20 (empty: the default)",
               [](O& o) -> auto& { return o.bspline_iterations; }),
       boolean<O>("brain_mask", "no-brain-mask", "deformable cost over the whole head (scalp and skull included)",
                  [](O& o) -> auto& { return o.brain_mask; }, false),
       real<O>("brain_margin_mm", "brain-margin", "mm", between(0, 50),
               "deformable cost only inside the template brain (ch2bet) dilated by this margin",
               [](O& o) -> auto& { return o.registration.brain_margin_mm; }),
       real<O>("contrast_sigma_mm", "contrast-sigma", "mm", at_least(0),
               "deformable step on locally contrast-normalised images, Gaussian sigma (0: histogram matching)",
               [](O& o) -> auto& { return o.registration.local_contrast_sigma_mm; }),
       text<O>("demons_iterations", "demons-iterations",
               "demons iterations per level, coarse to fine, e.g. 80,50,30 (empty: the default)",
               [](O& o) -> auto& { return o.demons_iterations; }),
       real<O>("field_sigma_mm", "field-sigma", "mm", at_least(0),
               "demons diffusion regularisation, sigma (0: 1.5 x the level spacing)",
               [](O& o) -> auto& { return o.registration.demons.field_sigma_mm; })});
  return t;
}

const StageTable<ReferenceParams>& reference_table() {
  using O = ReferenceParams;
  static const StageTable<O> t(
      "reference",
      {text<O>("region", "reference", "reference region of the atlas (e.g. occipital, cerebellum_gm)",
               [](O& o) -> auto& { return o.region; }),
       boolean<O>("trim", "no-trim", "reference region untrimmed (atlas region by fractional occupancy only)",
                  [](O& o) -> auto& { return o.trim; }, false),
       boolean<O>("gm_mask", "gm-mask", "reference region restricted to PET voxels at least half grey matter",
                  [](O& o) -> auto& { return o.gm_mask; }, true)});
  return t;
}

const StageTable<ReferenceSourceParams>& reference_source_table() {
  using O = ReferenceSourceParams;
  static const StageTable<O> t(
      "reference",
      {text<O>("mni_mask", "reference-mni-mask",
               "reference region as a mask in MNI space (non-zero = region), warped to each scan, "
               "instead of an atlas region",
               [](O& o) -> auto& { return o.mni_mask; }),
       text<O>("subject_mask", "reference-subject-mask",
               "folder with a reference mask per scan in PET space "
               "(DIR/sub-<label>/[ses-<label>/]pet/<scan>_desc-reference_mask.nii.gz), instead of an atlas region",
               [](O& o) -> auto& { return o.subject_mask; })});
  return t;
}

const StageTable<MniParams>& mni_table() {
  using O = MniParams;
  static const StageTable<O> t("mni", {real<O>("voxel_mm", "spacing", "mm", between(0.5, 8),
                                               "voxel size of maps warped to MNI space",
                                               [](O& o) -> auto& { return o.voxel_mm; })});
  return t;
}

const StageTable<SrtmParams>& srtm_table() {
  using O = SrtmParams;
  static const StageTable<O> t(
      "srtm",
      {optional_real<O>("theta3_min_per_min", "theta3-min", "1/min", above(0),
                        "smallest theta3 of the basis functions, including the decay constant",
                        "the tracer preset's", [](O& o) -> auto& { return o.theta3_min_per_min; }),
       optional_real<O>("theta3_max_per_min", "theta3-max", "1/min", above(0),
                        "largest theta3 of the basis functions, including the decay constant",
                        "the tracer preset's", [](O& o) -> auto& { return o.theta3_max_per_min; }),
       integer<O>("basis_functions", "basis", "", between(2, 100000), "number of basis functions (log-spaced theta3)",
                  [](O& o) -> auto& { return o.basis_functions; }),
       choice<O, kinetics::WeightScheme>("weights", "weights",
                                         {{"counts", kinetics::WeightScheme::counts},
                                          {"duration", kinetics::WeightScheme::duration},
                                          {"uniform", kinetics::WeightScheme::uniform}},
                                         "frame weights of the voxel fits (and the regional fits)",
                                         [](O& o) -> auto& { return o.weights; }),
       real<O>("mask_threshold_fraction", "mask-threshold", "", open_between(0, 1),
               "brain mask: fraction of the robust maximum of the mean image",
               [](O& o) -> auto& { return o.mask_threshold_fraction; }),
       boolean<O>("subgrid_refinement", "no-refine",
                  "classic BFM: parameters of the best grid basis, no sub-grid refinement",
                  [](O& o) -> auto& { return o.subgrid_refinement; }, false)});
  return t;
}

const StageTable<SmoothParams>& smooth_table() {
  using O = SmoothParams;
  static const StageTable<O> t(
      "smooth", {real3<O>("fwhm_mm", "fwhm", "mm", at_least(0),
                          "Gaussian kernel FWHM: one value, or three (per voxel axis)",
                         [](O& o) -> auto& { return o.fwhm_mm; }),
                 boolean<O>("nan_aware", "no-nan-aware", "let NaN voxels spread (plain convolution)",
                            [](O& o) -> auto& { return o.nan_aware; }, false)});
  return t;
}

const StageTable<RoiParams>& roi_table() {
  using O = RoiParams;
  static const StageTable<O> t(
      "roi", {text<O>("atlas", "atlas", "atlas name or definition file", [](O& o) -> auto& { return o.atlas; }),
              text_list<O>("regions", "rois",
                           "regions of the ROI tables and the regional fits (none given: every analysis region of "
                           "the atlas)",
                           [](O& o) -> auto& { return o.regions; })});
  return t;
}

const StageTable<RegionalParams>& regional_table() {
  using O = RegionalParams;
  static const StageTable<O> t(
      "roi", {boolean<O>("regional_fits", "no-regional-fits", "no regional SRTM fits",
                         [](O& o) -> auto& { return o.regional_fits; }, false),
              choice<O, NativeWeights>(
                  "native_weights", "native-weights",
                  {{"fractional", NativeWeights::fractional}, {"nearest", NativeWeights::nearest}},
                  "regional TACs in PET space weighted by sub-voxel label fractions, or by "
                  "nearest-neighbour labels",
                  [](O& o) -> auto& { return o.native_weights; })});
  return t;
}

const StageTable<ReportParams>& report_table() {
  using O = ReportParams;
  static const StageTable<O> t("report", {boolean<O>("enabled", "no-report", "no QC report per scan",
                                                      [](O& o) -> auto& { return o.enabled; }, false)});
  return t;
}

const StageTable<ReportQcParams>& report_qc_table() {
  using O = ReportQcParams;
  static const StageTable<O> t(
      "report",
      {real<O>("max_fd_mm", "max-fd", "mm", above(0), "warning: framewise displacement above this",
               [](O& o) -> auto& { return o.thresholds.max_fd_mm; }),
       real<O>("max_translation_mm", "max-translation", "mm", above(0), "warning: translation norm above this",
               [](O& o) -> auto& { return o.thresholds.max_translation_mm; }),
       real<O>("max_rotation_deg", "max-rotation", "deg", above(0), "warning: rotation above this",
               [](O& o) -> auto& { return o.thresholds.max_rotation_deg; }),
       real<O>("max_theta3_edge", "max-theta3-edge", "", open_between(0, 1),
               "warning: fraction of fitted voxels with theta3 on the grid edge above this",
               [](O& o) -> auto& { return o.thresholds.theta3_edge_fraction; }),
       real<O>("outlier_z", "outlier-z", "", above(0), "group report: flag a subject's ROI value above this |robust z|",
               [](O& o) -> auto& { return o.thresholds.outlier_z; }),
       choice<O, qc::Convention>("convention", "convention",
                                 {{"radiological", qc::Convention::radiological},
                                  {"neurological", qc::Convention::neurological}},
                                 "slice display: patient left on the right (radiological) or on the left",
                                 [](O& o) -> auto& { return o.convention; })});
  return t;
}

const StageTable<GroupParams>& group_table() {
  using O = GroupParams;
  static const StageTable<O> t(
      "group",
      {choice<O, std::string>("map", "map", {{"BPND", "BPND"}},
                              "subject map analysed (smoothed, MNI space)", [](O& o) -> auto& { return o.map; }),
       text<O>("design", "design", "model formula over participants.tsv columns, e.g. \"group + age + sex\"",
               [](O& o) -> auto& { return o.design; }),
       text_list<O>("contrasts", "contrast", "contrasts NAME=SPEC, e.g. secure_gt_insecure=secure>insecure",
                    [](O& o) -> auto& { return o.contrasts; }),
       real<O>("fdr_q", "fdr", "", open_between(0, 1), "FDR q of the thresholded maps",
               [](O& o) -> auto& { return o.fdr_q; }),
       real<O>("cluster_p", "cluster-p", "", open_between(0, 1), "cluster-forming uncorrected p",
               [](O& o) -> auto& { return o.cluster_p; }),
       text<O>("mask", "mask", "analysis mask: brain (the template brain), none, or a mask image in MNI space",
               [](O& o) -> auto& { return o.mask; }),
       integer<O>("permutations", "permutations", "", between(0, 1000000),
                  "Freedman-Lane permutations (0: none, or 5000 with tfce)",
                  [](O& o) -> auto& { return o.permutations; }),
       boolean<O>("tfce", "tfce", "TFCE with permutation FWE", [](O& o) -> auto& { return o.tfce; }, true),
       integer<O>("seed", "seed", "", at_least(0), "permutation seed", [](O& o) -> auto& { return o.seed; })});
  return t;
}

const StageTable<SlurmParams>& slurm_table() {
  using O = SlurmParams;
  static const StageTable<O> t(
      "slurm", {text<O>("time", "time", "time limit per job ([D-]HH:MM:SS)", [](O& o) -> auto& { return o.time; }),
                text<O>("mem", "mem", "memory per job (e.g. 8G, 16000M)", [](O& o) -> auto& { return o.mem; }),
                integer<O>("cpus_per_task", "cpus-per-task", "", between(1, 1024),
                           "CPUs per job (also petpipe's --threads)", [](O& o) -> auto& { return o.cpus_per_task; }),
                integer<O>("max_parallel", "max-parallel", "", between(1, 100000), "at most this many subjects at once",
                           [](O& o) -> auto& { return o.max_parallel; }),
                text<O>("partition", "partition", "Slurm partition (empty: the cluster's default)",
                        [](O& o) -> auto& { return o.partition; }),
                text<O>("account", "account", "Slurm account (empty: the user's default)",
                        [](O& o) -> auto& { return o.account; })});
  return t;
}

std::vector<const params::Table*> all_tables() {
  return {&realign_table(), &normalize_table(), &reference_table(), &reference_source_table(), &mni_table(),
          &srtm_table(),    &smooth_table(),    &roi_table(),       &regional_table(),          &report_table(),
          &report_qc_table(), &group_table(), &slurm_table()};
}

json default_config() {
  json c = json::object();
  c["tracer"] = "";
  for (const params::Table* t : all_tables()) {
    json& s = c[t->section()];
    if (s.is_null()) s = json::object();
    s.update(t->defaults());
  }
  return c;
}

void check_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw make_error(source, ": the configuration must be a JSON object");
  const auto tables = all_tables();
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (it.key() == "tracer") {
      if (!it->is_string()) throw make_error(source, ": tracer: ", it->dump(), " is not allowed (expected a string)");
      continue;
    }
    std::vector<const params::Table*> mine;
    for (const params::Table* t : tables)
      if (t->section() == it.key()) mine.push_back(t);
    if (mine.empty()) {
      std::string known = "tracer";
      for (const params::Table* t : tables)
        if (known.find(t->section()) == std::string::npos) known += ", " + t->section();
      throw make_error(source, ": unknown configuration key \"", it.key(), "\" (sections: ", known, ")");
    }
    for (const params::Table* t : mine) {
      std::vector<std::string> others;
      for (const params::Table* o : mine)
        if (o != t)
          for (const auto& r : o->rows()) others.push_back(r.key);
      t->check_section(*it, source, others);
    }
  }
}

StudyParams study_params(const json& config, const std::string& source) {
  check_config(config, source);
  StudyParams s;
  s.tracer = config.value("tracer", "");
  auto section = [&](const std::string& name) { return config.contains(name) ? config[name] : json::object(); };
  auto part = [&](const params::Table& t, const json& sec) {
    json only = json::object();
    for (const auto& r : t.rows())
      if (sec.contains(r.key)) only[r.key] = sec[r.key];
    return only;
  };
  realign_table().apply_json(section("realign"), s.realign, source);
  normalize_table().apply_json(section("normalize"), s.normalize, source);
  reference_table().apply_json(part(reference_table(), section("reference")), s.reference, source);
  reference_source_table().apply_json(part(reference_source_table(), section("reference")), s.reference_source,
                                      source);
  mni_table().apply_json(section("mni"), s.mni, source);
  srtm_table().apply_json(section("srtm"), s.srtm, source);
  smooth_table().apply_json(section("smooth"), s.smooth, source);
  roi_table().apply_json(part(roi_table(), section("roi")), s.roi, source);
  regional_table().apply_json(part(regional_table(), section("roi")), s.regional, source);
  report_table().apply_json(part(report_table(), section("report")), s.report, source);
  report_qc_table().apply_json(part(report_qc_table(), section("report")), s.report_qc, source);
  group_table().apply_json(section("group"), s.group, source);
  slurm_table().apply_json(section("slurm"), s.slurm, source);
  return s;
}

}  // namespace petpipe::pipeline
