#include "petpipe/kinetics/regional.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "petpipe/core/error.hpp"

namespace petpipe::kinetics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_tacs(const FrameTimes& frames, const std::vector<double>& reference,
                const std::vector<double>& target, const std::vector<double>& weights) {
  if (reference.size() != frames.size() || target.size() != frames.size())
    throw make_error("TACs have ", reference.size(), " (reference) and ", target.size(),
                     " (target) values for ", frames.size(), " frames");
  if (!weights.empty() && weights.size() != frames.size())
    throw make_error(weights.size(), " weights for ", frames.size(), " frames");
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (!std::isfinite(reference[f]) || !std::isfinite(target[f]))
      throw make_error("TAC value of frame ", f + 1, " is not finite");
    if (!weights.empty() && !(weights[f] > 0.0)) throw Error("frame weights must be positive");
  }
}

// Model and Jacobian with a prepared convolver.
void model_eval(const FrameConvolver& conv, const std::vector<double>& c, double r1, double k2, double bp,
                double lambda, std::vector<double>& out, std::vector<double>* jac,
                std::vector<double>& ybuf, std::vector<double>& dybuf) {
  const std::size_t nf = c.size();
  const double ka = k2 / (1.0 + bp);
  conv.frame_averages(ka + lambda, ybuf.data(), jac ? dybuf.data() : nullptr);
  const double theta2 = k2 - r1 * ka;
  out.resize(nf);
  for (std::size_t f = 0; f < nf; ++f) out[f] = r1 * c[f] + theta2 * ybuf[f];
  if (jac) {
    jac->resize(3 * nf);
    const double a = 1.0 / (1.0 + bp), a2 = a * a;
    for (std::size_t f = 0; f < nf; ++f) {
      (*jac)[3 * f + 0] = c[f] - ka * ybuf[f];
      (*jac)[3 * f + 1] = (1.0 - r1 * a) * ybuf[f] + theta2 * dybuf[f] * a;
      (*jac)[3 * f + 2] = r1 * k2 * a2 * ybuf[f] - theta2 * dybuf[f] * k2 * a2;
    }
  }
}

// Weighted linear least squares; returns coefficients.
Eigen::VectorXd wls(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<double>& w) {
  Eigen::MatrixXd xw = x;
  Eigen::VectorXd yw = y;
  if (!w.empty())
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double s = std::sqrt(w[static_cast<std::size_t>(i)]);
      xw.row(i) *= s;
      yw(i) *= s;
    }
  return xw.colPivHouseholderQr().solve(yw);
}

}  // namespace

std::vector<double> srtm_model(const FrameTimes& frames, const std::vector<double>& reference, double r1,
                               double k2, double bpnd, double decay_constant_per_min,
                               std::vector<double>* jacobian) {
  const FrameConvolver conv(interpolate_frame_averages(frames, reference), frames);
  std::vector<double> out, y(frames.size()), dy(frames.size());
  model_eval(conv, reference, r1, k2, bpnd, decay_constant_per_min, out, jacobian, y, dy);
  return out;
}

SrtmFit srtm_nlls(const FrameTimes& frames, const std::vector<double>& reference,
                  const std::vector<double>& target, const NllsOptions& o) {
  check_tacs(frames, reference, target, o.weights);
  const std::size_t nf = frames.size();
  if (nf < 4) throw make_error("SRTM needs at least 4 frames, got ", nf);
  const FrameConvolver conv(interpolate_frame_averages(frames, reference), frames);
  std::vector<double> sw(nf, 1.0);
  if (!o.weights.empty())
    for (std::size_t f = 0; f < nf; ++f) sw[f] = std::sqrt(o.weights[f]);
  const Eigen::Vector3d lo(o.r1_min, o.k2_min, o.bp_min), hi(o.r1_max, o.k2_max, o.bp_max);
  std::vector<double> m, jac, ybuf(nf), dybuf(nf);

  auto cost = [&](const Eigen::Vector3d& p, bool with_jac, Eigen::VectorXd& res, Eigen::MatrixXd* jw) {
    model_eval(conv, reference, p(0), p(1), p(2), o.decay_constant_per_min, m, with_jac ? &jac : nullptr,
               ybuf, dybuf);
    res.resize(static_cast<Eigen::Index>(nf));
    for (std::size_t f = 0; f < nf; ++f) res(static_cast<Eigen::Index>(f)) = sw[f] * (target[f] - m[f]);
    if (jw) {
      jw->resize(static_cast<Eigen::Index>(nf), 3);
      for (std::size_t f = 0; f < nf; ++f)
        for (int k = 0; k < 3; ++k) (*jw)(static_cast<Eigen::Index>(f), k) = sw[f] * jac[3 * f + k];
    }
    return res.squaredNorm();
  };

  SrtmFit best;
  best.rss = std::numeric_limits<double>::infinity();
  Eigen::Vector3d best_p = Eigen::Vector3d::Zero();
  Eigen::VectorXd res, res_new;
  Eigen::MatrixXd jw, jw_new;
  for (double s1 : o.r1_starts)
    for (double s2 : o.k2_starts)
      for (double s3 : o.bp_starts) {
        Eigen::Vector3d p = Eigen::Vector3d(s1, s2, s3).cwiseMax(lo).cwiseMin(hi);
        double c = cost(p, true, res, &jw);
        double mu = 1e-3;
        int it = 0;
        bool converged = false;
        for (; it < o.max_iterations; ++it) {
          const Eigen::Matrix3d h = jw.transpose() * jw;
          const Eigen::Vector3d g = jw.transpose() * res;
          bool accepted = false;
          for (int tries = 0; tries < 30; ++tries) {
            Eigen::Matrix3d a = h;
            for (int k = 0; k < 3; ++k) a(k, k) += mu * std::max(h(k, k), 1e-12);
            const Eigen::Vector3d step = a.ldlt().solve(g);
            const Eigen::Vector3d pn = (p + step).cwiseMax(lo).cwiseMin(hi);
            if ((pn - p).norm() <= 1e-14 * (1.0 + p.norm())) break;
            const double cn = cost(pn, true, res_new, &jw_new);
            if (cn < c) {
              const double rel = (c - cn) / std::max(c, 1e-300);
              const double dp = (pn - p).norm() / (1e-8 + p.norm());
              p = pn;
              c = cn;
              res.swap(res_new);
              jw.swap(jw_new);
              mu = std::max(mu / 4.0, 1e-12);
              accepted = true;
              if (rel < 1e-13 || dp < 1e-10) converged = true;
              break;
            }
            mu *= 4.0;
          }
          if (!accepted) {
            converged = true;  // no descent direction left within the bounds
            break;
          }
          if (converged) break;
        }
        if (c < best.rss) {
          best.rss = c;
          best.iterations = it;
          best.converged = converged;
          best_p = p;
        }
      }

  best.r1 = best_p(0);
  best.k2 = best_p(1);
  best.bpnd = best_p(2);
  best.k2a = best.k2 / (1.0 + best.bpnd);
  best.rss = cost(best_p, true, res, &jw);
  best.fitted = m;
  best.at_bound = false;
  for (int k = 0; k < 3; ++k)
    if (std::abs(best_p(k) - lo(k)) < 1e-9 || std::abs(best_p(k) - hi(k)) < 1e-9) best.at_bound = true;
  best.se_r1 = best.se_k2 = best.se_bpnd = kNaN;
  if (nf > 3) {
    const Eigen::Matrix3d h = jw.transpose() * jw;
    Eigen::FullPivLU<Eigen::Matrix3d> lu(h);
    if (lu.isInvertible()) {
      const Eigen::Matrix3d cov = (best.rss / static_cast<double>(nf - 3)) * lu.inverse();
      best.se_r1 = std::sqrt(std::max(0.0, cov(0, 0)));
      best.se_k2 = std::sqrt(std::max(0.0, cov(1, 1)));
      best.se_bpnd = std::sqrt(std::max(0.0, cov(2, 2)));
    }
  }
  return best;
}

namespace {
struct Integrals {
  std::vector<double> ref, tgt;  // frame averages of the running integrals
};
Integrals running_integrals(const FrameTimes& frames, const std::vector<double>& reference,
                            const std::vector<double>& target) {
  Integrals r;
  r.ref = FrameConvolver(interpolate_frame_averages(frames, reference), frames).frame_averages(0.0);
  r.tgt = FrameConvolver(interpolate_frame_averages(frames, target), frames).frame_averages(0.0);
  return r;
}
}  // namespace

LinearFit logan_reference(const FrameTimes& frames, const std::vector<double>& reference,
                          const std::vector<double>& target, const LoganOptions& o) {
  check_tacs(frames, reference, target, {});
  const auto in = running_integrals(frames, reference, target);
  std::vector<double> xs, ys;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (frames.mid(f) < o.t_star_min) continue;
    if (!(target[f] > 0.0)) throw make_error("Logan: target TAC is not positive in frame ", f + 1);
    double x = in.ref[f];
    if (o.k2_ref_per_min > 0.0) x += reference[f] / o.k2_ref_per_min;
    xs.push_back(x / target[f]);
    ys.push_back(in.tgt[f] / target[f]);
  }
  if (xs.size() < 2)
    throw make_error("Logan: fewer than 2 frames after t* = ", o.t_star_min, " min");
  const double n = static_cast<double>(xs.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    mx += xs[i] / n;
    my += ys[i] / n;
  }
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    sxx += (xs[i] - mx) * (xs[i] - mx);
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  if (!(sxx > 0.0)) throw Error("Logan: the plot's x values do not vary");
  LinearFit r;
  r.slope = sxy / sxx;
  r.intercept = my - r.slope * mx;
  r.bpnd = r.slope - 1.0;
  r.points = xs.size();
  r.k2_ref = o.k2_ref_per_min;
  return r;
}

LinearFit mrtm(const FrameTimes& frames, const std::vector<double>& reference,
               const std::vector<double>& target, const std::vector<double>& weights) {
  check_tacs(frames, reference, target, weights);
  const auto in = running_integrals(frames, reference, target);
  const auto nf = static_cast<Eigen::Index>(frames.size());
  if (nf < 4) throw Error("MRTM needs at least 4 frames");
  Eigen::MatrixXd x(nf, 3);
  Eigen::VectorXd y(nf);
  for (Eigen::Index f = 0; f < nf; ++f) {
    const auto u = static_cast<std::size_t>(f);
    x(f, 0) = in.ref[u];
    x(f, 1) = in.tgt[u];
    x(f, 2) = reference[u];
    y(f) = target[u];
  }
  const Eigen::VectorXd g = wls(x, y, weights);
  LinearFit r;
  r.k2 = g(0);
  r.k2a = -g(1);
  r.r1 = g(2);
  r.bpnd = r.k2 / r.k2a - 1.0;
  r.k2_ref = r.k2 / r.r1;
  r.points = frames.size();
  return r;
}

LinearFit mrtm2(const FrameTimes& frames, const std::vector<double>& reference,
                const std::vector<double>& target, double k2_ref_per_min, const std::vector<double>& weights) {
  check_tacs(frames, reference, target, weights);
  if (!(k2_ref_per_min > 0.0)) throw Error("MRTM2 needs k2' > 0");
  const auto in = running_integrals(frames, reference, target);
  const auto nf = static_cast<Eigen::Index>(frames.size());
  if (nf < 3) throw Error("MRTM2 needs at least 3 frames");
  Eigen::MatrixXd x(nf, 2);
  Eigen::VectorXd y(nf);
  for (Eigen::Index f = 0; f < nf; ++f) {
    const auto u = static_cast<std::size_t>(f);
    x(f, 0) = in.ref[u] + reference[u] / k2_ref_per_min;
    x(f, 1) = in.tgt[u];
    y(f) = target[u];
  }
  const Eigen::VectorXd g = wls(x, y, weights);
  LinearFit r;
  r.k2 = g(0);
  r.k2a = -g(1);
  r.r1 = r.k2 / k2_ref_per_min;
  r.bpnd = r.k2 / r.k2a - 1.0;
  r.k2_ref = k2_ref_per_min;
  r.points = frames.size();
  return r;
}

RegionalSrtmResult fit_srtm_regions(const FrameTable& frames, const std::vector<double>& reference,
                                    const std::vector<std::pair<std::string, std::vector<double>>>& regions,
                                    const RegionalSrtmOptions& options) {
  if (reference.size() != frames.size())
    throw make_error("reference TAC: ", reference.size(), " frames for ", frames.size());
  const FrameTimes ft = FrameTimes::from(frames);
  NllsOptions o;
  o.weights = frame_weights(options.weights, frames, reference);
  if (!frames.decay_corrected) o.decay_constant_per_min = frames.decay_constant_per_s() * 60.0;
  RegionalSrtmResult r;
  r.frame_weights = o.weights;
  for (const auto& [name, tac] : regions) {
    if (tac.size() != frames.size()) throw make_error(name, ": ", tac.size(), " frames for ", frames.size());
    bool finite = true;
    for (double v : tac) finite = finite && std::isfinite(v);
    r.names.push_back(name);
    r.fitted.push_back(finite);
    r.fits.push_back(finite ? srtm_nlls(ft, reference, tac, o) : SrtmFit{});
  }
  return r;
}

}  // namespace petpipe::kinetics
