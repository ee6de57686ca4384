#pragma once
// Internal: raw NIfTI voxel reading (see nifti_voxels.cpp for why).
#include <cstddef>
#include <cstdint>
#include <string>

namespace petpipe::detail {

struct NiftiVoxelHeader {
  int version = 1;
  std::int64_t dim[8]{};
  int datatype = 0;
  int bitpix = 0;
  std::int64_t vox_offset = 352;
  double scl_slope = 0.0;
  double scl_inter = 0.0;
  bool swap = false;
};

NiftiVoxelHeader read_voxel_header(const std::string& path);
std::size_t voxel_count(const NiftiVoxelHeader& header);
// Reads all voxels as float (scl_slope / scl_inter applied), NaN and Inf preserved.
void read_voxels(const std::string& path, float* out, std::size_t expected_count);

}  // namespace petpipe::detail
