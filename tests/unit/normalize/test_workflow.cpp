// normalize::normalize_subject on a coarse Colin27 subject with known shifts: the PET -> MNI chain, the
// atlas labels in PET space, the cerebellar reference region (vermis margin, grey-matter masking) and
// its TAC for dynamic PET (no files written, no executable).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>

#include "helpers.hpp"
#include "petpipe/normalize/workflow.hpp"
#include "petpipe/roi/atlas.hpp"

using namespace test_normalize;

namespace {

AffineMap shift(const Vec3& t) {
  AffineMap m;
  m.offset = t;
  return m;
}

}  // namespace

TEST(NormalizeWorkflow, DynamicSubjectRecoversTheShifts) {
  const roi::Atlas atlas = roi::load_atlas("aal");
  const Image3D head = read_image(atlas.templates.at("T1_head"));
  const Image3D brain = read_image(atlas.templates.at("T1_brain"));
  TemplateSpace space;
  space.t1 = block_average(head, 3);
  space.brain = block_average(brain, 3);
  space.labels = read_labels(atlas.labels_image);
  for (const auto& [value, name] : atlas.label_names) space.label_names[value] = name;

  // Truth: T1 point -> MNI point = x + s1; PET point -> T1 point = x + s2.
  const Vec3 s1{4, -3, 2}, s2{-3, 2, 4};
  const Image3D t1 = resample_linear(head, space.t1.geom, Transform({shift(s1)}));
  Image3D gm = brain;  // grey matter bright, white matter dim, as a tracer image
  for (auto& v : gm.data) v = v > 60 ? std::max(0.0f, 260.0f - v) : 0.0f;
  Geometry pg;
  pg.size = {62, 72, 58};
  pg.spacing = {3, 3, 3};
  pg.origin = {-92, -110, -75};
  const Transform true_pet_to_mni({shift(s2), shift(s1)});
  const Image3D pet_image = resample_linear(gm, pg, true_pet_to_mni);
  // Three frames proportional to the image, duration-weighted mean factor 1.
  DynamicImage pet;
  pet.geom = pg;
  pet.frames.start_s = {0, 60, 180};
  pet.frames.duration_s = {60, 120, 120};
  const std::vector<double> factor = {0.5, 1.0, 1.25};
  pet.data.resize(3 * pg.voxel_count());
  for (std::size_t f = 0; f < 3; ++f)
    for (std::size_t v = 0; v < pg.voxel_count(); ++v) pet.frame(f)[v] = float(factor[f] * pet_image.data[v]);

  const roi::ReferenceRegion& ref = atlas.reference("cerebellum_gm");
  const ReferenceInput reference{ref.name, roi::region_mask(ref.region, space.labels)};
  WorkflowOptions o;
  o.normalization.deformable = false;
  o.normalization.working_spacing_mm = 4.0;
  o.grey_matter_mask = true;
  o.t1_mni_spacing_mm = 2.0;
  const SubjectNormalization r = normalize_subject(pet, t1, space, reference, o);

  // The registered mean is the duration-weighted mean of the frames.
  ASSERT_TRUE(r.pet_mean.geom.same_grid(pg));
  for (std::size_t v = 0; v < pg.voxel_count(); v += 101)
    EXPECT_NEAR(r.pet_mean.data[v], pet_image.data[v], 1e-4 * std::max(1.0f, pet_image.data[v]));

  // PET -> MNI recovers s1 + s2 over the brain.
  double worst = 0;
  for (double x : {-50.0, 50.0})
    for (double y : {-80.0, 40.0})
      for (double z : {-30.0, 50.0}) {
        const Vec3 p{x, y, z};
        worst = std::max(worst, distance(r.transforms.pet_to_mni().apply(p), true_pet_to_mni.apply(p)));
      }
  std::printf("PET -> MNI: worst error %.2f mm\n", worst);
  EXPECT_LT(worst, 2.0);

  // Images on their grids.
  EXPECT_TRUE(r.t1_mni.geom.same_grid(mni_grid(2.0, {-90, -126, -72}, {90, 90, 108})));
  EXPECT_TRUE(r.pet_in_t1.geom.same_grid(t1.geom));
  EXPECT_TRUE(r.template_in_t1.geom.same_grid(t1.geom));
  EXPECT_NEAR(r.t1_in_pet.geom.spacing[0], 3.0, 1e-9);
  EXPECT_GT(r.coregister_seconds, 0.0);

  // Atlas labels in PET space agree with the labels pulled through the true transform.
  const LabelImage truth = resample_nearest(space.labels, pg, true_pet_to_mni);
  ASSERT_TRUE(r.labels.geom.same_grid(pg));
  std::size_t labelled = 0, agree = 0;
  for (std::size_t v = 0; v < truth.data.size(); ++v)
    if (truth.data[v] || r.labels.data[v]) {
      ++labelled;
      agree += truth.data[v] == r.labels.data[v];
    }
  std::printf("labels: %zu of %zu labelled PET voxels agree with the truth\n", agree, labelled);
  EXPECT_GT(double(agree), 0.8 * double(labelled));
  EXPECT_LT(r.subvoxel_labels.geom.voxel_volume_mm3(), pg.spacing[0] * pg.spacing[1] * pg.spacing[2] / 7.9);

  // Reference region: cerebellar grey matter, away from the vermis, grey-matter masked, with its TAC.
  ASSERT_TRUE(r.reference.has_value());
  const ReferencePlacement& rp = *r.reference;
  EXPECT_EQ(rp.name, "cerebellum_gm");
  EXPECT_TRUE(rp.trimmed);
  EXPECT_TRUE(rp.grey_matter_masked);
  EXPECT_TRUE(rp.tissue.classes.geom.same_grid(t1.geom));
  EXPECT_GE(rp.region.final_voxels, 20u);
  std::size_t in_cerebellum = 0, on_vermis = 0, count = 0;
  double sum = 0;
  for (std::size_t v = 0; v < rp.region.mask.data.size(); ++v) {
    if (!rp.region.mask.data[v]) continue;
    ++count;
    sum += r.pet_mean.data[v];
    const auto it = space.label_names.find(truth.data[v]);
    const std::string name = it == space.label_names.end() ? "" : it->second;
    in_cerebellum += name.rfind("Cerebelum", 0) == 0;
    on_vermis += name.rfind("Vermis", 0) == 0;
  }
  EXPECT_EQ(count, rp.region.final_voxels);
  EXPECT_EQ(on_vermis, 0u);
  EXPECT_GT(double(in_cerebellum), 0.8 * double(count));
  ASSERT_EQ(rp.tac.size(), 3u);
  for (std::size_t f = 0; f < 3; ++f) EXPECT_NEAR(rp.tac[f], factor[f] * sum / double(count), 1e-3 * rp.tac[f]);
}

TEST(NormalizeWorkflow, TimeAverageAndSkullStrippedTest) {
  Geometry g;
  g.size = {4, 4, 4};
  DynamicImage pet;
  pet.geom = g;
  pet.frames.start_s = {0, 10};
  pet.frames.duration_s = {10, 30};
  pet.data.assign(2 * g.voxel_count(), 2.0f);
  for (std::size_t v = 0; v < g.voxel_count(); ++v) pet.frame(1)[v] = 6.0f;
  pet.frame(1)[5] = std::numeric_limits<float>::quiet_NaN();  // counts as 0
  const Image3D m = time_average(pet);
  EXPECT_FLOAT_EQ(m.data[0], 5.0f);
  EXPECT_FLOAT_EQ(m.data[5], 0.5f);

  Image3D t1(g, 0.0f);
  EXPECT_TRUE(looks_skull_stripped(t1));
  for (std::size_t v = 0; v < 32; ++v) t1.data[v] = 1.0f;
  EXPECT_FALSE(looks_skull_stripped(t1));
}
