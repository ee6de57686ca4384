#pragma once
// Analytic head phantom for the realignment tests: smooth compartments whose weights change over the
// frames (vascular early, tissue, specific binding late), evaluated exactly at the moved positions,
// so the frames carry known rigid motion without any interpolation.
#include <array>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::realign::testing {

struct Rigid {
  double tx = 0, ty = 0, tz = 0;     // mm, LPS
  double rx = 0, ry = 0, rz = 0;     // degrees
};

inline Mat3 rot(const Rigid& m) {
  const double d = std::numbers::pi / 180.0;
  const double a = m.rx * d, b = m.ry * d, c = m.rz * d;
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b), cc = std::cos(c),
               sc = std::sin(c);
  // Independent expansion of Rz(c) * Rx(a) * Ry(b).
  return {cc * cb - sc * sa * sb, -sc * ca, cc * sb + sc * sa * cb,
          sc * cb + cc * sa * sb, cc * ca,  sc * sb - cc * sa * cb,
          -ca * sb,               sa,       ca * cb};
}

// Relative transform T_f o T_ref^-1 (same centre) as parameters.
inline Rigid relative(const Rigid& f, const Rigid& ref) {
  const Mat3 a = rot(f), b = rot(ref);
  Mat3 r{};  // a * b^T
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += a[3 * i + k] * b[3 * j + k];
      r[3 * i + j] = s;
    }
  Rigid out;
  const double d = 180.0 / std::numbers::pi;
  out.rx = std::asin(r[7]) * d;
  out.ry = std::atan2(-r[6], r[8]) * d;
  out.rz = std::atan2(-r[1], r[4]) * d;
  const double t[3] = {ref.tx, ref.ty, ref.tz};
  double rt[3];
  for (int i = 0; i < 3; ++i) rt[i] = r[3 * i] * t[0] + r[3 * i + 1] * t[1] + r[3 * i + 2] * t[2];
  out.tx = f.tx - rt[0];
  out.ty = f.ty - rt[1];
  out.tz = f.tz - rt[2];
  return out;
}

struct Compartments {
  double vascular = 0, tissue = 0, specific = 0;
};

// Activity at a point relative to the head centre (mm, LPS).
inline double head_activity(double x, double y, double z, const Compartments& w) {
  auto blob = [&](double cx, double cy, double cz, double fwhm) {
    const double s2 = std::pow(fwhm / 2.3548, 2);
    return std::exp(-0.5 * ((x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz)) / s2);
  };
  // Head: ellipsoid with a soft edge (5 mm), asymmetric "cortex" modulation.
  const double r = std::sqrt(x * x / (66.0 * 66.0) + y * y / (80.0 * 80.0) + z * z / (60.0 * 60.0));
  const double head = 1.0 / (1.0 + std::exp((r - 1.0) * 70.0 / 5.0));
  const double cortex = head * (0.6 + 0.4 * std::cos(x / 9.0) * std::cos(y / 11.0 + 0.5) * std::cos(z / 13.0));
  const double tissue = cortex + 0.8 * blob(0, -55, -30, 22);                             // + cerebellum
  const double specific = blob(14, 6, 6, 14) + blob(-13, 8, 5, 14) + 0.5 * blob(30, -35, 30, 18);  // striata
  const double vascular = blob(0, 75, 25, 12) + blob(0, -20, -40, 10) + 0.5 * blob(-40, 0, -20, 10);
  return w.vascular * vascular + w.tissue * tissue + w.specific * specific;
}

// Compartment weights over time (s): vascular peaks early, specific binding accumulates late.
inline Compartments weights_at(double t) {
  const double m = t / 60.0;
  Compartments c;
  c.vascular = 8.0 * m * std::exp(-m / 0.8) + 0.3 * std::exp(-m / 30.0);
  c.tissue = 2.0 * (1.0 - std::exp(-m / 2.0)) * std::exp(-m / 80.0);
  c.specific = 3.0 * (1.0 - std::exp(-m / 12.0));
  return c;
}

inline Geometry test_geometry(double voxel_mm = 4.0) {
  Geometry g;
  g.size = {static_cast<std::size_t>(std::lround(192 / voxel_mm)), static_cast<std::size_t>(std::lround(224 / voxel_mm)),
            static_cast<std::size_t>(std::lround(176 / voxel_mm))};
  g.spacing = {voxel_mm, voxel_mm, voxel_mm};
  g.origin = {-96.0 + voxel_mm / 2, -112.0 + voxel_mm / 2, -88.0 + voxel_mm / 2};
  return g;
}

// Frames of a dynamic phantom: frame f shows the head moved by motion[f] (reference-space point x is
// seen at T_f(x) = R (x - c) + c + t, c = grid centre). Relative Gaussian noise of `noise` at the
// mean activity, scaled by 1/sqrt(duration / 300 s), independent in every frame.
inline DynamicImage make_phantom(const Geometry& g, const std::vector<double>& starts, const std::vector<double>& durations,
                                 const std::vector<Rigid>& motion, double noise, unsigned seed = 7,
                                 double weights_time_s = -1) {
  DynamicImage img;
  img.geom = g;
  img.frames.start_s = starts;
  img.frames.duration_s = durations;
  img.frames.decay_corrected = true;
  img.frames.radionuclide = "C11";
  img.frames.half_life_s = 20.364 * 60;
  img.frames.tracer = "phantom";
  const std::size_t n = starts.size(), nvox = g.voxel_count();
  img.data.assign(n * nvox, 0.0f);
  const Vec3 c = g.index_to_point({0.5 * (g.size[0] - 1.0), 0.5 * (g.size[1] - 1.0), 0.5 * (g.size[2] - 1.0)});
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t f = 0; f < n; ++f) {
    // weights_time_s >= 0: every frame shows the tracer distribution of that time.
    const Compartments w = weights_at(weights_time_s >= 0 ? weights_time_s : starts[f] + 0.5 * durations[f]);
    const Mat3 r = rot(motion[f]);
    const double t[3] = {motion[f].tx, motion[f].ty, motion[f].tz};
    float* p = img.frame(f);
    double sum = 0;
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const Vec3 y = g.index_to_point({double(i), double(j), double(k)});
          // x - c = R^T (y - c - t)
          const double d[3] = {y[0] - c[0] - t[0], y[1] - c[1] - t[1], y[2] - c[2] - t[2]};
          const double x0 = r[0] * d[0] + r[3] * d[1] + r[6] * d[2];
          const double x1 = r[1] * d[0] + r[4] * d[1] + r[7] * d[2];
          const double x2 = r[2] * d[0] + r[5] * d[1] + r[8] * d[2];
          const double v = head_activity(x0, x1, x2, w);
          p[g.linear_index(i, j, k)] = static_cast<float>(v);
          sum += v;
        }
    if (noise > 0) {
      const double sd = noise * sum / double(nvox) / std::sqrt(durations[f] / 300.0);
      for (std::size_t i = 0; i < nvox; ++i) p[i] = static_cast<float>(p[i] + sd * normal(rng) * std::sqrt(std::max(0.0f, p[i]) + 0.05));
    }
  }
  return img;
}

}  // namespace petpipe::realign::testing
