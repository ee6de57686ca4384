// Metric::least_squares: sum over the head-mask points of (fixed(x) - s * moving(T(x)))^2 over the
// pose T and an intensity scale s (as SPM's realign, which fits f(x) = s * g(T(x))), solved by
// Gauss-Newton. For the model rounds of the second pass, whose targets are each frame's own prediction
// from the other frames (same tracer distribution, same units): the residual is noise plus
// misalignment. Every point of the mask up to max_samples takes part, and Gauss-Newton needs a
// handful of iterations where a gradient descent needs dozens. Optional prior (settings.prior).
#include "gauss_newton.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

namespace {

class LeastSquaresCost final : public PointCost {
 public:
  LeastSquaresCost(const std::vector<Vec3>& points, const float* fixed_values, const Image3D& moving,
                   const Vec3& center)
      : PointCost(points, fixed_values, moving, center) {}

  // Least squares of f against g at the pose; 1 when that is not positive.
  double initial_scale(const Eigen::Matrix3d& r, const Eigen::Vector3d& t) const override {
    double fg = 0, gg = 0;
    const Pose pose(moving_map_, r, c_, t);
    for (std::size_t k = 0; k < rel_.size(); ++k) {
      double g = 0;
      if (!moving_sampler_.sample(pose.index(rel_[k]), g, nullptr)) continue;
      fg += fvals_[k] * g;
      gg += g * g;
    }
    return gg > 0 && fg > 0 ? fg / gg : 1.0;
  }

  NormalSystem evaluate(const Eigen::Matrix3d& r, const Eigen::Vector3d& t, double scale) override {
    NormalSystem acc;
    const Pose pose(moving_map_, r, c_, t);
    NormalEquations ne;
    for (std::size_t k = 0; k < rel_.size(); ++k) {
      double g = 0;
      Vec3 gi{};
      if (!moving_sampler_.sample(pose.index(rel_[k]), g, &gi)) continue;
      const double res = fvals_[k] - scale * g;
      acc.cost += res * res;
      ++acc.used;
      double j[7];  // (motion row of scale * moving, moving)
      pose.motion_row(rel_[k], scale * gi[0], scale * gi[1], scale * gi[2], j);
      j[6] = g;
      ne.add(j, res);
    }
    ne.store(acc);
    return acc;
  }
};

}  // namespace

RegistrationOutput register_least_squares(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                          const Params& initial, const RegistrationSettings& s) {
  if (!s.fixed_mask) throw make_error("realign: least-squares registration needs a sampling mask");
  FixedSamples samples(fixed);
  for (const auto& p : draw_sample_points(fixed.geom, *s.fixed_mask, s.sampling_fraction, s.max_samples, s.seed))
    samples.add(p);
  LeastSquaresCost cost(samples.points, samples.values.data(), moving, center);
  return solve_gauss_newton(cost, initial, {s.max_iterations, s.min_step_mm, s.prior, s.prior_weight});
}

}  // namespace petpipe::realign::detail
