#include "petpipe/pipeline/runner.hpp"

#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>

#include "petpipe/core/error.hpp"
#include "petpipe/core/hdf5_file.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/stage_cache.hpp"
#include "petpipe/kinetics/convolution.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/regional.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::pipeline {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string num(double v) { return format_number(v, 10); }

// One stage: a petpipe subcommand (args) or an in-process body, with the files it reads and writes.
struct Stage {
  std::string name;
  std::vector<std::string> args;  // subcommand and its arguments; empty when `body` is used
  std::function<void()> body;
  std::vector<fs::path> inputs;
  std::vector<fs::path> outputs;
  json parameters;
};

std::string command_string(const std::vector<std::string>& args) {
  std::string s = "petpipe";
  for (const auto& a : args) s += " " + (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
  return s;
}

void run_stage(const Stage& st, const StageCache& cache, bool force, ScanStatus& status) {
  json params = st.parameters;
  if (!st.args.empty()) params["command"] = st.args;
  const std::string key = cache.key(st.name, params, st.inputs);
  if (!force && cache.up_to_date(st.name, key, st.outputs)) {
    status.stages[st.name] = {{"status", "skipped"}, {"seconds", 0.0}};
    log::info("sub-", status.subject, ": ", st.name, ": up to date");
    return;
  }
  cache.forget(st.name);
  log::info("sub-", status.subject, ": ", st.name, (st.args.empty() ? "" : ": " + command_string(st.args)));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!st.args.empty())
      cli::run_in_process(st.args);
    else
      st.body();
  } catch (Error& e) {
    status.failed_stage = st.name;
    throw;
  } catch (const std::exception& e) {
    status.failed_stage = st.name;
    throw Error(e.what());
  }
  for (const auto& out : st.outputs) {
    std::error_code ec;
    if (!fs::is_regular_file(out, ec)) {
      status.failed_stage = st.name;
      throw make_error("stage ", st.name, " did not produce ", out.filename().string());
    }
  }
  const double secs = seconds_since(t0);
  cache.record(st.name, key, st.outputs, secs);
  status.stages[st.name] = {{"status", "run"}, {"seconds", secs}};
  if (!st.args.empty()) status.stages[st.name]["command"] = command_string(st.args);
}

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  for (const auto& v : j) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

}  // namespace

json ScanStatus::to_json() const {
  return json{{"subject", subject},       {"session", session}, {"tracer", tracer},
              {"status", status},         {"error", error},     {"failed_stage", failed_stage},
              {"duration_s", duration_s}, {"stages", stages}};
}

ScanPaths scan_paths(const bids::PetScan& scan, const fs::path& out, const json& config) {
  ScanPaths p;
  p.subject = scan.subject;
  p.session = scan.session;
  p.tracer = config.value("tracer", scan.tracer);
  p.pet = scan.image;
  p.sidecar = scan.sidecar;
  if (!scan.t1w.empty()) p.t1 = scan.t1w.front();
  p.dir = out / ("sub-" + scan.subject);
  if (!scan.session.empty()) p.dir /= "ses-" + scan.session;
  p.pet_dir = p.dir / "pet";
  p.norm_dir = p.dir / "normalize";
  p.xfm_dir = p.norm_dir / "transforms";
  p.reference = config["reference"]["region"].get<std::string>();
  bids::Name src;
  if (auto n = bids::parse_name(scan.image.filename().string())) src = *n;
  src.set("sub", scan.subject);
  if (!src.get("trc") && !p.tracer.empty()) src.set("trc", p.tracer);
  p.stem = bids::derivative_name(src, {}, "x", "");
  p.stem.resize(p.stem.size() - 2);  // drop "_x"
  p.state_dir = p.dir / ".petpipe" / p.stem;
  auto d = [&](const std::vector<std::pair<std::string, std::string>>& e, const std::string& suffix,
               const std::string& ext) { return p.pet_dir / bids::derivative_name(src, e, suffix, ext); };
  p.mc = d({{"desc", "mc"}}, "pet", ".nii.gz");
  p.mc_json = d({{"desc", "mc"}}, "pet", ".json");
  p.mean = d({{"desc", "mean"}}, "pet", ".nii.gz");
  p.motion = d({}, "motion", ".tsv");
  p.motion_json = d({}, "motion", ".json");
  const std::string sub_ses = "sub-" + scan.subject + (scan.session.empty() ? "" : "_ses-" + scan.session);
  p.ref_mask = p.norm_dir / bids::derivative_name(src, {{"desc", p.reference}}, "mask", ".nii.gz");
  p.dseg = p.norm_dir / bids::derivative_name(src, {{"seg", "AAL"}}, "dseg", ".nii.gz");
  p.dseg_subvoxel = p.norm_dir / bids::derivative_name(src, {{"seg", "AAL"}, {"desc", "subvoxel"}}, "dseg", ".nii.gz");
  p.pet_in_t1 = p.norm_dir / bids::derivative_name(src, {{"space", "T1w"}, {"desc", "mean"}}, "pet", ".nii.gz");
  p.t1_mni = p.norm_dir / (sub_ses + "_space-MNIColin27_T1w.nii.gz");
  p.t1_coreg = p.norm_dir / (sub_ses + "_desc-coreg_T1w.nii.gz");
  for (const char* f : {"transforms.json", "pet_to_t1_rigid.txt", "t1_to_mni_affine.txt"})
    p.transforms.push_back(p.xfm_dir / f);
  auto map = [&](const std::string& meas) { return d({{"model", "SRTM"}, {"meas", meas}}, "mimap", ".nii.gz"); };
  p.bpnd = map("BPND");
  p.r1 = map("R1");
  p.k2 = map("k2");
  p.k2a = map("k2a");
  p.rss = map("RSS");
  p.gridedge = d({{"model", "SRTM"}, {"desc", "gridedge"}}, "mask", ".nii.gz");
  p.ref_tac = d({{"desc", "reference"}}, "tacs", ".tsv");
  const std::string fwhm = num(config["smooth"]["fwhm_mm"].get<double>());
  p.mni_bpnd = d({{"space", "MNIColin27"}, {"model", "SRTM"}, {"meas", "BPND"}}, "mimap", ".nii.gz");
  p.mni_sm_bpnd =
      d({{"space", "MNIColin27"}, {"desc", "sm" + fwhm}, {"model", "SRTM"}, {"meas", "BPND"}}, "mimap", ".nii.gz");
  p.roistats = d({{"seg", "AAL"}, {"desc", "sm" + fwhm}}, "roistats", ".tsv");
  p.tacs = d({{"seg", "AAL"}}, "tacs", ".tsv");
  p.fits = d({{"seg", "AAL"}, {"desc", "fits"}}, "tacs", ".tsv");
  p.kinpar = d({{"seg", "AAL"}, {"model", "SRTM"}}, "kinpar", ".tsv");
  p.h5 = p.dir / (p.stem + "_pet.h5");
  p.report = p.dir / (p.stem + "_report.html");
  p.status = p.dir / (p.stem + "_status.json");
  p.config = p.dir / (p.stem + "_config.json");
  return p;
}

namespace {

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const roi::Atlas& atlas);

// The QC report (petpipe report) from whatever the scan produced, for complete and failed scans alike.
// A report that cannot be written is a warning, never a failure of the scan.
void write_subject_report(const ScanPaths& p) {
  std::vector<std::string> args{"report", "--subject", "sub-" + p.subject, "--out", p.report.string(), "--force"};
  const std::vector<std::pair<const char*, fs::path>> inputs{
      {"--status", p.status},   {"--motion", p.motion},       {"--tacs", p.tacs},
      {"--fitted-tacs", p.fits}, {"--roistats", p.roistats},  {"--kinpar", p.kinpar},
      {"--bpnd", p.bpnd},       {"--bpnd-mni", p.mni_bpnd},   {"--atlas", p.dseg},
      {"--mean-pet", p.mean},   {"--ref-mask", p.ref_mask},   {"--t1", p.t1_coreg},
      {"--t1-mni", p.t1_mni},   {"--gridedge", p.gridedge}};
  std::error_code ec;
  for (const auto& [option, path] : inputs)
    if (!path.empty() && fs::is_regular_file(path, ec)) args.insert(args.end(), {option, path.string()});
  try {
    cli::run_in_process(args);
  } catch (const std::exception& e) {
    log::warn("sub-", p.subject, ": QC report not written: ", e.what());
  }
}

}  // namespace

ScanStatus run_scan(const bids::PetScan& scan, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ScanStatus status;
  status.subject = scan.subject;
  status.session = scan.session;
  status.tracer = scan.tracer;
  fs::path status_file;
  std::optional<ScanPaths> paths;
  bool report = true;
  try {
    const json cfg = effective_config(scan.tracer, options.user_config, options.config_source);
    status.tracer = cfg["tracer"];
    paths = scan_paths(scan, options.out, cfg);
    const ScanPaths& p = *paths;
    report = cfg["report"]["enabled"].get<bool>();
    status_file = p.status;
    fs::create_directories(p.pet_dir);
    fs::create_directories(p.state_dir);
    // The effective configuration, with every default, beside the outputs.
    Provenance prov;
    prov.configuration = cfg;
    prov.inputs = {p.pet, p.sidecar};
    if (!p.t1.empty()) prov.inputs.push_back(p.t1);
    write_json(p.config, prov.to_json());
    if (p.t1.empty())
      throw make_error("sub-", scan.subject, ": no T1w image in anat/ (needed for normalisation to MNI space)");
    const roi::Atlas atlas = roi::load_atlas(cfg["roi"]["atlas"].get<std::string>());
    const StageCache cache(p.state_dir);
    for (const Stage& st : subject_stages(p, cfg, atlas)) run_stage(st, cache, options.force, status);
    status.status = "complete";
  } catch (const std::exception& e) {
    status.status = "failed";
    status.error = e.what();
    log::error("sub-", scan.subject, (status.failed_stage.empty() ? "" : ": " + status.failed_stage), ": ", e.what());
  }
  status.duration_s = seconds_since(t0);
  if (status_file.empty()) {
    const fs::path dir = options.out / ("sub-" + scan.subject);
    status_file = dir / ("sub-" + scan.subject + (scan.tracer.empty() ? "" : "_trc-" + scan.tracer) + "_status.json");
  }
  try {
    write_json(status_file, status.to_json());
  } catch (const std::exception& e) {
    log::error("cannot write the status of sub-", scan.subject, ": ", e.what());
  }
  if (paths && report) write_subject_report(*paths);
  return status;
}

void write_run_summary(const fs::path& out) {
  std::vector<json> rows;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out, ec); it != fs::recursive_directory_iterator(); ++it) {
    const std::string n = it->path().filename().string();
    if (it->is_directory() && (n == ".petpipe" || n == "group" || n == "slurm")) {
      it.disable_recursion_pending();
      continue;
    }
    if (n.size() > 12 && n.compare(n.size() - 12, 12, "_status.json") == 0 && n.rfind("sub-", 0) == 0) {
      try {
        rows.push_back(read_json(it->path()));
      } catch (const Error& e) {
        log::warn(e.what());
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    return std::make_tuple(a.value("subject", ""), a.value("session", ""), a.value("tracer", "")) <
           std::make_tuple(b.value("subject", ""), b.value("session", ""), b.value("tracer", ""));
  });
  Table t;
  t.columns = {"participant_id", "session", "tracer", "status", "duration_s", "failed_stage", "error"};
  json summary = json::array();
  for (const auto& r : rows) {
    std::string err = r.value("error", "");
    for (char& c : err)
      if (c == '\t' || c == '\n') c = ' ';
    t.add_row({"sub-" + r.value("subject", ""), r.value("session", ""), r.value("tracer", ""), r.value("status", ""),
               format_number(r.value("duration_s", 0.0), 6), r.value("failed_stage", ""), err});
    summary.push_back(r);
  }
  write_tsv(out / "run_summary.tsv", t);
  write_json(out / "run_summary.json", json{{"scans", summary}});
}

std::size_t run_cohort(const RunOptions& options) {
  const bids::Dataset ds = bids::scan_dataset(options.bids, options.participants);
  if (ds.pet.empty()) throw make_error(options.bids.string(), ": no PET scans (sub-*/pet/*_pet.nii[.gz])");
  fs::create_directories(options.out);
  // The derivatives folder is itself a BIDS derivatives dataset.
  std::error_code ec;
  if (!fs::exists(options.out / "dataset_description.json", ec))
    write_json(options.out / "dataset_description.json",
               json{{"Name", "petpipe derivatives of " + (ds.name.empty() ? options.bids.filename().string() : ds.name)},
                    {"BIDSVersion", "1.8.0"},
                    {"DatasetType", "derivative"},
                    {"GeneratedBy", json::array({{{"Name", "petpipe"}, {"Version", version_string()}}})}});
  if (ds.participants) {
    const fs::path copy = options.out / "participants.tsv";
    std::string text;
    {
      std::ifstream in(*ds.participants);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    write_text(copy, text);
  }
  std::size_t failed = 0;
  std::size_t n = 0;
  for (const auto& scan : ds.pet) {
    ++n;
    log::info("[", n, "/", ds.pet.size(), "] sub-", scan.subject, (scan.tracer.empty() ? "" : " " + scan.tracer));
    const ScanStatus st = run_scan(scan, options);
    if (st.status != "complete") ++failed;
    write_run_summary(options.out);
  }
  return failed;
}

namespace {

// Appends a string column to a table (same number of rows).
void add_column(Table& t, const std::string& name, const std::vector<double>& values) {
  if (values.size() != t.rows.size())
    throw make_error("column ", name, ": ", values.size(), " values for ", t.rows.size(), " rows");
  t.columns.push_back(name);
  for (std::size_t r = 0; r < t.rows.size(); ++r) t.rows[r].push_back(format_number(values[r], 10));
}

// The value column of a one-column TAC table (frame_start, frame_end, value).
std::vector<double> tac_column(const Table& t, const fs::path& file) {
  for (const auto& c : t.columns)
    if (c != "frame_start" && c != "frame_end") return t.numeric_column(c);
  throw make_error(file.string(), ": no value column");
}

// roi.native_weights is checked by effective_config (fractional or nearest).
bool native_weights_fractional(const json& cfg) { return cfg["roi"]["native_weights"].get<std::string>() == "fractional"; }

// Regional TACs in PET space (petpipe roi on the realigned PET with the native AAL labels: fractional
// weights from the sub-voxel labels, or the nearest-neighbour labels) plus the reference TAC as a
// "reference" column.
void regional_tacs_stage(const ScanPaths& p, const json& cfg, const std::vector<std::string>& regions) {
  const fs::path tmp = p.state_dir / "roi_tacs.tsv";
  const bool fractional = native_weights_fractional(cfg);
  std::vector<std::string> args{"roi", "--in", p.mc.string(), "--atlas", cfg["roi"]["atlas"].get<std::string>(),
                                "--labels", (fractional ? p.dseg_subvoxel : p.dseg).string(), "--out", tmp.string(),
                                "--force"};
  if (fractional) args.push_back("--fractional");
  args.push_back("--rois");
  args.insert(args.end(), regions.begin(), regions.end());
  cli::run_in_process(args);
  Table t = read_tsv(tmp);
  const Table ref = read_tsv(p.ref_tac);
  add_column(t, "reference", tac_column(ref, p.ref_tac));
  write_tsv(p.tacs, t);
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::remove(sidecar_path(tmp), ec);
}

// Regional SRTM by nonlinear least squares on the regional TACs.
void regional_fits_stage(const ScanPaths& p, const json& cfg) {
  const Table tacs = read_tsv(p.tacs);
  const FrameTable frames = read_pet_sidecar(p.mc_json, 0, nullptr);
  if (frames.size() != tacs.rows.size())
    throw make_error(p.tacs.filename().string(), ": ", tacs.rows.size(), " rows for ", frames.size(), " frames");
  const auto ft = kinetics::FrameTimes::from(frames);
  const std::vector<double> ref = tacs.numeric_column("reference");
  kinetics::NllsOptions o;
  const auto scheme = kinetics::parse_weight_scheme(cfg["srtm"]["weights"].get<std::string>());
  o.weights = kinetics::frame_weights(scheme, frames, ref);
  if (!frames.decay_corrected) o.decay_constant_per_min = frames.decay_constant_per_s() * 60.0;
  Table fits;
  fits.columns = {"frame_start", "frame_end"};
  for (std::size_t f = 0; f < frames.size(); ++f)
    fits.rows.push_back({format_number(frames.start_s[f], 10), format_number(frames.end_s(f), 10)});
  Table kin;
  kin.columns = {"roi", "R1", "k2", "k2a", "BPND", "se_R1", "se_k2", "se_BPND", "rss", "converged", "at_bound"};
  for (const auto& c : tacs.columns) {
    if (c == "frame_start" || c == "frame_end" || c == "reference") continue;
    const auto y = tacs.numeric_column(c);
    bool finite = true;
    for (double v : y) finite = finite && std::isfinite(v);
    if (!finite) {
      log::warn("sub-", p.subject, ": ", c, ": TAC has n/a frames; no regional fit");
      add_column(fits, c, std::vector<double>(frames.size(), std::nan("")));
      kin.add_row({c, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "0", "0"});
      continue;
    }
    const kinetics::SrtmFit fit = kinetics::srtm_nlls(ft, ref, y, o);
    add_column(fits, c, fit.fitted);
    kin.add_row({c, format_number(fit.r1), format_number(fit.k2), format_number(fit.k2a), format_number(fit.bpnd),
                 format_number(fit.se_r1), format_number(fit.se_k2), format_number(fit.se_bpnd),
                 format_number(fit.rss), fit.converged ? "1" : "0", fit.at_bound ? "1" : "0"});
  }
  add_column(fits, "reference", ref);
  write_tsv(p.fits, fits);
  write_tsv(p.kinpar, kin);
}

// Table -> HDF5 group: one dataset per numeric column, the column names as a string dataset.
void table_to_h5(H5File& h5, const std::string& group, const Table& t) {
  std::vector<std::string> names;
  for (const auto& c : t.columns) {
    std::vector<double> v;
    try {
      v = t.numeric_column(c);
    } catch (const Error&) {
      h5.write_strings(group + "/" + c, t.string_column(c));
      names.push_back(c);
      continue;
    }
    h5.write(group + "/" + c, v);
    names.push_back(c);
  }
  h5.write_strings(group + "/columns", names);
}

void hdf5_stage(const ScanPaths& p, const json& cfg) {
  H5File h5(p.h5, H5File::Mode::create);
  h5.set_attribute("/", "subject", p.subject);
  h5.set_attribute("/", "tracer", p.tracer);
  h5.set_attribute("/", "petpipe_version", version_string());
  h5.set_attribute("/", "git_hash", git_hash());
  h5.set_attribute("/", "configuration", cfg.dump());
  const FrameTable frames = read_pet_sidecar(p.mc_json, 0, nullptr);
  h5.write("/frames/start_s", frames.start_s);
  h5.write("/frames/duration_s", frames.duration_s);
  h5.set_attribute("/frames", "decay_corrected", frames.decay_corrected ? "true" : "false");
  h5.set_attribute("/frames", "half_life_s", frames.half_life_s);
  table_to_h5(h5, "/motion", read_tsv(p.motion));
  table_to_h5(h5, "/tacs/measured", read_tsv(p.tacs));
  h5.set_attribute("/tacs/measured", "units", frames.units);
  if (cfg["roi"]["regional_fits"].get<bool>()) {
    table_to_h5(h5, "/tacs/fitted", read_tsv(p.fits));
    table_to_h5(h5, "/fits/srtm_nlls", read_tsv(p.kinpar));
  }
  table_to_h5(h5, "/roi/mni_smoothed_bpnd", read_tsv(p.roistats));
  const json tj = read_json(p.xfm_dir / "transforms.json");
  h5.set_attribute("/transforms", "description", tj.dump());
  h5.close();
}

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const roi::Atlas& atlas) {
  std::vector<Stage> stages;
  const json& rc = cfg["realign"];
  {
    Stage s;
    s.name = "realign";
    s.args = {"realign", "--pet", p.pet.string(), "--out", p.pet_dir.string(), "--force",
              "--fwhm", num(rc["fwhm_mm"]), "--metric", rc["metric"].get<std::string>(),
              "--refine-target", rc["refine_target"].get<std::string>(), "--reference-metric",
              rc["reference_metric"].get<std::string>(), "--model-metric", rc["model_metric"].get<std::string>(), "--interp",
              rc["interpolation"].get<std::string>(), "--start-time", num(rc["start_time_s"]),
              "--empty-fraction", num(rc["empty_fraction"]), "--excluded", rc["excluded_policy"].get<std::string>()};
    if (rc["reference_frame"].get<int>() > 0) {
      s.args.push_back("--ref-frame");
      s.args.push_back(std::to_string(rc["reference_frame"].get<int>()));
    }
    if (!rc["exclude_frames"].empty()) {
      s.args.push_back("--exclude-frames");
      for (const auto& f : string_list(rc["exclude_frames"])) s.args.push_back(f);
    }
    s.inputs = {p.pet, p.sidecar};
    s.outputs = {p.mc, p.mc_json, p.mean, p.motion, p.motion_json};
    stages.push_back(s);
  }
  const json& nc = cfg["normalize"];
  const std::string atlas_name = cfg["roi"]["atlas"].get<std::string>();
  {
    Stage s;
    s.name = "normalize";
    s.args = {"normalize", "--pet-mean", p.mean.string(), "--t1", p.t1.string(), "--out", p.norm_dir.string(),
              "--tracer", p.tracer, "--reference", p.reference, "--atlas", atlas_name,
              "--template", nc["template"].get<std::string>(), "--working-spacing", num(nc["working_spacing_mm"]),
              "--deformable", nc["deformable_method"].get<std::string>(), "--force"};
    if (!nc["deformable"].get<bool>()) s.args.push_back("--affine-only");
    if (!cfg["reference"]["trim"].get<bool>()) s.args.push_back("--no-trim");
    if (cfg["reference"]["gm_mask"].get<bool>()) s.args.push_back("--gm-mask");
    s.inputs = {p.mean, p.t1, atlas.definition_file};
    s.outputs = p.transforms;
    s.outputs.insert(s.outputs.end(), {p.t1_mni, p.pet_in_t1, p.t1_coreg, p.dseg, p.dseg_subvoxel, p.ref_mask});
    stages.push_back(s);
  }
  const json& sc = cfg["srtm"];
  {
    Stage s;
    s.name = "srtm";
    s.args = {"srtm", "--pet", p.mc.string(), "--ref-mask", p.ref_mask.string(), "--out", p.pet_dir.string(),
              "--tracer", p.tracer, "--weights", sc["weights"].get<std::string>(),
              "--theta3-min", num(sc["theta3_min_per_min"]), "--theta3-max", num(sc["theta3_max_per_min"]),
              "--basis", std::to_string(sc["basis_functions"].get<int>()),
              "--mask-threshold", num(sc["mask_threshold_fraction"]), "--force"};
    s.inputs = {p.mc, p.mc_json, p.ref_mask};
    s.outputs = {p.bpnd, p.r1, p.k2, p.k2a, p.rss, p.gridedge, p.ref_tac};
    stages.push_back(s);
  }
  {
    Stage s;
    s.name = "warp";
    s.args = {"normalize", "--apply", "--in", p.bpnd.string(), "--transforms", p.xfm_dir.string(),
              "--out", p.mni_bpnd.string(), "--spacing", num(cfg["mni"]["voxel_mm"]), "--force"};
    s.inputs = {p.bpnd};
    s.inputs.insert(s.inputs.end(), p.transforms.begin(), p.transforms.end());
    s.outputs = {p.mni_bpnd};
    stages.push_back(s);
  }
  {
    Stage s;
    s.name = "smooth";
    s.args = {"smooth", "--in", p.mni_bpnd.string(), "--out", p.mni_sm_bpnd.string(), "--fwhm",
              num(cfg["smooth"]["fwhm_mm"]), "--force"};
    s.inputs = {p.mni_bpnd};
    s.outputs = {p.mni_sm_bpnd};
    stages.push_back(s);
  }
  const std::vector<std::string> regions = string_list(cfg["roi"]["regions"]);
  {
    Stage s;
    s.name = "roistats";
    s.args = {"roi", "--in", p.mni_sm_bpnd.string(), "--atlas", atlas_name, "--out", p.roistats.string(), "--force",
              "--rois"};
    s.args.insert(s.args.end(), regions.begin(), regions.end());
    s.inputs = {p.mni_sm_bpnd, atlas.definition_file};
    s.outputs = {p.roistats};
    stages.push_back(s);
  }
  // Regions that can be formed from labels in PET space (those cut by MNI planes cannot).
  std::vector<std::string> native_regions;
  for (const auto& r : regions)
    if (atlas.region(r).limits.empty()) native_regions.push_back(r);
  {
    Stage s;
    s.name = "tacs";
    const bool fractional = native_weights_fractional(cfg);
    s.parameters = {{"regions", native_regions}, {"atlas", atlas_name},
                    {"native_weights", cfg["roi"]["native_weights"]}};
    s.body = [p, cfg, native_regions] { regional_tacs_stage(p, cfg, native_regions); };
    s.inputs = {p.mc, p.mc_json, fractional ? p.dseg_subvoxel : p.dseg, p.ref_tac, atlas.definition_file};
    s.outputs = {p.tacs};
    stages.push_back(s);
  }
  if (cfg["roi"]["regional_fits"].get<bool>()) {
    Stage s;
    s.name = "fits";
    s.parameters = {{"weights", sc["weights"]}, {"model", "SRTM NLLS"}};
    s.body = [p, cfg] { regional_fits_stage(p, cfg); };
    s.inputs = {p.tacs, p.mc_json};
    s.outputs = {p.fits, p.kinpar};
    stages.push_back(s);
  }
  {
    Stage s;
    s.name = "hdf5";
    s.parameters = cfg;
    s.body = [p, cfg] { hdf5_stage(p, cfg); };
    s.inputs = {p.mc_json, p.motion, p.tacs, p.roistats, p.xfm_dir / "transforms.json"};
    if (cfg["roi"]["regional_fits"].get<bool>()) s.inputs.insert(s.inputs.end(), {p.fits, p.kinpar});
    s.outputs = {p.h5};
    stages.push_back(s);
  }
  return stages;
}

}  // namespace

}  // namespace petpipe::pipeline
