#include "petpipe/stats/rft.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "petpipe/core/error.hpp"
#include "petpipe/stats/distributions.hpp"

namespace petpipe::stats {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

Smoothness estimate_smoothness(const MatrixXfRM& residuals, const Mask& mask, double df) {
  const Geometry& g = mask.geom;
  const std::size_t nvox = g.voxel_count();
  std::vector<std::int64_t> col(nvox, -1);
  std::int64_t c = 0;
  for (std::size_t i = 0; i < nvox; ++i)
    if (mask.data[i]) col[i] = c++;
  if (c != residuals.cols())
    throw make_error("smoothness: residuals have ", residuals.cols(), " voxels, mask has ", c);
  if (!(df > 2)) throw make_error("smoothness: needs more than 2 residual degrees of freedom (df = ", df, ")");
  const Eigen::Index n = residuals.rows();
  // Normalised residuals (unit sum of squares over subjects).
  std::vector<double> inv_norm(static_cast<std::size_t>(c), 0.0);
  for (Eigen::Index v = 0; v < c; ++v) {
    const double ss = residuals.col(v).cast<double>().squaredNorm();
    inv_norm[static_cast<std::size_t>(v)] = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
  }
  double sum[3] = {0, 0, 0};
  std::size_t count[3] = {0, 0, 0};
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const std::size_t a = g.linear_index(i, j, k);
        if (col[a] < 0 || inv_norm[static_cast<std::size_t>(col[a])] == 0) continue;
        const std::size_t nb[3] = {i + 1 < g.size[0] ? g.linear_index(i + 1, j, k) : nvox,
                                   j + 1 < g.size[1] ? g.linear_index(i, j + 1, k) : nvox,
                                   k + 1 < g.size[2] ? g.linear_index(i, j, k + 1) : nvox};
        for (int ax = 0; ax < 3; ++ax) {
          if (nb[ax] >= nvox || col[nb[ax]] < 0 || inv_norm[static_cast<std::size_t>(col[nb[ax]])] == 0) continue;
          const double na = inv_norm[static_cast<std::size_t>(col[a])];
          const double nbn = inv_norm[static_cast<std::size_t>(col[nb[ax]])];
          double s = 0;
          for (Eigen::Index r = 0; r < n; ++r) {
            const double d = residuals(r, col[nb[ax]]) * nbn - residuals(r, col[a]) * na;
            s += d * d;
          }
          sum[ax] += s;
          ++count[ax];
        }
      }
  Smoothness sm;
  sm.voxels = static_cast<std::size_t>(c);
  for (int ax = 0; ax < 3; ++ax) {
    if (count[ax] == 0) throw make_error("smoothness: the mask has no neighbouring voxels along axis ", ax);
    const double lambda = (df - 2.0) / (df - 1.0) * sum[ax] / static_cast<double>(count[ax]);
    sm.fwhm_voxels[ax] = std::sqrt(4.0 * std::log(2.0) / lambda);
    sm.fwhm_mm[ax] = sm.fwhm_voxels[ax] * g.spacing[ax];
  }
  sm.resels_per_voxel = 1.0 / (sm.fwhm_voxels[0] * sm.fwhm_voxels[1] * sm.fwhm_voxels[2]);
  sm.resels = resel_counts(mask, sm.fwhm_voxels);
  return sm;
}

std::array<double, 4> resel_counts(const Mask& mask, const Vec3& fwhm) {
  const Geometry& g = mask.geom;
  auto in = [&](std::size_t i, std::size_t j, std::size_t k) {
    return i < g.size[0] && j < g.size[1] && k < g.size[2] && mask.data[g.linear_index(i, j, k)] != 0;
  };
  double P = 0, Ex = 0, Ey = 0, Ez = 0, Fxy = 0, Fxz = 0, Fyz = 0, C = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        if (!in(i, j, k)) continue;
        P += 1;
        const bool x = in(i + 1, j, k), y = in(i, j + 1, k), z = in(i, j, k + 1);
        const bool xy = x && y && in(i + 1, j + 1, k);
        const bool xz = x && z && in(i + 1, j, k + 1);
        const bool yz = y && z && in(i, j + 1, k + 1);
        Ex += x;
        Ey += y;
        Ez += z;
        Fxy += xy;
        Fxz += xz;
        Fyz += yz;
        C += xy && xz && yz && in(i + 1, j + 1, k + 1);
      }
  const double rx = 1.0 / fwhm[0], ry = 1.0 / fwhm[1], rz = 1.0 / fwhm[2];
  std::array<double, 4> R;
  R[0] = P - (Ex + Ey + Ez) + (Fxy + Fxz + Fyz) - C;
  R[1] = (Ex - Fxy - Fxz + C) * rx + (Ey - Fxy - Fyz + C) * ry + (Ez - Fxz - Fyz + C) * rz;
  R[2] = (Fxy - C) * rx * ry + (Fxz - C) * rx * rz + (Fyz - C) * ry * rz;
  R[3] = C * rx * ry * rz;
  return R;
}

std::array<double, 4> ec_density(Field field, double u, double df1, double df2) {
  std::array<double, 4> ec{};
  const double a = 4.0 * std::log(2.0);
  switch (field) {
    case Field::Z: {
      const double b = std::exp(-u * u / 2.0);
      ec[0] = normal_sf(u);
      ec[1] = std::sqrt(a) / (2 * kPi) * b;
      ec[2] = a / std::pow(2 * kPi, 1.5) * b * u;
      ec[3] = std::pow(a, 1.5) / (4 * kPi * kPi) * b * (u * u - 1);
      break;
    }
    case Field::T: {
      const double v = df2;
      const double b = std::exp(std::lgamma((v + 1) / 2) - std::lgamma(v / 2));
      const double c = std::pow(1 + u * u / v, (1 - v) / 2);
      ec[0] = t_sf(u, v);
      ec[1] = std::sqrt(a) / (2 * kPi) * c;
      ec[2] = a / std::pow(2 * kPi, 1.5) * c * u / std::sqrt(v / 2) * b;
      ec[3] = std::pow(a, 1.5) / (4 * kPi * kPi) * c * ((v - 1) * u * u / v - 1);
      break;
    }
    case Field::F: {
      const double k = df1, v = df2;
      const double aa = a / (2 * kPi);
      const double b = std::lgamma(v / 2) + std::lgamma(k / 2);
      const double x = k * u / v;
      ec[0] = f_sf(u, k, v);
      ec[1] = std::sqrt(aa) * std::exp(std::lgamma((v + k - 1) / 2) - b) * std::sqrt(2.0) *
              std::pow(x, 0.5 * (k - 1)) * std::pow(1 + x, -0.5 * (v + k - 2));
      ec[2] = aa * std::exp(std::lgamma((v + k - 2) / 2) - b) * std::pow(x, 0.5 * (k - 2)) *
              std::pow(1 + x, -0.5 * (v + k - 2)) * ((v - 1) * x - (k - 1));
      ec[3] = std::pow(aa, 1.5) * std::exp(std::lgamma((v + k - 3) / 2) - b) / std::sqrt(2.0) *
              std::pow(x, 0.5 * (k - 3)) * std::pow(1 + x, -0.5 * (v + k - 2)) *
              ((v - 1) * (v - 2) * x * x - (2 * v * k - v - k - 1) * x + (k - 1) * (k - 2));
      break;
    }
  }
  return ec;
}

RftP rft_p(int c, double k, double u, Field field, double df1, double df2, const std::array<double, 4>& R_in) {
  // D = number of R entries up to the last non-zero one.
  int D = 0;
  for (int d = 0; d < 4; ++d)
    if (R_in[d] != 0) D = d + 1;
  RftP r;
  if (D == 0) return r;
  const double eps = std::numeric_limits<double>::epsilon();
  auto ec = ec_density(field, u, df1, df2);
  double Ec = 0;
  double EM[4] = {0, 0, 0, 0};
  for (int d = 0; d < D; ++d) {
    ec[d] = std::max(ec[d], eps);
    EM[d] = R_in[d] * ec[d];  // (R/G) .* (EC .* G)
    Ec += EM[d];
  }
  const double EN = ec[0] * R_in[D - 1];
  const double Ek = EN / EM[D - 1];
  r.Ec = Ec;
  r.Ek = Ek;
  const int Dm = D - 1;
  double p = 1.0;
  if (k > 0 && Dm > 0) {
    const double beta = std::pow(std::tgamma(Dm / 2.0 + 1) / Ek, 2.0 / Dm);
    p = std::exp(-beta * std::pow(k, 2.0 / Dm));
  }
  // Poisson clumping: P = 1 - sum_{i < c} Poisson(i; (Ec + eps) p)
  const double lam = (Ec + eps) * p;
  double term = std::exp(-lam), cdf = 0;
  for (int i = 0; i < c; ++i) {
    cdf += term;
    term *= lam / (i + 1);
  }
  r.P = 1.0 - cdf;
  if (c == 1) r.P = -std::expm1(-lam);
  r.p = p;
  if (k > 0 && field == Field::F) {
    r.P = std::numeric_limits<double>::quiet_NaN();
    r.p = std::numeric_limits<double>::quiet_NaN();
  }
  return r;
}

}  // namespace petpipe::stats
