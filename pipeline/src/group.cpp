#include "petpipe/pipeline/group.hpp"

#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/core/layout.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/normalize/transform.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::pipeline {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
std::string bare(const std::string& id) { return id.rfind("sub-", 0) == 0 ? id.substr(4) : id; }

// Complete scans: subject -> (tracer, smoothed MNI map path) from the status files.
struct Scan {
  std::string subject, session, tracer, status, stem;
  fs::path dir;
};

std::vector<Scan> find_scans(const fs::path& out) {
  std::vector<Scan> scans;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out, ec); it != fs::recursive_directory_iterator(); ++it) {
    const std::string n = it->path().filename().string();
    if (it->is_directory() && layout::is_internal_dir(n)) {
      it.disable_recursion_pending();
      continue;
    }
    if (n.rfind("sub-", 0) == 0 && n.size() > 12 && n.compare(n.size() - 12, 12, "_status.json") == 0) {
      const json j = read_json(it->path());
      scans.push_back({j.value("subject", ""), j.value("session", ""), j.value("tracer", ""), j.value("status", ""),
                       j.value("stem", ""), it->path().parent_path()});
    }
  }
  return scans;
}
// The brain of the atlas's skull-stripped template (Colin27 ch2bet > 0 for AAL) on the grid of the
// group maps: voxels at least half inside it (fractional occupancy; both images are in the atlas
// space, so no transform is involved).
Mask template_brain_mask(const std::string& atlas_name, const fs::path& map) {
  const roi::Atlas atlas = roi::load_atlas(atlas_name);
  const auto it = atlas.templates.find("T1_brain");
  if (it == atlas.templates.end())
    throw make_error("group: atlas ", atlas_name, " names no skull-stripped template (\"T1_brain\") for the brain "
                     "mask; set \"group\": {\"mask\": \"none\"} or a mask image");
  const Mask brain = read_mask(it->second);
  const Geometry grid = read_image_info(map).geom;
  const Image3D occupancy = normalize::resample_occupancy(brain, grid, normalize::Transform::identity());
  Mask mask(grid, 0);
  for (std::size_t i = 0; i < mask.data.size(); ++i) mask.data[i] = occupancy.data[i] >= 0.5f ? 1 : 0;
  return mask;
}
}  // namespace

GroupResult run_group(const GroupOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.derivatives, ec))
    throw make_error(o.derivatives.string(), ": derivatives directory not found (run petpipe run first)");
  const fs::path ptsv = o.participants.empty() ? o.derivatives / "participants.tsv" : o.participants;
  const Participants participants = read_participants(ptsv);
  auto scans = find_scans(o.derivatives);

  std::string tracer = o.tracer;
  if (tracer.empty() && o.user_config.is_object() && o.user_config.contains("tracer"))
    tracer = o.user_config["tracer"].get<std::string>();
  if (tracer.empty()) {
    std::set<std::string> tracers;
    for (const auto& s : scans) tracers.insert(s.tracer);
    if (tracers.size() != 1)
      throw make_error(o.derivatives.string(), ": ", tracers.size(),
                       " tracers among the scans; name one with --tracer or the configuration's \"tracer\"");
    tracer = *tracers.begin();
  }
  const json cfg = effective_config(tracer, o.user_config, o.config_source);
  const StudyParams sp = study_params(cfg, o.config_source);

  const layout::CohortLayout cl = layout::cohort_layout(o.derivatives);
  GroupResult res;
  res.dir = cl.group_dir;
  Table maps;
  maps.columns = {"participant_id", "path"};
  std::vector<std::string> map_paths;
  for (const auto& id : participants.ids) {
    const std::string sub = bare(id);
    const Scan* found = nullptr;
    for (const auto& s : scans)
      if (s.subject == sub && canonical_tracer(s.tracer) == cfg["tracer"].get<std::string>()) found = &s;
    fs::path map;
    if (found && found->status == "complete") {
      const fs::path named_as = found->stem.empty() ? fs::path() : fs::path(found->stem + "_pet.nii.gz");
      map = layout::scan_layout(o.derivatives, sub, found->session, cfg["tracer"].get<std::string>(), named_as, {},
                                sp.reference.region, sp.smooth.fwhm_mm[0])
                .mni_sm_map(sp.group.map);
    }
    if (map.empty() || !fs::exists(map, ec)) {
      res.missing.push_back("sub-" + sub);
      continue;
    }
    res.included.push_back("sub-" + sub);
    maps.add_row({"sub-" + sub, fs::absolute(map).string()});
    map_paths.push_back(fs::absolute(map).string());
  }
  if (!res.missing.empty()) {
    std::string list;
    for (const auto& m : res.missing) list += (list.empty() ? "" : ", ") + m;
    if (!o.allow_missing)
      throw make_error(o.derivatives.string(), ": ", res.missing.size(), " participant(s) of ", ptsv.filename().string(),
                       " have no complete ", cfg["tracer"].get<std::string>(), " results: ", list,
                       " (rerun them, or use --allow-missing to analyse the ", res.included.size(), " complete ones)");
    log::warn(res.missing.size(), " participant(s) missing or failed, analysed without them: ", list);
  }
  if (res.included.size() < 3)
    throw make_error(o.derivatives.string(), ": only ", res.included.size(), " complete subject(s); a group analysis needs more");

  fs::create_directories(res.dir);
  // The participants table restricted to the included subjects.
  Table all = read_tsv(ptsv);
  Table sub_table;
  sub_table.columns = all.columns;
  const std::size_t idc = all.column_index("participant_id");
  for (const auto& row : all.rows)
    for (const auto& inc : res.included)
      if (bare(row[idc]) == bare(inc)) sub_table.add_row(row);
  const fs::path group_participants = cl.group_participants;
  const fs::path maps_tsv = cl.group_maps;
  write_tsv(group_participants, sub_table);
  write_tsv(maps_tsv, maps);

  std::vector<std::vector<std::string>> commands;
  // The design, contrasts and thresholds: the group table's rows that petpipe glm takes.
  const std::vector<std::string> glm_params = group_table().to_args(sp.group, {"map", "mask"});

  // Voxelwise GLM.
  std::vector<std::string> glm{"glm", "--maps-list", maps_tsv.string(), "--participants", group_participants.string(),
                               "--out", cl.group_voxelwise.string(), "--force"};
  glm.insert(glm.end(), glm_params.begin(), glm_params.end());
  // Analysis mask: the template brain (default), none (every voxel valid in all maps), or an image.
  const std::string mask_choice = sp.group.mask;
  if (mask_choice == "brain") {
    const fs::path brain = cl.group_brain_mask;
    write_mask(brain, template_brain_mask(sp.roi.atlas, map_paths.front()));
    glm.insert(glm.end(), {"--mask", brain.string()});
  } else if (mask_choice != "none") {
    if (!fs::exists(mask_choice, ec))
      throw make_error("group: mask image ", mask_choice, " not found (\"group\": {\"mask\": \"brain\" | \"none\" | FILE})");
    glm.insert(glm.end(), {"--mask", mask_choice});
  }
  commands.push_back(glm);

  // ROI table of the smoothed maps and the ROI statistics.
  const fs::path long_tsv = cl.group_roi_long(sp.group.map);
  std::vector<std::string> roi{"roi", "--participants", group_participants.string(), "--out", long_tsv.string(),
                               "--force", "--in"};
  roi.insert(roi.end(), map_paths.begin(), map_paths.end());
  const auto roi_params = roi_table().to_args(sp.roi);
  roi.insert(roi.end(), roi_params.begin(), roi_params.end());
  commands.push_back(roi);
  std::vector<std::string> roi_glm{"glm", "--roi-table", long_tsv.string(), "--participants", group_participants.string(),
                                   "--out", cl.group_roi.string(), "--force"};
  roi_glm.insert(roi_glm.end(), glm_params.begin(), glm_params.end());
  commands.push_back(roi_glm);

  json summary;
  summary["included"] = res.included;
  summary["missing"] = res.missing;
  summary["commands"] = json::array();
  for (const auto& cmd : commands) {
    std::string line = "petpipe";
    for (const auto& a : cmd) line += " " + a;
    log::info("group: ", line);
    cli::run_in_process(cmd);
    summary["commands"].push_back(line);
  }
  Provenance prov;
  prov.configuration = cfg;
  prov.inputs = {ptsv};
  json j = prov.to_json();
  j["Group"] = summary;
  write_json(cl.group_summary, j);
  if (sp.report.enabled) {
    // The group QC report; a report that cannot be written is a warning, not a failed analysis.
    try {
      std::vector<std::string> args{"report", "--derivatives", o.derivatives.string(), "--group", "--participants",
                                    group_participants.string(), "--tracer", cfg["tracer"].get<std::string>(), "--force"};
      const auto qc_args = report_qc_table().to_args(sp.report_qc);
      args.insert(args.end(), qc_args.begin(), qc_args.end());
      cli::run_in_process(args);
    } catch (const std::exception& e) {
      log::warn("group QC report not written: ", e.what());
    }
  }
  return res;
}

}  // namespace petpipe::pipeline
