#pragma once
// Group-statistics workflows over in-memory data.
//
// voxelwise_glm: one map per subject, stacked inside the group mask (voxels finite and non-zero in every
// map, intersected with an optional explicit mask); the OLS model of a formula over participants.tsv;
// per contrast the t or F maps, Benjamini-Hochberg FDR, the RFT peak FWE p and (t contrasts) RFT cluster
// inference, and optionally Freedman-Lane permutation FWE and TFCE.
//
// roi_glm: per ROI, OLS with Type II F tests for nested models (the first term alone, then adding each
// further term) or the full model only, t contrasts with BH-FDR over ROIs, Tukey HSD and group summaries.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/stats/clusters.hpp"
#include "petpipe/stats/design.hpp"
#include "petpipe/stats/glm.hpp"
#include "petpipe/stats/multiple_comparisons.hpp"
#include "petpipe/stats/permutation.hpp"
#include "petpipe/stats/rft.hpp"
#include "petpipe/stats/roi_stats.hpp"

namespace petpipe::stats {

// A named contrast specification (see make_contrast for the forms of `spec`).
struct ContrastSpec {
  std::string name, spec;
};

// ------------------------------------------------------------------------------------- voxelwise

// The subject maps, one per subject, all on one grid. `load(i)` returns map i; the workflow calls it
// twice per map (once to restrict the group mask, once to fill the data matrix), so only one map is
// held in memory at a time. `names` label the maps in error messages.
struct MapSource {
  std::vector<std::string> subjects;  // participant ids, in the order of `load`
  std::vector<std::string> names;     // one per subject
  std::function<Image3D(std::size_t)> load;
};

struct VoxelwiseOptions {
  std::string formula;                     // e.g. "group + age + sex"
  DesignOptions design;
  std::vector<ContrastSpec> contrasts;     // at least one
  double fdr_q = 0.05;                     // q of the FDR-thresholded maps, in (0, 1)
  double cluster_forming_p = 0.001;        // in (0, 1)
  Connectivity connectivity = Connectivity::c18;  // clusters; TFCE uses 6 when this is 6, else 26
  double cluster_fwe_alpha = 0.05;         // clusters kept in the cluster-FWE map: p_fwe < alpha
  std::size_t permutations = 0;            // 0: no permutation inference (5000 when tfce is set)
  bool tfce = false;
  std::uint64_t seed = 0;
  bool pet_variance = false;               // SPM PET-mode variance regularisation (GlmOptions)
};

// Results of one contrast; every per-voxel vector follows VoxelwiseResult::voxels.
struct VoxelwiseContrast {
  Contrast contrast;
  ContrastResult statistics;               // t/F, p, z, effect, Cohen's d, partial eta squared
  FdrResult fdr;                           // BH over the mask voxels at fdr_q
  std::vector<double> fdr_thresholded;     // the statistic where p <= fdr.threshold, else 0
  double peak_stat = 0;                    // maximum finite statistic
  double peak_p_fwe_rft = 1;               // RFT height FWE p of the peak
  std::optional<ClusterResult> clusters;   // t contrasts only
  std::vector<double> cluster_fwe_stat;    // t contrasts: t in clusters with p_fwe < alpha, else 0
  std::optional<PermutationResult> permutation;  // when permutations were run
  TfceOptions tfce_options;                // the TFCE settings used (when tfce)
};

struct VoxelwiseResult {
  Design design;
  Geometry grid;                           // the grid of the maps (that of the first map)
  Mask mask;                               // the group mask (the explicit mask's header when one was given)
  std::vector<std::size_t> voxels;         // its voxels (linear indices, ascending)
  Eigen::MatrixXd beta;                    // design columns x voxels
  std::vector<double> sigma2;              // residual variance per voxel
  double df = 0;                           // residual degrees of freedom
  double pet_variance_added = 0;
  Smoothness smoothness;
  std::size_t permutations = 0;            // permutations run per contrast (0: none)
  std::vector<VoxelwiseContrast> contrasts;

  // Per-voxel values as an image on the grid of the maps: non-finite values become NaN, voxels outside the
  // mask `outside`.
  Image3D image(const std::vector<double>& values, float outside = 0.0f) const;
  // Row j of beta as per-voxel values.
  std::vector<double> beta_values(Eigen::Index column) const;
};

// `explicit_mask` (may be null) must be on the grid of the maps. Throws petpipe::Error for maps on
// different grids, an empty group mask, invalid options, and the design and contrast errors of
// make_design / make_contrast.
VoxelwiseResult voxelwise_glm(const Participants& participants, const MapSource& maps, const Mask* explicit_mask,
                              const VoxelwiseOptions& options);

// The same for maps already in memory (`subjects[i]` names `maps[i]`).
VoxelwiseResult voxelwise_glm(const Participants& participants, const std::vector<std::string>& subjects,
                              const std::vector<Image3D>& maps, const Mask* explicit_mask,
                              const VoxelwiseOptions& options);

// ------------------------------------------------------------------------------------------- ROI

// The values of one ROI, one per subject; NaN values are left out of the fits.
struct RoiValues {
  std::string roi;
  std::vector<std::string> subjects;
  std::vector<double> values;
};

struct RoiGlmOptions {
  std::string formula;                     // the full model
  DesignOptions design;
  std::vector<ContrastSpec> contrasts;     // t contrasts (F contrasts are not reported per ROI)
  bool nested_models = true;               // false: the full model only
  double tukey_alpha = 0.05;
};

struct RoiModelFit {
  std::string roi, model;
  std::size_t n = 0;                       // subjects with a value
  std::vector<std::string> columns;        // design column names
  OlsFit fit;                              // coefficients, Type II ANOVA, contrast effects
  std::vector<double> effect_p_fdr;        // per fit.effects: BH over ROIs for this model and contrast
};

// Group means and SDs of one factor in one ROI, and Tukey HSD when the factor has three or more levels.
struct RoiFactorSummary {
  std::string roi, factor;
  std::vector<GroupSummary> groups;
  std::vector<TukeyRow> tukey;
};

struct RoiGlmResult {
  std::vector<std::string> models;          // the formulas fitted, nested first
  std::vector<RoiModelFit> fits;            // ROI-major, then model
  std::vector<RoiFactorSummary> factors;    // ROI-major, then factor in formula order
};

// The nested models of a formula: "a + b + c" gives "a", "a + b", "a + b + c".
std::vector<std::string> nested_formulas(const std::string& formula);

// Contrasts that name terms absent from a nested model are skipped for that model; every contrast must
// resolve on the full model. Throws petpipe::Error when `rois` is empty or a model cannot be built.
RoiGlmResult roi_glm(const Participants& participants, const std::vector<RoiValues>& rois,
                     const RoiGlmOptions& options);

}  // namespace petpipe::stats
