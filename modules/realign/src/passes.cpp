// The registration passes of estimate_motion (passes.hpp).
#include "passes.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "backend.hpp"
#include "model_targets.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/progress.hpp"
#include "pose.hpp"

namespace petpipe::realign::detail {

namespace {

// Registers frames[i] = f with register_one(i, f) for every i, frames in parallel, and stores the
// results in res.frames.
template <typename RegisterOne>
void run_pass(const std::vector<std::size_t>& frames, const char* label, MotionResult& res,
              const RegisterOne& register_one) {
  const auto started = std::chrono::steady_clock::now();
  Progress progress(label, frames.size());
  std::mutex mutex;
  parallel_for(frames.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const std::size_t f = frames[i];
      const auto out = with_context(petpipe::detail::concat("frame ", f + 1), [&] { return register_one(i, f); });
      {
        std::lock_guard<std::mutex> lock(mutex);
        set_params(res.frames[f], out.params);
        res.frames[f].metric_value = out.metric_value;
        res.frames[f].iterations = out.iterations;
        const auto& m = res.frames[f];
        log::debug(label, ": frame ", f + 1, ": t = (", m.tx_mm, ", ", m.ty_mm, ", ", m.tz_mm, ") mm, r = (",
                   m.rx_deg, ", ", m.ry_deg, ", ", m.rz_deg, ") deg, ", out.iterations, " iterations, ",
                   out.stop_condition);
      }
      progress.advance();
    }
  }, 1);
  log::debug(label, ": ", frames.size(), " frames in ",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), " s");
}

// The settings every pass starts from.
RegistrationSettings base_settings(const Options& o) {
  RegistrationSettings rs;
  rs.metric = o.metric;
  rs.levels = o.levels;
  rs.sampling_fraction = o.sampling_fraction;
  rs.max_samples = o.max_samples;
  rs.max_iterations = o.max_iterations;
  rs.min_step_mm = o.min_step_mm;
  rs.seed = o.seed;
  return rs;
}

enum class Round { reference, model, mean };

// Head mask of the second pass on the estimation grid, and what its points can read (the mask and its
// 26 neighbours): the voxels the model targets need.
struct SecondPassMasks {
  std::vector<unsigned char> sample;
  std::vector<unsigned char> read;
};

SecondPassMasks second_pass_masks(const Image3D& reference_smoothed) {
  SecondPassMasks m;
  m.sample = head_mask(reference_smoothed, 0.05, 3);
  std::size_t inside = 0;
  for (auto v : m.sample) inside += v;
  log::debug("realign: second-pass sampling mask ", inside, " of ", m.sample.size(), " voxels");
  m.read = dilate_box(m.sample, reference_smoothed.geom);
  return m;
}

// Settings of one round of the second pass: one level, every mask point up to the round's count,
// starting steps of 0.5 mm (each round starts from the previous one's estimate); the metric and its
// sizes by round (windows and cells in voxels of the second pass's grid).
RegistrationSettings round_settings(Round round, const Options& o, const Geometry& grid,
                                    const std::vector<unsigned char>& mask) {
  RegistrationSettings rs = base_settings(o);
  rs.levels = 1;
  rs.sampling_fraction = 1.0;
  rs.max_samples = o.refine_max_samples;
  rs.fixed_mask = &mask;
  rs.initial_step_mm = 0.5;
  if (round == Round::model) {
    rs.metric = o.model_metric;
    if (o.model_metric == Metric::least_squares) rs.max_samples = o.lsq_max_samples;
  } else if (round == Round::reference) {
    rs.metric = o.reference_metric;
    const double voxel = std::min({grid.spacing[0], grid.spacing[1], grid.spacing[2]});
    auto window_voxels = [&](double mm) { return std::clamp(static_cast<int>(std::lround(mm / voxel)), 1, 3); };
    if (o.reference_metric == Metric::lncc) {
      rs.window_radius = window_voxels(o.lncc_radius_mm);
      rs.max_samples = std::min(o.refine_max_samples, o.lncc_max_samples);
      rs.min_step_mm = std::max(o.min_step_mm, o.lncc_min_step_mm);
    } else if (o.reference_metric == Metric::local_lsq) {
      rs.cell_voxels = std::max(2, static_cast<int>(std::lround(o.local_cell_mm / voxel)));
      rs.max_samples = o.lsq_max_samples;
    } else if (o.reference_metric == Metric::window_ncc) {
      rs.window_radius = window_voxels(o.window_radius_mm);
      rs.max_samples = o.window_samples;
    }
  }
  return rs;
}

// The targets of one round: the reference frame's image (reference round), one image per frame
// (model rounds) or one for all (mean rounds).
struct RoundTargets {
  const Image3D* reference = nullptr;
  std::vector<Image3D> images;
  bool per_frame = false;
  const Image3D& of(std::size_t i) const { return reference ? *reference : images[per_frame ? i : 0]; }
};

// Model rounds: each frame of `all` resliced at its current transform where the points read (masks.read),
// then replaced by its leave-one-out prediction from the others.
RoundTargets model_round_targets(const std::vector<Image3D>& fine, const std::vector<std::size_t>& all,
                                 const std::vector<double>& durations, const SecondPassMasks& masks, const Options& o,
                                 const MotionResult& res) {
  const auto t0 = std::chrono::steady_clock::now();
  RoundTargets targets;
  targets.per_frame = true;
  targets.images.reserve(all.size());
  for (auto f : all) targets.images.emplace_back(fine[f].geom, 0.0f);
  parallel_for(all.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k)
      reslice_linear_where(fine[all[k]], to_params(res.frames[all[k]]), res.center_lps, masks.read,
                           targets.images[k].data.data());
  }, 1);
  std::vector<std::size_t> numbers;
  for (auto f : all) numbers.push_back(f + 1);
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<float*> rows;
  for (auto& t : targets.images) rows.push_back(t.data.data());
  model_targets(rows, targets.images.front().data.size(), masks.sample.data(), masks.read.data(), durations,
                o.refine_components, numbers);
  log::debug("realign: model targets: reslicing ", std::chrono::duration<double>(t1 - t0).count(), " s, model ",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), " s");
  return targets;
}

// Mean rounds: the duration-weighted mean of the frames of `all` resliced at their current transforms.
RoundTargets mean_round_target(const std::vector<Image3D>& fine, const std::vector<std::size_t>& all,
                               const std::vector<double>& durations, std::size_t ref, const MotionResult& res) {
  Image3D mean(fine[ref].geom, 0.0f);
  std::vector<float> buffer(mean.data.size());
  double wsum = 0;
  for (std::size_t k = 0; k < all.size(); ++k) {
    const std::size_t f = all[k];
    reslice_volume(fine[f].data.data(), buffer.data(), fine[f].geom, to_params(res.frames[f]), res.center_lps,
                   Interpolation::linear, thread_count());
    for (std::size_t i = 0; i < buffer.size(); ++i) mean.data[i] += static_cast<float>(durations[k] * buffer[i]);
    wsum += durations[k];
  }
  for (auto& v : mean.data) v = static_cast<float>(v / wsum);
  RoundTargets targets;
  targets.images.push_back(std::move(mean));
  return targets;
}

// Priors of a model round (least squares with a prior weight only): the reference round's estimates,
// moved together onto the current series (their common offset from it removed), so that they hold
// the frames' relative poses only. Empty when there are none.
std::vector<Params> model_round_priors(const Options& o, const std::vector<std::size_t>& all,
                                       const std::vector<FrameMotion>& reference_round, const MotionResult& res) {
  std::vector<Params> priors;
  if (!(o.model_prior_weight > 0 && o.model_metric == Metric::least_squares && reference_round.size() == all.size()))
    return priors;
  std::vector<FrameMotion> current, shifted = reference_round;
  for (auto f : all) current.push_back(res.frames[f]);
  rebase(shifted, common_offset(current, reference_round));
  for (const auto& m : shifted) priors.push_back(to_params(m));
  return priors;
}

// Leave-one-out targets follow the frames: a rotation or shift common to all frames changes no frame's
// match to its target, so a model round can move the whole series together. The series is therefore
// put back into the reference frame's space after each model round.
void rebase_series_on_reference(const std::vector<std::size_t>& all, std::size_t ref, MotionResult& res) {
  std::vector<FrameMotion> estimated;
  for (auto f : all) estimated.push_back(res.frames[f]);
  rebase_on_reference(estimated, static_cast<std::size_t>(std::find(all.begin(), all.end(), ref) - all.begin()));
  for (std::size_t k = 0; k < all.size(); ++k) res.frames[all[k]] = estimated[k];
}

}  // namespace

void first_pass(const std::vector<Image3D>& smoothed, const Options& o, bool skip_finest,
                const std::vector<std::size_t>& frames, std::size_t ref, MotionResult& res) {
  RegistrationSettings rs = base_settings(o);
  if (skip_finest && rs.levels >= 2) {
    rs.levels -= 1;
    rs.extra_shrink_levels = 1;
  }
  run_pass(frames, "realign: pass 1", res, [&](std::size_t, std::size_t f) {
    return register_rigid(smoothed[ref], smoothed[f], res.center_lps, to_params(res.frames[f]), rs);
  });
}

void second_pass(EstimationImages& images, const DynamicImage& pet, const Options& o, bool use_model,
                 const std::vector<std::size_t>& frames, std::size_t ref, MotionResult& res) {
  const SecondPassMasks masks = second_pass_masks(images.smoothed[ref]);
  images.smoothed.clear();
  const std::vector<Image3D>& fine = images.fine;
  std::vector<std::size_t> all = frames;
  all.push_back(ref);
  std::sort(all.begin(), all.end());
  std::vector<double> durations;
  for (auto f : all) durations.push_back(pet.frames.duration_s[f]);
  std::vector<FrameMotion> reference_round;  // the estimates of the reference round
  for (int r = 0; r < o.refine_passes; ++r) {
    const Round round = !use_model ? Round::mean : r == 0 ? Round::reference : Round::model;
    RoundTargets targets;
    if (round == Round::reference)
      targets.reference = &fine[ref];  // the reference frame, unsmoothed (its transform is the identity)
    else if (round == Round::model)
      targets = model_round_targets(fine, all, durations, masks, o, res);
    else
      targets = mean_round_target(fine, all, durations, ref, res);
    const RegistrationSettings rs = round_settings(round, o, fine[ref].geom, masks.sample);
    const std::vector<Params> priors =
        round == Round::model ? model_round_priors(o, all, reference_round, res) : std::vector<Params>{};
    run_pass(all, r == 0 ? "realign: pass 2" : "realign: pass 2 (repeated)", res, [&](std::size_t i, std::size_t f) {
      RegistrationSettings rsf = rs;
      if (!priors.empty()) {
        rsf.prior = &priors[i];
        rsf.prior_weight = o.model_prior_weight;
      }
      return register_rigid(targets.of(i), fine[f], res.center_lps, to_params(res.frames[f]), rsf);
    });
    if (round == Round::reference) {
      reference_round.clear();
      for (auto f : all) reference_round.push_back(res.frames[f]);
    }
    if (round == Round::model) rebase_series_on_reference(all, ref, res);
  }
}

}  // namespace petpipe::realign::detail
