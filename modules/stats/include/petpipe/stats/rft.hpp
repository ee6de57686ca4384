#pragma once
// Random field theory as in SPM: smoothness from the residuals, resel counts of the search volume,
// Euler characteristic densities and the corrected/uncorrected height and cluster-extent p values of
// spm_P_RF (Worsley et al. 1996; Friston et al. 1994).
#include <array>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/stats/glm.hpp"

namespace petpipe::stats {

struct Smoothness {
  Vec3 fwhm_voxels{0, 0, 0};  // FWHM along the voxel axes, in voxels
  Vec3 fwhm_mm{0, 0, 0};
  double resels_per_voxel = 0;           // 1 / (fwhm_x fwhm_y fwhm_z), voxels
  std::array<double, 4> resels{0, 0, 0, 0};  // R0..R3 of the mask
  std::size_t voxels = 0;
};

// Smoothness of the residual fields (columns of `residuals` = mask voxels in linear-index order).
// As spm_est_smoothness: residuals are normalised to unit sum of squares over subjects at each voxel,
// first differences are taken along each axis between neighbouring mask voxels, and the variance of
// the derivatives, scaled by the small-sample correction (df - 2) / (df - 1) (Kiebel et al. 1999), gives
// the diagonal of Lambda; FWHM = sqrt(4 ln 2 / Lambda_ii) in voxels. First differences slightly
// overestimate FWHM for small FWHM, as in SPM: for a Gaussian autocorrelation (kernel sigma s voxels) they
// measure 2 (1 - exp(-1 / (4 s^2))) instead of the continuum 1 / (2 s^2), i.e. FWHM +3.9 % at 3 voxels,
// +2.2 % at 4, +1.0 % at 6 (measured: docs/MODULE_VALIDATION.md, stats). Not corrected (SPM does not
// either): inverting that relation removes the bias but raises the expected cluster count, which already
// over-predicts the observed count, and moved the null cluster FWE by at most 2/300 data sets.
Smoothness estimate_smoothness(const MatrixXfRM& residuals, const Mask& mask, double df);

// Resel counts R0..R3 of a binary mask (lattice intrinsic volumes in resel units, Worsley et al. 1996,
// as spm_resels_vol): voxels, edges, faces and cubes inside the mask weighted by 1/FWHM (voxels).
std::array<double, 4> resel_counts(const Mask& mask, const Vec3& fwhm_voxels);

enum class Field { Z, T, F };

// EC densities rho_0..rho_3 (spm_ECdensity) of a field thresholded at u; df1 only for F.
std::array<double, 4> ec_density(Field field, double u, double df1, double df2);

struct RftP {
  double P = 1;   // corrected p: P(c or more clusters of at least k resels)
  double p = 1;   // uncorrected p of a cluster with k resels (1 when k = 0)
  double Ec = 0;  // expected number of clusters (Euler characteristic)
  double Ek = 0;  // expected resels per cluster
};

// spm_P_RF(c, k, u, df, STAT, R, n = 1). k in resels. For STAT F with k > 0 SPM gives no value; so
// does this (P and p are NaN).
RftP rft_p(int c, double k_resels, double u, Field field, double df1, double df2, const std::array<double, 4>& R);

}  // namespace petpipe::stats
