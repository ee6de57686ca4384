// Pipeline configuration (defaults, presets, merging, validation) and the stage cache used for resume.
#include <gtest/gtest.h>

#include <fstream>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/stage_cache.hpp"
#include "test_util.hpp"

using namespace petpipe;
using namespace petpipe::pipeline;
using nlohmann::json;

TEST(Config, PresetsSetReferenceRegionAndTheta3Range) {
  const json c = effective_config("carfentanil", nullptr, "none");
  EXPECT_EQ(c["tracer"], "carfentanil");
  EXPECT_EQ(c["reference"]["region"], "occipital");
  EXPECT_DOUBLE_EQ(c["srtm"]["theta3_min_per_min"].get<double>(), 0.06);
  EXPECT_DOUBLE_EQ(c["smooth"]["fwhm_mm"].get<double>(), 8.0);
  const json m = effective_config("[11C]MADAM", nullptr, "none");
  EXPECT_EQ(m["tracer"], "madam");
  EXPECT_EQ(m["reference"]["region"], "cerebellum_gm");
  EXPECT_DOUBLE_EQ(m["srtm"]["theta3_min_per_min"].get<double>(), 0.045);
  EXPECT_THROW(effective_config("raclopride", nullptr, "none"), Error);
  EXPECT_THROW(effective_config("", nullptr, "none"), Error);
}

TEST(Config, UserValuesOverrideAndUnknownKeysAreErrors) {
  const json user = {{"smooth", {{"fwhm_mm", 6}}}, {"srtm", {{"weights", "duration"}}}};
  const json c = effective_config("carfentanil", user, "study.json");
  EXPECT_DOUBLE_EQ(c["smooth"]["fwhm_mm"].get<double>(), 6.0);
  EXPECT_EQ(c["srtm"]["weights"], "duration");
  EXPECT_EQ(c["reference"]["region"], "occipital");  // preset kept
  auto expect_error = [](const json& u, const std::string& fragment) {
    try {
      effective_config("carfentanil", u, "study.json");
      FAIL() << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("study.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error({{"smooth", {{"fwhm", 6}}}}, "unknown configuration key \"smooth.fwhm\"");
  expect_error({{"smoth", {{"fwhm_mm", 6}}}}, "unknown configuration key \"smoth\"");
  expect_error({{"smooth", {{"fwhm_mm", "eight"}}}}, "smooth.fwhm_mm: \"eight\" is not allowed");
  expect_error({{"smooth", 8}}, "\"smooth\" must be an object");
  expect_error({{"tracer", "madam"}}, "configuration is for tracer \"madam\"");
  expect_error({{"roi", {{"native_weights", "trilinear"}}}}, "roi.native_weights: \"trilinear\" is not allowed");
  EXPECT_EQ(effective_config("carfentanil", json::object(), "study.json")["roi"]["native_weights"], "fractional");
}

TEST(Config, ExamplePresetsAreTheEffectiveConfigurations) {
  const auto src = std::filesystem::path(std::getenv("PETPIPE_SOURCE_DIR"));
  for (const char* t : {"carfentanil", "madam"}) {
    const json file = read_json(src / "examples" / (std::string(t) + ".json"));
    EXPECT_EQ(file, effective_config(t, nullptr, "none")) << t;
    // and a preset file passes its own validation
    EXPECT_NO_THROW(effective_config(t, file, t));
  }
}

TEST(StageCache, SkipsOnlyWhenInputsParametersAndOutputsAreUnchanged) {
  const auto dir = test::fresh_dir("stagecache");
  write_text(dir / "in.txt", "input 1");
  write_text(dir / "out.txt", "output");
  const StageCache cache(dir / "state");
  const json params = {{"fwhm_mm", 8}};
  const auto key = cache.key("smooth", params, {dir / "in.txt"});
  EXPECT_FALSE(cache.up_to_date("smooth", key, {dir / "out.txt"}));  // never recorded
  cache.record("smooth", key, {dir / "out.txt"}, 1.0);
  EXPECT_TRUE(cache.up_to_date("smooth", key, {dir / "out.txt"}));
  // parameter change
  EXPECT_NE(cache.key("smooth", {{"fwhm_mm", 6}}, {dir / "in.txt"}), key);
  // input change
  write_text(dir / "in.txt", "input 2");
  const auto key2 = cache.key("smooth", params, {dir / "in.txt"});
  EXPECT_NE(key2, key);
  EXPECT_FALSE(cache.up_to_date("smooth", key2, {dir / "out.txt"}));
  write_text(dir / "in.txt", "input 1");
  EXPECT_EQ(cache.key("smooth", params, {dir / "in.txt"}), key);
  // output corrupted or removed
  write_text(dir / "out.txt", "outpuT");
  EXPECT_FALSE(cache.up_to_date("smooth", key, {dir / "out.txt"}));
  write_text(dir / "out.txt", "output");
  EXPECT_TRUE(cache.up_to_date("smooth", key, {dir / "out.txt"}));
  std::filesystem::remove(dir / "out.txt");
  EXPECT_FALSE(cache.up_to_date("smooth", key, {dir / "out.txt"}));
  // a missing input is an error naming it
  EXPECT_THROW(cache.key("smooth", params, {dir / "nope.txt"}), Error);
  // forget
  cache.forget("smooth");
  EXPECT_FALSE(std::filesystem::exists(cache.record_path("smooth")));
}
