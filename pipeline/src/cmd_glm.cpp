// petpipe glm: options, inputs and outputs of the group statistics; the voxelwise GLM (t/F, FDR, RFT
// clusters, permutation/TFCE) and the ROI statistics (OLS/ANOVA, adjusted group effects, Tukey HSD, group
// means) are stats::voxelwise_glm and stats::roi_glm.
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/stage_params.hpp"
#include "petpipe/roi/atlas.hpp"
#include "petpipe/stats/glm_workflow.hpp"

namespace petpipe::cli {

namespace {

using nlohmann::json;

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) ? c : (c == '>' ? 'G' : (c == '<' ? 'L' : 'x'));
  return o;
}

std::string num(double v) { return format_number(v, 10); }

// Staging directory beside the output, renamed into place only when everything succeeded.
class Staging {
public:
  Staging(const fs::path& out, bool force) : out_(out), force_(force) {
    std::error_code ec;
    if (fs::exists(out_, ec) && !force_) throw make_error(out_.string(), ": exists (use --force to overwrite)");
    const fs::path parent = out_.has_parent_path() ? out_.parent_path() : fs::path(".");
    if (!fs::is_directory(parent, ec)) throw make_error(parent.string(), ": output parent directory does not exist");
    tmp_ = parent / ("." + out_.filename().string() + ".tmp-" + std::to_string(::getpid()));
    fs::remove_all(tmp_, ec);
    fs::create_directories(tmp_);
  }
  ~Staging() {
    std::error_code ec;
    if (!committed_) fs::remove_all(tmp_, ec);
  }
  fs::path operator/(const std::string& name) const { return tmp_ / name; }
  void commit() {
    std::error_code ec;
    if (fs::exists(out_, ec)) fs::remove_all(out_);
    fs::rename(tmp_, out_);
    committed_ = true;
  }

private:
  fs::path out_, tmp_;
  bool force_;
  bool committed_ = false;
};

// ------------------------------------------------------------------------------------- options

struct GlmCliOptions {
  std::string participants;
  fs::path out;
  bool force = false;
  std::string roi_table;                 // ROI mode when set
  std::vector<std::string> maps;         // voxelwise: --maps
  std::string maps_list;                 // voxelwise: --maps-list
  std::string mask;                      // voxelwise: explicit mask
  std::string atlas;                     // voxelwise: peak labels of the cluster tables
  std::string coding;                    // as given, for the provenance record
  stats::VoxelwiseOptions voxelwise;
  stats::RoiGlmOptions roi;
};

stats::ContrastSpec parse_contrast(const std::string& s) {
  const auto eq = s.find('=');
  stats::ContrastSpec c;
  if (eq == std::string::npos) {
    c.name = safe_name(s);
    c.spec = s;
  } else {
    c.name = s.substr(0, eq);
    c.spec = s.substr(eq + 1);
  }
  if (c.name.empty() || c.spec.empty()) throw make_error("--contrast '", s, "': expected NAME=SPEC");
  return c;
}

GlmCliOptions options_from(const po::variables_map& vm) {
  if (!vm.count("participants")) throw Error("no --participants TSV given");
  if (!vm.count("design")) throw Error("no --design given (e.g. --design \"group + age + sex\")");
  if (!vm.count("out")) throw Error("no --out DIR given");
  GlmCliOptions o;
  o.participants = vm["participants"].as<std::string>();
  o.out = vm["out"].as<std::string>();
  o.force = vm.count("force") > 0;
  if (vm.count("roi-table")) {
    if (vm.count("maps") || vm.count("maps-list")) throw Error("give either maps or --roi-table, not both");
    o.roi_table = vm["roi-table"].as<std::string>();
  }
  if (vm.count("maps")) o.maps = vm["maps"].as<std::vector<std::string>>();
  if (vm.count("maps-list")) o.maps_list = vm["maps-list"].as<std::string>();
  if (vm.count("mask")) o.mask = vm["mask"].as<std::string>();
  o.atlas = vm["atlas"].as<std::string>();

  stats::DesignOptions design;
  o.coding = vm["coding"].as<std::string>();
  if (o.coding == "treatment")
    design.coding = stats::Coding::treatment;
  else if (o.coding == "cell-means")
    design.coding = stats::Coding::cell_means;
  else
    throw make_error("--coding: '", o.coding, "' is not treatment or cell-means");
  design.center_covariates = !vm.count("no-center");
  // Design, contrasts and thresholds: the rows of the group table (petpipe group passes them on).
  const pipeline::GroupParams gp = pipeline::group_table().from_vm(vm);
  std::vector<stats::ContrastSpec> contrasts;
  for (const auto& s : gp.contrasts) {
    const stats::ContrastSpec c = parse_contrast(s);
    for (const auto& other : contrasts)
      if (other.name == c.name) throw make_error("--contrast: name '", c.name, "' given twice");
    contrasts.push_back(c);
  }
  const std::string formula = gp.design;

  if (!o.roi_table.empty()) {
    o.roi.formula = formula;
    o.roi.design = design;
    o.roi.contrasts = contrasts;
    o.roi.nested_models = !vm.count("roi-full-only");
    return o;
  }
  stats::VoxelwiseOptions& v = o.voxelwise;
  v.formula = formula;
  v.design = design;
  v.contrasts = contrasts;
  if (v.contrasts.empty()) throw Error("no --contrast given (e.g. --contrast \"secure_gt_insecure=secure>insecure\")");
  v.fdr_q = gp.fdr_q;
  v.cluster_forming_p = gp.cluster_p;
  v.tfce = gp.tfce;
  v.permutations = gp.permutations;
  const int conn = vm["connectivity"].as<int>();
  if (conn != 6 && conn != 18 && conn != 26) throw make_error("--connectivity ", conn, ": must be 6, 18 or 26");
  v.connectivity = conn == 6 ? stats::Connectivity::c6 : conn == 18 ? stats::Connectivity::c18 : stats::Connectivity::c26;
  v.seed = gp.seed;
  v.pet_variance = vm.count("pet-variance") > 0;
  return o;
}

// ---------------------------------------------------------------------------------- descriptions

json design_json(const stats::Design& d) {
  json j;
  j["formula"] = d.formula;
  j["columns"] = d.column_names;
  j["coding"] = d.coding == stats::Coding::treatment ? "treatment" : "cell-means";
  j["subjects"] = d.subjects;
  for (const auto& t : d.terms) {
    json tj;
    tj["factor"] = t.factor;
    if (t.factor)
      tj["levels"] = t.levels;
    else
      tj["mean_subtracted"] = t.mean;
    j["terms"][t.name] = tj;
  }
  return j;
}

void write_design_tsv(const fs::path& path, const stats::Design& d) {
  Table t;
  t.columns = {"participant_id"};
  for (const auto& c : d.column_names) t.columns.push_back(c);
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    std::vector<std::string> row = {d.subjects[static_cast<std::size_t>(i)]};
    for (Eigen::Index j = 0; j < d.cols(); ++j) row.push_back(num(d.X(i, j)));
    t.add_row(row);
  }
  write_tsv(path, t);
}

// ----------------------------------------------------------------------------------------------- ROI

int run_roi(const GlmCliOptions& o, const Participants& parts) {
  const fs::path table_path = o.roi_table;
  const Table table = read_tsv(table_path);
  const std::string id_col = table.has_column("participant_id") ? "participant_id" : "subject";
  for (const std::string& c : {id_col, std::string("roi"), std::string("value")})
    if (!table.has_column(c))
      throw make_error(table_path.string(), ": no column '", c, "' (need participant_id, roi, value)");
  const auto ids = table.string_column(id_col);
  const auto rois = table.string_column("roi");
  const auto values = table.numeric_column("value");
  std::vector<stats::RoiValues> by_roi;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto [it, added] = index.try_emplace(rois[i], by_roi.size());
    if (added) by_roi.push_back({rois[i], {}, {}});
    by_roi[it->second].subjects.push_back(ids[i]);
    by_roi[it->second].values.push_back(values[i]);
  }
  if (by_roi.empty()) throw make_error(table_path.string(), ": no rows");

  const stats::RoiGlmResult r = stats::roi_glm(parts, by_roi, o.roi);

  Table anova, effects, tukey, means, coefs;
  anova.columns = {"roi", "model", "n", "term", "df1", "df2", "F", "p", "partial_eta2"};
  effects.columns = {"roi", "model", "contrast", "estimate", "se", "t", "df", "p", "p_fdr"};
  tukey.columns = {"roi", "factor", "group1", "group2", "meandiff", "se", "q", "p", "lower", "upper", "reject"};
  means.columns = {"roi", "factor", "group", "n", "mean", "sd"};
  coefs.columns = {"roi", "model", "column", "beta", "se", "t", "df", "p"};
  for (const auto& m : r.fits) {
    const auto& fit = m.fit;
    for (const auto& a : fit.anova)
      anova.add_row({m.roi, m.model, std::to_string(m.n), a.term, num(a.df1), num(a.df2), num(a.F), num(a.p),
                     num(a.partial_eta2)});
    for (std::size_t j = 0; j < fit.beta.size(); ++j)
      coefs.add_row({m.roi, m.model, m.columns[j], num(fit.beta[j]), num(fit.se[j]), num(fit.t[j]), num(fit.df),
                     num(fit.p[j])});
    for (std::size_t e = 0; e < fit.effects.size(); ++e) {
      const auto& x = fit.effects[e];
      effects.add_row({m.roi, m.model, x.contrast, num(x.estimate), num(x.se), num(x.t), num(x.df), num(x.p),
                       num(m.effect_p_fdr[e])});
    }
  }
  for (const auto& f : r.factors) {
    for (const auto& g : f.groups) means.add_row({f.roi, f.factor, g.group, std::to_string(g.n), num(g.mean), num(g.sd)});
    for (const auto& t : f.tukey)
      tukey.add_row({f.roi, f.factor, t.group1, t.group2, num(t.meandiff), num(t.se), num(t.q), num(t.p), num(t.lower),
                     num(t.upper), t.reject ? "True" : "False"});
  }
  Staging st(o.out, o.force);
  write_tsv(st / "roi_anova.tsv", anova);
  write_tsv(st / "roi_coefficients.tsv", coefs);
  if (!effects.rows.empty()) write_tsv(st / "roi_effects.tsv", effects);
  if (!tukey.rows.empty()) write_tsv(st / "roi_tukey.tsv", tukey);
  write_tsv(st / "roi_group_stats.tsv", means);
  Provenance prov;
  prov.command_line = command_line();
  prov.configuration = {{"design", o.roi.formula}, {"models", r.models}, {"coding", o.coding},
                        {"center_covariates", o.roi.design.center_covariates},
                        {"anova", "Type II F tests (equal to statsmodels anova_lm typ=2 for main-effect models)"},
                        {"effects_p", "two-sided; p_fdr: Benjamini-Hochberg over ROIs per model and contrast"},
                        {"tukey", "Tukey-Kramer HSD on the raw values, pooled one-way ANOVA variance, alpha 0.05"}};
  prov.inputs = {table_path, fs::path(o.participants)};
  write_json(st / "roi_stats.json", prov.to_json());
  st.commit();
  log::info("ROI statistics for ", by_roi.size(), " ROIs x ", r.models.size(), " models written to ", o.out.string());
  return 0;
}

// ---------------------------------------------------------------------------------------- voxelwise

struct MapInput {
  std::string subject;
  fs::path path;
};

std::vector<MapInput> map_inputs(const GlmCliOptions& o) {
  std::vector<MapInput> in;
  if (!o.maps.empty() && !o.maps_list.empty()) throw Error("give either --maps or --maps-list, not both");
  if (!o.maps.empty()) {
    for (const auto& m : o.maps) {
      const fs::path p = m;
      const auto name = bids::parse_name(p.filename().string());
      const auto sub = name ? name->get("sub") : std::nullopt;
      if (!sub) throw make_error(m, ": no sub- entity in the file name (use --maps-list to name subjects)");
      in.push_back({"sub-" + *sub, p});
    }
  } else if (!o.maps_list.empty()) {
    const fs::path lp = o.maps_list;
    const Table t = read_tsv(lp);
    const std::string id = t.has_column("participant_id") ? "participant_id" : "subject";
    std::string pc;
    for (const std::string c : {"path", "map", "file"})
      if (t.has_column(c)) pc = c;
    if (!t.has_column(id) || pc.empty())
      throw make_error(lp.string(), ": needs columns participant_id and path");
    const auto ids = t.string_column(id);
    const auto paths = t.string_column(pc);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      fs::path p = paths[i];
      if (p.is_relative()) p = lp.parent_path() / p;
      in.push_back({ids[i], p});
    }
  } else {
    throw Error("no input: give --maps FILE... or --maps-list TSV (or --roi-table TSV)");
  }
  std::set<std::string> seen;
  for (const auto& m : in)
    if (!seen.insert(m.subject).second) throw make_error("subject ", m.subject, " has more than one map");
  if (in.size() < 3) throw make_error("glm: ", in.size(), " maps; at least 3 are needed");
  return in;
}

int connectivity_number(stats::Connectivity c) {
  return c == stats::Connectivity::c6 ? 6 : c == stats::Connectivity::c18 ? 18 : 26;
}

int run_voxelwise(const GlmCliOptions& o, const Participants& parts) {
  const auto inputs = map_inputs(o);
  const stats::VoxelwiseOptions& vo = o.voxelwise;
  stats::MapSource source;
  for (const auto& m : inputs) {
    source.subjects.push_back(m.subject);
    source.names.push_back(m.path.string());
  }
  source.load = [&inputs](std::size_t i) { return read_image(inputs[i].path); };
  std::optional<Mask> mask;
  if (!o.mask.empty()) {
    const Geometry g = read_image_info(inputs[0].path).geom;
    mask = read_mask(o.mask);
    if (!mask->geom.same_grid(g)) throw make_error(o.mask, ": not on the grid of ", inputs[0].path.string());
  }

  const stats::VoxelwiseResult r = stats::voxelwise_glm(parts, source, mask ? &*mask : nullptr, vo);
  const stats::Design& design = r.design;

  // AAL labels for the cluster tables.
  std::optional<roi::Atlas> atlas;
  LabelImage aal;
  try {
    atlas = roi::load_atlas(o.atlas);
    aal = read_labels(atlas->labels_image);
  } catch (const Error& e) {
    log::warn("cluster table without atlas labels: ", e.what());
    atlas.reset();
  }
  auto label_at = [&](const Vec3& ras) -> std::string {
    if (!atlas) return "n/a";
    const Vec3 idx = aal.geom.point_to_index(from_ras(ras));
    long ijk[3];
    for (int a = 0; a < 3; ++a) {
      ijk[a] = std::lround(idx[a]);
      if (ijk[a] < 0 || ijk[a] >= static_cast<long>(aal.geom.size[a])) return "outside";
    }
    const int l = aal.at(static_cast<std::size_t>(ijk[0]), static_cast<std::size_t>(ijk[1]), static_cast<std::size_t>(ijk[2]));
    const auto it = atlas->label_names.find(l);
    return l == 0 ? "unlabelled" : (it == atlas->label_names.end() ? std::to_string(l) : it->second);
  };

  Staging st(o.out, o.force);
  auto write_map = [&](const std::string& name, const std::vector<double>& values, const json& sidecar) {
    const fs::path path = st / name;
    write_image(path, r.image(values));
    write_json(sidecar_path(path), sidecar);
  };
  json common = {{"Design", vo.formula}, {"DegreesOfFreedom", r.df}, {"Subjects", design.rows()}};
  write_mask(st / "mask.nii.gz", r.mask);
  write_json(st / "mask.json", json{{"Description", "group mask: voxels finite and non-zero in every map"
                                                     + std::string(mask ? " and inside --mask" : "")},
                                    {"Voxels", r.voxels.size()}});
  write_design_tsv(st / "design.tsv", design);
  for (Eigen::Index j = 0; j < design.cols(); ++j) {
    const std::string& column = design.column_names[static_cast<std::size_t>(j)];
    json sc = common;
    sc["Statistic"] = "beta";
    sc["Column"] = column;
    write_map("desc-" + safe_name(column) + "_stat-beta_statmap.nii.gz", r.beta_values(j), sc);
  }
  {
    json sc = common;
    sc["Statistic"] = "residual variance";
    sc["PETModeVarianceAdded"] = r.pet_variance_added;
    write_map("stat-sigma2_statmap.nii.gz", r.sigma2, sc);
  }
  const int conn = connectivity_number(vo.connectivity);
  json summary = json::array();
  for (const auto& vc : r.contrasts) {
    const auto& con = vc.contrast;
    const auto& cr = vc.statistics;
    const std::string base = "contrast-" + safe_name(con.name);
    const std::string sname = cr.is_f ? "F" : "t";
    json sc = common;
    sc["Contrast"] = con.name;
    sc["ContrastSpec"] = con.spec;
    std::vector<std::vector<double>> w(static_cast<std::size_t>(con.C.rows()));
    for (Eigen::Index i = 0; i < con.C.rows(); ++i)
      for (Eigen::Index j = 0; j < con.C.cols(); ++j) w[static_cast<std::size_t>(i)].push_back(con.C(i, j));
    sc["ContrastWeights"] = w;
    sc["Columns"] = design.column_names;
    sc["DegreesOfFreedom"] = cr.is_f ? json::array({cr.df1, cr.df2}) : json(cr.df2);
    auto put = [&](const std::string& stat, const std::string& desc, const std::vector<double>& v) {
      json s = sc;
      s["Statistic"] = desc;
      write_map(base + "_stat-" + stat + "_statmap.nii.gz", v, s);
    };
    put(sname, cr.is_f ? "F" : "t", cr.stat);
    put("p", cr.is_f ? "uncorrected p (upper tail of F)" : "uncorrected one-sided p (upper tail of t)", cr.p);
    put("z", "Z with the same p", cr.z);
    put("pareta2", "partial eta squared", cr.partial_eta2);
    if (!cr.is_f) {
      put("effect", "contrast estimate c'beta", cr.effect);
      put("cohend", "c'beta / residual SD (standardised adjusted difference)", cr.cohen_d);
    }
    put("pFDR", "Benjamini-Hochberg adjusted p", vc.fdr.adjusted);
    {
      json s = sc;
      s["Statistic"] = sname + " thresholded at FDR q";
      s["FDRq"] = vo.fdr_q;
      s["FDRThresholdP"] = vc.fdr.threshold;
      s["SignificantVoxels"] = vc.fdr.significant;
      write_map(base + "_desc-FDR_stat-" + sname + "_statmap.nii.gz", vc.fdr_thresholded, s);
    }
    json cj = {{"name", con.name}, {"spec", con.spec}, {"statistic", sname}, {"fdr_q", vo.fdr_q},
               {"fdr_threshold_p", vc.fdr.threshold}, {"fdr_significant_voxels", vc.fdr.significant}};
    cj["peak_stat"] = vc.peak_stat;
    cj["peak_p_fwe_rft"] = vc.peak_p_fwe_rft;
    if (vc.clusters) {
      const auto& cl = *vc.clusters;
      Table ct;
      ct.columns = {"cluster", "voxels", "volume_mm3", "resels", "p_fwe", "p_fdr", "p_uncorrected", "peak_t", "peak_z",
                    "peak_p_fwe", "peak_x_mm", "peak_y_mm", "peak_z_mm", "peak_label"};
      for (std::size_t k = 0; k < cl.clusters.size(); ++k) {
        const auto& c = cl.clusters[k];
        ct.add_row({std::to_string(k + 1), std::to_string(c.voxels), num(c.volume_mm3), num(c.resels), num(c.p_fwe),
                    num(c.p_fdr), num(c.p_uncorrected), num(c.peak_stat), num(c.peak_z), num(c.peak_p_fwe),
                    num(c.peak_ras[0]), num(c.peak_ras[1]), num(c.peak_ras[2]), label_at(c.peak_ras)});
      }
      write_tsv(st / (base + "_clusters.tsv"), ct);
      json s = sc;
      s["Statistic"] = "t in clusters with RFT cluster FWE p < 0.05";
      s["ClusterFormingP"] = vo.cluster_forming_p;
      s["ClusterFormingThreshold"] = cl.threshold;
      s["Connectivity"] = conn;
      write_map(base + "_desc-clusterFWE_stat-t_statmap.nii.gz", vc.cluster_fwe_stat, s);
      cj["cluster_forming_threshold"] = cl.threshold;
      cj["clusters"] = cl.clusters.size();
    }
    if (vc.permutation) {
      const auto& pr = *vc.permutation;
      json s = sc;
      s["Permutations"] = pr.permutations;
      s["Seed"] = vo.seed;
      s["Method"] = "Freedman-Lane, maximum statistic";
      s["Statistic"] = "voxel FWE p (permutation)";
      write_map(base + "_stat-pFWE_statmap.nii.gz", pr.p_fwe, s);
      if (vo.tfce) {
        const auto& to = vc.tfce_options;
        s["TFCE"] = {{"E", to.E}, {"H", to.H}, {"dh", to.dh}, {"connectivity", connectivity_number(to.connectivity)}};
        s["Statistic"] = "TFCE";
        write_map(base + "_stat-tfce_statmap.nii.gz", pr.tfce, s);
        s["Statistic"] = "TFCE FWE p (permutation)";
        write_map(base + "_stat-tfcepFWE_statmap.nii.gz", pr.tfce_p_fwe, s);
      }
      cj["permutations"] = pr.permutations;
    }
    summary.push_back(cj);
  }
  const auto& sm = r.smoothness;
  Provenance prov;
  prov.command_line = command_line();
  prov.configuration = {{"design", design_json(design)},
                        {"contrasts", summary},
                        {"pet_variance", vo.pet_variance},
                        {"smoothness", {{"fwhm_voxels", sm.fwhm_voxels}, {"fwhm_mm", sm.fwhm_mm},
                                        {"resels", sm.resels}, {"resels_per_voxel", sm.resels_per_voxel}}},
                        {"mask_voxels", r.voxels.size()}};
  for (const auto& m : inputs) prov.inputs.push_back(m.path);
  write_json(st / "glm.json", prov.to_json());
  st.commit();
  log::info("GLM results written to ", o.out.string());
  return 0;
}

int run_glm(const po::variables_map& vm) {
  const GlmCliOptions o = options_from(vm);
  const Participants parts = read_participants(o.participants);
  return o.roi_table.empty() ? run_voxelwise(o, parts) : run_roi(o, parts);
}

}  // namespace

Command glm_command() {
  Command c;
  c.name = "glm";
  c.synopsis = "group statistics: voxelwise GLM (t/F, FDR, RFT clusters, permutation/TFCE) and ROI ANOVA";
  c.description =
      "Voxelwise mode (--maps or --maps-list): stacks one map per subject (all on one grid, e.g. smoothed MNI "
      "BPND maps) inside the group mask (voxels finite and non-zero in every map, intersected with --mask), fits "
      "the OLS model of --design by one matrix product and writes, per contrast, the t or F, uncorrected p "
      "(one-sided for t, SPM's convention), Z, contrast estimate, Cohen's d (c'beta / residual SD) and partial "
      "eta squared maps; the Benjamini-Hochberg adjusted p map and the statistic thresholded at FDR q; cluster "
      "inference as SPM (cluster-forming threshold --cluster-p, smoothness from the residuals, RFT cluster FWE p "
      "and topological cluster FDR) with a cluster table (size in voxels and mm3, peak t, Z and RAS/MNI mm, "
      "AAL label at the peak); and, with --permutations or --tfce, Freedman-Lane permutation FWE p maps "
      "(maximum statistic) and TFCE (E 0.5, H 2, dh 0.1).\n\n"
      "Design: terms of participants.tsv joined by '+'; non-numeric columns (or C(column)) are factors, coded "
      "with treatment coding (reference = first level in sorted order) or cell means (--coding); covariates are "
      "mean-centred unless --no-center. Contrasts: NAME=SPEC with SPEC a level difference \"secure>insecure\", "
      "a covariate \"age\" or \"-age\", a factor name \"group\" for its F test, or weights \"0,1,0\" "
      "(rows separated by ';' for an F contrast).\n\n"
      "ROI mode (--roi-table, the long table of petpipe roi --group: participant_id, roi, value): per ROI, "
      "OLS with Type II F tests for the nested models (the first term alone, then adding each further term; "
      "--roi-full-only for the full model only), the t contrasts given with beta, SE, t, df, two-sided p and "
      "BH-FDR over ROIs, Tukey HSD for factors with three or more levels, and group means and SDs.\n\n"
      "Outputs are written to a staging directory and renamed to --out at the end, so a failure leaves "
      "nothing behind.";
  c.examples = {
      {"petpipe glm --maps-list maps.tsv --participants participants.tsv --design \"attachment + age + sex\" "
       "--contrast \"sec_gt_insec=secure>insecure\" --contrast \"insec_gt_sec=insecure>secure\" --fdr 0.025 --out glm/",
       "Two-class comparison with covariates, FDR q 0.025 and RFT cluster inference."},
      {"petpipe glm --maps derivatives/sub-*_space-MNIColin27_desc-sm8_*BPND_mimap.nii.gz --participants "
       "participants.tsv --design \"class3 + age + sex\" --contrast \"class=class3\" --out glm3/",
       "F test of a three-class main effect."},
      {"petpipe glm --maps-list maps.tsv --participants participants.tsv --design \"attachment + age + sex\" "
       "--contrast \"d=secure>insecure\" --tfce --permutations 5000 --seed 1 --out glm_tfce/",
       "Permutation inference with TFCE."},
      {"petpipe glm --roi-table group_roi_long.tsv --participants participants.tsv --design \"class3 + age + sex\" "
       "--contrast \"d=secure>anxious\" --out roi_stats/",
       "ROI ANOVA without covariates, with age, with age and sex; Tukey HSD; group means."}};
  c.references = {
      "Worsley KJ et al. A unified statistical approach for determining significant signals in images of cerebral "
      "activation. Hum Brain Mapp 1996;4:58-73.",
      "Friston KJ et al. Assessing the significance of focal activations using their spatial extent. Hum Brain Mapp "
      "1994;1:210-220.",
      "Kiebel SJ et al. Robust smoothness estimation in statistical parametric maps using standardized residuals from "
      "the general linear model. NeuroImage 1999;10:756-766.",
      "Chumbley JR, Friston KJ. False discovery rate revisited: FDR and topological inference using Gaussian random "
      "fields. NeuroImage 2009;44:62-70.",
      "Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B 1995;57:289-300.",
      "Winkler AM et al. Permutation inference for the general linear model. NeuroImage 2014;92:381-397.",
      "Smith SM, Nichols TE. Threshold-free cluster enhancement. NeuroImage 2009;44:83-98."};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("maps", po::value<std::vector<std::string>>()->multitoken(), "subject maps (sub- entity names the subject)")
        ("maps-list", po::value<std::string>(), "TSV with participant_id and path columns")
        ("roi-table", po::value<std::string>(), "ROI long table (participant_id, roi, value): ROI statistics")
        ("participants", po::value<std::string>(), "participants.tsv")
        ("out", po::value<std::string>(), "output directory")
        ("mask", po::value<std::string>(), "explicit mask (intersected with the valid voxels)")
        ("connectivity", po::value<int>()->default_value(18), "clusters: 6, 18 or 26 (TFCE: 6 if 6, else 26)")
        ("coding", po::value<std::string>()->default_value("treatment"), "factor coding: treatment or cell-means")
        ("no-center", "do not mean-centre covariates")
        ("pet-variance", "SPM PET-mode variance: add 1e-3 x max residual variance")
        ("roi-full-only", "ROI mode: only the full model, not the nested ones")
        ("atlas", po::value<std::string>()->default_value("aal"), "atlas for peak labels");
    pipeline::group_table().add_options(d, {"map", "mask"});
  };
  c.run = run_glm;
  return c;
}

PETPIPE_REGISTER_COMMAND(glm_command, 80)

}  // namespace petpipe::cli
