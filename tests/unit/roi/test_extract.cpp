// ROI extraction: AAL statistics against an independent nibabel + numpy computation (the Python script
// tests/unit/roi/roi_stats.py), analytic small cases, NaNs, empty ROIs, native space, errors, TACs and
// the group long table.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/roi/extract.hpp"
#include "roi_test_util.hpp"

using namespace petpipe;
using namespace roi_test;

namespace {

const roi::Atlas& aal() {
  static const roi::Atlas a = roi::load_atlas("aal");
  return a;
}
const LabelImage& aal_labels() {
  static const LabelImage l = read_labels(aal().labels_image);
  return l;
}

struct WarningCapture {
  std::vector<std::string> messages;
  WarningCapture() {
    log::set_sink([this](log::Level l, const std::string& m) {
      if (l == log::Level::warn) messages.push_back(m);
    });
  }
  ~WarningCapture() { log::set_sink({}); }
  bool contains(const std::string& s) const {
    for (const auto& m : messages)
      if (m.find(s) != std::string::npos) return true;
    return false;
  }
};

// Runs roi_stats.py on `map_path` and compares with petpipe's statistics.
void compare_with_numpy(const fs::path& dir, const fs::path& map_path, const std::vector<roi::RegionStats>& got,
                        const std::vector<std::string>& regions) {
  std::string cmd = "/usr/bin/python3 " + (source_dir() / "tests/unit/roi/roi_stats.py").string() + " " +
                    map_path.string() + " " + (dir / "expected.tsv").string();
  for (const auto& r : regions) cmd += " " + r;
  const auto res = run(cmd);
  ASSERT_EQ(res.code, 0) << res.output;
  const Table t = read_tsv(dir / "expected.tsv");
  ASSERT_EQ(t.rows.size(), got.size());
  const auto roi = t.string_column("roi");
  const auto voxels = t.numeric_column("voxels"), nan_voxels = t.numeric_column("nan_voxels");
  const auto mean = t.numeric_column("mean"), median = t.numeric_column("median"), sd = t.numeric_column("sd");
  for (std::size_t r = 0; r < got.size(); ++r) {
    SCOPED_TRACE(got[r].name);
    EXPECT_EQ(roi[r], got[r].name);
    EXPECT_EQ(double(got[r].voxels), voxels[r]);
    EXPECT_EQ(double(got[r].nan_voxels), nan_voxels[r]);
    if (std::isnan(mean[r])) {
      EXPECT_TRUE(std::isnan(got[r].mean));
      continue;
    }
    EXPECT_NEAR(got[r].mean, mean[r], 1e-6 * std::abs(mean[r]));
    EXPECT_NEAR(got[r].median, median[r], 1e-6 * std::abs(median[r]));
    EXPECT_NEAR(got[r].sd, sd[r], 1e-6 * std::abs(sd[r]));
  }
}

}  // namespace

TEST(RoiExtract, AalOnMni2mmMatchesNumpy) {
  const fs::path dir = temp_dir("mni2");
  const Geometry g = mni_grid(2.0);
  Image3D map = random_map(g, 7);
  // NaNs inside some ROIs (a slab through the striatum and thalamus) must be excluded and counted.
  for (std::size_t k = 40; k < 44; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < 45; ++i) map.at(i, j, k) = std::numeric_limits<float>::quiet_NaN();
  write_image(dir / "map.nii.gz", map);
  const Image3D reread = read_image(dir / "map.nii.gz");
  const roi::RoiSet rois = roi::make_rois(aal(), aal_labels(), reread.geom);
  EXPECT_NEAR(rois.labelled_volume_ratio, 1.0, 0.05);
  const auto stats = roi::region_statistics(reread, rois);
  ASSERT_EQ(stats.size(), aal().regions.size());
  std::size_t with_nan = 0;
  for (const auto& s : stats) {
    EXPECT_GT(s.voxels, 0u) << s.name;
    EXPECT_DOUBLE_EQ(s.volume_mm3, double(s.voxels) * 8.0) << s.name;
    EXPECT_DOUBLE_EQ(s.volume_ml, double(s.voxels) * 8.0 / 1000.0) << s.name;
    with_nan += s.nan_voxels > 0;
  }
  EXPECT_GT(with_nan, 0u);
  std::vector<std::string> names;
  for (const auto& s : stats) names.push_back(s.name);
  compare_with_numpy(dir, dir / "map.nii.gz", stats, names);
  fs::remove_all(dir);
}

TEST(RoiExtract, ObliqueCoarseGridMatchesNumpyIncludingReferenceRegions) {
  // A 3 mm grid rotated by 10 degrees about z: nearest-neighbour label sampling at generic positions.
  const fs::path dir = temp_dir("oblique");
  Geometry g = mni_grid(3.0);
  const double c = std::cos(0.17), s = std::sin(0.17);
  g.direction = {-c, s, 0, -s, -c, 0, 0, 0, 1};
  g.origin = {95.0, 120.0, -70.0};
  const Image3D map = random_map(g, 11);
  write_image(dir / "map.nii.gz", map);
  const Image3D reread = read_image(dir / "map.nii.gz");
  roi::RoiOptions o;
  o.regions = {"ventral_striatum", "dorsal_caudate_L", "amygdala", "ofc_R", "occipital", "cerebellum_gm"};
  const auto stats = roi::region_statistics(reread, roi::make_rois(aal(), aal_labels(), reread.geom, o));
  compare_with_numpy(dir, dir / "map.nii.gz", stats, o.regions);
  for (const auto& st : stats) EXPECT_DOUBLE_EQ(st.volume_mm3, double(st.voxels) * 27.0);
  fs::remove_all(dir);
}

TEST(RoiExtract, SameGridAsAtlasEqualsRegionMask) {
  // On the atlas' own grid no resampling happens; the ROI voxels are exactly region_mask's.
  roi::RoiOptions o;
  o.regions = {"ventral_striatum", "hippocampus_L"};
  const auto rois = roi::make_rois(aal(), aal_labels(), aal_labels().geom, o);
  for (std::size_t r = 0; r < 2; ++r) {
    const Mask m = roi::region_mask(aal().region(o.regions[r]), aal_labels());
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < m.data.size(); ++i)
      if (m.data[i]) idx.push_back(i);
    EXPECT_EQ(rois.voxels[r], idx) << o.regions[r];
    EXPECT_FALSE(idx.empty());
  }
}

namespace {
// A tiny synthetic atlas: labels 1 and 2 in two blocks of a 6x4x4 grid, 2 mm voxels.
struct Tiny {
  roi::Atlas atlas;
  LabelImage labels;
  Tiny() {
    Geometry g;
    g.size = {6, 4, 4};
    g.spacing = {2, 2, 2};
    labels = LabelImage(g, 0);
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t j = 0; j < 4; ++j)
        for (std::size_t i = 0; i < 6; ++i) labels.at(i, j, k) = i < 3 ? 1 : (j < 2 ? 2 : 0);
    atlas.name = "tiny";
    atlas.regions.push_back({"a", "", {1}, {"A"}, {}, ""});
    atlas.regions.push_back({"b", "", {2}, {"B"}, {}, ""});
    atlas.regions.push_back({"ab", "", {1, 2}, {"A", "B"}, {}, ""});
    roi::Region cut{"a_cut", "", {1}, {"A"}, {}, ""};
    cut.limits.z_max = 2.0;  // RAS z <= 2 mm: slices k = 0, 1
    atlas.regions.push_back(cut);
  }
};
}  // namespace

TEST(RoiExtract, AnalyticStatisticsOnTinyAtlas) {
  Tiny t;
  Image3D map(t.labels.geom, 0.0f);
  for (std::size_t i = 0; i < map.data.size(); ++i) map.data[i] = float(i % 5);  // values 0..4
  const auto rois = roi::make_rois(t.atlas, t.labels, map.geom);
  const auto st = roi::region_statistics(map, rois);
  ASSERT_EQ(st.size(), 4u);
  // Reference by brute force.
  for (std::size_t r = 0; r < 4; ++r) {
    std::vector<double> v;
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t j = 0; j < 4; ++j)
        for (std::size_t i = 0; i < 6; ++i) {
          const int l = t.labels.at(i, j, k);
          const bool in = (r == 0 && l == 1) || (r == 1 && l == 2) || (r == 2 && l > 0) ||
                          (r == 3 && l == 1 && k <= 1);
          if (in) v.push_back(map.at(i, j, k));
        }
    double m = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    double ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    std::sort(v.begin(), v.end());
    const double med = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    EXPECT_EQ(st[r].voxels, v.size()) << r;
    EXPECT_DOUBLE_EQ(st[r].mean, m) << r;
    EXPECT_DOUBLE_EQ(st[r].median, med) << r;
    EXPECT_NEAR(st[r].sd, std::sqrt(ss / double(v.size() - 1)), 1e-12) << r;
    EXPECT_DOUBLE_EQ(st[r].volume_mm3, 8.0 * double(v.size())) << r;
  }
  EXPECT_EQ(st[0].voxels, 48u);
  EXPECT_EQ(st[1].voxels, 24u);
  EXPECT_EQ(st[3].voxels, 24u);

  // Table: n/a for missing values, numbers otherwise.
  Image3D nanmap = map;
  for (std::size_t i : rois.voxels[1]) nanmap.data[i] = std::numeric_limits<float>::quiet_NaN();
  nanmap.data[rois.voxels[0][0]] = std::numeric_limits<float>::infinity();
  WarningCapture w;
  const auto st2 = roi::region_statistics(nanmap, rois);
  EXPECT_EQ(st2[0].voxels, 47u);
  EXPECT_EQ(st2[0].nan_voxels, 1u);
  EXPECT_EQ(st2[1].voxels, 0u);
  EXPECT_EQ(st2[1].nan_voxels, 24u);
  EXPECT_TRUE(std::isnan(st2[1].mean));
  EXPECT_TRUE(w.contains("ROI b: all 24 voxels are NaN"));
  const Table tab = roi::statistics_table(st2);
  EXPECT_EQ(tab.rows[1][tab.column_index("mean")], "n/a");
  EXPECT_EQ(tab.rows[1][tab.column_index("volume_mm3")], "0");
  EXPECT_EQ(tab.rows[0][tab.column_index("nan_voxels")], "1");
}

TEST(RoiExtract, EmptyRoiIsNaWithWarning) {
  // A grid that covers only the top of the brain (RAS z >= 40 mm): no amygdala voxel falls inside.
  Geometry g = mni_grid(2.0);
  g.size[2] = 20;
  g.origin[2] = 40.0;
  const Image3D map = random_map(g, 3);
  WarningCapture w;
  roi::RoiOptions o;
  o.regions = {"amygdala", "frontal"};
  const auto rois = roi::make_rois(aal(), aal_labels(), g, o);
  EXPECT_TRUE(rois.voxels[0].empty());
  EXPECT_FALSE(rois.voxels[1].empty());
  EXPECT_TRUE(w.contains("ROI amygdala: no voxel of the region falls inside the image"));
  EXPECT_TRUE(w.contains("covers only"));
  const auto st = roi::region_statistics(map, rois);
  EXPECT_EQ(st[0].voxels, 0u);
  EXPECT_TRUE(std::isnan(st[0].mean) && std::isnan(st[0].median) && std::isnan(st[0].sd));
  EXPECT_EQ(roi::statistics_table(st).rows[0][5], "n/a");
}

TEST(RoiExtract, ImageOutsideAtlasSpaceIsAnError) {
  Geometry g = mni_grid(4.0);
  g.origin = {1000.0, 1000.0, 800.0};  // scanner coordinates far from MNI space
  try {
    roi::make_rois(aal(), aal_labels(), g);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not in the same space"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not overlap"), std::string::npos) << e.what();
  }
  // Overlapping the label image's box but only where it is unlabelled (outside the head).
  Geometry corner = mni_grid(2.0);
  corner.size = {5, 5, 5};
  EXPECT_THROW(roi::make_rois(aal(), aal_labels(), corner), Error);
  // Unknown region names are errors that list the known ones.
  roi::RoiOptions o;
  o.regions = {"nucleus_fictus"};
  try {
    roi::make_rois(aal(), aal_labels(), mni_grid(4.0), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("amygdala"), std::string::npos) << e.what();
  }
}

TEST(RoiExtract, NativeSpaceLabels) {
  // Native-space label image on its own (finer) grid, in PET scanner coordinates: resampled onto the
  // PET grid; regions cut by MNI limits are n/a by default and an error when requested by name.
  Tiny t;
  t.labels.geom.origin = {300, -200, 50};
  t.atlas.regions.pop_back();  // a_cut has limits
  roi::Region cut{"a_cut", "", {1}, {"A"}, {}, ""};
  cut.limits.z_max = 0.0;
  t.atlas.regions.push_back(cut);
  // PET grid: 4 mm voxels over the same box (centres at label voxels 0.5, 2.5, 4.5 -> ties avoided by
  // a 0.25 mm shift).
  Geometry pet;
  pet.size = {3, 2, 2};
  pet.spacing = {4, 4, 4};
  pet.origin = {301.25, -198.75, 51.25};
  WarningCapture w;
  roi::RoiOptions o;
  o.space = roi::LabelSpace::native;
  const auto rois = roi::make_rois(t.atlas, t.labels, pet, o);
  // PET voxel i maps to label voxel round(2i + 0.625): 1, 3, 5 -> labels 1, 2|0, 2|0.
  EXPECT_EQ(rois.voxels[0].size(), 4u);  // i = 0, all j, k
  EXPECT_EQ(rois.voxels[1].size(), 4u);  // i = 1, 2 with j = 0 (label voxel j = 1 < 2)
  EXPECT_TRUE(rois.voxels[3].empty());
  EXPECT_NE(rois.notes[3].find("MNI coordinate limits"), std::string::npos);
  EXPECT_TRUE(w.contains("ROI a_cut"));
  o.regions = {"a", "a_cut"};
  EXPECT_THROW(roi::make_rois(t.atlas, t.labels, pet, o), Error);
}

TEST(RoiExtract, RegionalTacsAreFrameMeans) {
  Tiny t;
  DynamicImage pet;
  pet.geom = t.labels.geom;
  pet.frames.start_s = {0, 60, 180};
  pet.frames.duration_s = {60, 120, 300};
  const std::size_t n = pet.geom.voxel_count();
  for (std::size_t f = 0; f < 3; ++f)
    for (std::size_t i = 0; i < n; ++i) pet.data.push_back(float(f + 1) * 10.0f + float(i % 3));
  pet.data[2 * n + 0] = std::numeric_limits<float>::quiet_NaN();  // frame 3, voxel 0 (label 1)
  const auto rois = roi::make_rois(t.atlas, t.labels, pet.geom);
  WarningCapture w;
  const auto tacs = roi::regional_tacs(pet, rois);
  for (std::size_t r = 0; r < rois.size(); ++r)
    for (std::size_t f = 0; f < 3; ++f) {
      double s = 0;
      std::size_t c = 0;
      for (std::size_t idx : rois.voxels[r]) {
        const float v = pet.data[f * n + idx];
        if (std::isfinite(v)) {
          s += v;
          ++c;
        }
      }
      EXPECT_DOUBLE_EQ(tacs.values[r][f], s / double(c)) << r << " " << f;
    }
  EXPECT_EQ(tacs.nan_voxels[0], 1u);
  EXPECT_TRUE(w.contains("NaN voxel-frames"));
  const Table tab = roi::tacs_table(tacs);
  ASSERT_EQ(tab.columns.size(), 6u);
  EXPECT_EQ(tab.columns[0], "frame_start");
  EXPECT_EQ(tab.columns[1], "frame_end");
  EXPECT_EQ(tab.columns[2], "a");
  EXPECT_EQ(tab.rows[2][0], "180");
  EXPECT_EQ(tab.rows[2][1], "480");
}

TEST(RoiExtract, GroupLongTableWithParticipants) {
  const fs::path dir = temp_dir("group");
  std::ofstream(dir / "participants.tsv") << "participant_id\tgroup\tage\tsex\n"
                                             "sub-01\tsecure\t31\tF\nsub-02\tinsecure\t45.5\tM\n";
  const Participants p = read_participants(dir / "participants.tsv");
  roi::SubjectStats a{"01", {{"amygdala", 10, 0, 80, 0.08, 1.5, 1.4, 0.2}, {"caudate", 12, 2, 96, 0.096, 2.5, 2.25, 0.3}}};
  roi::SubjectStats b{"sub-02", {{"amygdala", 0, 10, 0, 0, NAN, NAN, NAN}, {"caudate", 12, 0, 96, 0.096, 3.5, 3.0, 0.1}}};
  const Table t = roi::group_long_table({a, b}, roi::Statistic::mean, &p);
  ASSERT_EQ(t.columns, (std::vector<std::string>{"participant_id", "roi", "value", "voxels", "nan_voxels",
                                                  "group", "age", "sex"}));
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"sub-01", "amygdala", "1.5", "10", "0", "secure", "31", "F"}));
  EXPECT_EQ(t.rows[2][2], "n/a");
  EXPECT_EQ(t.rows[3][5], "insecure");
  EXPECT_EQ(t.rows[3][6], "45.5");
  const Table med = roi::group_long_table({a, b}, roi::Statistic::median, nullptr);
  EXPECT_EQ(med.columns.size(), 5u);
  EXPECT_EQ(med.rows[1][2], "2.25");
  roi::SubjectStats c{"sub-03", a.stats};
  EXPECT_THROW(roi::group_long_table({a, c}, roi::Statistic::mean, &p), Error);
  EXPECT_THROW(roi::group_long_table({a, a}, roi::Statistic::mean, nullptr), Error);
  fs::remove_all(dir);
}
