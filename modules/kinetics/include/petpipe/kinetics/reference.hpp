#pragma once
// Reference-region TACs, the brain mask used for voxelwise fits, and frame weights.
#include <cstddef>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/kinetics/convolution.hpp"

namespace petpipe::kinetics {

struct RegionTac {
  std::vector<double> values;        // per frame, same unit and decay state as the image
  std::size_t voxels = 0;            // voxels averaged
  std::size_t skipped_nonfinite = 0; // mask voxels left out because a frame is NaN/inf
};

// Per-frame mean over the voxels of `mask` (same grid as `pet`). Voxels with a non-finite value in any
// frame are left out and counted. Throws petpipe::Error when the mask is on another grid, is empty, or
// has no finite voxel.
RegionTac region_tac(const DynamicImage& pet, const Mask& mask);

// Checks a reference TAC: one finite value per frame, and every "late" frame (starting at or after
// `late_fraction` of the scan's end time) strictly positive. Throws petpipe::Error otherwise.
void check_reference_tac(const std::vector<double>& tac, const FrameTimes& frames,
                         double late_fraction = 0.5);

// Brain mask from the duration-weighted mean image: voxels whose mean is finite in every frame and
// >= threshold_fraction x the robust maximum, the `robust_percentile` quantile of the finite positive
// mean values (so a few hot voxels do not set the threshold).
struct BrainMaskOptions {
  double threshold_fraction = 0.1;  // of the robust maximum
  double robust_percentile = 0.99;  // quantile defining the robust maximum
};
Mask brain_mask(const DynamicImage& pet, const BrainMaskOptions& options = {});

// Frame weights for weighted least squares, normalised to mean 1.
//   uniform:  w_f = 1
//   duration: w_f = d_f (frame duration)
//   counts:   w_f = d_f / C^u_f in decay-uncorrected units, i.e. the inverse of the Poisson variance of
//             the frame's concentration (variance of an uncorrected frame mean ~ C^u_f / d_f), as Magia
//             weights frames. C^u_f = tac_f x (decay factor of frame f) when the data are decay
//             corrected (the weight on the corrected scale is then d_f DF_f^2 / C^u_f), tac_f otherwise.
//             `tac` is a TAC of the data (petpipe uses the mean TAC of the fit mask); C^u_f is floored at
//             1 % of its maximum so empty early frames do not get infinite weight.
enum class WeightScheme { uniform, duration, counts };
WeightScheme parse_weight_scheme(const std::string& name);  // throws on unknown names
std::string to_string(WeightScheme scheme);
std::vector<double> frame_weights(WeightScheme scheme, const FrameTable& frames,
                                  const std::vector<double>& tac = {});

}  // namespace petpipe::kinetics
