// B-spline free-form registration (register_bspline) on analytic images: a smooth blob texture F and a
// moving image F(psi(y)) with a known smooth psi, so the exact answer is known everywhere:
// moving(x + u(x)) = F(x) when psi(x + u(x)) = x.
#include <gtest/gtest.h>

#include <random>

#include "helpers.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/normalize/register.hpp"

using namespace test_normalize;

namespace {

struct Blob {
  Vec3 c;
  double a;
};

const std::vector<Blob>& blobs() {
  static const std::vector<Blob> b = [] {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> pos(-45, 45), amp(20, 100);
    std::vector<Blob> out;
    while (out.size() < 60) {
      const Vec3 c{pos(rng), pos(rng), pos(rng)};
      if (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] < 45 * 45) out.push_back({c, amp(rng)});
    }
    return out;
  }();
  return b;
}

double texture(const Vec3& p) {
  double v = 0;
  for (const Blob& b : blobs()) {
    const double d2 = (p[0] - b.c[0]) * (p[0] - b.c[0]) + (p[1] - b.c[1]) * (p[1] - b.c[1]) + (p[2] - b.c[2]) * (p[2] - b.c[2]);
    v += b.a * std::exp(-d2 / (2 * 5.0 * 5.0));
  }
  return v;
}

// The known map psi (moving point -> fixed point), amplitude 2.5 mm.
Vec3 psi(const Vec3& y) {
  const double k = 2 * M_PI;
  return {y[0] + 2.5 * std::sin(k * y[1] / 90.0) * std::cos(k * y[2] / 110.0),
          y[1] + 2.5 * std::sin(k * y[2] / 100.0 + 0.5) * std::cos(k * y[0] / 120.0),
          y[2] + 2.5 * std::sin(k * y[0] / 95.0 + 1.0) * std::cos(k * y[1] / 105.0)};
}

Geometry cube(double spacing, std::size_t n, double shift = 0) {
  Geometry g;
  g.size = {n, n, n};
  g.spacing = {spacing, spacing, spacing};
  const double o = -0.5 * spacing * double(n - 1) + shift;
  g.origin = {o, o, o};
  return g;
}

// image(y) = texture(psi(to_fixed(y))) on grid g.
template <typename F>
Image3D sample(const Geometry& g, F&& to_texture) {
  Image3D img(g, 0.0f);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        img.at(i, j, k) = float(texture(to_texture(g.index_to_point({double(i), double(j), double(k)}))));
  return img;
}

// Mean |psi(A(x + u(x))) - x| (A: moving point -> texture pre-image, identity by default) over the
// voxels of `fixed` inside the central 40 mm ball (where the texture lives).
template <typename F>
double mean_error(const DisplacementField& u, const Image3D& fixed, F&& back) {
  double s = 0;
  std::size_t n = 0;
  const Geometry& g = fixed.geom;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 x = g.index_to_point({double(i), double(j), double(k)});
        if (x[0] * x[0] + x[1] * x[1] + x[2] * x[2] > 40 * 40) continue;
        s += distance(back(u.apply(x)), x);
        ++n;
      }
  return s / double(n);
}

BSplineOptions quick() {
  BSplineOptions o;
  o.shrink = {2, 1};
  o.grid_mm = {40, 20};
  o.iterations = {40, 40};
  o.smoothness_weight = 0.0;
  return o;
}

struct Case {
  Image3D fixed, moving;
};
const Case& analytic() {
  static const Case c = [] {
    Case c;
    c.fixed = sample(cube(2.0, 56), [](const Vec3& x) { return x; });
    c.moving = sample(cube(2.0, 56), [](const Vec3& y) { return psi(y); });
    return c;
  }();
  return c;
}

}  // namespace

TEST(NormalizeBSpline, RecoversKnownSmoothDeformation) {
  const Case& c = analytic();
  const BSplineResult r = register_bspline(c.fixed, c.moving, quick());
  const double before = mean_error(DisplacementField(c.fixed.geom), c.fixed, psi);
  const double after = mean_error(r.field, c.fixed, psi);
  std::printf("mean error %.3f mm -> %.3f mm, RMS difference %.2f -> %.2f, %d iterations\n", before, after,
              r.initial_rms, r.final_rms, r.iterations);
  EXPECT_GT(before, 1.5);
  EXPECT_LT(after, 0.25);
  EXPECT_LT(r.final_rms, 0.3 * r.initial_rms);
}

TEST(NormalizeBSpline, ResultDoesNotDependOnThreadTiming) {
  const Case& c = analytic();
  BSplineOptions o = quick();
  o.iterations = {10, 10};
  const BSplineResult a = register_bspline(c.fixed, c.moving, o);
  const BSplineResult b = register_bspline(c.fixed, c.moving, o);
  ASSERT_EQ(a.field.data.size(), b.field.data.size());
  EXPECT_TRUE(a.field.data == b.field.data);
  EXPECT_EQ(a.iterations, b.iterations);
}

TEST(NormalizeBSpline, MovingImageOnItsOwnGridThroughAnAffine) {
  // The moving image on a coarser, shifted grid, sampled through a rotation + scaling A (fixed point
  // x -> moving point A(x + u(x))): moving2(z) = F(psi(A^-1 z)), so the same u is the answer.
  const Case& c = analytic();
  const AffineMap A = rigid(4, -3, 5, {3, -2, 4}, 1.04);
  const AffineMap Ainv = A.inverse();
  const Image3D moving2 = sample(cube(2.5, 48, 1.0), [&](const Vec3& z) { return psi(Ainv.apply(z)); });
  const Geometry out = cube(3.0, 38);
  const BSplineResult r = register_bspline(c.fixed, moving2, quick(), nullptr, &out, &A);
  EXPECT_TRUE(r.field.geom.same_grid(out));
  const double after = mean_error(r.field, c.fixed, psi);
  std::printf("through an affine, field on a 3 mm grid: mean error %.3f mm\n", after);
  EXPECT_LT(after, 0.3);
}

TEST(NormalizeBSpline, SmoothnessWeightShrinksTheFieldGradient) {
  const Case& c = analytic();
  auto roughness = [&](const DisplacementField& u) {  // mean |du/dx_i| by finite differences
    double s = 0;
    std::size_t n = 0;
    const auto& d = u.geom.size;
    for (std::size_t v = 0; v + 1 < d[0] * d[1] * d[2]; ++v) {
      if ((v % d[0]) + 1 >= d[0]) continue;
      for (int q = 0; q < 3; ++q) s += std::abs(u.data[3 * (v + 1) + q] - u.data[3 * v + q]);
      ++n;
    }
    return s / double(n);
  };
  BSplineOptions o = quick();
  const double free = roughness(register_bspline(c.fixed, c.moving, o).field);
  o.smoothness_weight = 1e4;
  const double stiff = roughness(register_bspline(c.fixed, c.moving, o).field);
  std::printf("mean |du| per voxel step: weight 0 %.4f mm, weight 1e4 %.4f mm\n", free, stiff);
  EXPECT_LT(stiff, 0.5 * free);
}

TEST(NormalizeBSpline, BadArgumentsAreErrors) {
  const Case& c = analytic();
  BSplineOptions o = quick();
  o.iterations = {10};
  EXPECT_THROW(register_bspline(c.fixed, c.moving, o), petpipe::Error);
  o = quick();
  o.grid_mm = {40, 1.0};  // finer than a voxel
  EXPECT_THROW(register_bspline(c.fixed, c.moving, o), petpipe::Error);
  const Image3D other(cube(2.5, 40), 1.0f);
  EXPECT_THROW(register_bspline(c.fixed, other, quick()), petpipe::Error);  // different grid, no affine
  Mask m(cube(3.0, 20), 1);
  EXPECT_THROW(register_bspline(c.fixed, c.moving, quick(), &m), petpipe::Error);
  Geometry rotated = cube(3.0, 38);
  rotated.direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};
  EXPECT_THROW(register_bspline(c.fixed, c.moving, quick(), nullptr, &rotated), petpipe::Error);
}
