// Realignment driver: estimate_motion as a sequence of named steps (frame selection, reference frame,
// estimation images, first pass, second pass, frames not estimated, framewise displacement), and the
// reslicing and mean image of the realigned series. The steps live in frame_selection.cpp,
// estimation_images.cpp and passes.cpp; the registration of one frame behind backend.hpp.
#include "petpipe/realign/realign.hpp"

#include <algorithm>
#include <cmath>

#include "backend.hpp"
#include "estimation_images.hpp"
#include "frame_selection.hpp"
#include "passes.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/progress.hpp"
#include "pose.hpp"

namespace petpipe::realign {

namespace {

void validate_options(const DynamicImage& pet, const Options& o) {
  const std::size_t n = pet.frame_count();
  if (n == 0 || pet.data.size() != n * pet.voxels_per_frame() || pet.voxels_per_frame() == 0)
    throw make_error("realign: the dynamic image has no frames or its data do not match its ", n, " frames");
  if (!(o.fwhm_mm >= 0) || !std::isfinite(o.fwhm_mm))
    throw make_error("realign: FWHM must be >= 0 mm (got ", o.fwhm_mm, ")");
  if (!(o.sampling_fraction > 0 && o.sampling_fraction <= 1))
    throw make_error("realign: sampling fraction must be in (0, 1] (got ", o.sampling_fraction, ")");
  if (!(o.estimation_voxel_mm > 0)) throw make_error("realign: estimation voxel size must be > 0 mm");
  if (!(o.empty_fraction >= 0 && o.empty_fraction < 1))
    throw make_error("realign: empty fraction must be in [0, 1) (got ", o.empty_fraction, ")");
  if (o.max_samples < 100) throw make_error("realign: max_samples must be >= 100 (got ", o.max_samples, ")");
  if (o.refine_passes < 1 || o.refine_passes > 12)
    throw make_error("realign: refine passes must be 1..12 (got ", o.refine_passes, ")");
  if (o.refine_components < 1 || o.refine_components > 8)
    throw make_error("realign: model components must be 1..8 (got ", o.refine_components, ")");
  if (o.metric == Metric::lncc)
    throw make_error("realign: local normalized correlation is only for the reference round of the second pass "
                     "(reference metric), not the first pass");
  if (o.metric == Metric::least_squares || o.reference_metric == Metric::least_squares)
    throw make_error("realign: least squares is only for the model rounds of the second pass (model metric): the "
                     "other rounds compare frames with different tracer distributions");
  if (o.window_samples < 1000)
    throw make_error("realign: local correlation window points must be >= 1000 (got ", o.window_samples, ")");
  if (!(o.model_prior_weight >= 0) || !std::isfinite(o.model_prior_weight))
    throw make_error("realign: model-round prior weight must be >= 0 (got ", o.model_prior_weight, ")");
  if (!(o.window_radius_mm > 0) || !std::isfinite(o.window_radius_mm))
    throw make_error("realign: local correlation window must be > 0 mm (got ", o.window_radius_mm, ")");
  if (o.model_metric == Metric::lncc || o.model_metric == Metric::local_lsq || o.model_metric == Metric::window_ncc)
    throw make_error("realign: local metrics are not available for the model rounds");
  if (o.metric == Metric::local_lsq || o.metric == Metric::window_ncc)
    throw make_error("realign: local least squares and local correlation are only for the reference round of the "
                     "second pass (reference metric)");
  if (o.lsq_max_samples < 100)
    throw make_error("realign: least-squares points must be >= 100 (got ", o.lsq_max_samples, ")");
  if (!(o.local_cell_mm > 0) || !(o.local_cell_mm <= 200))
    throw make_error("realign: local least-squares cell must be in (0, 200] mm (got ", o.local_cell_mm, ")");
  if (!(o.lncc_radius_mm > 0) || !std::isfinite(o.lncc_radius_mm))
    throw make_error("realign: local correlation window must be > 0 mm (got ", o.lncc_radius_mm, ")");
  if (!(o.lncc_min_step_mm >= 0)) throw make_error("realign: local correlation minimum step must be >= 0 mm");
  if (o.lncc_max_samples < 100)
    throw make_error("realign: local correlation points must be >= 100 (got ", o.lncc_max_samples, ")");
  if (o.levels < 1 || o.levels > 4) throw make_error("realign: levels must be 1..4 (got ", o.levels, ")");
  if (o.max_iterations < 1) throw make_error("realign: iterations must be >= 1");
  if (o.reference_frame >= 0 && static_cast<std::size_t>(o.reference_frame) >= n)
    throw make_error("realign: reference frame ", o.reference_frame + 1, " is out of range (the image has ", n,
                     " frames)");
  if (o.reference_frame < -1) throw make_error("realign: reference frame must be >= 1");
  for (auto f : o.exclude_frames)
    if (f >= n)
      throw make_error("realign: excluded frame ", f + 1, " is out of range (the image has ", n, " frames)");
  for (int a = 0; a < 3; ++a)
    if (pet.geom.size[a] < 4)
      throw make_error("realign: the image is too small to register (", pet.geom.size[0], " x ", pet.geom.size[1],
                       " x ", pet.geom.size[2], " voxels; need at least 4 per axis)");
}

// The estimated frames other than the reference (with a warning when there are none).
std::vector<std::size_t> frames_to_register(const std::vector<bool>& estimable, std::size_t ref, MotionResult& res) {
  std::vector<std::size_t> frames;
  for (std::size_t f = 0; f < estimable.size(); ++f)
    if (estimable[f] && f != ref) frames.push_back(f);
  if (frames.empty())
    detail::add_warning(res, petpipe::detail::concat("realign: only the reference frame ", ref + 1,
                                                     " can be estimated; every other frame keeps the identity transform"));
  log::info("realign: ", estimable.size(), " frames, reference frame ", ref + 1, ", ", frames.size() + 1,
            " frames estimated");
  return frames;
}

// Whether the second pass can use the model target: it needs more frames than components (and one to
// leave out); otherwise it uses the mean image, with a warning.
bool model_target_usable(const Options& o, std::size_t estimated, bool second_pass, MotionResult& res) {
  const bool usable = o.refine_target == RefineTarget::model &&
                      estimated > static_cast<std::size_t>(o.refine_components) + 1;
  if (second_pass && o.refine_target == RefineTarget::model && !usable)
    detail::add_warning(res, petpipe::detail::concat("realign: ", estimated, " estimated frames are too few for a ",
                                                     o.refine_components,
                                                     "-component model target; the second pass uses the mean image"));
  return usable;
}

}  // namespace

std::vector<bool> near_empty_frames(const DynamicImage& pet, double empty_fraction) {
  const std::size_t n = pet.frame_count();
  std::vector<double> means(n);
  for (std::size_t f = 0; f < n; ++f) means[f] = detail::frame_mean(pet.frame(f), pet.voxels_per_frame(), nullptr);
  const double mx = *std::max_element(means.begin(), means.end());
  std::vector<bool> empty(n);
  for (std::size_t f = 0; f < n; ++f) empty[f] = !(mx > 0) || !(means[f] > empty_fraction * mx);
  return empty;
}

MotionResult estimate_motion(const DynamicImage& pet, const Options& o) {
  validate_options(pet, o);
  const detail::ItkSingleThreadScope reproducible;  // parallel over frames instead (see backend.hpp)
  MotionResult res;
  res.center_lps = detail::grid_center(pet.geom);
  res.frames.assign(pet.frame_count(), FrameMotion{});
  const std::vector<double> means = detail::frame_means(pet, res);
  if (pet.frame_count() == 1) {
    detail::add_warning(res, "realign: the image has a single frame; there is nothing to realign (identity transform)");
    res.frames[0].status = "single-frame";
    res.reference_frame = 0;
    return res;
  }

  const std::vector<bool> estimable = detail::select_frames(pet, o, means, res);
  const std::size_t ref = detail::choose_reference(pet, o, means, estimable, res);
  const std::vector<std::size_t> frames = frames_to_register(estimable, ref, res);
  std::vector<std::size_t> estimated = frames;
  estimated.push_back(ref);

  const bool second_pass = o.two_pass && !frames.empty();
  const bool use_model = model_target_usable(o, estimated.size(), second_pass, res);
  {
    detail::EstimationImages images = detail::build_estimation_images(pet, o, estimated, second_pass);
    const auto& g = images.smoothed[ref].geom;
    log::debug("realign: estimation grid ", g.size[0], " x ", g.size[1], " x ", g.size[2], " voxels of ", g.spacing[0],
               " x ", g.spacing[1], " x ", g.spacing[2], " mm");
    // With the model target the second pass starts with a full-resolution round to the reference frame,
    // which makes the first pass's finest level redundant.
    detail::first_pass(images.smoothed, o, second_pass && use_model && o.first_pass_skip_finest, frames, ref, res);
    for (auto f : frames) res.frames[f].status = "estimated";
    if (second_pass) detail::second_pass(images, pet, o, use_model, frames, ref, res);
  }

  detail::fill_excluded_frames(pet, o, estimable, estimated, res);
  compute_framewise_displacement(res.frames);
  return res;
}

void reslice_frames(DynamicImage& pet, const MotionResult& motion, Interpolation interpolation) {
  const std::size_t n = pet.frame_count();
  if (motion.frames.size() != n)
    throw make_error("realign: motion table has ", motion.frames.size(), " frames but the image has ", n);
  const std::size_t nvox = pet.voxels_per_frame();
  std::vector<float> input(nvox);
  Progress progress("realign: reslicing", n);
  for (std::size_t f = 0; f < n; ++f) {
    float* frame = pet.frame(f);
    const auto& m = motion.frames[f];
    for (std::size_t i = 0; i < nvox; ++i)
      if (std::isnan(frame[i])) frame[i] = 0.0f;
    const bool identity = m.tx_mm == 0 && m.ty_mm == 0 && m.tz_mm == 0 && m.rx_deg == 0 && m.ry_deg == 0 &&
                          m.rz_deg == 0;
    if (!identity) {
      std::copy_n(frame, nvox, input.data());
      if (interpolation == Interpolation::bspline) {
        // The copy becomes the spline coefficients: one extra frame of memory, as for linear.
        detail::bspline_coefficients(input.data(), pet.geom);
        detail::reslice_bspline(input.data(), frame, pet.geom, detail::to_params(m), motion.center_lps);
      } else {
        detail::reslice_volume(input.data(), frame, pet.geom, detail::to_params(m), motion.center_lps, interpolation,
                               thread_count());
      }
    }
    progress.advance();
  }
}

Image3D mean_image(const DynamicImage& pet) {
  Image3D out(pet.geom, 0.0f);
  const std::size_t nvox = pet.voxels_per_frame();
  std::vector<double> acc(nvox, 0.0);
  double wsum = 0;
  for (std::size_t f = 0; f < pet.frame_count(); ++f) {
    const double w = pet.frames.duration_s[f];
    const float* p = pet.frame(f);
    for (std::size_t i = 0; i < nvox; ++i)
      if (!std::isnan(p[i])) acc[i] += w * p[i];
    wsum += w;
  }
  for (std::size_t i = 0; i < nvox; ++i) out.data[i] = static_cast<float>(acc[i] / wsum);
  return out;
}

}  // namespace petpipe::realign
