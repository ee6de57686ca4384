#pragma once
// Trilinear interpolation shared by petpipe's own registration metrics (gauss_newton.hpp) and the
// reslicing of the model targets (reslice_linear_where).
#include <algorithm>
#include <array>
#include <cmath>

#include <Eigen/Dense>

#include "backend.hpp"

namespace petpipe::realign::detail {

// Trilinear sampler of an image in continuous index space with the interpolant's own gradient (index
// units). Inside: continuous index in [-0.5, n - 0.5] on every axis (as ITK's linear interpolator),
// neighbours clamped to the image.
struct Sampler {
  const float* data;
  std::array<long, 3> n;
  long sy, sz;
  explicit Sampler(const Image3D& img)
      : data(img.data.data()),
        n{static_cast<long>(img.geom.size[0]), static_cast<long>(img.geom.size[1]), static_cast<long>(img.geom.size[2])},
        sy(static_cast<long>(img.geom.size[0])),
        sz(static_cast<long>(img.geom.size[0] * img.geom.size[1])) {}

  bool sample(const Vec3& ci, double& value, Vec3* grad) const {
    long i0[3], i1[3];
    double w[3];
    for (int a = 0; a < 3; ++a) {
      if (!(ci[a] >= -0.5 && ci[a] <= static_cast<double>(n[a]) - 0.5)) return false;
      const double fl = std::floor(ci[a]);
      w[a] = ci[a] - fl;
      const long b = static_cast<long>(fl);
      i0[a] = std::clamp(b, 0L, n[a] - 1);
      i1[a] = std::clamp(b + 1, 0L, n[a] - 1);
    }
    const double c000 = data[i0[0] + sy * i0[1] + sz * i0[2]], c100 = data[i1[0] + sy * i0[1] + sz * i0[2]];
    const double c010 = data[i0[0] + sy * i1[1] + sz * i0[2]], c110 = data[i1[0] + sy * i1[1] + sz * i0[2]];
    const double c001 = data[i0[0] + sy * i0[1] + sz * i1[2]], c101 = data[i1[0] + sy * i0[1] + sz * i1[2]];
    const double c011 = data[i0[0] + sy * i1[1] + sz * i1[2]], c111 = data[i1[0] + sy * i1[1] + sz * i1[2]];
    const double x = w[0], y = w[1], z = w[2];
    // Along x first.
    const double c00 = c000 + x * (c100 - c000), c10 = c010 + x * (c110 - c010);
    const double c01 = c001 + x * (c101 - c001), c11 = c011 + x * (c111 - c011);
    const double c0 = c00 + y * (c10 - c00), c1 = c01 + y * (c11 - c01);
    value = c0 + z * (c1 - c0);
    if (grad) {
      const double dx0 = (c100 - c000) + y * ((c110 - c010) - (c100 - c000));
      const double dx1 = (c101 - c001) + y * ((c111 - c011) - (c101 - c001));
      (*grad)[0] = dx0 + z * (dx1 - dx0);
      (*grad)[1] = (c10 - c00) + z * ((c11 - c01) - (c10 - c00));
      (*grad)[2] = c1 - c0;
    }
    return true;
  }
};

// Continuous index = A * point + b of a grid; index gradients to physical ones: grad_phys = A^T grad_idx.
struct IndexMap {
  Eigen::Matrix3d a;
  Eigen::Vector3d b;
  explicit IndexMap(const Geometry& g) {
    Eigen::Matrix3d d;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) d(r, c) = g.direction[3 * r + c];
    const Eigen::Vector3d inv_s(1.0 / g.spacing[0], 1.0 / g.spacing[1], 1.0 / g.spacing[2]);
    a = inv_s.asDiagonal() * d.inverse();
    b = -a * Eigen::Vector3d(g.origin[0], g.origin[1], g.origin[2]);
  }
};

// Rotation matrix of ITK Euler parameters (R = Rz Rx Ry).
inline Eigen::Matrix3d euler_matrix(const Params& p) {
  const double deg = 180.0 / 3.14159265358979323846;
  const Mat3 r = rotation_matrix(p[0] * deg, p[1] * deg, p[2] * deg);
  Eigen::Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m(i, j) = r[3 * i + j];
  return m;
}

}  // namespace petpipe::realign::detail
