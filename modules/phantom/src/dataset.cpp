#include "petpipe/phantom/dataset.hpp"

#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"

namespace petpipe::phantom {

using nlohmann::json;

namespace {

// Typed access to a JSON object that rejects unknown keys.
class Reader {
public:
  Reader(const json& j, std::string where, std::string file) : j_(j), where_(std::move(where)), file_(std::move(file)) {
    if (!j_.is_object()) fail("", "is not a JSON object");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw make_error(file_, ": ", where_, key.empty() ? "" : (where_.empty() ? "" : ".") + key, " ", what);
  }
  bool has(const std::string& k) {
    seen_.insert(k);
    return j_.contains(k);
  }
  const json& raw(const std::string& k) {
    seen_.insert(k);
    return j_.at(k);
  }
  double number(const std::string& k, double def) {
    if (!has(k)) return def;
    const json& v = j_.at(k);
    if (!v.is_number()) fail(k, "must be a number");
    return v.get<double>();
  }
  bool boolean(const std::string& k, bool def) {
    if (!has(k)) return def;
    const json& v = j_.at(k);
    if (!v.is_boolean()) fail(k, "must be true or false");
    return v.get<bool>();
  }
  std::string string(const std::string& k, const std::string& def) {
    if (!has(k)) return def;
    const json& v = j_.at(k);
    if (!v.is_string()) fail(k, "must be a string");
    return v.get<std::string>();
  }
  int integer(const std::string& k, int def) {
    if (!has(k)) return def;
    const json& v = j_.at(k);
    if (!v.is_number_integer()) fail(k, "must be an integer");
    return v.get<int>();
  }
  std::map<std::string, double> number_map(const std::string& k) {
    std::map<std::string, double> m;
    if (!has(k)) return m;
    const json& v = j_.at(k);
    if (!v.is_object()) fail(k, "must be an object of region: percent");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_number()) fail(k + "." + it.key(), "must be a number");
      m[it.key()] = it.value().get<double>();
    }
    return m;
  }
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) fail(it.key(), "is not a known key");
  }
  std::string where(const std::string& k) const { return where_.empty() ? k : where_ + "." + k; }

private:
  const json& j_;
  std::string where_, file_;
  std::set<std::string> seen_;
};

std::string n2s(double v) { return format_number(v, 8); }

}  // namespace

std::vector<RigidMotion> read_motion_table(const fs::path& path) {
  if (!fs::exists(path)) throw make_error(path.string(), ": motion table not found");
  const Table t = read_tsv(path);
  static const char* const kCols[] = {"tx", "ty", "tz", "rx", "ry", "rz"};
  for (const char* c : kCols)
    if (!t.has_column(c))
      throw make_error(path.string(), ": motion table has no '", c, "' column (needs tx ty tz rx ry rz)");
  if (t.rows.empty()) throw make_error(path.string(), ": motion table has no rows");
  std::vector<RigidMotion> out(t.rows.size());
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    auto cell = [&](const std::string& col) {
      const std::string& v = t.rows[r][t.column_index(col)];
      std::size_t used = 0;
      double x = std::numeric_limits<double>::quiet_NaN();
      try {
        x = std::stod(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != v.size() || !std::isfinite(x))
        throw make_error(path.string(), ": row ", r + 1, ", column '", col, "': '", v, "' is not a finite number");
      return x;
    };
    if (t.has_column("frame") && cell("frame") != static_cast<double>(r + 1))
      throw make_error(path.string(), ": row ", r + 1, " has frame ", t.rows[r][t.column_index("frame")],
                       " (frames must be numbered 1, 2, ... in order)");
    out[r] = RigidMotion{cell("tx"), cell("ty"), cell("tz"), cell("rx"), cell("ry"), cell("rz")};
  }
  return out;
}

SimulationConfig read_simulation_config(const fs::path& path) {
  const json j = read_json(path);
  const std::string file = path.string();
  SimulationConfig c;
  Reader r(j, "", file);
  c.name = r.string("name", c.name);
  c.cohort.tracer = r.string("tracer", c.cohort.tracer);
  if (r.has("seed")) {
    const json& v = r.raw("seed");
    if (!v.is_number_unsigned()) r.fail("seed", "must be a non-negative integer");
    c.cohort.seed = v.get<std::uint64_t>();
  }
  auto& o = c.options;
  o.voxel_mm = r.number("voxel_size_mm", o.voxel_mm);
  o.t1_voxel_mm = r.number("t1_voxel_size_mm", o.t1_voxel_mm);
  o.psf_fwhm_mm = r.number("psf_fwhm_mm", o.psf_fwhm_mm);
  o.noise = r.number("noise", o.noise);
  o.decay_corrected = r.boolean("decay_correction", o.decay_corrected);
  o.partial_volume = r.boolean("partial_volume", o.partial_volume);
  o.t1_noise_percent = r.number("t1_noise_percent", o.t1_noise_percent);
  o.t1_inu_percent = r.number("t1_inu_percent", o.t1_inu_percent);
  if (r.has("motion")) {
    const json& v = r.raw("motion");
    if (v.is_boolean()) {
      o.motion = v.get<bool>();
    } else if (v.is_object()) {
      o.motion = true;
      Reader m(v, "motion", file);
      o.motion_options.max_translation_mm = m.number("max_translation_mm", o.motion_options.max_translation_mm);
      o.motion_options.max_rotation_deg = m.number("max_rotation_deg", o.motion_options.max_rotation_deg);
      o.motion_options.jumps = m.integer("jumps", o.motion_options.jumps);
      o.motion_options.still_s = m.number("still_s", o.motion_options.still_s);
      m.finish();
    } else {
      r.fail("motion", "must be true, false or an object");
    }
  }
  if (r.has("warp")) {
    const json& v = r.raw("warp");
    if (v.is_boolean()) {
      o.warp = v.get<bool>();
    } else if (v.is_object()) {
      o.warp = true;
      Reader w(v, "warp", file);
      auto& wo = o.warp_options;
      wo.max_rotation_deg = w.number("max_rotation_deg", wo.max_rotation_deg);
      wo.max_translation_mm = w.number("max_translation_mm", wo.max_translation_mm);
      wo.max_scale_change = w.number("max_scale_change", wo.max_scale_change);
      wo.bumps = w.integer("bumps", wo.bumps);
      wo.bump_amplitude_mm = w.number("bump_amplitude_mm", wo.bump_amplitude_mm);
      wo.bump_sigma_mm = w.number("bump_sigma_mm", wo.bump_sigma_mm);
      w.finish();
    } else {
      r.fail("warp", "must be true, false or an object");
    }
  }
  if (r.has("frames")) {
    const json& v = r.raw("frames");
    if (v.is_string()) {
      c.frame_durations_s = parse_frame_schedule(v.get<std::string>());
    } else if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_number() || !(e.get<double>() > 0)) r.fail("frames", "must hold positive durations in seconds");
        c.frame_durations_s.push_back(e.get<double>());
      }
      if (c.frame_durations_s.empty()) r.fail("frames", "is empty");
    } else {
      r.fail("frames", "must be a schedule string (\"3x60,4x180\") or an array of durations in seconds");
    }
  }
  auto& co = c.cohort;
  co.between_subject_sd_percent = r.number("between_subject_sd_percent", co.between_subject_sd_percent);
  co.between_subject_correlation = r.number("between_subject_correlation", co.between_subject_correlation);
  co.reference_age = r.number("reference_age", co.reference_age);
  co.dose_sd_percent = r.number("dose_sd_percent", co.dose_sd_percent);
  if (r.has("age_effect_percent_per_decade")) {
    const json& v = r.raw("age_effect_percent_per_decade");
    if (v.is_number())
      co.age_effect_percent_per_decade = {{"all", v.get<double>()}};
    else
      co.age_effect_percent_per_decade = r.number_map("age_effect_percent_per_decade");
  }
  const bool has_subjects = r.has("subjects");
  const bool has_groups = r.has("groups");
  if (has_subjects && has_groups) r.fail("subjects", "cannot be given together with groups");
  if (has_subjects) {
    co.groups = {GroupSpec{}};
    co.groups[0].size = r.integer("subjects", 1);
  }
  if (has_groups) {
    const json& g = r.raw("groups");
    if (!g.is_array() || g.empty()) r.fail("groups", "must be a non-empty array of groups");
    co.groups.clear();
    for (std::size_t i = 0; i < g.size(); ++i) {
      Reader gr(g[i], "groups[" + std::to_string(i) + "]", file);
      GroupSpec gs;
      gs.name = gr.string("name", "group" + std::to_string(i + 1));
      gs.size = gr.integer("size", 0);
      gs.female_fraction = gr.number("female_fraction", gs.female_fraction);
      if (gr.has("age")) {
        Reader a(gr.raw("age"), gr.where("age"), file);
        gs.age.mean = a.number("mean", gs.age.mean);
        gs.age.sd = a.number("sd", gs.age.sd);
        gs.age.min = a.number("min", gs.age.min);
        gs.age.max = a.number("max", gs.age.max);
        a.finish();
      }
      gs.effects_percent = gr.number_map("effects_percent");
      gr.finish();
      co.groups.push_back(gs);
    }
  }
  r.finish();
  try {
    validate(co);
  } catch (Error& e) {
    e.add_context(file);
    throw;
  }
  return c;
}

FrameTable make_frame_table(const TracerPreset& preset, const std::vector<double>& durations) {
  FrameTable t;
  double s = 0;
  for (double d : durations) {
    t.start_s.push_back(s);
    t.duration_s.push_back(d);
    s += d;
  }
  t.radionuclide = preset.radionuclide;
  t.half_life_s = *half_life_seconds(preset.radionuclide);
  t.tracer = preset.name;
  t.decay_corrected = true;
  t.decay_reference_s = 0.0;
  t.time_zero = "10:00:00";
  t.units = "kBq/mL";
  t.validate("frame schedule");
  return t;
}

void write_dataset_files(const fs::path& out, const SimulationConfig& c, const std::vector<Participant>& ps,
                         const std::map<int, std::string>& classes) {
  json desc;
  desc["Name"] = c.name;
  desc["BIDSVersion"] = "1.8.0";
  desc["DatasetType"] = "raw";
  desc["License"] = "CC0";
  desc["Authors"] = {"petpipe simulate"};
  desc["GeneratedBy"] = {{{"Name", "petpipe simulate"}, {"Version", version_string()}, {"CodeURL", "n/a"}}};
  desc["HowToAcknowledge"] =
      "Synthetic data: anatomy from the AAL atlas (Tzourio-Mazoyer et al. 2002) on the Colin27 template.";
  write_json(out / "dataset_description.json", desc);

  Table t;
  t.columns = {"participant_id", "group", "age", "sex"};
  for (const auto& p : ps) t.add_row({"sub-" + p.id, p.group, n2s(p.age), p.sex});
  write_tsv(out / "participants.tsv", t);
  json pj;
  pj["participant_id"] = {{"Description", "participant identifier"}};
  json levels = json::object();
  for (const auto& g : c.cohort.groups) levels[g.name] = "simulated group " + g.name;
  pj["group"] = {{"Description", "simulated group"}, {"Levels", levels}};
  pj["age"] = {{"Description", "age of the participant"}, {"Units", "year"}};
  pj["sex"] = {{"Description", "sex of the participant"}, {"Levels", {{"F", "female"}, {"M", "male"}}}};
  write_json(out / "participants.json", pj);

  const fs::path truth = out / kTruthDir;
  fs::create_directories(truth);
  json td;
  td["Name"] = c.name + " (ground truth)";
  td["BIDSVersion"] = "1.8.0";
  td["DatasetType"] = "derivative";
  td["GeneratedBy"] = {{{"Name", "petpipe simulate"}, {"Version", version_string()}}};
  write_json(truth / "dataset_description.json", td);
  // Provenance (command line, date) apart, so that every other file is identical for the same seed.
  Provenance prov;
  prov.command_line = command_line();
  write_json(truth / "provenance.json", prov.to_json());
  Table dseg;
  dseg.columns = {"index", "name"};
  for (const auto& [l, n] : classes) dseg.add_row({std::to_string(l), n});
  write_tsv(truth / "seg-phantom_dseg.tsv", dseg);
}

void write_subject(const fs::path& out, const Participant& p, const TracerPreset& preset,
                   const SubjectSimulation& s, const SimulationConfig& c) {
  const std::string sub = "sub-" + p.id;
  const std::string trc = "_trc-" + preset.name;
  const auto& o = c.options;
  const fs::path pet_dir = out / sub / "pet";
  const fs::path anat_dir = out / sub / "anat";
  const fs::path tdir = out / kTruthDir / sub;
  fs::create_directories(pet_dir);
  fs::create_directories(tdir);

  // PET + PET-BIDS sidecar.
  const fs::path pet = pet_dir / (sub + trc + "_pet.nii.gz");
  json sc = frame_table_to_sidecar(s.pet.frames);
  const double dose = preset.injected_mbq * s.reference.terms.front().coef / preset.reference_curve.a1;
  sc["Manufacturer"] = "petpipe";
  sc["ManufacturersModelName"] = "petpipe simulate (synthetic HRRT-like scanner)";
  sc["BodyPart"] = "Brain";
  sc["TracerName"] = preset.name;
  sc["TracerRadionuclide"] = preset.radionuclide;
  sc["InjectedRadioactivity"] = std::round(dose * 100.0) / 100.0;
  sc["InjectedRadioactivityUnits"] = "MBq";
  sc["InjectedMass"] = preset.injected_mass_ug;
  sc["InjectedMassUnits"] = "ug";
  sc["SpecificRadioactivity"] = preset.molar_activity_gbq_per_umol * 1000.0;
  sc["SpecificRadioactivityUnits"] = "MBq/umol";
  sc["MolarActivity"] = preset.molar_activity_gbq_per_umol;
  sc["MolarActivityUnits"] = "GBq/umol";
  sc["ModeOfAdministration"] = "bolus";
  sc["AcquisitionMode"] = "list mode";
  sc["ImageDecayCorrected"] = o.decay_corrected;
  sc["ImageDecayCorrectionTime"] = 0;
  sc["ReconMethodName"] = "synthetic (no reconstruction): exact SRTM frame means, Gaussian PSF, Gaussian noise";
  sc["ReconMethodParameterLabels"] = {"none"};
  sc["ReconMethodParameterUnits"] = {"none"};
  sc["ReconMethodParameterValues"] = {0};
  sc["ReconFilterType"] = o.psf_fwhm_mm > 0 ? "Gaussian" : "none";
  sc["ReconFilterSize"] = o.psf_fwhm_mm;
  sc["AttenuationCorrection"] = "none (synthetic)";
  std::vector<double> dcf;
  for (std::size_t f = 0; f < s.pet.frames.size(); ++f) dcf.push_back(1.0 / s.pet.frames.decay_factor(f));
  if (o.decay_corrected) sc["DecayCorrectionFactor"] = dcf;
  write_dynamic(pet, s.pet, false);
  write_json(sidecar_path(pet), sc);

  // T1w.
  if (!s.t1.data.empty()) {
    fs::create_directories(anat_dir);
    write_image(anat_dir / (sub + "_T1w.nii.gz"), s.t1);
    write_json(anat_dir / (sub + "_T1w.json"),
               json{{"Modality", "MR"}, {"MagneticFieldStrength", 3}, {"Manufacturer", "petpipe"},
                    {"ManufacturersModelName", "petpipe simulate (Colin27 template with noise and non-uniformity)"},
                    {"PulseSequenceType", "synthetic"}});
  }

  // Truth maps.
  const std::string mni = "_space-" + std::string(kSpace);
  const std::string base = (tdir / (sub + trc)).string();
  write_image(base + "_meas-BPND_mimap.nii.gz", s.bpnd_native);
  write_image(base + "_meas-R1_mimap.nii.gz", s.r1_native);
  write_image(base + "_meas-k2_mimap.nii.gz", s.k2_native);
  write_image(base + mni + "_meas-BPND_mimap.nii.gz", s.bpnd_mni);
  write_image(base + mni + "_meas-R1_mimap.nii.gz", s.r1_mni);
  write_image(base + mni + "_meas-k2_mimap.nii.gz", s.k2_mni);
  write_labels(tdir / (sub + "_seg-phantom_dseg.nii.gz"), s.classes_native);
  write_labels(tdir / (sub + mni + "_seg-phantom_dseg.nii.gz"), s.classes_mni);
  write_mask(base + "_label-" + preset.reference_region + "_mask.nii.gz", s.reference_native);
  write_mask(base + mni + "_label-" + preset.reference_region + "_mask.nii.gz", s.reference_mni);

  // Motion.
  Table mt;
  mt.columns = {"frame", "frame_start", "frame_end", "tx", "ty", "tz", "rx", "ry", "rz"};
  const auto& fr = s.pet.frames;
  for (std::size_t f = 0; f < fr.size(); ++f) {
    const auto& m = s.motion[f];
    mt.add_row({std::to_string(f + 1), n2s(fr.start_s[f]), n2s(fr.end_s(f)), n2s(m.tx), n2s(m.ty), n2s(m.tz),
                n2s(m.rx), n2s(m.ry), n2s(m.rz)});
  }
  write_tsv(base + "_motion.tsv", mt);
  write_json(base + "_motion.json",
             json{{"Description",
                   "True rigid motion per frame. p_frame = R (p_ref - c) + c + t maps reference-space points to "
                   "frame-space points (ITK Euler3DTransform convention, fixed = reference, moving = frame). "
                   "Physical LPS coordinates in mm; c = centre of the PET voxel grid; R = Rz Rx Ry (rotation "
                   "about y, then x, then z; right-handed, about the LPS axes)."},
                  {"Simulated", o.motion},
                  {"Source", !o.motion ? std::string("none")
                             : o.motion_table.empty() ? std::string("random drift and jumps")
                                                      : "prescribed table " + c.motion_file.string()},
                  {"RotationCentreLPS", {grid_centre(s.pet.geom)[0], grid_centre(s.pet.geom)[1], grid_centre(s.pet.geom)[2]}},
                  {"tx", {{"Units", "mm"}}}, {"ty", {{"Units", "mm"}}}, {"tz", {{"Units", "mm"}}},
                  {"rx", {{"Units", "degree"}}}, {"ry", {{"Units", "degree"}}}, {"rz", {{"Units", "degree"}}},
                  {"frame_start", {{"Units", "s"}}}, {"frame_end", {{"Units", "s"}}}});

  // Transforms.
  const auto& a = s.deformation.affine;
  json affine = json::array();
  for (int r = 0; r < 3; ++r) affine.push_back({a[4 * r], a[4 * r + 1], a[4 * r + 2], a[4 * r + 3]});
  affine.push_back({0, 0, 0, 1});
  json bumps = json::array();
  for (const auto& b : s.deformation.bumps)
    bumps.push_back({{"centre_ras_mm", {b.centre_ras[0], b.centre_ras[1], b.centre_ras[2]}},
                     {"amplitude_ras_mm", {b.amplitude_mm[0], b.amplitude_mm[1], b.amplitude_mm[2]}},
                     {"sigma_mm", b.sigma_mm}});
  const std::string xfm = (tdir / (sub + "_from-native_to-" + kSpace)).string();
  write_json(xfm + "_affine.json",
             json{{"Description",
                   "Native -> MNI mapping: y = A x (homogeneous, RAS mm), x_mni = y + d(y), d(y) = sum_k a_k "
                   "exp(-|y - c_k|^2 / (2 s_k^2)). Native images are I_native(x) = I_mni(x_mni(x))."},
                  {"Warped", o.warp}, {"AffineRAS", affine}, {"Bumps", bumps},
                  {"DisplacementField", o.warp ? sub + "_from-native_to-" + kSpace + "_mode-image_xfm.nii.gz" : ""}});
  if (o.warp) {
    DynamicImage disp;
    disp.geom = s.displacement[0].geom;
    disp.frames.start_s = {0, 1, 2};
    disp.frames.duration_s = {1, 1, 1};
    const std::size_t n = disp.geom.voxel_count();
    disp.data.resize(3 * n);
    for (int c3 = 0; c3 < 3; ++c3) std::copy(s.displacement[c3].data.begin(), s.displacement[c3].data.end(), disp.data.begin() + c3 * n);
    write_dynamic(xfm + "_mode-image_xfm.nii.gz", disp, false);
    write_json(xfm + "_mode-image_xfm.json",
               json{{"Description", "Displacement x_mni - x_native at each native voxel centre; volumes x, y, z (RAS mm)."},
                    {"Units", "mm"}, {"CoordinateSystem", "RAS"}});
  }

  // Regional truth.
  Table rt;
  rt.columns = {"region", "label", "R1", "k2", "k2a", "BPND", "voxels_native", "voxels_mni"};
  for (const auto& r : s.regions)
    rt.add_row({r.name, std::to_string(r.label), n2s(r.r1), n2s(r.k2), n2s(r.k2a), n2s(r.bpnd),
                std::to_string(r.voxels_native), std::to_string(r.voxels_mni)});
  write_tsv(base + "_regions.tsv", rt);
  Table tacs;
  tacs.columns = {"frame_start", "frame_end", "reference"};
  for (const auto& r : s.regions) tacs.columns.push_back(r.name);
  for (std::size_t f = 0; f < fr.size(); ++f) {
    std::vector<std::string> row{n2s(fr.start_s[f]), n2s(fr.end_s(f)), format_number(s.reference_tac[f], 10)};
    for (const auto& r : s.regions) row.push_back(format_number(r.tac[f], 10));
    tacs.add_row(row);
  }
  write_tsv(base + "_desc-truth_tacs.tsv", tacs);
  Table ref;
  ref.columns = {"frame_start", "frame_end", "activity"};
  for (std::size_t f = 0; f < fr.size(); ++f)
    ref.add_row({n2s(fr.start_s[f]), n2s(fr.end_s(f)), format_number(s.reference_tac[f], 10)});
  write_tsv(base + "_desc-reference_tac.tsv", ref);
  json terms = json::array();
  for (const auto& t : s.reference.terms) terms.push_back({{"coef", t.coef}, {"power", t.power}, {"rate_per_min", t.rate}});
  write_json(base + "_desc-reference_tac.json",
             json{{"Description", "Noiseless decay-corrected reference-region TAC: exact frame means of "
                                  "C_R(t) = sum coef t^power exp(-rate t) (t in min, kBq/mL)."},
                  {"ReferenceRegion", preset.reference_region}, {"Units", "kBq/mL"}, {"Terms", terms},
                  {"k2_reference_per_min", preset.k2_reference_per_min}});

  json kin = json::object();
  for (const auto& r : s.regions) kin[r.name] = {{"R1", r.r1}, {"k2", r.k2}, {"BPND", r.bpnd}};
  write_json(tdir / (sub + "_truth.json"),
             json{{"participant_id", sub}, {"group", p.group}, {"age", p.age}, {"sex", p.sex},
                  {"seed", std::to_string(p.seed)}, {"cohort_seed", std::to_string(c.cohort.seed)},
                  {"tracer", preset.name}, {"voxel_size_mm", o.voxel_mm}, {"psf_fwhm_mm", o.psf_fwhm_mm},
                  {"partial_volume", o.partial_volume}, {"noise", o.noise}, {"decay_corrected", o.decay_corrected}, {"motion", o.motion},
                  {"warp", o.warp}, {"dose_scale", s.reference.terms.front().coef / preset.reference_curve.a1},
                  {"k2_reference_per_min", preset.k2_reference_per_min},
                  {"reference_region", preset.reference_region}, {"regions", kin}});
}

}  // namespace petpipe::phantom
