// petpipe glm: voxelwise GLM over stacked maps (t/F, FDR, RFT clusters, permutation/TFCE) and ROI
// statistics over a long table (OLS/ANOVA, adjusted group effects, Tukey HSD, group means).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
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
#include "petpipe/roi/atlas.hpp"
#include "petpipe/stats/clusters.hpp"
#include "petpipe/stats/design.hpp"
#include "petpipe/stats/distributions.hpp"
#include "petpipe/stats/glm.hpp"
#include "petpipe/stats/multiple_comparisons.hpp"
#include "petpipe/stats/permutation.hpp"
#include "petpipe/stats/rft.hpp"
#include "petpipe/stats/roi_stats.hpp"

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

struct ContrastArg {
  std::string name, spec;
};

std::vector<ContrastArg> parse_contrasts(const po::variables_map& vm) {
  std::vector<ContrastArg> out;
  if (!vm.count("contrast")) return out;
  for (const auto& s : vm["contrast"].as<std::vector<std::string>>()) {
    const auto eq = s.find('=');
    ContrastArg c;
    if (eq == std::string::npos) {
      c.name = safe_name(s);
      c.spec = s;
    } else {
      c.name = s.substr(0, eq);
      c.spec = s.substr(eq + 1);
    }
    if (c.name.empty() || c.spec.empty()) throw make_error("--contrast '", s, "': expected NAME=SPEC");
    for (const auto& o : out)
      if (o.name == c.name) throw make_error("--contrast: name '", c.name, "' given twice");
    out.push_back(c);
  }
  return out;
}

stats::DesignOptions design_options(const po::variables_map& vm) {
  stats::DesignOptions o;
  const std::string coding = vm["coding"].as<std::string>();
  if (coding == "treatment")
    o.coding = stats::Coding::treatment;
  else if (coding == "cell-means")
    o.coding = stats::Coding::cell_means;
  else
    throw make_error("--coding: '", coding, "' is not treatment or cell-means");
  o.center_covariates = !vm.count("no-center");
  return o;
}

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

int run_roi(const po::variables_map& vm, const Participants& parts, const fs::path& out_dir) {
  const fs::path table_path = vm["roi-table"].as<std::string>();
  const Table table = read_tsv(table_path);
  const std::string id_col = table.has_column("participant_id") ? "participant_id" : "subject";
  for (const std::string& c : {id_col, std::string("roi"), std::string("value")})
    if (!table.has_column(c))
      throw make_error(table_path.string(), ": no column '", c, "' (need participant_id, roi, value)");
  const auto ids = table.string_column(id_col);
  const auto rois = table.string_column("roi");
  const auto values = table.numeric_column("value");
  std::vector<std::string> roi_order;
  std::map<std::string, std::vector<std::pair<std::string, double>>> by_roi;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!by_roi.count(rois[i])) roi_order.push_back(rois[i]);
    if (!std::isnan(values[i])) by_roi[rois[i]].push_back({ids[i], values[i]});
  }
  if (roi_order.empty()) throw make_error(table_path.string(), ": no rows");
  const std::string formula = vm["design"].as<std::string>();
  const auto opts = design_options(vm);
  const auto cargs = parse_contrasts(vm);
  // Models: the factor alone, then adding one covariate term at a time (nested), unless --roi-full-only.
  std::vector<std::string> terms;
  {
    std::string cur;
    for (char c : formula + "+") {
      if (c == '+') {
        const auto b = cur.find_first_not_of(' ');
        if (b != std::string::npos) terms.push_back(cur.substr(b, cur.find_last_not_of(' ') - b + 1));
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  std::vector<std::string> models;
  if (vm.count("roi-full-only")) {
    models.push_back(formula);
  } else {
    std::string m;
    for (const auto& t : terms) {
      m += (m.empty() ? "" : " + ") + t;
      models.push_back(m);
    }
  }
  Table anova, effects, tukey, means, coefs;
  anova.columns = {"roi", "model", "n", "term", "df1", "df2", "F", "p", "partial_eta2"};
  effects.columns = {"roi", "model", "contrast", "estimate", "se", "t", "df", "p", "p_fdr"};
  tukey.columns = {"roi", "factor", "group1", "group2", "meandiff", "se", "q", "p", "lower", "upper", "reject"};
  means.columns = {"roi", "factor", "group", "n", "mean", "sd"};
  coefs.columns = {"roi", "model", "column", "beta", "se", "t", "df", "p"};
  std::vector<std::size_t> effect_rows;
  std::map<std::string, std::vector<double>> effect_p;  // model|contrast -> p over ROIs, for FDR
  std::map<std::string, std::vector<std::size_t>> effect_idx;
  for (const auto& roi : roi_order) {
    const auto& obs = by_roi[roi];
    std::vector<std::string> subj;
    std::vector<double> y;
    for (const auto& [s, v] : obs) {
      subj.push_back(s);
      y.push_back(v);
    }
    for (const auto& model : models) {
      const stats::Design d = with_context("ROI " + roi + ": model \"" + model + "\"",
                                           [&] { return stats::make_design(parts, model, subj, opts); });
      std::vector<stats::Contrast> cons;
      for (const auto& c : cargs) {
        // Contrasts that refer to terms absent from a nested model are skipped for that model.
        try {
          auto con = stats::make_contrast(d, c.name, c.spec);
          if (!con.is_f()) cons.push_back(con);
        } catch (const Error&) {
          if (model == models.back()) throw;
        }
      }
      const auto fit = stats::fit_ols(y, d, cons);
      for (const auto& a : fit.anova)
        anova.add_row({roi, model, std::to_string(y.size()), a.term, num(a.df1), num(a.df2), num(a.F), num(a.p),
                       num(a.partial_eta2)});
      for (std::size_t j = 0; j < fit.beta.size(); ++j)
        coefs.add_row({roi, model, d.column_names[j], num(fit.beta[j]), num(fit.se[j]), num(fit.t[j]), num(fit.df),
                       num(fit.p[j])});
      for (const auto& e : fit.effects) {
        const std::string key = model + "|" + e.contrast;
        effect_p[key].push_back(e.p);
        effect_idx[key].push_back(effects.rows.size());
        effects.add_row({roi, model, e.contrast, num(e.estimate), num(e.se), num(e.t), num(e.df), num(e.p), "n/a"});
      }
    }
    // Group summaries and Tukey HSD for every factor of the formula.
    const stats::Design full = stats::make_design(parts, models.back(), subj, opts);
    for (const auto& t : full.terms) {
      if (!t.factor) continue;
      const auto groups = full.factor_values(t.name);
      for (const auto& g : stats::group_summary(y, groups))
        means.add_row({roi, t.name, g.group, std::to_string(g.n), num(g.mean), num(g.sd)});
      if (t.levels.size() >= 3)
        for (const auto& r : stats::tukey_hsd(y, groups, 0.05))
          tukey.add_row({roi, t.name, r.group1, r.group2, num(r.meandiff), num(r.se), num(r.q), num(r.p), num(r.lower),
                         num(r.upper), r.reject ? "True" : "False"});
    }
  }
  for (const auto& [key, ps] : effect_p) {
    const auto f = stats::fdr_bh(ps, 0.05);
    for (std::size_t i = 0; i < ps.size(); ++i) effects.rows[effect_idx[key][i]].back() = num(f.adjusted[i]);
  }
  Staging st(out_dir, vm.count("force") > 0);
  write_tsv(st / "roi_anova.tsv", anova);
  write_tsv(st / "roi_coefficients.tsv", coefs);
  if (!effects.rows.empty()) write_tsv(st / "roi_effects.tsv", effects);
  if (!tukey.rows.empty()) write_tsv(st / "roi_tukey.tsv", tukey);
  write_tsv(st / "roi_group_stats.tsv", means);
  Provenance prov;
  prov.command_line = command_line();
  prov.configuration = {{"design", formula}, {"models", models}, {"coding", vm["coding"].as<std::string>()},
                        {"center_covariates", !vm.count("no-center")},
                        {"anova", "Type II F tests (equal to statsmodels anova_lm typ=2 for main-effect models)"},
                        {"effects_p", "two-sided; p_fdr: Benjamini-Hochberg over ROIs per model and contrast"},
                        {"tukey", "Tukey-Kramer HSD on the raw values, pooled one-way ANOVA variance, alpha 0.05"}};
  prov.inputs = {table_path, fs::path(vm["participants"].as<std::string>())};
  write_json(st / "roi_stats.json", prov.to_json());
  st.commit();
  log::info("ROI statistics for ", roi_order.size(), " ROIs x ", models.size(), " models written to ", out_dir.string());
  return 0;
}

// ---------------------------------------------------------------------------------------- voxelwise

struct MapInput {
  std::string subject;
  fs::path path;
};

std::vector<MapInput> map_inputs(const po::variables_map& vm) {
  std::vector<MapInput> in;
  if (vm.count("maps") && vm.count("maps-list")) throw Error("give either --maps or --maps-list, not both");
  if (vm.count("maps")) {
    for (const auto& m : vm["maps"].as<std::vector<std::string>>()) {
      const fs::path p = m;
      const auto name = bids::parse_name(p.filename().string());
      const auto sub = name ? name->get("sub") : std::nullopt;
      if (!sub) throw make_error(m, ": no sub- entity in the file name (use --maps-list to name subjects)");
      in.push_back({"sub-" + *sub, p});
    }
  } else if (vm.count("maps-list")) {
    const fs::path lp = vm["maps-list"].as<std::string>();
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

void write_map(const fs::path& path, const Geometry& g, const std::vector<std::size_t>& vox,
               const std::vector<double>& values, json sidecar, double outside = 0.0) {
  Image3D img(g, static_cast<float>(outside));
  for (std::size_t v = 0; v < vox.size(); ++v)
    img.data[vox[v]] = std::isfinite(values[v]) ? static_cast<float>(values[v]) : std::numeric_limits<float>::quiet_NaN();
  write_image(path, img);
  write_json(sidecar_path(path), sidecar);
}

int run_voxelwise(const po::variables_map& vm, const Participants& parts, const fs::path& out_dir) {
  const auto inputs = map_inputs(vm);
  std::vector<std::string> subjects;
  for (const auto& m : inputs) subjects.push_back(m.subject);
  const std::string formula = vm["design"].as<std::string>();
  const stats::Design design = stats::make_design(parts, formula, subjects, design_options(vm));
  const auto cargs = parse_contrasts(vm);
  if (cargs.empty()) throw Error("no --contrast given (e.g. --contrast \"secure_gt_insecure=secure>insecure\")");
  std::vector<stats::Contrast> contrasts;
  for (const auto& c : cargs) contrasts.push_back(stats::make_contrast(design, c.name, c.spec));
  const double q = vm["fdr"].as<double>();
  if (!(q > 0 && q < 1)) throw make_error("--fdr ", q, ": must be in (0, 1)");
  const double cluster_p = vm["cluster-p"].as<double>();
  if (!(cluster_p > 0 && cluster_p < 1)) throw make_error("--cluster-p ", cluster_p, ": must be in (0, 1)");
  const bool do_tfce = vm.count("tfce") > 0;
  std::size_t nperm = vm["permutations"].as<std::size_t>();
  if (do_tfce && nperm == 0) nperm = 5000;
  const int conn = vm["connectivity"].as<int>();
  if (conn != 6 && conn != 18 && conn != 26) throw make_error("--connectivity ", conn, ": must be 6, 18 or 26");

  // Geometry and group mask.
  const ImageInfo first = read_image_info(inputs[0].path);
  const Geometry g = first.geom;
  Mask mask(g, 1);
  if (vm.count("mask")) {
    const Mask m = read_mask(vm["mask"].as<std::string>());
    if (!m.geom.same_grid(g)) throw make_error(vm["mask"].as<std::string>(), ": not on the grid of ", inputs[0].path.string());
    mask = m;
  }
  // First pass: validity of every map (finite and non-zero) restricts the mask; second pass fills Y.
  for (const auto& m : inputs) {
    const Image3D img = read_image(m.path);
    if (!img.geom.same_grid(g)) throw make_error(m.path.string(), ": not on the grid of ", inputs[0].path.string());
    for (std::size_t i = 0; i < img.data.size(); ++i)
      if (!std::isfinite(img.data[i]) || img.data[i] == 0.0f) mask.data[i] = 0;
  }
  std::vector<std::size_t> vox;
  for (std::size_t i = 0; i < mask.data.size(); ++i)
    if (mask.data[i]) vox.push_back(i);
  if (vox.empty()) throw Error("glm: the group mask is empty (no voxel is finite and non-zero in every map)");
  log::info("group mask: ", vox.size(), " voxels; design ", design.rows(), " x ", design.cols());
  stats::MatrixXfRM Y(design.rows(), static_cast<Eigen::Index>(vox.size()));
  for (std::size_t s = 0; s < inputs.size(); ++s) {
    const Image3D img = read_image(inputs[s].path);
    for (std::size_t v = 0; v < vox.size(); ++v) Y(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(v)) = img.data[vox[v]];
  }
  stats::GlmOptions go;
  go.keep_residuals = true;
  go.pet_variance = vm.count("pet-variance") > 0;
  const stats::GlmResult fit = stats::fit_glm(Y, design.X, contrasts, go);
  const stats::Smoothness sm = stats::estimate_smoothness(fit.residuals, mask, fit.df);
  log::info("smoothness FWHM ", sm.fwhm_mm[0], " x ", sm.fwhm_mm[1], " x ", sm.fwhm_mm[2], " mm; resels ", sm.resels[3]);

  // AAL labels for the cluster table.
  std::optional<roi::Atlas> atlas;
  LabelImage aal;
  try {
    atlas = roi::load_atlas(vm["atlas"].as<std::string>());
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

  Staging st(out_dir, vm.count("force") > 0);
  json common = {{"Design", formula}, {"DegreesOfFreedom", fit.df}, {"Subjects", design.rows()}};
  write_mask(st / "mask.nii.gz", mask);
  write_json(st / "mask.json", json{{"Description", "group mask: voxels finite and non-zero in every map"
                                                     + std::string(vm.count("mask") ? " and inside --mask" : "")},
                                    {"Voxels", vox.size()}});
  write_design_tsv(st / "design.tsv", design);
  for (Eigen::Index j = 0; j < design.cols(); ++j) {
    std::vector<double> b(vox.size());
    for (std::size_t v = 0; v < vox.size(); ++v) b[v] = fit.beta(j, static_cast<Eigen::Index>(v));
    json sc = common;
    sc["Statistic"] = "beta";
    sc["Column"] = design.column_names[static_cast<std::size_t>(j)];
    write_map(st / ("desc-" + safe_name(design.column_names[static_cast<std::size_t>(j)]) + "_stat-beta_statmap.nii.gz"), g,
              vox, b, sc);
  }
  {
    json sc = common;
    sc["Statistic"] = "residual variance";
    sc["PETModeVarianceAdded"] = fit.pet_variance_added;
    write_map(st / "stat-sigma2_statmap.nii.gz", g, vox, fit.sigma2, sc);
  }
  const stats::MaskGraph graph = stats::mask_graph(mask, conn == 6 ? stats::Connectivity::c6
                                                         : conn == 18 ? stats::Connectivity::c18 : stats::Connectivity::c26);
  json summary = json::array();
  for (std::size_t ci = 0; ci < contrasts.size(); ++ci) {
    const auto& con = contrasts[ci];
    const auto& cr = fit.contrasts[ci];
    const std::string base = "contrast-" + safe_name(con.name);
    const std::string sname = cr.is_f ? "F" : "t";
    json sc = common;
    sc["Contrast"] = con.name;
    sc["ContrastSpec"] = con.spec;
    std::vector<std::vector<double>> w(static_cast<std::size_t>(con.C.rows()));
    for (Eigen::Index r = 0; r < con.C.rows(); ++r)
      for (Eigen::Index j = 0; j < con.C.cols(); ++j) w[static_cast<std::size_t>(r)].push_back(con.C(r, j));
    sc["ContrastWeights"] = w;
    sc["Columns"] = design.column_names;
    sc["DegreesOfFreedom"] = cr.is_f ? json::array({cr.df1, cr.df2}) : json(cr.df2);
    auto put = [&](const std::string& stat, const std::string& desc, const std::vector<double>& v) {
      json s = sc;
      s["Statistic"] = desc;
      write_map(st / (base + "_stat-" + stat + "_statmap.nii.gz"), g, vox, v, s);
    };
    put(sname, cr.is_f ? "F" : "t", cr.stat);
    put("p", cr.is_f ? "uncorrected p (upper tail of F)" : "uncorrected one-sided p (upper tail of t)", cr.p);
    put("z", "Z with the same p", cr.z);
    put("pareta2", "partial eta squared", cr.partial_eta2);
    if (!cr.is_f) {
      put("effect", "contrast estimate c'beta", cr.effect);
      put("cohend", "c'beta / residual SD (standardised adjusted difference)", cr.cohen_d);
    }
    // FDR
    const auto fdr = stats::fdr_bh(cr.p, q);
    put("pFDR", "Benjamini-Hochberg adjusted p", fdr.adjusted);
    std::vector<double> thr(cr.stat.size(), 0.0);
    for (std::size_t v = 0; v < thr.size(); ++v)
      if (fdr.significant > 0 && cr.p[v] <= fdr.threshold) thr[v] = cr.stat[v];
    {
      json s = sc;
      s["Statistic"] = sname + " thresholded at FDR q";
      s["FDRq"] = q;
      s["FDRThresholdP"] = fdr.threshold;
      s["SignificantVoxels"] = fdr.significant;
      write_map(st / (base + "_desc-FDR_stat-" + sname + "_statmap.nii.gz"), g, vox, thr, s);
    }
    json cj = {{"name", con.name}, {"spec", con.spec}, {"statistic", sname}, {"fdr_q", q},
               {"fdr_threshold_p", fdr.threshold}, {"fdr_significant_voxels", fdr.significant}};
    // Peak height FWE (RFT) and clusters.
    double peak = -std::numeric_limits<double>::infinity();
    for (double s : cr.stat)
      if (std::isfinite(s)) peak = std::max(peak, s);
    cj["peak_stat"] = peak;
    cj["peak_p_fwe_rft"] = stats::rft_p(1, 0, peak, cr.is_f ? stats::Field::F : stats::Field::T, cr.df1, cr.df2, sm.resels).P;
    if (!cr.is_f) {
      std::vector<double> full(g.voxel_count(), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t v = 0; v < vox.size(); ++v) full[vox[v]] = cr.stat[v];
      stats::ClusterOptions co;
      co.cluster_forming_p = cluster_p;
      co.connectivity = conn == 6 ? stats::Connectivity::c6 : conn == 18 ? stats::Connectivity::c18 : stats::Connectivity::c26;
      const auto cl = stats::cluster_inference(full, g, stats::Field::T, cr.df1, cr.df2, sm, co);
      Table ct;
      ct.columns = {"cluster", "voxels", "volume_mm3", "resels", "p_fwe", "p_fdr", "p_uncorrected", "peak_t", "peak_z",
                    "peak_p_fwe", "peak_x_mm", "peak_y_mm", "peak_z_mm", "peak_label"};
      std::vector<double> sig(vox.size(), 0.0);
      for (std::size_t k = 0; k < cl.clusters.size(); ++k) {
        const auto& c = cl.clusters[k];
        ct.add_row({std::to_string(k + 1), std::to_string(c.voxels), num(c.volume_mm3), num(c.resels), num(c.p_fwe),
                    num(c.p_fdr), num(c.p_uncorrected), num(c.peak_stat), num(c.peak_z), num(c.peak_p_fwe),
                    num(c.peak_ras[0]), num(c.peak_ras[1]), num(c.peak_ras[2]), label_at(c.peak_ras)});
      }
      for (std::size_t v = 0; v < vox.size(); ++v) {
        const int l = cl.labels.label[vox[v]];
        if (l && cl.clusters[static_cast<std::size_t>(l - 1)].p_fwe < 0.05) sig[v] = cr.stat[v];
      }
      write_tsv(st / (base + "_clusters.tsv"), ct);
      json s = sc;
      s["Statistic"] = "t in clusters with RFT cluster FWE p < 0.05";
      s["ClusterFormingP"] = cluster_p;
      s["ClusterFormingThreshold"] = cl.threshold;
      s["Connectivity"] = conn;
      write_map(st / (base + "_desc-clusterFWE_stat-t_statmap.nii.gz"), g, vox, sig, s);
      cj["cluster_forming_threshold"] = cl.threshold;
      cj["clusters"] = cl.clusters.size();
    }
    if (nperm > 0) {
      stats::PermutationOptions po_;
      po_.permutations = nperm;
      po_.seed = vm["seed"].as<std::uint64_t>();
      po_.tfce = do_tfce;
      po_.tfce_options.connectivity = conn == 6 ? stats::Connectivity::c6 : stats::Connectivity::c26;
      const auto pr = stats::permutation_test(Y, design.X, con, graph, po_);
      json s = sc;
      s["Permutations"] = pr.permutations;
      s["Seed"] = po_.seed;
      s["Method"] = "Freedman-Lane, maximum statistic";
      s["Statistic"] = "voxel FWE p (permutation)";
      write_map(st / (base + "_stat-pFWE_statmap.nii.gz"), g, vox, pr.p_fwe, s);
      if (do_tfce) {
        s["TFCE"] = {{"E", po_.tfce_options.E}, {"H", po_.tfce_options.H}, {"dh", po_.tfce_options.dh},
                     {"connectivity", po_.tfce_options.connectivity == stats::Connectivity::c6 ? 6 : 26}};
        s["Statistic"] = "TFCE";
        write_map(st / (base + "_stat-tfce_statmap.nii.gz"), g, vox, pr.tfce, s);
        s["Statistic"] = "TFCE FWE p (permutation)";
        write_map(st / (base + "_stat-tfcepFWE_statmap.nii.gz"), g, vox, pr.tfce_p_fwe, s);
      }
      cj["permutations"] = pr.permutations;
    }
    summary.push_back(cj);
  }
  Provenance prov;
  prov.command_line = command_line();
  prov.configuration = {{"design", design_json(design)},
                        {"contrasts", summary},
                        {"pet_variance", go.pet_variance},
                        {"smoothness", {{"fwhm_voxels", sm.fwhm_voxels}, {"fwhm_mm", sm.fwhm_mm},
                                        {"resels", sm.resels}, {"resels_per_voxel", sm.resels_per_voxel}}},
                        {"mask_voxels", vox.size()}};
  for (const auto& m : inputs) prov.inputs.push_back(m.path);
  write_json(st / "glm.json", prov.to_json());
  st.commit();
  log::info("GLM results written to ", out_dir.string());
  return 0;
}

int run_glm(const po::variables_map& vm) {
  if (!vm.count("participants")) throw Error("no --participants TSV given");
  if (!vm.count("design")) throw Error("no --design given (e.g. --design \"group + age + sex\")");
  if (!vm.count("out")) throw Error("no --out DIR given");
  const Participants parts = read_participants(vm["participants"].as<std::string>());
  const fs::path out = vm["out"].as<std::string>();
  if (vm.count("roi-table")) {
    if (vm.count("maps") || vm.count("maps-list")) throw Error("give either maps or --roi-table, not both");
    return run_roi(vm, parts, out);
  }
  return run_voxelwise(vm, parts, out);
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
        ("design", po::value<std::string>(), "model formula, e.g. \"group + age + sex\"")
        ("contrast", po::value<std::vector<std::string>>(), "NAME=SPEC (repeatable)")
        ("out", po::value<std::string>(), "output directory")
        ("mask", po::value<std::string>(), "explicit mask (intersected with the valid voxels)")
        ("fdr", po::value<double>()->default_value(0.05), "FDR q for the thresholded maps")
        ("cluster-p", po::value<double>()->default_value(0.001), "cluster-forming uncorrected p")
        ("connectivity", po::value<int>()->default_value(18), "clusters: 6, 18 or 26 (TFCE: 6 if 6, else 26)")
        ("permutations", po::value<std::size_t>()->default_value(0), "number of permutations (0: none; 5000 with --tfce)")
        ("tfce", "TFCE with permutation FWE")
        ("seed", po::value<std::uint64_t>()->default_value(0), "permutation seed")
        ("coding", po::value<std::string>()->default_value("treatment"), "factor coding: treatment or cell-means")
        ("no-center", "do not mean-centre covariates")
        ("pet-variance", "SPM PET-mode variance: add 1e-3 x max residual variance")
        ("roi-full-only", "ROI mode: only the full model, not the nested ones")
        ("atlas", po::value<std::string>()->default_value("aal"), "atlas for peak labels");
  };
  c.run = run_glm;
  return c;
}

PETPIPE_REGISTER_COMMAND(glm_command, 80)

}  // namespace petpipe::cli
