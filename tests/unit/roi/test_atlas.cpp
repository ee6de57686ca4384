// Atlas definitions over the real AAL labels of Debian's mricron-data.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/roi/atlas.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {
std::size_t count(const Mask& m) {
  std::size_t n = 0;
  for (auto v : m.data) n += v;
  return n;
}
}  // namespace

TEST(Atlas, LoadsAalAndValidatesEveryLabel) {
  const auto atlas = roi::load_atlas("aal");
  EXPECT_EQ(atlas.name, "aal");
  EXPECT_EQ(atlas.label_names.size(), 116u);
  EXPECT_TRUE(fs::exists(atlas.labels_image));
  EXPECT_TRUE(fs::exists(atlas.templates.at("T1")));
  EXPECT_TRUE(fs::exists(atlas.templates.at("T1_brain")));
  // The paper's ten ROIs, bilateral and per hemisphere.
  for (const char* n : {"amygdala", "hippocampus", "ventral_striatum", "dorsal_caudate", "thalamus", "insula",
                        "ofc", "acc", "mcc", "pcc"}) {
    const auto& r = atlas.region(n);
    EXPECT_FALSE(r.label_values.empty()) << n;
    const auto& l = atlas.region(std::string(n) + "_L");
    const auto& rr = atlas.region(std::string(n) + "_R");
    EXPECT_EQ(l.label_values.size() + rr.label_values.size(), r.label_values.size()) << n;
    for (auto v : l.label_values) EXPECT_EQ(atlas.label_names.at(v).substr(atlas.label_names.at(v).size() - 2), "_L");
    for (auto v : rr.label_values) EXPECT_EQ(atlas.label_names.at(v).substr(atlas.label_names.at(v).size() - 2), "_R");
  }
  EXPECT_EQ(atlas.region("amygdala_L").label_names, std::vector<std::string>{"Amygdala_L"});
  EXPECT_FALSE(atlas.reference("occipital").region.label_names.empty());
  for (const auto& n : atlas.reference("cerebellum_gm").region.label_names) {
    EXPECT_EQ(n.find("Vermis"), std::string::npos);
    EXPECT_EQ(n.find("Cerebelum_4_5"), std::string::npos);
  }
  EXPECT_THROW(atlas.region("nucleus_nowhere"), Error);
  EXPECT_THROW(atlas.reference("nucleus_nowhere"), Error);
}

TEST(Atlas, StriatalSubdivisionsAreNonEmptyDisjointAndWhereDefined) {
  const auto atlas = roi::load_atlas("aal");
  const auto labels = read_labels(atlas.labels_image);
  const auto vs = roi::region_mask(atlas.region("ventral_striatum"), labels);
  const auto dc = roi::region_mask(atlas.region("dorsal_caudate"), labels);
  const auto caud = roi::region_mask(atlas.region("caudate"), labels);
  const std::size_t nvs = count(vs), ndc = count(dc), ncaud = count(caud);
  // 1 mm voxels: each subdivision holds a few mL, dorsal caudate a large part of the caudate.
  EXPECT_GT(nvs, 1000u);
  EXPECT_GT(ndc, 3000u);
  EXPECT_LT(ndc, ncaud);
  const auto& g = labels.geom;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const auto idx = g.linear_index(i, j, k);
        ASSERT_FALSE(vs.data[idx] && dc.data[idx]);
        if (vs.data[idx]) {
          const Vec3 ras = to_ras(g.index_to_point({double(i), double(j), double(k)}));
          ASSERT_LE(ras[2], 0.0 + 1e-9);
          ASSERT_GE(ras[1], 4.0 - 1e-9);
        }
      }
  // Left/right split is by label: the left amygdala lies at negative MNI x.
  const auto amy_l = roi::region_mask(atlas.region("amygdala_L"), labels);
  double xsum = 0;
  std::size_t n = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        if (amy_l.data[g.linear_index(i, j, k)]) {
          xsum += to_ras(g.index_to_point({double(i), double(j), double(k)}))[0];
          ++n;
        }
  ASSERT_GT(n, 0u);
  EXPECT_LT(xsum / n, -10.0);
}

TEST(Atlas, MissingTemplatePackageNamesIt) {
  const fs::path empty = fs::temp_directory_path() / "petpipe_no_templates";
  fs::create_directories(empty);
  auto where = roi::default_locations();
  where.template_dir = empty;
  try {
    roi::load_atlas("aal", where);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("aal.nii.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mricron-data"), std::string::npos) << msg;
  }
}

TEST(Atlas, UnknownLabelNameIsRejectedWithFileAndName) {
  const fs::path dir = fs::temp_directory_path() / "petpipe_bad_atlas";
  fs::create_directories(dir);
  write_text(dir / "bad.json", R"({"name": "bad", "labels_image": "aal.nii.gz", "labels_table": "aal.nii.txt",
    "rois": [{"name": "ghost", "labels": ["Hippocampus", "Nucleus_Imaginarius"]}]})");
  try {
    roi::load_atlas((dir / "bad.json").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Nucleus_Imaginarius"), std::string::npos) << msg;
  }
}

TEST(Atlas, MissingDefinitionFile) {
  EXPECT_THROW(roi::load_atlas("no_such_atlas"), Error);
}
