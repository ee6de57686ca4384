#pragma once
// Gauss-Newton with Levenberg-Marquardt damping over a rigid pose (and an intensity scale), the solver
// of petpipe's own metrics: least squares (metric_least_squares.cpp), local least squares
// (metric_local_lsq.cpp) and local normalized correlation on jittered windows
// (metric_window_ncc.cpp). A metric is a PoseCost; the solver is the same for all.
//
// Update: T_new = T o D with D(x) = R_d (x - c) + c + dt, R_d = exp([w]x). At D = identity the
// derivatives of g(T(D(x))) are dg/d(dt) = R^T grad g(T x) =: q and dg/dw = (x - c) x q.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "backend.hpp"
#include "trilinear.hpp"

namespace petpipe::realign::detail {

// Sum of squared residuals over the points used, and the Gauss-Newton normal equations in the update
// (w, dt, d scale): h = J^T J, g = J^T r.
struct NormalSystem {
  double cost = 0;
  std::size_t used = 0;
  Eigen::Matrix<double, 7, 7> h = Eigen::Matrix<double, 7, 7>::Zero();
  Eigen::Matrix<double, 7, 1> g = Eigen::Matrix<double, 7, 1>::Zero();
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
  void store(NormalSystem& acc) const {
    for (int a = 0; a < 7; ++a) {
      acc.g(a) = g[a];
      for (int b = 0; b <= a; ++b) acc.h(a, b) = acc.h(b, a) = h[a][b];
    }
  }
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

// A cost over a rigid pose (R, t) and an intensity scale.
class PoseCost {
 public:
  virtual ~PoseCost() = default;
  // The scale the solver starts from at pose (r, t) (1 for a cost without a scale).
  virtual double initial_scale(const Eigen::Matrix3d& r, const Eigen::Vector3d& t) const = 0;
  // Cost and normal equations at (r, t, scale). A cost without a scale leaves the scale's row of g at 0
  // and sets its diagonal of h to 1, so that the scale's update is 0.
  virtual NormalSystem evaluate(const Eigen::Matrix3d& r, const Eigen::Vector3d& t, double scale) = 0;
};

// A PoseCost over fixed values at points compared with the moving image at the points' transformed
// positions. Throws when fewer than 100 points are given.
class PointCost : public PoseCost {
 protected:
  PointCost(const std::vector<Vec3>& points, const float* fixed_values, const Image3D& moving, const Vec3& center);
  Sampler moving_sampler_;
  IndexMap moving_map_;
  Eigen::Vector3d c_;
  std::vector<Eigen::Vector3d> rel_;  // points - centre
  const float* fvals_;
};

struct GaussNewtonSettings {
  int max_iterations = 50;   // capped at 50
  double min_step_mm = 0.005;  // stop when a step moves less (rotations counted at 60 mm)
  // Optional prior pose (ITK Euler parameters): the cost gains weight * d^T H0 d, d the pose's offset
  // from the prior (rotation vector and translation in the current pose's frame), H0 the data term's
  // motion block of h at the starting pose.
  const Params* prior = nullptr;
  double prior_weight = 0;
};

// Minimises the cost from `initial`. Throws when no point is used at the initial pose. metric_value:
// the final cost (with the prior) per point used.
RegistrationOutput solve_gauss_newton(PoseCost& cost, const Params& initial, const GaussNewtonSettings& s);

}  // namespace petpipe::realign::detail
