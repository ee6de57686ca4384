// Exact SRTM curves against an independent numerical solution (nested adaptive quadrature of the
// operational equation written here, not using ExpCurve).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "petpipe/core/error.hpp"
#include "petpipe/phantom/curves.hpp"
#include "petpipe/phantom/presets.hpp"
#include "petpipe/phantom/random.hpp"

using namespace petpipe;
using namespace petpipe::phantom;

namespace {

// Adaptive Simpson quadrature.
double simpson(const std::function<double(double)>& f, double a, double b, double fa, double fm, double fb,
               double whole, double tol, int depth) {
  const double m = 0.5 * (a + b), lm = 0.5 * (a + m), rm = 0.5 * (m + b);
  const double flm = f(lm), frm = f(rm);
  const double left = (m - a) / 6 * (fa + 4 * flm + fm), right = (b - m) / 6 * (fm + 4 * frm + fb);
  if (depth <= 0 || std::abs(left + right - whole) <= 15 * tol) return left + right + (left + right - whole) / 15;
  return simpson(f, a, m, fa, flm, fm, left, tol / 2, depth - 1) + simpson(f, m, b, fm, frm, fb, right, tol / 2, depth - 1);
}
double integrate(const std::function<double(double)>& f, double a, double b, double tol) {
  if (b <= a) return 0.0;
  const double fa = f(a), fb = f(b), fm = f(0.5 * (a + b));
  return simpson(f, a, b, fa, fm, fb, (b - a) / 6 * (fa + 4 * fm + fb), tol, 40);
}
// 16-point Gauss-Legendre on n panels (smooth integrands).
double gauss(const std::function<double(double)>& f, double a, double b, int panels) {
  static const double x[8] = {0.0950125098376374, 0.2816035507792589, 0.4580167776572274, 0.6178762444026438,
                              0.7554044083550030, 0.8656312023878318, 0.9445750230732326, 0.9894009349916499};
  static const double w[8] = {0.1894506104550685, 0.1826034150449236, 0.1691565193950025, 0.1495959888165767,
                              0.1246289712555339, 0.0951585116824928, 0.0622535239386479, 0.0271524594117541};
  double s = 0;
  const double h = (b - a) / panels;
  for (int p = 0; p < panels; ++p) {
    const double c = a + (p + 0.5) * h, r = 0.5 * h;
    for (int i = 0; i < 8; ++i) s += w[i] * r * (f(c - r * x[i]) + f(c + r * x[i]));
  }
  return s;
}

// Independent reference curve (same formula as ReferenceCurveParams documents).
double cr(const ReferenceCurveParams& p, double t) {
  if (t < 0) return 0;
  return p.a1 * t * std::exp(-p.l1 * t) + p.a2 * (std::exp(-p.l2 * t) - std::exp(-p.l1 * t)) +
         p.a3 * (std::exp(-p.l3 * t) - std::exp(-p.l1 * t));
}
// C_T(t) = R1 C_R(t) + (k2 - R1 k2a) int_0^t C_R(tau) exp(-k2a (t - tau)) dtau, numerically.
double ct(const ReferenceCurveParams& p, double r1, double k2, double bp, double t) {
  const double k2a = k2 / (1 + bp);
  const double conv = gauss([&](double tau) { return cr(p, tau) * std::exp(-k2a * (t - tau)); }, 0, t, 24);
  return r1 * cr(p, t) + (k2 - r1 * k2a) * conv;
}

}  // namespace

TEST(PhantomCurves, SrtmFrameMeansMatchIndependentQuadrature) {
  const auto& preset = tracer_preset("carfentanil");
  FrameTable frames;
  double s = 0;
  for (double d : preset.frame_durations_s) {
    frames.start_s.push_back(s);
    frames.duration_s.push_back(d);
    s += d;
  }
  ASSERT_EQ(frames.size(), 16u);
  EXPECT_DOUBLE_EQ(frames.end_s(15), 69 * 60.0);
  const ReferenceCurveParams p = preset.reference_curve;
  const ExpCurve ref = reference_curve(p);
  // Parameter sets include k2a equal to a reference rate (0.12 /min: the degenerate convolution).
  const double sets[][3] = {{1.0, 0.15, 2.8}, {0.65, 0.0975, 0.3}, {1.1, 0.165, 0.0}, {1.0, 0.24, 1.0},
                            {0.05, 0.0075, 0.0}, {1.0, 0.15, 0.25 - 1e-7}};
  double worst = 0;
  for (const auto& q : sets) {
    const ExpCurve target = srtm_target(ref, q[0], q[1], q[2]);
    const auto means = frame_means(target, frames);
    for (std::size_t f = 0; f < frames.size(); ++f) {
      const double a = frames.start_s[f] / 60, b = frames.end_s(f) / 60;
      const double truth = integrate([&](double t) { return ct(p, q[0], q[1], q[2], t); }, a, b, 1e-11) / (b - a);
      const double rel = std::abs(means[f] - truth) / std::abs(truth);
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 1e-5) << "R1=" << q[0] << " k2=" << q[1] << " BPND=" << q[2] << " frame " << f + 1;
    }
    // Point values as well.
    for (double t : {0.5, 2.0, 10.0, 45.0, 68.0})
      EXPECT_NEAR(target.value(t), ct(p, q[0], q[1], q[2], t), 1e-8 * std::abs(ct(p, q[0], q[1], q[2], t)) + 1e-12);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  RecordProperty("worst_relative_error", buf);
}

TEST(PhantomCurves, IntegralsAndConvolutionsExact) {
  ExpCurve c;
  c.terms = {{2.0, 1, 0.5}, {1.0, 0, 0.0}, {-0.5, 2, 0.05}, {3.0, 0, 0.3}};
  for (auto [a, b] : {std::pair{0.0, 1.0}, {0.5, 7.0}, {10.0, 16.0}, {60.0, 66.0}, {-1.0, 2.0}}) {
    const double num = integrate([&](double t) { return c.value(t); }, std::max(a, 0.0), b, 1e-13);
    EXPECT_NEAR(c.integral(a, b), num, 1e-9 * std::abs(num) + 1e-12);
  }
  // Convolution with near-equal and equal rates.
  for (double k : {0.5, 0.5 + 1e-5, 0.3, 0.0, 0.05 - 1e-4}) {
    const ExpCurve conv = c.convolve_exp(k);
    for (double t : {0.3, 4.0, 30.0, 90.0}) {
      const double num = gauss([&](double tau) { return c.value(tau) * std::exp(-k * (t - tau)); }, 0, t, 40);
      EXPECT_NEAR(conv.value(t), num, 1e-9 * std::abs(num) + 1e-10) << "k=" << k << " t=" << t;
    }
  }
}

TEST(PhantomCurves, ReferenceCurvesHaveABolusShape) {
  for (const auto& name : tracer_names()) {
    const ExpCurve ref = reference_curve(tracer_preset(name).reference_curve);
    EXPECT_EQ(ref.value(0.0), 0.0);
    EXPECT_EQ(ref.value(-1.0), 0.0);
    double tmax = 0, vmax = 0;
    for (double t = 0; t < 90; t += 0.01)
      if (ref.value(t) > vmax) vmax = ref.value(t), tmax = t;
    EXPECT_GT(tmax, 1.0) << name;
    EXPECT_LT(tmax, 6.0) << name;
    EXPECT_GT(ref.value(60.0), 0.05 * vmax) << name;
  }
}

TEST(PhantomPresets, SchedulesAndErrors) {
  EXPECT_EQ(tracer_preset("carfentanil").frame_durations_s.size(), 16u);
  EXPECT_EQ(tracer_preset("MADAM").frame_durations_s.size(), 17u);
  double total = 0;
  for (double d : tracer_preset("madam").frame_durations_s) total += d;
  EXPECT_DOUBLE_EQ(total, 75 * 60.0);
  EXPECT_THROW(tracer_preset("raclopride"), Error);
  const auto s = parse_frame_schedule("3x60,4x180,2x360");
  ASSERT_EQ(s.size(), 9u);
  EXPECT_EQ(s[3], 180.0);
  EXPECT_THROW(parse_frame_schedule("3x"), Error);
  EXPECT_THROW(parse_frame_schedule("-1x60"), Error);
  EXPECT_THROW(parse_frame_schedule(""), Error);
  EXPECT_EQ(label_base_name("Thalamus_L"), "Thalamus");
  EXPECT_EQ(label_base_name("Vermis_3"), "Vermis_3");
}

TEST(PhantomRandom, DeterministicAndNormal) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) {
    const double x = a.normal();
    EXPECT_EQ(x, b.normal());
    EXPECT_NE(x, c.normal());
  }
  Rng r(7);
  double m = 0, v = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    m += x;
    v += x * x;
  }
  m /= n;
  v = v / n - m * m;
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, 1.0, 0.01);
  EXPECT_NE(derive_seed(1, 1), derive_seed(1, 2));
  EXPECT_EQ(derive_seed(5, 3, 2), derive_seed(5, 3, 2));
}
