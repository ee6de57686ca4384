#include "petpipe/core/image.hpp"

#include <cmath>

namespace petpipe {

Vec3 Geometry::index_to_point(const Vec3& index) const {
  Vec3 p{};
  for (int r = 0; r < 3; ++r) {
    double s = origin[r];
    for (int c = 0; c < 3; ++c) s += direction[3 * r + c] * spacing[c] * index[c];
    p[r] = s;
  }
  return p;
}

Vec3 Geometry::point_to_index(const Vec3& point) const {
  // direction is orthonormal: inverse = transpose.
  Vec3 d{point[0] - origin[0], point[1] - origin[1], point[2] - origin[2]};
  Vec3 idx{};
  for (int c = 0; c < 3; ++c) {
    double s = 0;
    for (int r = 0; r < 3; ++r) s += direction[3 * r + c] * d[r];
    idx[c] = s / spacing[c];
  }
  return idx;
}

bool Geometry::same_grid(const Geometry& o, double tol) const {
  if (size != o.size) return false;
  for (int i = 0; i < 3; ++i) {
    if (std::abs(spacing[i] - o.spacing[i]) > tol) return false;
    if (std::abs(origin[i] - o.origin[i]) > tol * std::max(1.0, std::abs(origin[i]))) return false;
  }
  for (int i = 0; i < 9; ++i)
    if (std::abs(direction[i] - o.direction[i]) > tol) return false;
  return true;
}

std::string Geometry::orientation_code() const {
  // For each voxel axis, the anatomical direction (RAS convention, as nibabel's aff2axcodes) towards
  // which the index increases.
  std::string code;
  for (int c = 0; c < 3; ++c) {
    // direction column c in LPS; convert to RAS.
    const double ras[3] = {-direction[c], -direction[3 + c], direction[6 + c]};
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(ras[r]) > std::abs(ras[best])) best = r;
    static const char pos[3] = {'R', 'A', 'S'};
    static const char neg[3] = {'L', 'P', 'I'};
    code += ras[best] >= 0 ? pos[best] : neg[best];
  }
  return code;
}

bool Geometry::is_oblique(double tol) const {
  for (int c = 0; c < 3; ++c) {
    int nonzero = 0;
    for (int r = 0; r < 3; ++r)
      if (std::abs(direction[3 * r + c]) > tol) ++nonzero;
    if (nonzero != 1) return true;
  }
  return false;
}

Image3D DynamicImage::frame_image(std::size_t f) const {
  Image3D out;
  out.geom = geom;
  const float* p = frame(f);
  out.data.assign(p, p + geom.voxel_count());
  return out;
}

}  // namespace petpipe
