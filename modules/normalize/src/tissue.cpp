#include "petpipe/normalize/tissue.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "petpipe/core/error.hpp"

namespace petpipe::normalize {

TissueResult classify_tissue(const Image3D& t1, const Mask& brain, const TissueOptions& o) {
  if (!brain.geom.same_grid(t1.geom, 1e-3) || brain.data.size() != t1.data.size())
    throw Error("tissue classification: the brain mask is not on the T1 grid");
  std::vector<float> v;
  v.reserve(t1.data.size());
  for (std::size_t i = 0; i < t1.data.size(); ++i)
    if (brain.data[i] && std::isfinite(t1.data[i])) v.push_back(t1.data[i]);
  if (v.size() < 30) throw make_error("tissue classification: only ", v.size(), " brain voxels in the T1");
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  auto quantile = [&](double q) { return double(sorted[std::size_t(q * double(sorted.size() - 1))]); };
  const double range = quantile(0.99) - quantile(0.01);
  if (!(range > 0)) throw Error("tissue classification: the T1 intensities inside the brain are constant");
  std::array<double, 3> c{quantile(1.0 / 6), quantile(0.5), quantile(5.0 / 6)};
  TissueResult r;
  // Lloyd iterations on the sorted values: with ordered centres the classes are contiguous ranges of
  // the sorted intensities, split at the midpoints between centres; prefix sums give the means.
  std::vector<double> prefix(sorted.size() + 1, 0.0);
  for (std::size_t i = 0; i < sorted.size(); ++i) prefix[i + 1] = prefix[i] + sorted[i];
  std::array<std::size_t, 4> edge{};
  for (int it = 1; it <= o.max_iterations; ++it) {
    r.iterations = it;
    const double s1 = 0.5 * (c[0] + c[1]), s2 = 0.5 * (c[1] + c[2]);
    edge = {0, std::size_t(std::upper_bound(sorted.begin(), sorted.end(), s1) - sorted.begin()),
            std::size_t(std::upper_bound(sorted.begin(), sorted.end(), s2) - sorted.begin()), sorted.size()};
    double moved = 0;
    for (int k = 0; k < 3; ++k) {
      const std::size_t n = edge[k + 1] - edge[k];
      if (n == 0)
        throw Error("tissue classification: the T1 intensities inside the brain do not form three classes");
      const double m = (prefix[edge[k + 1]] - prefix[edge[k]]) / double(n);
      moved = std::max(moved, std::abs(m - c[k]));
      c[k] = m;
    }
    if (moved <= o.tolerance * range) break;
  }
  r.centres = c;
  r.classes = LabelImage(t1.geom, kTissueBackground);
  const double s1 = 0.5 * (c[0] + c[1]), s2 = 0.5 * (c[1] + c[2]);
  for (std::size_t i = 0; i < t1.data.size(); ++i) {
    if (!brain.data[i] || !std::isfinite(t1.data[i])) continue;
    const double x = t1.data[i];
    const int k = x <= s1 ? 0 : x <= s2 ? 1 : 2;
    r.classes.data[i] = kTissueCsf + k;
    ++r.voxels[std::size_t(k)];
  }
  return r;
}

bool restrict_to_grey_matter(ReferenceResult& ref, const Image3D& gm_fraction, double min_fraction,
                             std::size_t min_voxels) {
  if (!gm_fraction.geom.same_grid(ref.mask.geom, 1e-3) || gm_fraction.data.size() != ref.mask.data.size())
    throw Error("grey-matter masking: the grey-matter fraction image is not on the reference mask's grid");
  std::size_t kept = 0;
  for (std::size_t i = 0; i < ref.mask.data.size(); ++i)
    kept += ref.mask.data[i] && gm_fraction.data[i] >= min_fraction;
  if (kept < min_voxels) return false;
  for (std::size_t i = 0; i < ref.mask.data.size(); ++i)
    if (ref.mask.data[i] && !(gm_fraction.data[i] >= min_fraction)) ref.mask.data[i] = 0;
  ref.final_voxels = kept;
  return true;
}

}  // namespace petpipe::normalize
