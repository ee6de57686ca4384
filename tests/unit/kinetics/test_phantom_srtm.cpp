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

#include "petpipe/core/nifti_io.hpp"

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
