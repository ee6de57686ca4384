#include "petpipe/stats/distributions.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>

#include "petpipe/core/error.hpp"

namespace petpipe::stats {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kTiny = 1e-300;

double log_beta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

// Continued fraction of I_x(a, b) (modified Lentz); converges quickly for x < (a + 1) / (a + b + 2).
double beta_cf(double a, double b, double x) {
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    // even step
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    // odd step
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-16) return h;
  }
  return h;  // not converged within 10000 terms: only for extreme a, b
}

// I_x(a, b) given x and y = 1 - x separately (so that a small y keeps its precision) and log B(a, b).
double ibeta_lb(double a, double b, double x, double y, double lb) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(y >= 0)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return 0.0;
  if (y == 0) return 1.0;
  const double log_front = a * std::log(x) + b * std::log(y) - lb;
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_cf(a, b, x) / a;
  return 1.0 - std::exp(log_front) * beta_cf(b, a, y) / b;
}

double ibeta(double a, double b, double x, double y) { return ibeta_lb(a, b, x, y, log_beta(a, b)); }

double normal_pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * kPi); }

double t_log_pdf(double t, double df) {
  return std::lgamma(0.5 * (df + 1)) - std::lgamma(0.5 * df) - 0.5 * std::log(df * kPi) -
         0.5 * (df + 1) * std::log1p(t * t / df);
}

// Solve sf(x) = p for x on [lo, hi] where sf decreases; bisection on log(sf), then polishing.
double invert_decreasing(const std::function<double(double)>& sf, double p, double lo, double hi) {
  const double lp = std::log(p);
  while (sf(hi) > p && hi < 1e12) hi *= 2.0;
  for (int it = 0; it < 400; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    const double v = sf(mid);
    if (v <= 0 || std::log(v) < lp)
      hi = mid;
    else
      lo = mid;
    if (hi - lo <= 1e-15 * std::max(1.0, std::fabs(mid))) break;
  }
  return 0.5 * (lo + hi);
}

// Gauss-Legendre nodes and weights on [-1, 1] by Newton iteration on P_n.
template <int N>
struct GaussLegendre {
  std::array<double, N> x{}, w{};
  GaussLegendre() {
    for (int i = 0; i < N; ++i) {
      double z = std::cos(kPi * (i + 0.75) / (N + 0.5));
      for (int it = 0; it < 100; ++it) {
        double p0 = 1.0, p1 = 0.0;
        for (int j = 1; j <= N; ++j) {
          const double p2 = p1;
          p1 = p0;
          p0 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p2) / j;
        }
        const double dp = N * (z * p0 - p1) / (z * z - 1.0);
        const double dz = p0 / dp;
        z -= dz;
        if (std::fabs(dz) < 1e-16) {
          x[i] = z;
          w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
          break;
        }
        x[i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
      }
    }
  }
};

const GaussLegendre<20>& gl20() {
  static const GaussLegendre<20> g;
  return g;
}

double gl_panel(const std::function<double(double)>& f, double a, double b) {
  const auto& g = gl20();
  const double c = 0.5 * (a + b), h = 0.5 * (b - a);
  double s = 0.0;
  for (int i = 0; i < 20; ++i) s += g.w[i] * f(c + h * g.x[i]);
  return s * h;
}

// P(range of k standard normals > w).
double range_sf_inf(double w, double k) {
  if (w <= 0) return 1.0;
  const double m = k - 1.0;
  auto f = [&](double z) {
    const double qa = normal_sf(z);
    if (qa <= 0) return 0.0;
    const double ratio = normal_sf(z + w) / qa;  // in [0, 1)
    const double diff = -std::expm1(m * std::log1p(-ratio));
    return normal_pdf(z) * std::exp(m * std::log(qa)) * diff;
  };
  // Smooth integrand: 12 fixed Gauss-Legendre panels of 20 nodes are accurate to round-off.
  double s = 0.0;
  for (int i = 0; i < 12; ++i) s += gl_panel(f, -9.0 + 1.5 * i, -9.0 + 1.5 * (i + 1));
  return k * s;
}

}  // namespace

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  return ibeta(a, b, x, 1.0 - x);
}

double incomplete_beta_complement(double a, double b, double x) {
  if (x <= 0) return 1.0;
  if (x >= 1) return 0.0;
  return ibeta(b, a, 1.0 - x, x);
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double normal_isf(double p) {
  if (!(p > 0)) return std::numeric_limits<double>::infinity();
  if (!(p < 1)) return -std::numeric_limits<double>::infinity();
  if (p > 0.5) return -normal_isf(1.0 - p);
  // Start: P. J. Acklam's rational approximation of the normal quantile (relative error < 1.2e-9), here for
  // the lower tail p <= 0.5, so z = -quantile(p).
  double z;
  if (p < 0.02425) {
    const double q = std::sqrt(-2.0 * std::log(p));
    z = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q -
             2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00) /
        ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q +
          3.754408661907416e+00) * q + 1.0);
  } else {
    const double q = p - 0.5, r = q * q;
    z = -(((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r +
             1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q /
        (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r +
           6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0);
  }
  // One Halley step on f(z) = sf(z) - p (f' = -pdf, f'' = z pdf): the error goes from ~1e-9 to round-off.
  const double pdf = normal_pdf(z);
  if (pdf > 0) {
    const double u = (normal_sf(z) - p) / pdf;
    z += u / (1.0 - 0.5 * z * u);
  }
  return z;
}

double normal_quantile(double p) { return -normal_isf(p); }

double t_sf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  const double t2 = t * t;
  // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2)
  const double x = df / (df + t2), y = t2 / (df + t2);
  const double two_sided = ibeta(0.5 * df, 0.5, x, y);
  return t > 0 ? 0.5 * two_sided : 1.0 - 0.5 * two_sided;
}

double t_cdf(double t, double df) { return t_sf(-t, df); }

StudentTail::StudentTail(double df) : df_(df), log_beta_(log_beta(0.5 * df, 0.5)) {
  if (!(df > 0)) throw make_error("StudentTail: df = ", df, " is not positive");
}

double StudentTail::operator()(double t) const {
  if (std::isnan(t)) return t;
  if (std::isinf(t)) return 0.0;
  const double t2 = t * t;
  return 0.5 * ibeta_lb(0.5 * df_, 0.5, df_ / (df_ + t2), t2 / (df_ + t2), log_beta_);
}

double t_two_sided_p(double t, double df) {
  if (std::isnan(t)) return t;
  if (std::isinf(t)) return 0.0;
  const double t2 = t * t;
  return ibeta(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2));
}

double t_isf(double p, double df) {
  if (!(p > 0 && p < 1)) throw make_error("t_isf: p = ", p, " is not in (0, 1)");
  if (p > 0.5) return -t_isf(1.0 - p, df);
  if (p == 0.5) return 0.0;
  // Newton on log(sf) from the normal quantile, guarded by bisection.
  double t = normal_isf(p);
  const double lp = std::log(p);
  for (int it = 0; it < 100; ++it) {
    const double s = t_sf(t, df);
    if (!(s > 0)) break;
    const double f = std::log(s) - lp;
    const double step = f / std::exp(t_log_pdf(t, df) - std::log(s));
    double next = t + step;
    if (!(next > 0)) next = 0.5 * t;
    if (std::fabs(next - t) < 1e-14 * std::max(1.0, std::fabs(t))) {
      t = next;
      break;
    }
    t = next;
  }
  if (std::fabs(t_sf(t, df) / p - 1.0) > 1e-10)
    t = invert_decreasing([df](double x) { return t_sf(x, df); }, p, 0.0, 10.0);
  return t;
}

double t_to_z(double t, double df) {
  if (std::isnan(t)) return t;
  const bool neg = t < 0;
  const double p = t_sf(std::fabs(t), df);
  double z;
  if (p <= 0)
    z = 38.5;  // beyond double precision of the normal tail
  else
    z = normal_isf(p);
  return neg ? -z : z;
}

double f_sf(double f, double d1, double d2) {
  if (std::isnan(f)) return f;
  if (f <= 0) return 1.0;
  if (std::isinf(f)) return 0.0;
  const double x = d2 / (d2 + d1 * f), y = d1 * f / (d2 + d1 * f);
  return ibeta(0.5 * d2, 0.5 * d1, x, y);
}

double f_cdf(double f, double d1, double d2) {
  if (std::isnan(f)) return f;
  if (f <= 0) return 0.0;
  if (std::isinf(f)) return 1.0;
  const double x = d2 / (d2 + d1 * f), y = d1 * f / (d2 + d1 * f);
  return ibeta(0.5 * d1, 0.5 * d2, y, x);
}

double f_isf(double p, double d1, double d2) {
  if (!(p > 0 && p < 1)) throw make_error("f_isf: p = ", p, " is not in (0, 1)");
  return invert_decreasing([d1, d2](double x) { return f_sf(x, d1, d2); }, p, 0.0, 10.0);
}

double studentized_range_sf(double q, double k, double df) {
  if (std::isnan(q) || !(k >= 2) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (q <= 0) return 1.0;
  if (std::isinf(df) || df > 1e7) return std::min(1.0, range_sf_inf(q, k));
  // Average over s = sqrt(chi2_df / df): density 2 (df/2)^(df/2) / Gamma(df/2) s^(df-1) exp(-df s^2/2).
  const double log_c = std::log(2.0) + 0.5 * df * std::log(0.5 * df) - std::lgamma(0.5 * df);
  auto f = [&](double s) {
    if (s <= 0) return 0.0;
    const double log_dens = log_c + (df - 1.0) * std::log(s) - 0.5 * df * s * s;
    if (log_dens < -700) return 0.0;
    return std::exp(log_dens) * range_sf_inf(q * s, k);
  };
  const double sd = 1.0 / std::sqrt(2.0 * df);
  const double hi = std::max(1.0 + 14.0 * sd, std::sqrt(2.0 * 750.0 / df));
  const double upper = std::min(hi, 40.0);
  // Smooth integrand: fixed Gauss-Legendre panels (24 x 20 nodes) are accurate to ~1e-13.
  double sum = 0.0;
  const int panels = 24;
  for (int i = 0; i < panels; ++i) sum += gl_panel(f, upper * i / panels, upper * (i + 1) / panels);
  return std::min(1.0, sum);
}

double studentized_range_cdf(double q, double k, double df) { return 1.0 - studentized_range_sf(q, k, df); }

double studentized_range_isf(double p, double k, double df) {
  if (!(p > 0 && p < 1)) throw make_error("studentized_range_isf: p = ", p, " is not in (0, 1)");
  // Secant on log(sf) from a bracket, falling back to bisection.
  double lo = 0.0, hi = 4.0;
  while (studentized_range_sf(hi, k, df) > p && hi < 1e4) {
    lo = hi;
    hi *= 2.0;
  }
  const double lp = std::log(p);
  double flo = 0.0 - lp;  // log(sf(lo)) - lp with sf(0) = 1
  if (lo > 0) flo = std::log(studentized_range_sf(lo, k, df)) - lp;
  double fhi = std::log(studentized_range_sf(hi, k, df)) - lp;
  for (int it = 0; it < 100; ++it) {
    double x = hi - fhi * (hi - lo) / (fhi - flo);  // regula falsi (Illinois)
    if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
    const double fx = std::log(studentized_range_sf(x, k, df)) - lp;
    if (std::fabs(fx) < 1e-12 || hi - lo < 1e-12) return x;
    if ((fx > 0) == (flo > 0)) {
      lo = x;
      flo = fx;
      fhi *= 0.5;
    } else {
      hi = x;
      fhi = fx;
      flo *= 0.5;
    }
  }
  return 0.5 * (lo + hi);
}

}  // namespace petpipe::stats
