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
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/pipeline/stages.hpp"
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


// One stage: a petpipe subcommand called as a function, or an in-process step (body), with the files it
// reads and writes.
struct Stage {
  std::string name;
  std::vector<std::string> args;  // the subcommand's equivalent command line (empty: an in-process step)
  std::function<void()> body;
  std::vector<fs::path> inputs;
  std::vector<fs::path> outputs;
  json parameters;
};


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


}  // namespace

std::string command_string(const std::vector<std::string>& args) {
  std::string s = "petpipe";
  for (const auto& a : args) s += " " + (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
  return s;
}

void with_command_line(const std::vector<std::string>& args, const std::function<void()>& body) {
  const std::string saved = command_line();
  std::vector<const char*> argv{"petpipe"};
  for (const auto& a : args) argv.push_back(a.c_str());
  set_command_line(static_cast<int>(argv.size()), argv.data());
  try {
    body();
  } catch (...) {
    const char* old[] = {saved.c_str()};
    set_command_line(1, old);
    throw;
  }
  const char* old[] = {saved.c_str()};
  set_command_line(1, old);
}

json ScanStatus::to_json() const {
  return json{{"subject", subject},       {"session", session}, {"tracer", tracer}, {"stem", stem},
              {"status", status},         {"error", error},     {"failed_stage", failed_stage},
              {"duration_s", duration_s}, {"stages", stages}};
}

ScanPaths scan_paths(const bids::PetScan& scan, const fs::path& out, const json& config) {
  const StudyParams sp = study_params(config, "configuration");
  const std::string tracer = config.value("tracer", scan.tracer);
  const fs::path t1 = scan.t1w.empty() ? fs::path() : scan.t1w.front();
  std::string reference = sp.reference.region;
  if (reference.empty()) reference = "reference";
  ScanPaths p;
  static_cast<layout::ScanLayout&>(p) = layout::scan_layout(out, scan.subject, scan.session, tracer, scan.image, t1,
                                                            reference, sp.smooth.fwhm_mm[0]);
  p.pet = scan.image;
  p.sidecar = scan.sidecar;
  p.t1 = t1;
  if (!sp.reference_source.subject_mask.empty())
    p.subject_ref_mask = layout::subject_reference_mask(sp.reference_source.subject_mask, scan.subject, scan.session, p.stem);
  return p;
}

namespace {

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const StudyParams& sp, const roi::Atlas& atlas);

// The QC report (petpipe report) from whatever the scan produced, for complete and failed scans alike.
// A report that cannot be written is a warning, never a failure of the scan.
void write_subject_report(const ScanPaths& p, const ReportQcParams& qc) {
  std::vector<std::string> args{"report", "--subject", "sub-" + p.subject, "--out", p.report.string(), "--force"};
  const auto qc_args = report_qc_table().to_args(qc);
  args.insert(args.end(), qc_args.begin(), qc_args.end());
  const std::vector<std::pair<const char*, fs::path>> inputs{
      {"--status", p.status},
      {"--motion", p.realign.motion},
      {"--tacs", p.tacs},
      {"--fitted-tacs", p.fits},
      {"--roistats", p.roistats},
      {"--kinpar", p.kinpar},
      {"--bpnd", p.srtm.map("BPND")},
      {"--bpnd-mni", p.mni_map("BPND")},
      {"--atlas", p.normalize.dseg},
      {"--mean-pet", p.realign.mean},
      {"--ref-mask", p.subject_ref_mask.empty() ? p.ref_mask : p.subject_ref_mask},
      {"--t1", p.normalize.t1_coreg},
      {"--t1-mni", p.normalize.t1_mni},
      {"--gridedge", p.srtm.gridedge}};
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

std::vector<json> scan_configs(const bids::Dataset& ds, const RunOptions& options) {
  std::vector<json> configs;
  for (const auto& scan : ds.pet) {
    json cfg = with_context("sub-" + scan.subject + (scan.session.empty() ? "" : " ses-" + scan.session) + " (" +
                                scan.image.filename().string() + ")",
                            [&] { return effective_config(scan.tracer, options.user_config, options.config_source); });
    configs.push_back(std::move(cfg));
  }
  return configs;
}

ScanStatus run_scan(const bids::PetScan& scan, const json& cfg, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ScanStatus status;
  status.subject = scan.subject;
  status.session = scan.session;
  status.tracer = scan.tracer;
  fs::path status_file;
  std::optional<ScanPaths> paths;
  bool report = true;
  ReportQcParams report_qc;
  try {
    status.tracer = cfg["tracer"];
    paths = scan_paths(scan, options.out, cfg);
    const ScanPaths& p = *paths;
    status.stem = p.stem;
    const StudyParams sp = study_params(cfg, options.config_source);
    report = sp.report.enabled;
    report_qc = sp.report_qc;
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
    if (!p.subject_ref_mask.empty() && !fs::is_regular_file(p.subject_ref_mask))
      throw make_error(p.subject_ref_mask.string(), ": reference mask not found (reference.subject_mask)");
    const roi::Atlas atlas = roi::load_atlas(sp.roi.atlas);
    const StageCache cache(p.state_dir);
    for (const Stage& st : subject_stages(p, cfg, sp, atlas)) run_stage(st, cache, options.force, status);
    status.status = "complete";
  } catch (const std::exception& e) {
    status.status = "failed";
    status.error = e.what();
    log::error("sub-", scan.subject, (status.failed_stage.empty() ? "" : ": " + status.failed_stage), ": ", e.what());
  }
  status.duration_s = seconds_since(t0);
  if (status_file.empty()) status_file = layout::fallback_status(options.out, scan.subject, scan.tracer);
  try {
    write_json(status_file, status.to_json());
  } catch (const std::exception& e) {
    log::error("cannot write the status of sub-", scan.subject, ": ", e.what());
  }
  if (paths && report) write_subject_report(*paths, report_qc);
  return status;
}

void write_run_summary(const fs::path& out) {
  std::vector<json> rows;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out, ec); it != fs::recursive_directory_iterator(); ++it) {
    const std::string n = it->path().filename().string();
    if (it->is_directory() && layout::is_internal_dir(n)) {
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
  const layout::CohortLayout cl = layout::cohort_layout(out);
  write_tsv(cl.run_summary_tsv, t);
  write_json(cl.run_summary_json, json{{"scans", summary}});
}

std::size_t run_cohort(const RunOptions& options) {
  const bids::Dataset ds = bids::scan_dataset(options.bids, options.participants);
  if (ds.pet.empty()) throw make_error(options.bids.string(), ": no PET scans (sub-*/pet/*_pet.nii[.gz])");
  // Every scan's configuration is checked before anything is written.
  const std::vector<json> configs = scan_configs(ds, options);
  const layout::CohortLayout cl = layout::cohort_layout(options.out);
  fs::create_directories(options.out);
  // The derivatives folder is itself a BIDS derivatives dataset.
  std::error_code ec;
  if (!fs::exists(cl.dataset_description, ec))
    write_json(cl.dataset_description,
               json{{"Name", "petpipe derivatives of " + (ds.name.empty() ? options.bids.filename().string() : ds.name)},
                    {"BIDSVersion", "1.8.0"},
                    {"DatasetType", "derivative"},
                    {"GeneratedBy", json::array({{{"Name", "petpipe"}, {"Version", version_string()}}})}});
  if (ds.participants) {
    const fs::path copy = cl.participants;
    std::string text;
    {
      std::ifstream in(*ds.participants);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    write_text(copy, text);
  }
  std::size_t failed = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < ds.pet.size(); ++i) {
    const auto& scan = ds.pet[i];
    ++n;
    log::info("[", n, "/", ds.pet.size(), "] sub-", scan.subject, (scan.tracer.empty() ? "" : " " + scan.tracer));
    const ScanStatus st = run_scan(scan, configs[i], options);
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

// Regional TACs in PET space (petpipe roi on the realigned PET with the native AAL labels: fractional
// weights from the sub-voxel labels, or the nearest-neighbour labels) plus the reference TAC as a
// "reference" column.
RoiRequest regional_tacs_request(const ScanPaths& p, const StudyParams& sp, const std::vector<std::string>& regions,
                                  const fs::path& out) {
  RoiRequest r;
  r.in = {p.realign.mc};
  r.fractional = sp.regional.native_weights == NativeWeights::fractional;
  r.labels = r.fractional ? p.normalize.dseg_subvoxel : p.normalize.dseg;
  r.out = out;
  r.force = true;
  r.params = sp.roi;
  r.params.regions = regions;
  return r;
}

void regional_tacs_stage(const ScanPaths& p, const StudyParams& sp, const std::vector<std::string>& regions) {
  const fs::path tmp = p.state_dir / "roi_tacs.tsv";
  const RoiRequest r = regional_tacs_request(p, sp, regions, tmp);
  with_command_line(request_args(r), [&] { run_roi(r); });
  Table t = read_tsv(tmp);
  const Table ref = read_tsv(p.srtm.ref_tac);
  add_column(t, "reference", tac_column(ref, p.srtm.ref_tac));
  write_tsv(p.tacs, t);
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::remove(layout::table_sidecar(tmp), ec);
}

// Regional SRTM by nonlinear least squares on the regional TACs (kinetics::fit_srtm_regions).
void regional_fits_stage(const ScanPaths& p, const StudyParams& sp) {
  const Table tacs = read_tsv(p.tacs);
  const FrameTable frames = read_pet_sidecar(p.realign.mc_json, 0, nullptr);
  if (frames.size() != tacs.rows.size())
    throw make_error(p.tacs.filename().string(), ": ", tacs.rows.size(), " rows for ", frames.size(), " frames");
  const std::vector<double> ref = tacs.numeric_column("reference");
  std::vector<std::pair<std::string, std::vector<double>>> regions;
  for (const auto& c : tacs.columns)
    if (c != "frame_start" && c != "frame_end" && c != "reference") regions.emplace_back(c, tacs.numeric_column(c));
  kinetics::RegionalSrtmOptions o;
  o.weights = sp.srtm.weights;
  const kinetics::RegionalSrtmResult r = kinetics::fit_srtm_regions(frames, ref, regions, o);
  Table fits;
  fits.columns = {"frame_start", "frame_end"};
  for (std::size_t f = 0; f < frames.size(); ++f)
    fits.rows.push_back({format_number(frames.start_s[f], 10), format_number(frames.end_s(f), 10)});
  Table kin;
  kin.columns = {"roi", "R1", "k2", "k2a", "BPND", "se_R1", "se_k2", "se_BPND", "rss", "converged", "at_bound"};
  for (std::size_t i = 0; i < r.names.size(); ++i) {
    const std::string& c = r.names[i];
    if (!r.fitted[i]) {
      log::warn("sub-", p.subject, ": ", c, ": TAC has n/a frames; no regional fit");
      add_column(fits, c, std::vector<double>(frames.size(), std::nan("")));
      kin.add_row({c, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "0", "0"});
      continue;
    }
    const kinetics::SrtmFit& fit = r.fits[i];
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

void hdf5_stage(const ScanPaths& p, const json& cfg, const StudyParams& sp) {
  H5File h5(p.h5, H5File::Mode::create);
  h5.set_attribute("/", "subject", p.subject);
  h5.set_attribute("/", "tracer", p.tracer);
  h5.set_attribute("/", "petpipe_version", version_string());
  h5.set_attribute("/", "git_hash", git_hash());
  h5.set_attribute("/", "configuration", cfg.dump());
  const FrameTable frames = read_pet_sidecar(p.realign.mc_json, 0, nullptr);
  h5.write("/frames/start_s", frames.start_s);
  h5.write("/frames/duration_s", frames.duration_s);
  h5.set_attribute("/frames", "decay_corrected", frames.decay_corrected ? "true" : "false");
  h5.set_attribute("/frames", "half_life_s", frames.half_life_s);
  table_to_h5(h5, "/motion", read_tsv(p.realign.motion));
  table_to_h5(h5, "/tacs/measured", read_tsv(p.tacs));
  h5.set_attribute("/tacs/measured", "units", frames.units);
  if (sp.regional.regional_fits) {
    table_to_h5(h5, "/tacs/fitted", read_tsv(p.fits));
    table_to_h5(h5, "/fits/srtm_nlls", read_tsv(p.kinpar));
  }
  table_to_h5(h5, "/roi/mni_smoothed_bpnd", read_tsv(p.roistats));
  const json tj = read_json(p.normalize.transforms_json);
  h5.set_attribute("/transforms", "description", tj.dump());
  h5.close();
}

// A subcommand called as a function with its typed request; the stage records its command line.
template <class Request, class Run>
Stage typed_stage(const std::string& name, const Request& request, Run run, std::vector<fs::path> inputs,
                  std::vector<fs::path> outputs) {
  Stage s;
  s.name = name;
  s.args = request_args(request);
  s.body = [request, run, args = s.args] { with_command_line(args, [&] { run(request); }); };
  s.inputs = std::move(inputs);
  s.outputs = std::move(outputs);
  return s;
}

std::vector<Stage> subject_stages(const ScanPaths& p, const json& cfg, const StudyParams& sp, const roi::Atlas& atlas) {
  std::vector<Stage> stages;
  const auto& rf = p.realign;
  const auto& nf = p.normalize;
  {
    RealignRequest r;
    r.pet = p.pet;
    r.out = p.pet_dir;
    r.force = true;
    r.params = sp.realign;
    stages.push_back(typed_stage("realign", r, &run_realign, {p.pet, p.sidecar},
                                 {rf.mc, rf.mc_json, rf.mean, rf.motion, rf.motion_json}));
  }

  // Normalisation; the reference region is placed in PET space by it (an atlas region), warped from an
  // MNI-space mask (reference.mni_mask), or given per subject (reference.subject_mask).
  const bool atlas_reference = sp.reference_source.mni_mask.empty() && sp.reference_source.subject_mask.empty();
  {
    NormalizeRequest r;
    r.pet = rf.mean;
    r.t1 = p.t1;
    r.out = nf.dir;
    r.atlas = sp.roi.atlas;
    r.force = true;
    r.params = sp.normalize;
    if (atlas_reference) r.reference = sp.reference;
    else r.reference.region.clear();
    std::vector<fs::path> outputs = nf.transforms();
    outputs.insert(outputs.end(), {nf.t1_mni, nf.pet_in_t1, nf.t1_coreg, nf.dseg, nf.dseg_subvoxel});
    if (atlas_reference) outputs.push_back(p.ref_mask);
    stages.push_back(typed_stage("normalize", r, &run_normalize, {rf.mean, p.t1, atlas.definition_file}, outputs));
  }
  fs::path ref_mask = p.ref_mask;
  if (!sp.reference_source.mni_mask.empty()) {
    ApplyRequest r;
    r.in = sp.reference_source.mni_mask;
    r.transforms = nf.xfm_dir;
    r.like = rf.mean;
    r.out = p.ref_mask;
    r.inverse = true;
    r.labels = true;
    r.force = true;
    stages.push_back(typed_stage("reference", r, &run_apply,
                                 {fs::path(sp.reference_source.mni_mask), rf.mean, nf.transforms_json, nf.pet_to_t1,
                                  nf.t1_to_mni_affine},
                                 {p.ref_mask}));
  } else if (!p.subject_ref_mask.empty()) {
    ref_mask = p.subject_ref_mask;
  }
  {
    SrtmRequest r;
    r.pet = rf.mc;
    r.ref_mask = ref_mask;
    r.out = p.pet_dir;
    r.tracer = p.tracer;
    r.force = true;
    r.params = sp.srtm;
    stages.push_back(typed_stage("srtm", r, &run_srtm, {rf.mc, rf.mc_json, ref_mask}, p.srtm.all()));
  }
  {
    std::vector<fs::path> in{p.srtm.map("BPND")};
    for (const auto& t : nf.transforms()) in.push_back(t);
    ApplyRequest r;
    r.in = p.srtm.map("BPND");
    r.transforms = nf.xfm_dir;
    r.out = p.mni_map("BPND");
    r.force = true;
    r.params = sp.mni;
    stages.push_back(typed_stage("warp", r, &run_apply, in, {p.mni_map("BPND")}));
  }
  {
    SmoothRequest r;
    r.in = p.mni_map("BPND");
    r.out = p.mni_sm_map("BPND");
    r.force = true;
    r.params = sp.smooth;
    stages.push_back(typed_stage("smooth", r, &run_smooth, {p.mni_map("BPND")}, {p.mni_sm_map("BPND")}));
  }
  {
    RoiRequest r;
    r.in = {p.mni_sm_map("BPND")};
    r.out = p.roistats;
    r.force = true;
    r.params = sp.roi;
    stages.push_back(typed_stage("roistats", r, &run_roi, {p.mni_sm_map("BPND"), atlas.definition_file}, {p.roistats}));
  }
  // Regions that can be formed from labels in PET space (those cut by MNI planes cannot).
  std::vector<std::string> native_regions;
  if (sp.roi.regions.empty()) {
    for (const auto& r : atlas.regions)
      if (r.limits.empty()) native_regions.push_back(r.name);
  } else {
    for (const auto& r : sp.roi.regions)
      if (atlas.region(r).limits.empty()) native_regions.push_back(r);
  }
  {
    Stage s;
    s.name = "tacs";
    const bool fractional = sp.regional.native_weights == NativeWeights::fractional;
    s.parameters = {{"command", request_args(regional_tacs_request(p, sp, native_regions, p.state_dir / "roi_tacs.tsv"))}};
    s.body = [p, sp, native_regions] { regional_tacs_stage(p, sp, native_regions); };
    s.inputs = {rf.mc, rf.mc_json, fractional ? nf.dseg_subvoxel : nf.dseg, p.srtm.ref_tac, atlas.definition_file};
    s.outputs = {p.tacs};
    stages.push_back(s);
  }
  if (sp.regional.regional_fits) {
    Stage s;
    s.name = "fits";
    s.parameters = {{"weights", srtm_table().to_json(sp.srtm)["weights"]}, {"model", "SRTM NLLS"}};
    s.body = [p, sp] { regional_fits_stage(p, sp); };
    s.inputs = {p.tacs, rf.mc_json};
    s.outputs = {p.fits, p.kinpar};
    stages.push_back(s);
  }
  {
    Stage s;
    s.name = "hdf5";
    s.parameters = cfg;
    s.body = [p, cfg, sp] { hdf5_stage(p, cfg, sp); };
    s.inputs = {rf.mc_json, rf.motion, p.tacs, p.roistats, nf.transforms_json};
    if (sp.regional.regional_fits) s.inputs.insert(s.inputs.end(), {p.fits, p.kinpar});
    s.outputs = {p.h5};
    stages.push_back(s);
  }
  return stages;
}

}  // namespace

}  // namespace petpipe::pipeline
