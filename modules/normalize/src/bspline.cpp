// Free-form deformation (Rueckert et al. 1999): the displacement is a sum of cubic B-spline fields on
// control lattices from coarse to fine (each pyramid level adds a finer lattice on top of the
// previous ones, which stay fixed), fitted by L-BFGS to the mean squared difference between the
// fixed image and the warped moving image at points jittered inside the foreground (or mask) voxels.
// The cost and its gradient visit each point's 4 x 4 x 4 control points; the final dense field is
// evaluated separably (one axis at a time). Plain C++ like demons.cpp.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <numeric>
#include <random>

#include "grid.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/normalize/register.hpp"

namespace petpipe::normalize {

namespace {

using Dims = std::array<std::size_t, 3>;

// One axis of a grid against one lattice: for each voxel the first of its 4 control points and the
// 4 cubic B-spline weights.
struct Axis {
  std::vector<std::size_t> first;
  std::vector<std::array<double, 4>> w;
};

// Control lattice: control point p (0-based) sits at base-grid index (p - 1) * h along each axis;
// coefficients are displacements (LPS mm), 3 per point, x fastest.
struct Lattice {
  Dims n{};
  double h = 1.0;  // control spacing in base-grid voxels
  std::vector<double> c;
  std::size_t points() const { return n[0] * n[1] * n[2]; }
};

Lattice make_lattice(const Dims& base, double h) {
  Lattice L;
  L.h = h;
  for (int a = 0; a < 3; ++a) L.n[a] = static_cast<std::size_t>(std::floor((double(base[a]) - 1) / h + 1e-9)) + 4;
  L.c.assign(3 * L.points(), 0.0);
  return L;
}

// Control cell and cubic B-spline weights of lattice L at base-grid index t (one axis).
inline std::size_t spline_weights(const Lattice& L, int a, double t, double w[4]) {
  const double s = t / L.h;
  const double cell = std::clamp(std::floor(s), 0.0, double(L.n[a] - 4));
  const double f = s - cell, g = 1.0 - f;
  w[0] = g * g * g / 6.0;
  w[1] = (3.0 * f * f * f - 6.0 * f * f + 4.0) / 6.0;
  w[2] = (-3.0 * f * f * f + 3.0 * f * f + 3.0 * f + 1.0) / 6.0;
  w[3] = f * f * f / 6.0;
  return static_cast<std::size_t>(cell);
}

// Voxels 0..count-1 of an axis lie at base-grid index t0 + dt * i.
Axis make_axis(std::size_t count, double t0, double dt, const Lattice& L, int a) {
  Axis ax;
  ax.first.resize(count);
  ax.w.resize(count);
  for (std::size_t i = 0; i < count; ++i) ax.first[i] = spline_weights(L, a, t0 + dt * double(i), ax.w[i].data());
  return ax;
}

// The three axes of grid `g` against lattice L defined on the base grid `base` (same direction).
std::array<Axis, 3> make_axes(const Geometry& g, const Geometry& base, const Lattice& L) {
  const detail::IndexMap to_base(base);
  const detail::PointMap from_g(g);
  const Vec3 o = to_base(from_g(0, 0, 0));
  std::array<Axis, 3> axes;
  for (int a = 0; a < 3; ++a) {
    double idx[3] = {0, 0, 0};
    idx[a] = 1;
    const Vec3 p = to_base(from_g(idx[0], idx[1], idx[2]));
    axes[a] = make_axis(g.size[a], o[a], p[a] - o[a], L, a);
  }
  return axes;
}

// u += B(L) on the grid of the axes (3 interleaved floats per voxel).
void evaluate_add(const Lattice& L, const std::array<Axis, 3>& A, const Dims& d, std::vector<float>& u) {
  const std::size_t nx = L.n[0], ny = L.n[1];
  std::vector<double> t1(3 * nx * ny * d[2]);
  parallel_for(d[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k) {
      const std::size_t cz = A[2].first[k];
      const auto& w = A[2].w[k];
      for (std::size_t cy = 0; cy < ny; ++cy)
        for (std::size_t cx = 0; cx < nx; ++cx)
          for (int q = 0; q < 3; ++q) {
            double s = 0;
            for (int c = 0; c < 4; ++c) s += w[c] * L.c[3 * (((cz + c) * ny + cy) * nx + cx) + q];
            t1[3 * ((k * ny + cy) * nx + cx) + q] = s;
          }
    }
  });
  std::vector<double> t2(3 * nx * d[1] * d[2]);
  parallel_for(d[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < d[1]; ++j) {
        const std::size_t cy = A[1].first[j];
        const auto& w = A[1].w[j];
        for (std::size_t cx = 0; cx < nx; ++cx)
          for (int q = 0; q < 3; ++q) {
            double s = 0;
            for (int b = 0; b < 4; ++b) s += w[b] * t1[3 * ((k * ny + cy + b) * nx + cx) + q];
            t2[3 * ((k * d[1] + j) * nx + cx) + q] = s;
          }
      }
  });
  parallel_for(d[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < d[1]; ++j) {
        const double* row = &t2[3 * (k * d[1] + j) * nx];
        float* out = &u[3 * (k * d[1] + j) * d[0]];
        for (std::size_t i = 0; i < d[0]; ++i) {
          const std::size_t cx = A[0].first[i];
          const auto& w = A[0].w[i];
          for (int q = 0; q < 3; ++q) {
            double s = 0;
            for (int a = 0; a < 4; ++a) s += w[a] * row[3 * (cx + a) + q];
            out[3 * i + q] += static_cast<float>(s);
          }
        }
      }
  });
}

// The 64 control points and weights of the tensor-product spline at base-grid point t.
struct Support {
  std::size_t cell[3];
  double w[3][4];
  Support(const Lattice& L, const double t[3]) {
    for (int a = 0; a < 3; ++a) cell[a] = spline_weights(L, a, t[a], w[a]);
  }
  // body(control point index, weight) for the 64 points
  template <typename F>
  void each(const Lattice& L, F&& body) const {
    for (int c = 0; c < 4; ++c)
      for (int b = 0; b < 4; ++b) {
        const double wyz = w[1][b] * w[2][c];
        const std::size_t row = ((cell[2] + c) * L.n[1] + cell[1] + b) * L.n[0] + cell[0];
        for (int a = 0; a < 4; ++a) body(row + a, wyz * w[0][a]);
      }
  }
};

inline void displacement_at(const Lattice& L, const Support& sup, double out[3]) {
  out[0] = out[1] = out[2] = 0;
  sup.each(L, [&](std::size_t p, double w) {
    out[0] += w * L.c[3 * p];
    out[1] += w * L.c[3 * p + 1];
    out[2] += w * L.c[3 * p + 2];
  });
}

// Membrane energy of the lattice: mean over lattice edges of |c_p - c_q|^2 / (h mm)^2 (the squared
// displacement gradient, dimensionless); adds weight x its gradient to `grad`.
double membrane(const Lattice& L, double h_mm, double weight, std::vector<double>* grad) {
  if (weight <= 0) return 0.0;
  const std::size_t st[3] = {1, L.n[0], L.n[0] * L.n[1]};
  std::size_t edges = 0;
  for (int a = 0; a < 3; ++a) edges += (L.n[a] - 1) * L.points() / L.n[a];
  const double scale = weight / (double(edges) * h_mm * h_mm);
  double e = 0;
  for (std::size_t z = 0; z < L.n[2]; ++z)
    for (std::size_t y = 0; y < L.n[1]; ++y)
      for (std::size_t x = 0; x < L.n[0]; ++x) {
        const std::size_t p = x + L.n[0] * (y + L.n[1] * z);
        const std::size_t idx[3] = {x, y, z};
        for (int a = 0; a < 3; ++a) {
          if (idx[a] + 1 >= L.n[a]) continue;
          const std::size_t q = p + st[a];
          for (int c = 0; c < 3; ++c) {
            const double diff = L.c[3 * p + c] - L.c[3 * q + c];
            e += diff * diff;
            if (grad) {
              (*grad)[3 * p + c] += 2.0 * scale * diff;
              (*grad)[3 * q + c] -= 2.0 * scale * diff;
            }
          }
        }
      }
  return scale * e;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// One pyramid level: the fixed image, the moving image with its gradient (4 interleaved values per
// voxel) and the sample points of the cost: continuous positions (level voxel index) jittered inside
// their voxels, with the fixed value there and the displacement of the coarser levels. Jitter and
// interpolating the fixed image too matter: with both images sampled at voxel centres the cost
// favours grid-aligned displacements (the moving image is then the only one blurred by interpolation).
struct Level {
  Dims md{};                  // moving grid of this level
  std::vector<float> moving4;
  std::vector<float> pos;     // 3 per sample, fixed level voxel index
  std::vector<float> qbase;   // 3 per sample, moving level voxel index at zero displacement
  std::vector<float> fixed;   // 1 per sample
  std::vector<float> u_prev;  // 3 per sample
  double lin[3][3]{};         // displacement (fixed space, mm) -> moving level index displacement
  double t0[3]{}, dt[3]{};    // level index -> base-grid index, per axis
  std::size_t size() const { return fixed.size(); }
  void base_index(std::size_t s, double t[3]) const {
    for (int a = 0; a < 3; ++a) t[a] = t0[a] + dt[a] * pos[3 * s + a];
  }
};

struct Evaluation {
  double value = 0;         // mean squared difference + regulariser
  double msd = 0;           // mean squared difference alone
  std::size_t outside = 0;  // samples mapped outside the moving image
};

Evaluation evaluate_cost(const Level& lv, const Lattice& L, double h_mm, double weight, std::vector<double>* grad) {
  const double inv_n = 1.0 / double(lv.size());
  if (grad) grad->assign(L.c.size(), 0.0);
  // Per-chunk partial sums, added in chunk order afterwards: the result does not depend on thread
  // timing (L-BFGS would otherwise follow a slightly different path from run to run).
  struct Partial {
    double sse = 0;
    std::size_t outside = 0;
    std::vector<double> grad;
  };
  std::map<std::size_t, Partial> partials;
  std::mutex mx;
  parallel_for(lv.size(), [&](std::size_t b, std::size_t e) {
    double sse = 0;
    std::size_t outside = 0;
    std::vector<double> local(grad ? L.c.size() : 0, 0.0);
    for (std::size_t s = b; s < e; ++s) {
      double t[3];
      lv.base_index(s, t);
      const Support sup(L, t);
      double du[3];
      displacement_at(L, sup, du);
      for (int c = 0; c < 3; ++c) du[c] += lv.u_prev[3 * s + c];
      double q[3];
      for (int r = 0; r < 3; ++r)
        q[r] = lv.qbase[3 * s + r] + lv.lin[r][0] * du[0] + lv.lin[r][1] * du[1] + lv.lin[r][2] * du[2];
      float m4[4] = {0, 0, 0, 0};
      if (!detail::trilinear(lv.moving4.data(), lv.md, 4, q[0], q[1], q[2], m4, false)) ++outside;
      const double r = double(lv.fixed[s]) - m4[0];
      sse += r * r;
      if (grad) {
        const double g[3] = {-2.0 * inv_n * r * m4[1], -2.0 * inv_n * r * m4[2], -2.0 * inv_n * r * m4[3]};
        sup.each(L, [&](std::size_t p, double w) {
          local[3 * p] += w * g[0];
          local[3 * p + 1] += w * g[1];
          local[3 * p + 2] += w * g[2];
        });
      }
    }
    std::lock_guard<std::mutex> lock(mx);
    partials[b] = Partial{sse, outside, std::move(local)};
  }, 4096);
  Evaluation ev;
  for (const auto& [b, part] : partials) {
    ev.msd += part.sse;
    ev.outside += part.outside;
    if (grad)
      for (std::size_t q = 0; q < part.grad.size(); ++q) (*grad)[q] += part.grad[q];
  }
  ev.msd *= inv_n;
  ev.value = ev.msd + membrane(L, h_mm, weight, grad);
  return ev;
}

}  // namespace

BSplineResult register_bspline(const Image3D& fixed, const Image3D& moving, const BSplineOptions& o,
                               const Mask* mask, const Geometry* field_geom, const AffineMap* moving_affine) {
  if (!moving_affine && !fixed.geom.same_grid(moving.geom))
    throw Error("B-spline registration: without an affine the moving image must be on the fixed grid");
  const AffineMap affine = moving_affine ? *moving_affine : AffineMap{};
  if (mask && !mask->geom.same_grid(fixed.geom))
    throw Error("B-spline registration: the mask must be on the fixed grid");
  const std::size_t levels = o.shrink.size();
  if (levels == 0 || o.iterations.size() != levels || o.grid_mm.size() != levels)
    throw Error("B-spline registration: one iteration count and one control spacing per pyramid level are needed");
  const double base = *std::min_element(fixed.geom.spacing.begin(), fixed.geom.spacing.end());
  for (double gmm : o.grid_mm)
    if (!(gmm >= base)) throw Error("B-spline registration: the control-point spacing must be at least one voxel");
  const double thr_f = o.foreground_fraction * detail::quantile(fixed.data, 0.99);

  BSplineResult result;
  std::vector<Lattice> lattices;
  for (std::size_t l = 0; l < levels; ++l) {
    const auto t0 = std::chrono::steady_clock::now();
    const double sp = base * std::max(1, o.shrink[l]);
    Level lv;
    const Geometry g = o.shrink[l] > 1 ? regrid(fixed.geom, sp) : fixed.geom;
    const Dims fd = g.size;
    const double sigma_img = o.shrink[l] > 1 ? 0.5 * sp : 0.0;
    const Image3D f = detail::smooth_and_resample(fixed, g, sigma_img);
    const Geometry mg = o.shrink[l] > 1 ? regrid(moving.geom, sp) : moving.geom;
    const Image3D m = detail::smooth_and_resample(moving, mg, sigma_img);
    lv.md = mg.size;
    const std::size_t n = g.voxel_count();
    {
      // moving intensities and their gradient with respect to the displacement u of a fixed point x
      // (the moving image is sampled at affine(x + u)): affine.matrix^T grad M
      const std::vector<float> gm = detail::gradient(m.data, mg);
      const std::size_t mn = mg.voxel_count();
      lv.moving4.resize(4 * mn);
      for (std::size_t v = 0; v < mn; ++v) {
        lv.moving4[4 * v] = m.data[v];
        for (int c = 0; c < 3; ++c)
          lv.moving4[4 * v + 1 + c] = float(affine.matrix[c] * gm[3 * v] + affine.matrix[3 + c] * gm[3 * v + 1] +
                                            affine.matrix[6 + c] * gm[3 * v + 2]);
      }
    }
    std::vector<std::uint32_t> voxels;
    if (mask) {
      Image3D mf(fixed.geom, 0.0f);
      for (std::size_t v = 0; v < mf.data.size(); ++v) mf.data[v] = mask->data[v] ? 1.0f : 0.0f;
      const Image3D ml = detail::smooth_and_resample(mf, g, sigma_img);
      for (std::size_t v = 0; v < n; ++v)
        if (ml.data[v] > 0.25f) voxels.push_back(static_cast<std::uint32_t>(v));
    } else {
      for (std::size_t v = 0; v < n; ++v)
        if (f.data[v] >= thr_f) voxels.push_back(static_cast<std::uint32_t>(v));
    }
    std::mt19937 rng(1234u + unsigned(l));  // reproducible subset and jitter
    if (o.max_points > 0 && voxels.size() > o.max_points) {
      std::shuffle(voxels.begin(), voxels.end(), rng);
      voxels.resize(o.max_points);
      std::sort(voxels.begin(), voxels.end());
    }
    if (voxels.size() < 64) throw Error("B-spline registration: fewer than 64 voxels in the cost");
    std::uniform_real_distribution<float> jitter(-0.5f, 0.5f);
    lv.pos.resize(3 * voxels.size());
    lv.fixed.resize(voxels.size());
    for (std::size_t s = 0; s < voxels.size(); ++s) {
      const std::size_t v = voxels[s];
      const std::size_t idx[3] = {v % fd[0], (v / fd[0]) % fd[1], v / (fd[0] * fd[1])};
      for (int a = 0; a < 3; ++a)
        lv.pos[3 * s + a] = std::clamp(float(idx[a]) + jitter(rng), 0.0f, float(fd[a] - 1));
      float fv = 0;
      detail::trilinear(f.data.data(), fd, 1, lv.pos[3 * s], lv.pos[3 * s + 1], lv.pos[3 * s + 2], &fv, true);
      lv.fixed[s] = fv;
    }
    const detail::PointMap fixed_point(g);
    const detail::IndexMap moving_index(mg);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        double v = 0;  // (index map of mg, linear part) x affine.matrix
        for (int k = 0; k < 3; ++k) v += moving_index.m[r][k] * affine.matrix[3 * k + c];
        lv.lin[r][c] = v;
      }
    lv.qbase.resize(lv.pos.size());
    for (std::size_t s = 0; s < lv.size(); ++s) {
      const Vec3 q = moving_index(affine.apply(fixed_point(lv.pos[3 * s], lv.pos[3 * s + 1], lv.pos[3 * s + 2])));
      for (int a = 0; a < 3; ++a) lv.qbase[3 * s + a] = float(q[a]);
    }
    {
      const detail::IndexMap to_base(fixed.geom);
      const detail::PointMap from_g(g);
      const Vec3 o0 = to_base(from_g(0, 0, 0));
      for (int a = 0; a < 3; ++a) {
        double e[3] = {0, 0, 0};
        e[a] = 1;
        lv.t0[a] = o0[a];
        lv.dt[a] = to_base(from_g(e[0], e[1], e[2]))[a] - o0[a];
      }
    }
    lv.u_prev.assign(3 * lv.size(), 0.0f);
    for (const Lattice& P : lattices)
      for (std::size_t s = 0; s < lv.size(); ++s) {
        double t[3], du[3];
        lv.base_index(s, t);
        displacement_at(P, Support(P, t), du);
        for (int c = 0; c < 3; ++c) lv.u_prev[3 * s + c] += float(du[c]);
      }

    Lattice L = make_lattice(fixed.geom.size, o.grid_mm[l] / base);
    const double h_mm = o.grid_mm[l];
    if (l == 0) {
      Lattice zero = L;
      result.initial_rms = std::sqrt(evaluate_cost(lv, zero, h_mm, 0.0, nullptr).msd);
    }

    // L-BFGS with backtracking (Armijo) line search; steps limited to one level voxel per iteration.
    const int memory = 7;
    std::deque<std::pair<std::vector<double>, std::vector<double>>> hist;  // (s, y)
    std::vector<double> grad;
    Evaluation cur = evaluate_cost(lv, L, h_mm, o.smoothness_weight, &grad);
    int evaluations = 1;
    const double start_msd = cur.msd;
    int it = 0, stalls = 0;
    for (; it < o.iterations[l]; ++it) {
      std::vector<double> dir(grad.size());
      for (std::size_t q = 0; q < grad.size(); ++q) dir[q] = -grad[q];
      if (!hist.empty()) {
        std::vector<double> alpha(hist.size());
        for (std::size_t h = hist.size(); h-- > 0;) {
          alpha[h] = dot(hist[h].first, dir) / dot(hist[h].second, hist[h].first);
          for (std::size_t q = 0; q < dir.size(); ++q) dir[q] -= alpha[h] * hist[h].second[q];
        }
        const double gamma = dot(hist.back().first, hist.back().second) / dot(hist.back().second, hist.back().second);
        for (auto& x : dir) x *= gamma;
        for (std::size_t h = 0; h < hist.size(); ++h) {
          const double beta = dot(hist[h].second, dir) / dot(hist[h].second, hist[h].first);
          for (std::size_t q = 0; q < dir.size(); ++q) dir[q] += (alpha[h] - beta) * hist[h].first[q];
        }
      }
      double slope = dot(grad, dir);
      if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
        hist.clear();
        for (std::size_t q = 0; q < grad.size(); ++q) dir[q] = -grad[q];
        slope = dot(grad, dir);
        if (!(slope < 0)) break;
      }
      double largest = 0;
      for (std::size_t p = 0; 3 * p < dir.size(); ++p)
        largest = std::max(largest, std::sqrt(dir[3 * p] * dir[3 * p] + dir[3 * p + 1] * dir[3 * p + 1] +
                                              dir[3 * p + 2] * dir[3 * p + 2]));
      double step = hist.empty() ? o.max_step_voxels * sp / largest : 1.0;
      step = std::min(step, o.max_step_voxels * sp * 2.0 / largest);
      Lattice trial = L;
      std::vector<double> tgrad;
      Evaluation next;
      bool accepted = false;
      for (int ls = 0; ls < 12; ++ls) {
        for (std::size_t q = 0; q < L.c.size(); ++q) trial.c[q] = L.c[q] + step * dir[q];
        next = evaluate_cost(lv, trial, h_mm, o.smoothness_weight, &tgrad);
        ++evaluations;
        if (next.value <= cur.value + 1e-4 * step * slope) {
          accepted = true;
          break;
        }
        step *= 0.5;
      }
      if (!accepted) break;
      std::vector<double> s(L.c.size()), y(L.c.size());
      for (std::size_t q = 0; q < s.size(); ++q) {
        s[q] = trial.c[q] - L.c[q];
        y[q] = tgrad[q] - grad[q];
      }
      if (dot(s, y) > 1e-12 * dot(y, y)) {
        hist.emplace_back(std::move(s), std::move(y));
        if (hist.size() > static_cast<std::size_t>(memory)) hist.pop_front();
      }
      const double gain = cur.value - next.value;
      L = std::move(trial);
      grad = std::move(tgrad);
      cur = next;
      stalls = gain < o.tolerance * cur.value ? stalls + 1 : 0;
      if (stalls >= 3) {
        ++it;
        break;
      }
    }
    result.iterations += it;
    result.final_rms = std::sqrt(cur.msd);
    if (cur.outside > lv.size() / 20)
      log::warn("B-spline registration: ", cur.outside, " of ", lv.size(),
                " sample points map outside the moving image at the ", sp, " mm level");
    log::debug("normalize: B-spline level ", sp, " mm, control spacing ", h_mm, " mm: RMS difference ",
               std::sqrt(start_msd), " -> ", std::sqrt(cur.msd), " after ", it, " iterations, ", evaluations,
               " evaluations, ", lv.size(), " points, ",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
    lattices.push_back(std::move(L));
  }
  const Geometry& out = field_geom ? *field_geom : fixed.geom;
  for (int r = 0; r < 9; ++r)
    if (std::abs(out.direction[r] - fixed.geom.direction[r]) > 1e-6)
      throw Error("B-spline registration: the field grid must have the direction of the fixed image");
  result.field = DisplacementField(out);
  for (const Lattice& P : lattices) evaluate_add(P, make_axes(out, fixed.geom, P), out.size, result.field.data);
  return result;
}

}  // namespace petpipe::normalize
