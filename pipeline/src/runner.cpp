#include "petpipe/pipeline/runner.hpp"

#include <chrono>
#include <cmath>
#include <functional>
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
  p.anat_dir = p.dir / "anat";
  p.xfm_dir = p.dir / "xfm";
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
  p.ref_mask = d({{"desc", "ref"}}, "mask", ".nii.gz");
  p.dseg = d({{"seg", "AAL"}}, "dseg", ".nii.gz");
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
  p.t1_mni = p.anat_dir / ("sub-" + scan.subject + (scan.session.empty() ? "" : "_ses-" + scan.session) +
                           "_space-MNIColin27_T1w.nii.gz");
  p.h5 = p.dir / (p.stem + "_pet.h5");
  p.report = p.dir / (p.stem + "_report.html");
  p.status = p.dir / (p.stem + "_status.json");
  p.config = p.dir / (p.stem + "_config.json");
  return p;
}

namespace {

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const roi::Atlas& atlas);

}  // namespace

ScanStatus run_scan(const bids::PetScan& scan, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ScanStatus status;
  status.subject = scan.subject;
  status.session = scan.session;
  status.tracer = scan.tracer;
  fs::path status_file;
  try {
    const json cfg = effective_config(scan.tracer, options.user_config, options.config_source);
    status.tracer = cfg["tracer"];
    const ScanPaths p = scan_paths(scan, options.out, cfg);
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

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const roi::Atlas& atlas) {
  std::vector<Stage> stages;
  const json& rc = cfg["realign"];
  {
    Stage s;
    s.name = "realign";
    s.args = {"realign", "--pet", p.pet.string(), "--out", p.pet_dir.string(), "--force",
              "--fwhm", num(rc["fwhm_mm"]), "--metric", rc["metric"].get<std::string>(), "--interp", rc["interpolation"].get<std::string>(),
              "--start-time", num(rc["start_time_s"]), "--empty-fraction", num(rc["empty_fraction"]),
              "--excluded", rc["excluded_policy"].get<std::string>()};
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
  (void)atlas;
  return stages;
}

}  // namespace

}  // namespace petpipe::pipeline
