#include "petpipe/stats/permutation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/progress.hpp"

namespace petpipe::stats {

std::vector<std::vector<std::uint32_t>> make_permutations(std::size_t n, std::size_t count, std::uint64_t seed) {
  std::vector<std::vector<std::uint32_t>> perms;
  perms.reserve(count);
  std::vector<std::uint32_t> id(n);
  std::iota(id.begin(), id.end(), 0u);
  if (count > 0) perms.push_back(id);
  std::mt19937_64 rng(seed);
  for (std::size_t c = 1; c < count; ++c) {
    std::vector<std::uint32_t> p = id;
    // Fisher-Yates with an unbiased bounded draw (rejection), independent of the standard library's
    // distribution implementations so that results are identical across platforms.
    for (std::size_t i = n; i > 1; --i) {
      const std::uint64_t bound = i;
      const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
      std::uint64_t x;
      do x = rng();
      while (x >= limit);
      std::swap(p[i - 1], p[static_cast<std::size_t>(x % bound)]);
    }
    perms.push_back(std::move(p));
  }
  return perms;
}

PermutationResult permutation_test(const MatrixXfRM& Y, const Eigen::MatrixXd& X, const Contrast& contrast,
                                   const MaskGraph& graph, const PermutationOptions& options) {
  const Eigen::Index n = X.rows(), p = X.cols(), V = Y.cols();
  if (Y.rows() != n) throw make_error("permutation: data have ", Y.rows(), " subjects, design ", n);
  if (static_cast<std::size_t>(V) != graph.voxels.size())
    throw make_error("permutation: data have ", V, " voxels, mask ", graph.voxels.size());
  if (options.permutations < 1) throw make_error("permutation: at least one permutation needed");
  if (contrast.C.cols() != p) throw make_error("permutation: contrast '", contrast.name, "' does not fit the design");
  const bool is_f = contrast.is_f();
  const Eigen::Index q = contrast.C.rows();
  const double df = static_cast<double>(n - p);

  // Full model: X = Q R.
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(X);
  const Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(n, p);
  const Eigen::MatrixXd R = qr.matrixQR().topLeftCorner(p, p).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd Rinv = R.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(p, p));
  const Eigen::MatrixXd CRinv = contrast.C * Rinv;  // C beta = C R^-1 Q' y
  const Eigen::MatrixXd M = CRinv * CRinv.transpose();  // C (X'X)^-1 C'
  const Eigen::MatrixXd Minv = M.inverse();
  const double var_factor = M(0, 0);

  // Reduced model Z = X null(C); residuals of Y under it.
  Eigen::FullPivLU<Eigen::MatrixXd> lu(contrast.C);
  const Eigen::MatrixXd N = lu.kernel();
  Eigen::MatrixXd Qz(n, 0);
  if (N.cols() > 0 && N.norm() > 0) {
    const Eigen::MatrixXd Z = X * N;
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> zq(Z);
    const Eigen::Index rz = zq.rank();
    Qz = (zq.householderQ() * Eigen::MatrixXd::Identity(n, Z.cols())).leftCols(rz);
  }
  Eigen::MatrixXf Rz = Y;
  if (Qz.cols() > 0) {
    const Eigen::MatrixXf Qzf = Qz.cast<float>();
    constexpr Eigen::Index block = 8192;
    for (Eigen::Index v0 = 0; v0 < V; v0 += block) {
      const Eigen::Index nv = std::min(block, V - v0);
      const Eigen::MatrixXd Yb = Y.middleCols(v0, nv).cast<double>();
      Rz.middleCols(v0, nv) = (Yb - Qz * (Qz.transpose() * Yb)).cast<float>();
    }
  }
  Eigen::VectorXd ss(V);
  for (Eigen::Index v = 0; v < V; ++v) ss(v) = Rz.col(v).cast<double>().squaredNorm();

  const auto perms = make_permutations(static_cast<std::size_t>(n), options.permutations, options.seed);
  const std::size_t P = perms.size();
  PermutationResult res;
  res.permutations = P;
  res.max_null.assign(P, 0.0);
  if (options.tfce) res.tfce_max_null.assign(P, 0.0);

  auto statistic = [&](const std::vector<std::uint32_t>& perm, std::vector<double>& out, Eigen::MatrixXf& QtY) {
    // Permuted reduced residuals: row i of the permuted data is row perm[i] of Rz, so
    // Q' P Rz = (P' Q)' Rz.
    Eigen::MatrixXf PQ(n, p);
    const Eigen::MatrixXf Qf = Q.cast<float>();
    for (Eigen::Index i = 0; i < n; ++i) PQ.row(perm[static_cast<std::size_t>(i)]) = Qf.row(i);
    QtY.noalias() = PQ.transpose() * Rz;
    out.resize(static_cast<std::size_t>(V));
    const Eigen::MatrixXd CRi = CRinv;
    for (Eigen::Index v = 0; v < V; ++v) {
      const Eigen::VectorXd qy = QtY.col(v).cast<double>();
      const double sse = std::max(0.0, ss(v) - qy.squaredNorm());
      const double s2 = sse / df;
      if (!(s2 > 0)) {
        out[static_cast<std::size_t>(v)] = 0.0;
        continue;
      }
      if (!is_f) {
        const double cb = CRi.row(0).dot(qy);
        out[static_cast<std::size_t>(v)] = cb / std::sqrt(s2 * var_factor);
      } else {
        const Eigen::VectorXd cb = CRi * qy;
        out[static_cast<std::size_t>(v)] = cb.dot(Minv * cb) / (static_cast<double>(q) * s2);
      }
    }
  };

  std::vector<double> observed;
  {
    Eigen::MatrixXf QtY(p, V);
    statistic(perms[0], observed, QtY);
  }
  res.stat = observed;
  if (options.tfce) res.tfce = tfce(observed, graph, options.tfce_options);

  Progress progress("permutations", P);
  parallel_for(P, [&](std::size_t a, std::size_t b) {
    Eigen::MatrixXf QtY(p, V);
    std::vector<double> s;
    for (std::size_t k = a; k < b; ++k) {
      statistic(perms[k], s, QtY);
      double mx = -std::numeric_limits<double>::infinity();
      for (double v : s) mx = std::max(mx, v);
      res.max_null[k] = mx;
      if (options.tfce) {
        const auto t = tfce(s, graph, options.tfce_options);
        double mt = 0;
        for (double v : t) mt = std::max(mt, v);
        res.tfce_max_null[k] = mt;
      }
      progress.advance();
    }
  });
  progress.done();

  auto fwe = [&](const std::vector<double>& obs, const std::vector<double>& null) {
    std::vector<double> sorted = null;
    std::sort(sorted.begin(), sorted.end());
    std::vector<double> pv(obs.size());
    for (std::size_t v = 0; v < obs.size(); ++v) {
      // count of null maxima >= observed (relative tolerance guards the identity's own maximum)
      const double x = obs[v] - 1e-9 * std::fabs(obs[v]);
      const auto it = std::lower_bound(sorted.begin(), sorted.end(), x);
      pv[v] = static_cast<double>(sorted.end() - it) / static_cast<double>(sorted.size());
    }
    return pv;
  };
  res.p_fwe = fwe(res.stat, res.max_null);
  if (options.tfce) res.tfce_p_fwe = fwe(res.tfce, res.tfce_max_null);
  return res;
}

}  // namespace petpipe::stats
