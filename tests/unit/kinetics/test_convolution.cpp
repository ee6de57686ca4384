// Exact convolution machinery against independent closed forms and quadrature.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "analytic.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/kinetics/convolution.hpp"
#include "petpipe/kinetics/srtm_bfm.hpp"

using namespace petpipe;
using namespace petpipe::kinetics;

namespace {

// Independent evaluation of (c conv e^{-k t})(t) for a piecewise-linear c: per segment, the antiderivative
// of (c0 + m (s - a)) e^{k s} is e^{k s} [(c0 + m (s - a))/k - m/k^2].
double conv_direct(const PiecewiseLinear& c, double k, double t) {
  double s = 0;
  std::vector<double> knots = c.t;
  // segments: [0, t0] constant y0 (if t0 > 0), knots, then constant after the last knot up to t
  std::vector<std::pair<double, double>> segs;
  if (knots.front() > 0) segs.push_back({0.0, knots.front()});
  for (std::size_t i = 0; i + 1 < knots.size(); ++i) segs.push_back({knots[i], knots[i + 1]});
  segs.push_back({knots.back(), std::max(knots.back(), t)});
  for (auto [a, b] : segs) {
    if (a >= t) break;
    b = std::min(b, t);
    if (b <= a) continue;
    const double ya = c(a), yb = c(b), m = (yb - ya) / (b - a);
    if (k == 0) {
      s += 0.5 * (ya + yb) * (b - a);
      continue;
    }
    auto F = [&](double x) { return std::exp(k * (x - t)) * ((ya + m * (x - a)) / k - m / (k * k)); };
    s += F(b) - F(a);
  }
  return s;
}

}  // namespace

TEST(Convolution, PiecewiseLinearFrameAveragesAreExact) {
  // Irregular knots, a frame gap, and frames that do not align with the knots.
  PiecewiseLinear c{{0.0, 0.3, 0.9, 2.0, 3.5, 7.0, 20.0, 41.0}, {0.0, 5.0, 12.0, 9.0, 6.5, 4.0, 2.5, 1.2}};
  FrameTimes fr{{0.0, 0.5, 1.0, 2.5, 5.0, 12.0, 30.0}, {0.5, 1.0, 2.5, 4.0, 10.0, 25.0, 45.0}};
  for (double k : {0.0, 1e-3, 0.02, 0.1, 0.5, 3.0, 20.0}) {
    FrameConvolver conv(c, fr);
    std::vector<double> out(fr.size()), dout(fr.size());
    conv.frame_averages(k, out.data(), dout.data());
    for (std::size_t f = 0; f < fr.size(); ++f) {
      // Average of the direct closed form over the frame, split at the knots for exact quadrature.
      std::vector<double> cuts{fr.start[f]};
      for (double t : c.t)
        if (t > fr.start[f] && t < fr.end[f]) cuts.push_back(t);
      cuts.push_back(fr.end[f]);
      double integral = 0;
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
        integral += ktest::average([&](double t) { return conv_direct(c, k, t); }, cuts[i], cuts[i + 1], 4) *
                    (cuts[i + 1] - cuts[i]);
      const double expect = integral / fr.duration(f);
      EXPECT_NEAR(out[f], expect, 1e-10 * std::max(1.0, std::abs(expect))) << "k " << k << " frame " << f;
      // Derivative against a central difference.
      if (k > 1e-3) {
        const double h = 1e-5 * k;
        const double up = conv.frame_averages(k + h)[f], dn = conv.frame_averages(k - h)[f];
        EXPECT_NEAR(dout[f], (up - dn) / (2 * h), 1e-6 * std::max(1.0, std::abs(dout[f]))) << k << " " << f;
      }
    }
  }
}

TEST(Convolution, ContinuousAcrossSeriesSwitchAndAtZero) {
  PiecewiseLinear c{{0.0, 1.0, 5.0, 60.0}, {0.0, 10.0, 4.0, 1.0}};
  FrameTimes fr{{0.0, 10.0, 30.0}, {10.0, 30.0, 60.0}};
  FrameConvolver conv(c, fr);
  // Intervals of 1, 4, 5, 20, 30 min: the series/closed-form switch at k tau = 2 falls between these k.
  for (double k : {0.0999999, 0.1, 0.1000001, 0.39999999, 0.4, 0.40000001, 1.9999999, 2.0, 2.0000001}) {
    std::vector<double> a(3), da(3), b(3), db(3);
    conv.frame_averages(k, a.data(), da.data());
    conv.frame_averages(k * (1 + 1e-9), b.data(), db.data());
    for (int f = 0; f < 3; ++f) {
      EXPECT_NEAR(a[f], b[f], 1e-7 * std::abs(a[f]));
      EXPECT_NEAR(da[f], db[f], 1e-6 * std::abs(da[f]) + 1e-12);
    }
  }
  // k -> 0 joins the running integral.
  const auto z = conv.frame_averages(0.0), s = conv.frame_averages(1e-9);
  for (int f = 0; f < 3; ++f) EXPECT_NEAR(z[f], s[f], 1e-6 * z[f]);
}

TEST(Convolution, InterpolantPreservesFrameAverages) {
  // Irregular frames with a gap; the interpolant's average over every frame equals the given value.
  FrameTimes fr{{0.0, 1.0, 3.0, 7.0, 20.0}, {1.0, 3.0, 6.0, 20.0, 50.0}};
  const std::vector<double> v{2.0, 9.0, 7.0, 4.0, 1.5};
  const auto c = interpolate_frame_averages(fr, v);
  EXPECT_DOUBLE_EQ(c(0.0), 0.0);
  ASSERT_EQ(c.t.size(), fr.size() + 2);
  for (std::size_t f = 0; f < fr.size(); ++f) {
    EXPECT_DOUBLE_EQ(c.t[f + 1], fr.mid(f));
    // exact average of a piecewise-linear function: split at the knots, trapezoid per piece
    std::vector<double> cuts{fr.start[f]};
    for (double t : c.t)
      if (t > fr.start[f] && t < fr.end[f]) cuts.push_back(t);
    cuts.push_back(fr.end[f]);
    double s = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) s += 0.5 * (c(cuts[i]) + c(cuts[i + 1])) * (cuts[i + 1] - cuts[i]);
    EXPECT_NEAR(s / fr.duration(f), v[f], 1e-12 * v[f]) << f;
  }
  EXPECT_DOUBLE_EQ(c(35.0), c(50.0));  // held after the last mid-time
  EXPECT_DOUBLE_EQ(c(60.0), c(50.0));
  EXPECT_THROW(interpolate_frame_averages(fr, {1.0, 2.0}), petpipe::Error);
  FrameTimes bad{{-1.0}, {1.0}};
  EXPECT_THROW(interpolate_frame_averages(bad, {1.0}), petpipe::Error);
}

TEST(Convolution, BasisMatchesAnalyticReferenceCurve) {
  // The basis is built from frame averages only; against the analytic convolution of the smooth curve
  // its error is the interpolation error. Fine frames: tiny; the carfentanil schedule: documented size.
  ktest::RefCurve rc;
  FrameTable fine;
  for (int i = 0; i < 240; ++i) {
    fine.start_s.push_back(i * 15.0);
    fine.duration_s.push_back(15.0);
  }
  const auto cr_fine = ktest::frame_averages(fine, rc);
  for (double k : {0.03, 0.1, 0.3, 0.6}) {
    const auto b = srtm_basis(fine, cr_fine, {k});
    const auto truth = ktest::frame_averages(fine, [&](double t) { return rc.conv(t, k); });
    for (std::size_t f = 2; f < fine.size(); ++f) EXPECT_NEAR(b[f], truth[f], 2e-4 * truth[f]) << k << " " << f;
  }
  const auto fr = ktest::carfentanil_frames();
  const auto cr = ktest::frame_averages(fr, rc);
  for (double k : {0.03, 0.1, 0.3, 0.6}) {
    const auto b = srtm_basis(fr, cr, {k});
    const auto truth = ktest::frame_averages(fr, [&](double t) { return rc.conv(t, k); });
    for (std::size_t f = 3; f < fr.size(); ++f) EXPECT_NEAR(b[f], truth[f], 0.02 * truth[f]) << k << " " << f;
  }
}

TEST(Convolution, LogGrid) {
  const auto g = log_grid(0.06, 0.6, 300);
  ASSERT_EQ(g.size(), 300u);
  EXPECT_DOUBLE_EQ(g.front(), 0.06);
  EXPECT_DOUBLE_EQ(g.back(), 0.6);
  for (std::size_t i = 1; i < g.size(); ++i) EXPECT_NEAR(std::log(g[i] / g[i - 1]), std::log(10.0) / 299, 1e-12);
  EXPECT_THROW(log_grid(0.0, 0.6, 10), petpipe::Error);
  EXPECT_THROW(log_grid(0.6, 0.06, 10), petpipe::Error);
}
