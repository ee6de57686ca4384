#include <gtest/gtest.h>

#include <cmath>

#include "petpipe/core/error.hpp"
#include "petpipe/core/frame_table.hpp"

using namespace petpipe;

TEST(Radionuclide, HalfLivesInAnySpelling) {
  for (const char* s : {"C11", "11C", "C-11", "^11^C", "carbon-11", "c11", "11-C"})
    EXPECT_NEAR(*half_life_seconds(s), 20.364 * 60, 0.01) << s;
  for (const char* s : {"F18", "18F", "F-18", "^18^F", "Fluorine-18"})
    EXPECT_NEAR(*half_life_seconds(s), 109.77 * 60, 0.01) << s;
  EXPECT_NEAR(*half_life_seconds("O15"), 122.24, 1e-9);
  EXPECT_NEAR(*half_life_seconds("N-13"), 597.9, 1e-9);
  EXPECT_NEAR(*half_life_seconds("68Ga"), 67.71 * 60, 0.01);
  EXPECT_NEAR(*half_life_seconds("Cu64"), 12.7 * 3600, 20);
  EXPECT_NEAR(*half_life_seconds("89Zr"), 78.41 * 3600, 1);
  EXPECT_EQ(*canonical_radionuclide("^11^C"), "C11");
  EXPECT_EQ(*canonical_radionuclide("gallium-68"), "Ga68");
  EXPECT_FALSE(half_life_seconds("C12"));
  EXPECT_FALSE(half_life_seconds("unobtainium"));
  EXPECT_FALSE(half_life_seconds(""));
}

TEST(Units, ActivityConversionToKbqPerMl) {
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("Bq/mL"), 1e-3);
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("bq/ml"), 1e-3);
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("kBq/mL"), 1.0);
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("kBq/cc"), 1.0);
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("MBq/mL"), 1e3);
  EXPECT_DOUBLE_EQ(*activity_to_kbq_per_ml("Bq/cc"), 1e-3);
  EXPECT_NEAR(*activity_to_kbq_per_ml("nCi/mL"), 0.037, 1e-15);  // 1 nCi = 37 Bq
  EXPECT_NEAR(*activity_to_kbq_per_ml("uCi/mL"), 37.0, 1e-12);
  EXPECT_NEAR(*activity_to_kbq_per_ml("\xc2\xb5" "Ci/cc"), 37.0, 1e-12);
  EXPECT_FALSE(activity_to_kbq_per_ml("SUV"));
  EXPECT_FALSE(activity_to_kbq_per_ml("counts"));
  EXPECT_FALSE(activity_to_kbq_per_ml(""));
}

namespace {
FrameTable table(std::vector<double> s, std::vector<double> d) {
  FrameTable t;
  t.start_s = std::move(s);
  t.duration_s = std::move(d);
  t.half_life_s = 1221.84;
  return t;
}
void expect_error(const FrameTable& t, const std::string& fragment) {
  try {
    t.validate("x_pet.json");
    FAIL() << "no error, expected: " << fragment;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("x_pet.json"), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
  }
}
}  // namespace

TEST(FrameTable, ValidateRejectsBadTiming) {
  EXPECT_NO_THROW(table({0, 60, 120}, {60, 60, 180}).validate("ok"));
  EXPECT_NO_THROW(table({0, 70}, {60, 60}).validate("gap is fine"));
  expect_error(table({}, {}), "no frames");
  expect_error(table({0, 60, 60}, {60, 60, 60}), "not increasing");
  expect_error(table({0, 120, 60}, {60, 60, 60}), "not increasing");
  expect_error(table({0, 30}, {60, 60}), "overlap");
  expect_error(table({0, 60}, {60, 0}), "zero or negative duration");
  expect_error(table({0, 60}, {-60, 60}), "zero or negative duration");
  expect_error(table({0, NAN}, {60, 60}), "non-finite");
  expect_error(table({0, 60}, {60}), "durations");
}

TEST(FrameTable, DecayFactorIsTheFrameAverageOfTheDecayCurve) {
  auto t = table({0, 600, 3000}, {60, 600, 360});
  const double lambda = std::log(2.0) / 1221.84;
  for (std::size_t f = 0; f < t.size(); ++f) {
    // midpoint rule with many steps
    const int n = 200000;
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::exp(-lambda * (t.start_s[f] + (i + 0.5) * t.duration_s[f] / n));
    EXPECT_NEAR(t.decay_factor(f), s / n, 1e-9);
  }
  t.decay_reference_s = 600;
  EXPECT_NEAR(t.decay_factor(1), (1 - std::exp(-lambda * 600)) / (lambda * 600), 1e-12);
  EXPECT_NEAR(t.mid_s(2), 3180, 1e-12);
}
