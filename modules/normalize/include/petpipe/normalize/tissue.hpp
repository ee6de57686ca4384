#pragma once
// A simple T1 tissue classification (three-class k-means on the intensities inside a brain mask) and
// grey-matter masking of a reference region.
#include <array>
#include <cstddef>
#include <cstdint>

#include "petpipe/core/image.hpp"
#include "petpipe/normalize/normalize.hpp"

namespace petpipe::normalize {

struct TissueOptions {
  int max_iterations = 100;  // Lloyd iterations of the 1-D k-means
  // Stop when no class centre moves by more than this fraction of the robust intensity range
  // (1st to 99th percentile inside the mask).
  double tolerance = 1e-5;
};

enum TissueClass : std::int32_t { kTissueBackground = 0, kTissueCsf = 1, kTissueGrey = 2, kTissueWhite = 3 };

struct TissueResult {
  LabelImage classes;                   // on the T1 grid: 0 outside the mask, else TissueClass
  std::array<double, 3> centres{};      // mean T1 intensity of CSF, GM, WM (ascending)
  std::array<std::size_t, 3> voxels{};  // voxels per class
  int iterations = 0;
};

// Three-class k-means of the T1 intensities inside `brain` (same grid as `t1`; non-finite voxels are
// ignored): centres start at the 1/6, 1/2 and 5/6 quantiles, each voxel goes to the nearest centre,
// and the classes are ordered by intensity (T1-weighted: CSF < GM < WM). Throws petpipe::Error when the
// mask holds fewer than 30 voxels or the intensities do not separate into three classes.
TissueResult classify_tissue(const Image3D& t1, const Mask& brain, const TissueOptions& options = {});

// Keeps the voxels of `reference.mask` whose grey-matter fraction (`gm_fraction`, on the PET grid,
// 0..1, e.g. resample_occupancy of the GM class) is at least `min_fraction`. When fewer than
// `min_voxels` would remain the mask is left unchanged and false is returned; otherwise
// reference.final_voxels is updated and true is returned.
bool restrict_to_grey_matter(ReferenceResult& reference, const Image3D& gm_fraction, double min_fraction = 0.5,
                             std::size_t min_voxels = 10);

}  // namespace petpipe::normalize
