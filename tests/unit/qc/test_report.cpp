// Subject and group reports from in-memory data: planted motion is shown and flagged, a failed
// subject's report says what failed, missing inputs are named, outliers are flagged, and the HTML is
// self-contained (no scripts, no external references).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "petpipe/qc/report.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

namespace {

SubjectReportInputs full_subject(double jump_mm) {
  SubjectReportInputs in;
  in.subject = "07";
  in.tracer = "carfentanil";
  in.status = "complete";
  in.duration_s = 123.4;
  in.stages = {{"realign", "complete"}, {"srtm", "complete"}};
  in.motion = motion_table(jump_mm);
  in.tacs = tac_table(false);
  in.fitted_tacs = tac_table(true);
  const Geometry g = ras_grid(24, 28, 20, 3, 3, 3);
  in.bpnd_native = ellipsoid_image(g, 30, 36, 26, 0.8f, {12, 10, 0}, 8, 3.0f);
  in.mean_pet = ellipsoid_image(g, 30, 36, 26, 5.0f, {-12, 10, 0}, 8, 15.0f);
  in.atlas_native = LabelImage(g, 0);
  for (std::size_t n = 0; n < g.voxel_count(); ++n) in.atlas_native->data[n] = in.bpnd_native->data[n] > 2 ? 2 : in.bpnd_native->data[n] > 0 ? 1 : 0;
  in.reference_mask = Mask(g, 0);
  for (std::size_t k = 2; k < 6; ++k)
    for (std::size_t j = 2; j < 8; ++j)
      for (std::size_t i = 8; i < 16; ++i) in.reference_mask->at(i, j, k) = 1;
  const Geometry t1g = ras_grid(48, 56, 40, 1.5, 1.5, 1.5);
  in.t1 = ellipsoid_image(t1g, 31, 37, 27, 100.0f, {0, 0, 0}, 6, 30.0f);
  in.roistats = Table{};
  in.roistats->columns = {"roi", "mean", "median", "sd", "n_voxels", "volume_ml"};
  in.roistats->add_row({"caudate", "2.1", "2.0", "0.3", "120", "0.96"});
  in.missing[item::bpnd_mni] = "sub-07_trc-carfentanil_space-MNIColin27_model-SRTM_meas-BPND_mimap.nii.gz not found";
  return in;
}

void expect_self_contained(const std::string& html) {
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // No external reference: the only URL is the SVG namespace.
  std::string stripped = html;
  const std::string ns = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (std::size_t p = stripped.find(ns); p != std::string::npos; p = stripped.find(ns, p)) stripped.erase(p, ns.size());
  EXPECT_EQ(stripped.find("http://"), std::string::npos);
  EXPECT_EQ(stripped.find("https://"), std::string::npos);
  EXPECT_EQ(stripped.find("file:"), std::string::npos);
  // Every <img> is an inline PNG.
  for (std::size_t p = html.find("<img "); p != std::string::npos; p = html.find("<img ", p + 1)) {
    const std::size_t src = html.find("src=\"", p);
    ASSERT_NE(src, std::string::npos);
    EXPECT_LT(src, html.find('>', p));
    EXPECT_EQ(html.compare(src + 5, 22, "data:image/png;base64,"), 0) << html.substr(src, 40);
  }
}

}  // namespace

TEST(SubjectReport, PlantedMotionIsShownAndFlagged) {
  const SubjectReport rep = subject_report(full_subject(3.0));
  ASSERT_TRUE(rep.motion.has_value());
  EXPECT_EQ(rep.motion->max_fd_frame, 7u);
  bool flagged = false;
  for (const auto& w : rep.warnings) flagged |= w.category == "motion" && w.message.find("high motion") != std::string::npos;
  EXPECT_TRUE(flagged);
  const std::string& h = rep.html;
  EXPECT_NE(h.find("<li class=\"warning\" data-category=\"motion\"><b>motion</b>: high motion: framewise displacement"),
            std::string::npos);
  EXPECT_NE(h.find("at frame 8"), std::string::npos);
  EXPECT_NE(h.find("Framewise displacement"), std::string::npos);
  EXPECT_NE(h.find("excluded frame"), std::string::npos);  // shaded band legend
  EXPECT_NE(h.find("Status: complete"), std::string::npos);
  // Sections drawn: 3 motion plots + TAC plot, BPND views (3 images) + mean PET/T1 overlay (3) + reference (3).
  EXPECT_EQ(count(h, "<svg xmlns"), 4u + 1u);  // + BPND colour bar
  EXPECT_EQ(count(h, "<img "), 9u);
  EXPECT_NE(h.find("BPND, template (MNI) space: not available</b> &mdash; sub-07_trc-carfentanil_space-MNIColin27"),
            std::string::npos);
  EXPECT_NE(h.find("Normalization: warped T1 with template edges: not available"), std::string::npos);
  EXPECT_NE(h.find("radiological convention"), std::string::npos);
  expect_self_contained(h);
  // Without the jump: no motion warning.
  const SubjectReport calm = subject_report(full_subject(0.2));
  for (const auto& w : calm.warnings) EXPECT_FALSE(w.category == "motion" && w.severity == Severity::warning) << w.message;
  EXPECT_EQ(calm.html.find("high motion"), std::string::npos);
}

TEST(SubjectReport, FailedSubjectSaysWhatFailed) {
  SubjectReportInputs in;
  in.subject = "03";
  in.tracer = "madam";
  in.status = "failed";
  in.failed_stage = "srtm";
  in.error = "sub-03: reference TAC: frame 12 is not positive";
  in.motion = motion_table(0.1);
  in.missing[item::bpnd_native] = "not written (the run failed at srtm)";
  const SubjectReport rep = subject_report(in);
  const std::string& h = rep.html;
  ASSERT_FALSE(rep.warnings.empty());
  EXPECT_EQ(rep.warnings.front().category, "status");
  EXPECT_EQ(rep.warnings.front().severity, Severity::error);
  EXPECT_NE(h.find("<div class=\"banner failed\" id=\"status\"><b>Status: failed</b>"), std::string::npos);
  EXPECT_NE(h.find("failed stage: <b>srtm</b>"), std::string::npos);
  EXPECT_NE(h.find("reference TAC: frame 12 is not positive"), std::string::npos);
  EXPECT_NE(h.find("not written (the run failed at srtm)"), std::string::npos);
  EXPECT_NE(h.find("TACs: not available"), std::string::npos);
  // The status appears before the first section.
  EXPECT_LT(h.find("Status: failed"), h.find("id=\"motion\""));
  expect_self_contained(h);
}

TEST(SubjectReport, FitAndReferenceWarningsFromTables) {
  SubjectReportInputs in = full_subject(0.1);
  in.fitted_tacs = tac_table(true, "putamen");
  // Reference rising late.
  Table t = tac_table(false);
  const std::size_t ref = t.column_index("reference");
  for (std::size_t f = 6; f < t.rows.size(); ++f) t.rows[f][ref] = format_number(5.0 + 2.0 * f);
  in.tacs = t;
  in.theta3_edge_fraction = 0.3;
  const auto w = subject_warnings(in, QcThresholds{});
  auto has = [&](const std::string& c, const std::string& m) {
    for (const auto& x : w)
      if (x.category == c && x.message.find(m) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("fit", "failed regional fit(s): putamen"));
  EXPECT_TRUE(has("reference", "rises in the late frames"));
  EXPECT_TRUE(has("theta3", "30 %"));
  // Unparseable motion table: an input warning, the report is still produced.
  in.motion->columns[3] = "x_translation";
  const SubjectReport rep = subject_report(in);
  EXPECT_NE(rep.html.find("motion parameters: not available"), std::string::npos);
  EXPECT_NE(rep.html.find("no &#39;tx&#39; column"), std::string::npos);
}

TEST(GroupReport, BoxPlotsOutliersAndStatMaps) {
  GroupReportInputs in;
  in.design = Table{};
  in.design->columns = {"participant_id", "group", "age"};
  for (int i = 0; i < 12; ++i) {
    const std::string s = "sub-" + std::string(i < 9 ? "0" : "") + std::to_string(i + 1);
    const std::string g = i < 6 ? "control" : "patient";
    in.design->add_row({s, g, std::to_string(30 + i)});
    for (const char* r : {"caudate", "putamen", "thalamus"}) {
      double v = (i < 6 ? 1.0 : 1.3) + 0.02 * (i % 6) + (std::string(r) == "putamen" ? 0.5 : 0.0);
      if (i == 4 && std::string(r) == "thalamus") v = 4.0;  // planted outlier
      in.roi_values.push_back({s, g, r, v});
    }
  }
  const Geometry g = ras_grid(30, 36, 30, 3, 3, 3);
  StatMapInput sm;
  sm.name = "patient > control";
  sm.map = ellipsoid_image(g, 40, 50, 40, 0.5f, {20, -10, 8}, 7, 6.0f);
  sm.threshold = 3.1;
  sm.threshold_note = "p < 0.001";
  in.stat_maps.push_back(sm);
  in.underlay = ellipsoid_image(g, 40, 50, 40, 100.0f, {0, 0, 0}, 0, 100.0f);
  Table clusters;
  clusters.columns = {"cluster", "voxels", "peak_t", "x", "y", "z"};
  clusters.add_row({"1", "33", "6", "20", "-10", "8"});
  in.cluster_tables.push_back({"clusters", clusters});
  in.subjects = Table{};
  in.subjects->columns = {"subject", "tracer", "status", "duration_s", "error"};
  in.subjects->add_row({"01", "carfentanil", "complete", "10", ""});
  in.subjects->add_row({"02", "carfentanil", "failed", "3", "realign: no frames"});
  const GroupReport rep = group_report(in);
  ASSERT_EQ(rep.outliers.size(), 1u);
  EXPECT_EQ(rep.outliers[0].subject, "sub-05");
  EXPECT_EQ(rep.outliers[0].region, "thalamus");
  const std::string& h = rep.html;
  EXPECT_NE(h.find("2 scans: 1 complete, 1 failed."), std::string::npos);
  EXPECT_NE(h.find("realign: no frames"), std::string::npos);
  EXPECT_EQ(count(h, "stroke=\"#d00000\""), 1u);  // one red ring in the box plots
  EXPECT_NE(h.find("<b>sub-05</b> (1 region)"), std::string::npos);
  EXPECT_EQ(count(h, "<img "), 6u);  // slices through the peak + glass brain
  const std::string key = "Slices through the peak |t| at RAS (";
  const std::size_t at = h.find(key);
  ASSERT_NE(at, std::string::npos);
  double x = 0, y = 0, z = 0;
  ASSERT_EQ(std::sscanf(h.c_str() + at + key.size(), "%lf, %lf, %lf", &x, &y, &z), 3);
  EXPECT_LT(std::hypot(x - 20, y + 10, z - 8), 7.0);
  EXPECT_NE(h.find("p &lt; 0.001"), std::string::npos);
  expect_self_contained(h);
  // Nothing given: every part says why.
  GroupReportInputs none;
  none.missing["stat_maps"] = "no statistic map under out/group";
  const GroupReport empty = group_report(none);
  EXPECT_NE(empty.html.find("statistic maps: not available</b> &mdash; no statistic map under out/group"), std::string::npos);
  EXPECT_NE(empty.html.find("regional values: not available"), std::string::npos);
}
