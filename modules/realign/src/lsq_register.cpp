// Rigid least-squares registration with an intensity scale, solved by Gauss-Newton with
// Levenberg-Marquardt damping (as SPM's realign, which fits f(x) = s * g(T(x))). Used for the model
// rounds of the second pass: there each frame's target is its own prediction from the other frames
// (same tracer distribution, same units), so the residual is noise plus misalignment and least squares
// is the natural metric. Every point of the head mask takes part (no sampling), and Gauss-Newton needs a
// handful of iterations where a gradient descent needs dozens. An optional prior (model rounds) adds
// w d^T H0 d for the pose's offset d from a given pose.
//
// The same solver, with the fixed points grouped into cells and a slope (and, centred, an offset) fitted
// per cell at every pose, gives the reference round's local metrics: local least squares (cells of
// the fixed grid) and local normalized correlation (Metric::window_ncc: small jittered windows, each
// cell's residuals divided by its fixed-value variance).
//
// Update: T_new = T o D with D(x) = R_d (x - c) + c + dt, R_d = exp([w]x). At D = identity the
// derivatives of g(T(D(x))) are dg/d(dt) = R^T grad g(T x) =: q and dg/dw = (x - c) x q.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <Eigen/Dense>

#include "backend.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

namespace {

// Trilinear sampler of an image in continuous index space with the interpolant's own gradient (index
// units). Inside: continuous index in [-0.5, n - 0.5] on every axis (as ITK's linear interpolator),
// neighbours clamped to the image.
struct Sampler {
  const float* data;
  std::array<long, 3> n;
  long sy, sz;
  explicit Sampler(const Image3D& img)
      : data(img.data.data()),
        n{static_cast<long>(img.geom.size[0]), static_cast<long>(img.geom.size[1]), static_cast<long>(img.geom.size[2])},
        sy(static_cast<long>(img.geom.size[0])),
        sz(static_cast<long>(img.geom.size[0] * img.geom.size[1])) {}

  bool sample(const Vec3& ci, double& value, Vec3* grad) const {
    long i0[3], i1[3];
    double w[3];
    for (int a = 0; a < 3; ++a) {
      if (!(ci[a] >= -0.5 && ci[a] <= static_cast<double>(n[a]) - 0.5)) return false;
      const double fl = std::floor(ci[a]);
      w[a] = ci[a] - fl;
      const long b = static_cast<long>(fl);
      i0[a] = std::clamp(b, 0L, n[a] - 1);
      i1[a] = std::clamp(b + 1, 0L, n[a] - 1);
    }
    const double c000 = data[i0[0] + sy * i0[1] + sz * i0[2]], c100 = data[i1[0] + sy * i0[1] + sz * i0[2]];
    const double c010 = data[i0[0] + sy * i1[1] + sz * i0[2]], c110 = data[i1[0] + sy * i1[1] + sz * i0[2]];
    const double c001 = data[i0[0] + sy * i0[1] + sz * i1[2]], c101 = data[i1[0] + sy * i0[1] + sz * i1[2]];
    const double c011 = data[i0[0] + sy * i1[1] + sz * i1[2]], c111 = data[i1[0] + sy * i1[1] + sz * i1[2]];
    const double x = w[0], y = w[1], z = w[2];
    // Along x first.
    const double c00 = c000 + x * (c100 - c000), c10 = c010 + x * (c110 - c010);
    const double c01 = c001 + x * (c101 - c001), c11 = c011 + x * (c111 - c011);
    const double c0 = c00 + y * (c10 - c00), c1 = c01 + y * (c11 - c01);
    value = c0 + z * (c1 - c0);
    if (grad) {
      const double dx0 = (c100 - c000) + y * ((c110 - c010) - (c100 - c000));
      const double dx1 = (c101 - c001) + y * ((c111 - c011) - (c101 - c001));
      (*grad)[0] = dx0 + z * (dx1 - dx0);
      (*grad)[1] = (c10 - c00) + z * ((c11 - c01) - (c10 - c00));
      (*grad)[2] = c1 - c0;
    }
    return true;
  }
};

// Continuous index = A * point + b of a grid; index gradients to physical ones: grad_phys = A^T grad_idx.
struct IndexMap {
  Eigen::Matrix3d a;
  Eigen::Vector3d b;
  explicit IndexMap(const Geometry& g) {
    Eigen::Matrix3d d;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) d(r, c) = g.direction[3 * r + c];
    const Eigen::Vector3d inv_s(1.0 / g.spacing[0], 1.0 / g.spacing[1], 1.0 / g.spacing[2]);
    a = inv_s.asDiagonal() * d.inverse();
    b = -a * Eigen::Vector3d(g.origin[0], g.origin[1], g.origin[2]);
  }
};

Eigen::Matrix3d euler_matrix(const Params& p) {
  const double deg = 180.0 / 3.14159265358979323846;
  const Mat3 r = rotation_matrix(p[0] * deg, p[1] * deg, p[2] * deg);
  Eigen::Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m(i, j) = r[3 * i + j];
  return m;
}

struct Accumulated {
  double cost = 0;  // sum of squared residuals
  std::size_t used = 0;
  Eigen::Matrix<double, 7, 7> h = Eigen::Matrix<double, 7, 7>::Zero();
  Eigen::Matrix<double, 7, 1> g = Eigen::Matrix<double, 7, 1>::Zero();
};

// Index of T(x) and the motion derivatives at one pose: T(x) = R x' + c + t for x' = x - c, continuous
// index ar x' + a0; a moving-image gradient grad_idx (index units) gives q = R^T A^T grad_idx, and the
// derivatives of moving(T(D(x))) in the update D are (x' cross q, q) (rotation, translation).
struct Pose {
  Eigen::Matrix3d ar, grad_map;
  Eigen::Vector3d a0;
  Pose(const IndexMap& m, const Eigen::Matrix3d& r, const Eigen::Vector3d& c, const Eigen::Vector3d& t)
      : ar(m.a * r), grad_map(r.transpose() * m.a.transpose()), a0(m.a * (c + t) + m.b) {}
  Vec3 index(const Eigen::Vector3d& x) const {
    return {ar(0, 0) * x[0] + ar(0, 1) * x[1] + ar(0, 2) * x[2] + a0[0],
            ar(1, 0) * x[0] + ar(1, 1) * x[1] + ar(1, 2) * x[2] + a0[1],
            ar(2, 0) * x[0] + ar(2, 1) * x[1] + ar(2, 2) * x[2] + a0[2]};
  }
  void motion_row(const Eigen::Vector3d& x, double g0, double g1, double g2, double* j) const {
    const double q0 = grad_map(0, 0) * g0 + grad_map(0, 1) * g1 + grad_map(0, 2) * g2;
    const double q1 = grad_map(1, 0) * g0 + grad_map(1, 1) * g1 + grad_map(1, 2) * g2;
    const double q2 = grad_map(2, 0) * g0 + grad_map(2, 1) * g1 + grad_map(2, 2) * g2;
    j[0] = x[1] * q2 - x[2] * q1;
    j[1] = x[2] * q0 - x[0] * q2;
    j[2] = x[0] * q1 - x[1] * q0;
    j[3] = q0;
    j[4] = q1;
    j[5] = q2;
  }
};

// Normal equations J^T J and J^T r summed over points (lower triangle while summing).
struct NormalEquations {
  double h[7][7] = {};
  double g[7] = {};
  void add(const double* j, double res) {
    for (int a = 0; a < 7; ++a) {
      g[a] += res * j[a];
      for (int b = 0; b <= a; ++b) h[a][b] += j[a] * j[b];
    }
  }
  void store(Accumulated& acc) const {
    for (int a = 0; a < 7; ++a) {
      acc.g(a) = g[a];
      for (int b = 0; b <= a; ++b) acc.h(a, b) = acc.h(b, a) = h[a][b];
    }
  }
};

// The fixed image's values at points (physical, LPS mm), keeping the points that fall inside it.
struct FixedSamples {
  Sampler sampler;
  IndexMap map;
  std::vector<Vec3> points;
  std::vector<float> values;
  explicit FixedSamples(const Image3D& fixed) : sampler(fixed), map(fixed.geom) {}
  bool add(const Vec3& p) {
    const Eigen::Vector3d ci = map.a * Eigen::Vector3d(p[0], p[1], p[2]) + map.b;
    double v = 0;
    if (!sampler.sample({ci[0], ci[1], ci[2]}, v, nullptr)) return false;
    points.push_back(p);
    values.push_back(static_cast<float>(v));
    return true;
  }
};

}  // namespace

void reslice_linear_where(const Image3D& image, const Params& params, const Vec3& center,
                          const std::vector<unsigned char>& where, float* out) {
  const auto& g = image.geom;
  if (where.size() != g.voxel_count()) throw make_error("realign: reslicing mask size mismatch");
  const Sampler sampler(image);
  const IndexMap map(g);
  const Eigen::Vector3d c(center[0], center[1], center[2]);
  // Index of T(x) for x = the centre of voxel (i, j, k): M * (i, j, k) + m.
  const Eigen::Matrix3d r = euler_matrix(params);
  Eigen::Matrix3d d;
  for (int a = 0; a < 3; ++a)
    for (int b2 = 0; b2 < 3; ++b2) d(a, b2) = g.direction[3 * a + b2];
  const Eigen::Matrix3d m = map.a * r * d * Eigen::Vector3d(g.spacing[0], g.spacing[1], g.spacing[2]).asDiagonal();
  const Eigen::Vector3d m0 =
      map.a * (r * (Eigen::Vector3d(g.origin[0], g.origin[1], g.origin[2]) - c) + c +
               Eigen::Vector3d(params[3], params[4], params[5])) + map.b;
  std::size_t v = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i, ++v) {
        if (!where[v]) {
          out[v] = 0.0f;
          continue;
        }
        const Eigen::Vector3d ci = m * Eigen::Vector3d(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)) + m0;
        double val = 0;
        out[v] = sampler.sample({ci[0], ci[1], ci[2]}, val, nullptr) ? static_cast<float>(val) : 0.0f;
      }
}

// Windows of (2 r + 1)^3 lattice points (the fixed grid's axes and spacing) about centres drawn from the
// mask, jittered within their voxels, so every window's lattice sits at its own random sub-voxel offset
// and both images are interpolated alike (ITK's neighbourhood correlation reads the fixed image at voxel
// centres and the moving one between them: with noise, poses that smooth the moving image by
// interpolation then correlate better, which moved motion-free noisy frames by up to 1.7 deg).
RegistrationOutput register_rigid_window_ncc(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                             const Params& initial, const RegistrationSettings& s) {
  if (!s.fixed_mask) throw make_error("realign: local correlation needs a sampling mask");
  const int r = std::max(1, s.lncc_radius);
  const std::size_t per_window = static_cast<std::size_t>((2 * r + 1) * (2 * r + 1) * (2 * r + 1));
  const std::size_t windows = std::max<std::size_t>(1, s.max_samples / per_window);
  const auto centres = draw_sample_points(fixed.geom, *s.fixed_mask, 1.0, windows, s.seed);
  const auto& g = fixed.geom;
  const Vec3 o = g.index_to_point({0, 0, 0});
  std::vector<Vec3> offsets;
  for (int dz = -r; dz <= r; ++dz)
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        const Vec3 p = g.index_to_point({static_cast<double>(dx), static_cast<double>(dy), static_cast<double>(dz)});
        offsets.push_back({p[0] - o[0], p[1] - o[1], p[2] - o[2]});
      }
  FixedSamples samples(fixed);
  std::vector<std::uint32_t> cells;
  samples.points.reserve(centres.size() * per_window);
  for (std::size_t w = 0; w < centres.size(); ++w)
    for (const auto& d : offsets)
      if (samples.add({centres[w][0] + d[0], centres[w][1] + d[1], centres[w][2] + d[2]}))
        cells.push_back(static_cast<std::uint32_t>(w));
  return register_rigid_lsq_points(samples.points, samples.values.data(), moving, center, initial, s, &cells);
}

RegistrationOutput register_rigid_lsq(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                      const Params& initial, const RegistrationSettings& s) {
  if (!s.fixed_mask) throw make_error("realign: least-squares registration needs a sampling mask");
  if (s.metric == Metric::window_ncc) return register_rigid_window_ncc(fixed, moving, center, initial, s);
  FixedSamples samples(fixed);
  for (const auto& p : draw_sample_points(fixed.geom, *s.fixed_mask, s.sampling_fraction, s.max_samples, s.seed))
    samples.add(p);
  const auto& points = samples.points;
  const auto& values = samples.values;
  if (s.metric != Metric::local_lsq) return register_rigid_lsq_points(points, values.data(), moving, center, initial, s);
  // Cells of cell_voxels^3 voxels of the fixed grid.
  const int k = std::max(1, s.cell_voxels);
  std::array<std::size_t, 3> ncell{};
  for (int a = 0; a < 3; ++a) ncell[a] = (fixed.geom.size[a] + static_cast<std::size_t>(k) - 1) / static_cast<std::size_t>(k);
  std::vector<std::uint32_t> cells(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Eigen::Vector3d ci = samples.map.a * Eigen::Vector3d(points[i][0], points[i][1], points[i][2]) + samples.map.b;
    std::array<std::size_t, 3> q{};
    for (int a = 0; a < 3; ++a)
      q[a] = std::min(ncell[a] - 1, static_cast<std::size_t>(std::max(0.0, std::floor((ci[a] + 0.5) / k))));
    cells[i] = static_cast<std::uint32_t>(q[0] + ncell[0] * (q[1] + ncell[1] * q[2]));
  }
  return register_rigid_lsq_points(points, values.data(), moving, center, initial, s, &cells);
}

RegistrationOutput register_rigid_lsq_points(const std::vector<Vec3>& points, const float* fixed_values,
                                             const Image3D& moving, const Vec3& center, const Params& initial,
                                             const RegistrationSettings& s, const std::vector<std::uint32_t>* cells) {
  if (points.size() < 100) throw make_error("realign: too few sample points inside the image (", points.size(), ")");
  const Sampler moving_sampler(moving);
  const IndexMap moving_map(moving.geom);
  const Eigen::Vector3d c(center[0], center[1], center[2]);
  std::vector<Eigen::Vector3d> rel(points.size());
  for (std::size_t k = 0; k < points.size(); ++k) rel[k] = Eigen::Vector3d(points[k][0], points[k][1], points[k][2]) - c;
  const float* fvals = fixed_values;

  // Local mode: per-cell sums and the moving samples of the current evaluation.
  const bool local = cells != nullptr;
  const bool centred = local && s.metric == Metric::window_ncc;
  std::size_t ncells = 0;
  if (local) {
    if (cells->size() != points.size()) throw make_error("realign: cell ids do not match the points");
    for (auto id : *cells) ncells = std::max<std::size_t>(ncells, id + 1);
  }
  // Per cell: n, slope, sum g^2, sum f, sum f g, sum f^2, sum g, mean f, mean g (centred sums replace the
  // raw ones once the cell is complete).
  std::vector<std::array<double, 9>> cell_sums(ncells);
  std::vector<std::array<float, 4>> sampled(local ? points.size() : 0);  // g and its index gradient
  std::vector<unsigned char> inside(local ? points.size() : 0);
  // Cell weights: 1 (local least squares), or 1 / (variance of the cell's fixed values) (window_ncc, from
  // every point of the cell; 0 for a cell without variation), which makes each cell's cost n (1 - rho^2).
  std::vector<double> cell_weight(ncells, 1.0);
  if (centred) {
    std::vector<std::array<double, 3>> fs(ncells, std::array<double, 3>{});
    for (std::size_t k = 0; k < points.size(); ++k) {
      auto& a = fs[(*cells)[k]];
      a[0] += 1;
      a[1] += fvals[k];
      a[2] += static_cast<double>(fvals[k]) * fvals[k];
    }
    double largest = 0;
    std::vector<double> var(ncells, 0.0);
    for (std::size_t c = 0; c < ncells; ++c)
      if (fs[c][0] >= 8) {
        const double mean = fs[c][1] / fs[c][0];
        var[c] = std::max(0.0, fs[c][2] / fs[c][0] - mean * mean);
        largest = std::max(largest, var[c]);
      }
    for (std::size_t c = 0; c < ncells; ++c) cell_weight[c] = var[c] > 1e-12 * largest ? 1.0 / var[c] : 0.0;
  }

  // Local mode: f ~ a_c g (+ b_c when centred) within each cell c, a_c (and b_c) fitted at every pose
  // (profiled out, with the derivative in the Gauss-Newton step: variable projection). Cells with
  // fewer than 8 points or g ~ 0 (no variation, when centred) are left out. (Local least squares: an
  // offset per cell as well absorbs most of a small shift wherever the image is locally linear:
  // measured worse.)
  auto evaluate_local = [&](const Eigen::Matrix3d& r, const Eigen::Vector3d& t) {
    Accumulated acc;
    const Pose pose(moving_map, r, c, t);
    for (auto& cs : cell_sums) cs.fill(0.0);
    for (std::size_t k = 0; k < rel.size(); ++k) {
      double g = 0;
      Vec3 gi{};
      inside[k] = moving_sampler.sample(pose.index(rel[k]), g, &gi) ? 1 : 0;
      if (!inside[k]) continue;
      sampled[k] = {static_cast<float>(g), static_cast<float>(gi[0]), static_cast<float>(gi[1]), static_cast<float>(gi[2])};
      auto& cs = cell_sums[(*cells)[k]];
      const double f = fvals[k];
      cs[0] += 1;
      cs[2] += g * g;
      cs[3] += f;
      cs[4] += f * g;
      cs[5] += f * f;
      cs[6] += g;
    }
    // Per cell: slope a (in cs[1]), or n = 0 when left out; centred: sums about the means.
    for (std::size_t cidx = 0; cidx < ncells; ++cidx) {
      auto& cs = cell_sums[cidx];
      if (cs[0] < 8 || cell_weight[cidx] == 0) {
        cs[0] = 0;
        continue;
      }
      if (centred) {
        cs[7] = cs[3] / cs[0];
        cs[8] = cs[6] / cs[0];
        cs[2] -= cs[0] * cs[8] * cs[8];
        cs[4] -= cs[0] * cs[7] * cs[8];
        cs[5] -= cs[0] * cs[7] * cs[7];
      }
      if (!(cs[2] > 1e-12 * std::max(cs[5], 1e-30))) {
        cs[0] = 0;
        continue;
      }
      cs[1] = cs[4] / cs[2];
    }
    auto dg = [&](std::size_t k, double* j) { pose.motion_row(rel[k], sampled[k][1], sampled[k][2], sampled[k][3], j); };
    // Variable projection: the slope a_c = sum f g / sum g^2 (centred values when centred) moves with
    // the pose, da_c = sum_j (f_j - 2 a_c g_j) dg_j / sum g^2 (centring leaves this unchanged, as the
    // centred values sum to 0), so the residual f - a_c g has the Jacobian -(a_c dg_k + g_k da_c), with
    // dg_k - mean_c(dg) in place of dg_k when centred.
    std::vector<std::array<double, 12>> da(ncells, std::array<double, 12>{});  // da (6), sum dg (6)
    for (std::size_t k = 0; k < rel.size(); ++k) {
      const auto& cs = cell_sums[(*cells)[k]];
      if (!inside[k] || cs[0] == 0) continue;
      double j[6];
      dg(k, j);
      const double w = (fvals[k] - cs[7]) - 2.0 * cs[1] * (sampled[k][0] - cs[8]);
      auto& d = da[(*cells)[k]];
      for (int i = 0; i < 6; ++i) {
        d[i] += w * j[i];
        d[6 + i] += j[i];
      }
    }
    for (std::size_t cidx = 0; cidx < ncells; ++cidx)
      if (cell_sums[cidx][0] != 0)
        for (int i = 0; i < 6; ++i) {
          da[cidx][i] /= cell_sums[cidx][2];
          da[cidx][6 + i] = centred ? da[cidx][6 + i] / cell_sums[cidx][0] : 0.0;
        }
    NormalEquations ne;
    for (std::size_t k = 0; k < rel.size(); ++k) {
      if (!inside[k]) continue;
      const auto& cs = cell_sums[(*cells)[k]];
      if (cs[0] == 0) continue;
      const double a = cs[1], g = sampled[k][0] - cs[8];  // cs[1]: the cell's slope; cs[8]: mean g (centred)
      const double sw = std::sqrt(cell_weight[(*cells)[k]]);
      const double res = sw * ((fvals[k] - cs[7]) - a * g);
      acc.cost += res * res;
      ++acc.used;
      double j[7];
      dg(k, j);
      const auto& d = da[(*cells)[k]];
      for (int i = 0; i < 6; ++i) j[i] = sw * (a * (j[i] - d[6 + i]) + g * d[i]);
      j[6] = 0;  // no global scale in this mode
      ne.add(j, res);
    }
    ne.store(acc);
    acc.h(6, 6) = 1.0;  // the scale's update then solves to 0
    return acc;
  };

  // Cost, gradient and Gauss-Newton matrix at (R, t, scale).
  auto evaluate = [&](const Eigen::Matrix3d& r, const Eigen::Vector3d& t, double scale, bool derivatives) {
    if (local) return evaluate_local(r, t);
    Accumulated acc;
    const Pose pose(moving_map, r, c, t);
    NormalEquations ne;
    for (std::size_t k = 0; k < rel.size(); ++k) {
      double g = 0;
      Vec3 gi{};
      if (!moving_sampler.sample(pose.index(rel[k]), g, derivatives ? &gi : nullptr)) continue;
      const double res = fvals[k] - scale * g;
      acc.cost += res * res;
      ++acc.used;
      if (!derivatives) continue;
      double j[7];  // (motion row of scale * moving, moving)
      pose.motion_row(rel[k], scale * gi[0], scale * gi[1], scale * gi[2], j);
      j[6] = g;
      ne.add(j, res);
    }
    ne.store(acc);
    return acc;
  };
  auto mean_cost = [](const Accumulated& a) {
    return a.used > 0 ? a.cost / static_cast<double>(a.used) : std::numeric_limits<double>::infinity();
  };

  Eigen::Matrix3d r = euler_matrix(initial);
  Eigen::Vector3d t(initial[3], initial[4], initial[5]);
  // Initial scale: least squares of f against g at the initial pose.
  double scale = 1.0;
  {
    double fg = 0, gg = 0;
    const Pose pose(moving_map, r, c, t);
    for (std::size_t k = 0; k < rel.size(); ++k) {
      double g = 0;
      if (!moving_sampler.sample(pose.index(rel[k]), g, nullptr)) continue;
      fg += fvals[k] * g;
      gg += g * g;
    }
    if (gg > 0 && fg > 0) scale = fg / gg;
  }

  constexpr double kRadiusMm = 60.0;  // rotations count as displacements at this radius
  double lambda = 1e-3;
  RegistrationOutput out;
  Accumulated cur = evaluate(r, t, scale, true);
  if (cur.used == 0)
    throw make_error("realign: no sample point falls inside the moving image at the starting pose");
  // Prior (least squares only): cost += w d^T P d with P the data's motion block at the start.
  const bool use_prior = s.prior != nullptr && s.prior_weight > 0 && !local;
  Eigen::Matrix<double, 6, 6> prior_p = Eigen::Matrix<double, 6, 6>::Zero();
  Eigen::Matrix3d prior_r = Eigen::Matrix3d::Identity();
  Eigen::Vector3d prior_t = Eigen::Vector3d::Zero();
  if (use_prior) {
    prior_p = s.prior_weight * cur.h.topLeftCorner<6, 6>();
    prior_r = euler_matrix(*s.prior);
    prior_t = Eigen::Vector3d((*s.prior)[3], (*s.prior)[4], (*s.prior)[5]);
  }
  // Offset of the prior from a pose in the update's coordinates (D with T o D = prior):
  // rotation vector of R^T R_p, translation R^T (t_p - t).
  auto prior_offset = [&](const Eigen::Matrix3d& rr, const Eigen::Vector3d& tt) {
    Eigen::Matrix<double, 6, 1> d;
    const Eigen::AngleAxisd aa(rr.transpose() * prior_r);
    d.head<3>() = aa.angle() * aa.axis();
    d.tail<3>() = rr.transpose() * (prior_t - tt);
    return d;
  };
  auto add_prior = [&](Accumulated& acc, const Eigen::Matrix3d& rr, const Eigen::Vector3d& tt) {
    if (!use_prior) return;
    const Eigen::Matrix<double, 6, 1> d = prior_offset(rr, tt);
    acc.cost += d.dot(prior_p * d);
    acc.h.topLeftCorner<6, 6>() += prior_p;
    acc.g.head<6>() += prior_p * d;
  };
  add_prior(cur, r, t);
  unsigned it = 0;
  std::string stop = "maximum iterations";
  const int max_iterations = std::max(1, std::min(s.max_iterations, 50));
  for (; it < static_cast<unsigned>(max_iterations); ++it) {
    Eigen::Matrix<double, 7, 7> a = cur.h;
    for (int i = 0; i < 7; ++i) a(i, i) *= 1.0 + lambda;
    const Eigen::Matrix<double, 7, 1> u = a.ldlt().solve(cur.g);
    if (!u.allFinite()) {
      stop = "singular system";
      break;
    }
    const Eigen::Vector3d w = u.segment<3>(0), dt = u.segment<3>(3);
    const double angle = w.norm();
    const Eigen::Matrix3d rd =
        angle > 0 ? Eigen::AngleAxisd(angle, w / angle).toRotationMatrix() : Eigen::Matrix3d::Identity();
    const Eigen::Matrix3d r_new = r * rd;
    const Eigen::Vector3d t_new = t + r * dt;
    const double scale_new = scale + u(6);
    const double step_mm = dt.norm() + kRadiusMm * angle;
    Accumulated next = evaluate(r_new, t_new, scale_new, true);
    add_prior(next, r_new, t_new);
    if (mean_cost(next) <= mean_cost(cur)) {
      r = r_new;
      t = t_new;
      scale = scale_new;
      cur = std::move(next);
      lambda = std::max(1e-6, lambda * 0.3);
      if (step_mm < s.min_step_mm) {
        stop = "step below minimum";
        ++it;
        break;
      }
    } else {
      lambda *= 10;
      if (lambda > 1e6 || step_mm < s.min_step_mm) {
        stop = "no further decrease";
        ++it;
        break;
      }
    }
  }
  // Back to ITK Euler parameters (R = Rz Rx Ry).
  Mat3 rm{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) rm[3 * i + j] = r(i, j);
  const auto ang = euler_angles_rad(rm);
  out.params = {ang[0], ang[1], ang[2], t[0], t[1], t[2]};
  out.metric_value = mean_cost(cur);

  out.iterations = it;
  out.stop_condition = stop;
  return out;
}

}  // namespace petpipe::realign::detail
