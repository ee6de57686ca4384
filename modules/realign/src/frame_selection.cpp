// Frame selection, reference frame and the frames that are not estimated (frame_selection.hpp).
#include "frame_selection.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "pose.hpp"

namespace petpipe::realign::detail {

void add_warning(MotionResult& res, const std::string& message) {
  log::warn(message);
  res.warnings.push_back(message);
}

double frame_mean(const float* p, std::size_t n, std::size_t* nan_count) {
  double s = 0;
  std::size_t nan = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(p[i])) {
      ++nan;
      continue;
    }
    s += p[i];
  }
  if (nan_count) *nan_count = nan;
  return s / static_cast<double>(n);
}

std::vector<double> frame_means(const DynamicImage& pet, MotionResult& res) {
  const std::size_t n = pet.frame_count();
  std::vector<double> means(n);
  for (std::size_t f = 0; f < n; ++f) {
    std::size_t nan = 0;
    means[f] = frame_mean(pet.frame(f), pet.voxels_per_frame(), &nan);
    res.nan_voxels += nan;
  }
  if (res.nan_voxels > 0)
    add_warning(res, petpipe::detail::concat("realign: ", res.nan_voxels, " NaN voxels are treated as 0"));
  return means;
}

std::vector<bool> select_frames(const DynamicImage& pet, const Options& o, const std::vector<double>& means,
                                MotionResult& res) {
  const std::size_t n = pet.frame_count();
  const std::size_t nvox = pet.voxels_per_frame();
  const double max_mean = *std::max_element(means.begin(), means.end());
  if (!(max_mean > 0))
    throw make_error("realign: every frame is empty (all voxels zero, negative or NaN); nothing to register");
  std::vector<bool> user_excluded(n, false);
  for (auto f : o.exclude_frames) user_excluded[f] = true;
  std::vector<bool> estimable(n, false);
  for (std::size_t f = 0; f < n; ++f) {
    auto& m = res.frames[f];
    if (user_excluded[f]) {
      m.status = "excluded";
    } else if (pet.frames.start_s[f] + 1e-6 < o.start_time_s) {
      m.status = "before-start";
    } else if (!(means[f] > o.empty_fraction * max_mean)) {
      m.status = "near-empty";
      bool all_zero = true;
      const float* p = pet.frame(f);
      for (std::size_t i = 0; i < nvox && all_zero; ++i) all_zero = !(p[i] != 0.0f) || std::isnan(p[i]);
      add_warning(res, petpipe::detail::concat("realign: frame ", f + 1, all_zero ? " is all zero" : " is near-empty",
                                               " (mean ", means[f], ", ", 100.0 * means[f] / max_mean,
                                               " % of the largest frame mean); not estimated"));
    } else {
      estimable[f] = true;
    }
  }
  return estimable;
}

std::size_t choose_reference(const DynamicImage& pet, const Options& o, const std::vector<double>& means,
                             const std::vector<bool>& estimable, MotionResult& res) {
  const std::size_t n = pet.frame_count();
  std::size_t ref = 0;
  if (o.reference_frame >= 0) {
    ref = static_cast<std::size_t>(o.reference_frame);
    if (!estimable[ref])
      throw make_error("realign: reference frame ", ref + 1, " cannot be used: it is ", res.frames[ref].status);
  } else {
    const double scan_end = pet.frames.end_s(n - 1);
    const double scan_begin = pet.frames.start_s[0];
    double best = -1;
    bool found = false;
    for (int late_only = 1; late_only >= 0 && !found; --late_only) {
      for (std::size_t f = 0; f < n; ++f) {
        if (!estimable[f]) continue;
        if (late_only && pet.frames.mid_s(f) < scan_begin + (scan_end - scan_begin) / 3.0) continue;
        const double counts = means[f] * pet.frames.duration_s[f] *
                              (pet.frames.decay_corrected ? pet.frames.decay_factor(f) : 1.0);
        if (counts > best) {
          best = counts;
          ref = f;
          found = true;
        }
      }
    }
    if (!found)
      throw make_error("realign: no frame can be estimated (all are excluded, before the start time or near-empty)");
  }
  res.reference_frame = ref;
  res.frames[ref].status = "reference";
  return ref;
}

void fill_excluded_frames(const DynamicImage& pet, const Options& o, const std::vector<bool>& estimable,
                          const std::vector<std::size_t>& estimated, MotionResult& res) {
  if (o.excluded != ExcludedPolicy::nearest) return;
  for (std::size_t f = 0; f < pet.frame_count(); ++f) {
    if (estimable[f]) continue;
    std::size_t best = res.reference_frame;
    double best_d = 1e300;
    for (auto g : estimated) {
      const double d = std::abs(pet.frames.mid_s(g) - pet.frames.mid_s(f));
      if (d < best_d || (d == best_d && g > best)) {
        best_d = d;
        best = g;
      }
    }
    auto& m = res.frames[f];
    set_params(m, to_params(res.frames[best]));
    m.source_frame = static_cast<int>(best);
  }
}

}  // namespace petpipe::realign::detail
