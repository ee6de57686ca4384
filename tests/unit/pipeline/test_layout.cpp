// The derivatives layout: the names of a scan's outputs, and the runner's paths built from it.
#include <gtest/gtest.h>

#include "petpipe/core/layout.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/runner.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

TEST(Layout, ScanOutputsAreBidsDerivativeNames) {
  const layout::ScanLayout l = layout::scan_layout("out", "01", "", "carfentanil", "sub-01_trc-carfentanil_pet.nii.gz",
                                                   "sub-01_T1w.nii.gz", "occipital", 8.0);
  EXPECT_EQ(l.stem, "sub-01_trc-carfentanil");
  EXPECT_EQ(l.dir, fs::path("out/sub-01"));
  EXPECT_EQ(l.realign.mc, fs::path("out/sub-01/pet/sub-01_trc-carfentanil_desc-mc_pet.nii.gz"));
  EXPECT_EQ(l.realign.motion, fs::path("out/sub-01/pet/sub-01_trc-carfentanil_motion.tsv"));
  EXPECT_EQ(l.realign.mean, fs::path("out/sub-01/pet/sub-01_trc-carfentanil_desc-mean_pet.nii.gz"));
  EXPECT_EQ(l.srtm.map("BPND"), fs::path("out/sub-01/pet/sub-01_trc-carfentanil_model-SRTM_meas-BPND_mimap.nii.gz"));
  EXPECT_EQ(l.ref_mask, fs::path("out/sub-01/normalize/sub-01_trc-carfentanil_desc-occipital_mask.nii.gz"));
  EXPECT_EQ(l.normalize.t1_mni, fs::path("out/sub-01/normalize/sub-01_space-MNIColin27_T1w.nii.gz"));
  EXPECT_EQ(l.normalize.pet_to_t1, fs::path("out/sub-01/normalize/transforms/pet_to_t1_rigid.txt"));
  EXPECT_EQ(l.mni_sm_map("BPND"),
            fs::path("out/sub-01/pet/sub-01_trc-carfentanil_space-MNIColin27_desc-sm8_model-SRTM_meas-BPND_mimap.nii.gz"));
  EXPECT_EQ(l.roistats, fs::path("out/sub-01/pet/sub-01_trc-carfentanil_seg-AAL_desc-sm8_roistats.tsv"));
  EXPECT_EQ(l.status, fs::path("out/sub-01/sub-01_trc-carfentanil_status.json"));
  EXPECT_EQ(layout::smoothing_desc(6.5), "sm6.5");
}

TEST(Layout, SessionsTracersFromTheScanAndNonBidsNames) {
  // the trc- entity comes from the tracer when the input name has none; ses- places a folder
  const layout::ScanLayout l =
      layout::scan_layout("o", "02", "b", "madam", "sub-02_ses-b_rec-acdyn_pet.nii.gz", {}, "cerebellum_gm", 8);
  EXPECT_EQ(l.stem, "sub-02_ses-b_trc-madam_rec-acdyn");
  EXPECT_EQ(l.pet_dir, fs::path("o/sub-02/ses-b/pet"));
  EXPECT_EQ(l.normalize.t1_coreg, fs::path("o/sub-02/ses-b/normalize/sub-02_ses-b_desc-coreg_T1w.nii.gz"));
  // a file outside BIDS names its outputs by a prefix
  const layout::Source s = layout::source_of("/x/scan_pet.nii.gz");
  EXPECT_EQ(s.prefix, "scan_");
  EXPECT_EQ(layout::realign_files(s, "d").mc, fs::path("d/scan_desc-mc_pet.nii.gz"));
  EXPECT_EQ(layout::srtm_files(layout::source_of("/x/scan_pet.nii.gz", {}), "d").map("BPND"),
            fs::path("d/scan_pet_model-SRTM_meas-BPND_mimap.nii.gz"));
  EXPECT_EQ(layout::subject_reference_mask("m", "02", "b", l.stem),
            fs::path("m/sub-02/ses-b/pet/sub-02_ses-b_trc-madam_rec-acdyn_desc-reference_mask.nii.gz"));
}

TEST(Layout, RunnerPathsComeFromTheLayout) {
  bids::PetScan scan;
  scan.subject = "03";
  scan.tracer = "carfentanil";
  scan.image = "bids/sub-03/pet/sub-03_trc-carfentanil_pet.nii.gz";
  scan.t1w = {"bids/sub-03/anat/sub-03_T1w.nii.gz"};
  const auto cfg = pipeline::effective_config("carfentanil", {{"smooth", {{"fwhm_mm", 6}}}}, "u");
  const pipeline::ScanPaths p = pipeline::scan_paths(scan, "deriv", cfg);
  const layout::ScanLayout l = layout::scan_layout("deriv", "03", "", "carfentanil", scan.image, scan.t1w.front(),
                                                   "occipital", 6);
  EXPECT_EQ(p.mni_sm_map("BPND"), l.mni_sm_map("BPND"));
  EXPECT_EQ(p.ref_mask, l.ref_mask);
  EXPECT_EQ(p.roistats, l.roistats);
  const auto c = layout::cohort_layout("deriv");
  EXPECT_EQ(c.group_roi_long("BPND"), fs::path("deriv/group/roi_long_BPND.tsv"));
  EXPECT_EQ(c.run_summary_tsv, fs::path("deriv/run_summary.tsv"));
}
