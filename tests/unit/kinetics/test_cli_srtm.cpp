// petpipe srtm on a small synthetic image: outputs, values, and bad input (exit code, message, nothing
// written).
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "analytic.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {

struct CliRun {
  int code;
  std::string output;
};

CliRun run(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  if (!exe) return {-1, "PETPIPE_EXE not set"};
  const std::string cmd = std::string(exe) + " srtm " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class SrtmCli : public ::testing::Test {
protected:
  fs::path dir;
  fs::path pet, ref, out;
  std::vector<double> bp_truth, k2a_truth;  // per voxel
  void SetUp() override {
    dir = fs::temp_directory_path() / ("petpipe_srtm_cli_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    pet = dir / "sub-01_trc-carfentanil_pet.nii.gz";
    ref = dir / "ref.nii.gz";
    out = dir / "out";
    DynamicImage im;
    im.frames = ktest::carfentanil_frames();
    im.geom.size = {6, 6, 3};
    im.geom.spacing = {4, 4, 4};
    const std::size_t nv = im.geom.voxel_count(), nf = im.frames.size();
    im.data.assign(nv * nf, 0.0f);
    ktest::RefCurve rc;
    Mask rm(im.geom, 0);
    for (std::size_t v = 0; v < nv; ++v) {
      const std::size_t z = v / 36;
      double r1 = 1.0, k2 = 0.1, bp = 0.0;
      if (z == 0) {
        rm.data[v] = 1;
      } else {
        bp = 0.3 + 4.0 * double(v % 36) / 35.0;
        r1 = 0.8 + 0.01 * double(v % 7);
        k2 = 0.12 + 0.01 * double(v % 5);
      }
      bp_truth.push_back(bp);
      k2a_truth.push_back(k2 / (1 + bp));
      for (std::size_t f = 0; f < nf; ++f)
        im.frame(f)[v] = static_cast<float>(ktest::average([&](double t) { return rc.srtm(t, r1, k2, bp); },
                                                           im.frames.start_s[f] / 60, im.frames.end_s(f) / 60));
    }
    // one voxel NaN in every frame
    for (std::size_t f = 0; f < nf; ++f) im.frame(f)[nv - 1] = std::numeric_limits<float>::quiet_NaN();
    write_dynamic(pet, im);
    write_mask(ref, rm);
  }
  void TearDown() override { fs::remove_all(dir); }
  bool nothing_written() const { return !fs::exists(out) || fs::is_empty(out); }
};

}  // namespace

TEST_F(SrtmCli, WritesMapsWithTruthValues) {
  const CliRun r = run("--pet " + pet.string() + " --ref-mask " + ref.string() + " --out " + out.string() +
                    " --mask-threshold 0.05 --weights duration");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string stem = "sub-01_trc-carfentanil_model-SRTM_";
  for (const char* m : {"BPND", "R1", "k2", "k2a", "RSS", "theta3index"}) {
    EXPECT_TRUE(fs::exists(out / (stem + "meas-" + m + "_mimap.nii.gz"))) << m;
    EXPECT_TRUE(fs::exists(out / (stem + "meas-" + m + "_mimap.json"))) << m;
  }
  EXPECT_TRUE(fs::exists(out / (stem + "desc-gridedge_mask.nii.gz")));
  EXPECT_TRUE(fs::exists(out / "sub-01_trc-carfentanil_desc-reference_tacs.tsv"));
  const auto bp = read_image(out / (stem + "meas-BPND_mimap.nii.gz"));
  int checked = 0;
  const double lambda = std::log(2.0) / 20.364;
  for (std::size_t v = 36; v + 1 < bp.data.size(); ++v) {
    if (k2a_truth[v] < 0.06 * 1.01 - lambda) continue;  // k2a below the carfentanil grid
    EXPECT_NEAR(bp.data[v], bp_truth[v], 0.005 * bp_truth[v]) << v;
    ++checked;
  }
  EXPECT_GT(checked, 60);
  EXPECT_TRUE(std::isnan(bp.data.back()));  // NaN voxel: NaN, not garbage
  for (std::size_t v = 0; v < 36; ++v) EXPECT_NEAR(bp.data[v], 0.0, 0.01);  // reference region
  const auto j = read_json(out / (stem + "meas-BPND_mimap.json"));
  EXPECT_TRUE(j.contains("GeneratedBy"));
  EXPECT_EQ(j["Configuration"]["srtm"]["weights"], "duration");
  EXPECT_EQ(j["Summary"]["NonFiniteVoxelsOutsideMask"], 1);  // the brain mask leaves it out
  const auto t = read_tsv(out / "sub-01_trc-carfentanil_desc-reference_tacs.tsv");
  EXPECT_EQ(t.rows.size(), 16u);
  // Second run without --force refuses.
  const CliRun again = run("--pet " + pet.string() + " --ref-mask " + ref.string() + " --out " + out.string());
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
}

TEST_F(SrtmCli, BadInputFailsCleanly) {
  auto expect_fail = [&](const std::string& args, const std::string& needle) {
    const CliRun r = run(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.output.find(needle), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;  // one line
    EXPECT_TRUE(nothing_written()) << args;
  };
  const std::string base = "--pet " + pet.string() + " --out " + out.string();
  // Empty reference mask.
  Mask empty = read_mask(ref);
  std::fill(empty.data.begin(), empty.data.end(), 0);
  const fs::path empty_path = dir / "empty.nii.gz";
  write_mask(empty_path, empty);
  expect_fail(base + " --ref-mask " + empty_path.string(), "empty.nii.gz: mask is empty");
  // Reference mask on another grid (outside the image).
  Mask other = read_mask(ref);
  other.geom.origin = {500, 0, 0};
  const fs::path other_path = dir / "other.nii.gz";
  write_mask(other_path, other);
  expect_fail(base + " --ref-mask " + other_path.string(), "other.nii.gz: mask grid");
  // Reference TAC of zeros.
  Table zeros;
  zeros.columns = {"frame_start", "frame_end", "ref"};
  const auto ft = ktest::carfentanil_frames();
  for (std::size_t f = 0; f < ft.size(); ++f)
    zeros.add_row({format_number(ft.start_s[f]), format_number(ft.end_s(f)), "0"});
  write_tsv(dir / "zeros.tsv", zeros);
  expect_fail(base + " --ref-tac " + (dir / "zeros.tsv").string(), "zeros.tsv: reference TAC is not positive");
  // Frame-count mismatch.
  Table short_tac = zeros;
  short_tac.rows.pop_back();
  for (auto& row : short_tac.rows) row[2] = "1.5";
  write_tsv(dir / "short.tsv", short_tac);
  expect_fail(base + " --ref-tac " + (dir / "short.tsv").string(), "short.tsv: 15 frames but the PET image has 16");
  // Both references / none.
  expect_fail(base + " --ref-mask " + ref.string() + " --ref-tac " + (dir / "short.tsv").string(),
              "exactly one of --ref-mask");
  // Fit mask on another grid.
  expect_fail(base + " --ref-mask " + ref.string() + " --mask " + other_path.string(), "other.nii.gz: mask is not on the PET grid");
  // Unknown weights, missing PET.
  expect_fail(base + " --ref-mask " + ref.string() + " --weights magic", "--weights: \"magic\" is not allowed");
  expect_fail("--pet " + (dir / "nope.nii.gz").string() + " --ref-mask " + ref.string() + " --out " + out.string(),
              "nope.nii.gz: PET image not found");
  expect_fail(base + " --ref-mask " + ref.string() + " --theta3-min 0.01", "must exceed the decay constant");
}

TEST_F(SrtmCli, RefTacTsvGivesSameMapsAsRefMask) {
  const CliRun a = run("--pet " + pet.string() + " --ref-mask " + ref.string() + " --out " + out.string() + " --basis 60");
  ASSERT_EQ(a.code, 0) << a.output;
  const fs::path tsv = out / "sub-01_trc-carfentanil_desc-reference_tacs.tsv";
  const fs::path out2 = dir / "out2";
  const CliRun b = run("--pet " + pet.string() + " --ref-tac " + tsv.string() + " --out " + out2.string() + " --basis 60");
  ASSERT_EQ(b.code, 0) << b.output;
  const auto m1 = read_image(out / "sub-01_trc-carfentanil_model-SRTM_meas-BPND_mimap.nii.gz");
  const auto m2 = read_image(out2 / "sub-01_trc-carfentanil_model-SRTM_meas-BPND_mimap.nii.gz");
  for (std::size_t v = 0; v + 1 < m1.data.size(); ++v) EXPECT_NEAR(m1.data[v], m2.data[v], 1e-4) << v;
}

TEST(BenchCli, SrtmBenchSmallScaleRunsAndBaselineAgrees) {
  const char* exe = std::getenv("PETPIPE_EXE");
  ASSERT_NE(exe, nullptr);
  FILE* p = popen((std::string(exe) + " bench srtm --scale 0.01 --repeat 1 --srtm-basis 60 "
                                      "--srtm-baseline-voxels 50 --json --quiet 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  ASSERT_EQ(pclose(p), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_GT(j["fitted_voxels"].get<double>(), 1000);
  // The per-voxel QR loop picks the same best basis as the BFM's matrix product.
  EXPECT_EQ(j["baseline_same_best_basis_fraction"].get<double>(), 1.0);
  EXPECT_GT(j["speedup_vs_per_voxel_qr_cpu"].get<double>(), 1.0);
  FILE* q = popen((std::string(exe) + " bench nosuch 2>&1").c_str(), "r");
  std::string err;
  while (q && fgets(buf, sizeof buf, q)) err += buf;
  EXPECT_NE(pclose(q), 0);
  EXPECT_NE(err.find("unknown benchmark"), std::string::npos) << err;
}
