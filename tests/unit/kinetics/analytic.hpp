#pragma once
// Independent analytic truth for kinetics tests: a reference curve whose convolution with exp(-k t) has
// a closed form, SRTM target curves, and frame averages by composite Gauss-Legendre quadrature.
#include <cmath>
#include <functional>
#include <vector>

#include "petpipe/core/frame_table.hpp"

namespace ktest {

// C_R(t) = A t e^{-a t} + B (e^{-b t} - e^{-c t}), t in minutes, peak about 1 min after injection.
struct RefCurve {
  double A = 30.0, a = 1.2, B = 8.0, b = 0.017, c = 0.5;
  double operator()(double t) const {
    return t <= 0 ? 0.0 : A * t * std::exp(-a * t) + B * (std::exp(-b * t) - std::exp(-c * t));
  }
  // (C_R conv e^{-k t})(t), closed form (k different from a, b, c).
  double conv(double t, double k) const {
    if (t <= 0) return 0.0;
    const double d = k - a;
    const double g = (t / d - 1.0 / (d * d)) * std::exp(-a * t) + std::exp(-k * t) / (d * d);
    auto ee = [&](double r) { return (std::exp(-r * t) - std::exp(-k * t)) / (k - r); };
    return A * g + B * (ee(b) - ee(c));
  }
  // SRTM tissue curve.
  double srtm(double t, double r1, double k2, double bp) const {
    const double k2a = k2 / (1.0 + bp);
    return r1 * (*this)(t) + (k2 - r1 * k2a) * conv(t, k2a);
  }
};

// Gauss-Legendre nodes/weights on [-1, 1] (Newton on P_n).
inline void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.resize(n);
  w.resize(n);
  for (int i = 0; i < n; ++i) {
    double z = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2.0 * k - 1) * z * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      const double dz = p1 / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2.0 / ((1 - z * z) * dp * dp);
  }
}

// Average of f over [t0, t1] (composite 10-point Gauss-Legendre on `pieces` sub-intervals).
inline double average(const std::function<double(double)>& f, double t0, double t1, int pieces = 40) {
  static std::vector<double> x, w;
  if (x.empty()) gauss_legendre(10, x, w);
  double s = 0;
  const double h = (t1 - t0) / pieces;
  for (int p = 0; p < pieces; ++p) {
    const double a = t0 + p * h;
    for (std::size_t i = 0; i < x.size(); ++i) s += w[i] * 0.5 * h * f(a + 0.5 * h * (x[i] + 1));
  }
  return s / (t1 - t0);
}

// Carfentanil schedule of the seed study: 3x1, 4x3, 9x6 min (69 min), C-11, decay corrected to t = 0.
inline petpipe::FrameTable carfentanil_frames() {
  petpipe::FrameTable t;
  double s = 0;
  auto add = [&](int n, double d) {
    for (int i = 0; i < n; ++i) {
      t.start_s.push_back(s * 60);
      t.duration_s.push_back(d * 60);
      s += d;
    }
  };
  add(3, 1);
  add(4, 3);
  add(9, 6);
  t.radionuclide = "C11";
  t.half_life_s = 20.364 * 60;
  t.decay_corrected = true;
  t.tracer = "carfentanil";
  return t;
}

inline std::vector<double> frame_averages(const petpipe::FrameTable& t,
                                          const std::function<double(double)>& f) {
  std::vector<double> v;
  for (std::size_t i = 0; i < t.size(); ++i) v.push_back(average(f, t.start_s[i] / 60, t.end_s(i) / 60));
  return v;
}

}  // namespace ktest
