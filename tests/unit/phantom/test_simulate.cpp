// In-process simulation at 4 mm: truth maps, regional values, PSF-free voxel values, decay, noise,
// motion and deformation geometry.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/phantom/cohort.hpp"
#include "petpipe/phantom/dataset.hpp"
#include "petpipe/phantom/simulate.hpp"
#include "petpipe/roi/atlas.hpp"

namespace fs = std::filesystem;
using namespace petpipe;
using namespace petpipe::phantom;

namespace {

struct Fixture {
  roi::Atlas atlas = roi::load_atlas("aal");
  LabelImage aal = read_labels(atlas.labels_image);
  Anatomy anatomy = build_anatomy(aal, atlas.label_names, read_image(atlas.templates.at("T1_brain")), Image3D{});
  Geometry grid = mni_grid(4.0, aal.geom);
  LabelImage classes = sample_classes(anatomy.classes, grid, Deformation{}, class_subsamples(4.0));
};
const Fixture& fixture() {
  static const auto f = std::make_unique<Fixture>();
  return *f;
}

// The first subject of a default carfentanil cohort with the preset's frame schedule.
struct CarfentanilSubject {
  const TracerPreset& preset = tracer_preset("carfentanil");
  std::vector<int> ref;
  SubjectParameters params;
  FrameTable frames;
  explicit CarfentanilSubject(const Fixture& fx) : ref(reference_labels(preset, fx.atlas)) {
    CohortSpec cohort;
    const auto participants = draw_participants(cohort);
    params = subject_parameters(cohort, participants[0], preset, fx.atlas, fx.anatomy.class_names, ref);
    frames = make_frame_table(preset, preset.frame_durations_s);
  }
};

SimulationOptions quiet_options() {
  SimulationOptions o;
  o.voxel_mm = 4.0;
  o.psf_fwhm_mm = 0.0;
  o.make_t1 = false;
  return o;
}

}  // namespace

TEST(PhantomAnatomy, MniGridAndClasses) {
  const auto& fx = fixture();
  // AAL spans RAS x -90..90, y -125..91, z -71..109; voxel centres at multiples of 2 mm covering it.
  EXPECT_EQ(mni_grid(2.0, fx.aal.geom).size, (std::array<std::size_t, 3>{91, 110, 92}));
  EXPECT_EQ(fx.grid.orientation_code(), "RAS");
  // Voxel centre at MNI (0,0,0) exists on the grid.
  const Vec3 idx = fx.grid.point_to_index({0, 0, 0});
  for (double v : idx) EXPECT_NEAR(v, std::round(v), 1e-9);
  std::map<int, int> count;
  for (auto c : fx.classes.data) ++count[c];
  EXPECT_GT(count[kWhiteMatter], 1000);
  EXPECT_GT(count[kCsf], 50);
  for (int l : {37, 38, 41, 42, 77, 78}) EXPECT_GT(count[l], 5) << "label " << l;  // hippocampus, amygdala, thalamus
}

TEST(PhantomSimulate, TruthMapsAndVoxelValuesEqualThePreset) {
  const auto& fx = fixture();
  const CarfentanilSubject cs(fx);
  const auto& preset = cs.preset;
  const auto& ref = cs.ref;
  const auto& params = cs.params;
  const FrameTable& frames = cs.frames;
  const auto sim = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, quiet_options());

  // Regional mean BPND of the truth map equals the preset, region by region.
  const std::map<std::string, double> expected{{"Thalamus", 2.8}, {"Amygdala", 2.7}, {"Caudate", 2.2},
                                               {"Putamen", 2.3},  {"Insula", 2.0},   {"Cingulum_Ant", 1.8},
                                               {"Cingulum_Post", 1.5}, {"Frontal_Sup", 1.3},
                                               {"Hippocampus", 1.1}, {"Calcarine", 0.0}};
  for (const auto& [name, bp] : expected) {
    const auto labels = resolve_region(name, fx.atlas, fx.anatomy.class_names);
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < sim.classes_mni.data.size(); ++i)
      if (std::find(labels.begin(), labels.end(), sim.classes_mni.data[i]) != labels.end()) {
        sum += sim.bpnd_mni.data[i];
        ++n;
      }
    ASSERT_GT(n, 0u) << name;
    EXPECT_NEAR(sum / n, bp, 1e-6) << name;
  }
  // White matter / CSF.
  double wm = 0, csf_r1 = 0;
  std::size_t nwm = 0, ncsf = 0;
  for (std::size_t i = 0; i < sim.classes_mni.data.size(); ++i) {
    if (sim.classes_mni.data[i] == kWhiteMatter) wm += sim.bpnd_mni.data[i], ++nwm;
    if (sim.classes_mni.data[i] == kCsf) csf_r1 += sim.r1_mni.data[i], ++ncsf;
  }
  EXPECT_NEAR(wm / nwm, 0.3, 1e-6);
  EXPECT_NEAR(csf_r1 / ncsf, 0.05, 1e-6);
  // k2 = R1 k2'.
  for (std::size_t i = 0; i < sim.r1_mni.data.size(); i += 97)
    EXPECT_NEAR(sim.k2_mni.data[i], sim.r1_mni.data[i] * 0.15, 1e-6);
  // Reference mask = occipital labels; reference voxels carry the reference TAC.
  std::size_t nref = 0;
  for (std::size_t i = 0; i < sim.reference_mni.data.size(); ++i)
    if (sim.reference_mni.data[i]) {
      ++nref;
      for (std::size_t f = 0; f < frames.size(); f += 5)
        EXPECT_NEAR(sim.pet.frame(f)[i], sim.reference_tac[f], 1e-5 * sim.reference_tac[f]);
    }
  EXPECT_GT(nref, 100u);
  // Without PSF, noise and motion, every voxel equals its region's exact TAC.
  for (const auto& r : sim.regions)
    for (std::size_t i = 0; i < sim.classes_native.data.size(); ++i)
      if (sim.classes_native.data[i] == r.label) {
        for (std::size_t f = 0; f < frames.size(); ++f)
          ASSERT_NEAR(sim.pet.frame(f)[i], r.tac[f], 1e-6 * std::abs(r.tac[f]) + 1e-9) << r.name;
        break;
      }
}

TEST(PhantomSimulate, DecayNoiseAndPsf) {
  const auto& fx = fixture();
  const auto& preset = tracer_preset("madam");
  const auto ref = reference_labels(preset, fx.atlas);
  CohortSpec cohort;
  cohort.tracer = "madam";
  const auto p = draw_participants(cohort)[0];
  const auto params = subject_parameters(cohort, p, preset, fx.atlas, fx.anatomy.class_names, ref);
  const FrameTable frames = make_frame_table(preset, preset.frame_durations_s);
  auto o = quiet_options();
  const auto clean = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  o.decay_corrected = false;
  const auto uncorrected = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  EXPECT_FALSE(uncorrected.pet.frames.decay_corrected);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const double F = frames.decay_factor(f);
    for (std::size_t i = 0; i < clean.pet.voxels_per_frame(); i += 101)
      EXPECT_NEAR(uncorrected.pet.frame(f)[i], clean.pet.frame(f)[i] * F, 1e-5 * std::abs(clean.pet.frame(f)[i]) + 1e-9);
  }
  // Noise: standardised residuals in white matter have unit variance in every frame.
  o.decay_corrected = true;
  o.noise = 0.5;
  const auto noisy = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  for (std::size_t f : {0u, 5u, 16u}) {
    const double F = frames.decay_factor(f), D = frames.duration_s[f] / 60.0;
    double ss = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < clean.pet.voxels_per_frame(); ++i)
      if (clean.classes_native.data[i] == kWhiteMatter) {
        const double y = clean.pet.frame(f)[i];
        const double sd = 0.5 * std::sqrt(y / (D * F));
        const double z = (noisy.pet.frame(f)[i] - y) / sd;
        ss += z * z;
        ++n;
      }
    EXPECT_GT(n, 1000u);
    EXPECT_NEAR(ss / n, 1.0, 0.08) << "frame " << f + 1;
  }
  // PSF preserves the total activity (brain well inside the field of view) and blurs.
  o.noise = 0;
  o.psf_fwhm_mm = 6.0;
  const auto blurred = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  double a = 0, b = 0, maxa = 0, maxb = 0;
  for (std::size_t i = 0; i < clean.pet.voxels_per_frame(); ++i) {
    a += clean.pet.frame(10)[i];
    b += blurred.pet.frame(10)[i];
    maxa = std::max<double>(maxa, clean.pet.frame(10)[i]);
    maxb = std::max<double>(maxb, blurred.pet.frame(10)[i]);
  }
  EXPECT_NEAR(b / a, 1.0, 1e-3);
  EXPECT_LT(maxb, maxa);
}

TEST(PhantomSimulate, PartialVolumeMixesBoundariesAndKeepsActivityUnderMotion) {
  const auto& fx = fixture();
  const int sub = partial_volume_subsamples(4.0);
  ASSERT_EQ(sub, 8);
  // Activity 1 in the left hippocampus (AAL 37), 0 elsewhere.
  std::vector<float> value(256, 0.0f);
  value[37] = 1.0f;
  std::vector<float> still(fx.grid.voxel_count()), shifted(fx.grid.voxel_count());
  sample_class_means(fx.anatomy.classes, fx.grid, Deformation{}, sub, value, still.data());
  // The same head moved by 1.5 mm along x. The moved voxels' sample points are the unmoved ones
  // shifted by a multiple of the 0.5 mm sample spacing, i.e. the same lattice of points, so the
  // region's total activity is unchanged (exactly, up to float rounding), as in a scanner. Majority
  // labels cannot do this: the region gains or loses whole voxels.
  Deformation moved;
  moved.affine[3] = -1.5;
  sample_class_means(fx.anatomy.classes, fx.grid, moved, sub, value, shifted.data());
  const LabelImage moved_labels = sample_classes(fx.anatomy.classes, fx.grid, moved, class_subsamples(4.0));
  double sum_still = 0, sum_moved = 0;
  std::size_t n_still = 0, n_moved = 0, mixed = 0, inside = 0;
  for (std::size_t i = 0; i < still.size(); ++i) {
    sum_still += still[i];
    sum_moved += shifted[i];
    n_still += fx.classes.data[i] == 37;
    n_moved += moved_labels.data[i] == 37;
    if (still[i] > 0) ++inside;
    if (still[i] > 0 && still[i] < 1) ++mixed;
  }
  ASSERT_GT(sum_still, 50.0);
  EXPECT_NEAR(sum_moved / sum_still, 1.0, 1e-6);
  std::printf("left hippocampus, 4 mm voxels, moved 1.5 mm: partial volume %+.2e, majority labels %+.2f %%\n",
              sum_moved / sum_still - 1.0, 100.0 * (static_cast<double>(n_moved) / static_cast<double>(n_still) - 1.0));
  // Boundary voxels mix: most of a 4 mm hippocampus is boundary.
  EXPECT_GT(mixed, inside / 3);

  // Through simulate_subject: partial volume keeps the activity of the majority-label phantom.
  const CarfentanilSubject cs(fx);
  const auto& preset = cs.preset;
  const auto& ref = cs.ref;
  const auto& params = cs.params;
  const FrameTable& frames = cs.frames;
  SimulationOptions o = quiet_options();
  const auto labels = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  o.partial_volume = true;
  const auto pv = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  const std::size_t last = frames.size() - 1;
  double a = 0, b = 0;
  for (std::size_t i = 0; i < pv.pet.voxels_per_frame(); ++i) {
    a += labels.pet.frame(last)[i];
    b += pv.pet.frame(last)[i];
  }
  EXPECT_NEAR(b / a, 1.0, 0.02);
}

TEST(PhantomMotion, ConventionAndBounds) {
  // A point source at p_ref moves to p_frame = R (p_ref - c) + c + t.
  Geometry g;
  g.size = {21, 21, 21};
  g.spacing = {2, 2, 2};
  std::vector<float> in(g.voxel_count(), 0.0f), out(g.voxel_count());
  in[g.linear_index(13, 10, 10)] = 1.0f;  // 6 mm from the centre along +x (LPS)
  const Vec3 c = grid_centre(g);
  RigidMotion m;
  m.rz = 90;  // +x -> +y
  m.tz = 4;   // then 2 voxels up
  move_volume(in.data(), out.data(), g, m, c);
  EXPECT_NEAR(out[g.linear_index(10, 13, 12)], 1.0f, 1e-5);
  RigidMotion m2;
  m2.tx = -2;  // one voxel towards -x
  move_volume(in.data(), out.data(), g, m2, c);
  EXPECT_NEAR(out[g.linear_index(12, 10, 10)], 1.0f, 1e-6);
  // ZXY order: R = Rz Rx Ry.
  RigidMotion r{0, 0, 0, 30, 20, 10};
  const Mat3 R = rotation_matrix(r);
  const double d = M_PI / 180;
  const double cx = cos(30 * d), sx = sin(30 * d), cy = cos(20 * d), sy = sin(20 * d), cz = cos(10 * d), sz = sin(10 * d);
  // third row of Rz Rx Ry = Rx Ry third row (Rz leaves z): [-cx sy, sx, cx cy]
  EXPECT_NEAR(R[6], -cx * sy, 1e-12);
  EXPECT_NEAR(R[7], sx, 1e-12);
  EXPECT_NEAR(R[8], cx * cy, 1e-12);
  EXPECT_NEAR(R[0], cz * cy - sz * sx * sy, 1e-12);

  const auto& preset = tracer_preset("carfentanil");
  const FrameTable frames = make_frame_table(preset, preset.frame_durations_s);
  Rng rng(3);
  MotionOptions mo;
  mo.max_translation_mm = 6;
  mo.max_rotation_deg = 4;
  const auto motion = random_motion(frames, mo, rng);
  double largest = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const auto& x = motion[f];
    if (frames.start_s[f] < 180) {
      EXPECT_EQ(x.tx + x.ty + x.tz + x.rx + x.ry + x.rz, 0.0);
    }
    for (double t : {x.tx, x.ty, x.tz}) EXPECT_LE(std::abs(t), 6.0);
    for (double a : {x.rx, x.ry, x.rz}) EXPECT_LE(std::abs(a), 4.0);
    largest = std::max({largest, std::abs(x.tx), std::abs(x.ty), std::abs(x.tz)});
  }
  EXPECT_GT(largest, 0.5);
}

TEST(PhantomMotion, PrescribedTableIsReadValidatedAndReplayed) {
  const auto& fx = fixture();
  const CarfentanilSubject cs(fx);
  const auto& preset = cs.preset;
  const auto& ref = cs.ref;
  const auto& params = cs.params;
  const FrameTable& frames = cs.frames;
  const std::size_t nf = frames.size();

  // A table with extra columns (as in a realign motion table): frame 10 moves exactly one voxel
  // (4 mm) up, frame 12 rotates; the rest stay.
  const fs::path dir = fs::temp_directory_path() / ("petpipe_motion_table_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "m.tsv");
    f << "frame\ttx\tty\ttz\trx\try\trz\tstatus\n";
    for (std::size_t i = 0; i < nf; ++i)
      f << i + 1 << "\t0\t0\t" << (i == 9 ? "4" : "0") << "\t" << (i == 11 ? "1.5" : "0") << "\t0\t"
        << (i == 11 ? "-2" : "0") << "\testimated\n";
  }
  const auto table = read_motion_table(dir / "m.tsv");
  ASSERT_EQ(table.size(), nf);
  EXPECT_EQ(table[9].tz, 4.0);
  EXPECT_EQ(table[11].rx, 1.5);
  EXPECT_EQ(table[11].rz, -2.0);
  EXPECT_EQ(table[0].tx + table[0].rz, 0.0);

  SimulationOptions o = quiet_options();
  o.motion = true;
  o.motion_table = table;
  const auto moved = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, o);
  ASSERT_EQ(moved.motion.size(), nf);
  EXPECT_EQ(moved.motion[11].rz, -2.0);
  const auto still = simulate_subject(fx.anatomy, fx.classes, preset, ref, frames, params, quiet_options());
  // Frame 10 is the unmoved frame shifted by one voxel along the physical z axis: the anatomy seen at
  // p_ref appears at p_ref + t.
  const Geometry& g = still.pet.geom;
  const Vec3 shift = g.point_to_index(Vec3{g.index_to_point({0, 0, 0})[0], g.index_to_point({0, 0, 0})[1],
                                           g.index_to_point({0, 0, 0})[2] + 4.0});
  const long dk = std::lround(shift[2]);
  ASSERT_EQ(std::abs(dk), 1);
  EXPECT_NEAR(shift[0], 0.0, 1e-9);
  std::size_t compared = 0, differ = 0, unmoved_equal = 0;
  for (std::size_t k = 1; k + 1 < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const float a = still.pet.frame(9)[g.linear_index(i, j, k)];
        const float b = moved.pet.frame(9)[g.linear_index(i, j, static_cast<std::size_t>(static_cast<long>(k) + dk))];
        ++compared;
        differ += std::abs(a - b) > 1e-5f * (1.0f + std::abs(a));
        unmoved_equal += moved.pet.frame(3)[g.linear_index(i, j, k)] == still.pet.frame(3)[g.linear_index(i, j, k)];
      }
  EXPECT_EQ(differ, 0u) << "of " << compared;
  EXPECT_EQ(unmoved_equal, compared);
  // The rotated frame differs from the unmoved one.
  double change = 0;
  for (std::size_t i = 0; i < still.pet.voxels_per_frame(); ++i)
    change += std::abs(moved.pet.frame(11)[i] - still.pet.frame(11)[i]);
  EXPECT_GT(change, 1.0);

  // Errors name the file, row and column.
  auto expect_error = [&](const std::string& name, const std::string& text, const std::string& message) {
    std::ofstream(dir / name) << text;
    try {
      read_motion_table(dir / name);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find(name), std::string::npos) << w;
      EXPECT_NE(w.find(message), std::string::npos) << w;
    }
  };
  expect_error("nocol.tsv", "tx\tty\ttz\trx\try\n0\t0\t0\t0\t0\n", "no 'rz' column");
  expect_error("nan.tsv", "tx\tty\ttz\trx\try\trz\n0\t0\tn/a\t0\t0\t0\n", "row 1, column 'tz'");
  expect_error("text.tsv", "tx\tty\ttz\trx\try\trz\n0\t0\t0\t0\t0\t0\n0\t1mm\t0\t0\t0\t0\n",
               "row 2, column 'ty'");
  expect_error("order.tsv", "frame\ttx\tty\ttz\trx\try\trz\n2\t0\t0\t0\t0\t0\t0\n", "frames must be numbered");
  expect_error("empty.tsv", "tx\tty\ttz\trx\try\trz\n", "no rows");
  EXPECT_THROW(read_motion_table(dir / "absent.tsv"), Error);

  // Validation against the frame schedule and plausible bounds.
  SimulationOptions bad = o;
  bad.motion_table.pop_back();
  EXPECT_THROW(validate_options(bad, frames), Error);
  bad = o;
  bad.motion_table[5].ry = 45;
  EXPECT_THROW(validate_options(bad, frames), Error);
  bad = o;
  bad.motion = false;
  EXPECT_THROW(validate_options(bad, frames), Error);
  EXPECT_NO_THROW(validate_options(o, frames));
  fs::remove_all(dir);
}

TEST(PhantomWarp, DeformationIsKnownAndInvertible) {
  const auto& fx = fixture();
  Rng rng(11);
  const Deformation d = random_deformation(WarpOptions{}, fx.anatomy, rng);
  Deformation inv;
  inv.affine = d.inverse_affine();
  for (const Vec3 x : {Vec3{0, 0, 0}, Vec3{30, -40, 20}, Vec3{-60, 10, -30}}) {
    const Vec3 y = inv.affine_ras(d.affine_ras(x));
    for (int a = 0; a < 3; ++a) EXPECT_NEAR(y[a], x[a], 1e-9);
    const Vec3 disp = d.displacement_ras(d.affine_ras(x));
    EXPECT_LT(std::sqrt(disp[0] * disp[0] + disp[1] * disp[1] + disp[2] * disp[2]), 3.0 * 6);
  }
  // Native classes pulled back through d: warping the native label image forward again recovers the
  // MNI labels in most voxels.
  const Geometry ng = native_grid(4.0, d, fx.anatomy.brain_min_ras, fx.anatomy.brain_max_ras, 10.0);
  const LabelImage native = sample_classes(fx.anatomy.classes, ng, d, class_subsamples(4.0));
  std::size_t agree = 0, total = 0;
  for (std::size_t k = 0; k < ng.size[2]; ++k)
    for (std::size_t j = 0; j < ng.size[1]; ++j)
      for (std::size_t i = 0; i < ng.size[0]; ++i) {
        const auto l = native.at(i, j, k);
        if (l == 0) continue;
        const Vec3 mni = d.map_lps(ng.index_to_point({double(i), double(j), double(k)}));
        const Vec3 ai = fx.anatomy.classes.geom.point_to_index(mni);
        const auto v = fx.anatomy.classes.at(std::size_t(std::lround(ai[0])), std::size_t(std::lround(ai[1])),
                                             std::size_t(std::lround(ai[2])));
        agree += v == l;
        ++total;
      }
  EXPECT_GT(static_cast<double>(agree) / total, 0.6);
}

TEST(PhantomCohort, EffectsAgeAndVariability) {
  const auto& fx = fixture();
  const auto& preset = tracer_preset("carfentanil");
  const auto ref = reference_labels(preset, fx.atlas);
  CohortSpec c;
  c.seed = 5;
  GroupSpec a;
  a.name = "A";
  a.size = 3;
  a.effects_percent = {{"hippocampus", 12.0}, {"Thalamus_L", -10.0}};
  GroupSpec b;
  b.name = "B";
  b.size = 2;
  c.groups = {a, b};
  c.age_effect_percent_per_decade = {{"frontal", -5.0}};
  const auto ps = draw_participants(c);
  ASSERT_EQ(ps.size(), 5u);
  EXPECT_EQ(ps[0].id, "01");
  EXPECT_EQ(ps[4].group, "B");
  const auto& names = fx.anatomy.class_names;
  const auto hip = resolve_region("Hippocampus", fx.atlas, names);
  ASSERT_EQ(hip.size(), 2u);
  for (const auto& p : ps) {
    const auto s = subject_parameters(c, p, preset, fx.atlas, names, ref);
    const double g = p.group == "A" ? 1.12 : 1.0;
    EXPECT_NEAR(s.kinetics.at(hip[0]).bpnd, 1.1 * g, 1e-12);
    EXPECT_NEAR(s.kinetics.at(77).bpnd, 2.8 * (p.group == "A" ? 0.9 : 1.0), 1e-12);  // Thalamus_L
    EXPECT_NEAR(s.kinetics.at(78).bpnd, 2.8, 1e-12);                                  // Thalamus_R
    EXPECT_NEAR(s.kinetics.at(3).bpnd, 1.3 * (1 - 0.05 * (p.age - 40) / 10), 1e-12);  // Frontal_Sup_L
    EXPECT_EQ(s.kinetics.at(ref[0]).bpnd, 0.0);
  }
  // Between-subject variability: SD across many subjects close to the requested %.
  CohortSpec v;
  v.groups[0].size = 400;
  v.between_subject_sd_percent = 10;
  const auto many = draw_participants(v);
  double m = 0, ss = 0;
  for (const auto& p : many) {
    const double x = subject_parameters(v, p, preset, fx.atlas, names, ref).kinetics.at(77).bpnd / 2.8;
    m += x;
    ss += x * x;
  }
  m /= many.size();
  EXPECT_NEAR(m, 1.0, 0.02);
  EXPECT_NEAR(std::sqrt(ss / many.size() - m * m), 0.10, 0.015);
  EXPECT_THROW(resolve_region("nucleus_nowhere", fx.atlas, names), Error);
  EXPECT_THROW(resolve_region("ventral_striatum", fx.atlas, names), Error);
}
