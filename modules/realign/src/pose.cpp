// Rigid poses: the public convention functions of realign.hpp (rotation_matrix, transform_point,
// framewise displacement) and the pose algebra of the driver (pose.hpp).
#include "pose.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace petpipe::realign {

namespace {
constexpr double kDeg = 180.0 / std::numbers::pi;
}  // namespace

namespace detail {

Params to_params(const FrameMotion& m) {
  return {m.rx_deg / kDeg, m.ry_deg / kDeg, m.rz_deg / kDeg, m.tx_mm, m.ty_mm, m.tz_mm};
}

void set_params(FrameMotion& m, const Params& p) {
  m.rx_deg = p[0] * kDeg;
  m.ry_deg = p[1] * kDeg;
  m.rz_deg = p[2] * kDeg;
  m.tx_mm = p[3];
  m.ty_mm = p[4];
  m.tz_mm = p[5];
}

Vec3 grid_center(const Geometry& g) {
  return g.index_to_point({0.5 * (static_cast<double>(g.size[0]) - 1), 0.5 * (static_cast<double>(g.size[1]) - 1),
                           0.5 * (static_cast<double>(g.size[2]) - 1)});
}

Mat3 mat_mul(const Mat3& p, const Mat3& q, bool transpose_q) {
  Mat3 r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += p[3 * i + k] * (transpose_q ? q[3 * j + k] : q[3 * k + j]);
      r[3 * i + j] = s;
    }
  return r;
}

std::array<double, 3> euler_angles_rad(const Mat3& r) {
  return {std::asin(std::clamp(r[7], -1.0, 1.0)), std::atan2(-r[6], r[8]), std::atan2(-r[1], r[4])};
}

std::array<double, 3> matrix_angles(const Mat3& r) {
  const auto a = euler_angles_rad(r);
  return {a[0] * kDeg, a[1] * kDeg, a[2] * kDeg};
}

// With T(x) = R (x - c) + c + t about the common centre c, G^-1(x) = R_g^T (x - c - t_g) + c and
// T_f(G^-1(x)) = R_f R_g^T (x - c) + c + t_f - R_f R_g^T t_g.
void rebase(std::vector<FrameMotion>& frames, const FrameMotion& g) {
  const Mat3 rr = rotation_matrix(g.rx_deg, g.ry_deg, g.rz_deg);
  const Vec3 tr{g.tx_mm, g.ty_mm, g.tz_mm};
  for (auto& m : frames) {
    const Mat3 r = mat_mul(rotation_matrix(m.rx_deg, m.ry_deg, m.rz_deg), rr, true);
    const auto ang = matrix_angles(r);
    m.rx_deg = ang[0], m.ry_deg = ang[1], m.rz_deg = ang[2];
    m.tx_mm -= r[0] * tr[0] + r[1] * tr[1] + r[2] * tr[2];
    m.ty_mm -= r[3] * tr[0] + r[4] * tr[1] + r[5] * tr[2];
    m.tz_mm -= r[6] * tr[0] + r[7] * tr[1] + r[8] * tr[2];
  }
}

void rebase_on_reference(std::vector<FrameMotion>& frames, std::size_t ref) { rebase(frames, frames[ref]); }

// Per frame: rotation R_a^T R_b, translation R_a^T (t_b - t_a); the angles are averaged, which is exact
// enough for the small differences this is used for.
FrameMotion common_offset(const std::vector<FrameMotion>& from, const std::vector<FrameMotion>& to) {
  FrameMotion g;
  for (std::size_t k = 0; k < from.size(); ++k) {
    const auto& a = from[k];
    const auto& b = to[k];
    const Mat3 ra = rotation_matrix(a.rx_deg, a.ry_deg, a.rz_deg);
    Mat3 rat{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) rat[3 * i + j] = ra[3 * j + i];
    const auto ang = matrix_angles(mat_mul(rat, rotation_matrix(b.rx_deg, b.ry_deg, b.rz_deg)));
    const double d[3] = {b.tx_mm - a.tx_mm, b.ty_mm - a.ty_mm, b.tz_mm - a.tz_mm};
    g.rx_deg += ang[0];
    g.ry_deg += ang[1];
    g.rz_deg += ang[2];
    g.tx_mm += rat[0] * d[0] + rat[1] * d[1] + rat[2] * d[2];
    g.ty_mm += rat[3] * d[0] + rat[4] * d[1] + rat[5] * d[2];
    g.tz_mm += rat[6] * d[0] + rat[7] * d[1] + rat[8] * d[2];
  }
  const double n = static_cast<double>(std::max<std::size_t>(1, from.size()));
  g.rx_deg /= n, g.ry_deg /= n, g.rz_deg /= n, g.tx_mm /= n, g.ty_mm /= n, g.tz_mm /= n;
  return g;
}

}  // namespace detail

Mat3 rotation_matrix(double rx_deg, double ry_deg, double rz_deg) {
  const double a = rx_deg / kDeg, b = ry_deg / kDeg, c = rz_deg / kDeg;
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b), cc = std::cos(c),
               sc = std::sin(c);
  // Rx, Ry, Rz right-handed; R = Rz * Rx * Ry.
  const Mat3 rx{1, 0, 0, 0, ca, -sa, 0, sa, ca};
  const Mat3 ry{cb, 0, sb, 0, 1, 0, -sb, 0, cb};
  const Mat3 rz{cc, -sc, 0, sc, cc, 0, 0, 0, 1};
  return detail::mat_mul(rz, detail::mat_mul(rx, ry));
}

Vec3 transform_point(const FrameMotion& m, const Vec3& center, const Vec3& point) {
  const Mat3 r = rotation_matrix(m.rx_deg, m.ry_deg, m.rz_deg);
  const Vec3 d{point[0] - center[0], point[1] - center[1], point[2] - center[2]};
  const Vec3 t{m.tx_mm, m.ty_mm, m.tz_mm};
  Vec3 y{};
  for (int i = 0; i < 3; ++i) y[i] = r[3 * i] * d[0] + r[3 * i + 1] * d[1] + r[3 * i + 2] * d[2] + center[i] + t[i];
  return y;
}

void compute_framewise_displacement(std::vector<FrameMotion>& frames, double radius_mm) {
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (f == 0) {
      frames[f].fd_mm = 0;
      continue;
    }
    const auto& a = frames[f - 1];
    const auto& b = frames[f];
    frames[f].fd_mm = std::abs(b.tx_mm - a.tx_mm) + std::abs(b.ty_mm - a.ty_mm) + std::abs(b.tz_mm - a.tz_mm) +
                      radius_mm / kDeg *
                          (std::abs(b.rx_deg - a.rx_deg) + std::abs(b.ry_deg - a.ry_deg) + std::abs(b.rz_deg - a.rz_deg));
  }
}

}  // namespace petpipe::realign
