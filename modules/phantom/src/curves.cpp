#include "petpipe/phantom/curves.hpp"

#include <cmath>

#include "petpipe/core/error.hpp"

namespace petpipe::phantom {

namespace {

// J_j(c, d) = integral_0^d s^j exp(-c s) ds for c >= 0, d >= 0, without cancellation:
// with x = c d, J_j = j!/c^{j+1} * P(j+1, x) where P is the regularised lower incomplete gamma;
// for x <= j+1 P is summed as exp(-x) * sum_{i>j} x^i / i! (positive terms), else as
// 1 - exp(-x) sum_{i<=j} x^i / i!.
double j_integral(int j, double c, double d) {
  if (d <= 0) return 0.0;
  const double x = c * d;
  if (x <= j + 1.0) {
    // d^{j+1} exp(-x) sum_{i>=j+1} x^{i-j-1} j!/i!
    double term = 1.0 / (j + 1.0);
    double sum = term;
    for (int i = j + 1; i < j + 400; ++i) {
      term *= x / (i + 1.0);
      sum += term;
      if (term < 1e-18 * sum) break;
    }
    return std::pow(d, j + 1) * std::exp(-x) * sum;
  }
  double partial = 0.0, term = 1.0;  // sum_{i<=j} x^i / i!
  for (int i = 0; i <= j; ++i) {
    if (i > 0) term *= x / i;
    partial += term;
  }
  double fact = 1.0;
  for (int i = 2; i <= j; ++i) fact *= i;
  return fact / std::pow(c, j + 1) * (1.0 - std::exp(-x) * partial);
}

double binomial(int n, int k) {
  double r = 1.0;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

}  // namespace

double ExpCurve::value(double t) const {
  if (t < 0) return 0.0;
  double v = 0.0;
  for (const auto& term : terms) v += term.coef * std::pow(t, term.power) * std::exp(-term.rate * t);
  return v;
}

double ExpCurve::integral(double t0, double t1) const {
  if (t1 <= t0) return 0.0;
  t0 = std::max(t0, 0.0);
  if (t1 <= t0) return 0.0;
  const double d = t1 - t0;
  double total = 0.0;
  for (const auto& term : terms) {
    // integral_{t0}^{t1} t^p e^{-c t} dt = e^{-c t0} sum_j C(p,j) t0^{p-j} J_j(c, d)
    double s = 0.0;
    for (int j = 0; j <= term.power; ++j)
      s += binomial(term.power, j) * std::pow(t0, term.power - j) * j_integral(j, term.rate, d);
    total += term.coef * std::exp(-term.rate * t0) * s;
  }
  return total;
}

ExpCurve ExpCurve::convolve_exp(double k) const {
  if (!(k >= 0)) throw make_error("convolve_exp: negative or non-finite rate ", k);
  ExpCurve out;
  for (const auto& term : terms) {
    const int m = term.power;
    const double a = term.rate;
    const double dlt = a - k;
    // e^{-k t} integral_0^t tau^m e^{-dlt tau} dtau
    if (std::abs(dlt) < 1e-3) {
      // Series in dlt: sum_n (-dlt)^n / (n! (m+n+1)) t^{m+n+1} e^{-k t}; converges fast for
      // |dlt| t << 1 (t < 400 min keeps |dlt| t < 0.4, 20 terms give < 1e-20).
      double fact = 1.0;
      for (int n = 0; n < 20; ++n) {
        if (n > 0) fact *= n;
        const double c = std::pow(-dlt, n) / (fact * (m + n + 1));
        if (c == 0.0 && n > 0) break;
        out.terms.push_back({term.coef * c, m + n + 1, k});
      }
      continue;
    }
    // m!/dlt^{m+1} e^{-k t} - sum_j m!/(j! dlt^{m+1-j}) t^j e^{-a t}
    double mfact = 1.0;
    for (int i = 2; i <= m; ++i) mfact *= i;
    out.terms.push_back({term.coef * mfact / std::pow(dlt, m + 1), 0, k});
    double jfact = 1.0;
    for (int j = 0; j <= m; ++j) {
      if (j > 0) jfact *= j;
      out.terms.push_back({-term.coef * mfact / (jfact * std::pow(dlt, m + 1 - j)), j, a});
    }
  }
  return out;
}

ExpCurve ExpCurve::scaled(double s) const {
  ExpCurve out = *this;
  for (auto& t : out.terms) t.coef *= s;
  return out;
}

ExpCurve ExpCurve::plus(const ExpCurve& other) const {
  ExpCurve out = *this;
  out.terms.insert(out.terms.end(), other.terms.begin(), other.terms.end());
  return out;
}

ExpCurve reference_curve(const ReferenceCurveParams& p, double scale) {
  ExpCurve c;
  c.terms = {{p.a1, 1, p.l1}, {p.a2, 0, p.l2}, {-p.a2, 0, p.l1}, {p.a3, 0, p.l3}, {-p.a3, 0, p.l1}};
  return c.scaled(scale);
}

ExpCurve srtm_target(const ExpCurve& reference, double r1, double k2, double bpnd) {
  if (!(r1 >= 0) || !(k2 >= 0) || !(bpnd > -1.0))
    throw make_error("srtm_target: invalid parameters R1=", r1, " k2=", k2, " BPND=", bpnd);
  const double k2a = k2 / (1.0 + bpnd);
  return reference.scaled(r1).plus(reference.convolve_exp(k2a).scaled(k2 - r1 * k2a));
}

std::vector<double> frame_means(const ExpCurve& curve, const FrameTable& frames) {
  std::vector<double> out(frames.size());
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const double t0 = frames.start_s[f] / 60.0;
    const double d = frames.duration_s[f] / 60.0;
    out[f] = curve.integral(t0, t0 + d) / d;
  }
  return out;
}

}  // namespace petpipe::phantom
