// petpipe roi: per-subject table, regional TACs, group long table, and errors on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/roi/extract.hpp"
#include "roi_test_util.hpp"

using namespace petpipe;
using namespace roi_test;

TEST(RoiCli, MapTableEqualsLibraryAndHasSidecar) {
  const fs::path d = temp_dir("cli_map");
  const Image3D map = random_map(mni_grid(4.0), 5);
  write_image(d / "sub-01_meas-BPND_mimap.nii.gz", map);
  const auto r = run_petpipe("roi --in " + (d / "sub-01_meas-BPND_mimap.nii.gz").string() +
                         " --rois amygdala,caudate thalamus_L --out " + (d / "sub-01_roi.tsv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Table t = read_tsv(d / "sub-01_roi.tsv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"roi", "voxels", "nan_voxels", "volume_mm3", "volume_ml", "mean",
                                                  "median", "sd"}));
  ASSERT_EQ(t.rows.size(), 3u);
  const auto atlas = roi::load_atlas("aal");
  roi::RoiOptions o;
  o.regions = {"amygdala", "caudate", "thalamus_L"};
  const Image3D reread = read_image(d / "sub-01_meas-BPND_mimap.nii.gz");
  const auto st = roi::region_statistics(reread, roi::make_rois(atlas, read_labels(atlas.labels_image), reread.geom, o));
  const auto mean = t.numeric_column("mean"), vol = t.numeric_column("volume_mm3");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t.rows[i][0], o.regions[i]);
    EXPECT_NEAR(mean[i], st[i].mean, 1e-6 * st[i].mean);
    EXPECT_DOUBLE_EQ(vol[i], 64.0 * double(st[i].voxels));
  }
  const auto j = read_json(d / "sub-01_roi.json");
  EXPECT_TRUE(j.contains("GeneratedBy"));
  EXPECT_EQ(j.at("Regions").size(), 3u);
  EXPECT_EQ(j.at("LabelResampling"), "nearest neighbour on physical coordinates");
  fs::remove_all(d);
}

TEST(RoiCli, DynamicImageGivesTacs) {
  const fs::path d = temp_dir("cli_tacs");
  DynamicImage pet;
  pet.geom = mni_grid(6.0);
  pet.frames.start_s = {0, 60, 180};
  pet.frames.duration_s = {60, 120, 240};
  for (int f = 0; f < 3; ++f) {
    const Image3D m = random_map(pet.geom, 20 + f);
    pet.data.insert(pet.data.end(), m.data.begin(), m.data.end());
  }
  write_dynamic(d / "sub-01_pet.nii.gz", pet);
  const auto r = run_petpipe("roi --in " + (d / "sub-01_pet.nii.gz").string() + " --rois putamen occipital --out " +
                         (d / "sub-01_seg-AAL_tacs.tsv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Table t = read_tsv(d / "sub-01_seg-AAL_tacs.tsv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"frame_start", "frame_end", "putamen", "occipital"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.numeric_column("frame_end"), (std::vector<double>{60, 180, 420}));
  const auto atlas = roi::load_atlas("aal");
  roi::RoiOptions o;
  o.regions = {"putamen", "occipital"};
  const DynamicImage re = read_dynamic(d / "sub-01_pet.nii.gz");
  const auto tacs = roi::regional_tacs(re, roi::make_rois(atlas, read_labels(atlas.labels_image), re.geom, o));
  const auto put = t.numeric_column("putamen");
  for (std::size_t f = 0; f < 3; ++f) EXPECT_NEAR(put[f], tacs.values[0][f], 1e-6 * tacs.values[0][f]);
  fs::remove_all(d);
}

TEST(RoiCli, GroupLongTableFromParticipants) {
  const fs::path d = temp_dir("cli_group");
  for (int s = 1; s <= 3; ++s)
    write_image(d / ("sub-0" + std::to_string(s) + "_meas-BPND_mimap.nii.gz"), random_map(mni_grid(4.0), 30 + s));
  std::ofstream(d / "participants.tsv") << "participant_id\tgroup\tage\nsub-01\tsecure\t30\nsub-02\tinsecure\t41\n"
                                           "sub-03\tsecure\t25\n";
  std::string ins;
  // Appended piece by piece: GCC 12 reports a false -Wrestrict for "literal" + std::string here.
  for (int s = 1; s <= 3; ++s) {
    ins += ' ';
    ins += (d / ("sub-0" + std::to_string(s) + "_meas-BPND_mimap.nii.gz")).string();
  }
  const auto r = run_petpipe("roi --in" + ins + " --participants " + (d / "participants.tsv").string() +
                         " --rois amygdala thalamus --out " + (d / "long.tsv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Table t = read_tsv(d / "long.tsv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"participant_id", "roi", "value", "voxels", "nan_voxels", "group", "age"}));
  ASSERT_EQ(t.rows.size(), 6u);
  EXPECT_EQ(t.rows[2][0], "sub-02");
  EXPECT_EQ(t.rows[2][1], "amygdala");
  EXPECT_EQ(t.rows[2][5], "insecure");
  EXPECT_EQ(t.rows[2][6], "41");
  // Missing participant: error, nothing written.
  std::ofstream(d / "p2.tsv") << "participant_id\tgroup\nsub-01\ta\n";
  const auto bad = run_petpipe("roi --in" + ins + " --participants " + (d / "p2.tsv").string() + " --out " +
                           (d / "long2.tsv").string());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("sub-02 is not in participants.tsv"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(d / "long2.tsv"));
  fs::remove_all(d);
}

TEST(RoiCli, BadInputFailsClearlyAndWritesNothing) {
  const fs::path d = temp_dir("cli_bad");
  Geometry far = mni_grid(4.0);
  far.origin = {500, 600, 700};
  write_image(d / "sub-01_far.nii.gz", random_map(far, 1));
  auto r = run_petpipe("roi --in " + (d / "sub-01_far.nii.gz").string() + " --out " + (d / "o.tsv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("sub-01_far.nii.gz"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not in the same space"), std::string::npos) << r.output;

  write_image(d / "sub-01_ok.nii.gz", random_map(mni_grid(6.0), 2));
  r = run_petpipe("roi --in " + (d / "sub-01_ok.nii.gz").string() + " --rois nucleus_fictus --out " + (d / "o.tsv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("no region \"nucleus_fictus\""), std::string::npos) << r.output;

  r = run_petpipe("roi --in " + (d / "missing.nii.gz").string() + " --out " + (d / "o.tsv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("missing.nii.gz: input image not found"), std::string::npos) << r.output;

  r = run_petpipe("roi --in " + (d / "sub-01_ok.nii.gz").string() + " --out " + (d / "o.csv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(".tsv"), std::string::npos) << r.output;

  // Native labels: ROIs cut by MNI limits are refused by name.
  const auto atlas = roi::load_atlas("aal");
  write_labels(d / "labels.nii.gz", read_labels(atlas.labels_image));
  r = run_petpipe("roi --in " + (d / "sub-01_ok.nii.gz").string() + " --labels " + (d / "labels.nii.gz").string() +
              " --rois ventral_striatum --out " + (d / "o.tsv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("MNI coordinate limits"), std::string::npos) << r.output;

  EXPECT_FALSE(fs::exists(d / "o.tsv"));
  EXPECT_FALSE(fs::exists(d / "o.json"));
  EXPECT_FALSE(fs::exists(d / "o.csv"));

  // Default regions with native labels: limit-cut ROIs are n/a with a warning, the rest are computed.
  r = run_petpipe("roi --in " + (d / "sub-01_ok.nii.gz").string() + " --labels " + (d / "labels.nii.gz").string() +
              " --out " + (d / "native.tsv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ventral_striatum"), std::string::npos) << r.output;
  const Table t = read_tsv(d / "native.tsv");
  const auto names = t.string_column("roi");
  const auto means = t.string_column("mean");
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].rfind("ventral_striatum", 0) == 0 || names[i].rfind("dorsal_caudate", 0) == 0) {
      EXPECT_EQ(means[i], "n/a") << names[i];
    } else {
      EXPECT_NE(means[i], "n/a") << names[i];
    }
  }
  // Existing output without --force.
  r = run_petpipe("roi --in " + (d / "sub-01_ok.nii.gz").string() + " --out " + (d / "native.tsv").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("exists"), std::string::npos) << r.output;
  fs::remove_all(d);
}

TEST(RoiCli, FractionalTacsFromFinerLabels) {
  // A 6 mm PET image with the AAL labels (1 mm) as its "sub-voxel" labels: --fractional weights each
  // PET voxel by the share of its 1 mm label voxels in the ROI; the TACs equal the library's.
  const fs::path d = temp_dir("cli_fractional");
  DynamicImage pet;
  pet.geom = mni_grid(6.0);
  pet.frames.start_s = {0, 60};
  pet.frames.duration_s = {60, 120};
  for (int f = 0; f < 2; ++f) {
    const Image3D m = random_map(pet.geom, 40 + f);
    pet.data.insert(pet.data.end(), m.data.begin(), m.data.end());
  }
  write_dynamic(d / "sub-01_pet.nii.gz", pet);
  const auto atlas = roi::load_atlas("aal");
  const LabelImage labels = read_labels(atlas.labels_image);
  write_labels(d / "fine_dseg.nii.gz", labels);
  const auto r = run_petpipe("roi --in " + (d / "sub-01_pet.nii.gz").string() + " --labels " +
                             (d / "fine_dseg.nii.gz").string() + " --fractional --rois amygdala thalamus --out " +
                             (d / "sub-01_seg-AAL_tacs.tsv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  roi::RoiOptions o;
  o.regions = {"amygdala", "thalamus"};
  o.space = roi::LabelSpace::native;
  o.fractional = true;
  const DynamicImage re = read_dynamic(d / "sub-01_pet.nii.gz");
  const auto rois = roi::make_rois(atlas, labels, re.geom, o);
  ASSERT_FALSE(rois.weights[0].empty());
  const auto tacs = roi::regional_tacs(re, rois);
  o.fractional = false;
  const auto binary = roi::regional_tacs(re, roi::make_rois(atlas, labels, re.geom, o));
  const Table t = read_tsv(d / "sub-01_seg-AAL_tacs.tsv");
  const auto amy = t.numeric_column("amygdala");
  for (std::size_t f = 0; f < 2; ++f) {
    EXPECT_NEAR(amy[f], tacs.values[0][f], 1e-6 * tacs.values[0][f]);
    EXPECT_NE(tacs.values[0][f], binary.values[0][f]);
  }
  const auto j = read_json(d / "sub-01_seg-AAL_tacs.json");
  EXPECT_NE(j.at("LabelResampling").get<std::string>().find("fractional"), std::string::npos);
  EXPECT_GT(j.at("Regions")[0].at("WeightedVoxels").get<double>(), 0.0);

  // Labels coarser than the image: a clear error naming both files, nothing written.
  DynamicImage fine_pet = pet;
  fine_pet.geom = mni_grid(2.0);
  fine_pet.data.assign(fine_pet.geom.voxel_count() * 2, 1.0f);
  write_dynamic(d / "sub-02_pet.nii.gz", fine_pet);
  Geometry coarse = mni_grid(4.0);
  write_labels(d / "coarse_dseg.nii.gz", roi::resample_labels_nearest(labels, coarse).labels);
  const auto bad = run_petpipe("roi --in " + (d / "sub-02_pet.nii.gz").string() + " --labels " +
                               (d / "coarse_dseg.nii.gz").string() + " --fractional --rois amygdala --out " +
                               (d / "bad_tacs.tsv").string());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("coarse_dseg.nii.gz"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("at least as fine"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(d / "bad_tacs.tsv"));
  fs::remove_all(d);
}
