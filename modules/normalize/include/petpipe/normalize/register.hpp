#pragma once
// Image registration: rigid and affine with Mattes mutual information (ITK v4, multi-resolution),
// and deformable registration by symmetric-force demons with diffusion regularisation
// (multi-resolution, displacement field). Images are in-memory core types; results are
// petpipe::normalize transforms mapping FIXED points to MOVING points (ITK convention).
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/normalize/transform.hpp"

namespace petpipe::normalize {

enum class LinearKind { rigid, affine };

struct LinearOptions {
  LinearKind kind = LinearKind::rigid;
  // Pyramid: one entry per level, coarse to fine. Images are smoothed with a Gaussian of
  // `smoothing_mm` (sigma, mm) and resampled to `spacing_mm` (isotropic) at each level.
  std::vector<double> spacing_mm{8.0, 4.0, 2.0};
  std::vector<double> smoothing_mm{4.0, 2.0, 1.0};
  std::vector<int> iterations{200, 100, 50};
  int histogram_bins = 32;         // Mattes MI bins
  double sampling_fraction = 0.5;  // random fraction of fixed voxels used by the metric
  unsigned seed = 1;               // sampling seed (results are reproducible)
  // Regular-step gradient descent; steps are in "mm" after physical-shift scaling.
  double max_step_mm = 4.0;
  double min_step_mm = 0.01;
  // Initialise by aligning intensity centres of mass (else the identity / `initial`).
  bool center_of_mass_init = true;
  // Voxels of the fixed image used by the metric: intensity > fixed_threshold (0 = all).
  double fixed_threshold = 0.0;
};

struct LinearResult {
  AffineMap fixed_to_moving;  // ITK convention: fixed point -> moving point
  double metric = 0.0;        // final Mattes MI value (negative; lower is better)
  int iterations = 0;         // total iterations over the levels
};

// Registers `moving` onto `fixed`. `initial` (optional) replaces the centre-of-mass start.
LinearResult register_linear(const Image3D& fixed, const Image3D& moving, const LinearOptions& options,
                             const AffineMap* initial = nullptr);

struct DemonsOptions {
  // Pyramid levels as multiples of the working grid spacing, coarse to fine.
  std::vector<int> shrink{4, 2, 1};
  std::vector<int> iterations{80, 50, 30};
  double field_sigma_mm = 0.0;   // diffusion regulariser, sigma in mm (0: 1.5 x level spacing)
  double update_sigma_mm = 0.0;  // fluid regulariser of each update (0: none)
  double max_step_voxels = 0.5;  // largest update per iteration, in level voxels
  // Foreground: voxels where either image exceeds this fraction of its robust maximum drive the
  // update (background carries no information).
  double foreground_fraction = 0.05;
};

struct DemonsResult {
  DisplacementField field;  // on fixed.geom: fixed point x corresponds to moving point x + u(x)
  double initial_rms = 0.0;  // RMS intensity difference in the foreground before and after
  double final_rms = 0.0;
};

// Mono-modal deformable registration. `moving` must be on the same grid as `fixed` (resample it
// through the affine first) with comparable intensities (see match_histogram). `mask` (optional, on
// the fixed grid): demons forces are computed only inside it (e.g. the template brain plus a margin;
// it replaces the foreground test, so the images may hold signed values); the field elsewhere follows
// from the regularisation.
DemonsResult register_demons(const Image3D& fixed, const Image3D& moving, const DemonsOptions& options,
                             const Mask* mask = nullptr);

struct BSplineOptions {
  // Pyramid levels as multiples of the working grid spacing, coarse to fine, with the control-point
  // spacing (mm) of the lattice each level adds and its L-BFGS iteration limit.
  std::vector<int> shrink{4, 2, 1};
  std::vector<double> grid_mm{40.0, 20.0, 10.0};
  std::vector<int> iterations{60, 60, 20};
  // Membrane energy of each lattice (mean squared displacement gradient) against the mean squared
  // difference of the images: 1 suits contrast-normalised images (local_normalize).
  double smoothness_weight = 1.0;
  double max_step_voxels = 1.0;    // largest control-point move of the first step, in level voxels
  double tolerance = 1e-5;         // stop after 3 iterations each gaining less than this fraction
  double foreground_fraction = 0.05;  // as DemonsOptions (used when no mask is given)
  // Cost points per level: one per cost voxel, jittered inside it; levels with more voxels use this
  // many, drawn at random (fixed seed). 0: all.
  std::size_t max_points = 600000;
};

struct BSplineResult {
  DisplacementField field;  // on fixed.geom: fixed point x corresponds to moving point x + u(x)
  double initial_rms = 0.0;  // RMS intensity difference over the cost voxels before and after
  double final_rms = 0.0;
  int iterations = 0;        // L-BFGS iterations over all levels
};

// Free-form (cubic B-spline) deformable registration minimising the mean squared intensity difference,
// with the contract of register_demons: `moving` on the grid of `fixed` with comparable
// intensities; `mask` (optional, on the fixed grid) selects the voxels of the cost (else the
// foreground of the fixed image). The field is returned on `field_geom` (default: the fixed grid; it
// must share the fixed image's direction; outside the fixed grid the B-spline is extrapolated).
// `moving_affine` (optional): `moving` stays on its own grid and is sampled at moving_affine(x + u(x)),
// which spares the cost one interpolation of the moving image.
BSplineResult register_bspline(const Image3D& fixed, const Image3D& moving, const BSplineOptions& options,
                               const Mask* mask = nullptr, const Geometry* field_geom = nullptr,
                               const AffineMap* moving_affine = nullptr);

// Piecewise-linear quantile mapping of `image` intensities onto `reference` intensities, using the
// voxels above `threshold_fraction` of each image's 99th percentile (others are mapped linearly).
// `mask` (optional, on the grid of both images): quantiles only from the voxels inside it.
Image3D match_histogram(const Image3D& image, const Image3D& reference, double threshold_fraction = 0.05,
                        const Mask* mask = nullptr);

// Local contrast normalisation: (I - G*I) / sqrt(G*I^2 - (G*I)^2 + (floor x global SD)^2) with a
// Gaussian G of `sigma_mm`. Deformable registration on such images is insensitive to smooth intensity
// non-uniformity and to local contrast differences between subject and template (an approximation of
// local normalised cross-correlation).
Image3D local_normalize(const Image3D& image, double sigma_mm, double floor = 0.1);

// Normalised mutual information (H(a)+H(b))/H(a,b) of `a` and `b` sampled on `a`'s grid through
// a_to_b (voxels of a with a > 0 that fall inside b), with `bins` bins.
double normalized_mutual_information(const Image3D& a, const Image3D& b, const Transform& a_to_b,
                                     int bins = 32);

struct OrientationCheck {
  bool consistent = true;
  double identity_nmi = 0.0;   // NMI at the header orientation (centres of mass aligned)
  double best_other_nmi = 0.0;  // best NMI among the other 23 axis-aligned rotations
  std::string best_other;       // e.g. "rotation of 90 deg about the L-R axis"
};
// Compares the header orientation of `moving` against the 23 other axis-aligned rotations at a
// coarse resolution (8 mm): all 24 are scored by NMI after aligning centres of mass; the header
// orientation and the two best others are refined by a short rigid registration. Inconsistent when
// another rotation matches clearly better, i.e. (NMI_other - 1) > (NMI_header - 1) x (1 + margin):
// the images then follow different orientation conventions.
OrientationCheck check_orientation(const Image3D& fixed, const Image3D& moving, double margin = 0.25);

}  // namespace petpipe::normalize
