// Metric::local_lsq: least squares with one intensity slope per cell of cell_voxels^3 voxels of the
// fixed grid (cell_cost.hpp), over the head-mask points (every one up to max_samples, jittered within
// their voxels). Within a cell a regional change of tracer distribution is close to a rescaling, which
// the slope absorbs.
#include <algorithm>
#include <cmath>

#include "cell_cost.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

RegistrationOutput register_local_lsq(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                      const Params& initial, const RegistrationSettings& s) {
  if (!s.fixed_mask) throw make_error("realign: least-squares registration needs a sampling mask");
  FixedSamples samples(fixed);
  for (const auto& p : draw_sample_points(fixed.geom, *s.fixed_mask, s.sampling_fraction, s.max_samples, s.seed))
    samples.add(p);
  const auto& points = samples.points;
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
  CellCost cost(points, samples.values.data(), cells, false, moving, center);
  return solve_gauss_newton(cost, initial, {s.max_iterations, s.min_step_mm, nullptr, 0.0});
}

}  // namespace petpipe::realign::detail
