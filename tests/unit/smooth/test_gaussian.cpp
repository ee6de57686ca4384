// Gaussian smoothing against scipy.ndimage (Debian python3-scipy, tests only), analytic point-source
// widths and NaN handling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <unistd.h>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/smooth/gaussian.hpp"

namespace fs = std::filesystem;
using namespace petpipe;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("petpipe_test_smooth_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Runs a Python script with Debian's interpreter (numpy, scipy, nibabel) and returns its stdout.
std::string run_python(const fs::path& dir, const std::string& script) {
  const fs::path py = dir / "check.py";
  std::ofstream(py) << script;
  const std::string cmd = "/usr/bin/python3 " + py.string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  if (rc != 0) out = "python failed (" + std::to_string(rc) + "): " + out;
  return out;
}

Image3D random_image(const Geometry& g, unsigned seed) {
  Image3D img(g);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(1.0f, 2.0f);
  // Positive noise plus a smooth blob, so relative errors are well defined.
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double dx = double(i) - g.size[0] / 2.0, dy = double(j) - g.size[1] / 3.0,
                     dz = double(k) - g.size[2] / 2.0;
        img.at(i, j, k) = u(rng) + 3.0f * float(std::exp(-(dx * dx + dy * dy + dz * dz) / 50.0));
      }
  return img;
}

Geometry grid(std::size_t nx, std::size_t ny, std::size_t nz, Vec3 spacing) {
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacing = spacing;
  g.origin = {-10.0, 20.0, -5.0};
  return g;
}

// Python: smooths in.nii.gz with scipy.ndimage.gaussian_filter (mode reflect, truncate 4) and compares
// with out.nii.gz over the interior; also compares the whole image with an independent normalised
// convolution (zero padding, numerator / denominator). Prints "interior <maxrel> full <maxrel>".
std::string compare_with_scipy(const fs::path& dir, const Vec3& fwhm) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "fwhm = np.array([%.10g, %.10g, %.10g])\n", fwhm[0], fwhm[1], fwhm[2]);
  const std::string script = std::string(
      "import numpy as np, nibabel as nib\n"
      "from scipy import ndimage\n") + buf +
      "d = '" + dir.string() + "/'\n"
      "x = nib.load(d + 'in.nii.gz')\n"
      "y = np.asarray(nib.load(d + 'out.nii.gz').dataobj, dtype=np.float64)\n"
      "a = np.asarray(x.dataobj, dtype=np.float64)\n"
      "vox = np.sqrt((x.affine[:3, :3] ** 2).sum(axis=0))\n"
      "sigma = fwhm / (2 * np.sqrt(2 * np.log(2))) / vox\n"
      "ref = ndimage.gaussian_filter(a, sigma, mode='reflect', truncate=4.0)\n"
      "r = [int(4.0 * s + 0.5) for s in sigma]\n"
      "sl = tuple(slice(ri, n - ri) for ri, n in zip(r, a.shape))\n"
      "assert all(s.stop - s.start > 2 for s in sl), 'interior too small'\n"
      "interior = np.nanmax(np.abs(y[sl] - ref[sl]) / np.abs(ref[sl])) if np.isfinite(a).all() else -1.0\n"
      "fin = np.isfinite(a)\n"
      "num = ndimage.gaussian_filter(np.where(fin, a, 0.0), sigma, mode='constant', truncate=4.0)\n"
      "den = ndimage.gaussian_filter(fin.astype(np.float64), sigma, mode='constant', truncate=4.0)\n"
      "full = np.where(fin, num / den, np.nan)\n"
      "same_nan = bool(np.array_equal(np.isnan(full), np.isnan(y)))\n"
      "m = np.isfinite(full)\n"
      "fullrel = np.max(np.abs(y[m] - full[m]) / np.abs(full[m]))\n"
      "print('interior %.3e full %.3e nan_pattern %d' % (interior, fullrel, same_nan))\n";
  return run_python(dir, script);
}

void expect_matches_scipy(const std::string& out, double tol) {
  double interior = 1, full = 1;
  int same_nan = 0;
  const std::size_t at = out.rfind("interior ");
  ASSERT_NE(at, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "interior %lf full %lf nan_pattern %d", &interior, &full, &same_nan), 3)
      << out;
  EXPECT_LT(interior, tol) << out;
  EXPECT_LT(full, tol) << out;
  EXPECT_EQ(same_nan, 1) << out;
}

}  // namespace

TEST(Gaussian, MatchesScipyIsotropic) {
  const fs::path dir = temp_dir("iso");
  const Image3D img = random_image(grid(40, 36, 34, {2.0, 2.0, 2.0}), 1);
  write_image(dir / "in.nii.gz", img);
  const Image3D out = smooth::gaussian(img, smooth::Options::isotropic(8.0));
  write_image(dir / "out.nii.gz", out);
  expect_matches_scipy(compare_with_scipy(dir, {8, 8, 8}), 1e-4);
  fs::remove_all(dir);
}

TEST(Gaussian, MatchesScipyAnisotropicVoxelsAndKernel) {
  const fs::path dir = temp_dir("aniso");
  Geometry g = grid(44, 30, 26, {1.25, 2.0, 3.0});
  const Image3D img = random_image(g, 2);
  write_image(dir / "in.nii.gz", img);
  smooth::Options o = smooth::Options::isotropic(8.0);
  write_image(dir / "out.nii.gz", smooth::gaussian(img, o));
  expect_matches_scipy(compare_with_scipy(dir, {8, 8, 8}), 1e-4);

  o.fwhm_mm = {5.0, 7.0, 12.0};  // different FWHM per axis
  write_image(dir / "out.nii.gz", smooth::gaussian(img, o));
  expect_matches_scipy(compare_with_scipy(dir, o.fwhm_mm), 1e-4);
  fs::remove_all(dir);
}

TEST(Gaussian, NanAwareMatchesIndependentNormalisedConvolution) {
  const fs::path dir = temp_dir("nan");
  Image3D img = random_image(grid(30, 28, 24, {2.0, 2.0, 2.5}), 3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // A NaN slab outside the "brain", a NaN hole inside, and an isolated NaN voxel.
  for (std::size_t k = 0; k < 24; ++k)
    for (std::size_t j = 0; j < 28; ++j)
      for (std::size_t i = 0; i < 4; ++i) img.at(i, j, k) = nan;
  for (std::size_t k = 10; k < 13; ++k)
    for (std::size_t j = 12; j < 15; ++j)
      for (std::size_t i = 14; i < 17; ++i) img.at(i, j, k) = nan;
  img.at(22, 5, 20) = std::numeric_limits<float>::infinity();
  write_image(dir / "in.nii.gz", img);
  const Image3D out = smooth::gaussian(img, smooth::Options::isotropic(8.0));
  write_image(dir / "out.nii.gz", out);

  // NaNs stay exactly where they were; every finite voxel stays finite.
  for (std::size_t i = 0; i < img.data.size(); ++i)
    EXPECT_EQ(std::isfinite(img.data[i]), std::isfinite(out.data[i])) << "voxel " << i;
  // Compared with scipy only over the full-image normalised convolution (the interior test does not
  // apply near NaNs): run the script and read the "full" figure.
  const std::string res = compare_with_scipy(dir, {8, 8, 8});
  double interior = 0, full = 1;
  int same_nan = 0;
  const std::size_t at = res.rfind("interior ");
  ASSERT_NE(at, std::string::npos) << res;
  ASSERT_EQ(std::sscanf(res.c_str() + at, "interior %lf full %lf nan_pattern %d", &interior, &full, &same_nan), 3)
      << res;
  EXPECT_LT(full, 1e-4) << res;
  EXPECT_EQ(same_nan, 1) << "NaN (and the Inf voxel) must be NaN exactly where the check has NaN: " << res;
  fs::remove_all(dir);
}

TEST(Gaussian, ConstantImageStaysConstantUpToEdgesAndAroundNans) {
  Image3D img(grid(20, 18, 16, {2.0, 3.0, 1.5}), 5.0f);
  img.at(10, 9, 8) = std::numeric_limits<float>::quiet_NaN();
  img.at(0, 0, 0) = std::numeric_limits<float>::quiet_NaN();
  const Image3D out = smooth::gaussian(img, smooth::Options::isotropic(10.0));
  for (std::size_t i = 0; i < out.data.size(); ++i) {
    if (std::isnan(img.data[i])) {
      EXPECT_TRUE(std::isnan(out.data[i]));
    } else {
      EXPECT_NEAR(out.data[i], 5.0f, 5e-6f) << "voxel " << i;
    }
  }
}

TEST(Gaussian, NanSpreadsWhenNotNanAware) {
  Image3D img(grid(16, 16, 16, {2.0, 2.0, 2.0}), 1.0f);
  img.at(8, 8, 8) = std::numeric_limits<float>::quiet_NaN();
  smooth::Options o = smooth::Options::isotropic(6.0);
  o.nan_aware = false;
  const Image3D out = smooth::gaussian(img, o);
  EXPECT_TRUE(std::isnan(out.at(9, 8, 8)));
  EXPECT_TRUE(std::isnan(out.at(8, 10, 7)));
  EXPECT_FALSE(std::isnan(out.at(0, 0, 0)));  // outside the kernel support
}

namespace {
// Covariance (mm^2, physical LPS axes) of a non-negative image treated as a distribution.
std::array<double, 9> physical_covariance(const Image3D& img) {
  double sw = 0;
  Vec3 mean{0, 0, 0};
  const auto& g = img.geom;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double w = img.at(i, j, k);
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        sw += w;
        for (int a = 0; a < 3; ++a) mean[a] += w * p[a];
      }
  for (int a = 0; a < 3; ++a) mean[a] /= sw;
  std::array<double, 9> c{};
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double w = img.at(i, j, k) / sw;
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) c[3 * a + b] += w * (p[a] - mean[a]) * (p[b] - mean[b]);
      }
  return c;
}

// FWHM (in voxels) of a 1D profile from the half-maximum crossings (linear interpolation).
double half_max_width(const std::vector<double>& f) {
  std::size_t peak = 0;
  for (std::size_t i = 1; i < f.size(); ++i)
    if (f[i] > f[peak]) peak = i;
  const double h = f[peak] / 2;
  std::size_t l = peak, r = peak;
  while (l > 0 && f[l - 1] > h) --l;
  while (r + 1 < f.size() && f[r + 1] > h) ++r;
  const double left = double(l) - (f[l] - h) / (f[l] - f[l - 1]);
  const double right = double(r) + (f[r] - h) / (f[r] - f[r + 1]);
  return right - left;
}
}  // namespace

TEST(Gaussian, PointSourceFwhmEqualsRequested) {
  // Anisotropic voxels on an oblique grid: the smoothed point source must be an isotropic Gaussian in
  // physical space with the requested FWHM.
  Geometry g = grid(61, 45, 37, {1.0, 1.5, 2.0});
  const double c = std::cos(0.3), s = std::sin(0.3), c2 = std::cos(0.2), s2 = std::sin(0.2);
  // Rz(0.3) * Rx(0.2), orthonormal.
  g.direction = {c, -s * c2, s * s2, s, c * c2, -c * s2, 0, s2, c2};
  ASSERT_TRUE(g.is_oblique());
  Image3D img(g, 0.0f);
  img.at(30, 22, 18) = 1000.0f;
  const double fwhm = 8.0;
  const Image3D out = smooth::gaussian(img, smooth::Options::isotropic(fwhm));

  const auto cov = physical_covariance(out);
  const double sigma = smooth::fwhm_to_sigma(fwhm);
  for (int a = 0; a < 3; ++a) {
    const double measured_fwhm = std::sqrt(cov[4 * a]) * 2.0 * std::sqrt(2.0 * std::log(2.0));
    EXPECT_NEAR(measured_fwhm / fwhm, 1.0, 0.02) << "physical axis " << a;
    for (int b = 0; b < 3; ++b) {
      if (a != b) {
        EXPECT_LT(std::abs(cov[3 * a + b]) / (sigma * sigma), 0.02) << a << "," << b;
      }
    }
  }
  // Half-maximum width of the profile through the peak along each voxel axis.
  std::vector<double> px, py, pz;
  for (std::size_t i = 0; i < 61; ++i) px.push_back(out.at(i, 22, 18));
  for (std::size_t j = 0; j < 45; ++j) py.push_back(out.at(30, j, 18));
  for (std::size_t k = 0; k < 37; ++k) pz.push_back(out.at(30, 22, k));
  EXPECT_NEAR(half_max_width(px) * 1.0 / fwhm, 1.0, 0.02);
  EXPECT_NEAR(half_max_width(py) * 1.5 / fwhm, 1.0, 0.02);
  EXPECT_NEAR(half_max_width(pz) * 2.0 / fwhm, 1.0, 0.02);
  // Mass is conserved away from the edges.
  double total = 0;
  for (float v : out.data) total += v;
  EXPECT_NEAR(total, 1000.0, 1e-2);
}

TEST(Gaussian, FramesAreSmoothedIndependently) {
  DynamicImage d;
  d.geom = grid(14, 12, 10, {2.0, 2.0, 2.0});
  const std::size_t n = d.geom.voxel_count();
  d.frames.start_s = {0, 60, 120};
  d.frames.duration_s = {60, 60, 60};
  std::vector<Image3D> frames;
  for (unsigned f = 0; f < 3; ++f) {
    frames.push_back(random_image(d.geom, 10 + f));
    d.data.insert(d.data.end(), frames.back().data.begin(), frames.back().data.end());
  }
  d.data[n + 5] = std::numeric_limits<float>::quiet_NaN();  // NaN in frame 1 only
  frames[1].data[5] = std::numeric_limits<float>::quiet_NaN();
  const auto o = smooth::Options::isotropic(6.0);
  smooth::gaussian_frames(d, o);
  for (unsigned f = 0; f < 3; ++f) {
    const Image3D ref = smooth::gaussian(frames[f], o);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(ref.data[i])) {
        EXPECT_TRUE(std::isnan(d.frame(f)[i]));
      } else {
        EXPECT_FLOAT_EQ(d.frame(f)[i], ref.data[i]);
      }
    }
  }
  EXPECT_TRUE(std::isnan(d.frame(1)[5]));
  EXPECT_FALSE(std::isnan(d.frame(0)[5]));
}

TEST(Gaussian, ZeroFwhmIsIdentityAndBadOptionsThrow) {
  const Image3D img = random_image(grid(8, 8, 8, {2, 2, 2}), 4);
  const Image3D same = smooth::gaussian(img, smooth::Options::isotropic(0.0));
  EXPECT_EQ(same.data, img.data);
  EXPECT_THROW(smooth::gaussian(img, smooth::Options::isotropic(-1.0)), petpipe::Error);
  EXPECT_THROW(smooth::gaussian(img, smooth::Options::isotropic(std::nan(""))), petpipe::Error);
  Image3D bad = img;
  bad.geom.spacing[1] = 0.0;
  EXPECT_THROW(smooth::gaussian(bad, smooth::Options::isotropic(8.0)), petpipe::Error);
}

TEST(Gaussian, KernelIsNormalisedWithScipyRadius) {
  const auto k = smooth::gaussian_kernel(1.7, 4.0);
  EXPECT_EQ(k.size(), 2u * 7u + 1u);  // int(4 * 1.7 + 0.5) = 7
  double sum = 0;
  for (float w : k) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_NEAR(k[7] / k[8], std::exp(0.5 / (1.7 * 1.7)), 1e-5);
}
