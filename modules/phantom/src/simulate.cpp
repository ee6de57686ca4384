#include "petpipe/phantom/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/phantom/random.hpp"
#include "petpipe/smooth/gaussian.hpp"

namespace petpipe::phantom {

int class_subsamples(double voxel_mm) { return std::clamp(static_cast<int>(std::ceil(voxel_mm - 1e-6)), 1, 4); }
// Every 0.5 mm (the anatomy is at 1 mm), so that a sub-millimetre motion changes voxel values gradually.
int partial_volume_subsamples(double voxel_mm) {
  return std::clamp(static_cast<int>(std::ceil(2.0 * voxel_mm - 1e-6)), 2, 8);
}

void validate_options(const SimulationOptions& o, const FrameTable& frames) {
  if (!(o.voxel_mm > 0) || !std::isfinite(o.voxel_mm) || o.voxel_mm > 20)
    throw make_error("voxel size must be in (0, 20] mm (got ", o.voxel_mm, ")");
  if (o.make_t1 && (!(o.t1_voxel_mm > 0) || o.t1_voxel_mm > 20))
    throw make_error("T1 voxel size must be in (0, 20] mm (got ", o.t1_voxel_mm, ")");
  if (!(o.psf_fwhm_mm >= 0) || !std::isfinite(o.psf_fwhm_mm))
    throw make_error("PSF FWHM must be >= 0 mm (got ", o.psf_fwhm_mm, ")");
  if (!(o.noise >= 0) || !std::isfinite(o.noise)) throw make_error("noise level must be >= 0 (got ", o.noise, ")");
  if (o.motion && (!(o.motion_options.max_translation_mm >= 0) || !(o.motion_options.max_rotation_deg >= 0)))
    throw Error("motion bounds must be >= 0");
  frames.validate("frame schedule");
  if (!o.motion_table.empty()) {
    if (!o.motion) throw Error("a prescribed motion table needs motion enabled");
    if (o.motion_table.size() != frames.size())
      throw make_error("the prescribed motion has ", o.motion_table.size(), " frames but the frame schedule has ",
                       frames.size());
    for (std::size_t f = 0; f < o.motion_table.size(); ++f) {
      const auto& m = o.motion_table[f];
      for (double v : {m.tx, m.ty, m.tz})
        if (!std::isfinite(v) || std::abs(v) > 50)
          throw make_error("prescribed motion, frame ", f + 1, ": translations must be finite and within 50 mm (got ", v, ")");
      for (double v : {m.rx, m.ry, m.rz})
        if (!std::isfinite(v) || std::abs(v) > 30)
          throw make_error("prescribed motion, frame ", f + 1, ": rotations must be finite and within 30 degrees (got ", v, ")");
    }
  }
  if (frames.start_s.front() < 0) throw Error("frame schedule: frames must start at or after the injection (0 s)");
}

namespace {

template <typename T>
std::vector<T> lookup_table(const std::vector<RegionTruth>& regions, T RegionTruth::*field) {
  int max_label = 0;
  for (const auto& r : regions) max_label = std::max(max_label, r.label);
  std::vector<T> t(static_cast<std::size_t>(max_label) + 1, T{});
  for (const auto& r : regions) t[static_cast<std::size_t>(r.label)] = r.*field;
  return t;
}

Image3D map_of(const LabelImage& classes, const std::vector<double>& table) {
  Image3D out(classes.geom, 0.0f);
  for (std::size_t i = 0; i < classes.data.size(); ++i) {
    const auto c = static_cast<std::size_t>(std::max(0, classes.data[i]));
    out.data[i] = c < table.size() ? static_cast<float>(table[c]) : 0.0f;
  }
  return out;
}

Mask mask_of(const LabelImage& classes, const std::vector<int>& labels) {
  Mask m(classes.geom, 0);
  for (std::size_t i = 0; i < classes.data.size(); ++i)
    m.data[i] = std::find(labels.begin(), labels.end(), classes.data[i]) != labels.end() ? 1 : 0;
  return m;
}

Image3D synthetic_t1(const Anatomy& anatomy, const Deformation& d, const SimulationOptions& o, Rng& rng) {
  const Geometry grid = o.warp ? native_grid(o.t1_voxel_mm, d, anatomy.head_min_ras, anatomy.head_max_ras, 5.0)
                               : box_grid(o.t1_voxel_mm, anatomy.head_min_ras, anatomy.head_max_ras);
  const int sub = std::clamp(static_cast<int>(std::lround(o.t1_voxel_mm / anatomy.t1.geom.spacing[0])), 1, 3);
  Image3D t1 = sample_image(anatomy.t1, grid, d, sub);
  // Smooth multiplicative non-uniformity: a random linear gradient plus one broad cosine mode per axis,
  // scaled so its largest deviation over the head box is t1_inu_percent.
  const double g[3] = {rng.normal(), rng.normal(), rng.normal()};
  const double ph[3] = {rng.uniform(0, 2 * std::numbers::pi), rng.uniform(0, 2 * std::numbers::pi),
                        rng.uniform(0, 2 * std::numbers::pi)};
  Vec3 centre{}, half{};
  for (int a = 0; a < 3; ++a) {
    centre[a] = 0.5 * (anatomy.head_min_ras[a] + anatomy.head_max_ras[a]);
    half[a] = std::max(1.0, 0.5 * (anatomy.head_max_ras[a] - anatomy.head_min_ras[a]));
  }
  auto field = [&](const Vec3& ras) {
    double s = 0;
    for (int a = 0; a < 3; ++a) {
      const double u = (ras[a] - centre[a]) / half[a];  // ~[-1, 1]
      s += 0.5 * g[a] * u + 0.5 * std::cos(0.5 * std::numbers::pi * u + ph[a]);
    }
    return s / 3.0;  // |s| <= ~(|g| + 1)/2
  };
  const double gmax = std::max({std::abs(g[0]), std::abs(g[1]), std::abs(g[2])}) + 1.0;
  const double amp = o.t1_inu_percent / 100.0 / (0.5 * gmax);
  const double sd = o.t1_noise_percent / 100.0 * 110.0;
  for (std::size_t k = 0; k < grid.size[2]; ++k)
    for (std::size_t j = 0; j < grid.size[1]; ++j)
      for (std::size_t i = 0; i < grid.size[0]; ++i) {
        const std::size_t idx = grid.linear_index(i, j, k);
        const Vec3 ras = to_ras(grid.index_to_point({double(i), double(j), double(k)}));
        const double v = t1.data[idx] * (1.0 + amp * field(ras)) + sd * rng.normal();
        t1.data[idx] = static_cast<float>(std::max(0.0, v));
      }
  return t1;
}

// The deformation of a frame moved by m (frame point p = R (q - c) + c + t, LPS): native points of the
// frame are first taken back to the unmoved head, q = R^T (p - c - t) + c, then through d.
Deformation moved_deformation(const Deformation& d, const RigidMotion& m, const Vec3& c) {
  const Mat3 r = rotation_matrix(m);
  // In RAS (x_ras = D x_lps, D = diag(-1, -1, 1)): q = M p + v with M = D R^T D, v = D c - D R^T (c + t).
  const double dd[3] = {-1, -1, 1};
  const double ct[3] = {c[0] + m.tx, c[1] + m.ty, c[2] + m.tz};
  double mm[9], v[3];
  for (int i = 0; i < 3; ++i) {
    double rt_ct = 0;
    for (int j = 0; j < 3; ++j) {
      mm[3 * i + j] = dd[i] * r[3 * j + i] * dd[j];
      rt_ct += r[3 * j + i] * ct[j];
    }
    v[i] = dd[i] * c[i] - dd[i] * rt_ct;
  }
  Deformation out = d;
  const auto& a = d.affine;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j)
      out.affine[4 * i + j] = a[4 * i] * mm[j] + a[4 * i + 1] * mm[3 + j] + a[4 * i + 2] * mm[6 + j];
    out.affine[4 * i + 3] = a[4 * i] * v[0] + a[4 * i + 1] * v[1] + a[4 * i + 2] * v[2] + a[4 * i + 3];
  }
  return out;
}

}  // namespace

SubjectSimulation simulate_subject(const Anatomy& anatomy, const LabelImage& mni_classes,
                                   const TracerPreset& preset, const std::vector<int>& reference_labels,
                                   FrameTable frames, const SubjectParameters& params,
                                   const SimulationOptions& o) {
  validate_options(o, frames);
  frames.decay_corrected = o.decay_corrected;
  frames.units = "kBq/mL";
  SubjectSimulation s;

  // Anatomy: MNI classes, then native classes through the deformation.
  s.classes_mni = mni_classes;
  if (o.warp) {
    Rng rng(derive_seed(params.seed, 1));
    s.deformation = random_deformation(o.warp_options, anatomy, rng);
    const Geometry grid = native_grid(o.voxel_mm, s.deformation, anatomy.brain_min_ras, anatomy.brain_max_ras, 10.0);
    s.classes_native = sample_classes(anatomy.classes, grid, s.deformation, class_subsamples(o.voxel_mm));
  } else {
    s.classes_native = mni_classes;
  }
  const Geometry& grid = s.classes_native.geom;

  // Kinetics and exact regional TACs for every class present.
  s.reference = reference_curve(preset.reference_curve, params.dose_scale);
  s.reference_tac = frame_means(s.reference, frames);
  std::map<int, std::size_t> n_native, n_mni;
  for (auto c : s.classes_native.data)
    if (c) ++n_native[c];
  for (auto c : s.classes_mni.data)
    if (c) ++n_mni[c];
  for (const auto& [label, count] : n_mni) {
    const auto it = params.kinetics.find(label);
    if (it == params.kinetics.end()) throw make_error("simulate: no kinetic parameters for class ", label);
    RegionTruth r;
    r.label = label;
    const auto nm = anatomy.class_names.find(label);
    r.name = nm != anatomy.class_names.end() ? nm->second : "label_" + std::to_string(label);
    r.r1 = it->second.r1;
    r.bpnd = it->second.bpnd;
    r.k2 = r.r1 * preset.k2_reference_per_min;
    r.k2a = r.k2 / (1.0 + r.bpnd);
    r.voxels_mni = count;
    r.voxels_native = n_native.count(label) ? n_native[label] : 0;
    r.tac = frame_means(srtm_target(s.reference, r.r1, r.k2, r.bpnd), frames);
    s.regions.push_back(std::move(r));
  }
  for (const auto& [label, count] : n_native)
    if (!n_mni.count(label)) throw make_error("simulate: native class ", label, " missing in MNI space");

  const auto bp = lookup_table(s.regions, &RegionTruth::bpnd);
  const auto r1 = lookup_table(s.regions, &RegionTruth::r1);
  const auto k2 = lookup_table(s.regions, &RegionTruth::k2);
  s.bpnd_native = map_of(s.classes_native, bp);
  s.r1_native = map_of(s.classes_native, r1);
  s.k2_native = map_of(s.classes_native, k2);
  s.bpnd_mni = map_of(s.classes_mni, bp);
  s.r1_mni = map_of(s.classes_mni, r1);
  s.k2_mni = map_of(s.classes_mni, k2);
  s.reference_native = mask_of(s.classes_native, reference_labels);
  s.reference_mni = mask_of(s.classes_mni, reference_labels);

  if (o.warp) {
    for (auto& d : s.displacement) d = Image3D(grid, 0.0f);
    for (std::size_t k = 0; k < grid.size[2]; ++k)
      for (std::size_t j = 0; j < grid.size[1]; ++j)
        for (std::size_t i = 0; i < grid.size[0]; ++i) {
          const Vec3 x = to_ras(grid.index_to_point({double(i), double(j), double(k)}));
          const Vec3 y = s.deformation.map_ras(x);
          for (int a = 0; a < 3; ++a) s.displacement[a].at(i, j, k) = static_cast<float>(y[a] - x[a]);
        }
  }

  // Motion truth.
  const std::size_t nf = frames.size();
  s.motion.assign(nf, RigidMotion{});
  if (o.motion && !o.motion_table.empty()) {
    s.motion = o.motion_table;
  } else if (o.motion) {
    Rng rng(derive_seed(params.seed, 2));
    s.motion = random_motion(frames, o.motion_options, rng);
  }

  // Dynamic PET, frame by frame (frames in parallel; each frame has its own noise stream, so the
  // result does not depend on the thread count).
  s.pet.geom = grid;
  s.pet.frames = frames;
  const std::size_t nvox = grid.voxel_count();
  s.pet.data.assign(nvox * nf, 0.0f);
  std::vector<std::vector<double>> tac_by_class(bp.size());
  for (const auto& r : s.regions) tac_by_class[static_cast<std::size_t>(r.label)] = r.tac;
  const Vec3 centre = grid_centre(grid);
  parallel_for(nf, [&](std::size_t f0, std::size_t f1) {
    for (std::size_t f = f0; f < f1; ++f) {
      float* fr = s.pet.frame(f);
      // A moved frame images the moved head: its classes are sampled from the anatomy through the
      // rigid motion (as the unmoved classes are, so both have the same discretisation), then the PSF
      // is applied in scanner space. (Resampling the blurred frame instead would add an interpolation
      // blur to the moved frames only.)
      const RigidMotion& m = s.motion[f];
      const bool moved = m.tx != 0 || m.ty != 0 || m.tz != 0 || m.rx != 0 || m.ry != 0 || m.rz != 0;
      if (o.partial_volume) {
        // Each voxel averages the activity of its subsamples (partial volume), moved or not.
        std::vector<float> value(tac_by_class.size(), 0.0f);
        for (std::size_t c = 1; c < value.size(); ++c)
          if (!tac_by_class[c].empty()) value[c] = static_cast<float>(tac_by_class[c][f]);
        sample_class_means(anatomy.classes, grid, moved ? moved_deformation(s.deformation, m, centre) : s.deformation,
                           partial_volume_subsamples(o.voxel_mm), value, fr);
      } else {
        LabelImage moved_classes;
        if (moved)
          moved_classes = sample_classes(anatomy.classes, grid, moved_deformation(s.deformation, m, centre),
                                         class_subsamples(o.voxel_mm));
        const LabelImage& classes = moved ? moved_classes : s.classes_native;
        for (std::size_t i = 0; i < nvox; ++i) {
          const auto c = static_cast<std::size_t>(std::max(0, classes.data[i]));
          fr[i] = c && c < tac_by_class.size() && !tac_by_class[c].empty() ? static_cast<float>(tac_by_class[c][f]) : 0.0f;
        }
      }
      if (o.psf_fwhm_mm > 0) {
        smooth::Options so = smooth::Options::isotropic(o.psf_fwhm_mm);
        so.nan_aware = false;
        smooth::gaussian_inplace(fr, grid, so);
      }
      const double F = frames.decay_factor(f);
      const double D = frames.duration_s[f] / 60.0;
      Rng rng(derive_seed(params.seed, 100 + f));
      for (std::size_t i = 0; i < nvox; ++i) {
        double v = fr[i];
        if (o.noise > 0) v += o.noise * std::sqrt(std::max(0.0, v) / (D * F)) * rng.normal();
        if (!o.decay_corrected) v *= F;
        fr[i] = static_cast<float>(v);
      }
    }
  });

  if (o.make_t1) {
    Rng rng(derive_seed(params.seed, 3));
    s.t1 = synthetic_t1(anatomy, s.deformation, o, rng);
  }
  return s;
}

}  // namespace petpipe::phantom
