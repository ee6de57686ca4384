// Symmetric-force demons (Thirion 1998; symmetric gradient as in Vercauteren et al. 2009) with
// additive updates, Gaussian diffusion regularisation of the field and an optional fluid smoothing of
// each update, over a Gaussian pyramid. Plain C++ (no ITK templates): it is the hot loop of the
// normalisation and runs on petpipe's parallel_for.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "grid.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/normalize/register.hpp"

namespace petpipe::normalize {

namespace detail {

std::vector<float> gradient(const std::vector<float>& img, const Geometry& g) {
  std::vector<float> out(3 * g.voxel_count());
  const std::size_t st[3] = {1, g.size[0], g.size[0] * g.size[1]};
  parallel_for(g.size[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const std::size_t v = g.linear_index(i, j, k);
          const std::size_t idx[3] = {i, j, k};
          double gi[3];
          for (int a = 0; a < 3; ++a) {
            const std::size_t n = g.size[a];
            if (n < 2) {
              gi[a] = 0;
              continue;
            }
            const std::size_t lo = idx[a] > 0 ? v - st[a] : v;
            const std::size_t hi = idx[a] + 1 < n ? v + st[a] : v;
            const double d = double(idx[a] + 1 < n) + double(idx[a] > 0);
            gi[a] = (img[hi] - img[lo]) / (d * g.spacing[a]);
          }
          // index-axis derivative -> physical: grad_p = D * grad_axes
          for (int r = 0; r < 3; ++r)
            out[3 * v + r] = float(g.direction[3 * r] * gi[0] + g.direction[3 * r + 1] * gi[1] +
                                   g.direction[3 * r + 2] * gi[2]);
        }
  });
  return out;
}

}  // namespace detail

namespace {

using detail::gradient;

// Moving image sampled at x + u(x) on the common grid.
std::vector<float> warp(const std::vector<float>& moving, const DisplacementField& u) {
  const Geometry& g = u.geom;
  const detail::IndexMap to_index(g);
  const detail::PointMap to_point(g);
  std::vector<float> out(g.voxel_count());
  parallel_for(g.size[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const std::size_t v = g.linear_index(i, j, k);
          const Vec3 p = to_point(double(i), double(j), double(k));
          const Vec3 q = to_index({p[0] + u.data[3 * v], p[1] + u.data[3 * v + 1], p[2] + u.data[3 * v + 2]});
          float val = 0.0f;
          detail::trilinear(moving.data(), g.size, 1, q[0], q[1], q[2], &val, false);
          out[v] = val;
        }
  });
  return out;
}

DisplacementField upsample(const DisplacementField& coarse, const Geometry& fine) {
  DisplacementField out(fine);
  if (coarse.empty()) return out;
  const detail::IndexMap to_index(coarse.geom);
  const detail::PointMap to_point(fine);
  parallel_for(fine.size[2], [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t j = 0; j < fine.size[1]; ++j)
        for (std::size_t i = 0; i < fine.size[0]; ++i) {
          const Vec3 q = to_index(to_point(double(i), double(j), double(k)));
          detail::trilinear(coarse.data.data(), coarse.geom.size, 3, q[0], q[1], q[2],
                            &out.data[3 * fine.linear_index(i, j, k)], true);
        }
  });
  return out;
}

}  // namespace

DemonsResult register_demons(const Image3D& fixed, const Image3D& moving, const DemonsOptions& o,
                             const Mask* mask) {
  if (!fixed.geom.same_grid(moving.geom))
    throw Error("demons registration: the moving image must be resampled onto the fixed grid first");
  if (mask && !mask->geom.same_grid(fixed.geom))
    throw Error("demons registration: the mask must be on the fixed grid");
  if (o.shrink.empty() || o.iterations.size() != o.shrink.size())
    throw Error("demons registration: one iteration count per pyramid level is needed");
  const double base = *std::min_element(fixed.geom.spacing.begin(), fixed.geom.spacing.end());
  const double thr_f = o.foreground_fraction * detail::quantile(fixed.data, 0.99);
  const double thr_m = o.foreground_fraction * detail::quantile(moving.data, 0.99);

  auto rms_difference = [&](const std::vector<float>& mw) {
    double sse = 0;
    std::size_t count = 0;
    for (std::size_t v = 0; v < mw.size(); ++v) {
      if (mask ? !mask->data[v] : (fixed.data[v] < thr_f && mw[v] < thr_m)) continue;
      const double d = double(fixed.data[v]) - mw[v];
      sse += d * d;
      ++count;
    }
    return count ? std::sqrt(sse / double(count)) : 0.0;
  };
  DemonsResult result;
  result.initial_rms = rms_difference(moving.data);
  DisplacementField u;
  for (std::size_t l = 0; l < o.shrink.size(); ++l) {
    const double sp = base * std::max(1, o.shrink[l]);
    const Geometry g = o.shrink[l] > 1 ? regrid(fixed.geom, sp) : fixed.geom;
    const double sigma_img = o.shrink[l] > 1 ? 0.5 * sp : 0.0;
    const Image3D f = detail::smooth_and_resample(fixed, g, sigma_img);
    const Image3D m = detail::smooth_and_resample(moving, g, sigma_img);
    std::vector<std::uint8_t> in_mask;  // the mask on this level's grid (any overlap counts)
    if (mask) {
      Image3D mf(fixed.geom, 0.0f);
      for (std::size_t v = 0; v < mf.data.size(); ++v) mf.data[v] = mask->data[v] ? 1.0f : 0.0f;
      const Image3D ml = detail::smooth_and_resample(mf, g, sigma_img);
      in_mask.resize(ml.data.size());
      for (std::size_t v = 0; v < ml.data.size(); ++v) in_mask[v] = ml.data[v] > 0.25f;
    }
    u = upsample(u, g);
    const std::vector<float> gf = gradient(f.data, g);
    const double field_sigma = o.field_sigma_mm > 0 ? o.field_sigma_mm : 1.5 * sp;
    const double norm = sp * sp;  // demons normaliser K (mm^2)
    const double max_step = o.max_step_voxels * sp;
    const std::size_t n = g.voxel_count();
    for (int it = 0; it < o.iterations[l]; ++it) {
      const std::vector<float> mw = warp(m.data, u);
      const std::vector<float> gm = gradient(mw, g);
      std::vector<float> du(3 * n, 0.0f);
      std::mutex mx;
      double sse = 0;
      std::size_t count = 0;
      parallel_for(n, [&](std::size_t b, std::size_t e) {
        double s = 0;
        std::size_t c = 0;
        for (std::size_t v = b; v < e; ++v) {
          if (mask ? !in_mask[v] : (f.data[v] < thr_f && mw[v] < thr_m)) continue;
          const double diff = double(f.data[v]) - mw[v];
          s += diff * diff;
          ++c;
          const double gx = 0.5 * (gf[3 * v] + gm[3 * v]);
          const double gy = 0.5 * (gf[3 * v + 1] + gm[3 * v + 1]);
          const double gz = 0.5 * (gf[3 * v + 2] + gm[3 * v + 2]);
          const double den = gx * gx + gy * gy + gz * gz + diff * diff / norm;
          if (den < 1e-12) continue;
          double scale = diff / den;
          const double len = std::abs(scale) * std::sqrt(gx * gx + gy * gy + gz * gz);
          if (len > max_step) scale *= max_step / len;
          du[3 * v] = float(scale * gx);
          du[3 * v + 1] = float(scale * gy);
          du[3 * v + 2] = float(scale * gz);
        }
        std::lock_guard<std::mutex> lock(mx);
        sse += s;
        count += c;
      }, 4096);
      const double rms = count ? std::sqrt(sse / double(count)) : 0.0;
      result.final_rms = rms;
      if (o.update_sigma_mm > 0) detail::gaussian_smooth(du, g, 3, o.update_sigma_mm);
      for (std::size_t q = 0; q < 3 * n; ++q) u.data[q] += du[q];
      detail::gaussian_smooth(u.data, g, 3, field_sigma);
    }
    log::debug("normalize: demons level ", sp, " mm: RMS difference ", result.final_rms);
  }
  result.field = upsample(u, fixed.geom);
  // final RMS on the full grid
  result.final_rms = rms_difference(warp(moving.data, result.field));
  return result;
}

}  // namespace petpipe::normalize
