#pragma once
// Rigid frame-to-frame motion realignment of dynamic PET (after SPM realign: two passes, first every
// frame to a reference frame, then, unsmoothed, to the reference frame again and to each frame's
// prediction from the other realigned frames; or, as SPM, to the mean of the realigned frames).
//
// PARAMETER CONVENTION (also written into the _motion.json sidecar)
//   Each frame f has a rigid transform T_f that maps points of the reference space to points of frame
//   f (ITK's fixed -> moving direction): y = R (x - c) + c + t, with
//     x, y, c, t  physical coordinates in millimetres in ITK's LPS convention (x towards patient Left,
//                 y towards Posterior, z towards Superior; RAS = (-x, -y, z));
//     c           the centre of rotation = the physical centre of the image grid;
//     t = (tx, ty, tz)  translation in mm (LPS);
//     R = Rz(rz) * Rx(rx) * Ry(ry)  right-handed rotations about the LPS axes, angles in degrees
//                 (itk::Euler3DTransform with ComputeZYX off: Ry is applied first, then Rx, then Rz).
//   The realigned frame is frame_f(T_f(x)) sampled on the original grid. A head that moved 2 mm to
//   the patient's left (+x in LPS) during frame f shows tx = +2.
//   Framewise displacement (Power et al. 2012): FD_f = |dtx|+|dty|+|dtz| + 50 mm * (|drx|+|dry|+|drz|)
//   with the differences taken to the previous frame and angles in radians; FD of the first frame is 0.
//
// The reference space is that of the reference frame: after the model-target rounds of the second
// pass the reference frame's own transform is the identity. With refine_target = mean (or a single
// round) it is the space of the mean of the realigned frames, which is the reference frame's space up
// to the averaged first-pass error, so the reference frame's own row may differ slightly from zero
// (as in SPM).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::realign {

enum class Metric {
  correlation,  // normalized cross-correlation (ITK CorrelationImageToImageMetricv4)
  mattes,       // Mattes mutual information, 32 histogram bins (MattesMutualInformationImageToImageMetricv4)
  lncc,         // local normalized correlation in cubic windows about each sample point
                // (ITK ANTSNeighborhoodCorrelationImageToImageMetricv4): only for the reference round of
                // the second pass (Options::reference_metric)
  least_squares, // sum of squared differences with an intensity scale, Gauss-Newton (petpipe's own):
                // only for the model rounds of the second pass (Options::model_metric), whose targets
                // have the frame's own tracer distribution
  local_lsq,    // least squares with an intensity scale fitted in each cell of about a centimetre
                // (petpipe's own, Gauss-Newton; points jittered as for the others): for the reference
                // round, where the tracer distribution differs from the frame's by local rescalings
  window_ncc    // local normalized correlation (petpipe's own, Gauss-Newton): windows of
                // (2 r + 1)^3 points about random head points, each window's lattice shifted by a random
                // sub-voxel offset, so that both images are interpolated alike (ITK's neighbourhood
                // correlation reads the fixed image at voxel centres and the moving one between them,
                // which with noise favours poses that smooth the moving image); for the reference round
};
enum class Interpolation { linear, bspline };  // B-spline: cubic
enum class RefineTarget { mean, model };      // see Options::refine_target
enum class ExcludedPolicy {
  nearest,  // an excluded frame takes the transform of the estimated frame nearest in mid-time
  identity  // an excluded frame is not moved
};

struct Options {
  // Estimation images.
  double fwhm_mm = 7.0;              // Gaussian smoothing of the estimation images (FWHM, mm); 0 = none
  double refine_fwhm_mm = 0.0;       // smoothing (FWHM, mm) of the second pass's images (one level, started
                                     // from the first pass); < 0: the same as fwhm_mm. Less smoothing here
                                     // removes most of the bias from a tracer distribution that changes
                                     // over the frames (docs/MODULE_VALIDATION.md)
  double estimation_voxel_mm = 2.5;  // frames are block-averaged by integer factors (per axis) to voxels
                                     // of about this size before smoothing (never finer than the input)
  // Reference and exclusions. Frame indices here are 0-based.
  int reference_frame = -1;                // -1: the highest-count frame among the estimated frames whose
                                           // mid-time is in the last two thirds of the scan
  std::vector<std::size_t> exclude_frames;  // frames never estimated
  double start_time_s = 0.0;               // frames starting before this time (s) are not estimated
  double empty_fraction = 0.02;  // a frame whose mean value (as stored) is below this fraction of the
                                 // largest frame mean is near-empty and not estimated
  ExcludedPolicy excluded = ExcludedPolicy::nearest;
  // Registration.
  Metric metric = Metric::mattes;  // see docs/VALIDATION.md for the measurement behind the default
  bool two_pass = true;                 // second pass to the mean of the realigned frames
  int refine_passes = 5;                // rounds of the second pass in all (1..12), each starting from the
                                        // previous one's result with its targets rebuilt
  // Target of each frame in the second pass. mean: the duration-weighted mean of the realigned frames
  // (SPM), every round. model: the reference frame (unsmoothed) in the first round, then the frame as
  // predicted from the OTHER realigned frames by a low-rank temporal model (up to refine_components
  // principal components of the realigned frames, leave-one-out), so that every frame is matched to
  // an image with its own tracer distribution (refine_passes >= 2).
  RefineTarget refine_target = RefineTarget::model;
  int refine_components = 3;            // 1..8, fewer than the estimated frames
  // Metric of the model target's first round (every frame to the reference frame). Local normalized
  // correlation: within a window a few millimetres wide, region contrasts that change between frames
  // are a local rescaling of intensities, which the local correlation ignores; global metrics (mutual
  // information, correlation) read part of such a change as motion, and the model rounds that follow
  // correct a smooth drift so made only slowly (docs/MODULE_VALIDATION.md). window_ncc (the default) is
  // petpipe's own on jittered windows; ITK's (lncc) reads the fixed image at voxel centres, which with
  // noisy frames biases it towards poses that smooth the moving image (measured: 1.2 deg RMS of false
  // motion on a noisy motion-free phantom, against 0.1 deg with window_ncc).
  Metric reference_metric = Metric::window_ncc;
  // Metric of the model rounds (frame against its leave-one-out prediction). mattes, correlation or
  // least_squares; least squares uses every head-mask point up to lsq_max_samples (the others
  // refine_max_samples).
  Metric model_metric = Metric::least_squares;
  std::size_t lsq_max_samples = 400000;
  // Model rounds: weight of a prior that holds each frame near its estimate from the reference round
  // (those estimates moved together onto the current series, so only the frames' poses relative to
  // each other are held), relative to the frame's own least-squares term (1 = as much). The model rounds
  // feed on their own results (each frame's target is built from the other frames at their current
  // poses); with frames in different poses that a coarse grid samples differently (4 mm voxels, 5 mm
  // PSF), the series then drifts a little further with every round (0.1 -> 0.34 deg RMS in 5 rounds on
  // such a phantom); the prior bounds that drift, at some cost in noise when the reference round is
  // noisy (docs/MODULE_VALIDATION.md). 0 = none. Least-squares model rounds only (model_metric).
  double model_prior_weight = 0.2;
  // Metric::local_lsq (reference round): cell edge (rounded to >= 2 estimation voxels).
  double local_cell_mm = 12.0;
  // Metric::lncc (reference round): window half-width (rounded to 1..3 estimation voxels), points of
  // that round (each costs a window of voxels), and the step at which that round stops (the model
  // rounds refine further).
  double lncc_radius_mm = 6.0;
  std::size_t lncc_max_samples = 4000;
  double lncc_min_step_mm = 0.02;
  // Metric::window_ncc (reference round): window half-width (rounded to 1..3 estimation voxels) and
  // points in all ((2 r + 1)^3 per window).
  double window_radius_mm = 3.0;
  std::size_t window_samples = 400000;
  // With the model target, the first pass stops one level short of its finest (2x coarser): the second
  // pass's full-resolution round to the reference frame does that work (measured: same accuracy,
  // ~4 s less on the HRRT-sized benchmark, docs/BENCHMARKS.md).
  bool first_pass_skip_finest = true;
  std::size_t refine_max_samples = 35000;  // points of the second pass, drawn (jittered within their voxels)
                                          // from a head mask: the reference frame's smoothed image above 5 %
                                          // of its 99.5th percentile, dilated by 3 voxels
  int levels = 2;                       // multi-resolution levels (shrink 2^(levels-1) ... 1)
  double sampling_fraction = 0.1;       // fraction of estimation voxels sampled by the metric (0,1]
  std::size_t max_samples = 50000;      // ... but at most this many points per level
  int max_iterations = 200;             // per level
  double min_step_mm = 0.005;           // optimiser stops when its step falls below this (mm-equivalent)
  std::uint32_t seed = 20240611;        // sampling seed: results are reproducible
};

struct FrameMotion {
  // Transform of this frame (see the convention above).
  double tx_mm = 0, ty_mm = 0, tz_mm = 0;
  double rx_deg = 0, ry_deg = 0, rz_deg = 0;
  double fd_mm = 0;  // framewise displacement to the previous frame
  // "estimated", "reference", "near-empty", "excluded", "before-start" or "single-frame"
  std::string status;
  int source_frame = -1;        // for excluded frames: the frame whose transform was copied (-1: none)
  double metric_value = 0;      // final metric value of the last pass (ITK sign: lower is better)
  unsigned iterations = 0;      // optimiser iterations of the last pass, all levels
};

struct MotionResult {
  std::vector<FrameMotion> frames;
  std::size_t reference_frame = 0;  // 0-based
  Vec3 center_lps{0, 0, 0};         // centre of rotation, mm
  std::size_t nan_voxels = 0;       // NaN voxels found (treated as 0)
  std::vector<std::string> warnings;
};

// Estimates one rigid transform per frame. Throws petpipe::Error when there are no frames, when no
// frame can serve as reference (all empty / excluded), or for invalid options (reference or excluded
// frame out of range, a reference frame that is itself excluded, fwhm < 0, sampling outside (0,1]).
// A one-frame input gives the identity with a warning. Progress is reported per frame and pass.
MotionResult estimate_motion(const DynamicImage& pet, const Options& options);

// Reslices every frame in place on its own grid: frame_f(T_f(x)) with the given interpolation;
// points that fall outside the frame become 0. NaN voxels are treated as 0. Needs memory for two
// extra frames.
void reslice_frames(DynamicImage& pet, const MotionResult& motion, Interpolation interpolation);

// Duration-weighted mean over frames (time-averaged activity, same units as the frames); NaN voxels
// count as 0.
Image3D mean_image(const DynamicImage& pet);

// Point mapping of one frame's transform (reference space -> frame space, LPS mm).
Vec3 transform_point(const FrameMotion& motion, const Vec3& center, const Vec3& point);
// Rotation matrix R (row-major) of the convention above, angles in degrees.
Mat3 rotation_matrix(double rx_deg, double ry_deg, double rz_deg);
// Fills fd_mm of every frame (Power et al. with the given sphere radius, default 50 mm).
void compute_framewise_displacement(std::vector<FrameMotion>& frames, double radius_mm = 50.0);

// Frame mean activity and the frames judged near-empty under `empty_fraction`.
std::vector<bool> near_empty_frames(const DynamicImage& pet, double empty_fraction);

}  // namespace petpipe::realign
