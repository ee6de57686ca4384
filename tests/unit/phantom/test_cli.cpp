// `petpipe simulate` end to end at 4 mm: dataset validity (petpipe info), sidecar timing, determinism,
// single-subject regeneration, configs and bad options.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"
#include "petpipe/core/tsv.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {

struct Run {
  int code;
  std::string output;  // stdout + stderr
};

Run run(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  EXPECT_NE(exe, nullptr);
  const std::string cmd = std::string(exe ? exe : "petpipe") + " " + args + " 2>&1";
  Run r{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("petpipe_phantom_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  return d;
}

std::map<std::string, std::string> hashes(const fs::path& root) {
  std::map<std::string, std::string> h;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() != "provenance.json")
      h[fs::relative(e.path(), root).string()] = sha256_file(e.path());
  return h;
}

const std::string kSmall = " --voxel-size 4 --t1-voxel-size 4 --quiet";

}  // namespace

TEST(PhantomCli, CohortIsValidDeterministicAndRegenerable) {
  const fs::path a = temp_dir("a"), b = temp_dir("b"), c = temp_dir("c"), one = temp_dir("one");
  const std::string opts = " --tracer carfentanil --subjects 2 --noise 0.3 --motion --warp --seed 9" + kSmall;
  auto r = run("simulate --out " + a.string() + opts);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("simulate --out " + b.string() + opts);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("simulate --out " + c.string() + " --tracer carfentanil --subjects 2 --noise 0.3 --motion --warp --seed 10" + kSmall);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("simulate --out " + one.string() + opts + " --participant-label 02");
  ASSERT_EQ(r.code, 0) << r.output;

  // petpipe info reads every dataset.
  for (const auto& d : {a, b, c, one}) {
    const auto info = run("info " + d.string() + " --brief");
    EXPECT_EQ(info.code, 0) << info.output;
  }
  // Same seed: identical files (provenance.json holds the command line and date).
  const auto ha = hashes(a), hb = hashes(b), hc = hashes(c), h1 = hashes(one);
  EXPECT_EQ(ha, hb);
  EXPECT_GT(ha.size(), 40u);
  // Different seed: the PET, T1 and truth differ.
  const std::string pet = "sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz";
  ASSERT_TRUE(ha.count(pet));
  EXPECT_NE(ha.at(pet), hc.at(pet));
  EXPECT_NE(ha.at("sub-01/anat/sub-01_T1w.nii.gz"), hc.at("sub-01/anat/sub-01_T1w.nii.gz"));
  // A single regenerated subject is identical to the same subject of the full run.
  std::size_t compared = 0;
  for (const auto& [file, h] : h1)
    if (file.find("sub-02") != std::string::npos) {
      EXPECT_EQ(h, ha.at(file)) << file;
      ++compared;
    }
  EXPECT_GT(compared, 20u);
  EXPECT_FALSE(fs::exists(one / "sub-01"));

  // Sidecar timing matches dim[4]; PET-BIDS fields present.
  const fs::path pet_path = a / pet;
  const auto info = read_image_info(pet_path);
  const auto sc = read_json(sidecar_path(pet_path));
  ASSERT_EQ(info.dimension, 4u);
  EXPECT_EQ(info.size[3], 16u);
  EXPECT_EQ(sc["FrameTimesStart"].size(), info.size[3]);
  EXPECT_EQ(sc["FrameDuration"].size(), info.size[3]);
  for (const char* k : {"Manufacturer", "ManufacturersModelName", "Units", "TracerName", "TracerRadionuclide",
                        "InjectedRadioactivity", "InjectedRadioactivityUnits", "InjectedMass", "InjectedMassUnits",
                        "SpecificRadioactivity", "SpecificRadioactivityUnits", "ModeOfAdministration", "TimeZero",
                        "ScanStart", "InjectionStart", "AcquisitionMode", "ImageDecayCorrected",
                        "ImageDecayCorrectionTime", "ReconMethodName", "ReconFilterType", "AttenuationCorrection"})
    EXPECT_TRUE(sc.contains(k)) << k;
  EXPECT_EQ(sc["Units"], "kBq/mL");
  EXPECT_EQ(sc["TracerRadionuclide"], "C11");
  const auto dyn = read_dynamic(pet_path);
  EXPECT_EQ(dyn.frames.size(), 16u);
  EXPECT_NEAR(dyn.frames.end_s(15), 69 * 60.0, 1e-9);

  // Truth files: motion table (one row per frame), regions table, transforms, displacement field.
  const fs::path t = a / "derivatives/truth/sub-01";
  const auto motion = read_tsv(t / "sub-01_trc-carfentanil_motion.tsv");
  EXPECT_EQ(motion.rows.size(), 16u);
  double moved = 0;
  for (double v : motion.numeric_column("tx")) moved = std::max(moved, std::abs(v));
  EXPECT_GT(moved, 0.0);
  const auto regions = read_tsv(t / "sub-01_trc-carfentanil_regions.tsv");
  EXPECT_GT(regions.rows.size(), 110u);
  EXPECT_TRUE(fs::exists(t / "sub-01_from-native_to-MNIColin27_mode-image_xfm.nii.gz"));
  EXPECT_TRUE(fs::exists(t / "sub-01_trc-carfentanil_space-MNIColin27_meas-BPND_mimap.nii.gz"));
  EXPECT_TRUE(fs::exists(t / "sub-01_trc-carfentanil_label-occipital_mask.nii.gz"));
  const auto bp = read_image(t / "sub-01_trc-carfentanil_meas-BPND_mimap.nii.gz");
  EXPECT_TRUE(bp.geom.same_grid(dyn.geom));
  const auto parts = read_participants(a / "participants.tsv");
  EXPECT_EQ(parts.size(), 2u);
  for (const auto& d : {a, b, c, one}) fs::remove_all(d);
}

TEST(PhantomCli, ConfigCohortWithGroupEffects) {
  const fs::path dir = temp_dir("cfg");
  fs::create_directories(dir);
  const fs::path cfg = dir / "cohort.json";
  std::ofstream(cfg) << R"({"tracer": "madam", "seed": 3, "noise": 0, "psf_fwhm_mm": 0, "frames": "2x120,3x600",
    "groups": [{"name": "control", "size": 1, "age": {"mean": 40, "sd": 0, "min": 40, "max": 40}},
               {"name": "patient", "size": 1, "age": {"mean": 40, "sd": 0, "min": 40, "max": 40},
                "effects_percent": {"Thalamus": 20}}]})";
  const fs::path out = dir / "out";
  const auto r = run("simulate --out " + out.string() + " --config " + cfg.string() + kSmall + " --no-t1 --no-decay-correction");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(run("info " + out.string()).code, 0);
  auto bpnd_of = [&](const std::string& sub, const std::string& region) {
    const auto t = read_tsv(out / "derivatives/truth" / sub / (sub + "_trc-madam_regions.tsv"));
    const auto names = t.string_column("region");
    const auto bp = t.numeric_column("BPND");
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == region) return bp[i];
    return -1.0;
  };
  EXPECT_NEAR(bpnd_of("sub-01", "Thalamus_L"), 1.4, 1e-9);
  EXPECT_NEAR(bpnd_of("sub-02", "Thalamus_L"), 1.4 * 1.2, 1e-9);
  EXPECT_NEAR(bpnd_of("sub-02", "Putamen_R"), 1.0, 1e-9);
  EXPECT_NEAR(bpnd_of("sub-02", "Cerebelum_6_L"), 0.0, 1e-12);
  const auto dyn = read_dynamic(out / "sub-02/pet/sub-02_trc-madam_pet.nii.gz");
  EXPECT_EQ(dyn.frames.size(), 5u);
  EXPECT_FALSE(dyn.frames.decay_corrected);
  EXPECT_FALSE(fs::exists(out / "sub-01/anat"));
  const auto p = read_participants(out / "participants.tsv");
  EXPECT_EQ(p.column("group").levels[1], "patient");
  fs::remove_all(dir);
}

TEST(PhantomCli, PrescribedMotionFileIsReplayedAndRecorded) {
  const fs::path dir = temp_dir("motionfile");
  fs::create_directories(dir);
  std::ofstream(dir / "pose.tsv") << "frame\ttx\tty\ttz\trx\try\trz\n"
                                     "1\t0\t0\t0\t0\t0\t0\n"
                                     "2\t1.25\t-0.5\t0\t0.5\t0\t-1\n"
                                     "3\t1.25\t-0.5\t0\t0.5\t0\t-1\n";
  const fs::path out = dir / "sim";
  const auto r = run("simulate --out " + out.string() + " --motion-file " + (dir / "pose.tsv").string() +
                     " --frames 3x300 --no-t1" + kSmall);
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path t = out / "derivatives/truth/sub-01";
  const auto truth = read_tsv(t / "sub-01_trc-carfentanil_motion.tsv");
  ASSERT_EQ(truth.rows.size(), 3u);
  EXPECT_EQ(truth.numeric_column("tx")[1], 1.25);
  EXPECT_EQ(truth.numeric_column("ty")[2], -0.5);
  EXPECT_EQ(truth.numeric_column("rx")[2], 0.5);
  EXPECT_EQ(truth.numeric_column("rz")[1], -1.0);
  EXPECT_EQ(truth.numeric_column("tx")[0], 0.0);
  std::ifstream js(t / "sub-01_trc-carfentanil_motion.json");
  const auto side = nlohmann::json::parse(js);
  EXPECT_TRUE(side["Simulated"].get<bool>());
  EXPECT_NE(side["Source"].get<std::string>().find("pose.tsv"), std::string::npos) << side.dump();
  // The first frame (no motion) equals the first frame of the motion-free simulation.
  const auto r2 = run("simulate --out " + (dir / "still").string() + " --frames 3x300 --no-t1" + kSmall);
  ASSERT_EQ(r2.code, 0) << r2.output;
  const auto a = read_dynamic(out / "sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz");
  const auto b = read_dynamic(dir / "still/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz");
  const std::size_t n = a.voxels_per_frame();
  EXPECT_TRUE(std::equal(a.frame(0), a.frame(0) + n, b.frame(0)));
  EXPECT_FALSE(std::equal(a.frame(1), a.frame(1) + n, b.frame(1)));
  fs::remove_all(dir);
}

TEST(PhantomCli, BadOptionsFailWithOneLineAndWriteNothing) {
  const fs::path dir = temp_dir("bad");
  fs::create_directories(dir);
  std::ofstream(dir / "broken.json") << "{\"groups\": [ {\"size\": 2,, } ]";
  std::ofstream(dir / "typo.json") << R"({"subjcts": 3})";
  std::ofstream(dir / "short.tsv") << "tx\tty\ttz\trx\try\trz\n0\t0\t0\t0\t0\t0\n1\t0\t0\t0\t0\t0\n";
  std::ofstream(dir / "region.json") << R"({"groups": [{"name": "a", "size": 1, "effects_percent": {"nowhere": 5}}]})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--tracer raclopride", "unknown tracer"},
      {"--voxel-size -2", "voxel size"},
      {"--voxel-size 0", "voxel size"},
      {"--subjects 0", "--subjects"},
      {"--noise -1", "noise"},
      {"--frames 3x", "frame schedule"},
      {"--config " + (dir / "broken.json").string(), "invalid JSON"},
      {"--config " + (dir / "typo.json").string(), "subjcts"},
      {"--config " + (dir / "region.json").string(), "nowhere"},
      {"--config " + (dir / "missing.json").string(), "not found"},
      {"--subjects 2 --participant-label 05", "no such participant"},
      {"--motion-file " + (dir / "missing.tsv").string(), "missing.tsv: motion table not found"},
      {"--motion-file " + (dir / "short.tsv").string(), "short.tsv: motion table has 2 rows but the frame schedule has 16"},
      {"--motion-file " + (dir / "short.tsv").string() + " --max-rotation 2", "cannot be combined"},
  };
  for (const auto& [args, message] : cases) {
    const fs::path out = dir / "out";
    const auto r = run("simulate --out " + out.string() + " " + args + " --quiet");
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << ": " << r.output;
    std::size_t lines = 0;
    for (char ch : r.output) lines += ch == '\n';
    EXPECT_EQ(lines, 1u) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
  // A non-empty output directory needs --force.
  fs::create_directories(dir / "full");
  std::ofstream(dir / "full" / "keep.txt") << "x";
  const auto r = run("simulate --out " + (dir / "full").string() + kSmall);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;
  fs::remove_all(dir);
}
