// Trilinear reslicing restricted to a mask (the model targets of the second pass).
#include "petpipe/core/error.hpp"
#include "trilinear.hpp"

namespace petpipe::realign::detail {

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

}  // namespace petpipe::realign::detail
