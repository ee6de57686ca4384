// Subject-level steps: coregistration, normalisation, the transform directory and reference regions.
#include "petpipe/normalize/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "grid.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/layout.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/parallel.hpp"

namespace petpipe::normalize {

namespace {

struct Box {
  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  double volume() const {
    double v = 1;
    for (int a = 0; a < 3; ++a) v *= std::max(0.0, hi[a] - lo[a]);
    return v;
  }
};

Box bounding_box(const Geometry& g) {
  Box b;
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{(c & 1) ? g.size[0] - 0.5 : -0.5, (c & 2) ? g.size[1] - 0.5 : -0.5,
                   (c & 4) ? g.size[2] - 0.5 : -0.5};
    const Vec3 p = g.index_to_point(idx);
    for (int a = 0; a < 3; ++a) {
      b.lo[a] = std::min(b.lo[a], p[a]);
      b.hi[a] = std::max(b.hi[a], p[a]);
    }
  }
  return b;
}

std::string box_text(const Box& b) {
  std::ostringstream os;
  os.precision(4);
  os << "[" << b.lo[0] << " " << b.lo[1] << " " << b.lo[2] << "; " << b.hi[0] << " " << b.hi[1] << " "
     << b.hi[2] << "]";
  return os.str();
}

void require_image(const Image3D& img, const std::string& name) {
  if (img.geom.voxel_count() == 0 || img.data.size() != img.geom.voxel_count())
    throw make_error(name, ": empty image or data size does not match its header");
  double maxv = 0;
  for (float v : img.data)
    if (std::isfinite(v)) maxv = std::max(maxv, double(v));
  if (!(maxv > 0)) throw make_error(name, ": image has no positive values");
}

}  // namespace

// ----------------------------------------------------------------------------------- PET -> T1
CoregisterResult coregister(const Image3D& pet, const Image3D& t1, const CoregisterOptions& o,
                            const std::string& pet_name, const std::string& t1_name) {
  require_image(pet, pet_name);
  require_image(t1, t1_name);
  const Box bp = bounding_box(pet.geom), bt = bounding_box(t1.geom);
  Box inter;
  for (int a = 0; a < 3; ++a) {
    inter.lo[a] = std::max(bp.lo[a], bt.lo[a]);
    inter.hi[a] = std::min(bp.hi[a], bt.hi[a]);
  }
  const double smaller = std::min(bp.volume(), bt.volume());
  if (inter.volume() < o.min_overlap_fraction * smaller)
    throw make_error(pet_name, " and ", t1_name, " do not overlap in physical space (PET field of view ",
                     box_text(bp), " mm, T1 ", box_text(bt),
                     " mm, LPS); their headers do not share a coordinate system");
  CoregisterResult r;
  if (o.check_orientation) {
    r.orientation = check_orientation(t1, pet);
    if (!r.orientation.consistent)
      throw make_error(t1_name, " and ", pet_name,
                       " follow different orientation conventions: the PET matches the T1 far better "
                       "after a ",
                       r.orientation.best_other, " (NMI ", r.orientation.best_other_nmi, " vs ",
                       r.orientation.identity_nmi, " as stored); fix the image header");
  }
  const LinearResult lr = with_context(pet_name + " -> " + t1_name, [&] {
    LinearOptions lo = o.linear;
    lo.kind = LinearKind::rigid;
    return register_linear(t1, pet, lo);
  });
  r.t1_to_pet = lr.fixed_to_moving;
  r.metric = lr.metric;
  const double rot = r.t1_to_pet.rotation_degrees();
  if (rot > o.max_rotation_degrees)
    throw make_error(pet_name, " -> ", t1_name, ": registration needed a ", rot,
                     " deg rotation; the images probably follow different orientation conventions");
  Image3D t1c = detail::smooth_and_resample(t1, regrid(t1.geom, 4.0), 2.0);
  r.nmi = normalized_mutual_information(t1c, pet, Transform({r.t1_to_pet}));
  log::info("normalize: ", pet_name, " -> ", t1_name, ": rigid, rotation ", rot, " deg, NMI ", r.nmi);
  return r;
}

// ---------------------------------------------------------------------------------- T1 -> MNI
Transform TemplateResult::template_to_t1() const {
  Transform t;
  if (!field.empty()) t.then(field);
  t.then(mni_to_t1);
  return t;
}

Transform TemplateResult::t1_to_template() const {
  Transform t;
  t.then(mni_to_t1.inverse());
  if (!inverse_field.empty()) t.then(inverse_field);
  return t;
}

namespace {
// Voxels of `brain` (> 0) resampled onto `g`, dilated by a cube of half-width margin_mm.
Mask brain_mask_on(const Image3D& brain, const Geometry& g, double margin_mm) {
  const Image3D b = resample_linear(brain, g, Transform::identity(), 0.0f);
  Mask m(g, 0);
  for (std::size_t v = 0; v < m.data.size(); ++v) m.data[v] = b.data[v] > 0;
  for (int a = 0; a < 3; ++a) {
    const long r = long(std::ceil(margin_mm / g.spacing[a] - 1e-9));
    if (r <= 0) continue;
    std::vector<std::uint8_t> src = m.data;
    const std::size_t st[3] = {1, g.size[0], g.size[0] * g.size[1]};
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const std::size_t v = g.linear_index(i, j, k);
          if (src[v]) continue;
          const long c = long(a == 0 ? i : a == 1 ? j : k);
          for (long s = std::max(0L, c - r); s <= std::min(long(g.size[a]) - 1, c + r); ++s)
            if (src[v + (s - c) * long(st[a])]) {
              m.data[v] = 1;
              break;
            }
        }
  }
  return m;
}
}  // namespace

TemplateResult to_template(const Image3D& t1, const Image3D& tpl, const TemplateOptions& o,
                           const std::string& t1_name, const Image3D* template_brain) {
  require_image(t1, t1_name);
  require_image(tpl, "template");
  TemplateResult r;
  if (o.check_orientation) {
    r.orientation = check_orientation(tpl, t1);
    if (!r.orientation.consistent)
      throw make_error(t1_name, ": follows a different orientation convention from the MNI template: "
                                "it matches far better after a ",
                       r.orientation.best_other, " (NMI ", r.orientation.best_other_nmi, " vs ",
                       r.orientation.identity_nmi, " as stored); fix the image header");
  }
  // rigid start, then affine
  LinearOptions rigid = o.affine;
  rigid.kind = LinearKind::rigid;
  const std::size_t nr = std::min<std::size_t>(2, rigid.spacing_mm.size());
  rigid.spacing_mm.resize(nr);
  rigid.smoothing_mm.resize(std::min(nr, rigid.smoothing_mm.size()));
  rigid.iterations.resize(std::min(nr, rigid.iterations.size()));
  const LinearResult rr = with_context(t1_name + " -> template (rigid)", [&] { return register_linear(tpl, t1, rigid); });
  LinearOptions aff = o.affine;
  aff.kind = LinearKind::affine;
  const LinearResult ar =
      with_context(t1_name + " -> template (affine)", [&] { return register_linear(tpl, t1, aff, &rr.fixed_to_moving); });
  r.mni_to_t1 = ar.fixed_to_moving;
  r.affine_metric = ar.metric;
  const double det = r.mni_to_t1.determinant();
  const double rot = r.mni_to_t1.rotation_degrees();
  if (!(det > 0.2 && det < 5.0) || rot > o.max_rotation_degrees)
    throw make_error(t1_name, " -> template: implausible affine (determinant ", det, ", rotation ", rot,
                     " deg); check the T1 orientation and field of view");
  log::info("normalize: ", t1_name, " -> template: affine, scale ", std::cbrt(det), ", rotation ", rot, " deg");
  if (!o.deformable) return r;

  const bool bspline = o.method == TemplateOptions::Deformable::bspline;
  const Geometry field_grid = regrid(tpl.geom, o.working_spacing_mm);
  // B-spline: images on the (finer) image grid, the field on the working grid; demons: both on the
  // working grid.
  // (no finer than the T1's own voxels: a finer template grid adds no detail the T1 could match)
  const double t1_voxel = *std::min_element(t1.geom.spacing.begin(), t1.geom.spacing.end());
  const double image_spacing =
      bspline ? std::min(std::max(o.bspline_image_spacing_mm, t1_voxel), o.working_spacing_mm) : o.working_spacing_mm;
  const Geometry wg = regrid(tpl.geom, image_spacing);
  const double aa = 0.4 * image_spacing;  // anti-alias sigma
  const Image3D f = detail::smooth_and_resample(tpl, wg, aa);
  Image3D t1s = t1;
  detail::gaussian_smooth(t1s.data, t1s.geom, 1, aa);
  Mask brain;
  const bool masked = template_brain && o.brain_margin_mm >= 0;
  if (masked) brain = brain_mask_on(*template_brain, wg, o.brain_margin_mm);
  const bool contrast = masked && o.local_contrast_sigma_mm > 0;
  const char* method = "demons";
  if (bspline && contrast) {
    // The T1 stays on its own grid, locally normalised there, and is sampled through the affine
    // inside the cost (one interpolation instead of two).
    method = "B-spline";
    const Image3D fd = local_normalize(f, o.local_contrast_sigma_mm);
    const Image3D md = local_normalize(t1s, o.local_contrast_sigma_mm);
    BSplineResult br = register_bspline(fd, md, o.bspline, &brain, &field_grid, &r.mni_to_t1);
    r.field = std::move(br.field);
    r.deformable_initial_rms = br.initial_rms;
    r.deformable_final_rms = br.final_rms;
  } else {
    Image3D m = resample_linear(t1s, wg, Transform({r.mni_to_t1}), 0.0f);
    Image3D fd = f;
    if (contrast) {
      fd = local_normalize(f, o.local_contrast_sigma_mm);
      m = local_normalize(m, o.local_contrast_sigma_mm);
    } else {
      m = match_histogram(m, f, 0.05, masked ? &brain : nullptr);
    }
    if (bspline) {
      method = "B-spline";
      BSplineResult br = register_bspline(fd, m, o.bspline, masked ? &brain : nullptr, &field_grid);
      r.field = std::move(br.field);
      r.deformable_initial_rms = br.initial_rms;
      r.deformable_final_rms = br.final_rms;
    } else {
      DemonsResult dr = register_demons(fd, m, o.demons, masked ? &brain : nullptr);
      r.field = std::move(dr.field);
      r.deformable_initial_rms = dr.initial_rms;
      r.deformable_final_rms = dr.final_rms;
    }
  }
  r.inverse_field = invert_field(r.field);
  log::info("normalize: ", t1_name, " -> template: ", method, ", RMS difference ", r.deformable_initial_rms, " -> ",
            r.deformable_final_rms);
  return r;
}

Transform SubjectTransforms::mni_to_pet() const {
  Transform t = normalization.template_to_t1();
  t.then(t1_to_pet);
  return t;
}

Transform SubjectTransforms::pet_to_mni() const {
  Transform t({t1_to_pet.inverse()});
  const Transform rest = normalization.t1_to_template();
  for (const auto& c : rest.components()) t.then(c);
  return t;
}

void write_transforms(const fs::path& dir, const SubjectTransforms& t) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw make_error(dir.string(), ": cannot create directory: ", ec.message());
  const layout::TransformFiles f = layout::transform_files(dir);
  auto name = [](const fs::path& p) { return p.filename().string(); };
  write_affine(f.pet_to_t1, t.t1_to_pet);
  write_affine(f.t1_to_mni_affine, t.normalization.mni_to_t1);
  const bool warp = !t.normalization.field.empty();
  if (warp) {
    write_field(f.t1_to_mni_warp, t.normalization.field);
    write_field(f.t1_to_mni_inverse_warp, t.normalization.inverse_field);
  }
  nlohmann::json j;
  j["convention"] =
      "ITK: every file maps points of its fixed space to points of its moving space (LPS mm); images are "
      "resampled by pulling values back through these maps";
  j["pet_to_t1_rigid"] = {{"file", name(f.pet_to_t1)}, {"maps", "T1 points -> PET points"}};
  j["t1_to_mni_affine"] = {{"file", name(f.t1_to_mni_affine)}, {"maps", "MNI points -> T1 points"}};
  if (warp) {
    j["t1_to_mni_warp"] = {{"file", name(f.t1_to_mni_warp)},
                           {"maps", "MNI point x -> x + u(x), then t1_to_mni_affine"}};
    j["t1_to_mni_inverse_warp"] = {{"file", name(f.t1_to_mni_inverse_warp)},
                                   {"maps", "inverse of t1_to_mni_warp (applied after the inverse affine)"}};
  }
  j["mni_to_pet_chain"] = warp ? std::vector<std::string>{"t1_to_mni_warp", "t1_to_mni_affine", "pet_to_t1_rigid"}
                               : std::vector<std::string>{"t1_to_mni_affine", "pet_to_t1_rigid"};
  j["affine_metric"] = t.normalization.affine_metric;
  j["deformable_rms"] = {t.normalization.deformable_initial_rms, t.normalization.deformable_final_rms};
  write_json(f.json, j);
}

SubjectTransforms read_transforms(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw make_error(dir.string(), ": transform directory not found");
  SubjectTransforms t;
  const layout::TransformFiles f = layout::transform_files(dir);
  t.t1_to_pet = read_affine(f.pet_to_t1);
  t.normalization.mni_to_t1 = read_affine(f.t1_to_mni_affine);
  const fs::path& w = f.t1_to_mni_warp;
  const fs::path& iw = f.t1_to_mni_inverse_warp;
  if (fs::exists(w, ec) != fs::exists(iw, ec))
    throw make_error(dir.string(), ": has only one of ", w.filename().string(), " and ", iw.filename().string());
  if (fs::exists(w, ec)) {
    t.normalization.field = read_field(w);
    t.normalization.inverse_field = read_field(iw);
  }
  return t;
}

// -------------------------------------------------------------------------- reference regions
ReferenceOptions reference_options_for(const std::string& name, bool trim) {
  ReferenceOptions o;
  if (!trim) {
    o.drop_top_fraction = 0.0;
    o.drop_bottom_fraction = 0.0;
    o.exclude_margin_mm = 0.0;
    o.erode_voxels = 0;
    o.mode_window = 0.0;
    return o;
  }
  if (name == "cerebellum_gm") {
    o.exclude_margin_mm = 6.0;  // away from the vermis
  }
  return o;
}

namespace {

Mask trim_in_template(const Mask& region, const Mask& exclude, const ReferenceOptions& o) {
  const Geometry& g = region.geom;
  const detail::PointMap to_point(g);
  double zlo = 1e300, zhi = -1e300;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        if (region.data[g.linear_index(i, j, k)]) {
          const double z = to_point(double(i), double(j), double(k))[2];
          zlo = std::min(zlo, z);
          zhi = std::max(zhi, z);
        }
  Mask out = region;
  const double lo = zlo + o.drop_bottom_fraction * (zhi - zlo);
  const double hi = zhi - o.drop_top_fraction * (zhi - zlo);
  const bool use_exclude = o.exclude_margin_mm > 0 && !exclude.data.empty();
  if (use_exclude && !exclude.geom.same_grid(g))
    throw Error("reference region: the exclusion mask must be on the atlas grid");
  // voxels within exclude_margin_mm of the exclusion mask (ball dilation around its voxels)
  std::vector<std::uint8_t> near(use_exclude ? g.voxel_count() : 0, 0);
  if (use_exclude) {
    const int ri = int(std::ceil(o.exclude_margin_mm / g.spacing[0]));
    const int rj = int(std::ceil(o.exclude_margin_mm / g.spacing[1]));
    const int rk = int(std::ceil(o.exclude_margin_mm / g.spacing[2]));
    const double r2 = o.exclude_margin_mm * o.exclude_margin_mm;
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          if (!exclude.data[g.linear_index(i, j, k)]) continue;
          for (int c = -rk; c <= rk; ++c)
            for (int b = -rj; b <= rj; ++b)
              for (int a = -ri; a <= ri; ++a) {
                const long x = long(i) + a, y = long(j) + b, z = long(k) + c;
                if (x < 0 || y < 0 || z < 0 || x >= long(g.size[0]) || y >= long(g.size[1]) || z >= long(g.size[2]))
                  continue;
                const double d2 = a * a * g.spacing[0] * g.spacing[0] + b * b * g.spacing[1] * g.spacing[1] +
                                  c * c * g.spacing[2] * g.spacing[2];
                if (d2 <= r2) near[g.linear_index(x, y, z)] = 1;
              }
        }
  }
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const std::size_t v = g.linear_index(i, j, k);
        if (!out.data[v]) continue;
        const double z = to_point(double(i), double(j), double(k))[2];
        if (z < lo || z > hi || (use_exclude && near[v])) out.data[v] = 0;
      }
  return out;
}

std::size_t count(const Mask& m) {
  std::size_t n = 0;
  for (auto v : m.data) n += v != 0;
  return n;
}

}  // namespace

ReferenceResult place_reference_region(const Mask& region, const Mask& exclude, const Image3D& pet_mean,
                                       const Transform& pet_to_template, const ReferenceOptions& o) {
  ReferenceResult r;
  r.template_voxels = count(region);
  if (r.template_voxels == 0) throw Error("reference region: the atlas region is empty");
  Mask trimmed = trim_in_template(region, exclude, o);
  r.trimmed_template_voxels = count(trimmed);
  if (r.trimmed_template_voxels == 0) {
    log::warn("reference region: trimming removed every voxel; using the untrimmed region");
    trimmed = region;
    r.trimmed_template_voxels = r.template_voxels;
  }
  const Geometry& g = pet_mean.geom;
  const Image3D occ = resample_occupancy(trimmed, g, pet_to_template, o.occupancy_subsamples);
  Mask cand(g, 0);
  for (std::size_t v = 0; v < cand.data.size(); ++v) cand.data[v] = occ.data[v] >= o.min_occupancy;
  if (count(cand) == 0) throw Error("reference region: no PET voxel lies in the region (check the transforms)");
  if (o.erode_voxels > 0) {
    Mask eroded(g, 0);
    const int e = o.erode_voxels;
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const std::size_t v = g.linear_index(i, j, k);
          if (!cand.data[v]) continue;
          bool keep = true;
          for (int a = 0; a < 3 && keep; ++a)
            for (int s = -e; s <= e && keep; ++s) {
              long idx[3] = {long(i), long(j), long(k)};
              idx[a] += s;
              if (idx[a] < 0 || idx[a] >= long(g.size[a])) {
                keep = false;
                break;
              }
              if (occ.data[g.linear_index(idx[0], idx[1], idx[2])] < 0.1f) keep = false;
            }
          eroded.data[v] = keep;
        }
    if (count(eroded) >= o.min_voxels) cand = eroded;
    else log::warn("reference region: erosion would leave ", count(eroded), " voxels; not eroded");
  }
  r.candidate_voxels = count(cand);
  r.mask = cand;
  if (o.mode_window > 0 && r.candidate_voxels >= o.min_voxels) {
    std::vector<double> vals;
    for (std::size_t v = 0; v < cand.data.size(); ++v)
      if (cand.data[v] && std::isfinite(pet_mean.data[v])) vals.push_back(pet_mean.data[v]);
    std::vector<double> s = vals;
    std::sort(s.begin(), s.end());
    const double lo = s[s.size() / 100], hi = s[s.size() - 1 - s.size() / 100];
    const int bins = 128;
    const double width = (hi > lo) ? (hi - lo) / bins : 1.0;
    std::vector<double> h(bins, 0.0);
    for (double x : vals) {
      if (x < lo || x > hi) continue;
      h[std::clamp(int((x - lo) / width), 0, bins - 1)] += 1;
    }
    // Gaussian kernel density with Silverman's bandwidth
    const double q1 = s[s.size() / 4], q3 = s[3 * s.size() / 4];
    double mean = 0, var = 0;
    for (double x : vals) mean += x;
    mean /= double(vals.size());
    for (double x : vals) var += (x - mean) * (x - mean);
    const double sd = std::sqrt(var / double(vals.size()));
    const double bw = 0.9 * std::min(sd, (q3 - q1) / 1.34) * std::pow(double(vals.size()), -0.2);
    const double bwb = std::max(1.0, bw / width);
    int best = 0;
    double bestv = -1;
    for (int b = 0; b < bins; ++b) {
      double d = 0;
      for (int c = 0; c < bins; ++c) d += h[c] * std::exp(-0.5 * (b - c) * (b - c) / (bwb * bwb));
      if (d > bestv) {
        bestv = d;
        best = b;
      }
    }
    r.mode = lo + (best + 0.5) * width;
    std::vector<double> dev;
    for (double x : vals) dev.push_back(std::abs(x - r.mode));
    std::nth_element(dev.begin(), dev.begin() + dev.size() / 2, dev.end());
    r.robust_sd = 1.4826 * dev[dev.size() / 2];
    Mask kept(g, 0);
    for (std::size_t v = 0; v < cand.data.size(); ++v)
      kept.data[v] = cand.data[v] && std::abs(pet_mean.data[v] - r.mode) <= o.mode_window * r.robust_sd;
    if (count(kept) >= o.min_voxels) r.mask = kept;
    else log::warn("reference region: mode trimming would leave ", count(kept), " voxels; not applied");
  }
  r.final_voxels = count(r.mask);
  return r;
}

std::vector<double> region_tac(const DynamicImage& pet, const Mask& mask) {
  if (!mask.geom.same_grid(pet.geom)) throw Error("region TAC: the mask is not on the PET grid");
  const std::size_t n = pet.voxels_per_frame();
  std::vector<double> tac(pet.frame_count(), 0.0);
  std::size_t c = 0;
  for (std::size_t v = 0; v < n; ++v) c += mask.data[v] != 0;
  if (c == 0) throw Error("region TAC: empty mask");
  for (std::size_t f = 0; f < pet.frame_count(); ++f) {
    const float* p = pet.frame(f);
    double s = 0;
    for (std::size_t v = 0; v < n; ++v)
      if (mask.data[v]) s += p[v];
    tac[f] = s / double(c);
  }
  return tac;
}

}  // namespace petpipe::normalize
