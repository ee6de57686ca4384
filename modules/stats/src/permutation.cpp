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

  // Statistics of a batch of permutations: Q' P_b Rz for all b in one GEMM over a block of voxels
  // (rows b p .. b p + p - 1 belong to permutation b), so the residuals are read once per batch.
  // sse = |Rz|^2 - |Q' P Rz|^2 because P Rz has the same norm as Rz.
  const Eigen::MatrixXf Qf = Q.cast<float>();
  const double inv_df = 1.0 / df;
  auto batch_statistics = [&](std::size_t k0, std::size_t nb, std::vector<std::vector<double>>& out) {
    const Eigen::Index rows = static_cast<Eigen::Index>(nb) * p;
    Eigen::MatrixXf A(rows, n);
    for (std::size_t b = 0; b < nb; ++b) {
      const auto& perm = perms[k0 + b];
      // Row i of the permuted data is row perm[i] of Rz: Q' P Rz = (P' Q)' Rz.
      for (Eigen::Index i = 0; i < n; ++i)
        A.block(static_cast<Eigen::Index>(b) * p, perm[static_cast<std::size_t>(i)], p, 1) = Qf.row(i).transpose();
    }
    for (auto& o : out) o.resize(static_cast<std::size_t>(V));
    constexpr Eigen::Index vblock = 1024;
    Eigen::MatrixXf T(rows, vblock);
    std::vector<double> cb(static_cast<std::size_t>(q));
    for (Eigen::Index v0 = 0; v0 < V; v0 += vblock) {
      const Eigen::Index nv = std::min(vblock, V - v0);
      T.leftCols(nv).noalias() = A * Rz.middleCols(v0, nv);
      for (std::size_t b = 0; b < nb; ++b) {
        double* o = out[b].data() + v0;
        const Eigen::Index r0 = static_cast<Eigen::Index>(b) * p;
        for (Eigen::Index j = 0; j < nv; ++j) {
          const float* col = T.data() + j * rows + r0;
          double qq = 0;
          for (Eigen::Index a = 0; a < p; ++a) qq += static_cast<double>(col[a]) * col[a];
          const double s2 = (ss(v0 + j) - qq) * inv_df;
          if (!(s2 > 0)) {
            o[j] = 0.0;
            continue;
          }
          if (!is_f) {
            double c = 0;
            for (Eigen::Index a = 0; a < p; ++a) c += CRinv(0, a) * col[a];
            o[j] = c / std::sqrt(s2 * var_factor);
          } else {
            for (Eigen::Index r = 0; r < q; ++r) {
              double c = 0;
              for (Eigen::Index a = 0; a < p; ++a) c += CRinv(r, a) * col[a];
              cb[static_cast<std::size_t>(r)] = c;
            }
            double f = 0;
            for (Eigen::Index r = 0; r < q; ++r)
              for (Eigen::Index c2 = 0; c2 < q; ++c2)
                f += cb[static_cast<std::size_t>(r)] * Minv(r, c2) * cb[static_cast<std::size_t>(c2)];
            o[j] = f / (static_cast<double>(q) * s2);
          }
        }
      }
    }
  };

  {
    std::vector<std::vector<double>> obs(1);
    batch_statistics(0, 1, obs);
    res.stat = std::move(obs[0]);
  }
  if (options.tfce) res.tfce = tfce(res.stat, graph, options.tfce_options);

  Progress progress("permutations", P);
  constexpr std::size_t kBatch = 8;
  const std::size_t nbatches = (P + kBatch - 1) / kBatch;
  parallel_for(nbatches, [&](std::size_t a, std::size_t b) {
    std::vector<std::vector<double>> s(kBatch);
    TfceWorkspace ws;
    std::vector<double> t;
    for (std::size_t bi = a; bi < b; ++bi) {
      const std::size_t k0 = bi * kBatch, nb = std::min(kBatch, P - k0);
      batch_statistics(k0, nb, s);
      for (std::size_t j = 0; j < nb; ++j) {
        double mx = -std::numeric_limits<double>::infinity();
        for (double v : s[j]) mx = std::max(mx, v);
        res.max_null[k0 + j] = mx;
        if (options.tfce) {
          tfce(s[j], graph, options.tfce_options, ws, t);
          double mt = 0;
          for (double v : t) mt = std::max(mt, v);
          res.tfce_max_null[k0 + j] = mt;
        }
        progress.advance();
      }
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
