// A study configuration is checked whole before any work: petpipe run, group and slurm --dry-run refuse
// a misspelt key or a value out of range at once, naming the key path, and write nothing for a subject.
#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "petpipe/core/nifti_io.hpp"
#include "test_util.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

namespace {

fs::path tiny_dataset(const fs::path& root) {
  write_json(root / "dataset_description.json", {{"Name", "config test"}, {"BIDSVersion", "1.8.0"}});
  write_text(root / "participants.tsv", "participant_id\tgroup\nsub-01\ta\nsub-02\tb\n");
  DynamicImage d;
  d.geom.size = {6, 5, 4};
  d.geom.spacing = {3, 3, 3};
  d.data.assign(d.geom.voxel_count() * 3, 2.5f);
  d.frames.start_s = {0, 60, 120};
  d.frames.duration_s = {60, 60, 60};
  d.frames.tracer = "carfentanil";
  d.frames.radionuclide = "C11";
  d.frames.half_life_s = 1221.84;
  for (const char* s : {"01", "02"})
    write_dynamic(root / (std::string("sub-") + s) / "pet" / (std::string("sub-") + s + "_trc-carfentanil_pet.nii.gz"), d);
  return root;
}

struct Timed {
  test::RunResult r;
  double seconds;
};

Timed timed_run(const std::string& cmd) {
  const auto t0 = std::chrono::steady_clock::now();
  Timed t{test::run(cmd), 0};
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

}  // namespace

TEST(CliConfig, RunGroupAndSlurmRefuseABadConfigurationBeforeAnyWork) {
  const fs::path dir = test::fresh_dir("cli_config");
  const fs::path bids = tiny_dataset(dir / "bids");
  const std::string exe = test::petpipe_exe();
  struct Case {
    nlohmann::json config;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases{
      {{{"srtm", {{"basis_functions", -5}}}}, {"srtm.basis_functions", "-5", "[2, 100000]"}},
      {{{"smooth", {{"fwhm_mm", -8}}}}, {"smooth.fwhm_mm", "-8", ">= 0"}},
      {{{"realign", {{"fwmh_mm", 7}}}}, {"unknown configuration key \"realign.fwmh_mm\""}},
      {{{"group", {{"fdr_q", 1.5}}}}, {"group.fdr_q", "1.5", "(0, 1)"}},
      {{{"realign", {{"interpolation", "cubic"}}}}, {"realign.interpolation", "one of bspline, linear"}},
      {{{"slurm", {{"cpus_per_task", 0}}}}, {"slurm.cpus_per_task", "[1, 1024]"}},
  };
  int n = 0;
  for (const auto& c : cases) {
    const fs::path cfg = dir / ("bad" + std::to_string(n++) + ".json");
    write_json(cfg, c.config);
    const fs::path out = dir / ("out" + std::to_string(n));
    const std::vector<std::string> commands{
        exe + " run --bids " + bids.string() + " --out " + out.string() + " --config " + cfg.string(),
        exe + " group --derivatives " + out.string() + " --config " + cfg.string(),
        exe + " slurm --bids " + bids.string() + " --out " + out.string() + " --config " + cfg.string() + " --dry-run"};
    for (const auto& cmd : commands) {
      const Timed t = timed_run(cmd);
      EXPECT_NE(t.r.exit_code, 0) << cmd << "\n" << t.r.output;
      EXPECT_LT(t.seconds, 2.0) << cmd;
      for (const auto& f : c.fragments) EXPECT_NE(t.r.output.find(f), std::string::npos) << cmd << "\n" << t.r.output;
      EXPECT_NE(t.r.output.find(cfg.filename().string()), std::string::npos) << t.r.output;
      // one line
      EXPECT_LE(std::count(t.r.output.begin(), t.r.output.end(), '\n'), 1) << t.r.output;
      EXPECT_FALSE(fs::exists(out / "sub-01")) << cmd;
    }
  }
}

TEST(CliConfig, ThreadsOutsideTheRangeAreRefused) {
  const std::string exe = test::petpipe_exe();
  for (const char* t : {"0", "-1", "1025", "100000", "two"}) {
    const auto r = test::run(exe + " info --threads " + std::string(t) + " /nonexistent");
    EXPECT_EQ(r.exit_code, 2) << t << "\n" << r.output;
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
  }
}

TEST(CliConfig, PrintConfigListsEveryKeyAndCommandsNameTheirKeys) {
  const std::string exe = test::petpipe_exe();
  const auto r = test::run(exe + " run --print-config carfentanil");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto cfg = nlohmann::json::parse(r.output);
  EXPECT_EQ(cfg["reference"]["region"], "occipital");
  EXPECT_EQ(cfg["realign"]["interpolation"], "bspline");
  EXPECT_TRUE(cfg["realign"]["reference_frame"].is_null());
  // a command's --help shows each option's configuration key, unit and default
  const auto h = test::run(exe + " realign --help");
  EXPECT_NE(h.output.find("realign.fwhm_mm)"), std::string::npos) << h.output;
  EXPECT_NE(h.output.find("default: 7"), std::string::npos) << h.output;
  // an unknown tracer without a configuration: what is missing
  const auto u = test::run(exe + " run --print-config raclopride");
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.output.find("reference.region"), std::string::npos) << u.output;
}
