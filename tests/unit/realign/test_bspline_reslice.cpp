// Cubic B-spline reslicing (modules/realign/src/bspline_reslice.cpp) against ITK's own cubic B-spline
// interpolator in ITK's ResampleImageFilter (an independent implementation), and against analytic
// cases: whole-voxel shifts reproduce the samples, and a quadratic field is reproduced away from the
// borders.
#include <gtest/gtest.h>

#include <itkBSplineInterpolateImageFunction.h>
#include <itkEuler3DTransform.h>
#include <itkImage.h>
#include <itkResampleImageFilter.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

#include "petpipe/realign/realign.hpp"

using namespace petpipe;
using namespace petpipe::realign;

namespace {

Geometry oblique_geometry() {
  Geometry g;
  g.size = {23, 19, 17};
  g.spacing = {2.0, 2.5, 3.0};
  g.origin = {40.0, 30.0, -20.0};
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};  // as a radiological NIfTI read into LPS
  return g;
}

// Smooth blobs plus noise: values with structure at every scale.
std::vector<float> test_volume(const Geometry& g) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<float> v(g.voxel_count());
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double x = i / 22.0 - 0.5, y = j / 18.0 - 0.4, z = k / 16.0 - 0.5;
        v[g.linear_index(i, j, k)] =
            static_cast<float>(5.0 * std::exp(-(x * x + y * y + z * z) / 0.05) + 2.0 * std::sin(9 * x) * std::cos(7 * z)) +
            noise(rng);
      }
  return v;
}

FrameMotion rigid(double tx, double ty, double tz, double rx, double ry, double rz) {
  FrameMotion m;
  m.tx_mm = tx;
  m.ty_mm = ty;
  m.tz_mm = tz;
  m.rx_deg = rx;
  m.ry_deg = ry;
  m.rz_deg = rz;
  return m;
}

MotionResult one_frame_motion(const Geometry& g, const FrameMotion& m) {
  MotionResult r;
  r.center_lps = g.index_to_point({0.5 * (g.size[0] - 1.0), 0.5 * (g.size[1] - 1.0), 0.5 * (g.size[2] - 1.0)});
  r.frames = {m};
  return r;
}

DynamicImage one_frame(const Geometry& g, const std::vector<float>& v) {
  DynamicImage d;
  d.geom = g;
  d.frames.start_s = {0};
  d.frames.duration_s = {60};
  d.data = v;
  return d;
}

std::vector<float> itk_bspline(const Geometry& g, const std::vector<float>& v, const MotionResult& m) {
  using ImageType = itk::Image<float, 3>;
  auto img = ImageType::New();
  ImageType::RegionType region;
  ImageType::SizeType size;
  ImageType::SpacingType spacing;
  ImageType::PointType origin;
  ImageType::DirectionType direction;
  for (int a = 0; a < 3; ++a) {
    size[a] = g.size[a];
    spacing[a] = g.spacing[a];
    origin[a] = g.origin[a];
    for (int c = 0; c < 3; ++c) direction(a, c) = g.direction[3 * a + c];
  }
  region.SetSize(size);
  img->SetRegions(region);
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(direction);
  img->Allocate();
  std::copy(v.begin(), v.end(), img->GetBufferPointer());
  auto t = itk::Euler3DTransform<double>::New();
  itk::Euler3DTransform<double>::InputPointType c;
  for (int a = 0; a < 3; ++a) c[a] = m.center_lps[a];
  t->SetCenter(c);
  itk::Euler3DTransform<double>::ParametersType p(6);
  const double r = std::numbers::pi / 180.0;
  const auto& f = m.frames[0];
  p[0] = f.rx_deg * r;
  p[1] = f.ry_deg * r;
  p[2] = f.rz_deg * r;
  p[3] = f.tx_mm;
  p[4] = f.ty_mm;
  p[5] = f.tz_mm;
  t->SetParameters(p);
  auto interp = itk::BSplineInterpolateImageFunction<ImageType, double, double>::New();
  interp->SetSplineOrder(3);
  auto rs = itk::ResampleImageFilter<ImageType, ImageType, double>::New();
  rs->SetInput(img);
  rs->SetTransform(t);
  rs->SetInterpolator(interp);
  rs->SetOutputParametersFromImage(img);
  rs->SetDefaultPixelValue(0.0f);
  rs->Update();
  const float* o = rs->GetOutput()->GetBufferPointer();
  return std::vector<float>(o, o + g.voxel_count());
}

}  // namespace

TEST(RealignBspline, MatchesItkCubicBsplineResampling) {
  const Geometry g = oblique_geometry();
  const auto v = test_volume(g);
  for (const FrameMotion& fm : {rigid(1.3, -2.1, 0.7, 3.0, -2.0, 5.0), rigid(-4.2, 3.3, 6.1, -8.0, 4.5, -3.5),
                                rigid(0.4, 0.0, 0.0, 0.0, 0.0, 0.0)}) {
    const MotionResult m = one_frame_motion(g, fm);
    DynamicImage d = one_frame(g, v);
    reslice_frames(d, m, Interpolation::bspline);
    const auto ref = itk_bspline(g, v, m);
    double max_diff = 0, max_value = 0;
    std::size_t zeros_ours = 0, zeros_itk = 0, mismatched_outside = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      max_value = std::max(max_value, std::abs(static_cast<double>(ref[i])));
      // A point exactly on the inside/outside boundary may be decided differently by rounding; count
      // such points separately (there should be almost none).
      if ((ref[i] == 0.0f) != (d.data[i] == 0.0f)) {
        ++mismatched_outside;
        continue;
      }
      zeros_ours += d.data[i] == 0.0f;
      zeros_itk += ref[i] == 0.0f;
      max_diff = std::max(max_diff, std::abs(static_cast<double>(d.data[i]) - ref[i]));
    }
    EXPECT_LT(max_diff, 1e-4 * max_value) << "largest difference " << max_diff;
    EXPECT_LE(mismatched_outside, ref.size() / 1000);
    if (fm.rx_deg != 0) {
      EXPECT_GT(zeros_itk, 0u);  // the test reaches outside the image
    }
    std::printf("motion (%.1f %.1f %.1f mm, %.1f %.1f %.1f deg): largest difference to ITK %.2e (values up to %.2f), "
                "%zu of %zu outside, %zu decided differently\n",
                fm.tx_mm, fm.ty_mm, fm.tz_mm, fm.rx_deg, fm.ry_deg, fm.rz_deg, max_diff, max_value, zeros_itk, ref.size(),
                mismatched_outside);
    EXPECT_EQ(zeros_ours, zeros_itk);
  }
}

TEST(RealignBspline, WholeVoxelShiftReproducesSamples) {
  // An interpolating spline returns the samples themselves at integer positions.
  Geometry g = oblique_geometry();
  g.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  const auto v = test_volume(g);
  DynamicImage d = one_frame(g, v);
  // out(x) = in(x + t): t = +2 voxels along y (2 x 2.5 mm).
  reslice_frames(d, one_frame_motion(g, rigid(0, 5.0, 0, 0, 0, 0)), Interpolation::bspline);
  double max_diff = 0;
  std::size_t outside = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const float out = d.data[g.linear_index(i, j, k)];
        if (j + 2 < g.size[1])
          max_diff = std::max(max_diff, std::abs(static_cast<double>(out) - v[g.linear_index(i, j + 2, k)]));
        else
          outside += out == 0.0f;
      }
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_EQ(outside, 2 * g.size[0] * g.size[2]);
}

TEST(RealignBspline, ReproducesAQuadraticFieldAwayFromTheBorders) {
  const Geometry g = oblique_geometry();
  auto field = [](const Vec3& p) { return 10.0 + 0.02 * p[0] - 0.03 * p[1] + 0.001 * p[0] * p[2] + 0.0005 * p[1] * p[1]; };
  std::vector<float> v(g.voxel_count());
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        v[g.linear_index(i, j, k)] = static_cast<float>(field(g.index_to_point({double(i), double(j), double(k)})));
  const FrameMotion fm = rigid(1.7, -0.9, 2.3, 4.0, -3.0, 6.0);
  const MotionResult m = one_frame_motion(g, fm);
  DynamicImage d = one_frame(g, v);
  reslice_frames(d, m, Interpolation::bspline);
  double max_err = 0;
  std::size_t checked = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 x = g.index_to_point({double(i), double(j), double(k)});
        const Vec3 y = transform_point(fm, m.center_lps, x);
        const Vec3 u = g.point_to_index(y);
        bool deep = true;  // at least 6 voxels from every border: the mirror boundary's effect has decayed
        for (int a = 0; a < 3; ++a) deep = deep && u[a] >= 6 && u[a] <= static_cast<double>(g.size[a]) - 7;
        if (!deep) continue;
        ++checked;
        max_err = std::max(max_err, std::abs(d.data[g.linear_index(i, j, k)] - field(y)));
      }
  std::printf("quadratic field: %zu interior points, largest error %.2e\n", checked, max_err);
  ASSERT_GT(checked, 100u);
  EXPECT_LT(max_err, 2e-3);
}
