#include "petpipe/phantom/anatomy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"

namespace petpipe::phantom {

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

void grow_box(Vec3& lo, Vec3& hi, const Vec3& p) {
  for (int a = 0; a < 3; ++a) {
    lo[a] = std::min(lo[a], p[a]);
    hi[a] = std::max(hi[a], p[a]);
  }
}

template <typename T, typename Pred>
void box_of(const Volume<T>& v, Pred inside, Vec3& lo, Vec3& hi) {
  const double inf = std::numeric_limits<double>::infinity();
  lo = {inf, inf, inf};
  hi = {-inf, -inf, -inf};
  std::array<std::size_t, 3> mn{v.geom.size}, mx{0, 0, 0};
  bool any = false;
  for (std::size_t k = 0; k < v.geom.size[2]; ++k)
    for (std::size_t j = 0; j < v.geom.size[1]; ++j)
      for (std::size_t i = 0; i < v.geom.size[0]; ++i)
        if (inside(v.at(i, j, k))) {
          any = true;
          const std::array<std::size_t, 3> idx{i, j, k};
          for (int a = 0; a < 3; ++a) {
            mn[a] = std::min(mn[a], idx[a]);
            mx[a] = std::max(mx[a], idx[a]);
          }
        }
  if (!any) throw Error("anatomy: empty image (no brain voxels)");
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{double((c & 1) ? mx[0] : mn[0]), double((c & 2) ? mx[1] : mn[1]),
                   double((c & 4) ? mx[2] : mn[2])};
    grow_box(lo, hi, to_ras(v.geom.index_to_point(idx)));
  }
}

Mat3 mat_mul(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) {
      double s = 0;
      for (int i = 0; i < 3; ++i) s += a[3 * r + i] * b[3 * i + k];
      c[3 * r + k] = s;
    }
  return c;
}

}  // namespace

Anatomy build_anatomy(const LabelImage& aal, const std::map<int, std::string>& label_names,
                      const Image3D& t1_brain, Image3D t1, const TissueOptions& o) {
  if (!aal.geom.same_grid(t1_brain.geom, 1e-3))
    throw Error("anatomy: the brain template is not on the atlas label grid");
  for (const auto& [v, n] : label_names)
    if (v >= kWhiteMatter && v <= kOtherBrain)
      throw make_error("anatomy: atlas label value ", v, " (", n, ") collides with the tissue classes 201-203");
  Anatomy a;
  a.classes = LabelImage(aal.geom, 0);
  for (std::size_t i = 0; i < aal.data.size(); ++i) {
    const int l = aal.data[i];
    const float t = t1_brain.data[i];
    if (l > 0)
      a.classes.data[i] = l;
    else if (t > 0)
      a.classes.data[i] = t >= o.white_matter_min ? kWhiteMatter : t < o.csf_max ? kCsf : kOtherBrain;
  }
  for (const auto& [v, n] : label_names) a.class_names[v] = n;
  a.class_names[kWhiteMatter] = "white_matter";
  a.class_names[kCsf] = "csf";
  a.class_names[kOtherBrain] = "other_brain";
  box_of(a.classes, [](std::int32_t c) { return c != 0; }, a.brain_min_ras, a.brain_max_ras);
  if (t1.data.empty()) {
    a.head_min_ras = a.brain_min_ras;
    a.head_max_ras = a.brain_max_ras;
  } else {
    box_of(t1, [](float v) { return v > 0; }, a.head_min_ras, a.head_max_ras);
  }
  a.t1 = std::move(t1);
  return a;
}

Geometry box_grid(double v, const Vec3& lo, const Vec3& hi) {
  if (!(v > 0) || !std::isfinite(v)) throw make_error("voxel size must be positive (got ", v, " mm)");
  Geometry g;
  Vec3 first{};
  for (int a = 0; a < 3; ++a) {
    const double i0 = std::floor(lo[a] / v + 1e-6);
    const double i1 = std::ceil(hi[a] / v - 1e-6);
    g.size[a] = static_cast<std::size_t>(i1 - i0) + 1;
    first[a] = i0 * v;
    g.spacing[a] = v;
  }
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  g.origin = from_ras(first);
  return g;
}

Geometry mni_grid(double v, const Geometry& atlas) {
  const double inf = std::numeric_limits<double>::infinity();
  Vec3 lo{inf, inf, inf}, hi{-inf, -inf, -inf};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? atlas.size[0] - 1.0 : 0.0, (c & 2) ? atlas.size[1] - 1.0 : 0.0,
                   (c & 4) ? atlas.size[2] - 1.0 : 0.0};
    grow_box(lo, hi, to_ras(atlas.index_to_point(idx)));
  }
  return box_grid(v, lo, hi);
}

bool Deformation::is_identity() const {
  const std::array<double, 12> id{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  return bumps.empty() && affine == id;
}

Vec3 Deformation::affine_ras(const Vec3& x) const {
  Vec3 y{};
  for (int r = 0; r < 3; ++r)
    y[r] = affine[4 * r] * x[0] + affine[4 * r + 1] * x[1] + affine[4 * r + 2] * x[2] + affine[4 * r + 3];
  return y;
}

Vec3 Deformation::displacement_ras(const Vec3& y) const {
  Vec3 d{0, 0, 0};
  for (const auto& b : bumps) {
    const double r2 = (y[0] - b.centre_ras[0]) * (y[0] - b.centre_ras[0]) +
                      (y[1] - b.centre_ras[1]) * (y[1] - b.centre_ras[1]) +
                      (y[2] - b.centre_ras[2]) * (y[2] - b.centre_ras[2]);
    const double w = std::exp(-r2 / (2 * b.sigma_mm * b.sigma_mm));
    for (int a = 0; a < 3; ++a) d[a] += w * b.amplitude_mm[a];
  }
  return d;
}

Vec3 Deformation::map_ras(const Vec3& x) const {
  const Vec3 y = affine_ras(x);
  const Vec3 d = displacement_ras(y);
  return {y[0] + d[0], y[1] + d[1], y[2] + d[2]};
}

Vec3 Deformation::map_lps(const Vec3& p) const { return from_ras(map_ras(to_ras(p))); }

std::array<double, 12> Deformation::inverse_affine() const {
  const double a = affine[0], b = affine[1], c = affine[2], d = affine[4], e = affine[5], f = affine[6],
               g = affine[8], h = affine[9], i = affine[10];
  const double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (std::abs(det) < 1e-12) throw Error("deformation: singular affine");
  const Mat3 inv{(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det,
                 (f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det,
                 (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det};
  std::array<double, 12> out{};
  for (int r = 0; r < 3; ++r) {
    double t = 0;
    for (int k = 0; k < 3; ++k) {
      out[4 * r + k] = inv[3 * r + k];
      t -= inv[3 * r + k] * affine[4 * k + 3];
    }
    out[4 * r + 3] = t;
  }
  return out;
}

Deformation random_deformation(const WarpOptions& o, const Anatomy& anatomy, Rng& rng) {
  const double rx = rng.uniform(-1, 1) * o.max_rotation_deg * kDeg;
  const double ry = rng.uniform(-1, 1) * o.max_rotation_deg * kDeg;
  const double rz = rng.uniform(-1, 1) * o.max_rotation_deg * kDeg;
  const Mat3 Rx{1, 0, 0, 0, std::cos(rx), -std::sin(rx), 0, std::sin(rx), std::cos(rx)};
  const Mat3 Ry{std::cos(ry), 0, std::sin(ry), 0, 1, 0, -std::sin(ry), 0, std::cos(ry)};
  const Mat3 Rz{std::cos(rz), -std::sin(rz), 0, std::sin(rz), std::cos(rz), 0, 0, 0, 1};
  Mat3 S{1, 0, 0, 0, 1, 0, 0, 0, 1};
  for (int a = 0; a < 3; ++a) S[4 * a] = 1.0 + rng.uniform(-1, 1) * o.max_scale_change;
  S[1] = rng.uniform(-1, 1) * o.max_shear;
  S[2] = rng.uniform(-1, 1) * o.max_shear;
  S[5] = rng.uniform(-1, 1) * o.max_shear;
  const Mat3 A = mat_mul(mat_mul(Rz, mat_mul(Ry, Rx)), S);
  Deformation d;
  // Rotate and scale about the brain centre, then translate.
  Vec3 centre{};
  for (int a = 0; a < 3; ++a) centre[a] = 0.5 * (anatomy.brain_min_ras[a] + anatomy.brain_max_ras[a]);
  for (int r = 0; r < 3; ++r) {
    double t = centre[r] + rng.uniform(-1, 1) * o.max_translation_mm;
    for (int k = 0; k < 3; ++k) {
      d.affine[4 * r + k] = A[3 * r + k];
      t -= A[3 * r + k] * centre[k];
    }
    d.affine[4 * r + 3] = t;
  }
  for (int k = 0; k < o.bumps; ++k) {
    Bump b;
    for (int a = 0; a < 3; ++a)
      b.centre_ras[a] = rng.uniform(anatomy.brain_min_ras[a] + 20, anatomy.brain_max_ras[a] - 20);
    // Random direction, magnitude in [0.5, 1] x amplitude.
    Vec3 dir{rng.normal(), rng.normal(), rng.normal()};
    const double n = std::sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]) + 1e-12;
    const double mag = o.bump_amplitude_mm * rng.uniform(0.5, 1.0);
    for (int a = 0; a < 3; ++a) b.amplitude_mm[a] = mag * dir[a] / n;
    b.sigma_mm = o.bump_sigma_mm * rng.uniform(0.8, 1.2);
    d.bumps.push_back(b);
  }
  return d;
}

Geometry native_grid(double v, const Deformation& d, const Vec3& lo, const Vec3& hi, double margin) {
  Deformation inv;
  inv.affine = d.inverse_affine();
  double maxd = 0;
  for (const auto& b : d.bumps)
    maxd = std::max(maxd, std::sqrt(b.amplitude_mm[0] * b.amplitude_mm[0] + b.amplitude_mm[1] * b.amplitude_mm[1] +
                                    b.amplitude_mm[2] * b.amplitude_mm[2]));
  const double inf = std::numeric_limits<double>::infinity();
  Vec3 nlo{inf, inf, inf}, nhi{-inf, -inf, -inf};
  for (int c = 0; c < 8; ++c) {
    const Vec3 p{(c & 1) ? hi[0] : lo[0], (c & 2) ? hi[1] : lo[1], (c & 4) ? hi[2] : lo[2]};
    grow_box(nlo, nhi, inv.affine_ras(p));
  }
  for (int a = 0; a < 3; ++a) {
    nlo[a] -= margin + maxd * 1.5;
    nhi[a] += margin + maxd * 1.5;
  }
  return box_grid(v, nlo, nhi);
}

float trilinear(const float* data, const Geometry& g, const Vec3& lps) {
  const Vec3 x = g.point_to_index(lps);
  const double fx = std::floor(x[0]), fy = std::floor(x[1]), fz = std::floor(x[2]);
  const long i0 = static_cast<long>(fx), j0 = static_cast<long>(fy), k0 = static_cast<long>(fz);
  const long nx = static_cast<long>(g.size[0]), ny = static_cast<long>(g.size[1]),
             nz = static_cast<long>(g.size[2]);
  if (i0 < -1 || j0 < -1 || k0 < -1 || i0 >= nx || j0 >= ny || k0 >= nz) return 0.0f;
  const double dx = x[0] - fx, dy = x[1] - fy, dz = x[2] - fz;
  double s = 0;
  for (int c = 0; c < 8; ++c) {
    const long i = i0 + (c & 1), j = j0 + ((c >> 1) & 1), k = k0 + ((c >> 2) & 1);
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    const double w = ((c & 1) ? dx : 1 - dx) * (((c >> 1) & 1) ? dy : 1 - dy) * (((c >> 2) & 1) ? dz : 1 - dz);
    s += w * data[static_cast<std::size_t>(i + nx * (j + ny * k))];
  }
  return static_cast<float>(s);
}

float trilinear(const Image3D& image, const Vec3& lps) { return trilinear(image.data.data(), image.geom, lps); }

namespace {

// Calls f(voxel linear index, mni points of the subsamples) for every voxel of grid, in parallel.
// The deformation is evaluated at the voxel centre; subsample offsets follow its affine part.
template <typename F>
void for_each_voxel_samples(const Geometry& grid, const Deformation& d, int sub, F&& f) {
  sub = std::max(1, sub);
  std::vector<Vec3> offsets;  // in native RAS mm, relative to the voxel centre
  for (int c = 0; c < sub; ++c)
    for (int b = 0; b < sub; ++b)
      for (int a = 0; a < sub; ++a) {
        const Vec3 o{(a + 0.5) / sub - 0.5, (b + 0.5) / sub - 0.5, (c + 0.5) / sub - 0.5};
        const Vec3 p0 = to_ras(grid.index_to_point({0, 0, 0}));
        const Vec3 p1 = to_ras(grid.index_to_point(o));
        offsets.push_back({p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]});
      }
  // Offsets through the linear part of the affine.
  std::vector<Vec3> mapped(offsets.size());
  for (std::size_t s = 0; s < offsets.size(); ++s)
    for (int r = 0; r < 3; ++r)
      mapped[s][r] = d.affine[4 * r] * offsets[s][0] + d.affine[4 * r + 1] * offsets[s][1] +
                     d.affine[4 * r + 2] * offsets[s][2];
  const bool identity = d.is_identity();
  const std::size_t nx = grid.size[0], ny = grid.size[1];
  parallel_for(grid.size[2], [&](std::size_t k0, std::size_t k1) {
    std::vector<Vec3> pts(mapped.size());
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < ny; ++j)
        for (std::size_t i = 0; i < nx; ++i) {
          const Vec3 x = to_ras(grid.index_to_point({double(i), double(j), double(k)}));
          const Vec3 c = identity ? x : d.map_ras(x);
          for (std::size_t s = 0; s < mapped.size(); ++s)
            pts[s] = from_ras({c[0] + mapped[s][0], c[1] + mapped[s][1], c[2] + mapped[s][2]});
          f(grid.linear_index(i, j, k), pts);
        }
  });
}

}  // namespace

LabelImage sample_classes(const LabelImage& classes, const Geometry& grid, const Deformation& d, int sub) {
  LabelImage out(grid, 0);
  const Geometry& g = classes.geom;
  for_each_voxel_samples(grid, d, sub, [&](std::size_t idx, const std::vector<Vec3>& pts) {
    std::array<std::int32_t, 128> lab{};
    std::array<int, 128> cnt{};
    int n = 0;
    for (const auto& p : pts) {
      const Vec3 x = g.point_to_index(p);
      const long i = std::lround(x[0]), j = std::lround(x[1]), k = std::lround(x[2]);
      std::int32_t l = 0;
      if (i >= 0 && j >= 0 && k >= 0 && i < long(g.size[0]) && j < long(g.size[1]) && k < long(g.size[2]))
        l = classes.at(std::size_t(i), std::size_t(j), std::size_t(k));
      int m = 0;
      while (m < n && lab[m] != l) ++m;
      if (m == n) {
        if (n == 128) continue;
        lab[n] = l;
        cnt[n++] = 0;
      }
      ++cnt[m];
    }
    int best = 0;
    for (int m = 1; m < n; ++m)
      if (cnt[m] > cnt[best]) best = m;
    out.data[idx] = n ? lab[best] : 0;
  });
  return out;
}

void sample_class_means(const LabelImage& classes, const Geometry& grid, const Deformation& d, int sub,
                        const std::vector<float>& value_by_class, float* out) {
  const Geometry& g = classes.geom;
  for_each_voxel_samples(grid, d, sub, [&](std::size_t idx, const std::vector<Vec3>& pts) {
    double s = 0;
    for (const auto& p : pts) {
      const Vec3 x = g.point_to_index(p);
      const long i = std::lround(x[0]), j = std::lround(x[1]), k = std::lround(x[2]);
      if (i < 0 || j < 0 || k < 0 || i >= long(g.size[0]) || j >= long(g.size[1]) || k >= long(g.size[2])) continue;
      const std::int32_t l = classes.at(std::size_t(i), std::size_t(j), std::size_t(k));
      if (l > 0 && static_cast<std::size_t>(l) < value_by_class.size()) s += value_by_class[static_cast<std::size_t>(l)];
    }
    out[idx] = static_cast<float>(s / static_cast<double>(pts.size()));
  });
}

Image3D sample_image(const Image3D& image, const Geometry& grid, const Deformation& d, int sub) {
  Image3D out(grid, 0.0f);
  for_each_voxel_samples(grid, d, sub, [&](std::size_t idx, const std::vector<Vec3>& pts) {
    double s = 0;
    for (const auto& p : pts) s += trilinear(image, p);
    out.data[idx] = static_cast<float>(s / pts.size());
  });
  return out;
}

}  // namespace petpipe::phantom
