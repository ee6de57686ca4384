#pragma once
// The registration passes of estimate_motion. Each registers every frame of a list from its current
// transform in res.frames and writes the result back (parameters, metric value, iterations).
//
// First pass: every estimated frame to the reference frame on the smoothed images (Options::fwhm_mm),
// multi-resolution, with Options::metric.
//
// Second pass (Options::refine_passes rounds): on the finer images (refine_fwhm_mm), one resolution
// level, points drawn from a head mask (the reference frame's smoothed image above 5 % of its 99.5th
// percentile, dilated by 3 voxels), each round starting from the previous one's result. Rounds:
//   reference round (model target, first round): every frame to the reference frame itself, with
//     Options::reference_metric;
//   model rounds (model target, later rounds): every frame to its leave-one-out prediction from the
//     other frames (model_targets.hpp) with Options::model_metric and, for least squares, a prior
//     towards the reference round's relative poses; after each, the series is re-expressed in the
//     reference frame's space (the reference frame's transform becomes the identity);
//   mean rounds (mean target, or too few frames for the model): every frame to the duration-weighted
//     mean of the realigned frames, with Options::metric.
#include <cstddef>
#include <vector>

#include "estimation_images.hpp"

namespace petpipe::realign::detail {

// First pass of `frames` to `ref`. skip_finest: stop one level short of the finest (the second pass's
// reference round does that level's work).
void first_pass(const std::vector<Image3D>& smoothed, const Options& o, bool skip_finest,
                const std::vector<std::size_t>& frames, std::size_t ref, MotionResult& res);

// Second pass of `frames` (the estimated frames other than the reference) and `ref`. Releases
// images.smoothed once the head mask is built. use_model: reference and model rounds; otherwise mean
// rounds.
void second_pass(EstimationImages& images, const DynamicImage& pet, const Options& o, bool use_model,
                 const std::vector<std::size_t>& frames, std::size_t ref, MotionResult& res);

}  // namespace petpipe::realign::detail
