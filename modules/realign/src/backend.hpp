#pragma once
// Internal interface of the realignment module: the registration of one frame (register_rigid and
// its metric units), sample points, and reslicing. Not installed.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/realign/realign.hpp"

namespace petpipe::realign::detail {

// Rigid parameters in ITK Euler3DTransform order: rx, ry, rz (radians), tx, ty, tz (mm).
using Params = std::array<double, 6>;

// One registration of a moving image to a fixed one. The fields under "every metric" apply to all;
// the others only to the metrics named.
struct RegistrationSettings {
  Metric metric = Metric::correlation;
  // Every metric.
  int max_iterations = 200;  // petpipe's own metrics (Gauss-Newton) stop at 50
  double min_step_mm = 0.005;
  std::uint32_t seed = 1;
  double sampling_fraction = 0.25;  // of the fixed image's voxels (of settings.fixed_mask when given)
  std::size_t max_samples = 50000;  // window_ncc: points of all windows together
  // Optional sampling mask on the fixed image's grid (non-zero = sample here); the points are then
  // drawn by draw_sample_points. Needed by petpipe's own metrics.
  const std::vector<unsigned char>* fixed_mask = nullptr;
  // ITK metrics (mattes, correlation, lncc): multi-resolution.
  int levels = 2;
  double initial_step_mm = 0;  // first step of the finest level (mm); 0: half a voxel, at least 0.5 mm
  int extra_shrink_levels = 0;  // the finest level runs at shrink 2^extra_shrink_levels (the levels below it are skipped)
  // lncc and window_ncc: window half-width in voxels of the images.
  int window_radius = 2;
  // local_lsq: cells of this many voxels per axis.
  int cell_voxels = 4;
  // least_squares: optional prior pose (ITK Euler parameters) and weight. The cost gains
  // prior_weight * d^T H0 d, with d the pose's offset from the prior (rotation vector and translation in
  // the current pose's frame) and H0 the data term's Gauss-Newton matrix at the starting pose: a weight of
  // 1 trusts the prior as much as the data.
  const Params* prior = nullptr;
  double prior_weight = 0;
};

struct RegistrationOutput {
  Params params{};
  double metric_value = 0;
  unsigned iterations = 0;
  std::string stop_condition;
};

// While alive, ITK's global thread pool has one thread (the previous count is restored afterwards).
// The registrations run one ITK work unit each, frames in parallel on petpipe's threads; with a larger
// pool, ITK 5's metrics still split some reductions over it, in whatever order its threads finish, so
// two runs on the same data differed in the last digits (measured: motion tables, 1e-7).
class ItkSingleThreadScope {
 public:
  ItkSingleThreadScope();
  ~ItkSingleThreadScope();
  ItkSingleThreadScope(const ItkSingleThreadScope&) = delete;
  ItkSingleThreadScope& operator=(const ItkSingleThreadScope&) = delete;

 private:
  unsigned previous_;
};

// Sample points (physical, LPS mm; sample_points.cpp) drawn without replacement from the voxels inside `mask` (on grid g):
// fraction of them, at most max_points, at least one; each jittered uniformly within its voxel.
// Reproducible for a given seed.
std::vector<Vec3> draw_sample_points(const Geometry& g, const std::vector<unsigned char>& mask, double fraction,
                                     std::size_t max_points, std::uint32_t seed);

// Euler angles (radians; rx, ry, rz) of a rotation matrix R = Rz Rx Ry (row-major), |rx| < 90 deg
// (pose.cpp).
std::array<double, 3> euler_angles_rad(const Mat3& r);

// Registers `moving` to `fixed` (both on the same estimation grid) starting from `initial`, with
// settings.metric: one of the metric units below. Runs in the calling thread (one ITK work unit), so
// frames can be registered in parallel.
RegistrationOutput register_rigid(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                  const Params& initial, const RegistrationSettings& settings);

// The metric units. Each registers `moving` to `fixed` as register_rigid does.
// Metric::mattes, correlation, lncc (metric_itk.cpp): ITK's v4 registration, multi-resolution
// (levels, extra_shrink_levels), regular-step gradient descent with steps in mm.
RegistrationOutput register_itk(const Image3D& fixed, const Image3D& moving, const Vec3& center, const Params& initial,
                                const RegistrationSettings& settings);
// petpipe's own metrics, Gauss-Newton with Levenberg-Marquardt damping (gauss_newton.hpp), single level,
// stopping when a step moves less than min_step_mm (rotations counted at 60 mm) or after
// max_iterations (at most 50). They need settings.fixed_mask and throw when fewer than 100 points fall
// inside the fixed image or none inside the moving one at the initial pose.
// Metric::least_squares (metric_least_squares.cpp): sum over the mask's points (every one up to
// max_samples) of (fixed(x) - s * moving(T(x)))^2 over T and the scale s; optional prior.
RegistrationOutput register_least_squares(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                          const Params& initial, const RegistrationSettings& settings);
// Metric::local_lsq (metric_local_lsq.cpp): fixed ~ a_c * moving with a slope per cell of cell_voxels^3
// voxels of the fixed grid, fitted at every pose; no global scale.
RegistrationOutput register_local_lsq(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                      const Params& initial, const RegistrationSettings& settings);
// Metric::window_ncc (metric_window_ncc.cpp): local normalized correlation in windows of
// (2 window_radius + 1)^3 lattice points about centres drawn from the mask (jittered, so each window
// sits at its own sub-voxel offset), max_samples points in all.
RegistrationOutput register_window_ncc(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                       const Params& initial, const RegistrationSettings& settings);

// out(x) = image(T(x)) by trilinear interpolation at the voxels where `where` is non-zero (0 elsewhere
// and where T(x) falls outside the image); single-threaded (reslice_where.cpp).
void reslice_linear_where(const Image3D& image, const Params& params, const Vec3& center,
                          const std::vector<unsigned char>& where, float* out);

// out(x) = in(T(x)) on the same grid, T given by params/center; outside -> 0. `threads` work units.
// Linear: ITK's ResampleImageFilter; cubic B-spline: bspline_coefficients + reslice_bspline on a copy
// (itk_reslice.cpp).
void reslice_volume(const float* in, float* out, const Geometry& geom, const Params& params,
                    const Vec3& center, Interpolation interpolation, unsigned threads);

// Cubic B-spline reslicing (bspline_reslice.cpp). bspline_coefficients turns samples into
// interpolating cubic B-spline coefficients in place (recursive filter per axis, mirror boundaries);
// reslice_bspline evaluates them: out(x) = spline(T(x)), 0 where T(x) falls outside the image (continuous
// index outside [-0.5, n - 0.5), as ITK's ResampleImageFilter). Threads: petpipe::thread_count().
void bspline_coefficients(float* data, const Geometry& geom);
void reslice_bspline(const float* coefficients, float* out, const Geometry& geom, const Params& params,
                     const Vec3& center);

}  // namespace petpipe::realign::detail
