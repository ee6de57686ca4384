// Transforms, resampling and transform files against analytic truth.
#include <gtest/gtest.h>

#include <filesystem>

#include "helpers.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/normalize/normalize.hpp"

using namespace test_normalize;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("petpipe_normalize_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Geometry small_grid() {
  Geometry g;
  g.size = {30, 34, 28};
  g.spacing = {3, 3, 3};
  g.origin = {-45, -60, -40};
  return g;
}

}  // namespace

TEST(NormalizeTransform, AffineInverseAndComposition) {
  const AffineMap a = rigid(10, -5, 20, {3, -7, 12}, 1.1);
  const AffineMap b = rigid(-3, 8, 1, {-1, 2, 5});
  const Vec3 x{12.5, -30, 44};
  const Vec3 y = a.apply(x);
  EXPECT_LT(distance(a.inverse().apply(y), x), 1e-9);
  EXPECT_LT(distance(b.after(a).apply(x), b.apply(a.apply(x))), 1e-9);
  EXPECT_NEAR(a.determinant(), 1.1 * 1.1 * 1.1, 1e-9);
  EXPECT_NEAR(rigid(0, 0, 30, {0, 0, 0}).rotation_degrees(), 30.0, 1e-6);
  AffineMap singular;
  singular.matrix = {1, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_THROW(singular.inverse(), petpipe::Error);
}

TEST(NormalizeTransform, MniGridIsSpmBox) {
  const Geometry g = mni_grid();
  EXPECT_EQ(g.size[0], 91u);
  EXPECT_EQ(g.size[1], 109u);
  EXPECT_EQ(g.size[2], 91u);
  const Vec3 lo = to_ras(g.index_to_point({0, 0, 0}));
  const Vec3 hi = to_ras(g.index_to_point({90, 108, 90}));
  EXPECT_NEAR(lo[0], -90, 1e-9);
  EXPECT_NEAR(lo[1], -126, 1e-9);
  EXPECT_NEAR(lo[2], -72, 1e-9);
  EXPECT_NEAR(hi[0], 90, 1e-9);
  EXPECT_NEAR(hi[1], 90, 1e-9);
  EXPECT_NEAR(hi[2], 108, 1e-9);
  EXPECT_EQ(g.orientation_code(), "RAS");
}

TEST(NormalizeTransform, LinearResamplingIsExactForLinearFunctions) {
  // f(p) = 2 p_x - p_y + 0.5 p_z + 7 is reproduced exactly by trilinear interpolation.
  const Geometry g = small_grid();
  Image3D src(g);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        src.at(i, j, k) = float(2 * p[0] - p[1] + 0.5 * p[2] + 7);
      }
  Geometry tg;
  tg.size = {12, 12, 12};
  tg.spacing = {2, 2, 2};
  tg.origin = {-10, -12, -8};
  const AffineMap m = rigid(5, 3, -4, {2, 1, -3});
  const Image3D out = resample_linear(src, tg, Transform({m}), -1.0f);
  for (std::size_t k = 0; k < 12; ++k)
    for (std::size_t j = 0; j < 12; ++j)
      for (std::size_t i = 0; i < 12; ++i) {
        const Vec3 p = m.apply(tg.index_to_point({double(i), double(j), double(k)}));
        EXPECT_NEAR(out.at(i, j, k), 2 * p[0] - p[1] + 0.5 * p[2] + 7, 2e-3);
      }
}

TEST(NormalizeTransform, NearestAndOccupancy) {
  // A 3x3x3 cube of label 5 on a 1 mm grid, read on a 3 mm grid aligned with it.
  Geometry g;
  g.size = {12, 12, 12};
  LabelImage lab(g, 0);
  Mask m(g, 0);
  for (std::size_t k = 3; k < 6; ++k)
    for (std::size_t j = 3; j < 6; ++j)
      for (std::size_t i = 3; i < 9; ++i) {
        lab.at(i, j, k) = 5;
        m.at(i, j, k) = 1;
      }
  Geometry c;
  c.size = {4, 4, 4};
  c.spacing = {3, 3, 3};
  c.origin = {1, 1, 1};  // voxel (1,1,1) covers 1 mm voxels 3..5
  const LabelImage nl = resample_nearest(lab, c, Transform::identity());
  EXPECT_EQ(nl.at(1, 1, 1), 5);
  EXPECT_EQ(nl.at(2, 1, 1), 5);
  EXPECT_EQ(nl.at(0, 0, 0), 0);
  const Image3D occ = resample_occupancy(m, c, Transform::identity(), 3);
  EXPECT_NEAR(occ.at(1, 1, 1), 1.0, 1e-6);
  EXPECT_NEAR(occ.at(2, 1, 1), 1.0, 1e-6);
  EXPECT_NEAR(occ.at(1, 2, 1), 0.0, 1e-6);
  // half-shifted grid: one third of each voxel is inside
  c.origin = {1, 1, 2};
  const Image3D occ2 = resample_occupancy(m, c, Transform::identity(), 3);
  EXPECT_NEAR(occ2.at(1, 1, 1), 2.0 / 3.0, 1e-6);
}

TEST(NormalizeTransform, SubvoxelGridAndLabels) {
  // The 1 mm cube labels read on the sub-voxel grid of a 3 mm grid that is aligned with them: the
  // sub-voxel grid (s = 3) is the 1 mm grid itself over the box of labelled 3 mm voxels plus one.
  Geometry g;
  g.size = {12, 12, 12};
  LabelImage lab(g, 0);
  for (std::size_t k = 3; k < 6; ++k)
    for (std::size_t j = 3; j < 6; ++j)
      for (std::size_t i = 3; i < 9; ++i) lab.at(i, j, k) = 5;
  Geometry c;
  c.size = {4, 4, 4};
  c.spacing = {3, 3, 3};
  c.origin = {1, 1, 1};
  const LabelImage coarse = resample_nearest(lab, c, Transform::identity());
  const LabelImage sub = resample_nearest_subvoxel(lab, coarse, Transform::identity());
  EXPECT_EQ(sub.geom.size, (std::array<std::size_t, 3>{12, 9, 9}));  // coarse voxels 0..3 x 0..2 x 0..2
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(sub.geom.spacing[a], 1.0, 1e-12);
    EXPECT_NEAR(sub.geom.origin[a], 0.0, 1e-12);
  }
  for (std::size_t k = 0; k < 9; ++k)
    for (std::size_t j = 0; j < 9; ++j)
      for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(sub.at(i, j, k), lab.at(i, j, k)) << i << " " << j << " " << k;
  // Even subdivision of an oblique grid: the sub-voxel centres of a voxel average to its centre.
  Geometry o = small_grid();
  o.direction = {0.8, -0.6, 0, 0.6, 0.8, 0, 0, 0, 1};
  const Geometry s2 = subvoxel_grid(o, 2, {4, 5, 6}, {5, 5, 6});
  EXPECT_EQ(s2.size, (std::array<std::size_t, 3>{4, 2, 2}));
  Vec3 mean{0, 0, 0};
  for (double k : {0.0, 1.0})
    for (double j : {0.0, 1.0})
      for (double i : {0.0, 1.0}) {
        const Vec3 p = s2.index_to_point({i, j, k});
        for (int a = 0; a < 3; ++a) mean[a] += p[a] / 8.0;
      }
  const Vec3 centre = o.index_to_point({4, 5, 6});
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(mean[a], centre[a], 1e-9);
  EXPECT_THROW(subvoxel_grid(o, 0, {0, 0, 0}, {1, 1, 1}), petpipe::Error);
  EXPECT_THROW(subvoxel_grid(o, 2, {0, 0, 0}, {30, 1, 1}), petpipe::Error);
  EXPECT_THROW(resample_nearest_subvoxel(lab, LabelImage(c, 0), Transform::identity()), petpipe::Error);
}

TEST(NormalizeTransform, FieldInverseComposesToIdentity) {
  const Geometry g = small_grid();
  const DisplacementField u = smooth_field(g, 4.0);
  const DisplacementField v = invert_field(u);
  double worst = 0;
  for (std::size_t k = 4; k < g.size[2] - 4; k += 3)
    for (std::size_t j = 4; j < g.size[1] - 4; j += 3)
      for (std::size_t i = 4; i < g.size[0] - 4; i += 3) {
        const Vec3 x = g.index_to_point({double(i), double(j), double(k)});
        worst = std::max(worst, distance(u.apply(v.apply(x)), x));
      }
  EXPECT_LT(worst, 0.05);  // mm, for a 4 mm field on a 3 mm grid
}

TEST(NormalizeTransform, FilesRoundTrip) {
  const fs::path d = temp_dir("files");
  const AffineMap a = rigid(10, -5, 20, {3, -7, 12}, 0.95);
  write_affine(d / "a.txt", a);
  const AffineMap b = read_affine(d / "a.txt");
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.matrix[i], b.matrix[i], 1e-12);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a.offset[i], b.offset[i], 1e-12);
  // ITK's centred form: y = M (x - c) + t + c
  petpipe::write_text(d / "c.txt",
                      "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
                      "Parameters: 0 -1 0 1 0 0 0 0 1 1 2 3\nFixedParameters: 10 0 0\n");
  const AffineMap c = read_affine(d / "c.txt");
  const Vec3 y = c.apply({10, 0, 0});
  EXPECT_NEAR(y[0], 11, 1e-12);
  EXPECT_NEAR(y[1], 2, 1e-12);
  EXPECT_NEAR(y[2], 3, 1e-12);
  petpipe::write_text(d / "e.txt", "#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\n");
  EXPECT_THROW(read_affine(d / "e.txt"), petpipe::Error);
  EXPECT_THROW(read_affine(d / "missing.txt"), petpipe::Error);

  const DisplacementField u = smooth_field(small_grid(), 3.0);
  write_field(d / "u.nii.gz", u);
  const DisplacementField r = read_field(d / "u.nii.gz");
  ASSERT_TRUE(r.geom.same_grid(u.geom));
  for (std::size_t i = 0; i < u.data.size(); ++i) ASSERT_NEAR(u.data[i], r.data[i], 1e-6);

  SubjectTransforms st;
  st.t1_to_pet = a;
  st.normalization.mni_to_t1 = rigid(1, 2, 3, {4, 5, 6}, 1.05);
  st.normalization.field = u;
  st.normalization.inverse_field = invert_field(u);
  write_transforms(d / "xfm", st);
  const SubjectTransforms back = read_transforms(d / "xfm");
  const Vec3 x{5, -20, 10};
  EXPECT_LT(distance(back.mni_to_pet().apply(x), st.mni_to_pet().apply(x)), 1e-5);
  EXPECT_LT(distance(back.pet_to_mni().apply(back.mni_to_pet().apply(x)), x), 0.05);
  fs::remove_all(d);
}
