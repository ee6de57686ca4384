// Cell-wise cost of the local metrics (cell_cost.hpp).
#include "cell_cost.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

CellCost::CellCost(const std::vector<Vec3>& points, const float* fixed_values, const std::vector<std::uint32_t>& cells,
                   bool centred, const Image3D& moving, const Vec3& center)
    : PointCost(points, fixed_values, moving, center), cells_(cells), centred_(centred) {
  if (cells.size() != points.size()) throw make_error("realign: cell ids do not match the points");
  for (auto id : cells) ncells_ = std::max<std::size_t>(ncells_, id + 1);
  sums_.resize(ncells_);
  sampled_.resize(points.size());
  inside_.resize(points.size());
  // Cell weights: 1 (local least squares), or 1 / (variance of the cell's fixed values) (centred, from
  // every point of the cell; 0 for a cell without variation), which makes each cell's cost n (1 - rho^2).
  cell_weight_.assign(ncells_, 1.0);
  if (!centred_) return;
  std::vector<std::array<double, 3>> fs(ncells_, std::array<double, 3>{});
  for (std::size_t k = 0; k < points.size(); ++k) {
    auto& a = fs[cells[k]];
    a[0] += 1;
    a[1] += fvals_[k];
    a[2] += static_cast<double>(fvals_[k]) * fvals_[k];
  }
  double largest = 0;
  std::vector<double> var(ncells_, 0.0);
  for (std::size_t c = 0; c < ncells_; ++c)
    if (fs[c][0] >= 8) {
      const double mean = fs[c][1] / fs[c][0];
      var[c] = std::max(0.0, fs[c][2] / fs[c][0] - mean * mean);
      largest = std::max(largest, var[c]);
    }
  for (std::size_t c = 0; c < ncells_; ++c) cell_weight_[c] = var[c] > 1e-12 * largest ? 1.0 / var[c] : 0.0;
}

// Per cell: the slope a (and, centred, the means and the sums about them), or n = 0 for a cell left
// out: fewer than 8 points, weight 0, or g without variation. (Local least squares with an offset per
// cell as well absorbs most of a small shift wherever the image is locally linear: measured worse.)
void CellCost::fit_cells() {
  for (std::size_t c = 0; c < ncells_; ++c) {
    auto& cs = sums_[c];
    if (cs.n < 8 || cell_weight_[c] == 0) {
      cs.n = 0;
      continue;
    }
    if (centred_) {
      cs.mean_f = cs.f / cs.n;
      cs.mean_g = cs.g / cs.n;
      cs.gg -= cs.n * cs.mean_g * cs.mean_g;
      cs.fg -= cs.n * cs.mean_f * cs.mean_g;
      cs.ff -= cs.n * cs.mean_f * cs.mean_f;
    }
    if (!(cs.gg > 1e-12 * std::max(cs.ff, 1e-30))) {
      cs.n = 0;
      continue;
    }
    cs.slope = cs.fg / cs.gg;
  }
}

NormalSystem CellCost::evaluate(const Eigen::Matrix3d& r, const Eigen::Vector3d& t, double) {
  NormalSystem acc;
  const Pose pose(moving_map_, r, c_, t);
  std::fill(sums_.begin(), sums_.end(), CellSums{});
  for (std::size_t k = 0; k < rel_.size(); ++k) {
    double g = 0;
    Vec3 gi{};
    inside_[k] = moving_sampler_.sample(pose.index(rel_[k]), g, &gi) ? 1 : 0;
    if (!inside_[k]) continue;
    sampled_[k] = {static_cast<float>(g), static_cast<float>(gi[0]), static_cast<float>(gi[1]), static_cast<float>(gi[2])};
    auto& cs = sums_[cells_[k]];
    const double f = fvals_[k];
    cs.n += 1;
    cs.gg += g * g;
    cs.f += f;
    cs.fg += f * g;
    cs.ff += f * f;
    cs.g += g;
  }
  fit_cells();
  auto dg = [&](std::size_t k, double* j) {
    pose.motion_row(rel_[k], sampled_[k][1], sampled_[k][2], sampled_[k][3], j);
  };
  // Variable projection: the slope a_c = sum f g / sum g^2 (centred values when centred) moves with the
  // pose, da_c = sum_j (f_j - 2 a_c g_j) dg_j / sum g^2 (centring leaves this unchanged, as the centred
  // values sum to 0), so the residual f - a_c g has the Jacobian -(a_c dg_k + g_k da_c), with
  // dg_k - mean_c(dg) in place of dg_k when centred.
  std::vector<std::array<double, 12>> da(ncells_, std::array<double, 12>{});  // da (6), mean dg (6)
  for (std::size_t k = 0; k < rel_.size(); ++k) {
    const auto& cs = sums_[cells_[k]];
    if (!inside_[k] || cs.n == 0) continue;
    double j[6];
    dg(k, j);
    const double w = (fvals_[k] - cs.mean_f) - 2.0 * cs.slope * (sampled_[k][0] - cs.mean_g);
    auto& d = da[cells_[k]];
    for (int i = 0; i < 6; ++i) {
      d[i] += w * j[i];
      d[6 + i] += j[i];
    }
  }
  for (std::size_t c = 0; c < ncells_; ++c)
    if (sums_[c].n != 0)
      for (int i = 0; i < 6; ++i) {
        da[c][i] /= sums_[c].gg;
        da[c][6 + i] = centred_ ? da[c][6 + i] / sums_[c].n : 0.0;
      }
  NormalEquations ne;
  for (std::size_t k = 0; k < rel_.size(); ++k) {
    if (!inside_[k]) continue;
    const auto& cs = sums_[cells_[k]];
    if (cs.n == 0) continue;
    const double a = cs.slope, g = sampled_[k][0] - cs.mean_g;  // mean_g: 0 unless centred
    const double sw = std::sqrt(cell_weight_[cells_[k]]);
    const double res = sw * ((fvals_[k] - cs.mean_f) - a * g);
    acc.cost += res * res;
    ++acc.used;
    double j[7];
    dg(k, j);
    const auto& d = da[cells_[k]];
    for (int i = 0; i < 6; ++i) j[i] = sw * (a * (j[i] - d[6 + i]) + g * d[i]);
    j[6] = 0;  // no global scale
    ne.add(j, res);
  }
  ne.store(acc);
  acc.h(6, 6) = 1.0;  // the scale's update then solves to 0
  return acc;
}

}  // namespace petpipe::realign::detail
