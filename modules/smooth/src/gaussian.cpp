#include "petpipe/smooth/gaussian.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "petpipe/core/error.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/simd.hpp"

namespace petpipe::smooth {

double fwhm_to_sigma(double fwhm_mm) { return fwhm_mm / (2.0 * std::sqrt(2.0 * std::log(2.0))); }

std::vector<float> gaussian_kernel(double sigma_vox, double truncate) {
  if (!(sigma_vox > 0.0) || !std::isfinite(sigma_vox)) return {1.0f};
  const int radius = static_cast<int>(truncate * sigma_vox + 0.5);
  std::vector<double> w(2 * radius + 1);
  double sum = 0.0;
  for (int t = -radius; t <= radius; ++t) {
    w[t + radius] = std::exp(-0.5 * double(t) * double(t) / (sigma_vox * sigma_vox));
    sum += w[t + radius];
  }
  std::vector<float> out(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) out[i] = static_cast<float>(w[i] / sum);
  return out;
}

namespace {

struct AxisKernel {
  std::vector<float> w;         // 2r+1 weights, offset -r..r
  int r = 0;
  std::vector<float> inv_mass;  // per position along the axis: 1 / (kernel mass inside the image)
};

AxisKernel make_axis_kernel(double sigma_vox, double truncate, std::size_t n) {
  AxisKernel k;
  k.w = gaussian_kernel(sigma_vox, truncate);
  k.r = static_cast<int>(k.w.size() / 2);
  k.inv_mass.resize(n);
  const long nn = static_cast<long>(n);
  for (long i = 0; i < nn; ++i) {
    double m = 0.0;
    for (long t = std::max<long>(-k.r, -i); t <= std::min<long>(k.r, nn - 1 - i); ++t) m += k.w[t + k.r];
    k.inv_mass[i] = static_cast<float>(1.0 / m);
  }
  return k;
}

// One contiguous line of n0 values: buf holds it with r zeros either side; out receives the convolution.
PETPIPE_SIMD_CLONES
void convolve_line(const float* buf, std::size_t n0, const float* w, int r, float* out) {
  std::fill(out, out + n0, 0.0f);
  for (int t = 0; t <= 2 * r; ++t) {
    const float wt = w[t];
    const float* src = buf + t;
    for (std::size_t i = 0; i < n0; ++i) out[i] += wt * src[i];
  }
}

// Along x: each line is contiguous. Zero padding outside; optionally divided by the in-image mass.
void pass_x(float* data, const std::array<std::size_t, 3>& n, const AxisKernel& k, bool normalise) {
  const std::size_t n0 = n[0], lines = n[1] * n[2];
  const int r = k.r;
  parallel_for(lines, [&](std::size_t b, std::size_t e) {
    std::vector<float> buf(n0 + 2 * r, 0.0f), out(n0);
    for (std::size_t l = b; l < e; ++l) {
      float* line = data + l * n0;
      std::copy(line, line + n0, buf.begin() + r);
      convolve_line(buf.data(), n0, k.w.data(), r, out.data());
      if (normalise)
        for (std::size_t i = 0; i < n0; ++i) line[i] = out[i] * k.inv_mass[i];
      else
        std::copy(out.begin(), out.end(), line);
    }
  }, 16);
}

// Along an outer axis: `count` rows of `row_len` contiguous floats, `stride` apart, are convolved with
// each other (row j of the output = sum_t w_t row(j+t)); inner loops run over contiguous memory.
PETPIPE_SIMD_CLONES
void convolve_rows(float* base, std::size_t count, std::size_t stride, std::size_t row_len,
                   const AxisKernel& k, bool normalise, std::vector<float>& tmp) {
  tmp.assign(count * row_len, 0.0f);
  const long nn = static_cast<long>(count);
  for (long j = 0; j < nn; ++j) {
    float* o = tmp.data() + j * row_len;
    const long t0 = std::max<long>(-k.r, -j), t1 = std::min<long>(k.r, nn - 1 - j);
    for (long t = t0; t <= t1; ++t) {
      const float wt = k.w[t + k.r];
      const float* src = base + (j + t) * stride;
      for (std::size_t i = 0; i < row_len; ++i) o[i] += wt * src[i];
    }
  }
  for (long j = 0; j < nn; ++j) {
    float* dst = base + j * stride;
    const float* o = tmp.data() + j * row_len;
    const float s = normalise ? k.inv_mass[j] : 1.0f;
    for (std::size_t i = 0; i < row_len; ++i) dst[i] = o[i] * s;
  }
}

void pass_y(float* data, const std::array<std::size_t, 3>& n, const AxisKernel& k, bool normalise) {
  const std::size_t slice = n[0] * n[1];
  parallel_for(n[2], [&](std::size_t b, std::size_t e) {
    std::vector<float> tmp;
    for (std::size_t z = b; z < e; ++z) convolve_rows(data + z * slice, n[1], n[0], n[0], k, normalise, tmp);
  });
}

void pass_z(float* data, const std::array<std::size_t, 3>& n, const AxisKernel& k, bool normalise) {
  const std::size_t slice = n[0] * n[1];
  parallel_for(n[1], [&](std::size_t b, std::size_t e) {
    std::vector<float> tmp;
    for (std::size_t y = b; y < e; ++y) convolve_rows(data + y * n[0], n[2], slice, n[0], k, normalise, tmp);
  });
}

void separable(float* data, const std::array<std::size_t, 3>& n, const std::array<AxisKernel, 3>& k,
               const std::array<bool, 3>& active, bool normalise) {
  if (active[0]) pass_x(data, n, k[0], normalise);
  if (active[1]) pass_y(data, n, k[1], normalise);
  if (active[2]) pass_z(data, n, k[2], normalise);
}

}  // namespace

void gaussian_inplace(float* data, const Geometry& g, const Options& options) {
  const auto& n = g.size;
  const std::size_t nvox = g.voxel_count();
  if (nvox == 0) return;
  std::array<AxisKernel, 3> k;
  std::array<bool, 3> active{};
  for (int a = 0; a < 3; ++a) {
    const double fwhm = options.fwhm_mm[a];
    if (!std::isfinite(fwhm) || fwhm < 0.0)
      throw make_error("smoothing: FWHM ", fwhm, " mm along axis ", a, " is not a finite value >= 0");
    if (!(g.spacing[a] > 0.0))
      throw make_error("smoothing: voxel spacing ", g.spacing[a], " mm along axis ", a, " is not positive");
    if (!(options.truncate > 0.0)) throw make_error("smoothing: truncate must be positive");
    const double sigma_vox = fwhm_to_sigma(fwhm) / g.spacing[a];
    k[a] = make_axis_kernel(sigma_vox, options.truncate, n[a]);
    active[a] = k[a].r > 0 && n[a] > 1;
  }
  if (!active[0] && !active[1] && !active[2]) return;

  bool any_nonfinite = false;
  if (options.nan_aware)
    for (std::size_t i = 0; i < nvox && !any_nonfinite; ++i) any_nonfinite = !std::isfinite(data[i]);

  if (!any_nonfinite) {
    // Separable kernel and separable in-image mass: normalise pass by pass.
    separable(data, n, k, active, true);
    return;
  }

  // Normalised convolution: numerator G*(w.x) and denominator G*w with w = 1 on finite voxels.
  std::vector<std::uint8_t> finite(nvox);
  std::vector<float> weight(nvox);
  for (std::size_t i = 0; i < nvox; ++i) {
    finite[i] = std::isfinite(data[i]) ? 1 : 0;
    weight[i] = finite[i] ? 1.0f : 0.0f;
    if (!finite[i]) data[i] = 0.0f;
  }
  separable(data, n, k, active, false);
  separable(weight.data(), n, k, active, false);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  parallel_for(nvox, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) data[i] = (finite[i] && weight[i] > 0.0f) ? data[i] / weight[i] : nan;
  }, 4096);
}

Image3D gaussian(const Image3D& image, const Options& options) {
  if (image.data.size() != image.geom.voxel_count())
    throw make_error("smoothing: image has ", image.data.size(), " values for a ",
                     image.geom.size[0], "x", image.geom.size[1], "x", image.geom.size[2], " grid");
  Image3D out = image;
  gaussian_inplace(out.data.data(), out.geom, options);
  return out;
}

void gaussian_frames(DynamicImage& image, const Options& options) {
  const std::size_t nvox = image.geom.voxel_count();
  if (image.data.size() != nvox * image.frame_count())
    throw make_error("smoothing: dynamic image has ", image.data.size(), " values for ",
                     image.frame_count(), " frames of ", nvox, " voxels");
  for (std::size_t f = 0; f < image.frame_count(); ++f) gaussian_inplace(image.frame(f), image.geom, options);
}

}  // namespace petpipe::smooth
