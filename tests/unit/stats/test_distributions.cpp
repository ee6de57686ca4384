// Distribution functions against scipy (Debian's python3), to 1e-10 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "petpipe/stats/distributions.hpp"
#include "test_util_stats.hpp"

using namespace petpipe::stats;
using namespace petpipe::stats::test;

TEST(Distributions, TAndFAndNormalMatchScipy) {
  const std::vector<double> ts = {-6.5, -2.0, -0.3, 0.0, 0.7, 1.96, 2.82, 4.5, 9.0, 25.0};
  const std::vector<double> dfs = {1, 2.5, 5, 17, 35, 120, 2000};
  const std::vector<std::array<double, 3>> fs = {{0.2, 1, 10}, {1.5, 2, 36}, {4.0, 3, 35}, {12.0, 2, 5}, {30.0, 4, 100}, {0.9, 7, 3}};
  const std::vector<double> ps = {1e-12, 1e-6, 0.001, 0.025, 0.3, 0.5, 0.8};
  std::ostringstream py;
  py << "from scipy import stats\nimport numpy as np\n";
  py << "ts=[";
  for (double t : ts) py << t << ",";
  py << "]\ndfs=[";
  for (double d : dfs) py << d << ",";
  py << "]\nfor d in dfs:\n  for t in ts:\n    print(repr(stats.t.sf(t,d)), repr(stats.t.cdf(t,d)))\n";
  py << "for (f,a,b) in [";
  for (auto& f : fs) py << "(" << f[0] << "," << f[1] << "," << f[2] << "),";
  py << "]:\n  print(repr(stats.f.sf(f,a,b)), repr(stats.f.cdf(f,a,b)))\n";
  py << "for p in [";
  for (double p : ps) py << p << ",";
  py << "]:\n  print(repr(stats.norm.isf(p)), repr(stats.t.isf(p, 35)), repr(stats.t.isf(p, 3)))\n";
  py << "for x in [-8, -3, 0.5, 2, 6, 12]:\n  print(repr(stats.norm.sf(x)))\n";
  const auto dir = temp_dir("dist");
  const auto v = numbers(run_python(dir, py.str()));
  ASSERT_EQ(v.size(), dfs.size() * ts.size() * 2 + fs.size() * 2 + ps.size() * 3 + 6);
  std::size_t k = 0;
  for (double d : dfs)
    for (double t : ts) {
      EXPECT_LT(rel_diff(t_sf(t, d), v[k]), 1e-10) << "t_sf " << t << " df " << d;
      EXPECT_LT(rel_diff(t_cdf(t, d), v[k + 1]), 1e-10) << "t_cdf " << t << " df " << d;
      k += 2;
    }
  for (auto& f : fs) {
    EXPECT_LT(rel_diff(f_sf(f[0], f[1], f[2]), v[k]), 1e-10) << "f_sf " << f[0];
    EXPECT_LT(rel_diff(f_cdf(f[0], f[1], f[2]), v[k + 1]), 1e-10) << "f_cdf " << f[0];
    k += 2;
  }
  for (double p : ps) {
    // Quantiles: relative 1e-8 (absolute 1e-12 at the median, where scipy returns ~1e-16 for 0).
    EXPECT_NEAR(normal_isf(p), v[k], 1e-10 * std::fabs(v[k]) + 1e-12) << "norm isf " << p;
    EXPECT_NEAR(t_isf(p, 35), v[k + 1], 1e-8 * std::fabs(v[k + 1]) + 1e-12) << "t isf " << p;
    EXPECT_NEAR(t_isf(p, 3), v[k + 2], 1e-8 * std::fabs(v[k + 2]) + 1e-12) << "t isf df3 " << p;
    k += 3;
  }
  for (double x : {-8.0, -3.0, 0.5, 2.0, 6.0, 12.0}) EXPECT_LT(rel_diff(normal_sf(x), v[k++]), 1e-12);
  // Round trip and t -> Z.
  EXPECT_NEAR(t_to_z(2.82, 1e7), 2.82, 1e-5);
  EXPECT_NEAR(normal_sf(t_to_z(3.5, 20)), t_sf(3.5, 20), 1e-15);
}

TEST(Distributions, IncompleteBetaIdentities) {
  // I_x(a,1) = x^a, I_x(1,b) = 1-(1-x)^b, symmetry I_x(a,b) = 1 - I_{1-x}(b,a).
  for (double x : {0.01, 0.3, 0.77, 0.999}) {
    EXPECT_NEAR(incomplete_beta(2.5, 1, x), std::pow(x, 2.5), 1e-14);
    EXPECT_NEAR(incomplete_beta(1, 4.2, x), 1 - std::pow(1 - x, 4.2), 1e-14);
    EXPECT_NEAR(incomplete_beta(3.3, 7.1, x) + incomplete_beta(7.1, 3.3, 1 - x), 1.0, 1e-14);
    EXPECT_NEAR(incomplete_beta_complement(3.3, 7.1, x), 1 - incomplete_beta(3.3, 7.1, x), 1e-14);
  }
}

TEST(Distributions, NormalIsfAndStudentTailOverTheWholeRange) {
  // normal_isf (rational start + one Halley step) against scipy's norm.isf from 1e-300 to 1 - 1e-10,
  // including both sides of the switch between the central and tail approximations (p = 0.02425).
  const std::vector<double> ps = {1e-300, 1e-150, 1e-60, 1e-30, 1e-16, 3e-9,   1e-5, 0.001, 0.02,
                                  0.02424, 0.02426, 0.1,   0.3,   0.49,  0.4999, 0.5,  0.5001, 0.7,
                                  0.97,    0.99,    0.999999, 1 - 1e-10};
  std::ostringstream py;
  py.precision(17);
  py << "from scipy import stats\nfor p in [";
  for (double p : ps) py << p << ",";
  py << "]:\n  print(repr(stats.norm.isf(p)))\n";
  py << "for d in [3, 35, 36.5]:\n  for t in [0.0, 0.4, 1.7, 2.9, 6.0, 40.0]:\n    print(repr(stats.t.sf(t, d)))\n";
  const auto dir = temp_dir("isf");
  const auto v = numbers(run_python(dir, py.str()));
  ASSERT_EQ(v.size(), ps.size() + 18);
  std::size_t k = 0;
  for (double p : ps) {
    EXPECT_NEAR(normal_isf(p), v[k], 1e-13 * std::fabs(v[k]) + 1e-15) << "norm isf " << p;
    // the round trip holds to round-off: one ulp of z changes sf(z) by about z^2 ulps (relative)
    const double z = normal_isf(p);
    if (p < 0.5) {
      EXPECT_LT(rel_diff(normal_sf(z), p), 1e-15 * (2 + z * z)) << "round trip " << p;
    }
    ++k;
  }
  for (double d : {3.0, 35.0, 36.5}) {
    const StudentTail tail(d);
    for (double t : {0.0, 0.4, 1.7, 2.9, 6.0, 40.0}) {
      EXPECT_LT(rel_diff(tail(t), v[k]), 1e-10) << "StudentTail " << t << " df " << d;
      EXPECT_EQ(tail(-t), tail(t));
      EXPECT_LT(rel_diff(tail(t), t_sf(t, d)), 1e-15);
      ++k;
    }
  }
}

TEST(Distributions, StudentizedRangeMatchesScipy) {
  const std::vector<std::array<double, 3>> cases = {
      {3.5, 3, 36}, {1.2, 3, 36}, {4.8, 3, 10}, {2.9, 2, 20}, {6.0, 4, 60}, {3.0, 3, 5}, {0.5, 5, 30}};
  std::ostringstream py;
  py << "from scipy import stats\n";
  for (auto& c : cases)
    py << "print(repr(stats.studentized_range.sf(" << c[0] << "," << c[1] << "," << c[2] << ")), repr(stats.studentized_range.cdf("
       << c[0] << "," << c[1] << "," << c[2] << ")))\n";
  py << "print(repr(stats.studentized_range.isf(0.05, 3, 36)))\n";
  const auto dir = temp_dir("ptukey");
  const auto v = numbers(run_python(dir, py.str()));
  ASSERT_EQ(v.size(), cases.size() * 2 + 1);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    EXPECT_LT(rel_diff(studentized_range_sf(c[0], c[1], c[2]), v[2 * i]), 1e-8) << c[0] << " " << c[1] << " " << c[2];
    EXPECT_LT(rel_diff(studentized_range_cdf(c[0], c[1], c[2]), v[2 * i + 1]), 1e-8);
  }
  EXPECT_LT(rel_diff(studentized_range_isf(0.05, 3, 36), v.back()), 1e-8);
  // k = 2: the range of two normals is sqrt(2)|N|, so q = sqrt(2)|t_df|.
  EXPECT_NEAR(studentized_range_sf(3.0, 2, 15), t_two_sided_p(3.0 / std::sqrt(2.0), 15), 1e-11);
}
