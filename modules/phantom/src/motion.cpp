#include "petpipe/phantom/motion.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "petpipe/phantom/anatomy.hpp"

namespace petpipe::phantom {

std::vector<RigidMotion> random_motion(const FrameTable& frames, const MotionOptions& o, Rng& rng) {
  const std::size_t n = frames.size();
  std::vector<RigidMotion> out(n);
  if (n == 0) return out;
  const double t_end = frames.end_s(n - 1);
  const double span = std::max(t_end - o.still_s, 1.0);
  const double bounds[6] = {o.max_translation_mm, o.max_translation_mm, o.max_translation_mm,
                            o.max_rotation_deg,   o.max_rotation_deg,   o.max_rotation_deg};
  double drift[6];
  for (int p = 0; p < 6; ++p) drift[p] = rng.uniform(-1, 1) * o.drift_fraction * bounds[p];
  std::vector<std::size_t> moving;
  for (std::size_t f = 0; f < n; ++f)
    if (frames.start_s[f] >= o.still_s) moving.push_back(f);
  std::vector<std::vector<double>> steps(n, std::vector<double>(6, 0.0));
  for (int j = 0; j < o.jumps && !moving.empty(); ++j) {
    const std::size_t at = moving[std::min(moving.size() - 1, std::size_t(rng.uniform() * moving.size()))];
    for (int p = 0; p < 6; ++p) steps[at][p] += rng.uniform(-0.5, 0.5) * bounds[p];
  }
  double cum[6] = {0, 0, 0, 0, 0, 0};
  for (std::size_t f = 0; f < n; ++f) {
    for (int p = 0; p < 6; ++p) cum[p] += steps[f][p];
    if (frames.start_s[f] < o.still_s) continue;
    const double frac = std::clamp((frames.mid_s(f) - o.still_s) / span, 0.0, 1.0);
    double v[6];
    for (int p = 0; p < 6; ++p) v[p] = std::clamp(drift[p] * frac + cum[p], -bounds[p], bounds[p]);
    out[f] = {v[0], v[1], v[2], v[3], v[4], v[5]};
  }
  return out;
}

Mat3 rotation_matrix(const RigidMotion& m) {
  const double d = std::numbers::pi / 180.0;
  const double cx = std::cos(m.rx * d), sx = std::sin(m.rx * d);
  const double cy = std::cos(m.ry * d), sy = std::sin(m.ry * d);
  const double cz = std::cos(m.rz * d), sz = std::sin(m.rz * d);
  const Mat3 Rx{1, 0, 0, 0, cx, -sx, 0, sx, cx};
  const Mat3 Ry{cy, 0, sy, 0, 1, 0, -sy, 0, cy};
  const Mat3 Rz{cz, -sz, 0, sz, cz, 0, 0, 0, 1};
  auto mul = [](const Mat3& a, const Mat3& b) {
    Mat3 c{};
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k)
        for (int i = 0; i < 3; ++i) c[3 * r + k] += a[3 * r + i] * b[3 * i + k];
    return c;
  };
  return mul(Rz, mul(Rx, Ry));
}

Vec3 grid_centre(const Geometry& g) {
  return g.index_to_point({(g.size[0] - 1) / 2.0, (g.size[1] - 1) / 2.0, (g.size[2] - 1) / 2.0});
}

void move_volume(const float* in, float* out, const Geometry& g, const RigidMotion& m, const Vec3& c) {
  const Mat3 R = rotation_matrix(m);
  const Vec3 t{m.tx, m.ty, m.tz};
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        const Vec3 q{p[0] - c[0] - t[0], p[1] - c[1] - t[1], p[2] - c[2] - t[2]};
        Vec3 r{};
        for (int a = 0; a < 3; ++a)  // R^T q + c
          r[a] = R[a] * q[0] + R[3 + a] * q[1] + R[6 + a] * q[2] + c[a];
        out[g.linear_index(i, j, k)] = trilinear(in, g, r);
      }
}

}  // namespace petpipe::phantom
