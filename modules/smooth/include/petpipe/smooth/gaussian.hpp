#pragma once
// Gaussian smoothing with the kernel given as FWHM in millimetres.
//
// Method. A separable Gaussian applied along the three voxel axes, with sigma_vox = sigma_mm / spacing
// per axis (sigma_mm = FWHM / (2 sqrt(2 ln 2))). The voxel axes of any grid -- including an oblique one
// -- are orthogonal, so smoothing along them with the per-axis spacing is exactly the isotropic
// physical kernel when the three FWHMs are equal; for anisotropic FWHMs `fwhm_mm[a]` applies along
// voxel axis a. The 1D kernel is the sampled Gaussian exp(-x^2 / (2 sigma_vox^2)) truncated at
// `truncate` sigma (radius = floor(truncate * sigma_vox + 0.5) voxels, the rule of
// scipy.ndimage.gaussian_filter) and normalised to unit sum. An axis with FWHM 0 is left alone.
//
// Edges. Voxels outside the image carry no weight and the result is renormalised by the kernel mass
// that falls inside the image (normalised convolution). A uniform image therefore stays uniform up to
// its edges. SPM (spm_smooth / spm_conv_vol) truncates the kernel at the edge without renormalising,
// which darkens the outer ~2 sigma; scipy's default mode 'reflect' mirrors the image. All three agree
// in the interior (further than the kernel radius from every edge).
//
// Non-finite voxels (NaN, +-Inf) when `nan_aware`: they neither spread nor receive weight; every finite
// voxel becomes the kernel-weighted mean of the finite voxels around it (normalised convolution:
// G*(w.x) / G*w with w = 1 on finite voxels), and non-finite voxels stay NaN. With `nan_aware` false a
// NaN spreads over the kernel support as in a plain convolution.
//
// Arithmetic in float32 with float32 accumulation per pass (relative error ~1e-6); threads from
// petpipe::thread_count().
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::smooth {

struct Options {
  Vec3 fwhm_mm{8.0, 8.0, 8.0};  // per physical axis of the voxel grid; sigma = FWHM / (2 sqrt(2 ln 2))
  bool nan_aware = true;        // NaN voxels neither spread nor receive weight (normalised convolution)
  static Options isotropic(double fwhm) { return Options{{fwhm, fwhm, fwhm}, true}; }
  double truncate = 4.0;        // kernel half-width in units of sigma (scipy's default)
};

// Smoothed copy of a 3D image.
Image3D gaussian(const Image3D& image, const Options& options);
// Smooths one volume in place (e.g. one frame of a DynamicImage).
void gaussian_inplace(float* data, const Geometry& geometry, const Options& options);
// Smooths every frame of a dynamic image in place.
void gaussian_frames(DynamicImage& image, const Options& options);

// FWHM (mm) -> sigma (mm).
double fwhm_to_sigma(double fwhm_mm);
// The normalised 1D kernel used for sigma in voxels: weights for offsets -radius..radius.
std::vector<float> gaussian_kernel(double sigma_vox, double truncate = 4.0);

}  // namespace petpipe::smooth
