#include "petpipe/core/layout.hpp"

#include <cmath>
#include <sstream>

#include "petpipe/core/nifti_io.hpp"

namespace petpipe::layout {

fs::path Source::file(const fs::path& dir, const Entities& extra, const std::string& suffix, const std::string& ext) const {
  return dir / (prefix + bids::derivative_name(name, extra, suffix, ext));
}

std::string Source::stem() const {
  if (!prefix.empty()) return prefix.substr(0, prefix.size() - 1);
  const std::string s = bids::derivative_name(name, {}, "x", "");
  return s.substr(0, s.size() - 2);
}

Source source_of(const fs::path& input, const std::vector<std::string>& strip_suffixes) {
  Source s;
  const std::string file = input.filename().string();
  if (auto n = bids::parse_name(file)) {
    s.name = *n;
    return s;
  }
  std::string stem = strip_image_extension(file);
  for (const auto& suffix : strip_suffixes)
    if (stem.size() > suffix.size() && stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0) {
      stem.resize(stem.size() - suffix.size());
      break;
    }
  s.prefix = stem + "_";
  return s;
}

fs::path table_sidecar(const fs::path& table) { return table.parent_path() / (table.stem().string() + ".json"); }

std::string smoothing_desc(double fwhm_mm) {
  std::ostringstream os;
  os.precision(10);
  os << fwhm_mm;
  return "sm" + os.str();
}

RealignFiles realign_files(const Source& src, const fs::path& dir) {
  RealignFiles r;
  r.mc = src.file(dir, {{"desc", "mc"}}, "pet", ".nii.gz");
  r.mc_json = src.file(dir, {{"desc", "mc"}}, "pet", ".json");
  r.mean = src.file(dir, {{"desc", "mean"}}, "pet", ".nii.gz");
  r.mean_json = src.file(dir, {{"desc", "mean"}}, "pet", ".json");
  r.motion = src.file(dir, {}, "motion", ".tsv");
  r.motion_json = src.file(dir, {}, "motion", ".json");
  return r;
}

const std::vector<std::string>& srtm_measures() {
  static const std::vector<std::string> m{"BPND", "R1", "k2", "k2a", "RSS", "theta3index"};
  return m;
}

fs::path SrtmFiles::map(const std::string& meas) const {
  return src.file(dir, {{"model", kModel}, {"meas", meas}}, "mimap", ".nii.gz");
}

std::vector<fs::path> SrtmFiles::all() const {
  std::vector<fs::path> v{gridedge, fitmask, ref_tac};
  for (const auto& m : srtm_measures()) v.push_back(map(m));
  return v;
}

SrtmFiles srtm_files(const Source& src, const fs::path& dir) {
  SrtmFiles s;
  s.src = src;
  s.dir = dir;
  s.gridedge = src.file(dir, {{"model", kModel}, {"desc", "gridedge"}}, "mask", ".nii.gz");
  s.fitmask = src.file(dir, {{"model", kModel}, {"desc", "fit"}}, "mask", ".nii.gz");
  s.ref_tac = src.file(dir, {{"desc", "reference"}}, "tacs", ".tsv");
  return s;
}

fs::path NormalizeFiles::ref_mask(const std::string& region) const {
  return pet.file(dir, {{"desc", region}}, "mask", ".nii.gz");
}

fs::path NormalizeFiles::ref_tacs(const std::string& region) const {
  return pet.file(dir, {{"desc", region}}, "tacs", ".tsv");
}

std::vector<fs::path> NormalizeFiles::transforms() const { return {transforms_json, pet_to_t1, t1_to_mni_affine}; }

TransformFiles transform_files(const fs::path& dir) {
  TransformFiles t;
  t.dir = dir;
  t.json = dir / "transforms.json";
  t.pet_to_t1 = dir / "pet_to_t1_rigid.txt";
  t.t1_to_mni_affine = dir / "t1_to_mni_affine.txt";
  t.t1_to_mni_warp = dir / "t1_to_mni_warp.nii.gz";
  t.t1_to_mni_inverse_warp = dir / "t1_to_mni_inverse_warp.nii.gz";
  return t;
}

NormalizeFiles normalize_files(const Source& pet, const Source& t1, const fs::path& dir) {
  NormalizeFiles n;
  n.pet = pet;
  n.dir = dir;
  n.xfm_dir = dir / "transforms";
  n.xfm = transform_files(n.xfm_dir);
  n.transforms_json = n.xfm.json;
  n.pet_to_t1 = n.xfm.pet_to_t1;
  n.t1_to_mni_affine = n.xfm.t1_to_mni_affine;
  n.t1_mni = t1.file(dir, {{"space", kMniSpace}}, "T1w", ".nii.gz");
  n.t1_coreg = t1.file(dir, {{"desc", "coreg"}}, "T1w", ".nii.gz");
  n.template_in_t1 = t1.file(dir, {{"desc", "template"}}, "T1w", ".nii.gz");
  n.t1_kmeans = t1.file(dir, {{"desc", "kmeans"}}, "dseg", ".nii.gz");
  n.pet_in_t1 = pet.file(dir, {{"space", "T1w"}, {"desc", "mean"}}, "pet", ".nii.gz");
  n.pet_mean = pet.file(dir, {{"desc", "mean"}}, "pet", ".nii.gz");
  n.dseg = pet.file(dir, {{"seg", kAtlasSeg}}, "dseg", ".nii.gz");
  n.dseg_subvoxel = pet.file(dir, {{"seg", kAtlasSeg}, {"desc", "subvoxel"}}, "dseg", ".nii.gz");
  n.record = dir / (pet.stem() + "_normalize.json");
  return n;
}

fs::path ScanLayout::mni_map(const std::string& meas) const {
  return srtm.src.file(pet_dir, {{"space", kMniSpace}, {"model", kModel}, {"meas", meas}}, "mimap", ".nii.gz");
}

fs::path ScanLayout::mni_sm_map(const std::string& meas) const {
  return srtm.src.file(pet_dir, {{"space", kMniSpace}, {"desc", smoothing}, {"model", kModel}, {"meas", meas}}, "mimap",
                       ".nii.gz");
}

ScanLayout scan_layout(const fs::path& out, const std::string& subject, const std::string& session,
                       const std::string& tracer, const fs::path& pet_input, const fs::path& t1_input,
                       const std::string& reference, double smooth_fwhm_mm) {
  ScanLayout p;
  p.subject = subject;
  p.session = session;
  p.tracer = tracer;
  Source src;
  if (auto n = bids::parse_name(pet_input.filename().string())) src.name = *n;
  src.name.set("sub", subject);
  if (!session.empty()) src.name.set("ses", session);
  if (!src.name.get("trc") && !tracer.empty()) src.name.set("trc", tracer);
  Source t1;
  if (!t1_input.empty()) t1 = source_of(t1_input, {"_T1w"});
  if (t1_input.empty() || !t1.prefix.empty()) {
    t1 = Source{};
    t1.name.set("sub", subject);
    if (!session.empty()) t1.name.set("ses", session);
  }
  p.stem = src.stem();
  p.dir = out / ("sub-" + subject);
  if (!session.empty()) p.dir /= "ses-" + session;
  p.pet_dir = p.dir / "pet";
  p.state_dir = p.dir / ".petpipe" / p.stem;
  p.realign = realign_files(src, p.pet_dir);
  p.normalize = normalize_files(src, t1, p.dir / "normalize");
  p.srtm = srtm_files(src, p.pet_dir);
  p.reference = reference;
  p.ref_mask = p.normalize.ref_mask(reference);
  p.smoothing = smoothing_desc(smooth_fwhm_mm);
  p.roistats = src.file(p.pet_dir, {{"seg", kAtlasSeg}, {"desc", p.smoothing}}, "roistats", ".tsv");
  p.tacs = src.file(p.pet_dir, {{"seg", kAtlasSeg}}, "tacs", ".tsv");
  p.fits = src.file(p.pet_dir, {{"seg", kAtlasSeg}, {"desc", "fits"}}, "tacs", ".tsv");
  p.kinpar = src.file(p.pet_dir, {{"seg", kAtlasSeg}, {"model", kModel}}, "kinpar", ".tsv");
  p.h5 = p.dir / (p.stem + "_pet.h5");
  p.report = p.dir / (p.stem + "_report.html");
  p.status = p.dir / (p.stem + "_status.json");
  p.config = p.dir / (p.stem + "_config.json");
  return p;
}

std::vector<fs::path> ScanLayout::files() const {
  std::vector<fs::path> f{status, config, h5, report};
  auto image = [&](const fs::path& p) {
    f.push_back(p);
    f.push_back(sidecar_path(p));
  };
  image(realign.mc);
  image(realign.mean);
  f.insert(f.end(), {realign.motion, realign.motion_json, srtm.ref_tac});
  for (const auto& m : srtm_measures()) image(srtm.map(m));
  image(srtm.gridedge);
  image(srtm.fitmask);
  image(mni_map("BPND"));
  image(mni_sm_map("BPND"));
  f.insert(f.end(), {roistats, table_sidecar(roistats), tacs, fits, kinpar});
  const NormalizeFiles& n = normalize;
  f.insert(f.end(), {n.xfm.json, n.xfm.pet_to_t1, n.xfm.t1_to_mni_affine, n.xfm.t1_to_mni_warp,
                     n.xfm.t1_to_mni_inverse_warp, n.t1_mni, n.t1_coreg, n.template_in_t1, n.t1_kmeans, n.pet_in_t1,
                     n.dseg, n.dseg_subvoxel, n.record, ref_mask, n.ref_tacs(reference)});
  return f;
}

fs::path subject_reference_mask(const fs::path& dir, const std::string& subject, const std::string& session,
                                const std::string& stem) {
  fs::path d = dir / ("sub-" + subject);
  if (!session.empty()) d /= "ses-" + session;
  return d / "pet" / (stem + "_desc-reference_mask.nii.gz");
}

fs::path fallback_status(const fs::path& out, const std::string& subject, const std::string& tracer) {
  return out / ("sub-" + subject) / ("sub-" + subject + (tracer.empty() ? "" : "_trc-" + tracer) + "_status.json");
}

fs::path CohortLayout::group_roi_long(const std::string& map) const { return group_dir / ("roi_long_" + map + ".tsv"); }

CohortLayout cohort_layout(const fs::path& out) {
  CohortLayout c;
  c.out = out;
  c.dataset_description = out / "dataset_description.json";
  c.participants = out / "participants.tsv";
  c.run_summary_tsv = out / "run_summary.tsv";
  c.run_summary_json = out / "run_summary.json";
  c.group_dir = out / "group";
  c.group_participants = c.group_dir / "participants.tsv";
  c.group_maps = c.group_dir / "maps.tsv";
  c.group_brain_mask = c.group_dir / "brain_mask.nii.gz";
  c.group_voxelwise = c.group_dir / "voxelwise";
  c.group_roi = c.group_dir / "roi";
  c.group_summary = c.group_dir / "group_summary.json";
  c.group_report = c.group_dir / "group_report.html";
  c.slurm_dir = out / "slurm";
  c.slurm_logs = c.slurm_dir / "logs";
  c.slurm_submissions = c.slurm_dir / "submissions.json";
  return c;
}

bool is_internal_dir(const std::string& name) { return name == ".petpipe" || name == "group" || name == "slurm"; }

}  // namespace petpipe::layout
