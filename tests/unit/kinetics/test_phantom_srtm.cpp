// Integration: petpipe simulate (noiseless carfentanil phantom, 4 mm, no PSF) -> petpipe srtm; BPND, R1
// and k2 against the truth maps written by the phantom module (independent implementation).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <map>
#include <tuple>
#include <vector>

#include "petpipe/core/nifti_io.hpp"
#include "petpipe/kinetics/reference.hpp"
#include "petpipe/kinetics/regional.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {
int sh(const std::string& args, std::string* out) {
  const char* exe = std::getenv("PETPIPE_EXE");
  if (!exe) return -1;
  FILE* p = popen((std::string(exe) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) *out += buf;
  const int st = p ? pclose(p) : -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

TEST(PhantomSrtm, NoiselessCarfentanilPhantomRecoversTruth) {
  const fs::path dir = fs::temp_directory_path() / ("petpipe_phantom_srtm_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string log;
  const int rc = sh("simulate --out " + (dir / "bids").string() + " --voxel-size 4 --psf-fwhm 0 --no-t1 --seed 3", &log);
  if (rc != 0 && log.find("unknown command") != std::string::npos) GTEST_SKIP() << "petpipe built without simulate";
  ASSERT_EQ(rc, 0) << log;
  const fs::path truth = dir / "bids/derivatives/truth/sub-01";
  const std::string t = (truth / "sub-01_trc-carfentanil_").string();
  const int rs = sh("srtm --pet " + (dir / "bids/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz").string() +
                        " --ref-mask " + t + "label-occipital_mask.nii.gz --out " + (dir / "out").string(),
                    &log);
  ASSERT_EQ(rs, 0) << log;
  const std::string o = (dir / "out/sub-01_trc-carfentanil_model-SRTM_").string();
  const auto bp = read_image(t + "meas-BPND_mimap.nii.gz"), r1 = read_image(t + "meas-R1_mimap.nii.gz"),
             k2 = read_image(t + "meas-k2_mimap.nii.gz");
  const auto ebp = read_image(o + "meas-BPND_mimap.nii.gz"), er1 = read_image(o + "meas-R1_mimap.nii.gz"),
             ek2 = read_image(o + "meas-k2_mimap.nii.gz");
  const auto fit = read_mask(o + "desc-fit_mask.nii.gz");
  const auto edge = read_mask(o + "desc-gridedge_mask.nii.gz");
  ASSERT_EQ(bp.data.size(), ebp.data.size());
  const double lambda = std::log(2.0) / 20.364;  // C-11, per minute
  std::size_t n = 0;
  double worst_bp = 0, worst_r1 = 0, worst_k2 = 0;
  for (std::size_t v = 0; v < bp.data.size(); ++v) {
    if (!fit.data[v] || r1.data[v] < 0.05) continue;
    const double k2a = k2.data[v] / (1 + bp.data[v]);
    // outside the carfentanil grid (theta3 0.06-0.6 /min including lambda): must be flagged
    if (k2a < 0.06 - lambda - 1e-4 || k2a > 0.6 - lambda + 1e-4) {
      EXPECT_EQ(edge.data[v], 1) << v;
      continue;
    }
    if (bp.data[v] < 0.2 || bp.data[v] > 5 || k2a < 0.06 * 1.01 - lambda) continue;
    ++n;
    worst_bp = std::max(worst_bp, std::abs(double(ebp.data[v]) / bp.data[v] - 1));
    worst_r1 = std::max(worst_r1, std::abs(double(er1.data[v]) / r1.data[v] - 1));
    worst_k2 = std::max(worst_k2, std::abs(double(ek2.data[v]) / k2.data[v] - 1));
  }
  std::printf("phantom (noiseless, 4 mm): %zu voxels, worst relative error BPND %.3g, R1 %.3g, k2 %.3g\n", n,
              worst_bp, worst_r1, worst_k2);
  EXPECT_GT(n, 1000u);
  EXPECT_LT(worst_bp, 0.005);
  EXPECT_LT(worst_r1, 0.01);
  EXPECT_LT(worst_k2, 0.01);
  fs::remove_all(dir);
}

TEST(PhantomSrtm, NoisyPhantomRegionalMeansAndNlls) {
  // --noise 0.3 at 4 mm (coefficient of variation of a voxel's last frame 16-29 %): regional means of the
  // voxelwise BFM BPND against the truth (bias < 2 % for regions with BPND >= 0.5), and against a
  // regional NLLS fit of the region's mean TAC (within 3 %).
  const fs::path dir = fs::temp_directory_path() / ("petpipe_phantom_noisy_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string log;
  const int rc = sh("simulate --out " + (dir / "bids").string() +
                        " --voxel-size 4 --psf-fwhm 0 --no-t1 --seed 1 --noise 0.3 --quiet", &log);
  if (rc != 0 && log.find("unknown command") != std::string::npos) GTEST_SKIP() << "petpipe built without simulate";
  ASSERT_EQ(rc, 0) << log;
  const std::string t = (dir / "bids/derivatives/truth/sub-01/sub-01_trc-carfentanil_").string();
  const fs::path pet_path = dir / "bids/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz";
  ASSERT_EQ(sh("srtm --quiet --pet " + pet_path.string() + " --ref-mask " + t + "label-occipital_mask.nii.gz --out " +
                   (dir / "out").string(), &log), 0) << log;
  const std::string o = (dir / "out/sub-01_trc-carfentanil_model-SRTM_").string();
  const auto bp = read_image(t + "meas-BPND_mimap.nii.gz"), r1 = read_image(t + "meas-R1_mimap.nii.gz"),
             k2 = read_image(t + "meas-k2_mimap.nii.gz"), ebp = read_image(o + "meas-BPND_mimap.nii.gz");
  const auto fit = read_mask(o + "desc-fit_mask.nii.gz");
  const DynamicImage pet = read_dynamic(pet_path);
  const auto ref = kinetics::region_tac(pet, read_mask(t + "label-occipital_mask.nii.gz")).values;
  // Regions: voxels sharing the truth (BPND, k2, R1).
  std::map<std::tuple<long, long, long>, std::vector<std::size_t>> regions;
  for (std::size_t v = 0; v < bp.data.size(); ++v)
    if (fit.data[v] && bp.data[v] >= 0.5)
      regions[{std::lround(bp.data[v] * 1000), std::lround(k2.data[v] * 1000), std::lround(r1.data[v] * 100)}].push_back(v);
  const auto ft = kinetics::FrameTimes::from(pet.frames);
  kinetics::NllsOptions no;
  no.weights = kinetics::frame_weights(kinetics::WeightScheme::duration, pet.frames);
  int tested = 0;
  for (const auto& [key, vox] : regions) {
    if (vox.size() < 200) continue;
    const double truth = bp.data[vox[0]];
    double mean = 0;
    std::vector<double> tac(pet.frame_count(), 0.0);
    for (std::size_t v : vox) {
      mean += ebp.data[v] / vox.size();
      for (std::size_t f = 0; f < tac.size(); ++f) tac[f] += pet.frame(f)[v] / double(vox.size());
    }
    const auto nl = kinetics::srtm_nlls(ft, ref, tac, no);
    std::printf("region BPND %.2f (%zu voxels): BFM mean %.4f (%+.2f %%), NLLS of mean TAC %.4f (%+.2f %%)\n", truth,
                vox.size(), mean, 100 * (mean / truth - 1), nl.bpnd, 100 * (nl.bpnd / truth - 1));
    EXPECT_NEAR(mean, truth, 0.02 * truth);
    EXPECT_NEAR(nl.bpnd, truth, 0.02 * truth);
    EXPECT_NEAR(mean, nl.bpnd, 0.03 * nl.bpnd);
    ++tested;
  }
  EXPECT_GE(tested, 8);
  fs::remove_all(dir);
}
