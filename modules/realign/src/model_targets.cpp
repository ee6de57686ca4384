// Leave-one-out model targets of the second pass (model_targets.hpp).
#include "model_targets.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"

namespace petpipe::realign::detail {

void model_targets(const std::vector<float*>& rows, std::size_t count, const unsigned char* mask,
                   const unsigned char* predict, const std::vector<double>& durations, int components,
                   const std::vector<std::size_t>& frame_numbers) {
  const std::size_t nf = rows.size();
  const std::size_t nvox = count;
  std::vector<double> s(nf);
  for (std::size_t k = 0; k < nf; ++k) s[k] = std::sqrt(durations[k]);
  // Gram matrix over the mask, in fixed chunks summed in order (deterministic).
  const std::size_t chunk = 65536;
  const std::size_t nchunks = (nvox + chunk - 1) / chunk;
  std::vector<Eigen::MatrixXd> partial(nchunks, Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf)));
  parallel_for(nchunks, [&](std::size_t c0, std::size_t c1) {
    std::vector<double> z(nf);
    for (std::size_t c = c0; c < c1; ++c) {
      auto& g = partial[c];
      for (std::size_t v = c * chunk; v < std::min(nvox, (c + 1) * chunk); ++v) {
        if (mask && !mask[v]) continue;
        for (std::size_t k = 0; k < nf; ++k) z[k] = s[k] * rows[k][v];
        for (std::size_t a = 0; a < nf; ++a)
          for (std::size_t b = 0; b <= a; ++b) g(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) += z[a] * z[b];
      }
    }
  });
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf));
  for (const auto& g : partial) gram += g;
  gram = gram.selfadjointView<Eigen::Lower>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  // Components above the noise: noise alone gives nearly equal eigenvalues (many voxels, few frames),
  // estimated by the median of the smaller half; a component is kept when its eigenvalue exceeds
  // 3 times that (at least one, at most `components`). Fitting noise components would make the
  // leave-one-out predictions noisy (a constant distribution needs one component).
  const Eigen::VectorXd ev = eig.eigenvalues();  // ascending
  const double floor = std::max(0.0, ev(static_cast<Eigen::Index>(nf / 4)));
  Eigen::Index kc = 1;
  while (kc < static_cast<Eigen::Index>(components) && ev(static_cast<Eigen::Index>(nf) - 1 - kc) > 3.0 * floor) ++kc;
  log::debug("realign: model target: ", kc, " temporal components (eigenvalues ", ev(static_cast<Eigen::Index>(nf) - 1),
             " ... noise level ", floor, ")");
  const Eigen::MatrixXd u = eig.eigenvectors().rightCols(kc);  // eigenvalues ascending
  const Eigen::MatrixXd h = u * u.transpose();
  // Target of frame k = sum_g a(k, g) y_g.
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nf), static_cast<Eigen::Index>(nf));
  double total = 0;
  for (double d : durations) total += d;
  for (std::size_t k = 0; k < nf; ++k) {
    const auto ki = static_cast<Eigen::Index>(k);
    const double hkk = h(ki, ki);
    if (hkk > 0.9) {
      for (std::size_t g = 0; g < nf; ++g)
        if (g != k) a(ki, static_cast<Eigen::Index>(g)) = durations[g] / (total - durations[k]);
    } else {
      for (std::size_t g = 0; g < nf; ++g)
        if (g != k) a(ki, static_cast<Eigen::Index>(g)) = h(ki, static_cast<Eigen::Index>(g)) * s[g] / (s[k] * (1.0 - hkk));
    }
    log::debug("realign: model target of frame ", frame_numbers[k], ": leverage ", hkk, hkk > 0.9 ? " (mean of the others)" : "");
  }
  parallel_for(nvox, [&](std::size_t v0, std::size_t v1) {
    std::vector<double> y(nf);
    for (std::size_t v = v0; v < v1; ++v) {
      if (predict && !predict[v]) continue;
      for (std::size_t k = 0; k < nf; ++k) y[k] = rows[k][v];
      for (std::size_t k = 0; k < nf; ++k) {
        double t = 0;
        for (std::size_t g = 0; g < nf; ++g) t += a(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(g)) * y[g];
        rows[k][v] = static_cast<float>(t);
      }
    }
  });
}

}  // namespace petpipe::realign::detail
