// `petpipe normalize` on a coarse `petpipe simulate --warp` phantom (3 mm PET, 2 mm T1, 3 mm working
// grid), evaluated against the phantom's truth by scripts/validate_normalize.py (Debian python3 with
// nibabel): the analytic native -> MNI deformation, the true native classes and the noiseless reference
// TAC. The full-size study (2 mm PET, 1 mm T1, three subjects through petpipe run) is
// scripts/validate_normalize.sh; its figures are in docs/MODULE_VALIDATION.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.hpp"

namespace fs = std::filesystem;
using petpipe::test::fresh_dir;
using petpipe::test::petpipe_exe;
using petpipe::test::run;

TEST(NormalizeWarpPhantom, CoarseWarpedSubjectMeetsThresholds) {
  const char* src = std::getenv("PETPIPE_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const fs::path d = fresh_dir("normalize_warp_phantom");
  std::string exe = "'";  // quoted; built with += (GCC 12 reports a false -Wrestrict for "'" + std::string)
  exe += petpipe_exe();
  exe += "'";
  auto r = run(exe + " simulate --out '" + (d / "sim").string() +
               "' --warp --seed 11 --voxel-size 3 --t1-voxel-size 2 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run(exe + " normalize --pet '" + (d / "sim/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz").string() +
          "' --t1 '" + (d / "sim/sub-01/anat/sub-01_T1w.nii.gz").string() + "' --out '" +
          (d / "deriv/sub-01/normalize").string() + "' --working-spacing 3 --gm-mask --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("/usr/bin/python3 '" + std::string(src) + "/scripts/validate_normalize.py' eval '" + (d / "sim").string() +
          "' '" + (d / "deriv").string() + "' sub-01");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  std::printf("%s\n", j.dump().c_str());
  // Measured at this size: T1 -> MNI 0.88 mm, Dice 0.87 / 0.91 / 0.94, reference TAC 0.01 %,
  // PET -> T1 1.76 mm against the identity but 1.00 mm against the phantom's own PET-vs-T1 content
  // offset (its PET comes from AAL labels, which sit ~1 mm anterior-superior of the Colin27 anatomy
  // its T1 comes from; see docs/MODULE_VALIDATION.md). The identity bound is kept loose for that reason.
  EXPECT_LT(j["t1_to_mni_mean_error_mm"].get<double>(), 1.0);
  EXPECT_LT(j["native_to_mni_mean_error_mm"].get<double>(), 1.0);
  for (const char* region : {"amygdala", "hippocampus", "thalamus"})
    EXPECT_GE(j["dice_template"][region].get<double>(), 0.85) << region;
  EXPECT_LT(j["reference_tac_error_pct"].get<double>(), 2.0);
  EXPECT_GE(j["reference_voxels"].get<int>(), 100);
  EXPECT_GE(j["reference_in_true_region_pct"].get<double>(), 99.0);
  EXPECT_LT(j["pet_to_t1_mean_error_mm"].get<double>(), 2.5);
  EXPECT_LT(j["pet_to_t1_atlas_offset_error_mm"].get<double>(), 1.3);

  // --gm-mask: the T1 k-means classes against the phantom's tissue rule applied to its source anatomy
  // (ch2bet through the true deformation: WM >= 95, CSF < 50, GM between; see validate_normalize.py).
  // Measured: Dice GM 0.83, WM 0.91 (CSF 0.49: the brain mask's rim of extracerebral CSF and skull).
  // The grey-matter-masked reference TAC must still meet the bounds above.
  EXPECT_GE(j["tissue_dice"]["gm"].get<double>(), 0.75);
  EXPECT_GE(j["tissue_dice"]["wm"].get<double>(), 0.85);
  fs::remove_all(d);
}
