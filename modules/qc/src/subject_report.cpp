#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "html.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/qc/report.hpp"
#include "petpipe/qc/svg.hpp"

namespace petpipe::qc {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string reason(const SubjectReportInputs& in, const std::string& key) {
  auto it = in.missing.find(key);
  return it == in.missing.end() ? std::string() : it->second;
}

std::string source_note(const SubjectReportInputs& in, const std::string& key) {
  auto it = in.sources.find(key);
  return it == in.sources.end() ? std::string() : " Source: " + html::esc(it->second) + ".";
}

bool is_time_column(const std::string& c) {
  return c == "frame_start" || c == "frame_end" || c == "frame" || c == "frame_duration" || c == "frame_mid";
}

// Frame times (s) of a TAC table.
void tac_times(const Table& t, std::vector<double>& start, std::vector<double>& end) {
  start = t.numeric_column("frame_start");
  if (t.has_column("frame_end")) {
    end = t.numeric_column("frame_end");
  } else if (t.has_column("frame_duration")) {
    const auto d = t.numeric_column("frame_duration");
    end.resize(start.size());
    for (std::size_t i = 0; i < start.size(); ++i) end[i] = start[i] + d[i];
  } else {
    throw Error("TAC table has neither 'frame_end' nor 'frame_duration'");
  }
}

std::vector<std::string> region_columns(const Table& t) {
  std::vector<std::string> all, bilateral;
  for (const auto& c : t.columns) {
    if (is_time_column(c) || c == "reference") continue;
    all.push_back(c);
    const bool lateral = c.size() > 2 && (c.ends_with("_L") || c.ends_with("_R"));
    if (!lateral) bilateral.push_back(c);
  }
  return bilateral.empty() ? all : bilateral;
}

// Regional fits that failed: columns of the fitted table without a finite value.
std::vector<RegionFit> fits_from_table(const Table& fitted) {
  std::vector<RegionFit> out;
  for (const auto& c : fitted.columns) {
    if (is_time_column(c) || c == "reference") continue;
    std::vector<double> v;
    try {
      v = fitted.numeric_column(c);
    } catch (const std::exception&) {
      out.push_back({c, true, false, false, "fitted values are not numeric"});
      continue;
    }
    const bool any = std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
    if (!any) out.push_back({c, true, false, false, "no fitted values"});
  }
  return out;
}

std::string status_banner(const SubjectReportInputs& in) {
  std::ostringstream os;
  const std::string cls = in.status == "failed" ? "failed" : in.status == "complete" ? "complete" : "unknown";
  os << "<div class=\"banner " << cls << "\" id=\"status\"><b>Status: "
     << html::esc(in.status.empty() ? "unknown" : in.status) << "</b>";
  if (in.status.empty() && !reason(in, item::status).empty()) os << " (" << html::esc(reason(in, item::status)) << ")";
  if (!in.failed_stage.empty()) os << " &mdash; failed stage: <b>" << html::esc(in.failed_stage) << "</b>";
  if (in.duration_s) os << " &mdash; run time " << html::esc(format_short(*in.duration_s, 4)) << " s";
  if (!in.error.empty()) os << "<br>Error: <code>" << html::esc(in.error) << "</code>";
  if (!in.stages.empty()) {
    os << "<br><span class=\"meta\">Stages:";
    for (const auto& [stage, state] : in.stages) os << " " << html::esc(stage) << " (" << html::esc(state) << ")";
    os << "</span>";
  }
  os << "</div>";
  return os.str();
}

std::string motion_section(const SubjectReportInputs& in, const ReportOptions& o) {
  std::ostringstream os;
  os << "<h2 id=\"motion\">Head motion</h2>";
  if (!in.motion) return os.str() + html::not_available("motion parameters", reason(in, item::motion));
  std::vector<MotionFrame> frames;
  try {
    frames = motion_from_table(*in.motion, in.sources.count(item::motion) ? in.sources.at(item::motion) : "motion table");
  } catch (const std::exception& e) {
    return os.str() + html::not_available("motion parameters", e.what());
  }
  if (frames.empty()) return os.str() + html::not_available("motion parameters", "the motion table has no rows");
  const bool timed = std::all_of(frames.begin(), frames.end(),
                                 [](const MotionFrame& m) { return std::isfinite(m.start_s) && std::isfinite(m.end_s); });
  std::vector<double> x;
  std::vector<Band> bands;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    x.push_back(timed ? 0.5 * (frames[f].start_s + frames[f].end_s) / 60.0 : static_cast<double>(f + 1));
    if (frames[f].excluded) {
      const double a = timed ? frames[f].start_s / 60.0 : f + 0.5;
      const double b = timed ? frames[f].end_s / 60.0 : f + 1.5;
      bands.push_back({a, b, "excluded frame", "#f6c4c4"});
    }
  }
  const std::string xl = timed ? "time (min, frame mid-time)" : "frame";
  auto col = [&](double MotionFrame::*m) {
    std::vector<double> v;
    for (const auto& f : frames) v.push_back(f.*m);
    return v;
  };
  PlotOptions po;
  po.x_label = xl;
  po.width = 780;
  po.height = 230;
  po.include_zero = true;
  if (timed) {
    po.x_min = frames.front().start_s / 60.0;
    po.x_max = frames.back().end_s / 60.0;
  }
  po.title = "Translation";
  po.y_label = "mm";
  const double tthr = o.thresholds.max_translation_mm;
  os << line_plot({{"tx", x, col(&MotionFrame::tx), palette_colour(0), true, true},
                   {"ty", x, col(&MotionFrame::ty), palette_colour(1), true, true},
                   {"tz", x, col(&MotionFrame::tz), palette_colour(2), true, true}},
                  po, bands, {{tthr, "", "#c0392b"}, {-tthr, "threshold +/-" + format_short(tthr) + " mm", "#c0392b"}});
  po.title = "Rotation";
  po.y_label = "degrees";
  const double rthr = o.thresholds.max_rotation_deg;
  os << line_plot({{"rx", x, col(&MotionFrame::rx), palette_colour(0), true, true},
                   {"ry", x, col(&MotionFrame::ry), palette_colour(1), true, true},
                   {"rz", x, col(&MotionFrame::rz), palette_colour(2), true, true}},
                  po, bands, {{rthr, "", "#c0392b"}, {-rthr, "threshold +/-" + format_short(rthr) + " deg", "#c0392b"}});
  po.title = "Framewise displacement";
  po.y_label = "FD (mm)";
  os << line_plot({{"FD", x, col(&MotionFrame::fd), "#333333", true, true}}, po, bands,
                  {{o.thresholds.max_fd_mm, "threshold " + format_short(o.thresholds.max_fd_mm) + " mm", "#c0392b"}});
  const MotionSummary s = summarize_motion(frames);
  os << "<p class=\"caption\">" << s.frames << " frames; max FD " << format_short(s.max_fd_mm, 3) << " mm (frame "
     << s.max_fd_frame + 1 << "), max translation " << format_short(s.max_translation_mm, 3) << " mm (frame "
     << s.max_translation_frame + 1 << "), max rotation " << format_short(s.max_rotation_deg, 3) << " deg (frame "
     << s.max_rotation_frame + 1 << "); " << s.excluded_frames
     << " excluded frame(s) shaded. Translations in mm along the LPS axes, rotations in degrees, relative to the "
        "reference position; FD after Power et al. (2012) with a 50 mm sphere."
     << source_note(in, item::motion) << "</p>";
  return os.str();
}

std::string tac_section(const SubjectReportInputs& in, const ReportOptions& o) {
  std::ostringstream os;
  os << "<h2 id=\"tacs\">Time-activity curves and model fits</h2>";
  if (!in.tacs) return os.str() + html::not_available("TACs", reason(in, item::tacs));
  try {
    const Table& t = *in.tacs;
    std::vector<double> start, end;
    tac_times(t, start, end);
    std::vector<double> mid;
    for (std::size_t f = 0; f < start.size(); ++f) mid.push_back(0.5 * (start[f] + end[f]) / 60.0);
    std::vector<std::string> regions = region_columns(t);
    // Rank regions by their late mean (second half of the frames): show the most and the least bound.
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& r : regions) {
      const auto v = t.numeric_column(r);
      double s = 0;
      int n = 0;
      for (std::size_t f = v.size() / 2; f < v.size(); ++f)
        if (std::isfinite(v[f])) {
          s += v[f];
          ++n;
        }
      ranked.push_back({n ? s / n : -1e300, r});
    }
    std::sort(ranked.begin(), ranked.end(), std::greater<>());
    std::vector<std::string> shown;
    const std::size_t k = std::max<std::size_t>(1, o.max_tac_regions);
    if (ranked.size() <= k) {
      for (const auto& r : ranked) shown.push_back(r.second);
    } else {
      for (std::size_t i = 0; i + 1 < k; ++i) shown.push_back(ranked[i].second);
      shown.push_back(ranked.back().second);
    }
    std::vector<Series> series;
    const bool has_fits = in.fitted_tacs.has_value();
    auto add = [&](const std::string& name, const std::string& colour, const std::string& label) {
      series.push_back({label + (has_fits && name != "reference" ? " (data)" : ""), mid, t.numeric_column(name), colour,
                        false, true});
      if (has_fits && in.fitted_tacs->has_column(name) && name != "reference") {
        const auto fv = in.fitted_tacs->numeric_column(name);
        if (fv.size() == mid.size()) series.push_back({"", mid, fv, colour, true, false});
      }
    };
    if (t.has_column("reference")) {
      series.push_back({"reference", mid, t.numeric_column("reference"), "#000000", true, true, false, 2.2});
    }
    for (std::size_t i = 0; i < shown.size(); ++i) add(shown[i], palette_colour(i), shown[i]);
    PlotOptions po;
    po.title = "Regional TACs";
    po.x_label = "time (min, frame mid-time)";
    po.y_label = "activity (kBq/mL)";
    po.width = 840;
    po.height = 330;
    po.include_zero = true;
    os << line_plot(series, po);
    os << "<p class=\"caption\">Markers: measured frame means; lines: SRTM fits"
       << (has_fits ? "" : " (not available: " + html::esc(reason(in, item::fitted_tacs).empty() ? "not provided" : reason(in, item::fitted_tacs)) + ")")
       << ". Black: reference region. Shown: " << shown.size() << " of " << regions.size()
       << " regions (the highest late uptake and the lowest)." << source_note(in, item::tacs) << "</p>";
  } catch (const std::exception& e) {
    os << html::not_available("TACs", e.what());
  }
  return os.str();
}

double upper_quantile(const Image3D& img, double q) {
  std::vector<double> v;
  for (float x : img.data)
    if (std::isfinite(x) && x > 0) v.push_back(x);
  const double r = quantile(std::move(v), q);
  return std::isfinite(r) && r > 0 ? r : 1.0;
}

std::string bpnd_views(const SubjectReportInputs& in, const ReportOptions& o, const std::optional<Image3D>& bpnd,
                       const std::optional<LabelImage>& atlas, const char* bpnd_key, const char* atlas_key,
                       const std::string& title) {
  std::ostringstream os;
  os << "<h3>" << html::esc(title) << "</h3>";
  if (!bpnd) return os.str() + html::not_available(title, reason(in, bpnd_key));
  try {
    SliceLayers L;
    L.base = &*bpnd;
    L.base_colormap = Colormap::inferno;
    L.base_min = 0.0;
    L.base_max = o.bpnd_max > 0 ? o.bpnd_max : upper_quantile(*bpnd, 0.995);
    if (atlas) L.contours = &*atlas;
    ViewOptions vo;
    vo.convention = o.convention;
    const OrthoViews v = render_orthogonal(L, vo);
    std::string caption = "BPND, colour scale 0 to " + format_short(v.base_max, 3) + " (inferno; 99.5th percentile of the positive "
                          "values unless set); slices through the "
                          "centre of mass of the positive BPND. ";
    caption += atlas ? "Green: atlas region boundaries." : "Atlas contours not available: " +
                       html::esc(reason(in, atlas_key).empty() ? "not provided" : reason(in, atlas_key)) + ".";
    caption += source_note(in, bpnd_key);
    os << html::views(v, o.view_px, caption, colour_bar(Colormap::inferno, v.base_min, v.base_max, "BPND"));
  } catch (const std::exception& e) {
    os << html::not_available(title, e.what());
  }
  return os.str();
}

std::string overlay_views(const SubjectReportInputs& in, const ReportOptions& o, const std::string& title,
                          const std::optional<Image3D>& base, const char* base_key, Colormap map,
                          const std::optional<Image3D>& edges, const char* edges_key, const std::string& what) {
  std::ostringstream os;
  os << "<h3>" << html::esc(title) << "</h3>";
  if (!base) return os.str() + html::not_available(title, reason(in, base_key));
  if (!edges) return os.str() + html::not_available(title, reason(in, edges_key));
  try {
    SliceLayers L;
    L.base = &*base;
    L.base_colormap = map;
    L.edges = &*edges;
    ViewOptions vo;
    vo.convention = o.convention;
    const OrthoViews v = render_orthogonal(L, vo);
    os << html::views(v, o.view_px, what + source_note(in, base_key) + source_note(in, edges_key));
  } catch (const std::exception& e) {
    os << html::not_available(title, e.what());
  }
  return os.str();
}

}  // namespace

std::vector<QcWarning> subject_warnings(const SubjectReportInputs& in, const QcThresholds& th) {
  std::vector<QcWarning> w;
  if (in.status == "failed")
    w.push_back({"status", Severity::error,
                 "run failed" + (in.failed_stage.empty() ? std::string() : " at stage " + in.failed_stage) +
                     (in.error.empty() ? std::string() : ": " + in.error)});
  if (in.motion) {
    try {
      const auto frames = motion_from_table(*in.motion, in.sources.count(item::motion) ? in.sources.at(item::motion) : "motion table");
      for (auto& x : motion_warnings(summarize_motion(frames), th)) w.push_back(std::move(x));
    } catch (const std::exception& e) {
      w.push_back({"input", Severity::warning, e.what()});
    }
  }
  if (in.theta3_edge_fraction)
    if (auto x = theta3_warning(*in.theta3_edge_fraction, th)) w.push_back(*x);
  std::vector<RegionFit> fits = in.fits;
  if (in.fitted_tacs) {
    std::set<std::string> known;
    for (const auto& f : fits) known.insert(f.region);
    for (auto& f : fits_from_table(*in.fitted_tacs))
      if (!known.count(f.region)) fits.push_back(std::move(f));
  }
  for (auto& x : fit_warnings(fits)) w.push_back(std::move(x));
  if (in.tacs) {
    try {
      if (!in.tacs->has_column("reference")) throw Error("TAC table has no 'reference' column");
      std::vector<double> start, end;
      tac_times(*in.tacs, start, end);
      for (auto& x : reference_tac_warnings(start, end, in.tacs->numeric_column("reference"), th)) w.push_back(std::move(x));
    } catch (const std::exception& e) {
      w.push_back({"input", Severity::warning, std::string("TACs: ") + e.what()});
    }
  }
  return w;
}

SubjectReport subject_report(const SubjectReportInputs& in, const ReportOptions& o) {
  SubjectReport rep;
  rep.warnings = subject_warnings(in, o.thresholds);
  if (in.motion) {
    try {
      rep.motion = summarize_motion(motion_from_table(*in.motion, "motion table"));
    } catch (const std::exception&) {
    }
  }
  std::string id = "sub-" + (in.subject.empty() ? std::string("unknown") : in.subject);
  if (!in.session.empty()) id += " ses-" + in.session;
  if (!in.tracer.empty()) id += " trc-" + in.tracer;
  const std::string title = o.title.empty() ? id + " QC report" : o.title;

  std::ostringstream os;
  os << html::page_begin(title);
  os << "<h1>" << html::esc(title) << "</h1>";
  os << "<div class=\"meta\">Subject <b>" << html::esc(in.subject.empty() ? "unknown" : in.subject) << "</b>";
  if (!in.session.empty()) os << ", session <b>" << html::esc(in.session) << "</b>";
  os << ", tracer <b>" << html::esc(in.tracer.empty() ? "n/a" : in.tracer) << "</b>. Images in "
     << to_string(o.convention) << " convention ("
     << (o.convention == Convention::radiological ? "the subject's right on the left of each image"
                                                   : "the subject's left on the left of each image")
     << "), labelled R/L, A/P, S/I.</div>";
  os << status_banner(in);
  for (const auto& n : in.notes) os << "<p class=\"meta\">" << html::esc(n) << "</p>";
  os << "<h2 id=\"warnings\">Warnings</h2>" << html::warnings_block(rep.warnings);
  os << "<p class=\"caption\">Thresholds: FD &gt; " << format_short(o.thresholds.max_fd_mm) << " mm, translation &gt; "
     << format_short(o.thresholds.max_translation_mm) << " mm, rotation &gt; " << format_short(o.thresholds.max_rotation_deg)
     << " deg, theta3 at the grid edge in &gt; " << format_short(100 * o.thresholds.theta3_edge_fraction)
     << " % of voxels, reference TAC late rise &gt; " << format_short(100 * o.thresholds.late_rise_fraction) << " %.";
  if (!in.theta3_edge_fraction)
    os << " Theta3 grid-edge fraction not available"
       << (reason(in, item::theta3).empty() ? "" : " (" + html::esc(reason(in, item::theta3)) + ")") << ".";
  else
    os << " Theta3 grid-edge fraction: " << format_short(100 * *in.theta3_edge_fraction, 3) << " %.";
  os << "</p>";

  os << motion_section(in, o);
  os << tac_section(in, o);

  os << "<h2 id=\"bpnd\">Binding potential (BPND)</h2>";
  os << bpnd_views(in, o, in.bpnd_native, in.atlas_native, item::bpnd_native, item::atlas_native, "BPND, native (PET) space");
  os << bpnd_views(in, o, in.bpnd_mni, in.atlas_mni, item::bpnd_mni, item::atlas_mni, "BPND, template (MNI) space");
  os << "<h3>Regional BPND</h3>";
  if (in.roistats) os << html::table(*in.roistats) << "<p class=\"caption\">" << source_note(in, item::roistats) << "</p>";
  else os << html::not_available("regional statistics", reason(in, item::roistats));

  os << "<h2 id=\"registration\">Registration</h2>";
  os << overlay_views(in, o, "Coregistration: mean PET with T1 edges", in.mean_pet, item::mean_pet, Colormap::grey, in.t1,
                      item::t1, "Mean realigned PET (grey) with the gradient-magnitude edges of the T1 (red); the "
                                "edges should follow the brain outline and ventricles of the PET.");
  os << overlay_views(in, o, "Normalization: warped T1 with template edges", in.t1_mni, item::t1_mni, Colormap::grey,
                      in.template_t1, item::template_t1,
                      "T1 warped to the template (grey) with the template's edges (red); cortex, ventricles and "
                      "brain outline should coincide.");

  os << "<h2 id=\"reference\">Reference region</h2>";
  if (!in.mean_pet) {
    os << html::not_available("reference region on the mean PET", reason(in, item::mean_pet));
  } else if (!in.reference_mask) {
    os << html::not_available("reference region on the mean PET", reason(in, item::reference_mask));
  } else {
    try {
      SliceLayers L;
      L.base = &*in.mean_pet;
      L.mask = &*in.reference_mask;
      ViewOptions vo;
      vo.convention = o.convention;
      std::size_t nvox = 0;
      double sx = 0, sy = 0, sz = 0;
      const auto& g = in.reference_mask->geom;
      for (std::size_t k = 0; k < g.size[2]; ++k)
        for (std::size_t j = 0; j < g.size[1]; ++j)
          for (std::size_t i = 0; i < g.size[0]; ++i)
            if (in.reference_mask->at(i, j, k)) {
              ++nvox;
              sx += i;
              sy += j;
              sz += k;
            }
      if (nvox) vo.centre_ras = to_ras(g.index_to_point({sx / nvox, sy / nvox, sz / nvox}));
      const OrthoViews v = render_orthogonal(L, vo);
      os << html::views(v, o.view_px,
                        "Mean PET (grey) with the reference region (cyan, " + std::to_string(nvox) + " voxels, " +
                            format_short(nvox * g.voxel_volume_mm3() / 1000.0, 4) +
                            " mL); slices through the region's centre." + source_note(in, item::reference_mask));
      if (nvox == 0) os << html::not_available("reference region", "the reference mask is empty");
    } catch (const std::exception& e) {
      os << html::not_available("reference region on the mean PET", e.what());
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
