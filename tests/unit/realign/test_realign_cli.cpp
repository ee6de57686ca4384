// petpipe realign from the command line: outputs, motion table, and clear failures on bad input
// without writing anything.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "motion_phantom.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"

using namespace petpipe;
using namespace petpipe::realign::testing;
namespace fs = std::filesystem;

namespace {

struct CliResult {
  int code = -1;
  std::string output;  // stdout + stderr
};

CliResult run_cli(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  CliResult r;
  if (!exe) return r;
  const std::string cmd = std::string(exe) + " realign " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class RealignCli : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("PETPIPE_EXE"), nullptr) << "PETPIPE_EXE not set";
    dir_ = fs::temp_directory_path() /
           ("petpipe_realign_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    const Geometry g = test_geometry(6.0);
    const std::vector<double> starts{0, 60, 300, 900, 1500};
    const std::vector<double> dur{60, 240, 600, 600, 600};
    truth_ = {Rigid{}, Rigid{}, Rigid{}, Rigid{2.0, -1.0, 1.5, 0, 0, 2.0}, Rigid{-1.5, 0, 2.0, 2.0, 0, 0}};
    image_ = make_phantom(g, starts, dur, truth_, 0.0);
    pet_ = dir_ / "in" / "sub-01_trc-test_pet.nii.gz";
    write_dynamic(pet_, image_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::size_t files_in(const fs::path& d) const {
    std::error_code ec;
    if (!fs::exists(d, ec)) return 0;
    std::size_t n = 0;
    for (auto it = fs::directory_iterator(d); it != fs::directory_iterator(); ++it) ++n;
    return n;
  }
  fs::path dir_, pet_;
  DynamicImage image_;
  std::vector<Rigid> truth_;
};

}  // namespace

TEST_F(RealignCli, WritesRealignedImageMotionTableAndMean) {
  const fs::path out = dir_ / "out";
  const CliResult r = run_cli("--pet " + pet_.string() + " --out " + out.string() + " --ref-frame 3 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path mc = out / "sub-01_trc-test_desc-mc_pet.nii.gz";
  const fs::path tsv = out / "sub-01_trc-test_motion.tsv";
  const fs::path mean = out / "sub-01_trc-test_desc-mean_pet.nii.gz";
  for (const auto& p : {mc, tsv, mean, out / "sub-01_trc-test_desc-mc_pet.json", out / "sub-01_trc-test_motion.json",
                        out / "sub-01_trc-test_desc-mean_pet.json"})
    EXPECT_TRUE(fs::exists(p)) << p;

  const Table t = read_tsv(tsv);
  ASSERT_EQ(t.rows.size(), 5u);
  const auto tx = t.numeric_column("tx");
  const auto rz = t.numeric_column("rz");
  const auto tz = t.numeric_column("tz");
  const auto status = t.string_column("status");
  EXPECT_EQ(status[2], "reference");
  EXPECT_NEAR(tx[3], 2.0, 0.3);
  EXPECT_NEAR(tz[3], 1.5, 0.3);
  EXPECT_NEAR(rz[3], 2.0, 0.2);
  EXPECT_NEAR(tz[4], 2.0, 0.3);
  EXPECT_TRUE(t.has_column("framewise_displacement"));

  // The realigned image keeps the frame table; its frames line up with the unmoved phantom.
  const DynamicImage mcimg = read_dynamic(mc);
  ASSERT_EQ(mcimg.frame_count(), 5u);
  EXPECT_DOUBLE_EQ(mcimg.frames.start_s[3], 900.0);
  const DynamicImage still = make_phantom(image_.geom, image_.frames.start_s, image_.frames.duration_s,
                                          std::vector<Rigid>(5), 0.0);
  double before = 0, after = 0, norm = 0;
  for (std::size_t i = 0; i < still.voxels_per_frame(); ++i) {
    norm += std::pow(still.frame(3)[i], 2);
    before += std::pow(image_.frame(3)[i] - still.frame(3)[i], 2);
    after += std::pow(mcimg.frame(3)[i] - still.frame(3)[i], 2);
  }
  EXPECT_LT(after, 0.1 * before);
  const auto j = read_json(out / "sub-01_trc-test_motion.json");
  EXPECT_EQ(j["ReferenceFrame"].get<int>(), 3);
  EXPECT_EQ(j["tx"]["Units"].get<std::string>(), "mm");
  EXPECT_EQ(j["Metric"].get<std::string>(), "Mattes mutual information");
  EXPECT_EQ(j["ReferenceRoundMetric"].get<std::string>(), "local normalized correlation (jittered windows)");
  EXPECT_EQ(j["Configuration"]["reference_metric"].get<std::string>(), "wncc");
  EXPECT_DOUBLE_EQ(j["Configuration"]["model_prior_weight"].get<double>(), 0.2);
  EXPECT_EQ(j["ModelRoundMetric"].get<std::string>(), "least squares with intensity scale");
  EXPECT_EQ(j["Configuration"]["model_metric"].get<std::string>(), "lsq");

  // Existing outputs are not overwritten without --force.
  const CliResult again = run_cli("--pet " + pet_.string() + " --out " + out.string() + " --estimate-only --quiet");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("exists (use --force"), std::string::npos) << again.output;
}

TEST_F(RealignCli, EstimateOnlyWritesOnlyTheMotionTable) {
  const fs::path out = dir_ / "est";
  const CliResult r = run_cli("--pet " + pet_.string() + " --out " + out.string() +
                    " --estimate-only --start-time 100 --exclude-frames 5 --excluded identity --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(files_in(out), 2u);
  const Table t = read_tsv(out / "sub-01_trc-test_motion.tsv");
  const auto status = t.string_column("status");
  EXPECT_EQ(status[0], "before-start");
  EXPECT_EQ(status[4], "excluded");
  EXPECT_DOUBLE_EQ(t.numeric_column("tz")[4], 0.0);
}

TEST_F(RealignCli, BadInputsFailClearlyAndWriteNothing) {
  const fs::path out = dir_ / "bad";
  struct Case {
    std::string args, message;
  };
  // An all-zero scan.
  DynamicImage zero = image_;
  std::fill(zero.data.begin(), zero.data.end(), 0.0f);
  const fs::path zero_pet = dir_ / "in" / "sub-02_pet.nii.gz";
  write_dynamic(zero_pet, zero);
  const std::vector<Case> cases{
      {"--pet " + (dir_ / "in" / "missing_pet.nii.gz").string(), "missing_pet.nii.gz"},
      {"--pet " + pet_.string() + " --ref-frame 9", "reference frame 9 is out of range"},
      {"--pet " + pet_.string() + " --ref-frame 0", "--ref-frame: 0 is not allowed"},
      {"--pet " + pet_.string() + " --exclude-frames 2-x", "not a frame number"},
      {"--pet " + pet_.string() + " --exclude-frames 7", "excluded frame 7 is out of range"},
      {"--pet " + pet_.string() + " --interp nearest", "--interp: \"nearest\" is not allowed (expected one of bspline, linear)"},
      {"--pet " + zero_pet.string(), "every frame is empty"},
      {"--pet " + pet_.string() + " --refine-samples 10", "--refine-samples: 10 is not allowed (expected an integer >= 1000)"},
      {"--pet " + pet_.string() + " --refine-passes 13", "--refine-passes: 13 is not allowed (expected an integer [1, 12])"},
      {"--pet " + pet_.string() + " --lsq-samples 10", "--lsq-samples: 10 is not allowed"},
      {"--pet " + pet_.string() + " --refine-target median", "--refine-target: \"median\" is not allowed (expected one of model, mean)"},
      {"--pet " + pet_.string() + " --refine-components 0", "--refine-components: 0 is not allowed (expected an integer [1, 8])"},
      {"--pet " + pet_.string() + " --reference-metric ssd", "--reference-metric: \"ssd\" is not allowed"},
      {"--pet " + pet_.string() + " --window-radius 0", "--window-radius: 0 is not allowed (expected a number > 0)"},
      {"--pet " + pet_.string() + " --window-samples 10", "--window-samples: 10 is not allowed"},
      {"--pet " + pet_.string() + " --model-prior -1", "--model-prior: -1 is not allowed (expected a number >= 0)"},
  };
  for (const auto& c : cases) {
    const CliResult r = run_cli(c.args + " --out " + out.string());
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(files_in(out), 0u) << c.args;
  }
  const CliResult none = run_cli("--out " + out.string());
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.output.find("--pet FILE is required"), std::string::npos);
}

TEST_F(RealignCli, SingleFrameIsCopiedWithAWarning) {
  DynamicImage one;
  one.geom = image_.geom;
  one.frames = image_.frames;
  one.frames.start_s = {0};
  one.frames.duration_s = {600};
  one.data.assign(image_.frame(2), image_.frame(2) + image_.voxels_per_frame());
  const fs::path pet = dir_ / "in" / "sub-03_pet.nii.gz";
  write_dynamic(pet, one);
  const fs::path out = dir_ / "one";
  const CliResult r = run_cli("--pet " + pet.string() + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("single frame"), std::string::npos) << r.output;
  const Table t = read_tsv(out / "sub-03_motion.tsv");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.string_column("status")[0], "single-frame");
}
