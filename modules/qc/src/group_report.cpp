#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "html.hpp"
#include "petpipe/qc/report.hpp"
#include "petpipe/qc/svg.hpp"

namespace petpipe::qc {

namespace {

std::string why(const GroupReportInputs& in, const std::string& key) {
  auto it = in.missing.find(key);
  return it == in.missing.end() ? std::string() : it->second;
}

std::string stat_section(const GroupReportInputs& in, const ReportOptions& o, const StatMapInput& s) {
  std::ostringstream os;
  os << "<h3>" << html::esc(s.name.empty() ? "statistic map" : s.name) << "</h3>";
  try {
    std::size_t supra = 0, pos = 0, neg = 0;
    for (float v : s.map.data)
      if (std::isfinite(v) && std::abs(v) >= s.threshold && v != 0) {
        ++supra;
        (v > 0 ? pos : neg)++;
      }
    SliceLayers L;
    const bool underlay = in.underlay.has_value();
    L.base = underlay ? &*in.underlay : &s.map;
    Image3D silhouette;
    if (!underlay) {
      // Without a template, the analysis mask (finite voxels) is the grey background.
      silhouette = s.map;
      for (auto& v : silhouette.data) v = std::isfinite(v) ? 1.0f : 0.0f;
      L.base = &silhouette;
      L.base_max = 2.0;
    }
    if (underlay) {
      // A dimmed underlay (its 99.5th percentile at 2/3 of white) keeps the colour overlay readable.
      std::vector<double> v;
      for (float x : in.underlay->data)
        if (std::isfinite(x) && x > 0) v.push_back(x);
      const double top = quantile(std::move(v), 0.995);
      if (std::isfinite(top) && top > 0) L.base_max = 1.5 * top;
    }
    L.overlay = &s.map;
    L.overlay_threshold = s.threshold;
    if (in.atlas) L.contours = &*in.atlas;
    L.contour_colour = {60, 160, 255};
    ViewOptions vo;
    vo.convention = o.convention;
    if (auto peak = peak_ras(s.map)) vo.centre_ras = peak;
    const OrthoViews v = render_orthogonal(L, vo);
    const std::string bar_pos = colour_bar(Colormap::hot, s.threshold, v.overlay_max, s.statistic + " > 0", 280, 48, 0.3, 0.9);
    const std::string bar_neg = colour_bar(Colormap::cool, s.threshold, v.overlay_max, s.statistic + " < 0 (|value|)", 280, 48, 0.3, 0.9);
    os << html::views(v, o.view_px,
                      "Slices through the peak |" + html::esc(s.statistic) + "| at RAS (" + format_short(v.centre_ras[0], 4) +
                          ", " + format_short(v.centre_ras[1], 4) + ", " + format_short(v.centre_ras[2], 4) +
                          ") mm; shown where |" + html::esc(s.statistic) + "| &ge; " + format_short(s.threshold, 4) +
                          (s.threshold_note.empty() ? "" : " (" + html::esc(s.threshold_note) + ")") + ": " +
                          std::to_string(supra) + " voxels (" + std::to_string(pos) + " positive, " + std::to_string(neg) +
                          " negative)." + (underlay ? " Underlay: template." : " Underlay: analysis mask.") +
                          (in.atlas ? " Blue: atlas boundaries." : "") +
                          (s.source.empty() ? "" : " Source: " + html::esc(s.source) + "."),
                      bar_pos + "<br>" + bar_neg);
    vo.projection = true;
    L.contours = nullptr;
    const OrthoViews g = render_orthogonal(L, vo);
    os << html::views(g, o.view_px,
                      "Glass brain: maximum |" + html::esc(s.statistic) +
                          "| projection along each axis over the brain silhouette (same colour scale).");
  } catch (const std::exception& e) {
    os << html::not_available(s.name.empty() ? "statistic map" : s.name, e.what());
  }
  return os.str();
}

}  // namespace

GroupReport group_report(const GroupReportInputs& in, const ReportOptions& o) {
  GroupReport rep;
  rep.outliers = flag_outliers(in.roi_values, o.thresholds.outlier_z);
  const std::string title = o.title.empty() ? "Group QC report" : o.title;
  std::ostringstream os;
  os << html::page_begin(title) << "<h1>" << html::esc(title) << "</h1>";
  os << "<div class=\"meta\">Images in " << to_string(o.convention) << " convention ("
     << (o.convention == Convention::radiological ? "the subject's right on the left of each image"
                                                   : "the subject's left on the left of each image")
     << "), labelled R/L, A/P, S/I.</div>";
  for (const auto& n : in.notes) os << "<p class=\"meta\">" << html::esc(n) << "</p>";

  // Subjects and their run status.
  os << "<h2 id=\"subjects\">Subjects</h2>";
  if (in.subjects) {
    std::size_t complete = 0, failed = 0;
    if (in.subjects->has_column("status")) {
      for (const auto& s : in.subjects->string_column("status")) {
        complete += s == "complete";
        failed += s == "failed";
      }
      os << "<p>" << in.subjects->rows.size() << " scans: " << complete << " complete, " << failed << " failed.</p>";
      if (failed) {
        std::vector<QcWarning> w{{"status", Severity::error, std::to_string(failed) + " subject(s) failed; see the table"}};
        os << html::warnings_block(w);
      }
    }
    os << html::table(*in.subjects, 1000);
  } else {
    os << html::not_available("run summary", why(in, "subjects"));
  }
  os << "<h2 id=\"design\">Design</h2>";
  if (in.design) os << html::table(*in.design, 1000);
  else os << html::not_available("design / participants table", why(in, "design"));

  os << "<h2 id=\"statistics\">Statistic maps</h2>";
  if (in.stat_maps.empty()) os << html::not_available("statistic maps", why(in, "stat_maps"));
  for (const auto& s : in.stat_maps) os << stat_section(in, o, s);

  os << "<h2 id=\"clusters\">Clusters</h2>";
  if (in.cluster_tables.empty()) os << html::not_available("cluster table", why(in, "clusters"));
  for (const auto& [name, table] : in.cluster_tables) {
    if (!name.empty()) os << "<h3>" << html::esc(name) << "</h3>";
    os << html::table(table, 200);
  }

  // ROI box plots by group.
  os << "<h2 id=\"roi\">Regional " << html::esc(in.value_name) << " by group</h2>";
  if (in.roi_values.empty()) {
    os << html::not_available("regional values", why(in, "roi_values"));
  } else {
    std::vector<std::string> regions = in.region_order;
    std::vector<std::string> groups;
    std::set<std::string> seen_r(regions.begin(), regions.end()), seen_g;
    for (const auto& v : in.roi_values) {
      if (seen_r.insert(v.region).second) regions.push_back(v.region);
      if (seen_g.insert(v.group).second) groups.push_back(v.group);
    }
    std::sort(groups.begin(), groups.end());
    std::set<std::tuple<std::string, std::string, std::string>> flagged;
    for (const auto& f : rep.outliers) flagged.insert({f.subject, f.group, f.region});
    const std::size_t per_plot = 8;
    for (std::size_t first = 0; first < regions.size(); first += per_plot) {
      std::vector<BoxCategory> cats;
      for (std::size_t r = first; r < std::min(regions.size(), first + per_plot); ++r) {
        BoxCategory c;
        c.name = regions[r];
        c.groups.resize(groups.size());
        for (const auto& v : in.roi_values) {
          if (v.region != regions[r]) continue;
          const std::size_t g = std::find(groups.begin(), groups.end(), v.group) - groups.begin();
          c.groups[g].push_back({v.value, v.subject, flagged.count({v.subject, v.group, v.region}) > 0});
        }
        cats.push_back(std::move(c));
      }
      PlotOptions po;
      po.y_label = in.value_name;
      po.width = 900;
      po.height = 300;
      po.include_zero = true;
      po.title = regions.size() > per_plot ? "Regions " + std::to_string(first + 1) + "-" +
                                                 std::to_string(std::min(regions.size(), first + per_plot))
                                           : "";
      os << box_plot(cats, groups, po);
    }
    os << "<p class=\"caption\">Boxes: quartiles and median; whiskers: most extreme values within 1.5 IQR; dots: "
          "subjects; red rings: outliers (|robust z| &gt; "
       << format_short(o.thresholds.outlier_z)
       << " within the group, z = (x - median) / (1.4826 MAD)).</p>";
    os << "<h3>Outlier flags</h3>";
    if (rep.outliers.empty()) {
      os << "<div class=\"ok\">No subject ROI value with |robust z| &gt; " << format_short(o.thresholds.outlier_z) << ".</div>";
    } else {
      Table t;
      t.columns = {"subject", "group", "region", in.value_name, "robust_z"};
      for (const auto& f : rep.outliers)
        t.rows.push_back({f.subject, f.group, f.region, format_short(f.value, 5), format_short(f.z, 3)});
      os << "<div id=\"outliers\">" << html::table(t, 500) << "</div>";
    }
    // Per-subject summary: number of flagged regions.
    std::map<std::string, int> per_subject;
    for (const auto& f : rep.outliers) per_subject[f.subject]++;
    if (!per_subject.empty()) {
      os << "<p>Subjects with flags:";
      for (const auto& [s, n] : per_subject) os << " <b>" << html::esc(s) << "</b> (" << n << " region" << (n > 1 ? "s" : "") << ")";
      os << "</p>";
    }
  }
  os << "<h2 id=\"inputs\">Inputs</h2><table class=\"data\"><tr><th>item</th><th>source</th></tr>";
  for (const auto& [k, v] : in.sources) os << "<tr><td class=\"s\">" << html::esc(k) << "</td><td class=\"s\">" << html::esc(v) << "</td></tr>";
  for (const auto& [k, v] : in.missing)
    if (!in.sources.count(k))
      os << "<tr><td class=\"s\">" << html::esc(k) << "</td><td class=\"s\">not available: " << html::esc(v) << "</td></tr>";
  os << "</table>";
  os << html::page_end("Generated by " + o.generator + ". Self-contained: no scripts, no external resources.");
  rep.html = os.str();
  return rep;
}

}  // namespace petpipe::qc
