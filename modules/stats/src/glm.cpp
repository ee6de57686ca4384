#include "petpipe/stats/glm.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/stats/distributions.hpp"

namespace petpipe::stats {

namespace {

struct Prepared {
  Eigen::MatrixXd pinv;    // columns x subjects
  Eigen::MatrixXd xtx_inv; // columns x columns
  double df = 0;
  struct Con {
    Eigen::MatrixXd C;
    Eigen::MatrixXd M_inv;  // (C (X'X)^-1 C')^-1
    double var_factor = 0;  // t: c (X'X)^-1 c'
    bool f = false;
  };
  std::vector<Con> cons;
};

Prepared prepare(const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts) {
  Prepared p;
  const Eigen::Index n = X.rows(), k = X.cols();
  if (n <= k) throw make_error("glm: ", n, " subjects for ", k, " design columns");
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(X);
  if (qr.rank() < k) throw make_error("glm: the design matrix is rank deficient");
  const Eigen::MatrixXd R = qr.matrixR().topLeftCorner(k, k).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd Rinv = R.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(k, k));
  // (X'X)^-1 = P R^-1 R^-T P'
  const Eigen::MatrixXd P = qr.colsPermutation();
  p.xtx_inv = P * Rinv * Rinv.transpose() * P.transpose();
  p.pinv = p.xtx_inv * X.transpose();
  p.df = static_cast<double>(n - k);
  for (const auto& c : contrasts) {
    if (c.C.cols() != k)
      throw make_error("glm: contrast '", c.name, "' has ", c.C.cols(), " weights for ", k, " columns");
    Prepared::Con pc;
    pc.C = c.C;
    pc.f = c.is_f();
    const Eigen::MatrixXd M = c.C * p.xtx_inv * c.C.transpose();
    if (pc.f) {
      Eigen::FullPivLU<Eigen::MatrixXd> lu(M);
      if (!lu.isInvertible()) throw make_error("glm: contrast '", c.name, "' is not estimable");
      pc.M_inv = lu.inverse();
    } else {
      pc.var_factor = M(0, 0);
    }
    p.cons.push_back(pc);
  }
  return p;
}

template <typename Block>
void fit_block(const Prepared& p, const Eigen::MatrixXd& X, const Block& Yb, Eigen::Index v0, GlmResult& r,
               bool keep) {
  const Eigen::MatrixXd Y = Yb.template cast<double>();
  const Eigen::MatrixXd B = p.pinv * Y;
  const Eigen::MatrixXd E = Y - X * B;
  r.beta.middleCols(v0, Y.cols()) = B;
  for (Eigen::Index j = 0; j < Y.cols(); ++j)
    r.sigma2[static_cast<std::size_t>(v0 + j)] = E.col(j).squaredNorm() / p.df;
  if (keep) r.residuals.middleCols(v0, Y.cols()) = E.cast<float>();
}

template <typename MatrixType>
GlmResult fit_impl(const MatrixType& Y, const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts,
                   const GlmOptions& options) {
  if (Y.rows() != X.rows())
    throw make_error("glm: data have ", Y.rows(), " subjects but the design has ", X.rows(), " rows");
  const Prepared p = prepare(X, contrasts);
  const Eigen::Index V = Y.cols();
  GlmResult r;
  r.df = p.df;
  r.beta.resize(X.cols(), V);
  r.sigma2.assign(static_cast<std::size_t>(V), 0.0);
  if (options.keep_residuals) r.residuals.resize(Y.rows(), V);
  constexpr Eigen::Index block = 2048;
  const std::size_t nblocks = static_cast<std::size_t>((V + block - 1) / block);
  parallel_for(nblocks, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      const Eigen::Index v0 = static_cast<Eigen::Index>(b) * block;
      const Eigen::Index nv = std::min(block, V - v0);
      fit_block(p, X, Y.middleCols(v0, nv), v0, r, options.keep_residuals);
    }
  });
  if (options.pet_variance && V > 0) {
    const double mx = *std::max_element(r.sigma2.begin(), r.sigma2.end());
    r.pet_variance_added = options.pet_variance_fraction * mx;
    for (double& s : r.sigma2) s += r.pet_variance_added;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const StudentTail t_tail(p.df);
  std::vector<std::vector<double>> tails(contrasts.size());  // t contrasts: P(T > |t|) per voxel
  for (std::size_t ci = 0; ci < contrasts.size(); ++ci) {
    const auto& pc = p.cons[ci];
    ContrastResult cr;
    cr.name = contrasts[ci].name;
    cr.is_f = pc.f;
    cr.df1 = pc.f ? static_cast<double>(pc.C.rows()) : 1.0;
    cr.df2 = p.df;
    const std::size_t nv = static_cast<std::size_t>(V);
    cr.stat.assign(nv, nan);
    cr.p.assign(nv, nan);
    cr.z.assign(nv, nan);
    cr.partial_eta2.assign(nv, nan);
    if (!pc.f) {
      cr.effect.assign(nv, nan);
      cr.se.assign(nv, nan);
      cr.p_two_sided.assign(nv, nan);
      cr.cohen_d.assign(nv, nan);
      tails[ci].assign(nv, nan);
    }
    // A t contrast that is the negative of an earlier one (e.g. "A>B" and "B>A") has the same |t|, so its
    // tail probabilities and |Z| are taken from that one instead of being evaluated again.
    std::size_t mirror = contrasts.size();
    if (!pc.f)
      for (std::size_t cj = 0; cj < ci; ++cj)
        if (!p.cons[cj].f && p.cons[cj].C == -pc.C) {
          mirror = cj;
          break;
        }
    const bool mirrored = mirror < contrasts.size();
    const Eigen::MatrixXd CB = pc.C * r.beta;  // rows x V
    parallel_for(nv, [&](std::size_t a, std::size_t b) {
      for (std::size_t v = a; v < b; ++v) {
        const double s2 = r.sigma2[v];
        const Eigen::Index vi = static_cast<Eigen::Index>(v);
        if (!pc.f) {
          const double eff = CB(0, vi);
          cr.effect[v] = eff;
          if (!(s2 > 0)) continue;
          const double se = std::sqrt(s2 * pc.var_factor);
          const double t = eff / se;
          cr.se[v] = se;
          cr.stat[v] = t;
          // One incomplete-beta evaluation per voxel: the tail beyond |t| gives all three.
          double tail, zabs;
          if (mirrored) {
            tail = tails[mirror][v];
            zabs = std::fabs(r.contrasts[mirror].z[v]);
          } else {
            tail = t_tail(t);
            zabs = tail > 0 ? normal_isf(tail) : 38.5;
          }
          tails[ci][v] = tail;
          cr.p[v] = t >= 0 ? tail : 1.0 - tail;
          cr.p_two_sided[v] = std::min(1.0, 2.0 * tail);
          cr.z[v] = t >= 0 ? zabs : -zabs;
          cr.partial_eta2[v] = t * t / (t * t + p.df);
          cr.cohen_d[v] = eff / std::sqrt(s2);
        } else {
          if (!(s2 > 0)) continue;
          const Eigen::VectorXd cb = CB.col(vi);
          const double F = cb.dot(pc.M_inv * cb) / (cr.df1 * s2);
          cr.stat[v] = F;
          const double pf = f_sf(F, cr.df1, p.df);
          cr.p[v] = pf;
          cr.z[v] = pf > 0 ? normal_isf(std::min(pf, 1.0 - 1e-16)) : 38.5;
          cr.partial_eta2[v] = F * cr.df1 / (F * cr.df1 + p.df);
        }
      }
    }, 4096);
    r.contrasts.push_back(std::move(cr));
  }
  return r;
}

}  // namespace

GlmResult fit_glm(const MatrixXfRM& Y, const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts,
                  const GlmOptions& options) {
  return fit_impl(Y, X, contrasts, options);
}

GlmResult fit_glm(const Eigen::MatrixXd& Y, const Eigen::MatrixXd& X, const std::vector<Contrast>& contrasts,
                  const GlmOptions& options) {
  return fit_impl(Y, X, contrasts, options);
}

}  // namespace petpipe::stats
