#pragma once
// In-memory image types. Data are stored x-fastest (as in NIfTI); physical coordinates follow ITK's
// LPS convention: point = origin + direction * (spacing .* index). MNI/RAS coordinates are obtained
// by negating x and y (see to_ras()).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "petpipe/core/frame_table.hpp"

namespace petpipe {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<double, 9>;  // row-major 3x3

struct Geometry {
  std::array<std::size_t, 3> size{0, 0, 0};
  Vec3 spacing{1, 1, 1};  // mm
  Vec3 origin{0, 0, 0};   // mm, LPS
  Mat3 direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

  std::size_t voxel_count() const { return size[0] * size[1] * size[2]; }
  double voxel_volume_mm3() const { return spacing[0] * spacing[1] * spacing[2]; }
  std::size_t linear_index(std::size_t i, std::size_t j, std::size_t k) const {
    return i + size[0] * (j + size[1] * k);
  }
  // Physical point (LPS, mm) of a continuous voxel index.
  Vec3 index_to_point(const Vec3& index) const;
  // Continuous voxel index of a physical point (LPS, mm).
  Vec3 point_to_index(const Vec3& point) const;
  // Same grid (size, spacing, origin, direction within tolerance).
  bool same_grid(const Geometry& other, double tol = 1e-4) const;
  // Three-letter orientation code of the voxel axes, ITK/DICOM style (e.g. "RAS" for a NIfTI stored
  // with increasing index towards Right-Anterior-Superior... see orientation_code()).
  std::string orientation_code() const;
  bool is_oblique(double tol = 1e-6) const;
};

// LPS <-> RAS (MNI) conversion of a physical point.
inline Vec3 to_ras(const Vec3& lps) { return {-lps[0], -lps[1], lps[2]}; }
inline Vec3 from_ras(const Vec3& ras) { return {-ras[0], -ras[1], ras[2]}; }

template <typename T>
struct Volume {
  Geometry geom;
  std::vector<T> data;

  Volume() = default;
  explicit Volume(const Geometry& g, T fill = T{}) : geom(g), data(g.voxel_count(), fill) {}
  T& at(std::size_t i, std::size_t j, std::size_t k) { return data[geom.linear_index(i, j, k)]; }
  const T& at(std::size_t i, std::size_t j, std::size_t k) const {
    return data[geom.linear_index(i, j, k)];
  }
};

using Image3D = Volume<float>;
using LabelImage = Volume<std::int32_t>;
using Mask = Volume<std::uint8_t>;

// A dynamic PET image: float32, frame-major (frame f occupies data[f*nvox, (f+1)*nvox)), plus its
// frame timing. Activity is in kBq/mL (the internal unit) once read through read_dynamic().
struct DynamicImage {
  Geometry geom;
  std::vector<float> data;
  FrameTable frames;

  std::size_t frame_count() const { return frames.size(); }
  std::size_t voxels_per_frame() const { return geom.voxel_count(); }
  float* frame(std::size_t f) { return data.data() + f * geom.voxel_count(); }
  const float* frame(std::size_t f) const { return data.data() + f * geom.voxel_count(); }
  Image3D frame_image(std::size_t f) const;
};

}  // namespace petpipe
