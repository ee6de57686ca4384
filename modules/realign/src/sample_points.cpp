// Sample points of the second pass: drawn without replacement from the voxels of a mask, each jittered
// uniformly within its voxel (points on voxel centres would see the fixed image without interpolation
// and the moving one with it, which biases the optimum).
#include <algorithm>
#include <random>

#include "backend.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

std::vector<Vec3> draw_sample_points(const Geometry& g, const std::vector<unsigned char>& mask, double fraction,
                                     std::size_t max_points, std::uint32_t seed) {
  if (mask.size() != g.voxel_count()) throw make_error("realign: sampling mask size mismatch");
  std::vector<std::size_t> inside;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) inside.push_back(i);
  if (inside.empty()) throw make_error("realign: the sampling mask is empty");
  const double wanted = std::min(fraction * static_cast<double>(inside.size()), static_cast<double>(max_points));
  const std::size_t count = std::min(inside.size(), std::max<std::size_t>(1, static_cast<std::size_t>(wanted)));
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < count; ++i) {  // partial Fisher-Yates
    std::uniform_int_distribution<std::size_t> pick(i, inside.size() - 1);
    std::swap(inside[i], inside[pick(rng)]);
  }
  std::sort(inside.begin(), inside.begin() + static_cast<std::ptrdiff_t>(count));  // memory order
  std::uniform_real_distribution<double> jitter(-0.5, 0.5);
  std::vector<Vec3> points(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t v = inside[i];
    const std::size_t x = v % g.size[0], y = (v / g.size[0]) % g.size[1], z = v / (g.size[0] * g.size[1]);
    const double jx = jitter(rng), jy = jitter(rng), jz = jitter(rng);
    points[i] = g.index_to_point(
        {static_cast<double>(x) + jx, static_cast<double>(y) + jy, static_cast<double>(z) + jz});
  }
  return points;
}

}  // namespace petpipe::realign::detail
