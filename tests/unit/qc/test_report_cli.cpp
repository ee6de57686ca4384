// petpipe report on a derivatives folder laid out as petpipe run writes it, on explicit files, and for
// the group: outputs, warnings, failed subjects, and errors on bad input (exit code, message, nothing
// written).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/qc/svg.hpp"
#include "qc_test_util.hpp"

using namespace petpipe;
using namespace petpipe::qc::test;

namespace {

const std::string kStem = "sub-01_trc-carfentanil";

// OUT/sub-01 (complete, planted 3 mm jump, 25 % of fitted voxels on the theta3 grid edge) and
// OUT/sub-02 (failed at realign).
fs::path make_derivatives(const std::string& name) {
  const fs::path out = fresh_dir(name);
  const fs::path pet = out / "sub-01" / "pet";
  fs::create_directories(pet);
  write_json(out / "sub-01" / (kStem + "_status.json"),
             {{"subject", "01"}, {"tracer", "carfentanil"}, {"status", "complete"}, {"duration_s", 42.0},
              {"stages", {{"realign", "complete"}, {"srtm", "complete"}}}});
  write_tsv(pet / (kStem + "_motion.tsv"), motion_table(3.0));
  write_tsv(pet / (kStem + "_seg-AAL_tacs.tsv"), tac_table(false));
  write_tsv(pet / (kStem + "_seg-AAL_desc-fits_tacs.tsv"), tac_table(true));
  const Geometry g = ras_grid(20, 24, 18, 4, 4, 4);
  const Image3D bpnd = ellipsoid_image(g, 30, 40, 28, 1.0f, {10, 10, 5}, 8, 3.0f);
  write_image(pet / (kStem + "_model-SRTM_meas-BPND_mimap.nii.gz"), bpnd);
  write_image(pet / (kStem + "_desc-mean_pet.nii.gz"), ellipsoid_image(g, 30, 40, 28, 4.0f, {-10, 10, 5}, 8, 12.0f));
  Mask edge(g, 0), ref(g, 0);
  std::size_t fitted = 0, marked = 0;
  for (std::size_t v = 0; v < bpnd.data.size(); ++v)
    if (bpnd.data[v] != 0.0f && ++fitted % 4 == 0) {
      edge.data[v] = 1;
      ++marked;
    }
  EXPECT_NEAR(double(marked) / fitted, 0.25, 0.01);
  write_mask(pet / (kStem + "_model-SRTM_desc-gridedge_mask.nii.gz"), edge);
  for (std::size_t k = 1; k < 4; ++k)
    for (std::size_t j = 2; j < 6; ++j)
      for (std::size_t i = 6; i < 14; ++i) ref.at(i, j, k) = 1;
  write_mask(pet / (kStem + "_desc-ref_mask.nii.gz"), ref);
  LabelImage labels(g, 0);
  for (std::size_t v = 0; v < bpnd.data.size(); ++v) labels.data[v] = bpnd.data[v] > 2 ? 2 : bpnd.data[v] > 0 ? 1 : 0;
  write_labels(pet / (kStem + "_seg-AAL_dseg.nii.gz"), labels);
  fs::create_directories(out / "sub-02");
  write_json(out / "sub-02" / "sub-02_trc-carfentanil_status.json",
             {{"subject", "02"}, {"tracer", "carfentanil"}, {"status", "failed"}, {"failed_stage", "realign"},
              {"error", "sub-02: realign: frame 5 is entirely NaN"}, {"duration_s", 1.5}});
  return out;
}

}  // namespace

TEST(ReportCli, SubjectFromDerivativesShowsAndFlagsMotion) {
  const fs::path out = make_derivatives("cli_subject");
  const auto r = run(petpipe_exe() + " report --derivatives " + out.string() + " --participant-label 01");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path html = out / "sub-01" / (kStem + "_report.html");
  ASSERT_TRUE(fs::exists(html));
  const std::string h = read_file(html);
  EXPECT_NE(h.find("data-category=\"motion\"><b>motion</b>: high motion: framewise displacement"), std::string::npos);
  EXPECT_NE(h.find("data-category=\"theta3\""), std::string::npos);
  EXPECT_NE(h.find("Theta3 grid-edge fraction: 25"), std::string::npos);
  EXPECT_NE(h.find("Status: complete"), std::string::npos);
  EXPECT_NE(h.find("BPND, template (MNI) space: not available</b> &mdash; " + kStem +
                   "_space-MNIColin27_model-SRTM_meas-BPND_mimap.nii.gz not found"),
            std::string::npos);
  EXPECT_EQ(count(h, "<img "), 6u);  // native BPND + reference region
  // Warnings are also logged.
  EXPECT_NE(r.output.find("high motion"), std::string::npos) << r.output;
  // A second run refuses to overwrite without --force.
  const auto again = run(petpipe_exe() + " report --derivatives " + out.string() + " --participant-label sub-01");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("exists (use --force"), std::string::npos) << again.output;
  EXPECT_EQ(run(petpipe_exe() + " report --derivatives " + out.string() + " --participant-label 01 --force").exit_code, 0);
  fs::remove_all(out);
}

TEST(ReportCli, FailedSubjectReportSaysWhatFailed) {
  const fs::path out = make_derivatives("cli_failed");
  const fs::path html = out / "failed.html";
  const auto r = run(petpipe_exe() + " report --derivatives " + out.string() + " --participant-label 02 --out " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string h = read_file(html);
  EXPECT_NE(h.find("<b>Status: failed</b> &mdash; failed stage: <b>realign</b>"), std::string::npos);
  EXPECT_NE(h.find("sub-02: realign: frame 5 is entirely NaN"), std::string::npos);
  EXPECT_NE(h.find("motion parameters: not available</b> &mdash; sub-02_trc-carfentanil_motion.tsv not found"),
            std::string::npos);
  fs::remove_all(out);
}

TEST(ReportCli, BadInputIsAnErrorAndWritesNothing) {
  const fs::path out = make_derivatives("cli_bad");
  const std::size_t files = std::distance(fs::recursive_directory_iterator(out), fs::recursive_directory_iterator());
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases{
      {"--derivatives " + (out / "nope").string() + " --participant-label 01", "derivatives directory not found"},
      {"--derivatives " + out.string() + " --participant-label 01 09", "no sub-09 directory"},
      {"--derivatives " + out.string(), "needs --participant-label"},
      {"--derivatives " + out.string() + " --participant-label 01 --tracer madam", "no files of tracer madam"},
      {"--derivatives " + out.string() + " --participant-label 01 --motion x.tsv", "not both"},
      {"--motion " + (out / "missing.tsv").string() + " --out " + (out / "x.html").string(), "missing.tsv: not found"},
      {"--motion " + (out / "sub-01/pet" / (kStem + "_motion.tsv")).string(), "need --out"},
      {"--out " + (out / "x.html").string(), "no inputs"},
      {"--group", "--group needs --derivatives"},
      {"--derivatives " + out.string() + " --participant-label 01 --convention upside-down", "--convention: \"upside-down\" is not allowed"},
      {"--derivatives " + out.string() + " --participant-label 01 --max-fd -1", "--max-fd: -1 is not allowed (expected a number > 0)"},
  };
  for (const auto& c : cases) {
    const auto r = run(petpipe_exe() + " report " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(std::distance(fs::recursive_directory_iterator(out), fs::recursive_directory_iterator()),
              static_cast<std::ptrdiff_t>(files))
        << c.args;
  }
  fs::remove_all(out);
}

TEST(ReportCli, ExplicitInputs) {
  const fs::path out = make_derivatives("cli_explicit");
  const fs::path pet = out / "sub-01" / "pet";
  const fs::path html = out / "explicit.html";
  Table kinpar;
  kinpar.columns = {"roi", "R1", "k2", "k2a", "BPND", "converged", "at_bound"};
  kinpar.add_row({"caudate", "1.1", "0.3", "0.1", "2.0", "1", "1"});
  kinpar.add_row({"thalamus", "n/a", "n/a", "n/a", "n/a", "0", "0"});
  kinpar.add_row({"putamen", "1.0", "0.3", "0.1", "2.5", "1", "0"});
  write_tsv(out / "kinpar.tsv", kinpar);
  const auto r = run(petpipe_exe() + " report --subject 01 --tracer carfentanil --kinpar " + (out / "kinpar.tsv").string() + " --motion " +
                     (pet / (kStem + "_motion.tsv")).string() + " --bpnd " +
                     (pet / (kStem + "_model-SRTM_meas-BPND_mimap.nii.gz")).string() + " --gridedge " +
                     (pet / (kStem + "_model-SRTM_desc-gridedge_mask.nii.gz")).string() +
                     " --max-fd 5 --max-translation 5 --convention neurological --out " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string h = read_file(html);
  // Raised thresholds: the 3 mm jump is shown but not flagged.
  EXPECT_EQ(h.find("high motion"), std::string::npos);
  EXPECT_NE(h.find("Framewise displacement"), std::string::npos);
  EXPECT_NE(h.find("neurological convention"), std::string::npos);
  EXPECT_NE(h.find("Theta3 grid-edge fraction: 25"), std::string::npos);
  EXPECT_EQ(count(h, "<img "), 3u);
  EXPECT_NE(h.find("failed regional fit(s): thalamus (no BPND estimate)"), std::string::npos);
  EXPECT_NE(h.find("regional fit(s) ending on a parameter bound: caudate<"), std::string::npos);
  EXPECT_EQ(h.find("putamen"), std::string::npos);
  fs::remove_all(out);
}

TEST(ReportCli, GroupReport) {
  const fs::path out = make_derivatives("cli_group");
  Table p;
  p.columns = {"participant_id", "group", "age"};
  for (int s = 1; s <= 10; ++s) {
    const std::string id = std::to_string(s).insert(0, s < 10 ? 1 : 0, '0');
    const std::string group = s <= 5 ? "control" : "patient";
    p.add_row({"sub-" + id, group, std::to_string(20 + s)});
    Table roi;
    roi.columns = {"roi", "mean", "median", "sd", "n_voxels", "volume_ml"};
    for (const char* r : {"caudate", "caudate_L", "caudate_R", "thalamus"}) {
      double v = (s <= 5 ? 1.0 : 1.4) + 0.03 * (s % 5);
      if (s == 7 && std::string(r) == "thalamus") v = 6.0;
      roi.add_row({r, format_number(v), format_number(v), "0.1", "100", "0.8"});
    }
    fs::create_directories(out / ("sub-" + id) / "pet");
    write_tsv(out / ("sub-" + id) / "pet" / ("sub-" + id + "_trc-carfentanil_seg-AAL_desc-sm8_roistats.tsv"), roi);
  }
  write_tsv(out / "participants.tsv", p);
  Table summary;
  summary.columns = {"subject", "tracer", "status", "duration_s", "error"};
  summary.add_row({"01", "carfentanil", "complete", "42", "n/a"});
  summary.add_row({"02", "carfentanil", "failed", "1.5", "sub-02: realign: frame 5 is entirely NaN"});
  write_tsv(out / "run_summary.tsv", summary);
  const fs::path vox = out / "group" / "voxelwise";
  fs::create_directories(vox);
  const Geometry g = ras_grid(24, 28, 22, 4, 4, 4);
  write_image(vox / "contrast-patients_stat-t_statmap.nii.gz", ellipsoid_image(g, 40, 50, 40, 0.5f, {-20, 10, 8}, 9, 5.5f));
  write_json(vox / "contrast-patients_desc-clusterFWE_stat-t_statmap.json", {{"ClusterFormingThreshold", 3.25}});
  write_image(vox / "contrast-patients_stat-p_statmap.nii.gz", Image3D(g, 0.5f));  // not a primary statistic
  Table cl;
  cl.columns = {"cluster", "voxels", "peak_t"};
  cl.add_row({"1", "57", "5.5"});
  write_tsv(vox / "contrast-patients_clusters.tsv", cl);
  const auto r = run(petpipe_exe() + " report --derivatives " + out.string() + " --group");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string h = read_file(out / "group" / "group_report.html");
  EXPECT_NE(h.find("2 scans: 1 complete, 1 failed."), std::string::npos);
  EXPECT_NE(h.find("<h3>contrast-patients_stat-t_statmap</h3>"), std::string::npos);
  EXPECT_EQ(h.find("<h3>contrast-patients_stat-p_statmap</h3>"), std::string::npos);
  EXPECT_NE(h.find("&ge; 3.25 (ClusterFormingThreshold of contrast-patients_desc-clusterFWE_stat-t_statmap.json)"),
            std::string::npos);
  EXPECT_NE(h.find("<b>sub-07</b> (1 region)"), std::string::npos);
  EXPECT_NE(h.find(">caudate<"), std::string::npos);
  EXPECT_EQ(h.find(">caudate_L<"), std::string::npos);  // box plots: bilateral regions only
  EXPECT_EQ(count(h, "<img "), 6u);
  fs::remove_all(out);
}

// The phantom of petpipe simulate with planted head motion: the report built from its motion truth
// table, and from petpipe realign's estimate on its PET, shows the motion and flags it at the frame of
// the largest planted jump.
TEST(ReportCli, PhantomWithPlantedMotionIsFlagged) {
  const fs::path d = fresh_dir("phantom");
  const auto sim = run(petpipe_exe() + " simulate --out " + (d / "bids").string() +
                       " --tracer carfentanil --subjects 1 --voxel-size 4 --motion --no-t1 --seed 5");
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  const fs::path truth = d / "bids/derivatives/truth/sub-01/sub-01_trc-carfentanil_motion.tsv";
  ASSERT_TRUE(fs::exists(truth));
  // The frame of the largest true framewise displacement (computed here from the truth table).
  const Table t = read_tsv(truth);
  std::vector<std::vector<double>> p;
  for (const char* c : {"tx", "ty", "tz", "rx", "ry", "rz"}) p.push_back(t.numeric_column(c));
  std::size_t jump = 0;
  double best = 0, max_translation = 0;
  for (std::size_t f = 1; f < t.rows.size(); ++f) {
    double fd = 0;
    for (int a = 0; a < 6; ++a) fd += std::abs(p[a][f] - p[a][f - 1]) * (a < 3 ? 1.0 : 50.0 * M_PI / 180.0);
    if (fd > best) best = fd, jump = f;
    max_translation = std::max(max_translation, std::hypot(p[0][f], p[1][f], p[2][f]));
  }
  ASSERT_GT(best, 1.0) << "the phantom's planted motion is too small for this test";
  const std::string flagged = "high motion: framewise displacement ";
  {
    const fs::path html = d / "truth.html";
    const auto r = run(petpipe_exe() + " report --subject 01 --tracer carfentanil --motion " + truth.string() +
                       " --out " + html.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string h = read_file(html);
    const std::size_t at = h.find(flagged);
    ASSERT_NE(at, std::string::npos);
    double fd = 0;
    int frame = 0;
    ASSERT_EQ(std::sscanf(h.c_str() + at + flagged.size(), "%lf mm at frame %d", &fd, &frame), 2);
    EXPECT_EQ(frame, static_cast<int>(jump) + 1);
    EXPECT_NEAR(fd, best, 0.01 * best);
    EXPECT_NE(h.find("high motion: translation " + qc::format_short(max_translation, 3) + " mm"), std::string::npos);
  }
  // petpipe realign on the phantom's PET (when the realign module is part of this build).
  if (run(petpipe_exe() + " realign --help").exit_code != 0) {
    std::cout << "[ note ] petpipe realign not available in this build: estimate part skipped\n";
  } else {
    const fs::path pet = d / "bids/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz";
    const auto rl = run(petpipe_exe() + " realign --pet " + pet.string() + " --out " + (d / "rl").string() +
                        " --estimate-only --single-pass");
    ASSERT_EQ(rl.exit_code, 0) << rl.output;
    const fs::path est = d / "rl/sub-01_trc-carfentanil_motion.tsv";
    const fs::path html = d / "estimate.html";
    const auto r = run(petpipe_exe() + " report --subject 01 --motion " + est.string() + " --out " + html.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string h = read_file(html);
    const std::size_t at = h.find(flagged);
    ASSERT_NE(at, std::string::npos);
    double fd = 0;
    int frame = 0;
    ASSERT_EQ(std::sscanf(h.c_str() + at + flagged.size(), "%lf mm at frame %d", &fd, &frame), 2);
    EXPECT_EQ(frame, static_cast<int>(jump) + 1);
    EXPECT_GT(fd, 0.5 * best);
  }
  fs::remove_all(d);
}
