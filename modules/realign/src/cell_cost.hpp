#pragma once
// The cost of the local metrics (Metric::local_lsq, Metric::window_ncc): the fixed points are grouped
// into cells, and within each cell c the fixed values f are fitted by a_c * g (local least squares) or
// by a_c * g + b_c with each cell's squared residuals divided by its fixed-value variance (centred:
// local normalized correlation, a cost of n_c (1 - rho_c^2) per cell), g the moving image at the
// transformed points. a_c (and b_c) are fitted at every pose and differentiated in the Gauss-Newton
// step (variable projection). No global intensity scale.
#include <cstdint>
#include <vector>

#include "gauss_newton.hpp"

namespace petpipe::realign::detail {

class CellCost final : public PointCost {
 public:
  // cells: one id per point. Throws when the ids do not match the points (or fewer than 100 points).
  CellCost(const std::vector<Vec3>& points, const float* fixed_values, const std::vector<std::uint32_t>& cells,
           bool centred, const Image3D& moving, const Vec3& center);

  double initial_scale(const Eigen::Matrix3d&, const Eigen::Vector3d&) const override { return 1.0; }
  NormalSystem evaluate(const Eigen::Matrix3d& r, const Eigen::Vector3d& t, double scale) override;

 private:
  // Sums over the points of one cell inside the moving image at the current pose; after
  // fit_cells the second moments are about the means when centred, n = 0 marks a cell left out.
  struct CellSums {
    double n = 0, slope = 0, gg = 0, f = 0, fg = 0, ff = 0, g = 0, mean_f = 0, mean_g = 0;
  };
  void fit_cells();

  const std::vector<std::uint32_t>& cells_;
  bool centred_;
  std::size_t ncells_ = 0;
  std::vector<double> cell_weight_;      // 1, or 1 / variance of the cell's fixed values when centred
  std::vector<CellSums> sums_;           // per cell, at the current evaluation
  std::vector<std::array<float, 4>> sampled_;  // per point: g and its index gradient
  std::vector<unsigned char> inside_;          // per point: inside the moving image
};

}  // namespace petpipe::realign::detail
