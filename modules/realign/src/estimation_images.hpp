#pragma once
// Estimation images: each frame block-averaged to voxels of about Options::estimation_voxel_mm, then
// Gaussian-smoothed; and the head masks that the second pass samples.
#include <array>
#include <cstddef>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/realign/realign.hpp"

namespace petpipe::realign::detail {

// Block-averaging factors of the estimation grid and the Gaussian (sigma in estimation voxels) that,
// together with the block average, gives a smoothing of the requested FWHM.
struct EstimationGrid {
  std::array<std::size_t, 3> factor{1, 1, 1};
  std::array<double, 3> sigma_vox{0, 0, 0};
};
EstimationGrid estimation_grid(const Geometry& g, const Options& o, double fwhm_mm);

// The estimation images of the frames that are estimated (the others stay empty). smoothed: at
// Options::fwhm_mm (first pass); fine: at the second pass's FWHM (refine_fwhm_mm, or fwhm_mm when it
// is < 0), on the same grid, only when `second_pass`.
struct EstimationImages {
  std::vector<Image3D> smoothed;
  std::vector<Image3D> fine;
};
EstimationImages build_estimation_images(const DynamicImage& pet, const Options& o,
                                         const std::vector<std::size_t>& frames, bool second_pass);

// One frame block-averaged by integer factors (partial blocks at the far edges average what they
// hold); NaN counts as 0.
Image3D block_average(const float* frame, const Geometry& g, const std::array<std::size_t, 3>& k);

// Separable Gaussian with per-axis sigma in voxels; normalised by the kernel weight inside the image
// so that edges are not darkened.
void gaussian_voxels(Image3D& img, const std::array<double, 3>& sigma_vox);

// Head mask of a smoothed image: voxels above `fraction` of its 99.5th percentile, dilated by
// `dilation` voxels (6-neighbourhood steps) so that the edge of the head, where most of the
// registration signal lies, is inside even after motion.
std::vector<unsigned char> head_mask(const Image3D& smoothed, double fraction, int dilation);

// The mask dilated by one voxel in the 26-neighbourhood.
std::vector<unsigned char> dilate_box(const std::vector<unsigned char>& mask, const Geometry& g);

}  // namespace petpipe::realign::detail
