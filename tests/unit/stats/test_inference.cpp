// RFT (against an independent numpy/scipy transcription of SPM's formulas), smoothness recovery,
// connected components, TFCE against a brute-force definition, Freedman-Lane permutations.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "petpipe/stats/clusters.hpp"
#include "petpipe/stats/distributions.hpp"
#include "petpipe/stats/glm.hpp"
#include "petpipe/stats/permutation.hpp"
#include "petpipe/stats/rft.hpp"
#include "test_util_stats.hpp"

using namespace petpipe;
using namespace petpipe::stats;
using namespace petpipe::stats::test;

namespace {

// Separable Gaussian smoothing of a volume (zero outside), FWHM in voxels.
std::vector<double> smooth(const std::vector<double>& in, const Geometry& g, double fwhm) {
  const double s = fwhm / std::sqrt(8 * std::log(2.0));
  const int r = static_cast<int>(std::ceil(4 * s));
  std::vector<double> k(2 * r + 1);
  for (int i = -r; i <= r; ++i) k[static_cast<std::size_t>(i + r)] = std::exp(-0.5 * i * i / (s * s));
  std::vector<double> a = in, b(in.size());
  const long n[3] = {long(g.size[0]), long(g.size[1]), long(g.size[2])};
  const long stride[3] = {1, n[0], n[0] * n[1]};
  for (int ax = 0; ax < 3; ++ax) {
    for (long z = 0; z < n[2]; ++z)
      for (long y = 0; y < n[1]; ++y)
        for (long x = 0; x < n[0]; ++x) {
          const long c[3] = {x, y, z};
          double acc = 0;
          for (int o = -r; o <= r; ++o) {
            const long p = c[ax] + o;
            if (p < 0 || p >= n[ax]) continue;
            acc += k[static_cast<std::size_t>(o + r)] * a[static_cast<std::size_t>(x + y * n[0] + z * n[0] * n[1] + o * stride[ax])];
          }
          b[static_cast<std::size_t>(x + y * n[0] + z * n[0] * n[1])] = acc;
        }
    a.swap(b);
  }
  return a;
}

Geometry grid(std::size_t nx, std::size_t ny, std::size_t nz, double sp = 2.0) {
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacing = {sp, sp, sp};
  return g;
}

}  // namespace

TEST(Rft, MatchesSpmFormulasTranscribedInNumpy) {
  const std::array<double, 4> R = {3.0, 42.5, 610.2, 1830.7};
  struct Case { int c; double k, u; Field f; double df1, df2; };
  const std::vector<Case> cases = {{1, 0, 4.5, Field::T, 1, 35},   {1, 0, 5.2, Field::T, 1, 20},
                                   {1, 0, 3.9, Field::Z, 1, 0},    {1, 12.0, 3.34, Field::T, 1, 35},
                                   {1, 2.5, 3.1, Field::Z, 1, 0},  {2, 4.0, 3.0, Field::T, 1, 18},
                                   {1, 0, 12.0, Field::F, 2, 36},  {3, 0.7, 3.5, Field::T, 1, 60}};
  std::ostringstream py;
  py << "import numpy as np\nfrom scipy import stats\nfrom scipy.special import gammaln, gamma\n"
     << "def ec(S, t, df):\n"
     << "  a = 4*np.log(2)\n"
     << "  if S == 'Z':\n    b = np.exp(-t**2/2)\n    return [stats.norm.sf(t), a**0.5/(2*np.pi)*b, a/(2*np.pi)**1.5*b*t, a**1.5/(2*np.pi)**2*b*(t**2-1)]\n"
     << "  if S == 'T':\n    v = df[1]; b = np.exp(gammaln((v+1)/2)-gammaln(v/2)); c = (1+t**2/v)**((1-v)/2)\n"
     << "    return [stats.t.sf(t,v), a**0.5/(2*np.pi)*c, a/(2*np.pi)**1.5*c*t/np.sqrt(v/2)*b, a**1.5/(2*np.pi)**2*c*((v-1)*t**2/v-1)]\n"
     << "  k, v = df; a = a/(2*np.pi); b = gammaln(v/2)+gammaln(k/2); x = k*t/v\n"
     << "  return [stats.f.sf(t,k,v), a**0.5*np.exp(gammaln((v+k-1)/2)-b)*2**0.5*x**((k-1)/2)*(1+x)**(-(v+k-2)/2),\n"
     << "          a*np.exp(gammaln((v+k-2)/2)-b)*x**((k-2)/2)*(1+x)**(-(v+k-2)/2)*((v-1)*x-(k-1)),\n"
     << "          a**1.5*np.exp(gammaln((v+k-3)/2)-b)*2**-0.5*x**((k-3)/2)*(1+x)**(-(v+k-2)/2)*((v-1)*(v-2)*x**2-(2*v*k-v-k-1)*x+(k-1)*(k-2))]\n"
     << "def P_RF(c, k, z, df, S, R):\n"
     << "  R = np.array(R, float); D = len(R)\n"
     << "  G = np.sqrt(np.pi)/gamma(np.arange(1, D+1)/2)\n"
     << "  E = np.maximum(np.array(ec(S, z, df))[:D], np.finfo(float).eps)\n"
     << "  P = E*G\n  EM = (R/G)*P\n  Ec = EM.sum()\n  EN = P[0]*R[D-1]\n  Ek = EN/EM[D-1]\n"
     << "  D = D-1\n  p = 1.0 if (k == 0 or D == 0) else np.exp(-(gamma(D/2+1)/Ek)**(2/D)*k**(2/D))\n"
     << "  P = stats.poisson.sf(c-1, (Ec+np.finfo(float).eps)*p)  # SPM: 1 - spm_Pcdf (same value without cancellation)\n  return P, p, Ec, Ek\n"
     << "R = [" << R[0] << "," << R[1] << "," << R[2] << "," << R[3] << "]\n";
  for (const auto& c : cases) {
    const char* s = c.f == Field::T ? "T" : c.f == Field::Z ? "Z" : "F";
    py << "print(*[repr(float(x)) for x in P_RF(" << c.c << "," << c.k << "," << c.u << ",(" << c.df1 << "," << c.df2
       << "),'" << s << "',R)])\n";
    py << "print(*[repr(float(x)) for x in ec('" << s << "'," << c.u << ",(" << c.df1 << "," << c.df2 << "))])\n";
  }
  const auto dir = temp_dir("rft");
  const std::string out = run_python(dir, py.str());
  const auto v = numbers(out);
  ASSERT_EQ(v.size(), cases.size() * 8) << out;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const RftP r = rft_p(c.c, c.k, c.u, c.f, c.df1, c.df2, R);
    const auto e = ec_density(c.f, c.u, c.df1, c.df2);
    EXPECT_LT(rel_diff(r.P, v[8 * i]), 1e-9) << "case " << i;
    EXPECT_LT(rel_diff(r.p, v[8 * i + 1]), 1e-9) << "case " << i;
    EXPECT_LT(rel_diff(r.Ec, v[8 * i + 2]), 1e-9) << "case " << i;
    EXPECT_LT(rel_diff(r.Ek, v[8 * i + 3]), 1e-9) << "case " << i;
    for (int d = 0; d < 4; ++d) EXPECT_LT(rel_diff(e[static_cast<std::size_t>(d)], v[8 * i + 4 + static_cast<std::size_t>(d)]), 1e-9);
  }
}

TEST(Rft, ReselCountsOfABox) {
  Mask m(grid(20, 20, 20), 0);
  for (std::size_t k = 3; k < 13; ++k)
    for (std::size_t j = 2; j < 10; ++j)
      for (std::size_t i = 5; i < 17; ++i) m.at(i, j, k) = 1;
  const Vec3 f = {2.0, 4.0, 5.0};
  const auto R = resel_counts(m, f);
  const double a = 11, b = 7, c = 9;  // edges along each axis of a 12 x 8 x 10 box
  EXPECT_NEAR(R[0], 1.0, 1e-12);
  EXPECT_NEAR(R[1], a / 2 + b / 4 + c / 5, 1e-12);
  EXPECT_NEAR(R[2], a * b / 8 + a * c / 10 + b * c / 20, 1e-12);
  EXPECT_NEAR(R[3], a * b * c / 40, 1e-12);
}

TEST(Rft, SmoothnessOfSmoothedNoiseMatchesLatticePrediction) {
  const Geometry g = grid(36, 36, 36, 2.0);
  const int n = 40;
  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  // Interior mask (away from the zero-padded edges of the smoothing).
  Mask mask(g, 0);
  for (std::size_t k = 6; k < 30; ++k)
    for (std::size_t j = 6; j < 30; ++j)
      for (std::size_t i = 6; i < 30; ++i) mask.at(i, j, k) = 1;
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < g.voxel_count(); ++i)
    if (mask.data[i]) idx.push_back(i);
  for (const double fwhm : {3.0, 5.0}) {
    MatrixXfRM Y(n, static_cast<Eigen::Index>(idx.size()));
    for (int s = 0; s < n; ++s) {
      std::vector<double> w(g.voxel_count());
      for (double& x : w) x = nd(rng);
      const auto sm = smooth(w, g, fwhm);
      for (std::size_t v = 0; v < idx.size(); ++v) Y(s, static_cast<Eigen::Index>(v)) = static_cast<float>(sm[idx[v]] + (s % 2) * 5.0);
    }
    Eigen::MatrixXd X(n, 2);
    for (int s = 0; s < n; ++s) {
      X(s, 0) = 1;
      X(s, 1) = s % 2;
    }
    GlmOptions o;
    o.keep_residuals = true;
    const auto r = fit_glm(Y, X, {}, o);
    const auto smth = estimate_smoothness(r.residuals, mask, r.df);
    // First differences on the lattice measure 2 (1 - rho1) instead of the continuum derivative variance
    // 1 / (2 s^2), with rho1 the lag-1 autocorrelation of the field (for the sampled kernel k used by
    // smooth(): sum k_i k_{i+1} / sum k_i^2, about exp(-1 / (4 s^2))), so the estimator converges to
    // sqrt(4 ln 2 / (2 (1 - rho1))): +3.9 % at FWHM 3 voxels, +1.4 % at 5 voxels (as SPM).
    const double s = fwhm / std::sqrt(8 * std::log(2.0));
    const int kr = static_cast<int>(std::ceil(4 * s));
    double k0 = 0, k1 = 0;
    for (int i = -kr; i <= kr; ++i) {
      const double a = std::exp(-0.5 * i * i / (s * s));
      k0 += a * a;
      if (i < kr) k1 += a * std::exp(-0.5 * (i + 1) * (i + 1) / (s * s));
    }
    const double lattice = std::sqrt(4 * std::log(2.0) / (2 * (1 - k1 / k0)));
    const double mean = (smth.fwhm_voxels[0] + smth.fwhm_voxels[1] + smth.fwhm_voxels[2]) / 3;
    EXPECT_NEAR(mean / lattice, 1.0, 0.015) << "fwhm " << fwhm << " mean estimate " << mean << " lattice " << lattice;
    for (int ax = 0; ax < 3; ++ax) {
      EXPECT_NEAR(smth.fwhm_voxels[ax] / fwhm, 1.0, 0.10) << "fwhm " << fwhm << " axis " << ax;
      EXPECT_NEAR(smth.fwhm_voxels[ax] / lattice, 1.0, 0.025)
          << "fwhm " << fwhm << " axis " << ax << " estimate " << smth.fwhm_voxels[ax] << " lattice " << lattice;
      EXPECT_NEAR(smth.fwhm_mm[ax], 2.0 * smth.fwhm_voxels[ax], 1e-12);
    }
    EXPECT_GT(smth.resels[3], 0);
  }
}

TEST(Clusters, LabelsDependOnConnectivity) {
  const Geometry g = grid(6, 6, 6);
  std::vector<std::uint8_t> in(g.voxel_count(), 0);
  in[g.linear_index(1, 1, 1)] = 1;
  in[g.linear_index(2, 2, 1)] = 1;  // edge neighbour
  in[g.linear_index(3, 3, 2)] = 1;  // corner neighbour of the previous
  in[g.linear_index(5, 5, 5)] = 1;
  EXPECT_EQ(label_components(in, g, Connectivity::c6).sizes.size(), 4u);
  EXPECT_EQ(label_components(in, g, Connectivity::c18).sizes.size(), 3u);
  EXPECT_EQ(label_components(in, g, Connectivity::c26).sizes.size(), 2u);
}

TEST(Clusters, TfceEqualsBruteForceDefinition) {
  const Geometry g = grid(14, 12, 10);
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  std::vector<double> w(g.voxel_count());
  for (double& x : w) x = nd(rng);
  auto s = smooth(w, g, 2.5);
  for (double& x : s) x *= 3.0;
  Mask mask(g, 1);
  mask.data[5] = 0;
  for (const auto conn : {Connectivity::c6, Connectivity::c26}) {
    TfceOptions o;
    o.connectivity = conn;
    o.dh = 0.05;
    const MaskGraph mg = mask_graph(mask, conn);
    std::vector<double> stat(mg.voxels.size());
    for (std::size_t v = 0; v < stat.size(); ++v) stat[v] = s[mg.voxels[v]];
    const auto fast = tfce(stat, mg, o);
    // Brute force: for each level, label the supra-threshold set and add extent^E h^H dh.
    std::vector<double> slow(stat.size(), 0.0);
    double mx = *std::max_element(stat.begin(), stat.end());
    for (int k = 1; k * o.dh <= mx; ++k) {
      const double h = k * o.dh;
      std::vector<std::uint8_t> in(g.voxel_count(), 0);
      for (std::size_t v = 0; v < stat.size(); ++v) in[mg.voxels[v]] = stat[v] >= h;
      const auto lab = label_components(in, g, conn);
      for (std::size_t v = 0; v < stat.size(); ++v) {
        const int l = lab.label[mg.voxels[v]];
        if (l) slow[v] += std::pow(double(lab.sizes[static_cast<std::size_t>(l - 1)]), o.E) * std::pow(h, o.H) * o.dh;
      }
    }
    double worst = 0;
    for (std::size_t v = 0; v < stat.size(); ++v) worst = std::max(worst, std::fabs(fast[v] - slow[v]) / (1 + slow[v]));
    EXPECT_LT(worst, 1e-9);
    EXPECT_GT(*std::max_element(fast.begin(), fast.end()), 0.0);
  }
}

TEST(Permutation, FreedmanLaneEqualsRefitOfPermutedData) {
  const Geometry g = grid(8, 8, 6);
  Mask mask(g, 1);
  const MaskGraph mg = mask_graph(mask, Connectivity::c26);
  const int n = 21;
  const Eigen::Index V = static_cast<Eigen::Index>(mg.voxels.size());
  std::mt19937 rng(9);
  std::normal_distribution<double> nd;
  Eigen::MatrixXd X(n, 3);
  for (int i = 0; i < n; ++i) {
    X(i, 0) = 1;
    X(i, 1) = i % 2;
    X(i, 2) = nd(rng);
  }
  MatrixXfRM Y(n, V);
  for (int i = 0; i < n; ++i)
    for (Eigen::Index v = 0; v < V; ++v) Y(i, v) = static_cast<float>(1 + 0.5 * X(i, 2) + nd(rng) + (v < 40 ? X(i, 1) : 0.0));
  Contrast c;
  c.name = "g";
  c.C = Eigen::RowVectorXd::Unit(3, 1);
  PermutationOptions o;
  o.permutations = 40;
  o.seed = 17;
  o.tfce = true;
  const auto r = permutation_test(Y, X, c, mg, o);
  const auto glm = fit_glm(Y, X, {c});
  for (Eigen::Index v = 0; v < V; ++v)
    EXPECT_NEAR(r.stat[static_cast<std::size_t>(v)], glm.contrasts[0].stat[static_cast<std::size_t>(v)], 1e-4);
  // Permutations by hand (1, 7 and 39 fall in different batches of the implementation):
  // Y* = P (I - Hz) Y + Hz Y with Z = [1, x2]; the maximum t and TFCE of the refit are max_null[k] and
  // tfce_max_null[k].
  const auto perms = make_permutations(n, o.permutations, o.seed);
  EXPECT_EQ(perms, make_permutations(n, o.permutations, o.seed));
  const Eigen::MatrixXd Yd = Y.cast<double>();
  auto refit_max = [&](const Eigen::MatrixXd& Z, const Contrast& con, std::size_t k, double& max_tfce) {
    const Eigen::MatrixXd Hz = Z * (Z.transpose() * Z).inverse() * Z.transpose();
    const Eigen::MatrixXd Rz = Yd - Hz * Yd;
    Eigen::MatrixXd Ys(n, V);
    for (int i = 0; i < n; ++i) Ys.row(i) = Rz.row(perms[k][static_cast<std::size_t>(i)]);
    Ys += Hz * Yd;
    const auto refit = fit_glm(Ys, X, {con});
    std::vector<double> st = refit.contrasts[0].stat;
    const auto tf = tfce(st, mg, o.tfce_options);
    max_tfce = *std::max_element(tf.begin(), tf.end());
    return *std::max_element(st.begin(), st.end());
  };
  const Eigen::MatrixXd Z = X(Eigen::all, std::vector<int>{0, 2});
  for (const std::size_t k : {std::size_t{1}, std::size_t{7}, std::size_t{39}}) {
    double mt = 0;
    const double mx = refit_max(Z, c, k, mt);
    EXPECT_NEAR(r.max_null[k], mx, 1e-4 * std::fabs(mx)) << "permutation " << k;
    EXPECT_NEAR(r.tfce_max_null[k], mt, 1e-3 * mt) << "permutation " << k;
  }
  // F contrast of columns 1 and 2 (reduced model: the intercept alone).
  Contrast f;
  f.name = "F";
  f.C = Eigen::MatrixXd::Zero(2, 3);
  f.C(0, 1) = 1;
  f.C(1, 2) = 1;
  const auto rf = permutation_test(Y, X, f, mg, o);
  const auto glmf = fit_glm(Y, X, {f});
  for (Eigen::Index v = 0; v < V; ++v)
    EXPECT_NEAR(rf.stat[static_cast<std::size_t>(v)], glmf.contrasts[0].stat[static_cast<std::size_t>(v)],
                1e-4 * (1 + glmf.contrasts[0].stat[static_cast<std::size_t>(v)]));
  for (const std::size_t k : {std::size_t{3}, std::size_t{20}}) {
    double mt = 0;
    const double mx = refit_max(X.leftCols(1), f, k, mt);
    EXPECT_NEAR(rf.max_null[k], mx, 1e-4 * std::fabs(mx)) << "F permutation " << k;
    EXPECT_NEAR(rf.tfce_max_null[k], mt, 1e-3 * mt) << "F permutation " << k;
  }
  // p values: valid range, the planted effect is found, TFCE computed for the observed map.
  for (double p : r.p_fwe) {
    EXPECT_GE(p, 1.0 / 40 - 1e-12);
    EXPECT_LE(p, 1.0);
  }
  EXPECT_EQ(r.tfce.size(), static_cast<std::size_t>(V));
  EXPECT_LT(*std::min_element(r.tfce_p_fwe.begin(), r.tfce_p_fwe.end()), 0.1);
}

TEST(Permutation, FamilywisePValuesAreUniformUnderTheNull) {
  // Under H0 the rank of the observed maximum among P permutation maxima (identity included) is uniform, so
  // min_v p_fwe(v) takes the values k/P with probability 1/P each: mean (P + 1) / (2 P), and
  // P(min p <= 0.05) = 0.05 for P = 20. 1500 small null data sets with a covariate (Freedman-Lane).
  const Geometry g = grid(4, 4, 3);
  Mask mask(g, 1);
  const MaskGraph mg = mask_graph(mask, Connectivity::c26);
  const int n = 12, R = 1500;
  const std::size_t P = 20;
  std::mt19937 rng(21);
  std::normal_distribution<double> nd;
  Eigen::MatrixXd X(n, 3);
  for (int i = 0; i < n; ++i) {
    X(i, 0) = 1;
    X(i, 1) = i < 5;
    X(i, 2) = nd(rng);
  }
  Contrast c;
  c.name = "g";
  c.C = Eigen::RowVector3d(0, 1, 0);
  double sum = 0, sum_tfce = 0;
  int hits = 0;
  for (int rep = 0; rep < R; ++rep) {
    MatrixXfRM Y(n, static_cast<Eigen::Index>(mg.voxels.size()));
    for (int i = 0; i < n; ++i)
      for (Eigen::Index v = 0; v < Y.cols(); ++v) Y(i, v) = static_cast<float>(0.7 * X(i, 2) + nd(rng));
    PermutationOptions o;
    o.permutations = P;
    o.seed = static_cast<std::uint64_t>(rep);
    o.tfce = true;
    const auto r = permutation_test(Y, X, c, mg, o);
    const double mp = *std::min_element(r.p_fwe.begin(), r.p_fwe.end());
    sum += mp;
    hits += mp <= 0.05;
    sum_tfce += *std::min_element(r.tfce_p_fwe.begin(), r.tfce_p_fwe.end());
  }
  const double expect = (P + 1.0) / (2.0 * P), se = std::sqrt((P * P - 1.0) / 12.0) / P / std::sqrt(double(R));
  EXPECT_NEAR(sum / R, expect, 4 * se);
  EXPECT_NEAR(hits / double(R), 0.05, 4 * std::sqrt(0.05 * 0.95 / R));
  // TFCE maxima tie more often (all-negative maps give 0), which only makes its p values larger.
  EXPECT_GT(sum_tfce / R, expect - 4 * se);
}
