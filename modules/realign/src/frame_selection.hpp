#pragma once
// Which frames are estimated, which one is the reference, and the transforms of the frames that are
// not estimated. Each step records statuses and warnings in the MotionResult.
#include <cstddef>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/realign/realign.hpp"

namespace petpipe::realign::detail {

// Logs a warning and keeps it in res.warnings.
void add_warning(MotionResult& res, const std::string& message);

// Mean of n values, NaN counted as 0; the number of NaN values goes to *nan_count when given.
double frame_mean(const float* p, std::size_t n, std::size_t* nan_count);

// Mean of each frame (NaN voxels count as 0); the NaN voxels found go to res.nan_voxels (with a warning).
std::vector<double> frame_means(const DynamicImage& pet, MotionResult& res);

// The frames that can be estimated: not excluded by the user, not before start_time_s, not
// near-empty (mean below empty_fraction of the largest frame mean). The others get their status
// ("excluded", "before-start", "near-empty", with a warning for near-empty ones). Throws when every
// frame is empty.
std::vector<bool> select_frames(const DynamicImage& pet, const Options& o, const std::vector<double>& means,
                                MotionResult& res);

// Options::reference_frame, or the estimable frame with the most counts (mean x duration, decay
// correction undone) among those whose mid-time is in the last two thirds of the scan (any estimable
// frame when there is none). Sets res.reference_frame and its status. Throws when no frame can be
// estimated or the chosen reference is not estimable.
std::size_t choose_reference(const DynamicImage& pet, const Options& o, const std::vector<double>& means,
                             const std::vector<bool>& estimable, MotionResult& res);

// Transforms of the frames that were not estimated: with ExcludedPolicy::nearest, that of the estimated
// frame (of `estimated`) nearest in mid-time (the later one on a tie); with identity, none.
void fill_excluded_frames(const DynamicImage& pet, const Options& o, const std::vector<bool>& estimable,
                          const std::vector<std::size_t>& estimated, MotionResult& res);

}  // namespace petpipe::realign::detail
