// T1 tissue classification (3-class k-means) and grey-matter masking of a reference region.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "petpipe/core/error.hpp"
#include "petpipe/normalize/tissue.hpp"

using namespace petpipe;
using namespace petpipe::normalize;

namespace {
// Concentric shells on a 2 mm grid: WM (r < 30 mm, 110), GM (30-40 mm, 70), CSF (40-46 mm, 30);
// Gaussian noise (SD 4) and a linear non-uniformity of +-5 % across the head.
struct Shells {
  Image3D t1;
  LabelImage truth;
  Mask brain;
};
Shells make_shells() {
  Geometry g;
  g.size = {50, 50, 50};
  g.spacing = {2, 2, 2};
  g.origin = {-49, -49, -49};
  Shells s{Image3D(g, 0.0f), LabelImage(g, 0), Mask(g, 0)};
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 4.0);
  for (std::size_t k = 0; k < 50; ++k)
    for (std::size_t j = 0; j < 50; ++j)
      for (std::size_t i = 0; i < 50; ++i) {
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        const double r = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        const int c = r < 30 ? kTissueWhite : r < 40 ? kTissueGrey : r < 46 ? kTissueCsf : 0;
        const double mean = c == kTissueWhite ? 110 : c == kTissueGrey ? 70 : c == kTissueCsf ? 30 : 5;
        s.t1.at(i, j, k) = float(mean * (1.0 + 0.05 * p[2] / 46.0) + noise(rng));
        s.truth.at(i, j, k) = c;
        s.brain.at(i, j, k) = c != 0;
      }
  return s;
}
}  // namespace

TEST(NormalizeTissue, KMeansRecoversShellClasses) {
  const Shells s = make_shells();
  const TissueResult r = classify_tissue(s.t1, s.brain);
  std::size_t right = 0, n = 0;
  std::array<std::size_t, 4> truth_count{}, right_count{};
  for (std::size_t v = 0; v < s.truth.data.size(); ++v) {
    if (!s.brain.data[v]) {
      EXPECT_EQ(r.classes.data[v], kTissueBackground);
      continue;
    }
    ++n;
    ++truth_count[std::size_t(s.truth.data[v])];
    if (r.classes.data[v] == s.truth.data[v]) {
      ++right;
      ++right_count[std::size_t(s.truth.data[v])];
    }
  }
  std::printf("k-means centres %.1f / %.1f / %.1f, %d iterations, %.2f %% of brain voxels right\n", r.centres[0],
              r.centres[1], r.centres[2], r.iterations, 100.0 * double(right) / double(n));
  // Classes separated by 40 units with noise SD 4 and +-5 % (<= 5.5 units) non-uniformity: a voxel is
  // misclassified only beyond ~3.5 SD at the extreme of the gradient.
  EXPECT_GT(double(right) / double(n), 0.99);
  for (int c = 1; c <= 3; ++c) EXPECT_GT(double(right_count[c]) / double(truth_count[c]), 0.98) << c;
  EXPECT_NEAR(r.centres[0], 30, 1.5);
  EXPECT_NEAR(r.centres[1], 70, 1.5);
  EXPECT_NEAR(r.centres[2], 110, 1.5);
  EXPECT_EQ(r.voxels[0] + r.voxels[1] + r.voxels[2], n);
}

TEST(NormalizeTissue, GreyMatterMaskingKeepsGreyVoxels) {
  Geometry g;
  g.size = {4, 1, 1};
  g.spacing = {2, 2, 2};
  ReferenceResult r;
  r.mask = Mask(g, 1);
  r.final_voxels = 4;
  Image3D gm(g, 0.0f);
  gm.data = {1.0f, 0.5f, 0.49f, 0.0f};
  EXPECT_TRUE(restrict_to_grey_matter(r, gm, 0.5, 1));
  EXPECT_EQ(r.mask.data, (std::vector<std::uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(r.final_voxels, 2u);
  // too few voxels left: unchanged
  ReferenceResult q;
  q.mask = Mask(g, 1);
  q.final_voxels = 4;
  EXPECT_FALSE(restrict_to_grey_matter(q, gm, 0.5, 3));
  EXPECT_EQ(q.final_voxels, 4u);
  EXPECT_EQ(q.mask.data, (std::vector<std::uint8_t>{1, 1, 1, 1}));
}

TEST(NormalizeTissue, TooFewOrConstantVoxelsAreErrors) {
  Geometry g;
  g.size = {10, 10, 10};
  Image3D t1(g, 5.0f);
  Mask m(g, 1);
  EXPECT_THROW(classify_tissue(t1, m), Error);  // constant
  Mask few(g, 0);
  few.data[0] = few.data[1] = 1;
  t1.data[1] = 7;
  EXPECT_THROW(classify_tissue(t1, few), Error);  // 2 voxels
}
