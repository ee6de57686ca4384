// petpipe smooth: outputs, sidecars, and errors on bad input (exit code, message, nothing written).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/smooth/gaussian.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {

struct CliRun {
  int code;
  std::string output;
};

CliRun petpipe_run(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  if (!exe) return {-1, "PETPIPE_EXE not set"};
  const std::string cmd = std::string(exe) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("petpipe_test_cli_smooth_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Image3D noise_image(std::size_t n, unsigned seed) {
  Geometry g;
  g.size = {n, n + 2, n - 2};
  g.spacing = {2.0, 2.0, 2.5};
  Image3D img(g);
  std::mt19937 rng(seed);
  std::normal_distribution<float> z(10.0f, 2.0f);
  for (auto& v : img.data) v = z(rng);
  return img;
}

}  // namespace

TEST(SmoothCli, Smooths3DImageAndWritesSidecar) {
  const fs::path d = temp_dir("3d");
  const Image3D img = noise_image(16, 1);
  write_image(d / "map.nii.gz", img);
  const CliRun r = petpipe_run("smooth --in " + (d / "map.nii.gz").string() + " --out " +
                            (d / "map_sm.nii.gz").string() + " --fwhm 6");
  ASSERT_EQ(r.code, 0) << r.output;
  const Image3D out = read_image(d / "map_sm.nii.gz");
  const Image3D ref = smooth::gaussian(img, smooth::Options::isotropic(6.0));
  ASSERT_EQ(out.data.size(), ref.data.size());
  for (std::size_t i = 0; i < ref.data.size(); ++i) ASSERT_FLOAT_EQ(out.data[i], ref.data[i]);
  const auto j = read_json(d / "map_sm.json");
  EXPECT_EQ(j.at("SmoothingFWHM"), nlohmann::json({6.0, 6.0, 6.0}));
  EXPECT_TRUE(j.contains("GeneratedBy"));
  EXPECT_EQ(j.at("Sources")[0].at("Path"), (d / "map.nii.gz").string());

  // Existing output without --force: error, file untouched.
  const auto before = fs::last_write_time(d / "map_sm.nii.gz");
  const CliRun again = petpipe_run("smooth --in " + (d / "map.nii.gz").string() + " --out " +
                                (d / "map_sm.nii.gz").string());
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(d / "map_sm.nii.gz"), before);
  fs::remove_all(d);
}

TEST(SmoothCli, Smooths4DPetFrameByFrameAndKeepsSidecar) {
  const fs::path d = temp_dir("4d");
  DynamicImage pet;
  pet.geom = noise_image(12, 0).geom;
  pet.frames.start_s = {0, 30, 90};
  pet.frames.duration_s = {30, 60, 120};
  pet.frames.tracer = "carfentanil";
  pet.frames.radionuclide = "C11";
  pet.frames.half_life_s = 1223.4;
  for (unsigned f = 0; f < 3; ++f) {
    const Image3D fr = noise_image(12, 20 + f);
    pet.data.insert(pet.data.end(), fr.data.begin(), fr.data.end());
  }
  write_dynamic(d / "sub-01_pet.nii.gz", pet);
  const CliRun r = petpipe_run("smooth --in " + (d / "sub-01_pet.nii.gz").string() + " --out " +
                            (d / "sub-01_desc-sm8_pet.nii.gz").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const DynamicImage out = read_dynamic(d / "sub-01_desc-sm8_pet.nii.gz");
  ASSERT_EQ(out.frame_count(), 3u);
  EXPECT_EQ(out.frames.start_s, pet.frames.start_s);
  EXPECT_EQ(out.frames.tracer, "carfentanil");
  for (unsigned f = 0; f < 3; ++f) {
    const Image3D ref = smooth::gaussian(pet.frame_image(f), smooth::Options::isotropic(8.0));
    for (std::size_t i = 0; i < ref.data.size(); ++i) ASSERT_NEAR(out.frame(f)[i], ref.data[i], 1e-5f);
  }
  const auto j = read_json(d / "sub-01_desc-sm8_pet.json");
  EXPECT_TRUE(j.contains("GeneratedBy"));
  EXPECT_EQ(j.at("SmoothingFWHM"), nlohmann::json({8.0, 8.0, 8.0}));
  fs::remove_all(d);
}

TEST(SmoothCli, BadInputFailsClearlyAndWritesNothing) {
  const fs::path d = temp_dir("bad");
  const std::string out = (d / "o.nii.gz").string();

  CliRun r = petpipe_run("smooth --in " + (d / "missing.nii.gz").string() + " --out " + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("missing.nii.gz: input image not found"), std::string::npos) << r.output;

  write_image(d / "m.nii.gz", noise_image(8, 3));
  r = petpipe_run("smooth --in " + (d / "m.nii.gz").string() + " --out " + out + " --fwhm -2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--fwhm: -2 is not allowed"), std::string::npos) << r.output;

  r = petpipe_run("smooth --in " + (d / "m.nii.gz").string() + " --out " + out + " --fwhm 4 5");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("one number or three"), std::string::npos) << r.output;

  r = petpipe_run("smooth --in " + (d / "m.nii.gz").string() + " --out " + (d / "o.txt").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("NIfTI"), std::string::npos) << r.output;

  // 4D without its sidecar.
  DynamicImage pet;
  pet.geom = noise_image(8, 0).geom;
  pet.frames.start_s = {0, 60};
  pet.frames.duration_s = {60, 60};
  pet.data.assign(pet.geom.voxel_count() * 2, 1.0f);
  write_dynamic(d / "p_pet.nii.gz", pet, false);
  r = petpipe_run("smooth --in " + (d / "p_pet.nii.gz").string() + " --out " + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("sidecar"), std::string::npos) << r.output;

  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(d / "o.json"));
  EXPECT_FALSE(fs::exists(d / "o.txt"));
  fs::remove_all(d);
}
