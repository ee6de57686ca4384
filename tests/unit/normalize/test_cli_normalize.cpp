// `petpipe normalize`: a small end-to-end run with --apply round trips, and bad input (missing
// template package, images that do not overlap, missing options) with clear errors and no output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "petpipe/core/nifti_io.hpp"

using namespace test_normalize;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string output;
};

CliRun run(const std::string& args, const std::string& env = "") {
  const char* exe = std::getenv("PETPIPE_EXE");
  const std::string cmd = env + " '" + std::string(exe ? exe : "petpipe") + "' " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("petpipe_cli_normalize_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

AffineMap true_t1_to_pet() { return rigid(-4, 2, 3, {3, 4, -2}); }

// A coarse subject: the T1 is Colin27 (2 mm) moved rigidly; the PET a GM-bright image of the same
// brain on a 3 mm grid.
void make_subject(const fs::path& d, double pet_shift_mm = 0.0) {
  const Image3D head = read_image(template_dir() / "ch2.nii.gz");
  const Image3D brain = read_image(template_dir() / "ch2bet.nii.gz");
  Geometry tg = block_average(head, 2).geom;
  const AffineMap t1_to_mni = rigid(3, -2, 4, {2, -3, 1});
  write_image(d / "t1.nii.gz", resample_linear(head, tg, Transform({t1_to_mni})));
  Image3D p = brain;
  for (auto& v : p.data) v = v > 60 ? std::max(0.0f, 260.0f - v) : 0.0f;
  Geometry pg;
  pg.size = {62, 72, 58};
  pg.spacing = {3, 3, 3};
  pg.origin = {-92, -110, -75};
  // PET point -> T1 point (inverse of the true T1 -> PET map) -> MNI point
  Image3D pet = resample_linear(p, pg, Transform({true_t1_to_pet().inverse(), t1_to_mni}));
  pet.geom.origin[0] += pet_shift_mm;  // a header far from the T1's field of view
  write_image(d / "pet_mean.nii.gz", pet);
}

}  // namespace

TEST(NormalizeCli, RunsAndAppliesTransforms) {
  const fs::path d = fresh("run");
  make_subject(d);
  const CliRun r = run("normalize --pet-mean " + (d / "pet_mean.nii.gz").string() + " --t1 " + (d / "t1.nii.gz").string() +
                    " --tracer carfentanil --working-spacing 4 --out " + (d / "out").string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"transforms/pet_to_t1_rigid.txt", "transforms/t1_to_mni_affine.txt", "transforms/t1_to_mni_warp.nii.gz",
                        "transforms/t1_to_mni_inverse_warp.nii.gz", "transforms/transforms.json",
                        "t1_space-MNIColin27_T1w.nii.gz", "pet_mean_space-T1w_desc-mean_pet.nii.gz",
                        "pet_mean_seg-AAL_dseg.nii.gz", "pet_mean_seg-AAL_desc-subvoxel_dseg.nii.gz",
                        "pet_mean_desc-occipital_mask.nii.gz", "pet_mean_normalize.json"})
    EXPECT_TRUE(fs::exists(d / "out" / f)) << f;
  // The recovered PET -> T1 transform agrees with the truth used to make the PET.
  const AffineMap est = read_affine(d / "out/transforms/pet_to_t1_rigid.txt");
  const AffineMap truth = true_t1_to_pet();
  double worst = 0;
  for (double x : {-40.0, 40.0})
    for (double y : {-60.0, 30.0})
      for (double z : {-20.0, 50.0}) worst = std::max(worst, distance(est.apply({x, y, z}), truth.apply({x, y, z})));
  EXPECT_LT(worst, 1.5);

  // Forward warp to the 2 mm MNI box.
  const CliRun f = run("normalize --apply --in " + (d / "pet_mean.nii.gz").string() + " --transforms " +
                    (d / "out/transforms").string() + " --out " + (d / "pet_mni.nii.gz").string());
  ASSERT_EQ(f.code, 0) << f.output;
  const Image3D mni = read_image(d / "pet_mni.nii.gz");
  EXPECT_EQ(mni.geom.size, (std::array<std::size_t, 3>{91, 109, 91}));
  // Inverse warp of the atlas labels reproduces the native-space labels written by the run.
  const CliRun i = run("normalize --apply --inverse --labels --in " + (template_dir() / "aal.nii.gz").string() +
                    " --transforms " + (d / "out/transforms").string() + " --out " + (d / "aal_pet.nii.gz").string());
  ASSERT_EQ(i.code, 0) << i.output;
  const LabelImage a = read_labels(d / "aal_pet.nii.gz");
  const LabelImage b = read_labels(d / "out/pet_mean_seg-AAL_dseg.nii.gz");
  ASSERT_TRUE(a.geom.same_grid(b.geom));
  EXPECT_EQ(a.data, b.data);
  // The sub-voxel labels cover every labelled PET voxel with finer voxels of the same labels: each PET
  // voxel's label is among its sub-voxels' labels, and the labelled volumes agree within 5 %.
  {
    const LabelImage sv = read_labels(d / "out/pet_mean_seg-AAL_desc-subvoxel_dseg.nii.gz");
    EXPECT_LT(sv.geom.voxel_volume_mm3(), b.geom.voxel_volume_mm3() / 7.9);
    std::size_t nb = 0, ns = 0, agree = 0;
    for (std::size_t v = 0; v < b.data.size(); ++v) nb += b.data[v] != 0;
    for (std::size_t v = 0; v < sv.data.size(); ++v) {
      if (sv.data[v] == 0) continue;
      ++ns;
      const Vec3 q = b.geom.point_to_index(sv.geom.index_to_point(
          {double(v % sv.geom.size[0]), double((v / sv.geom.size[0]) % sv.geom.size[1]),
           double(v / (sv.geom.size[0] * sv.geom.size[1]))}));
      const auto idx = b.geom.linear_index(std::size_t(std::lround(q[0])), std::size_t(std::lround(q[1])),
                                           std::size_t(std::lround(q[2])));
      agree += b.data[idx] == sv.data[v];
    }
    const double vb = double(nb) * b.geom.voxel_volume_mm3(), vs = double(ns) * sv.geom.voxel_volume_mm3();
    EXPECT_NEAR(vs, vb, 0.05 * vb);
    EXPECT_GT(double(agree), 0.6 * double(ns));  // the rest are boundary sub-voxels
  }
  // --no-trim (the runner's reference.trim = false): the occipital region without the top/bottom
  // sixths, erosion and mode trimming is larger and holds the trimmed region.
  const CliRun u = run("normalize --pet-mean " + (d / "pet_mean.nii.gz").string() + " --t1 " + (d / "t1.nii.gz").string() +
                    " --tracer carfentanil --working-spacing 4 --no-trim --out " + (d / "out_untrimmed").string());
  ASSERT_EQ(u.code, 0) << u.output;
  {
    const Mask trimmed = read_mask(d / "out/pet_mean_desc-occipital_mask.nii.gz");
    const Mask untrimmed = read_mask(d / "out_untrimmed/pet_mean_desc-occipital_mask.nii.gz");
    ASSERT_TRUE(trimmed.geom.same_grid(untrimmed.geom));
    std::size_t nt = 0, nu = 0, both = 0;
    for (std::size_t v = 0; v < trimmed.data.size(); ++v) {
      nt += trimmed.data[v] != 0;
      nu += untrimmed.data[v] != 0;
      both += trimmed.data[v] && untrimmed.data[v];
    }
    std::printf("occipital reference: %zu PET voxels trimmed, %zu untrimmed, %zu in both\n", nt, nu, both);
    EXPECT_GT(nt, 20u);
    EXPECT_GT(double(nu), 1.5 * double(nt));
    EXPECT_GE(double(both), 0.97 * double(nt));
  }
  // A second run into the same directory needs --force.
  const CliRun again = run("normalize --pet-mean " + (d / "pet_mean.nii.gz").string() + " --t1 " + (d / "t1.nii.gz").string() +
                        " --out " + (d / "out").string());
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  fs::remove_all(d);
}

TEST(NormalizeCli, MissingTemplatePackageIsAClearError) {
  const fs::path d = fresh("notemplates");
  make_subject(d);
  fs::create_directories(d / "empty");
  const CliRun r = run("normalize --pet-mean " + (d / "pet_mean.nii.gz").string() + " --t1 " + (d / "t1.nii.gz").string() +
                        " --out " + (d / "out").string(),
                    "PETPIPE_TEMPLATE_DIR='" + (d / "empty").string() + "'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("mricron-data"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d / "out"));
  fs::remove_all(d);
}

TEST(NormalizeCli, NonOverlappingPetIsAClearError) {
  const fs::path d = fresh("overlap");
  make_subject(d, 3000.0);
  const CliRun r = run("normalize --pet-mean " + (d / "pet_mean.nii.gz").string() + " --t1 " + (d / "t1.nii.gz").string() +
                    " --out " + (d / "out").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("do not overlap"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pet_mean.nii.gz"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d / "out"));
  fs::remove_all(d);
}

TEST(NormalizeCli, MissingOptionsAndFiles) {
  const CliRun a = run("normalize --pet-mean x.nii.gz --out /tmp/never");
  EXPECT_NE(a.code, 0);
  EXPECT_NE(a.output.find("--t1"), std::string::npos) << a.output;
  const CliRun b = run("normalize --pet-mean /nonexistent/pet.nii.gz --t1 /nonexistent/t1.nii.gz --out /tmp/never");
  EXPECT_NE(b.code, 0);
  EXPECT_NE(b.output.find("not found"), std::string::npos) << b.output;
  const CliRun c = run("normalize --apply --in /nonexistent/x.nii.gz --transforms /nonexistent --out /tmp/never.nii.gz");
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.output.find("not found"), std::string::npos) << c.output;
  EXPECT_FALSE(fs::exists("/tmp/never"));
  // registration options are checked before any input is read
  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"--deformable syn", "--deformable: \"syn\" is not allowed (expected one of bspline, demons)"},
           {"--bspline-grid 2", "--bspline-grid: 2 is not allowed (expected a number [4, 100])"},
           {"--bspline-iterations 60,x", "--bspline-iterations 60,x: expected comma-separated counts"},
           {"--bspline-iterations 1,2,3,4", "1 to 3 non-negative counts"},
           {"--bspline-smoothness -1", "--bspline-smoothness: -1 is not allowed (expected a number >= 0)"},
           {"--bspline-image-spacing 0.1", "--bspline-image-spacing: 0.1 is not allowed (expected a number [0.5, 8])"},
           {"--demons-iterations 5,-1", "1 to 4 non-negative counts"}}) {
    const CliRun r = run("normalize --pet-mean /nonexistent/pet.nii.gz --t1 /nonexistent/t1.nii.gz --out /tmp/never " + args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.output.find(expect), std::string::npos) << args << ": " << r.output;
  }
  EXPECT_FALSE(fs::exists("/tmp/never"));
}
