#pragma once
// Mass-univariate ordinary least squares: Y (subjects x voxels) = X B + E, with t and F contrasts.
// All arithmetic is double precision on blocks of voxels; the data stay float32 (one copy).
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "petpipe/stats/design.hpp"

namespace petpipe::stats {

using MatrixXfRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

struct GlmOptions {
  // SPM PET-mode variance regularisation: add `pet_variance_fraction` x (maximum residual variance over
  // voxels) to every voxel's residual variance before forming t and F (SPM's spm_spm does this for PET
  // designs to avoid huge statistics in voxels with tiny variance, e.g. at the edge of the brain).
  // Off by default, as in statsmodels; the statistics then no longer follow t/F exactly.
  bool pet_variance = false;
  double pet_variance_fraction = 1e-3;
  bool keep_residuals = false;  // store the residuals (needed for smoothness estimation)
};

struct ContrastResult {
  std::string name;
  bool is_f = false;
  double df1 = 1, df2 = 0;      // numerator / residual degrees of freedom
  std::vector<double> effect;   // t: c'beta; F: empty
  std::vector<double> se;       // t: standard error of c'beta
  std::vector<double> stat;     // t or F
  std::vector<double> p;        // t: one-sided upper-tail p (SPM convention); F: upper-tail p
  std::vector<double> p_two_sided;  // t only (statsmodels' p-value)
  std::vector<double> z;        // Z score with the same (one-sided) p value
  std::vector<double> partial_eta2;  // t^2/(t^2+df) or F df1/(F df1 + df2)
  std::vector<double> cohen_d;  // t only: c'beta / residual SD (the adjusted standardized difference
                                // for a two-level difference contrast)
};

struct GlmResult {
  Eigen::MatrixXd beta;              // columns x voxels
  std::vector<double> sigma2;        // residual variance (after PET-mode regularisation if enabled)
  double df = 0;                     // residual degrees of freedom
  double pet_variance_added = 0;     // the constant added to sigma2 (0 when off)
  std::vector<ContrastResult> contrasts;
  MatrixXfRM residuals;              // subjects x voxels, when keep_residuals
};

// Y: subjects x voxels (column-major float, i.e. each voxel's subject values contiguous).
GlmResult fit_glm(const MatrixXfRM& Y, const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts,
                  const GlmOptions& options = {});

// Convenience for double data (ROI values, tests).
GlmResult fit_glm(const Eigen::MatrixXd& Y, const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts,
                  const GlmOptions& options = {});

}  // namespace petpipe::stats
