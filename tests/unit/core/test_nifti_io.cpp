// NIfTI + PET-BIDS sidecar I/O: round trips (oblique and flipped), unit conversion, and every bad input
// of the foundation issue.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "test_util.hpp"

using namespace petpipe;
namespace fs = std::filesystem;

namespace {

Geometry oblique_geometry() {
  Geometry g;
  g.size = {7, 6, 5};
  g.spacing = {2.0, 2.5, 3.25};
  g.origin = {-90.125, 126.5, -72.375};
  // A rotation of 20 deg about z then 10 deg about x, with the first axis flipped (RAS-like storage).
  const double a = 20 * M_PI / 180, b = 10 * M_PI / 180;
  const double rz[9] = {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  const double rx[9] = {1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b)};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += rz[3 * r + k] * rx[3 * k + c];
      g.direction[3 * r + c] = (c == 0 ? -s : s);
    }
  return g;
}

DynamicImage make_dynamic(const Geometry& g, std::size_t frames) {
  DynamicImage d;
  d.geom = g;
  d.data.resize(g.voxel_count() * frames);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-5.0f, 100.0f);
  for (auto& v : d.data) v = u(rng);
  for (std::size_t f = 0; f < frames; ++f) {
    d.frames.start_s.push_back(f * 60.0);
    d.frames.duration_s.push_back(60.0);
  }
  d.frames.tracer = "carfentanil";
  d.frames.radionuclide = "C11";
  d.frames.half_life_s = 1221.84;
  d.frames.decay_corrected = true;
  return d;
}

void expect_same_geometry(const Geometry& a, const Geometry& b) {
  EXPECT_EQ(a.size, b.size);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], 1e-6);
    EXPECT_NEAR(a.origin[i], b.origin[i], 1e-6 * std::max(1.0, std::abs(a.origin[i])));
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.direction[i], b.direction[i], 1e-6);
}

nlohmann::json sidecar(std::size_t frames) {
  nlohmann::json j;
  std::vector<double> s, d;
  for (std::size_t f = 0; f < frames; ++f) {
    s.push_back(60.0 * f);
    d.push_back(60.0);
  }
  j["FrameTimesStart"] = s;
  j["FrameDuration"] = d;
  j["Units"] = "Bq/mL";
  j["TracerName"] = "carfentanil";
  j["TracerRadionuclide"] = "C11";
  j["ImageDecayCorrected"] = true;
  j["ImageDecayCorrectionTime"] = 0;
  return j;
}

// Writes a 4D image (values 1000 Bq/mL) with a sidecar; returns the image path.
fs::path write_pet(const fs::path& dir, std::size_t frames, const nlohmann::json& j) {
  Geometry g;
  g.size = {4, 4, 3};
  DynamicImage d = make_dynamic(g, frames);
  std::fill(d.data.begin(), d.data.end(), 1000.0f);
  const fs::path p = dir / "sub-01_trc-carfentanil_pet.nii.gz";
  write_dynamic(p, d, false);
  write_json(sidecar_path(p), j);
  return p;
}

void expect_read_error(const fs::path& pet, const std::string& fragment) {
  try {
    read_dynamic(pet);
    FAIL() << "no error, expected: " << fragment;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(pet.filename().string().substr(0, 6)), std::string::npos) << m;  // names the file
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
  }
}

}  // namespace

TEST(NiftiIO, DynamicRoundTripKeepsObliqueGeometryAndDataExactly) {
  const auto dir = test::fresh_dir("rt4d");
  const auto d = make_dynamic(oblique_geometry(), 3);
  const fs::path p = dir / "sub-01_pet.nii.gz";
  write_dynamic(p, d);
  ASSERT_TRUE(fs::exists(sidecar_path(p)));
  const auto back = read_dynamic(p);
  expect_same_geometry(d.geom, back.geom);
  ASSERT_EQ(back.data.size(), d.data.size());
  for (std::size_t i = 0; i < d.data.size(); ++i) ASSERT_EQ(back.data[i], d.data[i]) << i;
  EXPECT_EQ(back.frames.start_s, d.frames.start_s);
  EXPECT_EQ(back.frames.duration_s, d.frames.duration_s);
  EXPECT_EQ(back.frames.radionuclide, "C11");
  EXPECT_TRUE(back.geom.is_oblique());
  // and once more, through the file written from what was read
  write_dynamic(dir / "again.nii", back);
  const auto again = read_dynamic(dir / "again.nii");
  expect_same_geometry(d.geom, again.geom);
  EXPECT_EQ(again.data, d.data);
}

TEST(NiftiIO, VolumeRoundTripsForRasLpsAndObliqueStorage) {
  const auto dir = test::fresh_dir("rt3d");
  std::vector<Geometry> geoms(3);
  geoms[0].size = {5, 4, 3};
  geoms[0].direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};  // NIfTI RAS storage as ITK sees it
  geoms[0].origin = {90, 126, -72};
  geoms[1].size = {5, 4, 3};
  geoms[1].spacing = {1.22, 1.22, 1.5};  // LPS storage, anisotropic
  geoms[1].origin = {-10.5, 20.25, 30};
  geoms[2] = oblique_geometry();
  int n = 0;
  for (const auto& g : geoms) {
    Image3D im(g);
    for (std::size_t i = 0; i < im.data.size(); ++i) im.data[i] = 0.5f * i - 3.0f;
    const fs::path p = dir / ("im" + std::to_string(n++) + ".nii.gz");
    write_image(p, im);
    const auto back = read_image(p);
    expect_same_geometry(g, back.geom);
    EXPECT_EQ(back.data, im.data);
    const auto info = read_image_info(p);
    EXPECT_EQ(info.dimension, 3u);
    expect_same_geometry(g, info.geom);
  }
  EXPECT_EQ(geoms[0].orientation_code(), "RAS");
  EXPECT_EQ(geoms[1].orientation_code(), "LPS");

  LabelImage labels(geoms[0]);
  for (std::size_t i = 0; i < labels.data.size(); ++i) labels.data[i] = static_cast<int>(i % 117);
  write_labels(dir / "labels.nii.gz", labels);
  EXPECT_EQ(read_labels(dir / "labels.nii.gz").data, labels.data);
  Image3D frac(geoms[0], 1.5f);
  write_image(dir / "frac.nii.gz", frac);
  EXPECT_THROW(read_labels(dir / "frac.nii.gz"), Error);
}

TEST(NiftiIO, PointIndexMappingIsInverse) {
  const auto g = oblique_geometry();
  const Vec3 idx{1.5, 2.25, 3.75};
  const auto back = g.point_to_index(g.index_to_point(idx));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(back[i], idx[i], 1e-12);
}

TEST(NiftiIO, ReadsAalAtlasGeometry) {
  const auto info = read_image_info("/usr/share/mricron/templates/aal.nii.gz");
  EXPECT_EQ(info.dimension, 3u);
  EXPECT_EQ(info.geom.size, (std::array<std::size_t, 3>{181, 217, 181}));
  EXPECT_EQ(info.geom.orientation_code(), "RAS");
  // RAS origin (-90, -126 + 1, -72 + 1) as nibabel reports it
  const Vec3 ras = to_ras(info.geom.origin);
  EXPECT_NEAR(ras[0], -90, 1e-6);
  EXPECT_NEAR(ras[1], -125, 1e-6);
  EXPECT_NEAR(ras[2], -71, 1e-6);
}

TEST(PetSidecar, UnitsAreConvertedAndLegacyNamesAccepted) {
  const auto dir = test::fresh_dir("units");
  auto j = sidecar(2);
  const auto p = write_pet(dir, 2, j);
  auto d = read_dynamic(p);
  EXPECT_FLOAT_EQ(d.data[0], 1.0f);  // 1000 Bq/mL = 1 kBq/mL
  EXPECT_EQ(d.frames.units, "kBq/mL");
  j["Units"] = "nCi/mL";
  write_json(sidecar_path(p), j);
  EXPECT_FLOAT_EQ(read_dynamic(p).data[0], 37.0f);
  // dcm2niix legacy spellings
  j.erase("FrameTimesStart");
  j["FrameTimeStart"] = {0, 60};
  j["DecayFactor"] = {1.02, 1.08};
  j["Units"] = "BQML";
  write_json(sidecar_path(p), j);
  d = read_dynamic(p);
  EXPECT_EQ(d.frames.start_s, (std::vector<double>{0, 60}));
  EXPECT_EQ(d.frames.decay_correction_factor, (std::vector<double>{1.02, 1.08}));
  // InjectionStart shifts frame times to be relative to the injection
  j["InjectionStart"] = 30;
  write_json(sidecar_path(p), j);
  d = read_dynamic(p);
  EXPECT_EQ(d.frames.start_s, (std::vector<double>{-30, 30}));
  EXPECT_DOUBLE_EQ(d.frames.decay_reference_s, -30);
}

TEST(PetSidecar, BadInputsGiveOneLineErrorsNamingTheFile) {
  const auto dir = test::fresh_dir("bad");
  // missing file
  expect_read_error(dir / "sub-99_pet.nii.gz", "not found");
  // missing sidecar
  {
    const auto p = write_pet(dir, 2, sidecar(2));
    fs::remove(sidecar_path(p));
    expect_read_error(p, "sidecar");
  }
  // frame count != dim[4]
  {
    const auto p = write_pet(dir, 3, sidecar(2));
    expect_read_error(p, "sidecar lists 2 frames but the image has 3");
  }
  // non-increasing starts, overlapping frames, zero and negative durations, unknown units
  {
    auto j = sidecar(3);
    j["FrameTimesStart"] = {0, 120, 60};
    expect_read_error(write_pet(dir, 3, j), "not increasing");
    j["FrameTimesStart"] = {0, 30, 90};
    expect_read_error(write_pet(dir, 3, j), "overlap");
    j = sidecar(3);
    j["FrameDuration"] = {60, 0, 60};
    expect_read_error(write_pet(dir, 3, j), "zero or negative duration");
    j["FrameDuration"] = {60, -60, 60};
    expect_read_error(write_pet(dir, 3, j), "zero or negative duration");
    j = sidecar(3);
    j["Units"] = "furlongs";
    expect_read_error(write_pet(dir, 3, j), "unknown activity units");
    j = sidecar(3);
    j.erase("Units");
    expect_read_error(write_pet(dir, 3, j), "no Units");
    j = sidecar(3);
    j["TracerRadionuclide"] = "Kr99";
    expect_read_error(write_pet(dir, 3, j), "unknown TracerRadionuclide");
    j = sidecar(3);
    j.erase("ImageDecayCorrected");
    expect_read_error(write_pet(dir, 3, j), "ImageDecayCorrected");
  }
  // invalid JSON
  {
    const auto p = write_pet(dir, 2, sidecar(2));
    write_text(sidecar_path(p), "{\"FrameTimesStart\": [0, 60,");
    expect_read_error(p, "invalid JSON");
  }
  // a frame of NaNs
  {
    Geometry g;
    g.size = {3, 3, 3};
    auto d = make_dynamic(g, 3);
    std::fill(d.frame(1), d.frame(1) + g.voxel_count(), NAN);
    const fs::path p = dir / "sub-02_pet.nii.gz";
    write_dynamic(p, d);
    expect_read_error(p, "frame 2 of 3 is entirely NaN");
    ReadDynamicOptions o;
    o.allow_nan_frames = true;
    EXPECT_NO_THROW(read_dynamic(p, o));
  }
  // a 3D file where 4D is needed
  {
    Geometry g;
    g.size = {3, 3, 3};
    const fs::path p = dir / "sub-03_pet.nii.gz";
    write_image(p, Image3D(g, 1.0f));
    write_json(sidecar_path(p), sidecar(1));
    expect_read_error(p, "3D image; a 4D dynamic PET image is needed");
  }
}

TEST(PetSidecar, TruncatedAndCorruptFilesAreRejected) {
  const auto dir = test::fresh_dir("corrupt");
  Geometry g;
  g.size = {16, 16, 12};
  auto d = make_dynamic(g, 4);
  const fs::path p = dir / "sub-01_pet.nii.gz";
  write_dynamic(p, d);
  const auto full = fs::file_size(p);
  fs::resize_file(p, full / 2);
  expect_read_error(p, "cannot read image");
  // random bytes under a NIfTI name
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    std::mt19937 rng(3);
    for (int i = 0; i < 5000; ++i) out.put(static_cast<char>(rng() & 0xff));
  }
  try {
    read_dynamic(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sub-01_pet.nii.gz"), std::string::npos) << e.what();
  }
  // an uncompressed .nii cut inside the voxel data
  const fs::path q = dir / "sub-02_pet.nii";
  write_dynamic(q, d);
  fs::resize_file(q, fs::file_size(q) - 100);
  expect_read_error(q, "cannot read image");
}

TEST(Writers, FailedWritesLeaveNothingBehind) {
  const auto dir = test::fresh_dir("atomic");
  Geometry g;
  g.size = {3, 3, 3};
  Image3D bad(g);
  bad.data.resize(5);  // inconsistent with geometry
  EXPECT_THROW(write_image(dir / "x.nii.gz", bad), Error);
  EXPECT_THROW(write_image(dir / "x.png", Image3D(g)), Error);
  DynamicImage d = make_dynamic(g, 2);
  d.data.resize(3);
  EXPECT_THROW(write_dynamic(dir / "y.nii.gz", d), Error);
  EXPECT_EQ(test::file_count(dir), 0u);
}

TEST(NiftiIO, OneFrameDynamicImageRoundTrips) {
  const auto dir = test::fresh_dir("oneframe");
  Geometry g;
  g.size = {4, 3, 2};
  const auto d = make_dynamic(g, 1);
  write_dynamic(dir / "sub-01_pet.nii.gz", d);
  const auto back = read_dynamic(dir / "sub-01_pet.nii.gz");
  EXPECT_EQ(back.frame_count(), 1u);
  EXPECT_EQ(back.data, d.data);
}
