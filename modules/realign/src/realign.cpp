// Realignment driver: frame selection, estimation images (block average + Gaussian), the two
// registration passes, reslicing and the mean image. ITK code lives in itk_register.cpp and
// itk_reslice.cpp.
#include "petpipe/realign/realign.hpp"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numbers>

#include <Eigen/Dense>

#include "backend.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/progress.hpp"

namespace petpipe::realign {

namespace {

constexpr double kDeg = 180.0 / std::numbers::pi;

detail::Params to_params(const FrameMotion& m) {
  return {m.rx_deg / kDeg, m.ry_deg / kDeg, m.rz_deg / kDeg, m.tx_mm, m.ty_mm, m.tz_mm};
}
void set_params(FrameMotion& m, const detail::Params& p) {
  m.rx_deg = p[0] * kDeg;
  m.ry_deg = p[1] * kDeg;
  m.rz_deg = p[2] * kDeg;
  m.tx_mm = p[3];
  m.ty_mm = p[4];
  m.tz_mm = p[5];
}

Vec3 grid_center(const Geometry& g) {
  return g.index_to_point({0.5 * (static_cast<double>(g.size[0]) - 1), 0.5 * (static_cast<double>(g.size[1]) - 1),
                           0.5 * (static_cast<double>(g.size[2]) - 1)});
}

// One frame block-averaged by integer factors (partial blocks at the far edges average what they
// hold); NaN counts as 0.
Image3D block_average(const float* frame, const Geometry& g, const std::array<std::size_t, 3>& k) {
  Geometry out_g = g;
  for (int a = 0; a < 3; ++a) {
    out_g.size[a] = (g.size[a] + k[a] - 1) / k[a];
    out_g.spacing[a] = g.spacing[a] * static_cast<double>(k[a]);
  }
  // The centre of output voxel 0 is the centre of input voxels 0..k-1.
  out_g.origin = g.index_to_point({0.5 * (static_cast<double>(k[0]) - 1), 0.5 * (static_cast<double>(k[1]) - 1),
                                   0.5 * (static_cast<double>(k[2]) - 1)});
  Image3D out(out_g, 0.0f);
  if (k[0] == 1 && k[1] == 1 && k[2] == 1) {
    for (std::size_t i = 0; i < out.data.size(); ++i) out.data[i] = std::isnan(frame[i]) ? 0.0f : frame[i];
    return out;
  }
  std::vector<float> count(out.data.size(), 0.0f);
  for (std::size_t z = 0; z < g.size[2]; ++z)
    for (std::size_t y = 0; y < g.size[1]; ++y) {
      const float* row = frame + g.linear_index(0, y, z);
      const std::size_t base = out_g.linear_index(0, y / k[1], z / k[2]);
      for (std::size_t x = 0; x < g.size[0]; ++x) {
        const float v = row[x];
        const std::size_t o = base + x / k[0];
        if (!std::isnan(v)) out.data[o] += v;
        count[o] += 1.0f;
      }
    }
  for (std::size_t i = 0; i < out.data.size(); ++i) out.data[i] /= count[i];
  return out;
}

// Separable Gaussian with per-axis sigma in voxels; normalised by the kernel weight inside the image
// so that edges are not darkened.
void gaussian_voxels(Image3D& img, const std::array<double, 3>& sigma_vox) {
  const auto& g = img.geom;
  std::vector<float> line;
  std::vector<float> result;
  for (int axis = 0; axis < 3; ++axis) {
    const double s = sigma_vox[axis];
    if (!(s > 0.05)) continue;
    const int radius = static_cast<int>(std::ceil(3.5 * s));
    std::vector<double> w(2 * radius + 1);
    for (int i = -radius; i <= radius; ++i) w[i + radius] = std::exp(-0.5 * i * i / (s * s));
    const std::size_t n = g.size[axis];
    const std::size_t stride = axis == 0 ? 1 : axis == 1 ? g.size[0] : g.size[0] * g.size[1];
    const std::size_t o1 = axis == 0 ? g.size[1] : g.size[0];
    const std::size_t o2 = axis == 2 ? g.size[1] : g.size[2];
    const std::size_t s1 = axis == 0 ? g.size[0] : 1;
    const std::size_t s2 = axis == 2 ? g.size[0] : g.size[0] * g.size[1];
    line.resize(n);
    result.resize(n);
    for (std::size_t b = 0; b < o2; ++b)
      for (std::size_t a = 0; a < o1; ++a) {
        float* p = img.data.data() + a * s1 + b * s2;
        for (std::size_t i = 0; i < n; ++i) line[i] = p[i * stride];
        for (std::size_t i = 0; i < n; ++i) {
          double acc = 0, wsum = 0;
          const long lo = std::max<long>(0, static_cast<long>(i) - radius);
          const long hi = std::min<long>(static_cast<long>(n) - 1, static_cast<long>(i) + radius);
          for (long j = lo; j <= hi; ++j) {
            const double wj = w[j - static_cast<long>(i) + radius];
            acc += wj * line[j];
            wsum += wj;
          }
          result[i] = static_cast<float>(acc / wsum);
        }
        for (std::size_t i = 0; i < n; ++i) p[i * stride] = result[i];
      }
  }
}

// Head mask of a smoothed image: voxels above `fraction` of its 99.5th percentile, dilated by
// `dilation` voxels (6-neighbourhood steps) so that the edge of the head, where most of the
// registration signal lies, is inside even after motion.
std::vector<unsigned char> head_mask(const Image3D& smoothed, double fraction, int dilation) {
  const auto& g = smoothed.geom;
  std::vector<float> sorted(smoothed.data);
  const std::size_t k = static_cast<std::size_t>(0.995 * static_cast<double>(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
  const float threshold = static_cast<float>(fraction * sorted[k]);
  std::vector<unsigned char> mask(smoothed.data.size());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = smoothed.data[i] > threshold ? 1 : 0;
  std::vector<unsigned char> next;
  for (int step = 0; step < dilation; ++step) {
    next = mask;
    for (std::size_t z = 0; z < g.size[2]; ++z)
      for (std::size_t y = 0; y < g.size[1]; ++y)
        for (std::size_t x = 0; x < g.size[0]; ++x) {
          const std::size_t i = g.linear_index(x, y, z);
          if (mask[i]) continue;
          const bool near = (x > 0 && mask[i - 1]) || (x + 1 < g.size[0] && mask[i + 1]) ||
                            (y > 0 && mask[i - g.size[0]]) || (y + 1 < g.size[1] && mask[i + g.size[0]]) ||
                            (z > 0 && mask[i - g.size[0] * g.size[1]]) ||
                            (z + 1 < g.size[2] && mask[i + g.size[0] * g.size[1]]);
          if (near) next[i] = 1;
        }
    mask.swap(next);
  }
  return mask;
}

// The mask dilated by one voxel in the 26-neighbourhood.
std::vector<unsigned char> dilate_box(const std::vector<unsigned char>& mask, const Geometry& g) {
  std::vector<unsigned char> out(mask.size(), 0);
  const long nx = static_cast<long>(g.size[0]), ny = static_cast<long>(g.size[1]), nz = static_cast<long>(g.size[2]);
  for (long z = 0; z < nz; ++z)
    for (long y = 0; y < ny; ++y)
      for (long x = 0; x < nx; ++x) {
        if (!mask[static_cast<std::size_t>(x + nx * (y + ny * z))]) continue;
        for (long dz = std::max(0L, z - 1); dz <= std::min(nz - 1, z + 1); ++dz)
          for (long dy = std::max(0L, y - 1); dy <= std::min(ny - 1, y + 1); ++dy)
            for (long dx = std::max(0L, x - 1); dx <= std::min(nx - 1, x + 1); ++dx)
              out[static_cast<std::size_t>(dx + nx * (dy + ny * dz))] = 1;
      }
  return out;
}

// Second-pass targets from a low-rank temporal model (Options::refine_target = model). On entry
// images[k] is frame k realigned to the reference space; on return it holds that frame as predicted
// from the other frames. Rows are scaled by sqrt(duration) (noise roughly ~ 1/duration); the temporal
// basis is the leading `components` eigenvectors of the frames' Gram matrix over the mask (uncentred
// PCA); the prediction of frame k is the least-squares fit of the other frames' values to that basis,
// evaluated at k (leave-one-out: y_k - (y_k - yhat_k) / (1 - h_kk)), so a frame's own position and noise
// do not enter its target. A frame that the basis cannot predict from the others (leverage h_kk > 0.9,
// e.g. a lone early frame) gets the duration-weighted mean of the others instead.
// frame_numbers (1-based) only label the debug log.
// The frames are given as rows of `count` values; mask (may be null): the values that enter the Gram
// matrix; predict (may be null): the values predicted (the others are left as they are).
void model_targets(const std::vector<float*>& rows, std::size_t count, const unsigned char* mask,
                   const unsigned char* predict, const std::vector<double>& durations, int components,
                   const std::vector<std::size_t>& frame_numbers) {
  const std::size_t nf = rows.size();
  const std::size_t nvox = count;
  std::vector<double> s(nf);
  for (std::size_t k = 0; k < nf; ++k) s[k] = std::sqrt(durations[k]);
  // Gram matrix over the mask, in fixed chunks summed in order (deterministic).
  const std::size_t chunk = 65536;
  const std::size_t nchunks = (nvox + chunk - 1) / chunk;
  std::vector<Eigen::MatrixXd> partial(nchunks, Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf)));
  parallel_for(nchunks, [&](std::size_t c0, std::size_t c1) {
    std::vector<double> z(nf);
    for (std::size_t c = c0; c < c1; ++c) {
      auto& g = partial[c];
      for (std::size_t v = c * chunk; v < std::min(nvox, (c + 1) * chunk); ++v) {
        if (mask && !mask[v]) continue;
        for (std::size_t k = 0; k < nf; ++k) z[k] = s[k] * rows[k][v];
        for (std::size_t a = 0; a < nf; ++a)
          for (std::size_t b = 0; b <= a; ++b) g(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) += z[a] * z[b];
      }
    }
  });
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf));
  for (const auto& g : partial) gram += g;
  gram = gram.selfadjointView<Eigen::Lower>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  // Components above the noise: noise alone gives nearly equal eigenvalues (many voxels, few frames),
  // estimated by the median of the smaller half; a component is kept when its eigenvalue exceeds
  // 3 times that (at least one, at most `components`). Fitting noise components would make the
  // leave-one-out predictions noisy (a constant distribution needs one component).
  const Eigen::VectorXd ev = eig.eigenvalues();  // ascending
  const double floor = std::max(0.0, ev(static_cast<Eigen::Index>(nf / 4)));
  Eigen::Index kc = 1;
  while (kc < static_cast<Eigen::Index>(components) && ev(static_cast<Eigen::Index>(nf) - 1 - kc) > 3.0 * floor) ++kc;
  log::debug("realign: model target: ", kc, " temporal components (eigenvalues ", ev(static_cast<Eigen::Index>(nf) - 1),
             " ... noise level ", floor, ")");
  const Eigen::MatrixXd u = eig.eigenvectors().rightCols(kc);  // eigenvalues ascending
  const Eigen::MatrixXd h = u * u.transpose();
  // Target of frame k = sum_g a(k, g) y_g.
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf));
  double total = 0;
  for (double d : durations) total += d;
  for (std::size_t k = 0; k < nf; ++k) {
    const auto ki = static_cast<Eigen::Index>(k);
    const double hkk = h(ki, ki);
    if (hkk > 0.9) {
      for (std::size_t g = 0; g < nf; ++g)
        if (g != k) a(ki, static_cast<Eigen::Index>(g)) = durations[g] / (total - durations[k]);
    } else {
      for (std::size_t g = 0; g < nf; ++g)
        if (g != k) a(ki, static_cast<Eigen::Index>(g)) = h(ki, static_cast<Eigen::Index>(g)) * s[g] / (s[k] * (1.0 - hkk));
    }
    log::debug("realign: model target of frame ", frame_numbers[k], ": leverage ", hkk, hkk > 0.9 ? " (mean of the others)" : "");
  }
  parallel_for(nvox, [&](std::size_t v0, std::size_t v1) {
    std::vector<double> y(nf);
    for (std::size_t v = v0; v < v1; ++v) {
      if (predict && !predict[v]) continue;
      for (std::size_t k = 0; k < nf; ++k) y[k] = rows[k][v];
      for (std::size_t k = 0; k < nf; ++k) {
        double t = 0;
        for (std::size_t g = 0; g < nf; ++g) t += a(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(g)) * y[g];
        rows[k][v] = static_cast<float>(t);
      }
    }
  });
}

// Euler angles (degrees) of a rotation matrix in the convention R = Rz * Rx * Ry (|rx| < 90 deg).
std::array<double, 3> matrix_angles(const Mat3& r) {
  const auto a = detail::euler_angles_rad(r);
  return {a[0] * kDeg, a[1] * kDeg, a[2] * kDeg};
}

Mat3 mat_mul(const Mat3& p, const Mat3& q, bool transpose_q = false) {
  Mat3 r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += p[3 * i + k] * (transpose_q ? q[3 * j + k] : q[3 * k + j]);
      r[3 * i + j] = s;
    }
  return r;
}

// Re-expresses every transform as T_f o G^-1 (G: the transform r0). With T(x) = R (x - c) + c + t about
// the common centre c, G^-1(x) = R_g^T (x - c - t_g) + c and T_f(G^-1(x)) = R_f R_g^T (x - c) + c + t_f -
// R_f R_g^T t_g.
void rebase(std::vector<FrameMotion>& frames, const FrameMotion& r0) {
  const Mat3 rr = rotation_matrix(r0.rx_deg, r0.ry_deg, r0.rz_deg);
  const Vec3 tr{r0.tx_mm, r0.ty_mm, r0.tz_mm};
  for (auto& m : frames) {
    const Mat3 r = mat_mul(rotation_matrix(m.rx_deg, m.ry_deg, m.rz_deg), rr, true);
    const auto ang = matrix_angles(r);
    m.rx_deg = ang[0], m.ry_deg = ang[1], m.rz_deg = ang[2];
    m.tx_mm -= r[0] * tr[0] + r[1] * tr[1] + r[2] * tr[2];
    m.ty_mm -= r[3] * tr[0] + r[4] * tr[1] + r[5] * tr[2];
    m.tz_mm -= r[6] * tr[0] + r[7] * tr[1] + r[8] * tr[2];
  }
}
// In the space of frame `ref`: T_f o T_ref^-1, so that the reference frame's transform becomes the identity.
void rebase_on_reference(std::vector<FrameMotion>& frames, std::size_t ref) { rebase(frames, frames[ref]); }

// The common transform G that takes a series `from` to `to` (to_f ~ from_f o G): the mean over the frames
// of from_f^-1 o to_f (rotation R_a^T R_b, translation R_a^T (t_b - t_a); angles averaged, which is exact
// enough for the small differences it is used for).
FrameMotion common_offset(const std::vector<FrameMotion>& from, const std::vector<FrameMotion>& to) {
  FrameMotion g;
  for (std::size_t k = 0; k < from.size(); ++k) {
    const auto& a = from[k];
    const auto& b = to[k];
    const Mat3 ra = rotation_matrix(a.rx_deg, a.ry_deg, a.rz_deg);
    Mat3 rat{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) rat[3 * i + j] = ra[3 * j + i];
    const auto ang = matrix_angles(mat_mul(rat, rotation_matrix(b.rx_deg, b.ry_deg, b.rz_deg)));
    const double d[3] = {b.tx_mm - a.tx_mm, b.ty_mm - a.ty_mm, b.tz_mm - a.tz_mm};
    g.rx_deg += ang[0];
    g.ry_deg += ang[1];
    g.rz_deg += ang[2];
    g.tx_mm += rat[0] * d[0] + rat[1] * d[1] + rat[2] * d[2];
    g.ty_mm += rat[3] * d[0] + rat[4] * d[1] + rat[5] * d[2];
    g.tz_mm += rat[6] * d[0] + rat[7] * d[1] + rat[8] * d[2];
  }
  const double n = static_cast<double>(std::max<std::size_t>(1, from.size()));
  g.rx_deg /= n, g.ry_deg /= n, g.rz_deg /= n, g.tx_mm /= n, g.ty_mm /= n, g.tz_mm /= n;
  return g;
}

struct EstimationGrid {
  std::array<std::size_t, 3> factor{1, 1, 1};
  std::array<double, 3> sigma_vox{0, 0, 0};
};

EstimationGrid estimation_grid(const Geometry& g, const Options& o, double fwhm_mm) {
  EstimationGrid e;
  const double sigma_mm = fwhm_mm / (2.0 * std::sqrt(2.0 * std::log(2.0)));
  for (int a = 0; a < 3; ++a) {
    const double k = std::round(o.estimation_voxel_mm / g.spacing[a]);
    e.factor[a] = static_cast<std::size_t>(std::clamp(k, 1.0, std::max(1.0, static_cast<double>(g.size[a]) / 8.0)));
    const double h = g.spacing[a] * static_cast<double>(e.factor[a]);
    // Block averaging already applied a box of width h (variance (h^2 - s^2)/12 beyond the voxel's own).
    const double box_var = (h * h - g.spacing[a] * g.spacing[a]) / 12.0;
    e.sigma_vox[a] = std::sqrt(std::max(0.0, sigma_mm * sigma_mm - box_var)) / h;
  }
  return e;
}

Image3D estimation_image(const DynamicImage& pet, std::size_t f, const EstimationGrid& e) {
  Image3D img = block_average(pet.frame(f), pet.geom, e.factor);
  gaussian_voxels(img, e.sigma_vox);
  return img;
}

double frame_mean(const float* p, std::size_t n, std::size_t* nan_count) {
  double s = 0;
  std::size_t nan = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(p[i])) {
      ++nan;
      continue;
    }
    s += p[i];
  }
  if (nan_count) *nan_count = nan;
  return s / static_cast<double>(n);
}

void validate_options(const DynamicImage& pet, const Options& o) {
  const std::size_t n = pet.frame_count();
  if (n == 0 || pet.data.size() != n * pet.voxels_per_frame() || pet.voxels_per_frame() == 0)
    throw make_error("realign: the dynamic image has no frames or its data do not match its ", n, " frames");
  if (!(o.fwhm_mm >= 0) || !std::isfinite(o.fwhm_mm))
    throw make_error("realign: FWHM must be >= 0 mm (got ", o.fwhm_mm, ")");
  if (!(o.sampling_fraction > 0 && o.sampling_fraction <= 1))
    throw make_error("realign: sampling fraction must be in (0, 1] (got ", o.sampling_fraction, ")");
  if (!(o.estimation_voxel_mm > 0)) throw make_error("realign: estimation voxel size must be > 0 mm");
  if (!(o.empty_fraction >= 0 && o.empty_fraction < 1))
    throw make_error("realign: empty fraction must be in [0, 1) (got ", o.empty_fraction, ")");
  if (o.max_samples < 100) throw make_error("realign: max_samples must be >= 100 (got ", o.max_samples, ")");
  if (o.refine_passes < 1 || o.refine_passes > 12)
    throw make_error("realign: refine passes must be 1..12 (got ", o.refine_passes, ")");
  if (o.refine_components < 1 || o.refine_components > 8)
    throw make_error("realign: model components must be 1..8 (got ", o.refine_components, ")");
  if (o.metric == Metric::lncc)
    throw make_error("realign: local normalized correlation is only for the reference round of the second pass "
                     "(reference metric), not the first pass");
  if (o.metric == Metric::least_squares || o.reference_metric == Metric::least_squares)
    throw make_error("realign: least squares is only for the model rounds of the second pass (model metric): the "
                     "other rounds compare frames with different tracer distributions");
  if (o.window_samples < 1000)
    throw make_error("realign: local correlation window points must be >= 1000 (got ", o.window_samples, ")");
  if (!(o.model_prior_weight >= 0) || !std::isfinite(o.model_prior_weight))
    throw make_error("realign: model-round prior weight must be >= 0 (got ", o.model_prior_weight, ")");
  if (!(o.window_radius_mm > 0) || !std::isfinite(o.window_radius_mm))
    throw make_error("realign: local correlation window must be > 0 mm (got ", o.window_radius_mm, ")");
  if (o.model_metric == Metric::lncc || o.model_metric == Metric::local_lsq || o.model_metric == Metric::window_ncc)
    throw make_error("realign: local metrics are not available for the model rounds");
  if (o.metric == Metric::local_lsq || o.metric == Metric::window_ncc)
    throw make_error("realign: local least squares and local correlation are only for the reference round of the "
                     "second pass (reference metric)");
  if (o.lsq_max_samples < 100)
    throw make_error("realign: least-squares points must be >= 100 (got ", o.lsq_max_samples, ")");
  if (!(o.local_cell_mm > 0) || !(o.local_cell_mm <= 200))
    throw make_error("realign: local least-squares cell must be in (0, 200] mm (got ", o.local_cell_mm, ")");
  if (!(o.lncc_radius_mm > 0) || !std::isfinite(o.lncc_radius_mm))
    throw make_error("realign: local correlation window must be > 0 mm (got ", o.lncc_radius_mm, ")");
  if (!(o.lncc_min_step_mm >= 0)) throw make_error("realign: local correlation minimum step must be >= 0 mm");
  if (o.lncc_max_samples < 100)
    throw make_error("realign: local correlation points must be >= 100 (got ", o.lncc_max_samples, ")");
  if (o.levels < 1 || o.levels > 4) throw make_error("realign: levels must be 1..4 (got ", o.levels, ")");
  if (o.max_iterations < 1) throw make_error("realign: iterations must be >= 1");
  if (o.reference_frame >= 0 && static_cast<std::size_t>(o.reference_frame) >= n)
    throw make_error("realign: reference frame ", o.reference_frame + 1, " is out of range (the image has ", n,
                     " frames)");
  if (o.reference_frame < -1) throw make_error("realign: reference frame must be >= 1");
  for (auto f : o.exclude_frames)
    if (f >= n)
      throw make_error("realign: excluded frame ", f + 1, " is out of range (the image has ", n, " frames)");
  for (int a = 0; a < 3; ++a)
    if (pet.geom.size[a] < 4)
      throw make_error("realign: the image is too small to register (", pet.geom.size[0], " x ", pet.geom.size[1],
                       " x ", pet.geom.size[2], " voxels; need at least 4 per axis)");
}

}  // namespace

std::array<double, 3> detail::euler_angles_rad(const Mat3& r) {
  return {std::asin(std::clamp(r[7], -1.0, 1.0)), std::atan2(-r[6], r[8]), std::atan2(-r[1], r[4])};
}

Mat3 rotation_matrix(double rx_deg, double ry_deg, double rz_deg) {
  const double a = rx_deg / kDeg, b = ry_deg / kDeg, c = rz_deg / kDeg;
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b), cc = std::cos(c),
               sc = std::sin(c);
  // Rx, Ry, Rz right-handed; R = Rz * Rx * Ry.
  const Mat3 rx{1, 0, 0, 0, ca, -sa, 0, sa, ca};
  const Mat3 ry{cb, 0, sb, 0, 1, 0, -sb, 0, cb};
  const Mat3 rz{cc, -sc, 0, sc, cc, 0, 0, 0, 1};
  return mat_mul(rz, mat_mul(rx, ry));
}

Vec3 transform_point(const FrameMotion& m, const Vec3& center, const Vec3& point) {
  const Mat3 r = rotation_matrix(m.rx_deg, m.ry_deg, m.rz_deg);
  const Vec3 d{point[0] - center[0], point[1] - center[1], point[2] - center[2]};
  const Vec3 t{m.tx_mm, m.ty_mm, m.tz_mm};
  Vec3 y{};
  for (int i = 0; i < 3; ++i) y[i] = r[3 * i] * d[0] + r[3 * i + 1] * d[1] + r[3 * i + 2] * d[2] + center[i] + t[i];
  return y;
}

void compute_framewise_displacement(std::vector<FrameMotion>& frames, double radius_mm) {
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (f == 0) {
      frames[f].fd_mm = 0;
      continue;
    }
    const auto& a = frames[f - 1];
    const auto& b = frames[f];
    frames[f].fd_mm = std::abs(b.tx_mm - a.tx_mm) + std::abs(b.ty_mm - a.ty_mm) + std::abs(b.tz_mm - a.tz_mm) +
                      radius_mm / kDeg *
                          (std::abs(b.rx_deg - a.rx_deg) + std::abs(b.ry_deg - a.ry_deg) + std::abs(b.rz_deg - a.rz_deg));
  }
}

std::vector<bool> near_empty_frames(const DynamicImage& pet, double empty_fraction) {
  const std::size_t n = pet.frame_count();
  std::vector<double> means(n);
  for (std::size_t f = 0; f < n; ++f) means[f] = frame_mean(pet.frame(f), pet.voxels_per_frame(), nullptr);
  const double mx = *std::max_element(means.begin(), means.end());
  std::vector<bool> empty(n);
  for (std::size_t f = 0; f < n; ++f) empty[f] = !(mx > 0) || !(means[f] > empty_fraction * mx);
  return empty;
}

MotionResult estimate_motion(const DynamicImage& pet, const Options& o) {
  validate_options(pet, o);
  const detail::ItkSingleThreadScope reproducible;  // parallel over frames instead (see backend.hpp)
  const std::size_t n = pet.frame_count();
  const std::size_t nvox = pet.voxels_per_frame();
  MotionResult res;
  res.center_lps = grid_center(pet.geom);
  res.frames.assign(n, FrameMotion{});
  auto warn = [&](const std::string& msg) {
    log::warn(msg);
    res.warnings.push_back(msg);
  };

  // Frame statistics: NaN voxels, means, near-empty frames.
  std::vector<double> means(n);
  for (std::size_t f = 0; f < n; ++f) {
    std::size_t nan = 0;
    means[f] = frame_mean(pet.frame(f), nvox, &nan);
    res.nan_voxels += nan;
  }
  if (res.nan_voxels > 0)
    warn(petpipe::detail::concat("realign: ", res.nan_voxels, " NaN voxels are treated as 0"));

  if (n == 1) {
    warn("realign: the image has a single frame; there is nothing to realign (identity transform)");
    res.frames[0].status = "single-frame";
    res.reference_frame = 0;
    return res;
  }

  const double max_mean = *std::max_element(means.begin(), means.end());
  if (!(max_mean > 0))
    throw make_error("realign: every frame is empty (all voxels zero, negative or NaN); nothing to register");

  std::vector<bool> user_excluded(n, false);
  for (auto f : o.exclude_frames) user_excluded[f] = true;
  std::vector<bool> estimable(n, false);
  for (std::size_t f = 0; f < n; ++f) {
    auto& m = res.frames[f];
    if (user_excluded[f]) {
      m.status = "excluded";
    } else if (pet.frames.start_s[f] + 1e-6 < o.start_time_s) {
      m.status = "before-start";
    } else if (!(means[f] > o.empty_fraction * max_mean)) {
      m.status = "near-empty";
      bool all_zero = true;
      const float* p = pet.frame(f);
      for (std::size_t i = 0; i < nvox && all_zero; ++i) all_zero = !(p[i] != 0.0f) || std::isnan(p[i]);
      warn(petpipe::detail::concat("realign: frame ", f + 1, all_zero ? " is all zero" : " is near-empty",
                          " (mean ", means[f], ", ", 100.0 * means[f] / max_mean,
                          " % of the largest frame mean); not estimated"));
    } else {
      estimable[f] = true;
    }
  }

  // Reference frame.
  std::size_t ref = 0;
  if (o.reference_frame >= 0) {
    ref = static_cast<std::size_t>(o.reference_frame);
    if (!estimable[ref])
      throw make_error("realign: reference frame ", ref + 1, " cannot be used: it is ", res.frames[ref].status);
  } else {
    const double scan_end = pet.frames.end_s(n - 1);
    const double scan_begin = pet.frames.start_s[0];
    double best = -1;
    bool found = false;
    for (int late_only = 1; late_only >= 0 && !found; --late_only) {
      for (std::size_t f = 0; f < n; ++f) {
        if (!estimable[f]) continue;
        if (late_only && pet.frames.mid_s(f) < scan_begin + (scan_end - scan_begin) / 3.0) continue;
        const double counts = means[f] * pet.frames.duration_s[f] *
                              (pet.frames.decay_corrected ? pet.frames.decay_factor(f) : 1.0);
        if (counts > best) {
          best = counts;
          ref = f;
          found = true;
        }
      }
    }
    if (!found)
      throw make_error("realign: no frame can be estimated (all are excluded, before the start time or near-empty)");
  }
  res.reference_frame = ref;
  res.frames[ref].status = "reference";

  std::vector<std::size_t> todo;  // estimated frames other than the reference
  for (std::size_t f = 0; f < n; ++f)
    if (estimable[f] && f != ref) todo.push_back(f);
  if (todo.empty())
    warn(petpipe::detail::concat("realign: only the reference frame ", ref + 1,
                        " can be estimated; every other frame keeps the identity transform"));
  log::info("realign: ", n, " frames, reference frame ", ref + 1, ", ", todo.size() + 1, " frames estimated");

  // Estimation images of the estimated frames: smoothed (fwhm_mm) for the first pass, and, for the
  // second pass, at the finer refine_fwhm_mm (same grid).
  const bool refine = o.two_pass && !todo.empty();
  const double refine_fwhm = o.refine_fwhm_mm < 0 ? o.fwhm_mm : o.refine_fwhm_mm;
  const EstimationGrid eg = estimation_grid(pet.geom, o, o.fwhm_mm);
  const EstimationGrid eg_fine = estimation_grid(pet.geom, o, refine_fwhm);
  std::vector<Image3D> est(n);
  std::vector<Image3D> fine(refine ? n : 0);
  {
    std::vector<std::size_t> need = todo;
    need.push_back(ref);
    Progress progress("realign: smoothing", need.size());
    parallel_for(need.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const std::size_t f = need[i];
        if (refine) {
          fine[f] = block_average(pet.frame(f), pet.geom, eg_fine.factor);
          est[f] = fine[f];
          gaussian_voxels(est[f], eg.sigma_vox);
          gaussian_voxels(fine[f], eg_fine.sigma_vox);
        } else {
          est[f] = estimation_image(pet, f, eg);
        }
        progress.advance();
      }
    });
  }
  log::debug("realign: estimation grid ", est[ref].geom.size[0], " x ", est[ref].geom.size[1], " x ",
             est[ref].geom.size[2], " voxels of ", est[ref].geom.spacing[0], " x ", est[ref].geom.spacing[1], " x ",
             est[ref].geom.spacing[2], " mm");

  detail::RegistrationSettings rs;
  rs.metric = o.metric;
  rs.levels = o.levels;
  rs.sampling_fraction = o.sampling_fraction;
  rs.max_samples = o.max_samples;
  rs.max_iterations = o.max_iterations;
  rs.min_step_mm = o.min_step_mm;
  rs.seed = o.seed;

  // register_one(i, f): registers frames[i] = f from its current transform.
  auto run_pass = [&](const auto& register_one, const std::vector<std::size_t>& frames, const char* label) {
    const auto started = std::chrono::steady_clock::now();
    Progress progress(label, frames.size());
    std::mutex mutex;
    parallel_for(frames.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const std::size_t f = frames[i];
        const auto out = with_context(petpipe::detail::concat("frame ", f + 1),
                                      [&] { return register_one(i, f); });
        {
          std::lock_guard<std::mutex> lock(mutex);
          set_params(res.frames[f], out.params);
          res.frames[f].metric_value = out.metric_value;
          res.frames[f].iterations = out.iterations;
          const auto& m = res.frames[f];
          log::debug(label, ": frame ", f + 1, ": t = (", m.tx_mm, ", ", m.ty_mm, ", ", m.tz_mm, ") mm, r = (",
                     m.rx_deg, ", ", m.ry_deg, ", ", m.rz_deg, ") deg, ", out.iterations, " iterations, ",
                     out.stop_condition);
        }
        progress.advance();
      }
    }, 1);
    log::debug(label, ": ", frames.size(), " frames in ",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), " s");
  };

  // The model target needs more frames than components (and one to leave out).
  const bool use_model = o.refine_target == RefineTarget::model &&
                         todo.size() + 1 > static_cast<std::size_t>(o.refine_components) + 1;
  if (refine && o.refine_target == RefineTarget::model && !use_model)
    warn(petpipe::detail::concat("realign: ", todo.size() + 1, " estimated frames are too few for a ", o.refine_components,
                                 "-component model target; the second pass uses the mean image"));
  // Pass 1: every estimated frame to the reference frame.
  // With the model target the second pass starts with a full-resolution round to the reference frame,
  // which makes the first pass's finest level redundant: the first pass then stops one level short.
  detail::RegistrationSettings rs1 = rs;
  if (refine && use_model && o.first_pass_skip_finest && rs.levels >= 2) {
    rs1.levels = rs.levels - 1;
    rs1.extra_shrink_levels = 1;
  }
  run_pass([&](std::size_t, std::size_t f) {
             return detail::register_rigid(est[ref], est[f], res.center_lps, to_params(res.frames[f]), rs1);
           },
           todo, "realign: pass 1");
  for (auto f : todo) res.frames[f].status = "estimated";

  // Pass 2 (refine_passes rounds) on the finer images (refine_fwhm_mm), one resolution level, every
  // voxel up to refine_max_samples, each round starting from the previous one. Targets: with
  // refine_target = model, the reference frame in the first round and each frame's leave-one-out
  // prediction from the other frames in the later ones; with refine_target = mean, the
  // duration-weighted mean of the realigned frames in every round. The heavy smoothing of the first pass gives
  // capture range; it also biases the optimum when the tracer distribution changes
  // between frames (edges of regions whose contrast changes are blurred into each other), which the
  // finer second pass removes (measured: docs/MODULE_VALIDATION.md).
  // The second pass samples only the head (and a margin), from the reference frame's smoothed image:
  // the same number of points then covers the head densely.
  std::vector<unsigned char> refine_mask;
  std::vector<unsigned char> target_mask;  // refine_mask and its 26 neighbours: what the points can read
  if (refine) {
    refine_mask = head_mask(est[ref], 0.05, 3);
    std::size_t inside = 0;
    for (auto v : refine_mask) inside += v;
    log::debug("realign: second-pass sampling mask ", inside, " of ", refine_mask.size(), " voxels");
    target_mask = dilate_box(refine_mask, est[ref].geom);
    est.clear();
  }
  // With the model target the first round goes to the reference frame itself, unsmoothed: the model
  // predicts a frame from its neighbours in time, so a drift that the first pass's smoothing left in a
  // run of neighbouring frames would persist in their targets; a direct registration at full
  // resolution removes most of it first (measured against the mean as first target:
  // docs/MODULE_VALIDATION.md).
  const int model_first_round = 1;
  std::vector<FrameMotion> reference_round;  // the estimates of the round against the reference frame
  for (int round = 0; refine && round < o.refine_passes; ++round) {
    std::vector<std::size_t> all = todo;
    all.push_back(ref);
    std::sort(all.begin(), all.end());
    std::vector<double> durations;
    for (auto f : all) durations.push_back(pet.frames.duration_s[f]);
    std::vector<Image3D> targets;  // one per frame of `all` (model) or one (mean)
    const bool model_round = use_model && round >= model_first_round;
    if (use_model && !model_round) {
      targets.push_back(fine[ref]);  // the reference frame, unsmoothed (its transform is the identity)
    } else if (model_round) {
      const auto t0 = std::chrono::steady_clock::now();
      // Only the voxels that the second pass's points can read (the mask and one voxel around it).
      targets.reserve(all.size());
      for (auto f : all) targets.emplace_back(fine[f].geom, 0.0f);
      parallel_for(all.size(), [&](std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k)
          detail::reslice_linear_where(fine[all[k]], to_params(res.frames[all[k]]), res.center_lps, target_mask,
                                       targets[k].data.data());
      }, 1);
      std::vector<std::size_t> numbers;
      for (auto f : all) numbers.push_back(f + 1);
      const auto t1 = std::chrono::steady_clock::now();
      std::vector<float*> rows;
      for (auto& t : targets) rows.push_back(t.data.data());
      model_targets(rows, targets.front().data.size(), refine_mask.data(), target_mask.data(), durations,
                    o.refine_components, numbers);
      log::debug("realign: model targets: reslicing ", std::chrono::duration<double>(t1 - t0).count(), " s, model ",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), " s");
    } else {
      Image3D mean(fine[ref].geom, 0.0f);
      std::vector<float> buffer(mean.data.size());
      double wsum = 0;
      for (std::size_t k = 0; k < all.size(); ++k) {
        const std::size_t f = all[k];
        detail::reslice_volume(fine[f].data.data(), buffer.data(), fine[f].geom, to_params(res.frames[f]),
                               res.center_lps, Interpolation::linear, thread_count());
        for (std::size_t i = 0; i < buffer.size(); ++i) mean.data[i] += static_cast<float>(durations[k] * buffer[i]);
        wsum += durations[k];
      }
      for (auto& v : mean.data) v = static_cast<float>(v / wsum);
      targets.push_back(std::move(mean));
    }
    detail::RegistrationSettings rs2 = rs;
    rs2.levels = 1;
    rs2.sampling_fraction = 1.0;  // every voxel up to refine_max_samples: less sampling jitter
    rs2.max_samples = o.refine_max_samples;
    rs2.fixed_mask = &refine_mask;
    rs2.initial_step_mm = 0.5;  // starts from the previous pass's estimate
    if (model_round) {
      rs2.metric = o.model_metric;
      if (o.model_metric == Metric::least_squares) rs2.max_samples = o.lsq_max_samples;
    } else if (use_model) {
      rs2.metric = o.reference_metric;
      // Window and cell sizes in voxels of the second pass's grid.
      const auto& sp = fine[ref].geom.spacing;
      const double voxel = std::min({sp[0], sp[1], sp[2]});
      auto window_voxels = [&](double mm) { return std::clamp(static_cast<int>(std::lround(mm / voxel)), 1, 3); };
      if (o.reference_metric == Metric::lncc) {
        rs2.lncc_radius = window_voxels(o.lncc_radius_mm);
        rs2.max_samples = std::min(o.refine_max_samples, o.lncc_max_samples);
        rs2.min_step_mm = std::max(o.min_step_mm, o.lncc_min_step_mm);
      } else if (o.reference_metric == Metric::local_lsq) {
        rs2.cell_voxels = std::max(2, static_cast<int>(std::lround(o.local_cell_mm / voxel)));
        rs2.max_samples = o.lsq_max_samples;
      } else if (o.reference_metric == Metric::window_ncc) {
        rs2.lncc_radius = window_voxels(o.window_radius_mm);
        rs2.max_samples = o.window_samples;
      }
    }
    // Priors of the model rounds: the reference round's estimates, moved together onto the current
    // series (their common offset from it removed), so that they hold the frames' relative poses only.
    std::vector<detail::Params> priors;
    if (model_round && o.model_prior_weight > 0 && o.model_metric == Metric::least_squares &&
        reference_round.size() == all.size()) {
      std::vector<FrameMotion> current, shifted = reference_round;
      for (auto f : all) current.push_back(res.frames[f]);
      rebase(shifted, common_offset(current, reference_round));
      for (const auto& m : shifted) priors.push_back(to_params(m));
    }
    const char* label = round == 0 ? "realign: pass 2" : "realign: pass 2 (repeated)";
    run_pass([&](std::size_t i, std::size_t f) {
               detail::RegistrationSettings rsf = rs2;
               if (!priors.empty()) {
                 rsf.prior = &priors[i];
                 rsf.prior_weight = o.model_prior_weight;
               }
               return detail::register_rigid(targets[model_round ? i : 0], fine[f], res.center_lps,
                                             to_params(res.frames[f]), rsf);
             },
             all, label);
    if (use_model && !model_round) {
      reference_round.clear();
      for (auto f : all) reference_round.push_back(res.frames[f]);
    }
    if (model_round) {
      // Leave-one-out targets follow the frames: a rotation or shift common to all frames changes no
      // frame's match to its target, so a model round can move the whole series together (noise makes
      // it wander by ~0.1 deg). The series is therefore put back into the reference frame's space
      // after each model round (measured against other anchors: docs/MODULE_VALIDATION.md).
      std::vector<FrameMotion> estimated;
      for (auto f : all) estimated.push_back(res.frames[f]);
      rebase_on_reference(estimated, static_cast<std::size_t>(std::find(all.begin(), all.end(), ref) - all.begin()));
      for (std::size_t k = 0; k < all.size(); ++k) res.frames[all[k]] = estimated[k];
    }
  }
  est.clear();
  fine.clear();

  // Frames that were not estimated.
  std::vector<std::size_t> done = todo;
  done.push_back(ref);
  for (std::size_t f = 0; f < n; ++f) {
    if (estimable[f]) continue;
    auto& m = res.frames[f];
    if (o.excluded == ExcludedPolicy::nearest) {
      std::size_t best = ref;
      double best_d = 1e300;
      for (auto g : done) {
        const double d = std::abs(pet.frames.mid_s(g) - pet.frames.mid_s(f));
        if (d < best_d || (d == best_d && g > best)) {
          best_d = d;
          best = g;
        }
      }
      set_params(m, to_params(res.frames[best]));
      m.source_frame = static_cast<int>(best);
    }
  }
  compute_framewise_displacement(res.frames);
  return res;
}

void reslice_frames(DynamicImage& pet, const MotionResult& motion, Interpolation interpolation) {
  const std::size_t n = pet.frame_count();
  if (motion.frames.size() != n)
    throw make_error("realign: motion table has ", motion.frames.size(), " frames but the image has ", n);
  const std::size_t nvox = pet.voxels_per_frame();
  std::vector<float> input(nvox);
  Progress progress("realign: reslicing", n);
  for (std::size_t f = 0; f < n; ++f) {
    float* frame = pet.frame(f);
    const auto& m = motion.frames[f];
    for (std::size_t i = 0; i < nvox; ++i)
      if (std::isnan(frame[i])) frame[i] = 0.0f;
    const bool identity = m.tx_mm == 0 && m.ty_mm == 0 && m.tz_mm == 0 && m.rx_deg == 0 && m.ry_deg == 0 &&
                          m.rz_deg == 0;
    if (!identity) {
      std::copy_n(frame, nvox, input.data());
      if (interpolation == Interpolation::bspline) {
        // The copy becomes the spline coefficients: one extra frame of memory, as for linear.
        detail::bspline_coefficients(input.data(), pet.geom);
        detail::reslice_bspline(input.data(), frame, pet.geom, to_params(m), motion.center_lps);
      } else {
        detail::reslice_volume(input.data(), frame, pet.geom, to_params(m), motion.center_lps, interpolation,
                               thread_count());
      }
    }
    progress.advance();
  }
}

Image3D mean_image(const DynamicImage& pet) {
  Image3D out(pet.geom, 0.0f);
  const std::size_t nvox = pet.voxels_per_frame();
  std::vector<double> acc(nvox, 0.0);
  double wsum = 0;
  for (std::size_t f = 0; f < pet.frame_count(); ++f) {
    const double w = pet.frames.duration_s[f];
    const float* p = pet.frame(f);
    for (std::size_t i = 0; i < nvox; ++i)
      if (!std::isnan(p[i])) acc[i] += w * p[i];
    wsum += w;
  }
  for (std::size_t i = 0; i < nvox; ++i) out.data[i] = static_cast<float>(acc[i] / wsum);
  return out;
}

}  // namespace petpipe::realign
