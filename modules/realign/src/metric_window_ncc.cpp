// Metric::window_ncc: local normalized correlation on jittered windows. Windows of (2 r + 1)^3 lattice
// points (the fixed grid's axes and spacing, r = window_radius voxels) about centres drawn from the
// mask, each centre jittered within its voxel, so every window's lattice sits at its own random
// sub-voxel offset and both images are interpolated alike (a metric that reads the fixed image at voxel
// centres and the moving one between them favours, with noise, poses at which interpolation smooths
// the moving image). The cost is cell_cost.hpp's centred form with one cell per window: the sum over
// windows of n (1 - rho^2).
#include <algorithm>

#include "cell_cost.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

RegistrationOutput register_window_ncc(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                       const Params& initial, const RegistrationSettings& s) {
  if (!s.fixed_mask) throw make_error("realign: local correlation needs a sampling mask");
  const int r = std::max(1, s.window_radius);
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
  CellCost cost(samples.points, samples.values.data(), cells, true, moving, center);
  return solve_gauss_newton(cost, initial, {s.max_iterations, s.min_step_mm, nullptr, 0.0});
}

}  // namespace petpipe::realign::detail
