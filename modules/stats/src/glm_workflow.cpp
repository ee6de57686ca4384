#include "petpipe/stats/glm_workflow.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"

namespace petpipe::stats {

namespace {

void check_options(const VoxelwiseOptions& o) {
  if (o.contrasts.empty()) throw Error("voxelwise GLM: no contrast given");
  if (!(o.fdr_q > 0 && o.fdr_q < 1)) throw make_error("voxelwise GLM: FDR q ", o.fdr_q, " must be in (0, 1)");
  if (!(o.cluster_forming_p > 0 && o.cluster_forming_p < 1))
    throw make_error("voxelwise GLM: cluster-forming p ", o.cluster_forming_p, " must be in (0, 1)");
  if (!(o.cluster_fwe_alpha > 0 && o.cluster_fwe_alpha <= 1))
    throw make_error("voxelwise GLM: cluster FWE alpha ", o.cluster_fwe_alpha, " must be in (0, 1]");
}

}  // namespace

Image3D VoxelwiseResult::image(const std::vector<double>& values, float outside) const {
  if (values.size() != voxels.size())
    throw make_error("voxelwise GLM: ", values.size(), " values for ", voxels.size(), " mask voxels");
  Image3D img(grid, outside);
  for (std::size_t v = 0; v < voxels.size(); ++v)
    img.data[voxels[v]] =
        std::isfinite(values[v]) ? static_cast<float>(values[v]) : std::numeric_limits<float>::quiet_NaN();
  return img;
}

std::vector<double> VoxelwiseResult::beta_values(Eigen::Index column) const {
  std::vector<double> b(voxels.size());
  for (std::size_t v = 0; v < voxels.size(); ++v) b[v] = beta(column, static_cast<Eigen::Index>(v));
  return b;
}

VoxelwiseResult voxelwise_glm(const Participants& participants, const MapSource& maps, const Mask* explicit_mask,
                              const VoxelwiseOptions& options) {
  check_options(options);
  const std::size_t n = maps.subjects.size();
  if (maps.names.size() != n || !maps.load)
    throw make_error("voxelwise GLM: ", n, " subjects but ", maps.names.size(), " map names");
  if (n < 3) throw make_error("voxelwise GLM: ", n, " maps; at least 3 are needed");
  VoxelwiseResult res;
  res.design = make_design(participants, options.formula, maps.subjects, options.design);
  const Design& design = res.design;
  std::vector<Contrast> contrasts;
  for (const auto& c : options.contrasts) contrasts.push_back(make_contrast(design, c.name, c.spec));

  // Group mask: a first pass over the maps keeps the voxels finite and non-zero in every map.
  for (std::size_t s = 0; s < n; ++s) {
    const Image3D img = maps.load(s);
    if (s == 0) {
      if (explicit_mask && !explicit_mask->geom.same_grid(img.geom))
        throw make_error("mask: not on the grid of ", maps.names[0]);
      res.grid = img.geom;
      res.mask = explicit_mask ? *explicit_mask : Mask(img.geom, 1);
    }
    if (!img.geom.same_grid(res.grid))
      throw make_error(maps.names[s], ": not on the grid of ", maps.names[0]);
    for (std::size_t i = 0; i < img.data.size(); ++i)
      if (!std::isfinite(img.data[i]) || img.data[i] == 0.0f) res.mask.data[i] = 0;
  }
  const Mask& mask = res.mask;
  for (std::size_t i = 0; i < mask.data.size(); ++i)
    if (mask.data[i]) res.voxels.push_back(i);
  const std::vector<std::size_t>& vox = res.voxels;
  if (vox.empty()) throw Error("glm: the group mask is empty (no voxel is finite and non-zero in every map)");
  log::info("group mask: ", vox.size(), " voxels; design ", design.rows(), " x ", design.cols());
  MatrixXfRM Y(design.rows(), static_cast<Eigen::Index>(vox.size()));
  for (std::size_t s = 0; s < n; ++s) {
    const Image3D img = maps.load(s);
    if (!img.geom.same_grid(res.grid)) throw make_error(maps.names[s], ": the map's grid changed between reads");
    for (std::size_t v = 0; v < vox.size(); ++v)
      Y(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(v)) = img.data[vox[v]];
  }

  // Model fit and smoothness of the residuals.
  GlmOptions go;
  go.keep_residuals = true;
  go.pet_variance = options.pet_variance;
  GlmResult fit = fit_glm(Y, design.X, contrasts, go);
  res.smoothness = estimate_smoothness(fit.residuals, mask, fit.df);
  fit.residuals = MatrixXfRM();
  const Smoothness& sm = res.smoothness;
  log::info("smoothness FWHM ", sm.fwhm_mm[0], " x ", sm.fwhm_mm[1], " x ", sm.fwhm_mm[2], " mm; resels ", sm.resels[3]);
  res.beta = std::move(fit.beta);
  res.sigma2 = std::move(fit.sigma2);
  res.df = fit.df;
  res.pet_variance_added = fit.pet_variance_added;

  const Connectivity tfce_conn = options.connectivity == Connectivity::c6 ? Connectivity::c6 : Connectivity::c26;
  const std::size_t nperm = options.tfce && options.permutations == 0 ? 5000 : options.permutations;
  std::optional<MaskGraph> graph;
  if (nperm > 0) graph = mask_graph(mask, options.connectivity);
  for (std::size_t ci = 0; ci < contrasts.size(); ++ci) {
    VoxelwiseContrast vc;
    vc.contrast = contrasts[ci];
    vc.statistics = std::move(fit.contrasts[ci]);
    const ContrastResult& cr = vc.statistics;
    // FDR.
    vc.fdr = fdr_bh(cr.p, options.fdr_q);
    vc.fdr_thresholded.assign(cr.stat.size(), 0.0);
    for (std::size_t v = 0; v < cr.stat.size(); ++v)
      if (vc.fdr.significant > 0 && cr.p[v] <= vc.fdr.threshold) vc.fdr_thresholded[v] = cr.stat[v];
    // Peak height FWE (RFT).
    vc.peak_stat = -std::numeric_limits<double>::infinity();
    for (double s : cr.stat)
      if (std::isfinite(s)) vc.peak_stat = std::max(vc.peak_stat, s);
    vc.peak_p_fwe_rft = rft_p(1, 0, vc.peak_stat, cr.is_f ? Field::F : Field::T, cr.df1, cr.df2, sm.resels).P;
    // Clusters (t contrasts).
    if (!cr.is_f) {
      std::vector<double> full(res.grid.voxel_count(), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t v = 0; v < vox.size(); ++v) full[vox[v]] = cr.stat[v];
      ClusterOptions co;
      co.cluster_forming_p = options.cluster_forming_p;
      co.connectivity = options.connectivity;
      vc.clusters = cluster_inference(full, res.grid, Field::T, cr.df1, cr.df2, sm, co);
      vc.cluster_fwe_stat.assign(vox.size(), 0.0);
      for (std::size_t v = 0; v < vox.size(); ++v) {
        const int l = vc.clusters->labels.label[vox[v]];
        if (l && vc.clusters->clusters[static_cast<std::size_t>(l - 1)].p_fwe < options.cluster_fwe_alpha)
          vc.cluster_fwe_stat[v] = cr.stat[v];
      }
    }
    // Permutations and TFCE.
    if (nperm > 0) {
      PermutationOptions po;
      po.permutations = nperm;
      po.seed = options.seed;
      po.tfce = options.tfce;
      po.tfce_options.connectivity = tfce_conn;
      vc.tfce_options = po.tfce_options;
      vc.permutation = permutation_test(Y, design.X, vc.contrast, *graph, po);
      res.permutations = vc.permutation->permutations;
    }
    res.contrasts.push_back(std::move(vc));
  }
  return res;
}

VoxelwiseResult voxelwise_glm(const Participants& participants, const std::vector<std::string>& subjects,
                              const std::vector<Image3D>& maps, const Mask* explicit_mask,
                              const VoxelwiseOptions& options) {
  if (subjects.size() != maps.size())
    throw make_error("voxelwise GLM: ", subjects.size(), " subjects for ", maps.size(), " maps");
  MapSource src;
  src.subjects = subjects;
  for (const auto& s : subjects) src.names.push_back("map of " + s);
  src.load = [&maps](std::size_t i) { return maps[i]; };
  return voxelwise_glm(participants, src, explicit_mask, options);
}

// ------------------------------------------------------------------------------------------- ROI

std::vector<std::string> nested_formulas(const std::string& formula) {
  std::vector<std::string> terms;
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
  std::vector<std::string> models;
  std::string m;
  for (const auto& t : terms) {
    m += (m.empty() ? "" : " + ") + t;
    models.push_back(m);
  }
  return models;
}

RoiGlmResult roi_glm(const Participants& participants, const std::vector<RoiValues>& rois,
                     const RoiGlmOptions& options) {
  if (rois.empty()) throw Error("ROI GLM: no ROIs");
  RoiGlmResult res;
  res.models = options.nested_models ? nested_formulas(options.formula) : std::vector<std::string>{options.formula};
  if (res.models.empty()) throw Error("ROI GLM: empty formula");
  const std::string& full_model = res.models.back();
  // Indices into res.fits and effect rows of each model|contrast, for BH-FDR over ROIs.
  std::map<std::string, std::vector<std::pair<std::size_t, std::size_t>>> effect_rows;
  for (const auto& roi : rois) {
    if (roi.subjects.size() != roi.values.size())
      throw make_error("ROI ", roi.roi, ": ", roi.subjects.size(), " subjects for ", roi.values.size(), " values");
    std::vector<std::string> subj;
    std::vector<double> y;
    for (std::size_t i = 0; i < roi.values.size(); ++i)
      if (!std::isnan(roi.values[i])) {
        subj.push_back(roi.subjects[i]);
        y.push_back(roi.values[i]);
      }
    for (const auto& model : res.models) {
      const Design d = with_context("ROI " + roi.roi + ": model \"" + model + "\"",
                                    [&] { return make_design(participants, model, subj, options.design); });
      std::vector<Contrast> cons;
      for (const auto& c : options.contrasts) {
        // Contrasts that refer to terms absent from a nested model are skipped for that model.
        try {
          auto con = make_contrast(d, c.name, c.spec);
          if (!con.is_f()) cons.push_back(con);
        } catch (const Error&) {
          if (model == full_model) throw;
        }
      }
      RoiModelFit mf;
      mf.roi = roi.roi;
      mf.model = model;
      mf.n = y.size();
      mf.columns = d.column_names;
      mf.fit = fit_ols(y, d, cons);
      mf.effect_p_fdr.assign(mf.fit.effects.size(), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t e = 0; e < mf.fit.effects.size(); ++e)
        effect_rows[model + "|" + mf.fit.effects[e].contrast].push_back({res.fits.size(), e});
      res.fits.push_back(std::move(mf));
    }
    // Group summaries and Tukey HSD for every factor of the full model.
    const Design full = make_design(participants, full_model, subj, options.design);
    for (const auto& t : full.terms) {
      if (!t.factor) continue;
      RoiFactorSummary summary;
      summary.roi = roi.roi;
      summary.factor = t.name;
      const auto groups = full.factor_values(t.name);
      summary.groups = group_summary(y, groups);
      if (t.levels.size() >= 3) summary.tukey = tukey_hsd(y, groups, options.tukey_alpha);
      res.factors.push_back(std::move(summary));
    }
  }
  for (const auto& [key, rows] : effect_rows) {
    std::vector<double> ps;
    for (const auto& [f, e] : rows) ps.push_back(res.fits[f].fit.effects[e].p);
    const auto fdr = fdr_bh(ps, 0.05);
    for (std::size_t i = 0; i < rows.size(); ++i) res.fits[rows[i].first].effect_p_fdr[rows[i].second] = fdr.adjusted[i];
  }
  return res;
}

}  // namespace petpipe::stats
