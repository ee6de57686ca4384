// petpipe report: self-contained HTML QC reports for a subject (from the runner's derivatives or from
// explicit files) and for the group.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/qc/report.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::cli {

namespace {

std::string strip_sub(std::string s) { return s.rfind("sub-", 0) == 0 ? s.substr(4) : s; }

std::string opt(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

// First file named `name` below `dir` (depth-first), or empty.
fs::path find_below(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && it->path().filename() == name) return it->path();
  }
  return {};
}

// Loads an optional input: records the source, or the reason it is missing.
template <typename T, typename Load>
void load_item(std::optional<T>& into, const fs::path& path, const std::string& key, const std::string& expected,
               qc::SubjectReportInputs& in, Load load) {
  std::error_code ec;
  if (path.empty()) {
    in.missing[key] = expected.empty() ? "not provided" : "not found (" + expected + ")";
    return;
  }
  if (!fs::exists(path, ec)) {
    in.missing[key] = path.string() + ": not found";
    return;
  }
  try {
    into = load(path);
    in.sources[key] = path.string();
  } catch (const std::exception& e) {
    in.missing[key] = e.what();
    log::warn(e.what());
  }
}

void read_status(const fs::path& path, qc::SubjectReportInputs& in) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) {
    in.missing[qc::item::status] = path.empty() ? "no status file" : path.filename().string() + " not found";
    return;
  }
  try {
    const auto j = read_json(path);
    in.sources[qc::item::status] = path.string();
    if (j.contains("status") && j["status"].is_string()) in.status = j["status"].get<std::string>();
    if (j.contains("error") && j["error"].is_string()) in.error = j["error"].get<std::string>();
    if (j.contains("failed_stage") && j["failed_stage"].is_string()) in.failed_stage = j["failed_stage"].get<std::string>();
    if (j.contains("duration_s") && j["duration_s"].is_number()) in.duration_s = j["duration_s"].get<double>();
    if (j.contains("tracer") && j["tracer"].is_string() && in.tracer.empty()) in.tracer = j["tracer"].get<std::string>();
    if (j.contains("stages") && j["stages"].is_object())
      for (const auto& [k, v] : j["stages"].items()) {
        std::string state;
        if (v.is_string()) state = v.get<std::string>();
        else if (v.is_object() && v.contains("status") && v["status"].is_string()) state = v["status"].get<std::string>();
        else state = v.dump();
        in.stages.push_back({k, state});
      }
    if (j.contains("warnings") && j["warnings"].is_array())
      for (const auto& w : j["warnings"])
        if (w.is_string()) in.notes.push_back("runner: " + w.get<std::string>());
  } catch (const std::exception& e) {
    in.missing[qc::item::status] = e.what();
    in.status = "unknown";
    in.error = std::string("status file unreadable: ") + e.what();
  }
}

// theta3 grid-edge fraction from the BPND map's sidecar, when the runner recorded it.
void read_theta3(const fs::path& bpnd, qc::SubjectReportInputs& in) {
  if (bpnd.empty()) return;
  const fs::path json = sidecar_path(bpnd);
  std::error_code ec;
  if (!fs::exists(json, ec)) {
    in.missing[qc::item::theta3] = json.filename().string() + " not found";
    return;
  }
  try {
    const auto j = read_json(json);
    for (const char* key : {"Theta3GridEdgeFraction", "theta3_grid_edge_fraction", "GridEdgeFraction"})
      if (j.contains(key) && j[key].is_number()) {
        in.theta3_edge_fraction = j[key].get<double>();
        in.sources[qc::item::theta3] = json.string() + " (" + key + ")";
        return;
      }
    in.missing[qc::item::theta3] = json.filename().string() + " has no Theta3GridEdgeFraction";
  } catch (const std::exception& e) {
    in.missing[qc::item::theta3] = e.what();
  }
}

std::optional<roi::Atlas> try_atlas(std::string& why) {
  try {
    return roi::load_atlas("aal");
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

void add_template_and_atlas(qc::SubjectReportInputs& in, bool want_template, bool want_atlas) {
  if (!want_template && !want_atlas) return;
  std::string why;
  const auto atlas = try_atlas(why);
  if (!atlas) {
    if (want_template) in.missing[qc::item::template_t1] = why;
    if (want_atlas) in.missing[qc::item::atlas_mni] = why;
    return;
  }
  if (want_template) {
    auto it = atlas->templates.find("T1");
    if (it == atlas->templates.end()) in.missing[qc::item::template_t1] = "atlas defines no T1 template";
    else load_item(in.template_t1, it->second, qc::item::template_t1, "", in, [](const fs::path& p) { return read_image(p); });
  }
  if (want_atlas)
    load_item(in.atlas_mni, atlas->labels_image, qc::item::atlas_mni, "", in, [](const fs::path& p) { return read_labels(p); });
}

qc::ReportOptions report_options(const po::variables_map& vm) {
  qc::ReportOptions o;
  o.generator = "petpipe " + version_string() + " (git " + git_hash() + ")";
  const std::string conv = opt(vm, "convention");
  if (conv == "neurological") o.convention = qc::Convention::neurological;
  else if (conv != "radiological") throw make_error("--convention: '", conv, "' is neither radiological nor neurological");
  o.thresholds.max_fd_mm = vm["max-fd"].as<double>();
  o.thresholds.max_translation_mm = vm["max-translation"].as<double>();
  o.thresholds.max_rotation_deg = vm["max-rotation"].as<double>();
  o.thresholds.theta3_edge_fraction = vm["max-theta3-edge"].as<double>();
  o.thresholds.outlier_z = vm["outlier-z"].as<double>();
  for (double v : {o.thresholds.max_fd_mm, o.thresholds.max_translation_mm, o.thresholds.max_rotation_deg,
                   o.thresholds.theta3_edge_fraction, o.thresholds.outlier_z})
    if (!(v > 0)) throw Error("warning thresholds must be positive");
  if (vm.count("bpnd-max")) o.bpnd_max = vm["bpnd-max"].as<double>();
  return o;
}

void write_report(const fs::path& out, const std::string& html, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec) && !force) throw make_error(out.string(), ": exists (use --force to overwrite)");
  if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
  write_text(out, html);
  log::info("wrote ", out.string());
}

// Scan prefixes ("sub-01_trc-carfentanil", "sub-01_ses-a_trc-x") of a subject's derivative files.
std::vector<std::string> scan_prefixes(const fs::path& subject_dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(subject_dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const auto name = bids::parse_name(it->path().filename().string());
    if (!name) continue;
    const auto sub = name->get("sub"), trc = name->get("trc"), ses = name->get("ses");
    if (!sub || !trc) continue;
    out.insert("sub-" + *sub + (ses ? "_ses-" + *ses : "") + "_trc-" + *trc);
  }
  return {out.begin(), out.end()};
}

qc::SubjectReportInputs inputs_from_derivatives(const fs::path& subject_dir, const std::string& prefix,
                                                const std::string& subject) {
  qc::SubjectReportInputs in;
  in.subject = subject;
  const auto pname = bids::parse_name(prefix + "_x.tsv");
  if (pname) {
    in.tracer = pname->get("trc").value_or("");
    in.session = pname->get("ses").value_or("");
  }
  auto find = [&](const std::string& suffix) { return find_below(subject_dir, prefix + suffix); };
  auto tsv = [](const fs::path& p) { return read_tsv(p); };
  auto img = [](const fs::path& p) { return read_image(p); };
  read_status(find("_status.json"), in);
  load_item(in.motion, find("_motion.tsv"), qc::item::motion, prefix + "_motion.tsv", in, tsv);
  load_item(in.tacs, find("_seg-AAL_tacs.tsv"), qc::item::tacs, prefix + "_seg-AAL_tacs.tsv", in, tsv);
  load_item(in.fitted_tacs, find("_seg-AAL_desc-fits_tacs.tsv"), qc::item::fitted_tacs,
            prefix + "_seg-AAL_desc-fits_tacs.tsv", in, tsv);
  load_item(in.roistats, find("_seg-AAL_desc-sm8_roistats.tsv"), qc::item::roistats,
            prefix + "_seg-AAL_desc-sm8_roistats.tsv", in, tsv);
  const fs::path bpnd = find("_model-SRTM_meas-BPND_mimap.nii.gz");
  load_item(in.bpnd_native, bpnd, qc::item::bpnd_native, prefix + "_model-SRTM_meas-BPND_mimap.nii.gz", in, img);
  read_theta3(bpnd, in);
  load_item(in.bpnd_mni, find("_space-MNIColin27_model-SRTM_meas-BPND_mimap.nii.gz"), qc::item::bpnd_mni,
            prefix + "_space-MNIColin27_model-SRTM_meas-BPND_mimap.nii.gz", in, img);
  load_item(in.atlas_native, find("_seg-AAL_dseg.nii.gz"), qc::item::atlas_native, prefix + "_seg-AAL_dseg.nii.gz", in,
            [](const fs::path& p) { return read_labels(p); });
  load_item(in.mean_pet, find("_desc-mean_pet.nii.gz"), qc::item::mean_pet, prefix + "_desc-mean_pet.nii.gz", in, img);
  load_item(in.reference_mask, find("_desc-ref_mask.nii.gz"), qc::item::reference_mask, prefix + "_desc-ref_mask.nii.gz",
            in, [](const fs::path& p) { return read_mask(p); });
  const std::string t1 = "sub-" + subject + "_desc-coreg_T1w.nii.gz";
  const std::string t1m = "sub-" + subject + "_space-MNIColin27_T1w.nii.gz";
  load_item(in.t1, find_below(subject_dir, t1), qc::item::t1, t1, in, img);
  load_item(in.t1_mni, find_below(subject_dir, t1m), qc::item::t1_mni, t1m, in, img);
  add_template_and_atlas(in, in.t1_mni.has_value(), in.bpnd_mni.has_value());
  return in;
}

qc::SubjectReportInputs inputs_from_options(const po::variables_map& vm) {
  qc::SubjectReportInputs in;
  in.subject = strip_sub(opt(vm, "subject"));
  in.tracer = opt(vm, "tracer");
  auto tsv = [](const fs::path& p) { return read_tsv(p); };
  auto img = [](const fs::path& p) { return read_image(p); };
  auto path = [&](const char* name) { return fs::path(opt(vm, name)); };
  if (vm.count("status")) read_status(path("status"), in);
  load_item(in.motion, path("motion"), qc::item::motion, "", in, tsv);
  load_item(in.tacs, path("tacs"), qc::item::tacs, "", in, tsv);
  load_item(in.fitted_tacs, path("fitted-tacs"), qc::item::fitted_tacs, "", in, tsv);
  load_item(in.roistats, path("roistats"), qc::item::roistats, "", in, tsv);
  load_item(in.bpnd_native, path("bpnd"), qc::item::bpnd_native, "", in, img);
  load_item(in.bpnd_mni, path("bpnd-mni"), qc::item::bpnd_mni, "", in, img);
  load_item(in.atlas_native, path("atlas"), qc::item::atlas_native, "", in, [](const fs::path& p) { return read_labels(p); });
  load_item(in.mean_pet, path("mean-pet"), qc::item::mean_pet, "", in, img);
  load_item(in.reference_mask, path("ref-mask"), qc::item::reference_mask, "", in,
            [](const fs::path& p) { return read_mask(p); });
  load_item(in.t1, path("t1"), qc::item::t1, "", in, img);
  load_item(in.t1_mni, path("t1-mni"), qc::item::t1_mni, "", in, img);
  if (vm.count("template")) load_item(in.template_t1, path("template"), qc::item::template_t1, "", in, img);
  if (vm.count("atlas-mni")) load_item(in.atlas_mni, path("atlas-mni"), qc::item::atlas_mni, "", in,
                                       [](const fs::path& p) { return read_labels(p); });
  add_template_and_atlas(in, in.t1_mni && !vm.count("template"), in.bpnd_mni && !vm.count("atlas-mni"));
  if (vm.count("theta3-edge-fraction")) {
    in.theta3_edge_fraction = vm["theta3-edge-fraction"].as<double>();
    in.sources[qc::item::theta3] = "--theta3-edge-fraction";
  } else if (in.bpnd_native) {
    read_theta3(path("bpnd"), in);
  }
  return in;
}

int run_group(const po::variables_map& vm, const fs::path& deriv, const qc::ReportOptions& options, bool force) {
  qc::GroupReportInputs in;
  std::error_code ec;
  const std::string tracer_filter = opt(vm, "tracer");
  // Run summary.
  const fs::path summary = deriv / "run_summary.tsv";
  if (fs::exists(summary, ec)) {
    try {
      in.subjects = read_tsv(summary);
      in.sources["subjects"] = summary.string();
    } catch (const std::exception& e) {
      in.missing["subjects"] = e.what();
    }
  } else {
    in.missing["subjects"] = summary.string() + " not found";
  }
  // Design: participants table.
  std::vector<fs::path> candidates;
  if (vm.count("participants")) candidates.push_back(opt(vm, "participants"));
  else candidates = {deriv / "group" / "participants.tsv", deriv / "participants.tsv"};
  std::optional<Participants> participants;
  for (const auto& p : candidates) {
    if (!fs::exists(p, ec)) continue;
    in.design = read_tsv(p);
    participants = read_participants(p);
    in.sources["design"] = p.string();
    break;
  }
  if (!in.design) {
    if (vm.count("participants")) throw make_error(candidates.front().string(), ": not found");
    in.missing["design"] = "no participants.tsv in " + (deriv / "group").string() + " or " + deriv.string() +
                           " (use --participants)";
  }
  const std::string group_column = opt(vm, "group-column");
  std::map<std::string, std::string> group_of;
  if (participants) {
    if (std::find(participants->column_order.begin(), participants->column_order.end(), group_column) !=
        participants->column_order.end()) {
      const auto& c = participants->column(group_column);
      for (std::size_t i = 0; i < participants->size(); ++i)
        group_of[strip_sub(participants->ids[i])] =
            c.numeric ? format_number(c.values[i]) : (c.levels[i].empty() ? "n/a" : c.levels[i]);
    } else {
      in.notes.push_back("participants table has no '" + group_column + "' column: all subjects shown as one group");
    }
  }
  // Regional values from every subject's ROI statistics (the smoothed MNI BPND means).
  std::set<std::string> tracers;
  std::vector<std::pair<fs::path, bids::Name>> roi_files;
  for (const auto& e : fs::directory_iterator(deriv, ec)) {
    if (!e.is_directory() || e.path().filename().string().rfind("sub-", 0) != 0) continue;
    for (auto it = fs::recursive_directory_iterator(e.path(), ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string fname = it->path().filename().string();
      if (!fname.ends_with("_seg-AAL_desc-sm8_roistats.tsv")) continue;
      auto name = bids::parse_name(fname);
      if (!name || !name->get("sub")) continue;
      const std::string trc = name->get("trc").value_or("");
      if (!tracer_filter.empty() && trc != tracer_filter) continue;
      tracers.insert(trc);
      roi_files.push_back({it->path(), *name});
    }
  }
  std::sort(roi_files.begin(), roi_files.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::string tracer = tracers.empty() ? "" : *tracers.begin();
  if (tracers.size() > 1)
    in.notes.push_back("several tracers found; regional values shown for trc-" + tracer + " (use --tracer)");
  std::vector<std::string> bilateral_order, all_order;
  for (const auto& [path, name] : roi_files) {
    if (name.get("trc").value_or("") != tracer) continue;
    const std::string sub = *name.get("sub");
    try {
      const Table t = read_tsv(path);
      const auto rois = t.string_column("roi");
      const auto means = t.numeric_column("mean");
      for (std::size_t i = 0; i < rois.size(); ++i) {
        const auto g = group_of.find(sub);
        in.roi_values.push_back({"sub-" + sub, g == group_of.end() ? (participants ? "n/a" : "all") : g->second,
                                 rois[i], means[i]});
        if (std::find(all_order.begin(), all_order.end(), rois[i]) == all_order.end()) {
          all_order.push_back(rois[i]);
          if (!(rois[i].ends_with("_L") || rois[i].ends_with("_R"))) bilateral_order.push_back(rois[i]);
        }
      }
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped ") + e.what());
    }
  }
  // Box plots of the bilateral regions when there are any.
  if (!bilateral_order.empty() && bilateral_order.size() < all_order.size()) {
    std::erase_if(in.roi_values, [&](const qc::RoiValue& v) {
      return std::find(bilateral_order.begin(), bilateral_order.end(), v.region) == bilateral_order.end();
    });
    in.notes.push_back("regional box plots show the bilateral regions; lateralised values are in the ROI tables");
  }
  in.region_order = bilateral_order.empty() ? all_order : bilateral_order;
  if (in.roi_values.empty())
    in.missing["roi_values"] = "no *_seg-AAL_desc-sm8_roistats.tsv under " + deriv.string() + "/sub-*";
  // Statistic maps and cluster tables under OUT/group.
  const fs::path gdir = deriv / "group";
  std::vector<fs::path> maps, clusters;
  if (fs::is_directory(gdir, ec))
    for (auto it = fs::recursive_directory_iterator(gdir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string f = it->path().filename().string();
      if ((f.ends_with(".nii.gz") || f.ends_with(".nii")) && (f.find("stat-") != std::string::npos || f.find("statmap") != std::string::npos) &&
          f.find("mask") == std::string::npos)
        maps.push_back(it->path());
      if (f.ends_with(".tsv") && f.find("cluster") != std::string::npos) clusters.push_back(it->path());
    }
  std::sort(maps.begin(), maps.end());
  std::sort(clusters.begin(), clusters.end());
  for (const auto& p : maps) {
    try {
      qc::StatMapInput s;
      s.map = read_image(p);
      s.source = p.string();
      s.name = strip_image_extension(p.filename().string());
      if (auto n = bids::parse_name(p.filename().string()))
        if (auto st = n->get("stat")) s.statistic = *st;
      s.threshold = vm["threshold"].as<double>();
      s.threshold_note = "--threshold";
      const fs::path json = sidecar_path(p);
      if (fs::exists(json, ec)) {
        const auto j = read_json(json);
        for (const char* key : {"Threshold", "ClusterFormingThreshold", "threshold"})
          if (j.contains(key) && j[key].is_number()) {
            s.threshold = j[key].get<double>();
            s.threshold_note = std::string(key) + " of " + json.filename().string();
            break;
          }
      }
      in.stat_maps.push_back(std::move(s));
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped statistic map: ") + e.what());
    }
  }
  if (maps.empty()) in.missing["stat_maps"] = "no statistic map (*stat-*.nii.gz) under " + gdir.string();
  for (const auto& p : clusters) {
    try {
      in.cluster_tables.push_back({p.filename().string(), read_tsv(p)});
      in.sources["clusters: " + p.filename().string()] = p.string();
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped cluster table: ") + e.what());
    }
  }
  if (clusters.empty()) in.missing["clusters"] = "no *cluster*.tsv under " + gdir.string();
  if (!in.stat_maps.empty()) {
    std::string why;
    if (auto atlas = try_atlas(why)) {
      auto it = atlas->templates.find("T1");
      try {
        if (it != atlas->templates.end()) in.underlay = read_image(it->second);
        in.atlas = read_labels(atlas->labels_image);
      } catch (const std::exception& e) {
        in.notes.push_back(std::string("template/atlas not shown: ") + e.what());
      }
    } else {
      in.notes.push_back("template/atlas not shown: " + why);
    }
  }
  const fs::path out = vm.count("out") ? fs::path(opt(vm, "out")) : gdir / "group_report.html";
  const auto rep = qc::group_report(in, options);
  write_report(out, rep.html, force);
  if (!rep.outliers.empty()) log::warn(rep.outliers.size(), " outlier flag(s) in the group report");
  return 0;
}

int run_report(const po::variables_map& vm) {
  const bool force = vm.count("force") > 0;
  const qc::ReportOptions options = report_options(vm);
  const bool explicit_inputs = vm.count("motion") || vm.count("tacs") || vm.count("bpnd") || vm.count("mean-pet") ||
                               vm.count("t1") || vm.count("bpnd-mni") || vm.count("status") || vm.count("t1-mni") ||
                               vm.count("roistats") || vm.count("fitted-tacs") || vm.count("ref-mask");
  if (vm.count("derivatives")) {
    if (explicit_inputs) throw Error("give either --derivatives or explicit inputs (--motion, --tacs, ...), not both");
    const fs::path deriv = opt(vm, "derivatives");
    std::error_code ec;
    if (!fs::is_directory(deriv, ec))
      throw make_error(deriv.string(), ": derivatives directory not found (the --out of petpipe run)");
    if (vm.count("group")) return run_group(vm, deriv, options, force);
    if (!vm.count("participant-label")) throw Error("--derivatives needs --participant-label (or --group)");
    const auto labels = vm["participant-label"].as<std::vector<std::string>>();
    if (vm.count("out") && labels.size() != 1) throw Error("--out names one file: give one --participant-label");
    // Check every subject first, so a typo writes nothing.
    for (const auto& l : labels)
      if (!fs::is_directory(deriv / ("sub-" + strip_sub(l)), ec))
        throw make_error(deriv.string(), ": no sub-", strip_sub(l), " directory");
    for (const auto& l : labels) {
      const std::string sub = strip_sub(l);
      const fs::path sdir = deriv / ("sub-" + sub);
      std::vector<std::string> prefixes = scan_prefixes(sdir);
      if (vm.count("tracer")) {
        const std::string t = "_trc-" + opt(vm, "tracer");
        std::erase_if(prefixes, [&](const std::string& p) { return !p.ends_with(t); });
        if (prefixes.empty()) prefixes.push_back("sub-" + sub + t);
      }
      if (prefixes.empty()) prefixes.push_back("sub-" + sub);
      if (vm.count("out") && prefixes.size() != 1)
        throw make_error("sub-", sub, " has ", prefixes.size(), " scans; --out names one file (use --tracer)");
      for (const auto& prefix : prefixes) {
        qc::SubjectReportInputs in = inputs_from_derivatives(sdir, prefix, sub);
        const fs::path out = vm.count("out") ? fs::path(opt(vm, "out")) : sdir / (prefix + "_report.html");
        const auto rep = qc::subject_report(in, options);
        write_report(out, rep.html, force);
        for (const auto& w : rep.warnings)
          if (w.severity != qc::Severity::info) log::warn(prefix, ": ", w.message);
      }
    }
    return 0;
  }
  if (vm.count("group")) throw Error("--group needs --derivatives");
  if (!explicit_inputs) throw Error("no inputs: give --derivatives DIR with --participant-label or --group, or explicit "
                                    "inputs such as --motion, --tacs, --bpnd, --mean-pet");
  if (!vm.count("out")) throw Error("explicit inputs need --out FILE");
  // Every explicit input must exist: a typo is an error here, not a missing section.
  for (const char* name : {"motion", "tacs", "fitted-tacs", "roistats", "bpnd", "bpnd-mni", "atlas", "atlas-mni",
                           "mean-pet", "ref-mask", "t1", "t1-mni", "template", "status"}) {
    std::error_code ec;
    if (vm.count(name) && !fs::exists(opt(vm, name), ec))
      throw make_error("--", name, " ", opt(vm, name), ": not found");
  }
  qc::SubjectReportInputs in = inputs_from_options(vm);
  const auto rep = qc::subject_report(in, options);
  write_report(opt(vm, "out"), rep.html, force);
  for (const auto& w : rep.warnings)
    if (w.severity != qc::Severity::info) log::warn(w.message);
  return 0;
}

}  // namespace

Command report_command() {
  Command c;
  c.name = "report";
  c.synopsis = "self-contained HTML QC reports of a subject or the group";
  c.description =
      "Writes one HTML file per PET scan (or one for the group) that opens offline in any browser: images are "
      "embedded PNGs rendered by petpipe, plots are inline SVG, there are no scripts or external resources.\n\n"
      "A subject report shows the run status (a failed run's stage and error at the top), a warnings block (high "
      "motion, theta3 at the edge of the basis grid, failed or bounded regional fits, reference-TAC anomalies), "
      "motion parameters and framewise displacement per frame with excluded frames shaded, the reference and ROI "
      "TACs with the model fits, BPND in native and MNI space as orthogonal slices with atlas contours, the "
      "coregistration (mean PET with T1 edges) and normalization (warped T1 with template edges) overlays, and the "
      "reference region on the mean PET. Inputs that are missing or unreadable are shown as not available with the "
      "reason; they never stop the report.\n\n"
      "With --derivatives and --participant-label the inputs are found by the names petpipe run writes, and the "
      "report is written to OUT/sub-XX/sub-XX_trc-T_report.html (one per scan) unless --out is given. With "
      "--group the report shows the run summary, the participants table, every statistic map under OUT/group "
      "(*stat-*.nii.gz; threshold from its sidecar's Threshold or --threshold) as slices through the peak and a "
      "glass-brain projection, the cluster tables (*cluster*.tsv), box plots of every subject's regional mean "
      "BPND (from *_seg-AAL_desc-sm8_roistats.tsv) by --group-column, and outlier flags (|robust z| > "
      "--outlier-z within the group); it is written to OUT/group/group_report.html unless --out is given.\n\n"
      "Explicit inputs (--motion, --tacs, --bpnd, ...) build a subject report from any files; --out is then "
      "required. Images are drawn in the radiological convention (the subject's right on the left) unless "
      "--convention neurological; the page states the convention and every view is labelled.";
  c.examples = {
      {"petpipe report --derivatives out --participant-label 01", "QC report of every scan of sub-01."},
      {"petpipe report --derivatives out --group --participants bids/participants.tsv", "The group report."},
      {"petpipe report --motion m.tsv --tacs tacs.tsv --bpnd bpnd.nii.gz --mean-pet mean.nii.gz --out qc.html",
       "A report from explicit files."}};
  c.references = {
      "Power JD et al. Spurious but systematic correlations in functional connectivity MRI networks arise from "
      "subject motion. NeuroImage 2012;59:2142-2154 (framewise displacement).",
      "Gunn RN et al. Parametric imaging of ligand-receptor binding in PET using a simplified reference region "
      "model. NeuroImage 1997;6:279-287 (basis functions, theta3 grid).",
      "Karjalainen T et al. Magia: robust automated image processing and kinetic modeling toolbox for PET "
      "neuroinformatics. Front Neuroinform 2020;14:3 (QC sheets)."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()
        ("derivatives", po::value<std::string>(), "derivatives directory written by petpipe run (its --out)")
        ("participant-label", po::value<std::vector<std::string>>()->multitoken(), "subject(s), with or without sub-")
        ("group", "write the group report")
        ("out", po::value<std::string>(), "output HTML file")
        ("tracer", po::value<std::string>(), "only scans with this trc- entity")
        ("subject", po::value<std::string>(), "explicit inputs: subject label shown on the page")
        ("status", po::value<std::string>(), "status JSON of the run (status, error, failed_stage, stages)")
        ("motion", po::value<std::string>(), "motion TSV (tx ty tz rx ry rz; fd, excluded, frame_start/end optional)")
        ("tacs", po::value<std::string>(), "TAC TSV (frame_start, frame_end, one column per ROI, reference)")
        ("fitted-tacs", po::value<std::string>(), "model-fitted TAC TSV (same columns)")
        ("roistats", po::value<std::string>(), "regional statistics TSV")
        ("bpnd", po::value<std::string>(), "BPND map, native space")
        ("bpnd-mni", po::value<std::string>(), "BPND map, MNI space")
        ("atlas", po::value<std::string>(), "atlas labels in native (PET) space")
        ("atlas-mni", po::value<std::string>(), "atlas labels in MNI space (default: AAL)")
        ("mean-pet", po::value<std::string>(), "mean PET image")
        ("ref-mask", po::value<std::string>(), "reference region mask (PET space)")
        ("t1", po::value<std::string>(), "T1 in the PET's physical space (coregistration overlay)")
        ("t1-mni", po::value<std::string>(), "T1 warped to MNI (normalization overlay)")
        ("template", po::value<std::string>(), "template for the normalization overlay (default: Colin27 T1)")
        ("theta3-edge-fraction", po::value<double>(), "fraction (0-1) of fitted voxels with theta3 on the grid edge")
        ("participants", po::value<std::string>(), "group: participants/design TSV")
        ("group-column", po::value<std::string>()->default_value("group"), "group: participants column of the box-plot groups")
        ("threshold", po::value<double>()->default_value(3.0), "group: |statistic| shown when the map's sidecar gives none")
        ("convention", po::value<std::string>()->default_value("radiological"), "radiological or neurological")
        ("max-fd", po::value<double>()->default_value(1.0), "warning: framewise displacement above this (mm)")
        ("max-translation", po::value<double>()->default_value(2.0), "warning: translation norm above this (mm)")
        ("max-rotation", po::value<double>()->default_value(2.0), "warning: rotation above this (degrees)")
        ("max-theta3-edge", po::value<double>()->default_value(0.10), "warning: theta3 grid-edge fraction above this")
        ("outlier-z", po::value<double>()->default_value(3.0), "group: flag |robust z| above this")
        ("bpnd-max", po::value<double>(), "top of the BPND colour scale (default: 99th percentile)");
  };
  c.run = run_report;
  return c;
}

PETPIPE_REGISTER_COMMAND(report_command, 120)

}  // namespace petpipe::cli
