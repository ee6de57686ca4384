#include "petpipe/stats/roi_stats.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/stats/distributions.hpp"
#include "petpipe/stats/glm.hpp"

namespace petpipe::stats {

OlsFit fit_ols(const std::vector<double>& y, const Design& d, const std::vector<Contrast>& t_contrasts) {
  if (y.size() != static_cast<std::size_t>(d.rows()))
    throw make_error("OLS: ", y.size(), " values for ", d.rows(), " design rows");
  for (double v : y)
    if (!std::isfinite(v)) throw make_error("OLS: non-finite value in the data");
  Eigen::MatrixXd Y(d.rows(), 1);
  for (std::size_t i = 0; i < y.size(); ++i) Y(static_cast<Eigen::Index>(i), 0) = y[i];
  // Contrasts: one per design column (coefficient tests), one F per term, then the given t contrasts.
  std::vector<Contrast> cons;
  for (Eigen::Index j = 0; j < d.cols(); ++j) {
    Contrast c;
    c.name = d.column_names[static_cast<std::size_t>(j)];
    c.C = Eigen::RowVectorXd::Unit(d.cols(), j);
    cons.push_back(c);
  }
  for (const auto& t : d.terms) {
    Contrast c;
    c.name = t.name;
    if (t.factor) {
      c = make_contrast(d, t.name, "F(" + t.name + ")");
    } else {
      c.C = Eigen::RowVectorXd::Unit(d.cols(), t.columns[0]);
    }
    c.f_ = true;
    cons.push_back(c);
  }
  for (const auto& c : t_contrasts) {
    if (c.is_f()) throw make_error("OLS: contrast '", c.name, "' is an F contrast; give t contrasts");
    cons.push_back(c);
  }
  const GlmResult g = fit_glm(Y, d.X, cons);
  OlsFit f;
  f.df = g.df;
  f.sigma2 = g.sigma2[0];
  std::size_t k = 0;
  for (Eigen::Index j = 0; j < d.cols(); ++j, ++k) {
    const auto& cr = g.contrasts[k];
    f.beta.push_back(cr.effect[0]);
    f.se.push_back(cr.se[0]);
    f.t.push_back(cr.stat[0]);
    f.p.push_back(cr.p_two_sided[0]);
  }
  for (const auto& t : d.terms) {
    const auto& cr = g.contrasts[k++];
    f.anova.push_back({t.name, cr.df1, cr.df2, cr.stat[0], cr.p[0], cr.partial_eta2[0]});
  }
  for (const auto& c : t_contrasts) {
    const auto& cr = g.contrasts[k++];
    f.effects.push_back({c.name, cr.effect[0], cr.se[0], cr.stat[0], cr.df2, cr.p_two_sided[0]});
  }
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double sst = 0;
  for (double v : y) sst += (v - mean) * (v - mean);
  f.r2 = sst > 0 ? 1.0 - f.sigma2 * f.df / sst : 0.0;
  return f;
}

std::vector<GroupSummary> group_summary(const std::vector<double>& y, const std::vector<std::string>& groups) {
  if (y.size() != groups.size()) throw make_error("group summary: ", y.size(), " values for ", groups.size(), " labels");
  std::map<std::string, std::vector<double>> by;
  for (std::size_t i = 0; i < y.size(); ++i) by[groups[i]].push_back(y[i]);
  std::vector<GroupSummary> out;
  for (const auto& [g, v] : by) {
    GroupSummary s;
    s.group = g;
    s.n = v.size();
    double m = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    double ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    s.mean = m;
    s.sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : std::numeric_limits<double>::quiet_NaN();
    out.push_back(s);
  }
  return out;
}

std::vector<TukeyRow> tukey_hsd(const std::vector<double>& y, const std::vector<std::string>& groups, double alpha) {
  const auto sum = group_summary(y, groups);
  const std::size_t k = sum.size();
  if (k < 2) throw make_error("Tukey HSD: needs at least two groups");
  const double N = static_cast<double>(y.size());
  double sse = 0;
  for (const auto& s : sum)
    if (s.n > 1) sse += s.sd * s.sd * static_cast<double>(s.n - 1);
  const double df = N - static_cast<double>(k);
  if (!(df > 0)) throw make_error("Tukey HSD: no residual degrees of freedom");
  const double mse = sse / df;
  const double qcrit = studentized_range_isf(alpha, static_cast<double>(k), df);
  std::vector<TukeyRow> out;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b) {
      TukeyRow r;
      r.group1 = sum[a].group;
      r.group2 = sum[b].group;
      r.meandiff = sum[b].mean - sum[a].mean;
      r.se = std::sqrt(0.5 * mse * (1.0 / static_cast<double>(sum[a].n) + 1.0 / static_cast<double>(sum[b].n)));
      r.q = std::fabs(r.meandiff) / r.se;
      r.p = studentized_range_sf(r.q, static_cast<double>(k), df);
      r.lower = r.meandiff - qcrit * r.se;
      r.upper = r.meandiff + qcrit * r.se;
      r.reject = r.p < alpha;
      out.push_back(r);
    }
  return out;
}

}  // namespace petpipe::stats
