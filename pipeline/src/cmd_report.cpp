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
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/qc/report.hpp"
#include "petpipe/qc/report_io.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::cli {

namespace {

std::string strip_sub(std::string s) { return s.rfind("sub-", 0) == 0 ? s.substr(4) : s; }

std::string opt(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

// The template (Colin27 T1) and AAL labels of the installed atlas, or the reason they are missing.
qc::TemplateFiles template_files() {
  qc::TemplateFiles t;
  try {
    const roi::Atlas atlas = roi::load_atlas("aal");
    t.atlas_labels = atlas.labels_image;
    auto it = atlas.templates.find("T1");
    if (it != atlas.templates.end()) t.template_t1 = it->second;
    else t.reason = "the atlas definition names no T1 template";
  } catch (const std::exception& e) {
    t.reason = e.what();
  }
  return t;
}

qc::ReportOptions report_options(const po::variables_map& vm) {
  qc::ReportOptions o;
  o.generator = "petpipe " + version_string() + " (git " + git_hash() + ")";
  const pipeline::ReportQcParams p = pipeline::report_qc_table().from_vm(vm);
  o.convention = p.convention;
  o.thresholds = p.thresholds;
  if (vm.count("bpnd-max")) o.bpnd_max = vm["bpnd-max"].as<double>();
  return o;
}

void write_checked(const fs::path& out, const std::string& html, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec) && !force) throw make_error(out.string(), ": exists (use --force to overwrite)");
  qc::write_report(out, html);
  log::info("wrote ", out.string());
}

// Explicit inputs: option name -> report item.
const std::vector<std::pair<const char*, const char*>>& explicit_inputs() {
  static const std::vector<std::pair<const char*, const char*>> m{
      {"status", qc::item::status},          {"motion", qc::item::motion},
      {"tacs", qc::item::tacs},              {"fitted-tacs", qc::item::fitted_tacs},
      {"roistats", qc::item::roistats},      {"kinpar", qc::item::fits},
      {"bpnd", qc::item::bpnd_native},       {"bpnd-mni", qc::item::bpnd_mni},
      {"atlas", qc::item::atlas_native},     {"atlas-mni", qc::item::atlas_mni},
      {"mean-pet", qc::item::mean_pet},      {"ref-mask", qc::item::reference_mask},
      {"t1", qc::item::t1},                  {"t1-mni", qc::item::t1_mni},
      {"template", qc::item::template_t1},   {"gridedge", qc::item::theta3}};
  return m;
}

int run_report(const po::variables_map& vm) {
  const bool force = vm.count("force") > 0;
  const qc::ReportOptions options = report_options(vm);
  bool any_explicit = vm.count("theta3-edge-fraction") > 0;
  for (const auto& [name, key] : explicit_inputs()) any_explicit |= vm.count(name) > 0;
  std::error_code ec;
  if (vm.count("derivatives")) {
    if (any_explicit) throw Error("give either --derivatives or explicit inputs (--motion, --tacs, ...), not both");
    const fs::path deriv = opt(vm, "derivatives");
    if (!fs::is_directory(deriv, ec))
      throw make_error(deriv.string(), ": derivatives directory not found (the --out of petpipe run)");
    if (vm.count("group")) {
      qc::GroupLoadOptions go;
      go.participants = opt(vm, "participants");
      go.group_column = opt(vm, "group-column");
      go.tracer = opt(vm, "tracer");
      go.default_threshold = vm["threshold"].as<double>();
      go.templates = template_files();
      if (!go.participants.empty() && !fs::exists(go.participants, ec))
        throw make_error(go.participants.string(), ": participants table not found");
      const qc::GroupReport rep = qc::group_report(qc::load_group_inputs(deriv, go), options);
      write_checked(vm.count("out") ? fs::path(opt(vm, "out")) : deriv / "group" / "group_report.html", rep.html, force);
      if (!rep.outliers.empty()) log::warn(rep.outliers.size(), " outlier flag(s) in the group report");
      return 0;
    }
    if (!vm.count("participant-label")) throw Error("--derivatives needs --participant-label (or --group)");
    const auto labels = vm["participant-label"].as<std::vector<std::string>>();
    if (vm.count("out") && labels.size() != 1) throw Error("--out names one file: give one --participant-label");
    // Resolve every scan first, so a typo or an existing output writes nothing.
    std::vector<std::pair<fs::path, std::string>> scans;  // subject dir, stem
    for (const auto& l : labels) {
      const std::string sub = strip_sub(l);
      const fs::path sdir = deriv / ("sub-" + sub);
      if (!fs::is_directory(sdir, ec)) throw make_error(deriv.string(), ": no sub-", sub, " directory");
      std::vector<std::string> stems = qc::scan_stems(sdir);
      if (vm.count("tracer")) {
        const std::string t = "_trc-" + opt(vm, "tracer");
        std::erase_if(stems, [&](const std::string& s) { return !s.ends_with(t); });
        if (stems.empty()) throw make_error(sdir.string(), ": no files of tracer ", opt(vm, "tracer"));
      }
      if (stems.empty()) throw make_error(sdir.string(), ": no scan files (sub-", sub, "_trc-*) found");
      if (vm.count("out") && stems.size() != 1)
        throw make_error("sub-", sub, " has ", stems.size(), " scans; --out names one file (use --tracer)");
      for (const auto& s : stems) scans.push_back({sdir, s});
    }
    for (const auto& [sdir, stem] : scans) {
      const fs::path out = vm.count("out") ? fs::path(opt(vm, "out")) : sdir / (stem + "_report.html");
      if (fs::exists(out, ec) && !force) throw make_error(out.string(), ": exists (use --force to overwrite)");
    }
    const qc::TemplateFiles templates = template_files();
    for (const auto& [sdir, stem] : scans) {
      const qc::SubjectReport rep = qc::subject_report(qc::load_subject_inputs(sdir, stem, templates), options);
      write_checked(vm.count("out") ? fs::path(opt(vm, "out")) : sdir / (stem + "_report.html"), rep.html, force);
      for (const auto& w : rep.warnings)
        if (w.severity != qc::Severity::info) log::warn(stem, ": ", w.message);
    }
    return 0;
  }
  if (vm.count("group")) throw Error("--group needs --derivatives");
  if (!any_explicit)
    throw Error("no inputs: give --derivatives DIR with --participant-label or --group, or explicit inputs such as "
                "--motion, --tacs, --bpnd, --mean-pet");
  if (!vm.count("out")) throw Error("explicit inputs need --out FILE");
  // Every explicit input must exist: a typo is an error here, not a missing section.
  for (const auto& [name, key] : explicit_inputs())
    if (vm.count(name) && !fs::exists(opt(vm, name), ec)) throw make_error("--", name, " ", opt(vm, name), ": not found");
  const fs::path out = opt(vm, "out");
  if (fs::exists(out, ec) && !force) throw make_error(out.string(), ": exists (use --force to overwrite)");
  qc::SubjectReportInputs in;
  in.subject = strip_sub(opt(vm, "subject"));
  in.tracer = opt(vm, "tracer");
  // Images first, so the grid-edge mask can be related to the BPND map.
  for (const auto& [name, key] : explicit_inputs())
    if (std::string(key) != qc::item::theta3) qc::load_input(in, key, opt(vm, name));
  if (vm.count("gridedge")) qc::load_input(in, qc::item::theta3, opt(vm, "gridedge"));
  if (vm.count("theta3-edge-fraction")) {
    in.theta3_edge_fraction = vm["theta3-edge-fraction"].as<double>();
    in.sources[qc::item::theta3] = "--theta3-edge-fraction";
    in.missing.erase(qc::item::theta3);
  }
  const bool want_template = in.t1_mni && !in.template_t1, want_atlas = in.bpnd_mni && !in.atlas_mni;
  if (want_template || want_atlas) {
    const qc::TemplateFiles t = template_files();
    if (want_template) qc::load_input(in, qc::item::template_t1, t.template_t1);
    if (want_atlas) qc::load_input(in, qc::item::atlas_mni, t.atlas_labels);
    if (!t.reason.empty()) in.notes.push_back("template/atlas: " + t.reason);
  }
  // Items not given are simply absent from explicit runs.
  for (auto it = in.missing.begin(); it != in.missing.end();)
    it = it->second == "not provided" ? in.missing.erase(it) : std::next(it);
  const auto rep = qc::subject_report(in, options);
  write_checked(out, rep.html, force);
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
      "(*_stat-{t,F,z}_statmap.nii.gz without desc-; threshold from its sidecar's Threshold, else the "
      "ClusterFormingThreshold of the matching desc-clusterFWE map, else --threshold) as slices through the peak and a "
      "glass-brain projection, the cluster tables (*_clusters.tsv), box plots of every subject's regional mean "
      "BPND (from *_seg-AAL_desc-sm*_roistats.tsv) by --group-column, and outlier flags (|robust z| > "
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
        ("kinpar", po::value<std::string>(), "regional kinetic parameters TSV (roi; converged, at_bound, status when known)")
        ("gridedge", po::value<std::string>(), "theta3 grid-edge mask (with --bpnd) or a JSON with Theta3GridEdgeFraction")
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
        ("bpnd-max", po::value<double>(), "top of the BPND colour scale (default: 99.5th percentile of the positive values)");
    pipeline::report_qc_table().add_options(d);
  };
  c.run = run_report;
  return c;
}

PETPIPE_REGISTER_COMMAND(report_command, 120)

}  // namespace petpipe::cli
