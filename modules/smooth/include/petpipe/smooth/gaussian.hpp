#pragma once
// Gaussian smoothing with the kernel given as FWHM in millimetres.
#include "petpipe/core/image.hpp"

namespace petpipe::smooth {

struct Options {
  Vec3 fwhm_mm{8.0, 8.0, 8.0};  // per physical axis of the voxel grid; sigma = FWHM / (2 sqrt(2 ln 2))
  bool nan_aware = true;        // NaN voxels neither spread nor receive weight (normalised convolution)
  static Options isotropic(double fwhm) { return Options{{fwhm, fwhm, fwhm}, true}; }
};

// Smoothed copy of a 3D image.
Image3D gaussian(const Image3D& image, const Options& options);
// Smooths one volume in place (e.g. one frame of a DynamicImage).
void gaussian_inplace(float* data, const Geometry& geometry, const Options& options);
// Smooths every frame of a dynamic image in place.
void gaussian_frames(DynamicImage& image, const Options& options);

}  // namespace petpipe::smooth
