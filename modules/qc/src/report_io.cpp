#include "petpipe/qc/report_io.hpp"

#include "petpipe/core/layout.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"

namespace petpipe::qc {

namespace {

std::string strip_sub(std::string s) { return s.rfind("sub-", 0) == 0 ? s.substr(4) : s; }

// Regular files below dir, sorted.
std::vector<fs::path> files_below(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

fs::path find_named(const std::vector<fs::path>& files, const std::string& name) {
  for (const auto& f : files)
    if (f.filename() == name) return f;
  return {};
}

// First file named stem + something + suffix (e.g. desc-sm<fwhm>).
fs::path find_like(const std::vector<fs::path>& files, const std::string& prefix, const std::string& suffix) {
  for (const auto& f : files) {
    const std::string n = f.filename().string();
    if (n.size() >= prefix.size() + suffix.size() && n.rfind(prefix, 0) == 0 && n.ends_with(suffix)) return f;
  }
  return {};
}

template <typename T, typename Load>
void load_into(std::optional<T>& into, SubjectReportInputs& in, const std::string& key, const fs::path& path, Load load) {
  try {
    into = load(path);
    in.sources[key] = path.string();
    in.missing.erase(key);
  } catch (const std::exception& e) {
    in.missing[key] = e.what();
    log::warn(e.what());
  }
}

void load_status(SubjectReportInputs& in, const fs::path& path) {
  try {
    const auto j = read_json(path);
    in.sources[item::status] = path.string();
    auto str = [&](const char* k, std::string& into) {
      if (j.contains(k) && j[k].is_string()) into = j[k].get<std::string>();
    };
    str("status", in.status);
    str("error", in.error);
    str("failed_stage", in.failed_stage);
    if (in.tracer.empty()) str("tracer", in.tracer);
    if (in.subject.empty()) str("subject", in.subject);
    if (j.contains("duration_s") && j["duration_s"].is_number()) in.duration_s = j["duration_s"].get<double>();
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
    in.missing[item::status] = e.what();
    in.status = "unknown";
    in.error = std::string("status file unreadable: ") + e.what();
  }
}

void load_theta3(SubjectReportInputs& in, const fs::path& path) {
  try {
    const std::string n = path.filename().string();
    if (n.ends_with(".json")) {
      const auto j = read_json(path);
      for (const char* key : {"Theta3GridEdgeFraction", "GridEdgeFraction"})
        if (j.contains(key) && j[key].is_number()) {
          in.theta3_edge_fraction = j[key].get<double>();
          in.sources[item::theta3] = path.string();
          in.missing.erase(item::theta3);
          return;
        }
      in.missing[item::theta3] = path.string() + ": no Theta3GridEdgeFraction";
      return;
    }
    const Mask edge = read_mask(path);
    std::size_t on_edge = 0, fitted = 0;
    const bool with_bpnd = in.bpnd_native && in.bpnd_native->geom.same_grid(edge.geom);
    for (std::size_t v = 0; v < edge.data.size(); ++v) {
      const bool e = edge.data[v] != 0;
      on_edge += e;
      if (with_bpnd) {
        const float b = in.bpnd_native->data[v];
        fitted += e || (std::isfinite(b) && b != 0.0f);
      }
    }
    if (!with_bpnd) {
      in.missing[item::theta3] = path.string() + ": the native BPND map (on the same grid) is needed to count fitted voxels";
      return;
    }
    if (fitted == 0) {
      in.missing[item::theta3] = "no fitted voxel in the BPND map";
      return;
    }
    in.theta3_edge_fraction = static_cast<double>(on_edge) / static_cast<double>(fitted);
    in.sources[item::theta3] = path.string();
    in.missing.erase(item::theta3);
  } catch (const std::exception& e) {
    in.missing[item::theta3] = e.what();
  }
}

// Regional fit outcomes from a kinetic-parameter table with a region column and converged / at_bound
// (or status) columns.
void load_fits(SubjectReportInputs& in, const fs::path& path) {
  try {
    const Table t = read_tsv(path);
    std::string rc;
    for (const char* c : {"roi", "region", "name"})
      if (t.has_column(c)) {
        rc = c;
        break;
      }
    if (rc.empty()) throw make_error(path.string(), ": no 'roi' column");
    const auto names = t.string_column(rc);
    auto flag = [&](const char* c, std::size_t r) -> std::optional<bool> {
      if (!t.has_column(c)) return std::nullopt;
      const std::string v = t.rows[r][t.column_index(c)];
      if (is_missing(v)) return std::nullopt;
      return v == "1" || v == "true" || v == "yes";
    };
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      RegionFit f;
      f.region = names[r];
      if (auto c = flag("converged", r)) f.converged = *c;
      if (auto b = flag("at_bound", r)) f.at_bound = *b;
      if (t.has_column("status")) {
        const std::string s = t.rows[r][t.column_index("status")];
        f.failed = s == "failed" || s == "error";
      }
      const std::string bp_col = t.has_column("BPND") ? "BPND" : "bpnd";
      if (t.has_column(bp_col)) {
        const std::string s = t.rows[r][t.column_index(bp_col)];
        if (is_missing(s)) {
          f.failed = true;
          f.note = "no BPND estimate";
        }
      }
      if (t.has_column("error")) {
        const std::string s = t.rows[r][t.column_index("error")];
        if (!is_missing(s)) f.note = s;
      }
      in.fits.push_back(f);
    }
    in.sources[item::fits] = path.string();
    in.missing.erase(item::fits);
  } catch (const std::exception& e) {
    in.missing[item::fits] = e.what();
  }
}

// Entity value of a BIDS-like file name that need not start with sub- ("contrast-a_stat-t_statmap.nii.gz").
std::string entity(const std::string& filename, const std::string& key) {
  const std::string stem = strip_image_extension(filename);
  std::size_t start = 0;
  while (start <= stem.size()) {
    std::size_t end = stem.find('_', start);
    if (end == std::string::npos) end = stem.size();
    const std::string part = stem.substr(start, end - start);
    if (part.rfind(key + "-", 0) == 0) return part.substr(key.size() + 1);
    start = end + 1;
  }
  return {};
}

}  // namespace

std::vector<std::string> scan_stems(const fs::path& subject_dir) {
  std::set<std::string> out;
  for (const auto& f : files_below(subject_dir)) {
    const auto name = bids::parse_name(f.filename().string());
    if (!name) continue;
    const auto sub = name->get("sub"), trc = name->get("trc"), ses = name->get("ses");
    if (!sub || !trc) continue;
    out.insert("sub-" + *sub + (ses ? "_ses-" + *ses : "") + "_trc-" + *trc);
  }
  return {out.begin(), out.end()};
}

void load_input(SubjectReportInputs& in, const std::string& key, const fs::path& path) {
  std::error_code ec;
  if (path.empty()) {
    if (!in.missing.count(key)) in.missing[key] = "not provided";
    return;
  }
  if (!fs::exists(path, ec)) {
    in.missing[key] = path.string() + ": not found";
    return;
  }
  auto tsv = [](const fs::path& p) { return read_tsv(p); };
  auto img = [](const fs::path& p) { return read_image(p); };
  auto lab = [](const fs::path& p) { return read_labels(p); };
  if (key == item::status) load_status(in, path);
  else if (key == item::theta3) load_theta3(in, path);
  else if (key == item::fits) load_fits(in, path);
  else if (key == item::motion) load_into(in.motion, in, key, path, tsv);
  else if (key == item::tacs) load_into(in.tacs, in, key, path, tsv);
  else if (key == item::fitted_tacs) load_into(in.fitted_tacs, in, key, path, tsv);
  else if (key == item::roistats) load_into(in.roistats, in, key, path, tsv);
  else if (key == item::bpnd_native) load_into(in.bpnd_native, in, key, path, img);
  else if (key == item::bpnd_mni) load_into(in.bpnd_mni, in, key, path, img);
  else if (key == item::atlas_native) load_into(in.atlas_native, in, key, path, lab);
  else if (key == item::atlas_mni) load_into(in.atlas_mni, in, key, path, lab);
  else if (key == item::mean_pet) load_into(in.mean_pet, in, key, path, img);
  else if (key == item::reference_mask) load_into(in.reference_mask, in, key, path, [](const fs::path& p) { return read_mask(p); });
  else if (key == item::t1) load_into(in.t1, in, key, path, img);
  else if (key == item::t1_mni) load_into(in.t1_mni, in, key, path, img);
  else if (key == item::template_t1) load_into(in.template_t1, in, key, path, img);
  else throw make_error("load_input: unknown item '", key, "'");
}

SubjectReportInputs load_subject_inputs(const fs::path& subject_dir, const std::string& stem,
                                        const TemplateFiles& templates) {
  SubjectReportInputs in;
  const auto files = files_below(subject_dir);
  if (const auto n = bids::parse_name(stem + "_x.tsv")) {
    in.subject = n->get("sub").value_or("");
    in.session = n->get("ses").value_or("");
    in.tracer = n->get("trc").value_or("");
  }
  // The scan's file names from the derivatives layout; the reference region and the smoothing come
  // from the effective configuration the run wrote beside the outputs (when it is there).
  std::string reference;
  double fwhm = 0;
  const fs::path config_file = find_named(files, stem + "_config.json");
  if (!config_file.empty()) {
    try {
      const nlohmann::json j = read_json(config_file);
      const nlohmann::json& c = j.contains("Configuration") ? j["Configuration"] : j;
      reference = c.at("reference").at("region").get<std::string>();
      const nlohmann::json& f = c.at("smooth").at("fwhm_mm");
      fwhm = f.is_array() ? f.at(0).get<double>() : f.get<double>();
    } catch (const std::exception& e) {
      in.missing["configuration"] = config_file.filename().string() + ": " + e.what();
    }
  }
  const layout::ScanLayout L = layout::scan_layout(subject_dir, in.subject, in.session, in.tracer, stem + "_pet.nii.gz",
                                                   {}, reference.empty() ? "reference" : reference, fwhm);
  auto name = [](const fs::path& p) { return p.filename().string(); };
  auto get = [&](const std::string& key, const std::string& file_name) {
    const fs::path p = find_named(files, file_name);
    if (p.empty()) in.missing[key] = file_name + " not found";
    else load_input(in, key, p);
  };
  get(item::status, name(L.status));
  if (in.status.empty() && in.missing.count(item::status)) in.missing[item::status] += " (run status unknown)";
  get(item::motion, name(L.realign.motion));
  get(item::tacs, name(L.tacs));
  get(item::fitted_tacs, name(L.fits));
  const fs::path roistats = fwhm > 0 ? find_named(files, name(L.roistats))
                                     : find_like(files, stem + "_seg-" + layout::kAtlasSeg + "_desc-sm", "_roistats.tsv");
  if (roistats.empty()) in.missing[item::roistats] = (fwhm > 0 ? name(L.roistats) : stem + "_seg-AAL_desc-sm*_roistats.tsv") + " not found";
  else load_input(in, item::roistats, roistats);
  const fs::path kinpar = find_named(files, name(L.kinpar));
  if (!kinpar.empty()) load_input(in, item::fits, kinpar);
  get(item::bpnd_native, name(L.srtm.map("BPND")));
  // theta3 grid edge: the BPND sidecar's fraction, else the grid-edge mask.
  const fs::path bpnd_json = find_named(files, name(sidecar_path(L.srtm.map("BPND"))));
  if (!bpnd_json.empty()) load_input(in, item::theta3, bpnd_json);
  if (!in.theta3_edge_fraction) {
    const fs::path edge = find_named(files, name(L.srtm.gridedge));
    if (!edge.empty()) load_input(in, item::theta3, edge);
    else if (!in.missing.count(item::theta3)) in.missing[item::theta3] = name(L.srtm.gridedge) + " not found";
  }
  get(item::bpnd_mni, name(L.mni_map("BPND")));
  get(item::atlas_native, name(L.normalize.dseg));
  get(item::mean_pet, name(L.realign.mean));
  // The reference mask: the configured region's, else the one reference mask normalize wrote.
  const fs::path ref = !reference.empty() ? find_named(files, name(L.ref_mask)) : find_like(files, stem + "_desc-", "_mask.nii.gz");
  if (ref.empty()) in.missing[item::reference_mask] = (reference.empty() ? stem + "_desc-<region>_mask.nii.gz" : name(L.ref_mask)) + " not found";
  else load_input(in, item::reference_mask, ref);
  get(item::t1, name(L.normalize.t1_coreg));
  get(item::t1_mni, name(L.normalize.t1_mni));
  // Template and atlas only when there is something to draw them with.
  if (in.t1_mni) {
    if (templates.template_t1.empty()) in.missing[item::template_t1] = templates.reason.empty() ? "no template" : templates.reason;
    else load_input(in, item::template_t1, templates.template_t1);
  }
  if (in.bpnd_mni) {
    if (templates.atlas_labels.empty()) in.missing[item::atlas_mni] = templates.reason.empty() ? "no atlas" : templates.reason;
    else load_input(in, item::atlas_mni, templates.atlas_labels);
  }
  return in;
}

GroupReportInputs load_group_inputs(const fs::path& deriv, const GroupLoadOptions& o) {
  GroupReportInputs in;
  std::error_code ec;
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
  // Design: the participants table.
  std::vector<fs::path> candidates;
  if (!o.participants.empty()) candidates.push_back(o.participants);
  else candidates = {deriv / "group" / "participants.tsv", deriv / "participants.tsv"};
  std::optional<Participants> participants;
  for (const auto& p : candidates) {
    if (!fs::exists(p, ec)) continue;
    try {
      in.design = read_tsv(p);
      participants = read_participants(p);
      in.sources["design"] = p.string();
    } catch (const std::exception& e) {
      in.missing["design"] = e.what();
    }
    break;
  }
  if (!in.design && !in.missing.count("design"))
    in.missing["design"] = o.participants.empty() ? "no participants.tsv in " + (deriv / "group").string() + " or " + deriv.string()
                                                  : o.participants.string() + ": not found";
  std::map<std::string, std::string> group_of;
  if (participants) {
    const auto& order = participants->column_order;
    if (std::find(order.begin(), order.end(), o.group_column) != order.end()) {
      const auto& c = participants->column(o.group_column);
      for (std::size_t i = 0; i < participants->size(); ++i)
        group_of[strip_sub(participants->ids[i])] =
            c.numeric ? format_number(c.values[i]) : (c.levels[i].empty() ? "n/a" : c.levels[i]);
    } else {
      in.notes.push_back("the participants table has no '" + o.group_column + "' column: all subjects form one group");
    }
  }
  // Regional values from every subject's ROI statistics.
  std::set<std::string> tracers;
  std::vector<std::pair<fs::path, bids::Name>> roi_files;
  for (const auto& e : fs::directory_iterator(deriv, ec)) {
    if (!e.is_directory() || e.path().filename().string().rfind("sub-", 0) != 0) continue;
    for (const auto& f : files_below(e.path())) {
      const std::string n = f.filename().string();
      if (!(n.ends_with("_roistats.tsv") && n.find("_seg-AAL_desc-sm") != std::string::npos)) continue;
      auto name = bids::parse_name(n);
      if (!name || !name->get("sub")) continue;
      const std::string trc = name->get("trc").value_or("");
      if (!o.tracer.empty() && trc != o.tracer) continue;
      tracers.insert(trc);
      roi_files.push_back({f, *name});
    }
  }
  const std::string tracer = tracers.empty() ? "" : *tracers.begin();
  if (tracers.size() > 1) in.notes.push_back("several tracers found; regional values shown for trc-" + tracer);
  std::vector<std::string> bilateral, all;
  for (const auto& [path, name] : roi_files) {
    if (name.get("trc").value_or("") != tracer) continue;
    const std::string sub = *name.get("sub");
    try {
      const Table t = read_tsv(path);
      const auto rois = t.string_column("roi");
      const auto means = t.numeric_column("mean");
      const auto g = group_of.find(sub);
      const std::string group = g != group_of.end() ? g->second : participants ? "n/a" : "all";
      for (std::size_t i = 0; i < rois.size(); ++i) {
        in.roi_values.push_back({"sub-" + sub, group, rois[i], means[i]});
        if (std::find(all.begin(), all.end(), rois[i]) == all.end()) {
          all.push_back(rois[i]);
          if (!(rois[i].ends_with("_L") || rois[i].ends_with("_R"))) bilateral.push_back(rois[i]);
        }
      }
      in.sources["roistats: sub-" + sub] = path.string();
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped ") + e.what());
    }
  }
  if (!bilateral.empty() && bilateral.size() < all.size()) {
    std::erase_if(in.roi_values, [&](const RoiValue& v) {
      return std::find(bilateral.begin(), bilateral.end(), v.region) == bilateral.end();
    });
    in.notes.push_back("regional box plots show the bilateral regions");
  }
  in.region_order = bilateral.empty() ? all : bilateral;
  if (in.roi_values.empty()) in.missing["roi_values"] = "no *_seg-AAL_desc-sm*_roistats.tsv under " + deriv.string() + "/sub-*";
  // Statistic maps and cluster tables.
  const fs::path gdir = deriv / "group";
  std::vector<fs::path> maps, clusters;
  for (const auto& f : files_below(gdir)) {
    const std::string n = f.filename().string();
    if (n.ends_with("_clusters.tsv")) clusters.push_back(f);
    if (!n.ends_with("_statmap.nii.gz") && !n.ends_with("_statmap.nii")) continue;
    const std::string stat = entity(n, "stat");
    if ((stat == "t" || stat == "F" || stat == "z") && entity(n, "desc").empty()) maps.push_back(f);
  }
  for (const auto& p : maps) {
    try {
      StatMapInput s;
      s.map = read_image(p);
      s.source = p.string();
      s.name = strip_image_extension(p.filename().string());
      s.statistic = entity(p.filename().string(), "stat");
      s.threshold = o.default_threshold;
      s.threshold_note = "default threshold";
      auto from_json = [&](const fs::path& json, const char* key) {
        if (!fs::exists(json, ec)) return false;
        const auto j = read_json(json);
        if (!(j.contains(key) && j[key].is_number())) return false;
        s.threshold = j[key].get<double>();
        s.threshold_note = std::string(key) + " of " + json.filename().string();
        return true;
      };
      std::string cfwe = p.filename().string();
      cfwe.replace(cfwe.find("_stat-"), 0, "_desc-clusterFWE");
      if (!from_json(sidecar_path(p), "Threshold"))
        from_json(sidecar_path(p.parent_path() / cfwe), "ClusterFormingThreshold");
      in.stat_maps.push_back(std::move(s));
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped statistic map: ") + e.what());
    }
  }
  if (maps.empty()) in.missing["stat_maps"] = "no *_stat-{t,F,z}_statmap.nii.gz under " + gdir.string();
  for (const auto& p : clusters) {
    try {
      in.cluster_tables.push_back({p.filename().string(), read_tsv(p)});
      in.sources["clusters: " + p.filename().string()] = p.string();
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("skipped cluster table: ") + e.what());
    }
  }
  if (clusters.empty()) in.missing["clusters"] = "no *_clusters.tsv under " + gdir.string();
  if (!in.stat_maps.empty()) {
    try {
      if (!o.templates.template_t1.empty()) in.underlay = read_image(o.templates.template_t1);
      if (!o.templates.atlas_labels.empty()) in.atlas = read_labels(o.templates.atlas_labels);
      if (o.templates.template_t1.empty() && !o.templates.reason.empty())
        in.notes.push_back("template not shown: " + o.templates.reason);
    } catch (const std::exception& e) {
      in.notes.push_back(std::string("template/atlas not shown: ") + e.what());
    }
  }
  return in;
}

void write_report(const fs::path& path, const std::string& html) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  write_text(path, html);
}

}  // namespace petpipe::qc
