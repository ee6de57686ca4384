// Orthogonal views: left/right conventions, anterior/superior at the top, physical aspect ratio,
// independence from the voxel storage order, contours, edges, masks and projections, against known
// geometry.
#include <gtest/gtest.h>

#include "petpipe/core/error.hpp"
#include "petpipe/qc/slices.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

namespace {

// Centroid (pixel coordinates) of pixels whose red channel exceeds `thr`.
std::pair<double, double> bright_centroid(const Raster& r, int thr = 200) {
  double su = 0, sv = 0, n = 0;
  for (int v = 0; v < r.height; ++v)
    for (int u = 0; u < r.width; ++u)
      if (r.at(u, v)[0] > thr) {
        su += u;
        sv += v;
        n += 1;
      }
  return {n ? su / n : -1, n ? sv / n : -1};
}

}  // namespace

TEST(Slices, ConventionsAndOrientation) {
  // A hot sphere on the subject's left (RAS x < 0), anterior (y > 0) and superior (z > 0).
  const Geometry g = ras_grid(40, 48, 36, 2, 2, 2);
  const Image3D img = ellipsoid_image(g, 30, 40, 28, 10.0f, {-18, 20, 14}, 5, 100.0f);
  SliceLayers L;
  L.base = &img;
  L.base_max = 100;
  ViewOptions vo;
  vo.centre_ras = Vec3{-18, 20, 14};
  vo.pixel_mm = 1.0;
  const OrthoViews rad = render_orthogonal(L, vo);
  vo.convention = Convention::neurological;
  const OrthoViews neu = render_orthogonal(L, vo);
  const Raster& ax = rad.views[0].image;
  ASSERT_EQ(ax.width, 80);
  ASSERT_EQ(ax.height, 96);
  // Radiological: left of the subject on the right of the image; anterior at the top.
  auto [u, v] = bright_centroid(ax);
  EXPECT_NEAR(u, 40 + 18 - 0.5, 1.0);
  EXPECT_NEAR(v, 48 - 20 - 0.5, 1.0);
  EXPECT_EQ(rad.views[0].left, "R");
  EXPECT_EQ(rad.views[0].right, "L");
  EXPECT_EQ(rad.views[0].top, "A");
  auto [un, vn] = bright_centroid(neu.views[0].image);
  EXPECT_NEAR(un, 40 - 18 - 0.5, 1.0);
  EXPECT_NEAR(vn, v, 1e-9);
  EXPECT_EQ(neu.views[0].left, "L");
  // Coronal: superior at the top; sagittal: anterior on the right, superior at the top.
  auto [cu, cv] = bright_centroid(rad.views[1].image);
  EXPECT_NEAR(cu, 40 + 18 - 0.5, 1.0);
  EXPECT_NEAR(cv, 36 - 14 - 0.5, 1.0);
  EXPECT_EQ(rad.views[1].top, "S");
  auto [su, sv] = bright_centroid(rad.views[2].image);
  EXPECT_NEAR(su, 48 + 20 - 0.5, 1.0);
  EXPECT_NEAR(sv, 36 - 14 - 0.5, 1.0);
  EXPECT_EQ(rad.views[2].left, "P");
  EXPECT_EQ(rad.views[2].right, "A");
  EXPECT_DOUBLE_EQ(rad.views[0].position_mm, 14);
}

TEST(Slices, PhysicalAspectRatioAndStorageOrderIndependence) {
  // Anisotropic voxels (2 x 3 x 4 mm): the views span the physical extent.
  const Geometry g = ras_grid(30, 20, 10, 2, 3, 4);
  const Image3D img = ellipsoid_image(g, 25, 25, 18, 10.0f, {10, -12, 6}, 6, 100.0f);
  SliceLayers L;
  L.base = &img;
  ViewOptions vo;
  vo.pixel_mm = 1.0;
  vo.centre_ras = Vec3{10, -12, 6};
  const OrthoViews a = render_orthogonal(L, vo);
  EXPECT_EQ(a.views[0].image.width, 60);   // x: 30 * 2 mm
  EXPECT_EQ(a.views[0].image.height, 60);  // y: 20 * 3 mm
  EXPECT_EQ(a.views[1].image.height, 40);  // z: 10 * 4 mm
  EXPECT_EQ(a.views[2].image.width, 60);
  // The same object stored LPI (x and z flipped in storage): identical pictures.
  Image3D flipped;
  flipped.geom = g;
  flipped.geom.direction = {1, 0, 0, 0, -1, 0, 0, 0, -1};
  flipped.geom.origin = g.index_to_point({double(g.size[0] - 1), 0, double(g.size[2] - 1)});
  flipped.data.resize(img.data.size());
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        flipped.at(g.size[0] - 1 - i, j, g.size[2] - 1 - k) = img.at(i, j, k);
  L.base = &flipped;
  const OrthoViews b = render_orthogonal(L, vo);
  for (int p = 0; p < 3; ++p) {
    ASSERT_EQ(a.views[p].image.pixels.size(), b.views[p].image.pixels.size());
    int worst = 0;
    for (std::size_t n = 0; n < a.views[p].image.pixels.size(); ++n)
      worst = std::max(worst, std::abs(int(a.views[p].image.pixels[n]) - int(b.views[p].image.pixels[n])));
    EXPECT_LE(worst, 1) << "plane " << p;  // rounding only
  }
  // Default centre: centre of mass of the positive values.
  const Vec3 com = centre_of_mass_ras(img);  // pulled from the ellipsoid's centre towards the hot sphere
  EXPECT_GT(com[0], 0.5);
  EXPECT_LT(com[0], 10);
  EXPECT_LT(com[1], -0.5);
  Image3D point(g, 0.0f);
  point.at(3, 4, 5) = 7.0f;
  const Vec3 p = centre_of_mass_ras(point);
  const Vec3 expect = to_ras(g.index_to_point({3, 4, 5}));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], expect[i], 1e-9);
  ASSERT_TRUE(peak_ras(point).has_value());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR((*peak_ras(point))[i], expect[i], 1e-9);
}

TEST(Slices, ContoursEdgesMaskAndProjection) {
  const Geometry g = ras_grid(32, 32, 32, 2, 2, 2);
  Image3D base(g, 10.0f);
  // Labels: left half 1, right half 2 inside |y| < 20 mm; 0 elsewhere.
  LabelImage labels(g, 0);
  Mask mask(g, 0);
  Image3D cube(g, 0.0f);
  for (std::size_t k = 0; k < 32; ++k)
    for (std::size_t j = 0; j < 32; ++j)
      for (std::size_t i = 0; i < 32; ++i) {
        const Vec3 p = to_ras(g.index_to_point({double(i), double(j), double(k)}));
        if (std::abs(p[1]) < 20) labels.at(i, j, k) = p[0] < 0 ? 1 : 2;
        if (std::abs(p[0]) < 8 && std::abs(p[1]) < 8 && std::abs(p[2]) < 8) mask.at(i, j, k) = 1;
        if (std::abs(p[0]) < 16 && std::abs(p[1]) < 16 && std::abs(p[2]) < 16) cube.at(i, j, k) = 50.0f;
      }
  SliceLayers L;
  L.base = &base;
  L.base_max = 20;
  L.contours = &labels;
  L.contour_colour = {0, 255, 0};
  ViewOptions vo;
  vo.pixel_mm = 2.0;
  vo.centre_ras = Vec3{0, 0, 0};
  const Raster ax = render_orthogonal(L, vo).views[0].image;  // 32 x 32
  ASSERT_EQ(ax.width, 32);
  auto green = [](const std::uint8_t* p) { return p[1] > 150 && p[0] < 120; };
  int n_green = 0, n_green_mid = 0;
  for (int v = 0; v < 32; ++v)
    for (int u = 0; u < 32; ++u)
      if (green(ax.at(u, v))) {
        ++n_green;
        if (u == 15 || u == 16) ++n_green_mid;
      }
  // The boundary between labels 1 and 2 (two pixel columns, 20 rows) and the outer boundary at
  // |y| = 20 mm (rows of 32 pixels, top and bottom).
  EXPECT_EQ(n_green_mid, 2 * 20);
  EXPECT_EQ(n_green, 2 * 20 + 2 * 32 - 4);
  // Edges of a cube: strongest gradients lie on the cube faces (|x| or |y| = 16 mm).
  SliceLayers E;
  E.base = &base;
  E.base_max = 20;
  E.edges = &cube;
  E.edge_colour = {255, 0, 0};
  E.edge_fraction = 0.2;
  const Raster er = render_orthogonal(E, vo).views[0].image;
  int red = 0, red_on_face = 0;
  for (int v = 0; v < 32; ++v)
    for (int u = 0; u < 32; ++u)
      if (er.at(u, v)[0] > 150 && er.at(u, v)[1] < 100) {
        ++red;
        const bool face = (u >= 6 && u <= 9) || (u >= 22 && u <= 25) || (v >= 6 && v <= 9) || (v >= 22 && v <= 25);
        red_on_face += face;
      }
  EXPECT_GT(red, 40);
  EXPECT_EQ(red_on_face, red);
  // Mask: filled translucently inside the 16 mm cube (8 x 8 pixels) with an outline.
  SliceLayers M;
  M.base = &base;
  M.base_max = 20;
  M.mask = &mask;
  M.mask_colour = {0, 0, 255};
  const Raster mr = render_orthogonal(M, vo).views[0].image;
  int blue = 0;
  for (int v = 0; v < 32; ++v)
    for (int u = 0; u < 32; ++u) blue += mr.at(u, v)[2] > mr.at(u, v)[0] + 20;
  EXPECT_EQ(blue, 64);
  // Projection: a hot spot away from the slice centre appears in every view of the projection and
  // not in the slice through the centre.
  Image3D stat(g, 0.0f);
  stat.at(5, 6, 28) = 8.0f;
  SliceLayers S;
  S.base = &cube;
  S.overlay = &stat;
  S.overlay_threshold = 3.0;
  ViewOptions po = vo;
  const auto slice = render_orthogonal(S, po);
  po.projection = true;
  const auto proj = render_orthogonal(S, po);
  for (int p = 0; p < 3; ++p) {
    int hot_slice = 0, hot_proj = 0;
    for (std::size_t n = 0; n < slice.views[p].image.pixels.size(); n += 3) {
      hot_slice += slice.views[p].image.pixels[n] > 200 && slice.views[p].image.pixels[n + 2] < 190;
      hot_proj += proj.views[p].image.pixels[n] > 200 && proj.views[p].image.pixels[n + 2] < 190;
    }
    EXPECT_EQ(hot_slice, 0) << p;
    EXPECT_GE(hot_proj, 1) << p;
  }
}

TEST(Slices, SamplingAndErrors) {
  const Geometry g = ras_grid(4, 4, 4, 1, 1, 1);
  Image3D ramp(g, 0.0f);
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 4; ++j)
      for (std::size_t i = 0; i < 4; ++i) ramp.at(i, j, k) = static_cast<float>(i + 10 * j + 100 * k);
  // Midway between voxels (1,1,1) and (2,2,2): trilinear = mean of the ramp values.
  const Vec3 p = g.index_to_point({1.5, 1.5, 1.5});
  EXPECT_NEAR(sample_linear(ramp, p), 1.5 + 15 + 150, 1e-4);
  EXPECT_TRUE(std::isnan(sample_linear(ramp, g.index_to_point({-0.7, 0, 0}))));
  EXPECT_NEAR(sample_linear(ramp, g.index_to_point({3.4, 0, 0})), 3.0, 1e-6);
  SliceLayers none;
  EXPECT_THROW(render_orthogonal(none), Error);
}
