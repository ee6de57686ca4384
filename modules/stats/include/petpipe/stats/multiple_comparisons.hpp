#pragma once
// Benjamini-Hochberg false discovery rate.
#include <vector>

namespace petpipe::stats {

struct FdrResult {
  std::vector<double> adjusted;  // BH-adjusted p values (as statsmodels' multipletests(method="fdr_bh"))
  double threshold = 0;          // largest p_(i) with p_(i) <= i q / m; 0 when nothing survives
  std::size_t significant = 0;   // number of p values <= threshold
};

// NaN p values are ignored (their adjusted value is NaN) and do not count in m.
FdrResult fdr_bh(const std::vector<double>& p, double q);

}  // namespace petpipe::stats
