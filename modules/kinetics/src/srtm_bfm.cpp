#include "petpipe/kinetics/srtm_bfm.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/simd.hpp"
#include "petpipe/kinetics/convolution.hpp"

namespace petpipe::kinetics {

namespace {

// The voxel fits' inner product z = Q y is computed in register tiles of kRows bases x kCols voxels:
// 2 x 4 vectors of 8 floats (one AVX register each; two SSE registers each in the baseline clone).
constexpr std::size_t kLanes = 8, kRows = 2 * kLanes, kCols = 4;
typedef float Vec8 __attribute__((vector_size(kLanes * sizeof(float))));
typedef std::int32_t Int8 __attribute__((vector_size(kLanes * sizeof(float))));

// z = q y: q is nbp x nf (column-major, nbp a multiple of kRows), y is nf x ncols (column-major, ncols a
// multiple of kCols), z is nbp x ncols. Each element of z sums over the frames in order.
PETPIPE_SIMD_CLONES
void project_block(const float* q, std::size_t nbp, std::size_t nf, const float* y, std::size_t ncols,
                   float* z) {
  for (std::size_t j = 0; j < ncols; j += kCols) {
    const float* y0 = y + j * nf;
    const float* y1 = y0 + nf;
    const float* y2 = y1 + nf;
    const float* y3 = y2 + nf;
    for (std::size_t i = 0; i < nbp; i += kRows) {
      Vec8 a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
      const float* qi = q + i;
      for (std::size_t f = 0; f < nf; ++f, qi += nbp) {
        Vec8 qa, qb;
        std::memcpy(&qa, qi, sizeof qa);
        std::memcpy(&qb, qi + kLanes, sizeof qb);
        a0 += qa * y0[f];
        b0 += qb * y0[f];
        a1 += qa * y1[f];
        b1 += qb * y1[f];
        a2 += qa * y2[f];
        b2 += qb * y2[f];
        a3 += qa * y3[f];
        b3 += qb * y3[f];
      }
      float* zi = z + j * nbp + i;
      std::memcpy(zi, &a0, sizeof a0);
      std::memcpy(zi + kLanes, &b0, sizeof b0);
      zi += nbp;
      std::memcpy(zi, &a1, sizeof a1);
      std::memcpy(zi + kLanes, &b1, sizeof b1);
      zi += nbp;
      std::memcpy(zi, &a2, sizeof a2);
      std::memcpy(zi + kLanes, &b2, sizeof b2);
      zi += nbp;
      std::memcpy(zi, &a3, sizeof a3);
      std::memcpy(zi + kLanes, &b3, sizeof b3);
    }
  }
}

// Index of the first of z[0], ..., z[n - 1] (n a multiple of kRows) of the largest magnitude: a
// vectorised maximum of |z|, then the first chunk of kRows that reaches it.
PETPIPE_SIMD_CLONES
std::size_t first_abs_max(const float* z, std::size_t n) {
  const Int8 magnitude = Int8{} + 0x7fffffff;
  Vec8 m = {};
  for (std::size_t i = 0; i < n; i += kLanes) {
    Vec8 v;
    std::memcpy(&v, z + i, sizeof v);
    v = reinterpret_cast<Vec8>(reinterpret_cast<Int8>(v) & magnitude);
    m = m > v ? m : v;
  }
  float zmax = m[0];
  for (std::size_t l = 1; l < kLanes; ++l) zmax = std::max(zmax, m[l]);
  for (std::size_t i0 = 0; i0 < n; i0 += kRows) {
    bool hit = false;
    for (std::size_t i = i0; i < i0 + kRows; ++i) hit |= std::abs(z[i]) == zmax;
    if (hit) {
      std::size_t best = i0;
      while (std::abs(z[best]) != zmax) ++best;
      return best;
    }
  }
  return 0;
}

}  // namespace

std::vector<double> log_grid(double lo, double hi, std::size_t n) {
  if (!(lo > 0.0 && hi > lo && n >= 2))
    throw make_error("theta3 grid needs 0 < min < max and at least 2 values (got ", lo, ", ", hi, ", ",
                     n, ")");
  std::vector<double> g(n);
  const double a = std::log(lo), b = std::log(hi);
  for (std::size_t i = 0; i < n; ++i) g[i] = std::exp(a + (b - a) * static_cast<double>(i) / (n - 1));
  g.front() = lo;
  g.back() = hi;
  return g;
}

std::vector<double> srtm_basis(const FrameTable& frames, const std::vector<double>& reference,
                               const std::vector<double>& theta3) {
  const FrameTimes ft = FrameTimes::from(frames);
  const FrameConvolver conv(interpolate_frame_averages(ft, reference), ft);
  const std::size_t nf = ft.size(), n = theta3.size();
  std::vector<double> b(nf * n), col(nf);
  for (std::size_t i = 0; i < n; ++i) {
    conv.frame_averages(theta3[i], col.data());
    for (std::size_t f = 0; f < nf; ++f) b[f * n + i] = col[f];
  }
  return b;
}

BfmResult srtm_bfm(const DynamicImage& pet, const std::vector<double>& reference, const Mask& mask,
                   const BfmOptions& options) {
  using clock = std::chrono::steady_clock;
  const std::size_t nf = pet.frame_count(), nvox = pet.voxels_per_frame();
  if (pet.data.size() != nf * nvox) throw Error("PET data size does not match its frames and grid");
  if (reference.size() != nf)
    throw make_error("reference TAC has ", reference.size(), " frames but the PET has ", nf);
  if (!mask.geom.same_grid(pet.geom) || mask.data.size() != nvox)
    throw Error("fit mask is not on the PET grid");
  const auto& th = options.theta3;
  const double lambda = options.decay_constant_per_min;
  if (th.size() < 2) throw Error("theta3 grid needs at least 2 basis functions");
  if (!(lambda >= 0.0)) throw Error("decay constant must be >= 0");
  for (std::size_t i = 0; i < th.size(); ++i) {
    if (!(th[i] > lambda) || !std::isfinite(th[i]))
      throw make_error("theta3 grid value ", th[i], " /min is not above the decay constant ", lambda);
    if (i > 0 && !(th[i] > th[i - 1])) throw Error("theta3 grid is not strictly increasing");
  }
  std::vector<double> w = options.weights;
  if (w.empty()) w.assign(nf, 1.0);
  if (w.size() != nf) throw make_error(w.size(), " frame weights for ", nf, " frames");
  for (double x : w)
    if (!(x > 0.0) || !std::isfinite(x)) throw Error("frame weights must be positive and finite");
  for (double x : reference)
    if (!std::isfinite(x)) throw Error("reference TAC has a non-finite value");

  const std::size_t nb = th.size();
  BfmResult r;
  const auto t0 = clock::now();
  const std::vector<double> basis = srtm_basis(pet.frames, reference, th);

  // QR of W^1/2 [C_R, B_i]: q0 common, q1_i per basis; R = [[r00, r01_i], [0, r11_i]].
  std::vector<double> sw(nf), s0(nf), q0(nf);
  double r00 = 0.0;
  for (std::size_t f = 0; f < nf; ++f) {
    sw[f] = std::sqrt(w[f]);
    q0[f] = sw[f] * reference[f];
    r00 += q0[f] * q0[f];
  }
  r00 = std::sqrt(r00);
  if (!(r00 > 0.0)) throw Error("reference TAC is zero in every frame");
  for (std::size_t f = 0; f < nf; ++f) {
    q0[f] /= r00;
    s0[f] = sw[f] * q0[f];
  }
  std::vector<double> qd(nb * nf), r01(nb), r11(nb);  // qd[i*nf+f] = sw_f q1_i,f
  // qf: qd in float, nbp x nf column-major; the rows past nb are 0 (so are their products).
  const std::size_t nbp = (nb + kRows - 1) / kRows * kRows;
  std::vector<float> qf(nbp * nf, 0.0f);
  std::vector<double> v(nf);
  for (std::size_t i = 0; i < nb; ++i) {
    double d = 0.0;
    for (std::size_t f = 0; f < nf; ++f) d += q0[f] * sw[f] * basis[f * nb + i];
    double n2 = 0.0;
    for (std::size_t f = 0; f < nf; ++f) {
      v[f] = sw[f] * basis[f * nb + i] - d * q0[f];
      n2 += v[f] * v[f];
    }
    const double n = std::sqrt(n2);
    if (!(n > 1e-12 * r00)) throw make_error("basis function ", i + 1, " is degenerate (theta3 ", th[i], ")");
    r01[i] = d;
    r11[i] = n;
    for (std::size_t f = 0; f < nf; ++f) {
      qd[i * nf + f] = sw[f] * v[f] / n;
      qf[f * nbp + i] = static_cast<float>(qd[i * nf + f]);
    }
  }

  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < nvox; ++i)
    if (mask.data[i]) idx.push_back(i);
  r.mask_voxels = idx.size();
  for (Image3D* im : {&r.bpnd, &r.r1, &r.k2, &r.k2a, &r.rss, &r.theta3_index}) *im = Image3D(pet.geom, 0.0f);
  r.grid_edge = Mask(pet.geom, 0);
  r.fitted = Mask(pet.geom, 0);
  // Voxels outside the mask stay 0 unless their data are non-finite: those are NaN in every map.
  {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::atomic<std::size_t> outside{0};
    parallel_for(nvox, [&](std::size_t v0, std::size_t v1) {
      std::size_t c = 0;
      for (std::size_t f = 0; f < nf; ++f) {
        const float* fr = pet.frame(f);
        for (std::size_t v = v0; v < v1; ++v)
          if (!mask.data[v] && !std::isfinite(fr[v]) && !std::isnan(r.bpnd.data[v])) {
            for (Image3D* im : {&r.bpnd, &r.r1, &r.k2, &r.k2a, &r.rss, &r.theta3_index}) im->data[v] = nan;
            ++c;
          }
      }
      outside += c;
    }, 4096);
    r.nonfinite_outside_mask = outside;
  }
  const auto t1 = clock::now();
  r.basis_seconds = std::chrono::duration<double>(t1 - t0).count();

  const std::size_t bs = std::max<std::size_t>(16, options.block_voxels);
  const std::size_t nblocks = (idx.size() + bs - 1) / bs;
  std::atomic<std::size_t> n_fit{0}, n_nonfinite{0}, n_zero{0}, n_neg{0}, n_edge{0};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float* data = pet.data.data();

  parallel_for(nblocks, [&](std::size_t b0, std::size_t b1) {
    // y: the block's TACs, nf x bsp column-major (columns past the block's count are 0); z = qf y.
    const std::size_t bsp = (bs + kCols - 1) / kCols * kCols;
    std::vector<float> y(nf * bsp, 0.0f), z(nbp * bsp);
    std::vector<std::uint8_t> ok(bs);
    std::vector<double> yd(nf);
    std::size_t c_fit = 0, c_nonfinite = 0, c_zero = 0, c_neg = 0, c_edge = 0;
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const std::size_t first = blk * bs, count = std::min(bs, idx.size() - first);
      for (std::size_t j = 0; j < count; ++j) {
        const std::size_t vox = idx[first + j];
        float* col = y.data() + j * nf;
        bool finite = true, nonzero = false;
        for (std::size_t f = 0; f < nf; ++f) {
          const float x = data[f * nvox + vox];
          col[f] = x;
          finite = finite && std::isfinite(x);
          nonzero = nonzero || x != 0.0f;
        }
        ok[j] = finite && nonzero;
        if (!ok[j]) {
          for (std::size_t f = 0; f < nf; ++f) col[f] = 0.0f;
          if (!finite) ++c_nonfinite;
          else ++c_zero;
        }
      }
      const std::size_t ncols = (count + kCols - 1) / kCols * kCols;
      std::fill(y.begin() + static_cast<std::ptrdiff_t>(count * nf), y.begin() + static_cast<std::ptrdiff_t>(ncols * nf), 0.0f);
      project_block(qf.data(), nbp, nf, y.data(), ncols, z.data());
      for (std::size_t j = 0; j < count; ++j) {
        const std::size_t vox = idx[first + j];
        if (!ok[j]) {
          for (Image3D* im : {&r.bpnd, &r.r1, &r.k2, &r.k2a, &r.rss, &r.theta3_index}) im->data[vox] = nan;
          continue;
        }
        // argmax |z_i| in float (the padding rows are 0 and never come first).
        std::size_t best = first_abs_max(z.data() + j * nbp, nbp);
        const float* col = y.data() + j * nf;
        double yy = 0.0, zz0 = 0.0;
        for (std::size_t f = 0; f < nf; ++f) {
          yd[f] = col[f];
          yy += w[f] * yd[f] * yd[f];
          zz0 += s0[f] * yd[f];
        }
        auto zdot = [&](std::size_t i) {
          double s = 0.0;
          for (std::size_t f = 0; f < nf; ++f) s += qd[i * nf + f] * yd[f];
          return s;
        };
        // Confirm the float argmax in double precision: walk to a neighbour while it explains more.
        double zc_best = zdot(best);
        double zm = best > 0 ? zdot(best - 1) : 0.0, zp = best + 1 < nb ? zdot(best + 1) : 0.0;
        for (int step = 0; step < 8; ++step) {
          if (best > 0 && std::abs(zm) > std::abs(zc_best) && std::abs(zm) >= std::abs(zp)) {
            --best;
            zp = zc_best;
            zc_best = zm;
            zm = best > 0 ? zdot(best - 1) : 0.0;
          } else if (best + 1 < nb && std::abs(zp) > std::abs(zc_best)) {
            ++best;
            zm = zc_best;
            zc_best = zp;
            zp = best + 1 < nb ? zdot(best + 1) : 0.0;
          } else {
            break;
          }
        }
        const double theta2_grid = zc_best / r11[best];
        double theta1 = (zz0 - r01[best] * theta2_grid) / r00, theta2 = theta2_grid, theta3 = th[best];
        double rss = 0.0;
        for (std::size_t f = 0; f < nf; ++f) {
          const double e = yd[f] - theta1 * reference[f] - theta2 * basis[f * nb + best];
          rss += w[f] * e * e;
        }
        const bool edge = best == 0 || best + 1 == nb;
        if (options.subgrid_refinement && !edge) {
          // RSS_j = y'Wy - z0^2 - z_j^2 at the neighbours; vertex of the parabola through the three
          // (in basis index), then theta1, theta2, theta3 interpolated quadratically to the vertex.
          const double rm = yy - zz0 * zz0 - zm * zm, r0 = yy - zz0 * zz0 - zc_best * zc_best,
                       rp = yy - zz0 * zz0 - zp * zp;
          const double den = rm - 2.0 * r0 + rp;
          if (den > 0.0) {
            const double d = std::clamp(0.5 * (rm - rp) / den, -0.5, 0.5);
            const double lm = 0.5 * d * (d - 1.0), l0 = 1.0 - d * d, lp = 0.5 * d * (d + 1.0);
            const double t2m = zm / r11[best - 1], t2p = zp / r11[best + 1];
            const double t1m = (zz0 - r01[best - 1] * t2m) / r00, t1p = (zz0 - r01[best + 1] * t2p) / r00;
            theta1 = lm * t1m + l0 * theta1 + lp * t1p;
            theta2 = lm * t2m + l0 * theta2 + lp * t2p;
            theta3 = lm * th[best - 1] + l0 * th[best] + lp * th[best + 1];
          }
        }
        const double k2a = theta3 - lambda;
        const double k2 = theta2 + theta1 * k2a;
        const double bp = k2 / k2a - 1.0;
        r.bpnd.data[vox] = static_cast<float>(bp);
        r.r1.data[vox] = static_cast<float>(theta1);
        r.k2.data[vox] = static_cast<float>(k2);
        r.k2a.data[vox] = static_cast<float>(k2a);
        r.rss.data[vox] = static_cast<float>(rss);
        r.theta3_index.data[vox] = static_cast<float>(best);
        r.fitted.data[vox] = 1;
        ++c_fit;
        if (bp < 0.0) ++c_neg;
        if (edge) {
          r.grid_edge.data[vox] = 1;
          ++c_edge;
        }
      }
    }
    n_fit += c_fit;
    n_nonfinite += c_nonfinite;
    n_zero += c_zero;
    n_neg += c_neg;
    n_edge += c_edge;
  });
  r.fit_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  r.fitted_voxels = n_fit;
  r.skipped_nonfinite = n_nonfinite;
  r.skipped_zero = n_zero;
  r.negative_bpnd = n_neg;
  r.grid_edge_voxels = n_edge;
  return r;
}

}  // namespace petpipe::kinetics
