#pragma once
// Internal helpers shared by the normalize sources: fast point <-> index maps, trilinear sampling,
// separable Gaussian smoothing and pyramid resampling of plain images. Not part of the public API.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::normalize::detail {

// point -> continuous index, as a 3x4 matrix.
struct IndexMap {
  double m[3][4];
  explicit IndexMap(const Geometry& g) {
    for (int c = 0; c < 3; ++c) {
      double t = 0;
      for (int r = 0; r < 3; ++r) {
        m[c][r] = g.direction[3 * r + c] / g.spacing[c];
        t -= m[c][r] * g.origin[r];
      }
      m[c][3] = t;
    }
  }
  Vec3 operator()(const Vec3& p) const {
    return {m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + m[0][3],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + m[1][3],
            m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + m[2][3]};
  }
};

// continuous index -> point.
struct PointMap {
  double m[3][4];
  explicit PointMap(const Geometry& g) {
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] = g.direction[3 * r + c] * g.spacing[c];
      m[r][3] = g.origin[r];
    }
  }
  Vec3 operator()(double i, double j, double k) const {
    return {m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3],
            m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3],
            m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3]};
  }
};

// Trilinear interpolation of `ncomp` interleaved components at continuous index (x, y, z).
// Returns false (and leaves out untouched) when outside [-0.5, n-0.5] in any axis, unless `clamp`.
inline bool trilinear(const float* data, const std::array<std::size_t, 3>& n, int ncomp, double x,
                      double y, double z, float* out, bool clamp) {
  const double lim[3] = {double(n[0]) - 1, double(n[1]) - 1, double(n[2]) - 1};
  double c[3] = {x, y, z};
  for (int a = 0; a < 3; ++a) {
    if (!clamp && (c[a] < -0.5 || c[a] > lim[a] + 0.5)) return false;
    c[a] = std::clamp(c[a], 0.0, lim[a]);
  }
  std::size_t i0[3], i1[3];
  double f[3];
  for (int a = 0; a < 3; ++a) {
    const double fl = std::floor(c[a]);
    i0[a] = static_cast<std::size_t>(fl);
    i1[a] = std::min<std::size_t>(i0[a] + 1, n[a] - 1);
    f[a] = c[a] - fl;
  }
  const std::size_t sx = 1, sy = n[0], sz = n[0] * n[1];
  for (int q = 0; q < ncomp; ++q) {
    auto v = [&](std::size_t i, std::size_t j, std::size_t k) {
      return double(data[(i * sx + j * sy + k * sz) * ncomp + q]);
    };
    const double c00 = v(i0[0], i0[1], i0[2]) * (1 - f[0]) + v(i1[0], i0[1], i0[2]) * f[0];
    const double c10 = v(i0[0], i1[1], i0[2]) * (1 - f[0]) + v(i1[0], i1[1], i0[2]) * f[0];
    const double c01 = v(i0[0], i0[1], i1[2]) * (1 - f[0]) + v(i1[0], i0[1], i1[2]) * f[0];
    const double c11 = v(i0[0], i1[1], i1[2]) * (1 - f[0]) + v(i1[0], i1[1], i1[2]) * f[0];
    const double c0 = c00 * (1 - f[1]) + c10 * f[1];
    const double c1 = c01 * (1 - f[1]) + c11 * f[1];
    out[q] = static_cast<float>(c0 * (1 - f[2]) + c1 * f[2]);
  }
  return true;
}

// In-place separable Gaussian smoothing of `ncomp` interleaved components; sigma in mm per axis
// (0 skips an axis). Borders are replicated.
void gaussian_smooth(std::vector<float>& data, const Geometry& g, int ncomp, double sigma_mm);

// Smooth (anti-alias, sigma_mm) and resample `image` onto `target` (same physical space, identity map).
Image3D smooth_and_resample(const Image3D& image, const Geometry& target, double sigma_mm);

// Gradient (LPS, per mm, 3 interleaved components) of an image on `g` by central differences
// (one-sided at the borders) (demons.cpp).
std::vector<float> gradient(const std::vector<float>& img, const Geometry& g);

// Robust maximum: the q-quantile of the image values (q in 0..1).
double quantile(std::vector<float> values, double q);

// Intensity-weighted centre (LPS mm) of the positive voxels (similarity.cpp).
Vec3 center_of_mass(const Image3D& img);

}  // namespace petpipe::normalize::detail
