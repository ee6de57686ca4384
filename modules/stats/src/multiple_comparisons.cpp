#include "petpipe/stats/multiple_comparisons.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "petpipe/core/error.hpp"

namespace petpipe::stats {

FdrResult fdr_bh(const std::vector<double>& p, double q) {
  if (!(q > 0 && q < 1)) throw make_error("FDR: q = ", q, " is not in (0, 1)");
  FdrResult r;
  r.adjusted.assign(p.size(), std::numeric_limits<double>::quiet_NaN());
  std::vector<std::size_t> idx;
  idx.reserve(p.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) idx.push_back(i);
  const std::size_t m = idx.size();
  if (m == 0) return r;
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  double running = 1.0;
  for (std::size_t r_ = m; r_-- > 0;) {
    const double v = p[idx[r_]] * static_cast<double>(m) / static_cast<double>(r_ + 1);
    running = std::min(running, v);
    r.adjusted[idx[r_]] = std::min(1.0, running);
  }
  for (std::size_t r_ = m; r_-- > 0;) {
    if (p[idx[r_]] <= q * static_cast<double>(r_ + 1) / static_cast<double>(m)) {
      r.threshold = p[idx[r_]];
      r.significant = r_ + 1;
      break;
    }
  }
  return r;
}

}  // namespace petpipe::stats
