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

namespace {
// A ball of label 1 (radius `radius` mm about `centre`, LPS) on a fine grid; the image grid is the
// fine grid's voxels grouped s x s x s, shifted by `shift` mm.
struct BallOnGrids {
  roi::Atlas atlas;
  LabelImage fine;
  Geometry image;
  BallOnGrids(double radius, const Vec3& centre, int s, double image_voxel, const Vec3& shift) {
    image.size = {14, 14, 14};
    image.spacing = {image_voxel, image_voxel, image_voxel};
    image.origin = {shift[0] - 20.0, shift[1] - 20.0, shift[2] - 20.0};
    Geometry g;
    for (int a = 0; a < 3; ++a) {
      g.size[a] = image.size[a] * std::size_t(s);
      g.spacing[a] = image_voxel / s;
      g.origin[a] = image.origin[a] - 0.5 * image_voxel + 0.5 * g.spacing[a];
    }
    fine = LabelImage(g, 0);
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
          const double r2 = (p[0] - centre[0]) * (p[0] - centre[0]) + (p[1] - centre[1]) * (p[1] - centre[1]) +
                            (p[2] - centre[2]) * (p[2] - centre[2]);
          fine.at(i, j, k) = r2 <= radius * radius ? 1 : 2;
        }
    atlas.name = "ball";
    atlas.regions.push_back({"ball", "", {1}, {"B"}, {}, ""});
    atlas.regions.push_back({"rest", "", {2}, {"R"}, {}, ""});
  }
};
}  // namespace

TEST(RoiExtract, FractionalWeightsAreVolumeFractionsAndStatisticsAreWeighted) {
  const int s = 3;
  const BallOnGrids b(7.0, {0.4, -0.3, 0.2}, s, 3.0, {0, 0, 0});
  roi::RoiOptions o;
  o.fractional = true;
  const auto rois = roi::make_rois(b.atlas, b.fine, b.image, o);
  ASSERT_EQ(rois.weights.size(), 2u);
  // Brute force: the share of each image voxel's s^3 label voxels that are in the ball.
  std::map<std::size_t, int> count;
  std::size_t ball_fine = 0;
  for (std::size_t k = 0; k < b.fine.geom.size[2]; ++k)
    for (std::size_t j = 0; j < b.fine.geom.size[1]; ++j)
      for (std::size_t i = 0; i < b.fine.geom.size[0]; ++i)
        if (b.fine.at(i, j, k) == 1) {
          ++count[b.image.linear_index(i / s, j / s, k / s)];
          ++ball_fine;
        }
  ASSERT_EQ(rois.voxels[0].size(), count.size());
  double wsum = 0.0;
  std::size_t partial = 0;
  for (std::size_t n = 0; n < rois.voxels[0].size(); ++n) {
    const double expected = count.at(rois.voxels[0][n]) / double(s * s * s);
    EXPECT_NEAR(rois.weights[0][n], expected, 1e-6);
    wsum += rois.weights[0][n];
    partial += expected < 1.0;
  }
  EXPECT_GT(partial, 20u);  // the boundary voxels are partial
  // Both ROIs together cover every image voxel exactly once.
  std::map<std::size_t, double> total;
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t n = 0; n < rois.voxels[r].size(); ++n) total[rois.voxels[r][n]] += rois.weights[r][n];
  EXPECT_EQ(total.size(), b.image.voxel_count());
  for (const auto& [idx, w] : total) EXPECT_NEAR(w, 1.0, 1e-6) << idx;

  // Weighted statistics against the formulas, with one NaN voxel.
  Image3D map = random_map(b.image, 11);
  map.data[rois.voxels[0][3]] = std::numeric_limits<float>::quiet_NaN();
  const auto st = roi::region_statistics(map, rois);
  std::vector<std::pair<double, double>> vw;
  for (std::size_t n = 0; n < rois.voxels[0].size(); ++n)
    if (n != 3) vw.emplace_back(map.data[rois.voxels[0][n]], rois.weights[0][n]);
  double W = 0, W2 = 0, S = 0;
  for (auto [v, w] : vw) W += w, W2 += w * w, S += w * v;
  const double mean = S / W;
  double ss = 0;
  for (auto [v, w] : vw) ss += w * (v - mean) * (v - mean);
  std::sort(vw.begin(), vw.end());
  double cum = 0, median = 0;
  for (auto [v, w] : vw)
    if ((cum += w) >= W / 2) {
      median = v;
      break;
    }
  EXPECT_EQ(st[0].voxels, vw.size());
  EXPECT_EQ(st[0].nan_voxels, 1u);
  EXPECT_NEAR(st[0].volume_mm3, W * 27.0, 1e-6 * W);
  EXPECT_NEAR(st[0].mean, mean, 1e-9);
  EXPECT_NEAR(st[0].sd, std::sqrt(ss / (W - W2 / W)), 1e-9);
  EXPECT_DOUBLE_EQ(st[0].median, median);
  // Without the NaN the volume is exactly the labelled volume.
  EXPECT_NEAR(wsum * 27.0, double(ball_fine) * 1.0, 1e-6 * double(ball_fine));

  // TACs: weighted frame means.
  DynamicImage pet;
  pet.geom = b.image;
  pet.frames.start_s = {0, 60};
  pet.frames.duration_s = {60, 60};
  pet.data.insert(pet.data.end(), map.data.begin(), map.data.end());
  for (float v : map.data) pet.data.push_back(2.0f * v + 1.0f);
  const auto tacs = roi::regional_tacs(pet, rois);
  EXPECT_NEAR(tacs.values[0][0], mean, 1e-9);
  EXPECT_NEAR(tacs.values[0][1], 2.0 * mean + 1.0, 1e-6);
}

TEST(RoiExtract, FractionalMeansDoNotJumpWithTheGridPose) {
  // A smooth map (a Gaussian blob on the ball) sampled on image grids shifted by a third of a voxel:
  // binary ROIs gain and lose whole voxels, fractional ones change smoothly. Truth: the blob's mean
  // over the ball, integrated on a 0.25 mm grid.
  const double radius = 6.0, sigma = 5.0;
  const Vec3 c{0.4, -0.3, 0.2};
  auto blob = [&](const Vec3& p) {
    const double r2 = (p[0] - c[0]) * (p[0] - c[0]) + (p[1] - c[1]) * (p[1] - c[1]) + (p[2] - c[2]) * (p[2] - c[2]);
    return std::exp(-0.5 * r2 / (sigma * sigma));
  };
  double in = 0, n = 0;
  for (double x = -radius; x <= radius; x += 0.25)
    for (double y = -radius; y <= radius; y += 0.25)
      for (double z = -radius; z <= radius; z += 0.25)
        if (x * x + y * y + z * z <= radius * radius) {
          in += blob({c[0] + x, c[1] + y, c[2] + z});
          n += 1;
        }
  const double truth = in / n;
  std::vector<double> binary, fractional;
  for (int shift = 0; shift < 3; ++shift) {
    const double d = shift * 1.0;  // 0, 1, 2 mm on a 3 mm grid
    const BallOnGrids b(radius, c, 3, 3.0, {d, 0.5 * d, -d});
    Image3D map(b.image, 0.0f);
    for (std::size_t k = 0; k < b.image.size[2]; ++k)
      for (std::size_t j = 0; j < b.image.size[1]; ++j)
        for (std::size_t i = 0; i < b.image.size[0]; ++i)
          map.at(i, j, k) = float(blob(b.image.index_to_point({double(i), double(j), double(k)})));
    roi::RoiOptions o;
    o.regions = {"ball"};
    // Binary: the labels at the image voxel centres (nearest neighbour from the fine labels).
    binary.push_back(roi::region_statistics(map, roi::make_rois(b.atlas, b.fine, b.image, o))[0].mean);
    o.fractional = true;
    fractional.push_back(roi::region_statistics(map, roi::make_rois(b.atlas, b.fine, b.image, o))[0].mean);
  }
  auto spread = [](const std::vector<double>& v) {
    return *std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end());
  };
  // The boundary voxels carry the value at their centre, partly outside the ball (the image's own
  // partial-volume effect): fractional means sit about 3 % low here, at every pose.
  for (double f : fractional) EXPECT_NEAR(f, truth, 0.04 * truth);
  EXPECT_LT(spread(fractional), 0.25 * spread(binary))
      << "fractional " << fractional[0] << " " << fractional[1] << " " << fractional[2] << "; binary " << binary[0]
      << " " << binary[1] << " " << binary[2];
}

TEST(RoiExtract, FractionalNeedsFinerLabelsAndEqualsBinaryOnTheSameGrid) {
  Tiny t;
  roi::RoiOptions o;
  o.fractional = true;
  // Same grid: every weight would be 1, so the ROI stays binary.
  const auto same = roi::make_rois(t.atlas, t.labels, t.labels.geom, o);
  const auto binary = roi::make_rois(t.atlas, t.labels, t.labels.geom);
  for (std::size_t r = 0; r < same.size(); ++r) {
    EXPECT_EQ(same.voxels[r], binary.voxels[r]);
    EXPECT_TRUE(same.weights[r].empty());
  }
  // Labels coarser than the image: an error that says so.
  Geometry fine = t.labels.geom;
  fine.spacing = {1, 1, 1};
  fine.size = {12, 8, 8};
  try {
    roi::make_rois(t.atlas, t.labels, fine, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least as fine"), std::string::npos) << e.what();
  }
  // Atlas-space coordinate limits apply to the label voxels: a_cut keeps z <= 2 mm (the fine label
  // label voxels with centres z = -0.5, 0.5, 1.5 of the 1 mm grid).
  LabelImage f(fine, 0);
  for (std::size_t k = 0; k < 8; ++k)
    for (std::size_t j = 0; j < 8; ++j)
      for (std::size_t i = 0; i < 12; ++i) f.at(i, j, k) = t.labels.at(i / 2, j / 2, k / 2);
  f.geom.origin = {-0.5, -0.5, -0.5};
  const auto cut = roi::make_rois(t.atlas, f, t.labels.geom, o);
  ASSERT_EQ(cut.names[3], "a_cut");
  double w = 0;
  for (float x : cut.weights[3]) w += x;
  // Slice k = 0 whole (12 voxels, weight 1), slice k = 1 half (z = 1.5 kept, 2.5 cut): 18.
  EXPECT_NEAR(w, 18.0, 1e-6);
  for (float x : cut.weights[0]) EXPECT_FLOAT_EQ(x, 1.0f);
}
