// Warnings: motion summary and thresholds, FD computed when absent, reference-TAC anomalies, theta3
// grid edge, regional fits, robust-z outliers, against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "petpipe/core/error.hpp"
#include "petpipe/qc/checks.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc;
using namespace petpipe::qc::test;

namespace {
bool has(const std::vector<QcWarning>& w, const std::string& category, const std::string& text) {
  for (const auto& x : w)
    if (x.category == category && x.message.find(text) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST(Checks, MotionSummaryAndWarnings) {
  const Table t = motion_table(3.0);
  const auto frames = motion_from_table(t, "m.tsv");
  ASSERT_EQ(frames.size(), 12u);
  EXPECT_TRUE(frames[0].excluded);
  EXPECT_DOUBLE_EQ(frames[3].end_s, 1200.0);
  const MotionSummary s = summarize_motion(frames);
  // Frame 8 (index 7): tx jumps from 0.12 to 3, rz from 0 to 0.3 deg, plus the steady drifts.
  const double fd7 = (3.0 - 0.12) + 0.01 + 0.01 + 50 * M_PI / 180 * (0.005 + 0.3);
  EXPECT_EQ(s.max_fd_frame, 7u);
  EXPECT_NEAR(s.max_fd_mm, fd7, 1e-6);
  EXPECT_EQ(s.max_translation_frame, 11u);
  EXPECT_NEAR(s.max_translation_mm, std::sqrt(9 + 0.11 * 0.11 * 2), 1e-6);
  EXPECT_NEAR(s.max_rotation_deg, 0.3, 1e-12);
  EXPECT_EQ(s.excluded_frames, 1u);
  QcThresholds th;
  const auto w = motion_warnings(s, th);
  EXPECT_TRUE(has(w, "motion", "framewise displacement"));
  EXPECT_TRUE(has(w, "motion", "translation"));
  EXPECT_FALSE(has(w, "motion", "rotation"));
  EXPECT_TRUE(has(w, "motion", "1 of 12 frames excluded"));
  // Small motion: no warning of severity "warning".
  const auto quiet = motion_warnings(summarize_motion(motion_from_table(motion_table(0.3), "m.tsv")), th);
  for (const auto& x : quiet) EXPECT_EQ(x.severity, Severity::info) << x.message;
  // Thresholds are honoured exactly: just above / just below the measured maximum FD.
  th.max_fd_mm = s.max_fd_mm + 1e-9;
  EXPECT_FALSE(has(motion_warnings(s, th), "motion", "framewise"));
  th.max_fd_mm = s.max_fd_mm - 1e-9;
  EXPECT_TRUE(has(motion_warnings(s, th), "motion", "framewise"));
}

TEST(Checks, FramewiseDisplacementComputedWhenAbsentAndErrorsNameTheFile) {
  Table t = motion_table(2.0);
  Table no_fd;
  for (const auto& c : t.columns)
    if (c != "fd") no_fd.columns.push_back(c);
  const std::size_t fd_col = t.column_index("fd");
  for (auto row : t.rows) {
    row.erase(row.begin() + fd_col);
    no_fd.rows.push_back(row);
  }
  const auto a = motion_from_table(t, "a.tsv");
  const auto b = motion_from_table(no_fd, "b.tsv");
  for (std::size_t f = 0; f < a.size(); ++f) EXPECT_NEAR(a[f].fd, b[f].fd, 1e-6) << f;
  Table bad;
  bad.columns = {"tx", "ty", "tz", "rx", "ry"};
  bad.add_row({"0", "0", "0", "0", "0"});
  try {
    motion_from_table(bad, "sub-01_motion.tsv");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sub-01_motion.tsv"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'rz'"), std::string::npos);
  }
}

TEST(Checks, ReferenceTacAnomalies) {
  std::vector<double> start, end, good, rising, negative, broken;
  for (int f = 0; f < 20; ++f) {
    start.push_back(180.0 * f);
    end.push_back(180.0 * (f + 1));
    const double t = (180.0 * f + 90) / 60.0;
    good.push_back(f == 0 ? 0.0 : 30 * t * std::exp(-t / 6));
    rising.push_back(good.back() + (t > 30 ? 0.8 * (t - 30) : 0));
    negative.push_back(f == 15 ? -0.2 : good.back());
    broken.push_back(f == 3 ? std::nan("") : good.back());
  }
  const QcThresholds th;
  EXPECT_TRUE(reference_tac_warnings(start, end, good, th).empty());  // the zero first frame is before arrival
  // Late rise of the rising curve by an independent least-squares fit.
  std::vector<double> x, y;
  for (int f = 0; f < 20; ++f)
    if (start[f] >= 0.5 * 3600) {
      x.push_back((start[f] + end[f]) / 2);
      y.push_back(rising[f]);
    }
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / x.size(), my += y[i] / y.size();
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  EXPECT_NEAR(late_rise(start, end, rising, 0.5), sxy / sxx * (x.back() - x.front()) / my, 1e-12);
  EXPECT_GT(late_rise(start, end, rising, 0.5), 0.1);
  EXPECT_LT(late_rise(start, end, good, 0.5), 0.0);
  EXPECT_TRUE(has(reference_tac_warnings(start, end, rising, th), "reference", "rises in the late frames"));
  EXPECT_TRUE(has(reference_tac_warnings(start, end, negative, th), "reference", "non-positive value after tracer arrival in frame(s) 16"));
  const auto b = reference_tac_warnings(start, end, broken, th);
  ASSERT_TRUE(has(b, "reference", "non-finite value in frame(s) 4"));
  EXPECT_EQ(b.front().severity, Severity::error);
}

TEST(Checks, Theta3AndFits) {
  QcThresholds th;
  EXPECT_FALSE(theta3_warning(0.05, th).has_value());
  ASSERT_TRUE(theta3_warning(0.25, th).has_value());
  EXPECT_NE(theta3_warning(0.25, th)->message.find("25 %"), std::string::npos);
  const auto w = fit_warnings({{"caudate", false, true, false, ""},
                               {"putamen", true, false, false, "no fitted values"},
                               {"thalamus", false, true, true, ""},
                               {"insula", false, false, false, ""}});
  EXPECT_TRUE(has(w, "fit", "failed regional fit(s): putamen (no fitted values)"));
  EXPECT_TRUE(has(w, "fit", "parameter bound: thalamus"));
  EXPECT_TRUE(has(w, "fit", "not converged: insula"));
  EXPECT_FALSE(has(w, "fit", "caudate"));
}

TEST(Checks, RobustOutliers) {
  std::vector<RoiValue> v;
  const double controls[8] = {1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 2.5};
  for (int i = 0; i < 8; ++i) v.push_back({"sub-" + std::to_string(i + 1), "control", "caudate", controls[i]});
  // A patient group shifted as a whole: no outlier (z is within the group).
  for (int i = 0; i < 6; ++i) v.push_back({"sub-p" + std::to_string(i), "patient", "caudate", 2.0 + 0.05 * i});
  const auto f = flag_outliers(v, 3.0);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "sub-8");
  // median 1.01; |deviations| sorted: 0.01 0.01 0.03 0.04 0.06 0.09 0.11 1.49 -> MAD 0.05
  EXPECT_NEAR(f[0].z, (2.5 - 1.01) / (1.4826 * 0.05), 1e-6);
  // Fewer than 4 values: never flagged.
  std::vector<RoiValue> few{{"a", "g", "r", 1}, {"b", "g", "r", 1}, {"c", "g", "r", 100}};
  EXPECT_TRUE(flag_outliers(few, 3.0).empty());
}
