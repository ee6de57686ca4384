// Gauss-Newton / Levenberg-Marquardt solver of petpipe's own metrics (gauss_newton.hpp).
#include "gauss_newton.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "petpipe/core/error.hpp"

namespace petpipe::realign::detail {

namespace {

double mean_cost(const NormalSystem& a) {
  return a.used > 0 ? a.cost / static_cast<double>(a.used) : std::numeric_limits<double>::infinity();
}

// The prior term w d^T P d with P = w * (the data's motion block of h at the start).
class Prior {
 public:
  Prior(const GaussNewtonSettings& s, const NormalSystem& start) : active_(s.prior != nullptr && s.prior_weight > 0) {
    if (!active_) return;
    p_ = s.prior_weight * start.h.topLeftCorner<6, 6>();
    r_ = euler_matrix(*s.prior);
    t_ = Eigen::Vector3d((*s.prior)[3], (*s.prior)[4], (*s.prior)[5]);
  }
  void add(NormalSystem& acc, const Eigen::Matrix3d& r, const Eigen::Vector3d& t) const {
    if (!active_) return;
    const Eigen::Matrix<double, 6, 1> d = offset(r, t);
    acc.cost += d.dot(p_ * d);
    acc.h.topLeftCorner<6, 6>() += p_;
    acc.g.head<6>() += p_ * d;
  }

 private:
  // Offset of the prior from a pose in the update's coordinates (D with T o D = prior): rotation vector
  // of R^T R_p, translation R^T (t_p - t).
  Eigen::Matrix<double, 6, 1> offset(const Eigen::Matrix3d& r, const Eigen::Vector3d& t) const {
    Eigen::Matrix<double, 6, 1> d;
    const Eigen::AngleAxisd aa(r.transpose() * r_);
    d.head<3>() = aa.angle() * aa.axis();
    d.tail<3>() = r.transpose() * (t_ - t);
    return d;
  }
  bool active_;
  Eigen::Matrix<double, 6, 6> p_ = Eigen::Matrix<double, 6, 6>::Zero();
  Eigen::Matrix3d r_ = Eigen::Matrix3d::Identity();
  Eigen::Vector3d t_ = Eigen::Vector3d::Zero();
};

}  // namespace

PointCost::PointCost(const std::vector<Vec3>& points, const float* fixed_values, const Image3D& moving,
                     const Vec3& center)
    : moving_sampler_(moving), moving_map_(moving.geom), c_(center[0], center[1], center[2]), fvals_(fixed_values) {
  if (points.size() < 100) throw make_error("realign: too few sample points inside the image (", points.size(), ")");
  rel_.resize(points.size());
  for (std::size_t k = 0; k < points.size(); ++k) rel_[k] = Eigen::Vector3d(points[k][0], points[k][1], points[k][2]) - c_;
}

RegistrationOutput solve_gauss_newton(PoseCost& cost, const Params& initial, const GaussNewtonSettings& s) {
  constexpr double kRadiusMm = 60.0;  // rotations count as displacements at this radius
  Eigen::Matrix3d r = euler_matrix(initial);
  Eigen::Vector3d t(initial[3], initial[4], initial[5]);
  double scale = cost.initial_scale(r, t);
  double lambda = 1e-3;
  NormalSystem cur = cost.evaluate(r, t, scale);
  if (cur.used == 0)
    throw make_error("realign: no sample point falls inside the moving image at the starting pose");
  const Prior prior(s, cur);
  prior.add(cur, r, t);
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
    NormalSystem next = cost.evaluate(r_new, t_new, scale_new);
    prior.add(next, r_new, t_new);
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
  RegistrationOutput out;
  out.params = {ang[0], ang[1], ang[2], t[0], t[1], t[2]};
  out.metric_value = mean_cost(cur);
  out.iterations = it;
  out.stop_condition = stop;
  return out;
}

}  // namespace petpipe::realign::detail
