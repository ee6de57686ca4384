#include "petpipe/kinetics/reference.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/error.hpp"

namespace petpipe::kinetics {

namespace {
std::string grid_text(const Geometry& g) {
  return detail::concat(g.size[0], "x", g.size[1], "x", g.size[2], " voxels of ", g.spacing[0], "x",
                        g.spacing[1], "x", g.spacing[2], " mm");
}
}  // namespace

RegionTac region_tac(const DynamicImage& pet, const Mask& mask) {
  if (!mask.geom.same_grid(pet.geom))
    throw make_error("mask grid (", grid_text(mask.geom), ") differs from the PET grid (",
                     grid_text(pet.geom), ")");
  const std::size_t nvox = pet.voxels_per_frame(), nf = pet.frame_count();
  RegionTac r;
  r.values.assign(nf, 0.0);
  std::size_t in_mask = 0;
  for (std::size_t v = 0; v < nvox; ++v) {
    if (!mask.data[v]) continue;
    ++in_mask;
    bool finite = true;
    for (std::size_t f = 0; f < nf && finite; ++f) finite = std::isfinite(pet.frame(f)[v]);
    if (!finite) {
      ++r.skipped_nonfinite;
      continue;
    }
    for (std::size_t f = 0; f < nf; ++f) r.values[f] += pet.frame(f)[v];
    ++r.voxels;
  }
  if (in_mask == 0) throw Error("mask is empty (no non-zero voxel)");
  if (r.voxels == 0)
    throw make_error("all ", in_mask, " mask voxels have a NaN or infinite value in some frame");
  for (auto& x : r.values) x /= static_cast<double>(r.voxels);
  return r;
}

void check_reference_tac(const std::vector<double>& tac, const FrameTimes& frames, double late_fraction) {
  if (tac.size() != frames.size())
    throw make_error("reference TAC has ", tac.size(), " frames but the PET has ", frames.size());
  const double t_late = late_fraction * frames.end.back();
  std::size_t late = 0;
  for (std::size_t f = 0; f < tac.size(); ++f) {
    if (!std::isfinite(tac[f])) throw make_error("reference TAC is not finite in frame ", f + 1);
    if (frames.start[f] >= t_late || f + 1 == tac.size()) {
      ++late;
      if (!(tac[f] > 0.0))
        throw make_error("reference TAC is not positive in late frame ", f + 1, " (value ", tac[f],
                         "); is the reference mask inside the brain?");
    }
  }
}

Mask brain_mask(const DynamicImage& pet, const BrainMaskOptions& options) {
  if (!(options.threshold_fraction > 0.0 && options.threshold_fraction < 1.0))
    throw Error("brain mask threshold fraction must be in (0, 1)");
  const std::size_t nvox = pet.voxels_per_frame(), nf = pet.frame_count();
  double total = 0.0;
  for (std::size_t f = 0; f < nf; ++f) total += pet.frames.duration_s[f];
  std::vector<float> mean(nvox, 0.0f);
  std::vector<std::uint8_t> finite(nvox, 1);
  for (std::size_t f = 0; f < nf; ++f) {
    const float* fr = pet.frame(f);
    const float w = static_cast<float>(pet.frames.duration_s[f] / total);
    for (std::size_t v = 0; v < nvox; ++v) {
      if (!std::isfinite(fr[v])) finite[v] = 0;
      else mean[v] += w * fr[v];
    }
  }
  std::vector<float> positive;
  for (std::size_t v = 0; v < nvox; ++v)
    if (finite[v] && mean[v] > 0) positive.push_back(mean[v]);
  Mask m(pet.geom, 0);
  if (positive.empty()) return m;
  const std::size_t q = std::min(positive.size() - 1,
                                 static_cast<std::size_t>(options.robust_percentile * (positive.size() - 1)));
  std::nth_element(positive.begin(), positive.begin() + q, positive.end());
  const double thr = options.threshold_fraction * positive[q];
  for (std::size_t v = 0; v < nvox; ++v) m.data[v] = (finite[v] && mean[v] >= thr && mean[v] > 0) ? 1 : 0;
  return m;
}

WeightScheme parse_weight_scheme(const std::string& name) {
  if (name == "uniform") return WeightScheme::uniform;
  if (name == "duration") return WeightScheme::duration;
  if (name == "counts") return WeightScheme::counts;
  throw make_error("unknown weight scheme \"", name, "\" (uniform, duration or counts)");
}

std::string to_string(WeightScheme scheme) {
  switch (scheme) {
    case WeightScheme::uniform: return "uniform";
    case WeightScheme::duration: return "duration";
    case WeightScheme::counts: return "counts";
  }
  return "?";
}

std::vector<double> frame_weights(WeightScheme scheme, const FrameTable& frames, const std::vector<double>& tac) {
  const std::size_t nf = frames.size();
  std::vector<double> w(nf, 1.0);
  if (scheme == WeightScheme::duration) {
    for (std::size_t f = 0; f < nf; ++f) w[f] = frames.duration_s[f];
  } else if (scheme == WeightScheme::counts) {
    if (tac.size() != nf) throw make_error("counts weights need a TAC of ", nf, " frames, got ", tac.size());
    std::vector<double> cu(nf), df(nf, 1.0);
    double cmax = 0.0;
    for (std::size_t f = 0; f < nf; ++f) {
      if (frames.decay_corrected) df[f] = frames.decay_factor(f);
      cu[f] = tac[f] * df[f];
      if (std::isfinite(cu[f])) cmax = std::max(cmax, cu[f]);
    }
    if (!(cmax > 0.0)) throw Error("counts weights: the TAC is not positive in any frame");
    for (std::size_t f = 0; f < nf; ++f) {
      const double c = std::isfinite(cu[f]) ? std::max(cu[f], 0.01 * cmax) : cmax;
      w[f] = frames.duration_s[f] * df[f] * df[f] / c;
    }
  }
  double mean = 0.0;
  for (double x : w) mean += x;
  mean /= static_cast<double>(nf);
  for (double& x : w) x /= mean;
  return w;
}

}  // namespace petpipe::kinetics
