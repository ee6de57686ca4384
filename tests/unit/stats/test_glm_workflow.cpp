// stats::voxelwise_glm and stats::roi_glm on small in-memory data with a planted effect, against a
// direct least-squares computation (no files, no executable).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <Eigen/Dense>

#include "petpipe/core/error.hpp"
#include "petpipe/stats/glm_workflow.hpp"

using namespace petpipe;
using namespace petpipe::stats;

namespace {

// 16 subjects: group A / B alternating, a three-level factor, age 25..62.5.
Participants make_participants() {
  Participants p;
  p.column_order = {"group", "site", "age"};
  Participants::Column group, site, age;
  age.numeric = true;
  for (int s = 0; s < 16; ++s) {
    p.ids.push_back("sub-" + std::to_string(10 + s));
    group.levels.push_back(s % 2 ? "B" : "A");
    site.levels.push_back(s % 3 == 0 ? "x" : (s % 3 == 1 ? "y" : "z"));
    age.values.push_back(25 + 2.5 * s);
  }
  p.columns["group"] = group;
  p.columns["site"] = site;
  p.columns["age"] = age;
  return p;
}

Geometry small_grid() {
  Geometry g;
  g.size = {12, 12, 8};
  g.spacing = {3, 3, 3};
  g.origin = {10, 10, -10};
  return g;
}

bool in_block(std::size_t i, std::size_t j) { return i >= 2 && i < 6 && j >= 2 && j < 6; }

// One map per subject: 1 + 0.01 age + noise inside a box (zero outside it), plus 1.5 for group B in a
// 4 x 4 x 6 block.
std::vector<Image3D> make_maps(const Participants& p) {
  std::mt19937 rng(7);
  std::normal_distribution<double> nd;
  std::vector<Image3D> maps;
  for (std::size_t s = 0; s < p.size(); ++s) {
    Image3D img(small_grid(), 0.0f);
    const bool b = p.columns.at("group").levels[s] == "B";
    for (std::size_t k = 1; k < 7; ++k)
      for (std::size_t j = 1; j < 11; ++j)
        for (std::size_t i = 1; i < 11; ++i)
          img.at(i, j, k) = static_cast<float>(1.0 + 0.01 * p.columns.at("age").values[s] + 0.3 * nd(rng) +
                                               (b && in_block(i, j) ? 1.5 : 0.0));
    maps.push_back(img);
  }
  return maps;
}

VoxelwiseOptions options() {
  VoxelwiseOptions o;
  o.formula = "group + age";
  o.contrasts = {{"BgtA", "B>A"}, {"g", "group"}};
  o.fdr_q = 0.05;
  return o;
}

}  // namespace

TEST(GlmWorkflow, VoxelwiseMatchesDirectLeastSquares) {
  const Participants parts = make_participants();
  const std::vector<Image3D> maps = make_maps(parts);
  // An explicit mask that removes one slice the maps cover.
  Mask explicit_mask(small_grid(), 1);
  for (std::size_t j = 0; j < 12; ++j)
    for (std::size_t i = 0; i < 12; ++i) explicit_mask.at(i, j, 6) = 0;
  VoxelwiseOptions o = options();
  o.permutations = 40;
  o.tfce = true;
  o.seed = 5;
  const VoxelwiseResult r = voxelwise_glm(parts, parts.ids, maps, &explicit_mask, o);

  // Group mask: the 10 x 10 x 5 box (non-zero in every map) inside the explicit mask.
  ASSERT_EQ(r.voxels.size(), 10u * 10u * 5u);
  EXPECT_EQ(r.mask.at(0, 0, 3), 0);
  EXPECT_EQ(r.mask.at(5, 5, 6), 0);
  EXPECT_EQ(r.mask.at(5, 5, 3), 1);
  ASSERT_EQ(r.design.column_names, (std::vector<std::string>{"intercept", "group[B]", "age"}));
  EXPECT_DOUBLE_EQ(r.df, 16.0 - 3.0);

  // Direct computation: X = [1, B, age - mean age], OLS per voxel.
  const std::size_t n = parts.size();
  Eigen::MatrixXd X(static_cast<Eigen::Index>(n), 3);
  double mean_age = 0;
  for (double a : parts.columns.at("age").values) mean_age += a / double(n);
  for (std::size_t s = 0; s < n; ++s) {
    const auto i = static_cast<Eigen::Index>(s);
    X(i, 0) = 1;
    X(i, 1) = parts.columns.at("group").levels[s] == "B";
    X(i, 2) = parts.columns.at("age").values[s] - mean_age;
  }
  const Eigen::MatrixXd XtXi = (X.transpose() * X).inverse();
  const Eigen::Vector3d c(0, 1, 0);
  ASSERT_EQ(r.contrasts.size(), 2u);
  const VoxelwiseContrast& t = r.contrasts[0];
  const VoxelwiseContrast& f = r.contrasts[1];
  EXPECT_FALSE(t.statistics.is_f);
  EXPECT_TRUE(f.statistics.is_f);
  for (std::size_t v = 0; v < r.voxels.size(); v += 37) {
    Eigen::VectorXd y(static_cast<Eigen::Index>(n));
    for (std::size_t s = 0; s < n; ++s) y(static_cast<Eigen::Index>(s)) = maps[s].data[r.voxels[v]];
    const Eigen::VectorXd b = XtXi * X.transpose() * y;
    const double s2 = (y - X * b).squaredNorm() / (double(n) - 3);
    const double tv = c.dot(b) / std::sqrt(s2 * c.dot(XtXi * c));
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(r.beta(j, static_cast<Eigen::Index>(v)), b(j), 1e-5) << v;
    EXPECT_NEAR(r.sigma2[v], s2, 1e-5 * s2);
    EXPECT_NEAR(t.statistics.stat[v], tv, 1e-4 * std::max(1.0, std::fabs(tv)));
    EXPECT_NEAR(t.statistics.effect[v], b(1), 1e-5);
    // One row over a two-level factor: F = t^2.
    EXPECT_NEAR(f.statistics.stat[v], tv * tv, 1e-3 * std::max(1.0, tv * tv));
  }

  // FDR map: the statistic exactly where p <= the BH threshold.
  const FdrResult fdr = fdr_bh(t.statistics.p, o.fdr_q);
  EXPECT_EQ(t.fdr.significant, fdr.significant);
  EXPECT_GT(fdr.significant, 60u);
  for (std::size_t v = 0; v < r.voxels.size(); ++v)
    EXPECT_EQ(t.fdr_thresholded[v], t.statistics.p[v] <= fdr.threshold ? t.statistics.stat[v] : 0.0);

  // Clusters (t only): the planted 4 x 4 x 5 block in the mask is the largest, FWE-significant cluster.
  ASSERT_TRUE(t.clusters.has_value());
  EXPECT_FALSE(f.clusters.has_value());
  ASSERT_GE(t.clusters->clusters.size(), 1u);
  const Cluster& top = t.clusters->clusters[0];
  EXPECT_GE(top.voxels, 60u);
  EXPECT_LE(top.voxels, 100u);
  EXPECT_LT(top.p_fwe, 0.05);
  std::size_t inside = 0, outside = 0;
  for (std::size_t v = 0; v < r.voxels.size(); ++v) {
    const std::size_t i = r.voxels[v] % 12, j = (r.voxels[v] / 12) % 12;
    if (t.cluster_fwe_stat[v] != 0.0) ++(in_block(i, j) ? inside : outside);
  }
  EXPECT_GE(inside, 60u);
  EXPECT_LE(outside, 5u);
  EXPECT_GT(t.peak_stat, 5.0);
  EXPECT_LT(t.peak_p_fwe_rft, 0.05);

  // Permutations with TFCE: 40 of them, the block reaches the smallest attainable FWE p.
  ASSERT_TRUE(t.permutation.has_value());
  EXPECT_EQ(r.permutations, 40u);
  EXPECT_EQ(t.permutation->tfce_p_fwe.size(), r.voxels.size());
  EXPECT_EQ(t.tfce_options.connectivity, Connectivity::c26);
  double best = 1;
  for (std::size_t v = 0; v < r.voxels.size(); ++v) best = std::min(best, t.permutation->tfce_p_fwe[v]);
  EXPECT_LE(best, 1.0 / 40.0 + 1e-12);

  // Maps as images on the grid: outside the mask 0, inside the per-voxel values.
  const Image3D timg = r.image(t.statistics.stat);
  EXPECT_TRUE(timg.geom.same_grid(small_grid()));
  EXPECT_EQ(timg.at(0, 0, 0), 0.0f);
  EXPECT_FLOAT_EQ(timg.data[r.voxels[3]], static_cast<float>(t.statistics.stat[3]));
  EXPECT_EQ(r.beta_values(1).size(), r.voxels.size());
}

TEST(GlmWorkflow, VoxelwiseReadsEachMapOnDemandAndChecksInputs) {
  const Participants parts = make_participants();
  const std::vector<Image3D> maps = make_maps(parts);
  std::vector<int> loads(maps.size(), 0);
  MapSource src;
  src.subjects = parts.ids;
  for (const auto& id : parts.ids) src.names.push_back(id + ".nii.gz");
  src.load = [&](std::size_t i) {
    ++loads[i];
    return maps[i];
  };
  const VoxelwiseResult r = voxelwise_glm(parts, src, nullptr, options());
  for (int l : loads) EXPECT_EQ(l, 2);
  EXPECT_EQ(r.voxels.size(), 10u * 10u * 6u);
  EXPECT_FALSE(r.contrasts[0].permutation.has_value());
  EXPECT_EQ(r.permutations, 0u);

  // A map on another grid names both maps.
  std::vector<Image3D> bad = maps;
  bad[4].geom.spacing = {2, 2, 2};
  src.load = [&](std::size_t i) { return bad[i]; };
  try {
    voxelwise_glm(parts, src, nullptr, options());
    ADD_FAILURE() << "no error for a map on another grid";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sub-14.nii.gz: not on the grid of sub-10.nii.gz"), std::string::npos)
        << e.what();
  }
  // No voxel non-zero in every map.
  bad = maps;
  for (auto& v : bad[2].data) v = 0.0f;
  EXPECT_THROW(voxelwise_glm(parts, parts.ids, bad, nullptr, options()), Error);
  // Invalid options and contrasts.
  VoxelwiseOptions o = options();
  o.fdr_q = 1.5;
  EXPECT_THROW(voxelwise_glm(parts, parts.ids, maps, nullptr, o), Error);
  o = options();
  o.contrasts = {{"c", "C>A"}};
  EXPECT_THROW(voxelwise_glm(parts, parts.ids, maps, nullptr, o), Error);
  o.contrasts.clear();
  EXPECT_THROW(voxelwise_glm(parts, parts.ids, maps, nullptr, o), Error);
}

TEST(GlmWorkflow, RoiNestedModelsMatchOls) {
  const Participants parts = make_participants();
  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  std::vector<RoiValues> rois;
  for (const char* name : {"hippocampus", "amygdala", "insula"}) {
    RoiValues r;
    r.roi = name;
    for (std::size_t s = 0; s < parts.size(); ++s) {
      r.subjects.push_back(parts.ids[s]);
      const bool b = parts.columns.at("group").levels[s] == "B";
      r.values.push_back(1.0 + (r.roi == "amygdala" ? 0.5 * b : 0.0) + 0.02 * parts.columns.at("age").values[s] +
                         0.2 * nd(rng));
    }
    rois.push_back(r);
  }
  rois[2].values[5] = std::nan("");  // a missing value: that subject is left out of this ROI
  RoiGlmOptions o;
  o.formula = "group + site + age";
  o.contrasts = {{"BgtA", "B>A"}, {"age", "age"}};
  const RoiGlmResult res = roi_glm(parts, rois, o);
  ASSERT_EQ(res.models, (std::vector<std::string>{"group", "group + site", "group + site + age"}));
  ASSERT_EQ(res.fits.size(), 9u);
  EXPECT_EQ(res.fits[8].roi, "insula");
  EXPECT_EQ(res.fits[8].n, 15u);
  EXPECT_EQ(res.fits[0].n, 16u);
  // The nested models without age skip the age contrast.
  EXPECT_EQ(res.fits[0].fit.effects.size(), 1u);
  EXPECT_EQ(res.fits[2].fit.effects.size(), 2u);

  // The full model of each ROI equals fit_ols on the same data.
  for (std::size_t k = 0; k < rois.size(); ++k) {
    std::vector<std::string> ids;
    std::vector<double> y;
    for (std::size_t s = 0; s < rois[k].values.size(); ++s)
      if (!std::isnan(rois[k].values[s])) {
        ids.push_back(rois[k].subjects[s]);
        y.push_back(rois[k].values[s]);
      }
    const Design d = make_design(parts, o.formula, ids);
    const OlsFit direct = fit_ols(y, d, {make_contrast(d, "BgtA", "B>A"), make_contrast(d, "age", "age")});
    const RoiModelFit& m = res.fits[3 * k + 2];
    EXPECT_EQ(m.model, o.formula);
    EXPECT_EQ(m.columns, d.column_names);
    ASSERT_EQ(m.fit.beta.size(), direct.beta.size());
    for (std::size_t j = 0; j < direct.beta.size(); ++j) EXPECT_NEAR(m.fit.beta[j], direct.beta[j], 1e-12);
    ASSERT_EQ(m.fit.effects.size(), 2u);
    EXPECT_NEAR(m.fit.effects[0].t, direct.effects[0].t, 1e-10);
    ASSERT_EQ(m.fit.anova.size(), direct.anova.size());
    for (std::size_t a = 0; a < direct.anova.size(); ++a) EXPECT_NEAR(m.fit.anova[a].F, direct.anova[a].F, 1e-10);
  }
  // BH-FDR over the three ROIs for the full model's group contrast.
  std::vector<double> ps;
  for (std::size_t k = 0; k < 3; ++k) ps.push_back(res.fits[3 * k + 2].fit.effects[0].p);
  const FdrResult fdr = fdr_bh(ps, 0.05);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(res.fits[3 * k + 2].effect_p_fdr[0], fdr.adjusted[k]);
  // The planted amygdala effect.
  EXPECT_LT(res.fits[5].fit.effects[0].p, 0.01);

  // Group summaries for both factors; Tukey only for the three-level site.
  ASSERT_EQ(res.factors.size(), 6u);
  EXPECT_EQ(res.factors[0].factor, "group");
  EXPECT_EQ(res.factors[0].groups.size(), 2u);
  EXPECT_TRUE(res.factors[0].tukey.empty());
  EXPECT_EQ(res.factors[1].factor, "site");
  EXPECT_EQ(res.factors[1].tukey.size(), 3u);

  // The full model only.
  o.nested_models = false;
  const RoiGlmResult full = roi_glm(parts, rois, o);
  ASSERT_EQ(full.fits.size(), 3u);
  EXPECT_NEAR(full.fits[0].fit.effects[0].t, res.fits[2].fit.effects[0].t, 1e-12);
  // A contrast that does not resolve on the full model is an error.
  o.contrasts = {{"c", "C>A"}};
  EXPECT_THROW(roi_glm(parts, rois, o), Error);
  EXPECT_THROW(roi_glm(parts, {}, o), Error);
}

TEST(GlmWorkflow, NestedFormulas) {
  EXPECT_EQ(nested_formulas(" group +age+  sex "), (std::vector<std::string>{"group", "group + age", "group + age + sex"}));
  EXPECT_EQ(nested_formulas("group"), (std::vector<std::string>{"group"}));
}
