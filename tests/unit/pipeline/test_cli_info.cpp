// The petpipe executable: help, version, and `petpipe info` on the installed atlas, a PET file and a
// small PET-BIDS dataset, plus its errors on bad input.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "petpipe/core/nifti_io.hpp"
#include "test_util.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

namespace {
std::string exe() { return test::petpipe_exe(); }

DynamicImage small_pet(std::size_t frames) {
  DynamicImage d;
  d.geom.size = {6, 5, 4};
  d.geom.spacing = {3, 3, 3};
  d.data.assign(d.geom.voxel_count() * frames, 2.5f);
  const double schedule[] = {60, 60, 60, 180, 180, 180, 180};
  double t = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    d.frames.start_s.push_back(t);
    d.frames.duration_s.push_back(schedule[f % 7]);
    t += schedule[f % 7];
  }
  d.frames.tracer = "carfentanil";
  d.frames.radionuclide = "C11";
  d.frames.half_life_s = 1221.84;
  return d;
}

fs::path make_dataset(const std::string& name) {
  const auto root = test::fresh_dir(name);
  write_json(root / "dataset_description.json", {{"Name", "cli test"}, {"BIDSVersion", "1.8.0"}});
  write_text(root / "participants.tsv", "participant_id\tgroup\tage\nsub-01\tsecure\t30\nsub-02\tavoidant\t41\n");
  for (const char* s : {"01", "02"}) {
    write_dynamic(root / (std::string("sub-") + s) / "pet" / (std::string("sub-") + s + "_trc-carfentanil_pet.nii.gz"),
                  small_pet(7));
  }
  return root;
}
}  // namespace

// The hash in --version (and in every provenance record) is the commit the binary was built from. A commit
// made after the build and before the test shows here as a mismatch: rebuild.
TEST(Cli, VersionNamesTheSourceCommit) {
  const char* src = std::getenv("PETPIPE_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto g = test::run("git -C '" + std::string(src) + "' rev-parse --short=12 HEAD 2>/dev/null");
  if (g.exit_code != 0 || g.output.size() < 12) GTEST_SKIP() << "the source is not a git checkout";
  const std::string head = g.output.substr(0, 12);
  auto r = test::run(exe() + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("(git " + head), std::string::npos) << r.output << " vs HEAD " << head;
}

TEST(Cli, HelpVersionAndUnknownCommand) {
  auto r = test::run(exe() + " --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("info"), std::string::npos);
  r = test::run(exe() + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("petpipe 0."), std::string::npos);
  r = test::run(exe() + " info --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"DESCRIPTION", "OPTIONS", "EXAMPLES", "REFERENCES", "--json"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  r = test::run(exe() + " frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown command"), std::string::npos);
  r = test::run(exe() + " info --no-such-option x");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, InfoOnInstalledAtlasAndTemplate) {
  auto r = test::run(exe() + " info /usr/share/mricron/templates/aal.nii.gz");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("181 x 217 x 181"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 x 1 x 1 mm"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("orientation:  RAS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("RAS -90 -125 -71"), std::string::npos) << r.output;
  r = test::run(exe() + " info /usr/share/mricron/templates/ch2better.nii.gz --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["size"], nlohmann::json({301, 370, 316}));
  EXPECT_EQ(j["spacing_mm"], nlohmann::json({0.5, 0.5, 0.5}));
  EXPECT_EQ(j["orientation"], "RAS");
  EXPECT_DOUBLE_EQ(j["origin_lps_mm"][0].get<double>(), 75.0);
}

TEST(Cli, InfoOnPetFileAndDatasetPrintsFrameTables) {
  const auto root = make_dataset("cli_ds");
  const auto pet = root / "sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz";
  auto r = test::run(exe() + " info " + pet.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frames:       7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("C11"), std::string::npos);
  // frame 4: start 180 s, 180 s long, mid 4.5 min
  EXPECT_NE(r.output.find("4       180.0          180.0       4.500"), std::string::npos) << r.output;
  r = test::run(exe() + " info " + root.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("subjects:     2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("-- sub-02"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("age (numeric)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("7       720.0          180.0      13.500"), std::string::npos) << r.output;
  r = test::run(exe() + " info --json " + root.string());
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["pet"].size(), 2u);
  EXPECT_EQ(j["pet"][1]["frames"]["count"], 7);
}

TEST(Cli, InfoBadInputsFailWithOneLineNamingTheFile) {
  const auto root = make_dataset("cli_bad");
  const auto before = test::file_count(root);
  const auto pet = root / "sub-02/pet/sub-02_trc-carfentanil_pet.nii.gz";
  auto j = read_json(sidecar_path(pet));
  j["FrameDuration"][2] = 0;
  write_json(sidecar_path(pet), j);
  for (const std::string& target : {pet.string(), root.string()}) {
    const auto r = test::run(exe() + " info " + target);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("sub-02_trc-carfentanil_pet.json: frame 3 has a zero or negative duration"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  const auto r = test::run(exe() + " info " + (root / "missing.nii.gz").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("missing.nii.gz: not found"), std::string::npos) << r.output;
  EXPECT_EQ(test::file_count(root), before) << "info writes nothing";
}
