// Voxelwise SRTM basis-function method against analytic truth and an independent per-voxel solver.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "analytic.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/srtm_bfm.hpp"

using namespace petpipe;
using namespace petpipe::kinetics;

namespace {

struct Truth {
  std::vector<double> r1, k2, bp;
};

// A small image whose voxels carry noiseless analytic SRTM TACs over a parameter grid; voxel 0 is the
// reference region (R1 1, BP 0).
DynamicImage make_image(const FrameTable& ft, Truth& truth, const ktest::RefCurve& rc,
                        bool uncorrected = false) {
  DynamicImage im;
  im.frames = ft;
  im.geom.size = {6, 6, 4};
  im.geom.spacing = {4, 4, 4};
  const std::size_t nv = im.geom.voxel_count(), nf = ft.size();
  im.data.assign(nv * nf, 0.0f);
  const double bps[] = {0.2, 0.5, 1.0, 2.0, 3.0, 5.0};
  const double r1s[] = {0.7, 1.0, 1.3};
  const double k2s[] = {0.08, 0.15, 0.3, 0.5};
  std::size_t v = 0;
  const double lambda = ft.decay_constant_per_s() * 60.0;
  for (double bp : bps)
    for (double r1 : r1s)
      for (double k2 : k2s) {
        if (v >= nv) break;
        truth.r1.push_back(r1);
        truth.k2.push_back(k2);
        truth.bp.push_back(bp);
        for (std::size_t f = 0; f < nf; ++f) {
          const double t0 = ft.start_s[f] / 60, t1 = ft.end_s(f) / 60;
          double val = ktest::average([&](double t) { return rc.srtm(t, r1, k2, bp); }, t0, t1);
          if (uncorrected)
            val = ktest::average([&](double t) { return rc.srtm(t, r1, k2, bp) * std::exp(-lambda * t); }, t0, t1);
          im.frame(f)[v] = static_cast<float>(val);
        }
        ++v;
      }
  return im;
}

std::vector<double> ref_frames(const FrameTable& ft, const ktest::RefCurve& rc, bool uncorrected = false) {
  const double lambda = ft.decay_constant_per_s() * 60.0;
  if (!uncorrected) return ktest::frame_averages(ft, rc);
  return ktest::frame_averages(ft, [&](double t) { return rc(t) * std::exp(-lambda * t); });
}

Mask first_n(const Geometry& g, std::size_t n) {
  Mask m(g, 0);
  for (std::size_t i = 0; i < n; ++i) m.data[i] = 1;
  return m;
}

}  // namespace

TEST(Bfm, NoiselessRecoversTruth) {
  // Carfentanil preset grid as petpipe srtm uses it: theta3 0.06-0.6 /min including lambda (C-11), 300
  // bases; decay-corrected data, so the exponents are theta3 - lambda.
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  const auto im = make_image(ft, truth, rc);
  const auto ref = ref_frames(ft, rc);
  const double lambda = ft.decay_constant_per_s() * 60.0;
  BfmOptions o;
  o.theta3 = log_grid(0.06, 0.6, 300);
  for (double& x : o.theta3) x -= lambda;
  const auto mask = first_n(im.geom, truth.bp.size());
  for (bool refine : {true, false}) {
    o.subgrid_refinement = refine;
    const auto r = srtm_bfm(im, ref, mask, o);
    EXPECT_EQ(r.fitted_voxels, truth.bp.size());
    double worst_bp = 0, worst_r1 = 0, worst_k2 = 0;
    int inside = 0;
    for (std::size_t v = 0; v < truth.bp.size(); ++v) {
      const double k2a = truth.k2[v] / (1 + truth.bp[v]);
      const bool in_grid = k2a > o.theta3.front() * 1.01 && k2a < o.theta3.back() * 0.99;
      if (in_grid) {
        EXPECT_EQ(r.grid_edge.data[v], 0) << v;
      }
      if (k2a < o.theta3.front() * 0.97) {
        EXPECT_EQ(r.grid_edge.data[v], 1) << v;
      }
      if (!in_grid) continue;
      ++inside;
      worst_bp = std::max(worst_bp, std::abs(r.bpnd.data[v] / truth.bp[v] - 1));
      worst_r1 = std::max(worst_r1, std::abs(r.r1.data[v] / truth.r1[v] - 1));
      worst_k2 = std::max(worst_k2, std::abs(r.k2.data[v] / truth.k2[v] - 1));
    }
    std::printf("noiseless BFM (%s), carfentanil frames, %d voxels with k2a inside the grid: worst relative "
                "error BPND %.4g, R1 %.4g, k2 %.4g\n",
                refine ? "sub-grid refinement" : "classic grid", inside, worst_bp, worst_r1, worst_k2);
    EXPECT_GT(inside, 50);
    if (refine) {
      EXPECT_LT(worst_bp, 0.005);
      EXPECT_LT(worst_r1, 0.01);
      EXPECT_LT(worst_k2, 0.01);
    }
    // Outside the mask: 0, not fitted.
    const std::size_t out = truth.bp.size();
    EXPECT_EQ(r.bpnd.data[out], 0.0f);
    EXPECT_EQ(r.fitted.data[out], 0);
  }
}

TEST(Bfm, MatchesIndependentPerVoxelWeightedLeastSquares) {
  // Noisy data, counts weights: the chosen basis and theta must equal an exhaustive per-voxel QR solve.
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  auto im = make_image(ft, truth, rc);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto& x : im.data) x = static_cast<float>(x * (1.0 + 0.05 * nd(rng)));
  const auto ref = ref_frames(ft, rc);
  BfmOptions o;
  o.theta3 = log_grid(0.01, 0.8, 120);
  o.weights = frame_weights(WeightScheme::counts, ft, ref);
  o.subgrid_refinement = false;  // the classic BFM: best grid basis
  const auto mask = first_n(im.geom, truth.bp.size());
  const auto r = srtm_bfm(im, ref, mask, o);
  const auto b = srtm_basis(ft, ref, o.theta3);
  const std::size_t nf = ft.size(), nb = o.theta3.size();
  int agree = 0;
  for (std::size_t v = 0; v < truth.bp.size(); ++v) {
    double best = std::numeric_limits<double>::infinity();
    std::size_t bi = 0;
    Eigen::Vector2d bt;
    for (std::size_t i = 0; i < nb; ++i) {
      Eigen::MatrixXd a(nf, 2);
      Eigen::VectorXd y(nf);
      for (std::size_t f = 0; f < nf; ++f) {
        const double s = std::sqrt(o.weights[f]);
        a(f, 0) = s * ref[f];
        a(f, 1) = s * b[f * nb + i];
        y(f) = s * im.frame(f)[v];
      }
      const Eigen::Vector2d th = a.householderQr().solve(y);
      const double rss = (y - a * th).squaredNorm();
      if (rss < best) {
        best = rss;
        bi = i;
        bt = th;
      }
    }
    if (static_cast<std::size_t>(r.theta3_index.data[v]) == bi) {
      ++agree;
      EXPECT_NEAR(r.r1.data[v], bt(0), 1e-5 * std::abs(bt(0)) + 1e-6);
      EXPECT_NEAR(r.rss.data[v], best, 1e-4 * best + 1e-9);
      const double k2 = bt(1) + bt(0) * o.theta3[bi];
      EXPECT_NEAR(r.bpnd.data[v], k2 / o.theta3[bi] - 1, 1e-4);
    } else {
      // Only a near-tie may differ.
      EXPECT_NEAR(r.rss.data[v], best, 1e-6 * best) << v;
    }
  }
  EXPECT_GE(agree, static_cast<int>(truth.bp.size()) - 1);
}

TEST(Bfm, DecayUncorrectedDataWithShiftedGridGivesSameBpnd) {
  // Fit decay-corrected data with grid G (lambda 0) and the same data without decay correction with
  // grid G + lambda (lambda given): BPND agrees.
  auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  const auto imc = make_image(ft, truth, rc, false);
  auto ftu = ft;
  ftu.decay_corrected = false;
  Truth t2;
  const auto imu = make_image(ftu, t2, rc, true);
  const double lambda = ft.decay_constant_per_s() * 60.0;
  BfmOptions oc, ou;
  oc.theta3 = log_grid(0.01, 1.0, 300);
  ou.theta3 = oc.theta3;
  for (double& x : ou.theta3) x += lambda;
  ou.decay_constant_per_min = lambda;
  const auto mask = first_n(imc.geom, truth.bp.size());
  const auto rc_ = srtm_bfm(imc, ref_frames(ft, rc), mask, oc);
  const auto ru = srtm_bfm(imu, ref_frames(ftu, rc, true), mask, ou);
  for (std::size_t v = 0; v < truth.bp.size(); ++v) {
    if (rc_.grid_edge.data[v]) continue;
    EXPECT_NEAR(ru.bpnd.data[v], rc_.bpnd.data[v], 0.005 * truth.bp[v]) << v;
    EXPECT_NEAR(ru.bpnd.data[v], truth.bp[v], 0.005 * truth.bp[v]) << v;
    EXPECT_NEAR(ru.k2a.data[v], rc_.k2a.data[v], 0.01 * rc_.k2a.data[v]) << v;
  }
}

TEST(Bfm, VoxelPolicies) {
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  auto im = make_image(ft, truth, rc);
  const std::size_t n = truth.bp.size();
  const auto ref = ref_frames(ft, rc);
  // voxel n: NaN in one frame; voxel n+1: all zero; voxel n+2: reference curve scaled (BP 0, R1 0.5)
  // plus noise-free "negative binding" (R1 0.5 C_R only -> BPND -0.5 at any grid point? no: use a
  // curve with faster washout than the reference).
  im.frame(3)[n] = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t f = 0; f < ft.size(); ++f) {
    im.frame(f)[n + 1] = 0.0f;
    im.frame(f)[n + 2] = static_cast<float>(
        ktest::average([&](double t) { return rc.srtm(t, 1.0, 0.1, -0.3); }, ft.start_s[f] / 60, ft.end_s(f) / 60));
  }
  BfmOptions o;
  o.theta3 = log_grid(0.02, 0.3, 50);  // narrow: high-BP voxels with slow k2a end on the lower edge
  const auto r = srtm_bfm(im, ref, first_n(im.geom, n + 3), o);
  EXPECT_TRUE(std::isnan(r.bpnd.data[n]));
  EXPECT_TRUE(std::isnan(r.r1.data[n]));
  EXPECT_TRUE(std::isnan(r.bpnd.data[n + 1]));
  EXPECT_EQ(r.skipped_nonfinite, 1u);
  EXPECT_EQ(r.skipped_zero, 1u);
  EXPECT_LT(r.bpnd.data[n + 2], 0.0f);  // kept, not clipped
  EXPECT_GE(r.negative_bpnd, 1u);
  std::size_t edge = 0;
  for (std::size_t v = 0; v < n + 3; ++v) {
    if (!r.fitted.data[v]) continue;
    const int idx = static_cast<int>(r.theta3_index.data[v]);
    const bool on_edge = idx == 0 || idx == 49;
    EXPECT_EQ(r.grid_edge.data[v], on_edge ? 1 : 0);
    edge += on_edge;
    if (truth.k2.size() > v && truth.k2[v] / (1 + truth.bp[v]) < 0.018) {
      EXPECT_TRUE(on_edge) << v;
    }
  }
  EXPECT_GT(edge, 0u);
  EXPECT_EQ(edge, r.grid_edge_voxels);
}

TEST(Bfm, SameMapsForAnyThreadCountAndBlockSize) {
  // Noisy TACs, several blocks (including a partial one): every map is bit-identical whether the
  // blocks run on 1, 2 or 3 threads and whatever the block size.
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  auto im = make_image(ft, truth, rc);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (float& x : im.data) x *= 1.0f + noise(rng);
  const auto ref = ref_frames(ft, rc);
  BfmOptions o;
  o.theta3 = log_grid(0.06, 0.6, 37);
  for (double& x : o.theta3) x -= ft.decay_constant_per_s() * 60.0;
  const auto mask = first_n(im.geom, truth.bp.size());
  auto maps = [&](unsigned threads, std::size_t block) {
    set_thread_count(threads);
    o.block_voxels = block;
    const auto r = srtm_bfm(im, ref, mask, o);
    std::vector<float> all;
    for (const Image3D* m : {&r.bpnd, &r.r1, &r.k2, &r.k2a, &r.rss, &r.theta3_index})
      all.insert(all.end(), m->data.begin(), m->data.end());
    return all;
  };
  const auto one = maps(1, 16);
  for (auto [threads, block] : {std::pair<unsigned, std::size_t>{2, 16}, {3, 16}, {2, 23}, {1, 256}}) {
    const auto other = maps(threads, block);
    ASSERT_EQ(other.size(), one.size());
    EXPECT_EQ(std::memcmp(other.data(), one.data(), one.size() * sizeof(float)), 0) << threads << " threads, block " << block;
  }
  set_thread_count(0);
}

TEST(Bfm, RejectsBadInput) {
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  const auto im = make_image(ft, truth, rc);
  auto ref = ref_frames(ft, rc);
  BfmOptions o;
  o.theta3 = log_grid(0.02, 0.6, 20);
  const auto mask = first_n(im.geom, 4);
  auto short_ref = ref;
  short_ref.pop_back();
  EXPECT_THROW(srtm_bfm(im, short_ref, mask, o), petpipe::Error);
  std::vector<double> zeros(ref.size(), 0.0);
  EXPECT_THROW(srtm_bfm(im, zeros, mask, o), petpipe::Error);
  Mask other = mask;
  other.geom.spacing = {2, 2, 2};
  EXPECT_THROW(srtm_bfm(im, ref, other, o), petpipe::Error);
  auto bad = o;
  bad.weights = {1.0, 2.0};
  EXPECT_THROW(srtm_bfm(im, ref, mask, bad), petpipe::Error);
  bad = o;
  bad.decay_constant_per_min = 0.05;  // above theta3 min
  EXPECT_THROW(srtm_bfm(im, ref, mask, bad), petpipe::Error);
}

TEST(Reference, TacAndErrors) {
  const auto ft = ktest::carfentanil_frames();
  ktest::RefCurve rc;
  Truth truth;
  auto im = make_image(ft, truth, rc);
  Mask m(im.geom, 0);
  m.data[0] = m.data[1] = m.data[2] = 1;
  const auto t = region_tac(im, m);
  EXPECT_EQ(t.voxels, 3u);
  for (std::size_t f = 0; f < ft.size(); ++f)
    EXPECT_NEAR(t.values[f], (double(im.frame(f)[0]) + im.frame(f)[1] + im.frame(f)[2]) / 3, 1e-6 * t.values[f]);
  im.frame(2)[1] = std::numeric_limits<float>::quiet_NaN();
  const auto t2 = region_tac(im, m);
  EXPECT_EQ(t2.voxels, 2u);
  EXPECT_EQ(t2.skipped_nonfinite, 1u);
  Mask empty(im.geom, 0);
  EXPECT_THROW(region_tac(im, empty), petpipe::Error);
  Mask other(im.geom, 1);
  other.geom.origin = {100, 0, 0};
  EXPECT_THROW(region_tac(im, other), petpipe::Error);
  Mask nanmask(im.geom, 0);
  nanmask.data[1] = 1;
  EXPECT_THROW(region_tac(im, nanmask), petpipe::Error);
  const auto fm = FrameTimes::from(ft);
  EXPECT_NO_THROW(check_reference_tac(t.values, fm));
  auto z = t.values;
  z.back() = 0.0;
  EXPECT_THROW(check_reference_tac(z, fm), petpipe::Error);
  EXPECT_THROW(check_reference_tac(std::vector<double>(ft.size(), 0.0), fm), petpipe::Error);
  z = t.values;
  z.pop_back();
  EXPECT_THROW(check_reference_tac(z, fm), petpipe::Error);
}

TEST(Reference, BrainMaskThreshold) {
  DynamicImage im;
  im.geom.size = {10, 1, 1};
  im.frames.start_s = {0, 60};
  im.frames.duration_s = {60, 180};
  im.data.assign(20, 0.0f);
  // mean = (60 a + 180 b)/240
  for (int v = 0; v < 10; ++v) {
    im.frame(0)[v] = static_cast<float>(v);
    im.frame(1)[v] = static_cast<float>(v);
  }
  im.frame(1)[9] = std::numeric_limits<float>::quiet_NaN();
  BrainMaskOptions o;
  o.threshold_fraction = 0.5;
  o.robust_percentile = 1.0;  // max of finite positives = 8
  const auto m = brain_mask(im, o);
  for (int v = 0; v < 10; ++v) EXPECT_EQ(m.data[v], (v >= 4 && v <= 8) ? 1 : 0) << v;
}

TEST(Reference, FrameWeights) {
  const auto ft = ktest::carfentanil_frames();
  const auto u = frame_weights(WeightScheme::uniform, ft);
  for (double x : u) EXPECT_DOUBLE_EQ(x, 1.0);
  const auto d = frame_weights(WeightScheme::duration, ft);
  EXPECT_NEAR(d[3] / d[0], 3.0, 1e-12);
  std::vector<double> tac(ft.size());
  for (std::size_t f = 0; f < ft.size(); ++f) tac[f] = 1.0 + f;
  const auto c = frame_weights(WeightScheme::counts, ft, tac);
  const double lambda = std::log(2.0) / ft.half_life_s;
  for (std::size_t f = 1; f < ft.size(); ++f) {
    auto df = [&](std::size_t g) {
      const double x = lambda * ft.duration_s[g];
      return std::exp(-lambda * ft.start_s[g]) * (1 - std::exp(-x)) / x;
    };
    const double expect = (ft.duration_s[f] * df(f) / tac[f]) / (ft.duration_s[0] * df(0) / tac[0]);
    EXPECT_NEAR(c[f] / c[0], expect, 1e-9 * expect);
  }
  // Uncorrected data: w = d / C.
  auto fu = ft;
  fu.decay_corrected = false;
  const auto cu = frame_weights(WeightScheme::counts, fu, tac);
  EXPECT_NEAR(cu[5] / cu[0], (ft.duration_s[5] / tac[5]) / (ft.duration_s[0] / tac[0]), 1e-12);
  EXPECT_THROW(parse_weight_scheme("magic"), petpipe::Error);
}
