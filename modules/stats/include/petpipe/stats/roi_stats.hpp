#pragma once
// ROI-level statistics: OLS with Type II F tests per term (equal to statsmodels anova_lm(typ=2) for
// main-effect models), t tests of contrasts, Tukey HSD and group means / SDs.
#include <string>
#include <vector>

#include "petpipe/stats/design.hpp"

namespace petpipe::stats {

struct TermTest {
  std::string term;
  double df1 = 0, df2 = 0, F = 0, p = 1;
  double partial_eta2 = 0;  // F df1 / (F df1 + df2)
};

struct EffectTest {
  std::string contrast;  // name
  double estimate = 0, se = 0, t = 0, df = 0;
  double p = 1;  // two-sided
};

struct OlsFit {
  std::vector<double> beta, se, t, p;  // per design column, two-sided p (statsmodels OLS)
  double df = 0, sigma2 = 0, r2 = 0;
  std::vector<TermTest> anova;         // one row per term
  std::vector<EffectTest> effects;     // one row per t contrast given
};

// y: one value per design row.
OlsFit fit_ols(const std::vector<double>& y, const Design& design, const std::vector<Contrast>& t_contrasts = {});

struct TukeyRow {
  std::string group1, group2;  // group1 < group2 in sorted order; meandiff = mean2 - mean1
  double meandiff = 0, se = 0, q = 0, p = 1, lower = 0, upper = 0;
  bool reject = false;
};
// Tukey HSD (Tukey-Kramer for unequal n) with the pooled one-way ANOVA variance, as pairwise_tukeyhsd.
std::vector<TukeyRow> tukey_hsd(const std::vector<double>& y, const std::vector<std::string>& groups,
                                double alpha = 0.05);

struct GroupSummary {
  std::string group;
  std::size_t n = 0;
  double mean = 0, sd = 0;  // sd with n - 1
};
std::vector<GroupSummary> group_summary(const std::vector<double>& y, const std::vector<std::string>& groups);

}  // namespace petpipe::stats
