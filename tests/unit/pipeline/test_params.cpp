// Parameter tables: every row has its flag, its configuration key (and so its --print-config entry),
// its provenance entry and a working check; the command line, the configuration and the typed options
// agree.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/params.hpp"
#include "petpipe/pipeline/stage_params.hpp"

using namespace petpipe;
using namespace petpipe::pipeline;
using namespace petpipe::params;
using nlohmann::json;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A value of the right type that the row must refuse, or null when every value of the type is allowed.
json bad_value(const Param& p) {
  switch (p.type) {
    case Type::real:
    case Type::integer:
    case Type::real3:
      if (p.range.min) return *p.range.min - (p.type == Type::integer ? 1 : 1e-3);
      if (p.range.max) return *p.range.max + 1;
      return json(nullptr);
    case Type::choice: return "no-such-choice";
    case Type::frame_list: return json::array({0});
    default: return json(nullptr);
  }
}

// Parses `args` with the options of table `t` and returns the variables map.
po::variables_map parse(const params::Table& t, const std::vector<std::string>& args) {
  po::options_description d;
  t.add_options(d);
  std::vector<const char*> argv{"petpipe"};
  for (const auto& a : args) argv.push_back(a.c_str());
  po::variables_map vm;
  po::store(po::command_line_parser(static_cast<int>(argv.size()), argv.data()).options(d).run(), vm);
  po::notify(vm);
  return vm;
}

}  // namespace

TEST(ParamTables, EveryRowHasFlagConfigKeyProvenanceAndCheck) {
  const json defaults = default_config();
  std::size_t rows = 0, checked = 0;
  for (const params::Table* t : all_tables()) {
    po::options_description d;
    t->add_options(d);
    const json prov = t->defaults();  // the provenance JSON of a stage is the table's to_json
    for (const Param& p : t->rows()) {
      ++rows;
      SCOPED_TRACE(t->section() + "." + p.key);
      // flag: an option of the command, whose help names the configuration key
      const auto* opt = d.find_nothrow(p.flag, false);
      ASSERT_NE(opt, nullptr) << "--" << p.flag;
      EXPECT_NE(opt->description().find("(config: " + t->section() + "." + p.key + ")"), std::string::npos);
      // --print-config key (the defaults every effective configuration starts from)
      ASSERT_TRUE(defaults.contains(t->section()));
      EXPECT_TRUE(defaults[t->section()].contains(p.key));
      // provenance entry
      EXPECT_TRUE(prov.contains(p.key));
      // the default passes its own check
      EXPECT_NO_THROW(check_value(p, prov[p.key], p.key));
      // a value of the wrong type fails, naming the key path and the value
      const json wrong = (p.type == Type::text || p.type == Type::choice) ? json(3.5) : json("x y");
      const std::string e1 = error_of([&] { check_value(p, wrong, t->section() + "." + p.key); });
      EXPECT_NE(e1.find(t->section() + "." + p.key), std::string::npos) << e1;
      // a value out of range fails, naming what is allowed
      const json bad = bad_value(p);
      if (!bad.is_null()) {
        ++checked;
        const std::string e2 = error_of([&] { check_value(p, bad, t->section() + "." + p.key); });
        EXPECT_NE(e2.find(t->section() + "." + p.key), std::string::npos) << e2;
        EXPECT_NE(e2.find("expected"), std::string::npos) << e2;
        // and the same on the command line, naming the flag
        if (p.type != Type::frame_list) {
          const std::vector<std::string> tokens = to_tokens(p, bad);
          const std::string e3 = error_of([&] {
            const auto vm = parse(*t, {"--" + p.flag + "=" + tokens.front()});
            (void)t->overrides(vm);
          });
          EXPECT_NE(e3.find("--" + p.flag), std::string::npos) << e3;
        }
      }
    }
  }
  EXPECT_GT(rows, 50u);
  EXPECT_GT(checked, 25u);
}

TEST(ParamTables, KeysAndFlagsAreUniqueWithinACommandAndASection) {
  std::map<std::string, std::set<std::string>> keys;
  for (const params::Table* t : all_tables())
    for (const Param& p : t->rows()) EXPECT_TRUE(keys[t->section()].insert(p.key).second) << t->section() << "." << p.key;
}

TEST(ParamTables, CommandLineOfTheOptionsGivesTheSameOptions) {
  // Every table: non-default values -> to_args -> parsed by the table's own options -> same JSON.
  RealignParams r;
  r.estimation.fwhm_mm = 5.5;
  r.estimation.reference_frame = 3;  // frame 4
  r.estimation.exclude_frames = {0, 1, 6};
  r.estimation.two_pass = false;
  r.estimation.refine_fwhm_mm = -1;
  r.estimation.metric = realign::Metric::correlation;
  r.interpolation = realign::Interpolation::linear;
  r.estimation.seed = 4000000000u;
  const auto args = realign_table().to_args(r);
  const RealignParams back = realign_table().from_vm(parse(realign_table(), args));
  EXPECT_EQ(realign_table().to_json(back), realign_table().to_json(r));
  EXPECT_EQ(realign_table().to_json(back)["reference_frame"], 4);
  EXPECT_EQ(realign_table().to_json(back)["exclude_frames"], json::array({1, 2, 7}));

  SrtmParams s;
  s.theta3_min_per_min = 0.0612345678901;
  s.theta3_max_per_min = 0.7;
  s.weights = kinetics::WeightScheme::duration;
  s.subgrid_refinement = false;
  const SrtmParams sb = srtm_table().from_vm(parse(srtm_table(), srtm_table().to_args(s)));
  EXPECT_EQ(sb.theta3_min_per_min, s.theta3_min_per_min);  // exactly: the shortest text that reads back
  EXPECT_EQ(srtm_table().to_json(sb), srtm_table().to_json(s));

  SmoothParams m;
  m.fwhm_mm = {6, 6, 10};
  const SmoothParams mb = smooth_table().from_vm(parse(smooth_table(), smooth_table().to_args(m)));
  EXPECT_EQ(mb.fwhm_mm, m.fwhm_mm);

  // No option given: nothing overridden, for every table.
  for (const params::Table* t : all_tables()) EXPECT_TRUE(t->overrides(parse(*t, {})).empty()) << t->section();
}

TEST(ParamTables, OptionalValuesAreUnsetUntilGiven) {
  EXPECT_TRUE(std::isnan(SrtmParams{}.theta3_min_per_min));
  EXPECT_TRUE(srtm_table().defaults()["theta3_min_per_min"].is_null());
  // an unset value is not on the command line
  for (const auto& a : srtm_table().to_args(SrtmParams{})) EXPECT_EQ(a.find("theta3"), std::string::npos) << a;
}

TEST(ConfigCheck, OutOfRangeValuesNameTheKeyTheValueAndWhatIsAllowed) {
  auto expect = [](const json& user, const std::vector<std::string>& fragments) {
    const std::string e = error_of([&] { effective_config("carfentanil", user, "study.json"); });
    ASSERT_FALSE(e.empty()) << user.dump();
    for (const auto& f : fragments) EXPECT_NE(e.find(f), std::string::npos) << e;
  };
  expect({{"srtm", {{"basis_functions", -5}}}}, {"study.json", "srtm.basis_functions", "-5", "[2, 100000]"});
  expect({{"smooth", {{"fwhm_mm", -8}}}}, {"study.json", "smooth.fwhm_mm", "-8", ">= 0"});
  expect({{"realign", {{"interpolation", "cubic"}}}}, {"realign.interpolation", "\"cubic\"", "bspline, linear"});
  expect({{"realign", {{"fwhm", 7}}}}, {"unknown configuration key \"realign.fwhm\"", "fwhm_mm"});
  expect({{"smoth", json::object()}}, {"unknown configuration key \"smoth\""});
  expect({{"smooth", {{"fwhm_mm", "eight"}}}}, {"smooth.fwhm_mm", "\"eight\""});
  expect({{"smooth", 8}}, {"\"smooth\" must be an object"});
  expect({{"roi", {{"native_weights", "trilinear"}}}}, {"roi.native_weights", "fractional, nearest"});
  expect({{"srtm", {{"theta3_min_per_min", 0.7}}}}, {"srtm.theta3_min_per_min", "below"});
  expect({{"group", {{"contrasts", "a>b"}}}}, {"group.contrasts", "list of strings"});
  expect({{"srtm", {{"basis_functions", nullptr}}}}, {"srtm.basis_functions", "null"});
}

TEST(Tracers, PresetsAreDataFilesFoundByAnyOfTheirNames) {
  const auto names = known_tracers();
  EXPECT_NE(std::find(names.begin(), names.end(), "carfentanil"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "madam"), names.end());
  for (const char* n : {"carfentanil", "[11C]carfentanil", "Carfentanil", "11C-carfentanil"}) {
    const auto p = find_tracer_preset(n);
    ASSERT_TRUE(p) << n;
    EXPECT_EQ(p->name, "carfentanil");
    EXPECT_EQ(p->config["reference"]["region"], "occipital");
  }
  EXPECT_EQ(find_tracer_preset("[11C]MADAM")->name, "madam");
  EXPECT_FALSE(find_tracer_preset("raclopride"));
  EXPECT_FALSE(find_tracer_preset(""));
}

TEST(Tracers, ATracerWithoutPresetRunsWhenTheConfigurationGivesWhatAPresetWould) {
  // (a) the full printed carfentanil configuration
  const json printed = effective_config("carfentanil", nullptr, "print");
  const json a = effective_config("raclopride", printed, "carfentanil.json");
  EXPECT_EQ(a["tracer"], "raclopride");
  EXPECT_EQ(a["reference"]["region"], "occipital");
  EXPECT_EQ(a["srtm"], printed["srtm"]);
  // (b) the reference region and the theta3 range alone
  const json b = effective_config(
      "raclopride",
      {{"reference", {{"region", "cerebellum_gm"}}}, {"srtm", {{"theta3_min_per_min", 0.05}, {"theta3_max_per_min", 0.8}}}},
      "study.json");
  EXPECT_EQ(b["reference"]["region"], "cerebellum_gm");
  EXPECT_DOUBLE_EQ(b["srtm"]["theta3_max_per_min"].get<double>(), 0.8);
  EXPECT_TRUE(b["roi"]["regions"].empty());  // every analysis region of the atlas
  // (c) a per-subject mask
  const json c = effective_config(
      "raclopride",
      {{"reference", {{"subject_mask", "masks"}}}, {"srtm", {{"theta3_min_per_min", 0.05}, {"theta3_max_per_min", 0.8}}}},
      "study.json");
  EXPECT_EQ(c["reference"]["subject_mask"], "masks");
  // nothing given: the error says what is missing
  const std::string e = error_of([&] { effective_config("raclopride", nullptr, "defaults"); });
  EXPECT_NE(e.find("tracer \"raclopride\" has no preset"), std::string::npos) << e;
  EXPECT_NE(e.find("reference.region"), std::string::npos) << e;
  EXPECT_NE(e.find("srtm.theta3_min_per_min"), std::string::npos) << e;
  // a configuration for another tracer that has its own preset is refused
  const std::string m = error_of([&] { effective_config("madam", printed, "carfentanil.json"); });
  EXPECT_NE(m.find("configuration is for tracer \"carfentanil\""), std::string::npos) << m;
}

TEST(StudyParams, TypedOptionsFollowTheConfiguration) {
  json user = {{"realign", {{"reference_frame", 5}, {"exclude_frames", {1, 2}}, {"interpolation", "linear"}}},
               {"srtm", {{"weights", "uniform"}}},
               {"roi", {{"native_weights", "nearest"}, {"regional_fits", false}}},
               {"slurm", {{"cpus_per_task", 8}}}};
  const StudyParams s = study_params(effective_config("madam", user, "u"), "u");
  EXPECT_EQ(s.realign.estimation.reference_frame, 4);
  EXPECT_EQ(s.realign.estimation.exclude_frames, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(s.realign.interpolation, realign::Interpolation::linear);
  EXPECT_EQ(s.srtm.weights, kinetics::WeightScheme::uniform);
  EXPECT_DOUBLE_EQ(s.srtm.theta3_min_per_min, 0.045);
  EXPECT_EQ(s.regional.native_weights, NativeWeights::nearest);
  EXPECT_FALSE(s.regional.regional_fits);
  EXPECT_EQ(s.reference.region, "cerebellum_gm");
  EXPECT_EQ(s.slurm.cpus_per_task, 8);
  EXPECT_EQ(s.roi.regions.size(), 10u);
}
