// Estimation images (block average + Gaussian) and the second pass's head masks.
#include "estimation_images.hpp"

#include <algorithm>
#include <cmath>

#include "petpipe/core/parallel.hpp"
#include "petpipe/core/progress.hpp"

namespace petpipe::realign::detail {

Image3D block_average(const float* frame, const Geometry& g, const std::array<std::size_t, 3>& k) {
  Geometry out_g = g;
  for (int a = 0; a < 3; ++a) {
    out_g.size[a] = (g.size[a] + k[a] - 1) / k[a];
    out_g.spacing[a] = g.spacing[a] * static_cast<double>(k[a]);
  }
  // The centre of output voxel 0 is the centre of input voxels 0..k-1.
  out_g.origin = g.index_to_point({0.5 * (static_cast<double>(k[0]) - 1), 0.5 * (static_cast<double>(k[1]) - 1),
                                   0.5 * (static_cast<double>(k[2]) - 1)});
  Image3D out(out_g, 0.0f);
  if (k[0] == 1 && k[1] == 1 && k[2] == 1) {
    for (std::size_t i = 0; i < out.data.size(); ++i) out.data[i] = std::isnan(frame[i]) ? 0.0f : frame[i];
    return out;
  }
  std::vector<float> count(out.data.size(), 0.0f);
  for (std::size_t z = 0; z < g.size[2]; ++z)
    for (std::size_t y = 0; y < g.size[1]; ++y) {
      const float* row = frame + g.linear_index(0, y, z);
      const std::size_t base = out_g.linear_index(0, y / k[1], z / k[2]);
      for (std::size_t x = 0; x < g.size[0]; ++x) {
        const float v = row[x];
        const std::size_t o = base + x / k[0];
        if (!std::isnan(v)) out.data[o] += v;
        count[o] += 1.0f;
      }
    }
  for (std::size_t i = 0; i < out.data.size(); ++i) out.data[i] /= count[i];
  return out;
}

void gaussian_voxels(Image3D& img, const std::array<double, 3>& sigma_vox) {
  const auto& g = img.geom;
  std::vector<float> line;
  std::vector<float> result;
  for (int axis = 0; axis < 3; ++axis) {
    const double s = sigma_vox[axis];
    if (!(s > 0.05)) continue;
    const int radius = static_cast<int>(std::ceil(3.5 * s));
    std::vector<double> w(2 * radius + 1);
    for (int i = -radius; i <= radius; ++i) w[i + radius] = std::exp(-0.5 * i * i / (s * s));
    const std::size_t n = g.size[axis];
    const std::size_t stride = axis == 0 ? 1 : axis == 1 ? g.size[0] : g.size[0] * g.size[1];
    const std::size_t o1 = axis == 0 ? g.size[1] : g.size[0];
    const std::size_t o2 = axis == 2 ? g.size[1] : g.size[2];
    const std::size_t s1 = axis == 0 ? g.size[0] : 1;
    const std::size_t s2 = axis == 2 ? g.size[0] : g.size[0] * g.size[1];
    line.resize(n);
    result.resize(n);
    for (std::size_t b = 0; b < o2; ++b)
      for (std::size_t a = 0; a < o1; ++a) {
        float* p = img.data.data() + a * s1 + b * s2;
        for (std::size_t i = 0; i < n; ++i) line[i] = p[i * stride];
        for (std::size_t i = 0; i < n; ++i) {
          double acc = 0, wsum = 0;
          const long lo = std::max<long>(0, static_cast<long>(i) - radius);
          const long hi = std::min<long>(static_cast<long>(n) - 1, static_cast<long>(i) + radius);
          for (long j = lo; j <= hi; ++j) {
            const double wj = w[j - static_cast<long>(i) + radius];
            acc += wj * line[j];
            wsum += wj;
          }
          result[i] = static_cast<float>(acc / wsum);
        }
        for (std::size_t i = 0; i < n; ++i) p[i * stride] = result[i];
      }
  }
}

std::vector<unsigned char> head_mask(const Image3D& smoothed, double fraction, int dilation) {
  const auto& g = smoothed.geom;
  std::vector<float> sorted(smoothed.data);
  const std::size_t k = static_cast<std::size_t>(0.995 * static_cast<double>(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
  const float threshold = static_cast<float>(fraction * sorted[k]);
  std::vector<unsigned char> mask(smoothed.data.size());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = smoothed.data[i] > threshold ? 1 : 0;
  std::vector<unsigned char> next;
  for (int step = 0; step < dilation; ++step) {
    next = mask;
    for (std::size_t z = 0; z < g.size[2]; ++z)
      for (std::size_t y = 0; y < g.size[1]; ++y)
        for (std::size_t x = 0; x < g.size[0]; ++x) {
          const std::size_t i = g.linear_index(x, y, z);
          if (mask[i]) continue;
          const bool near = (x > 0 && mask[i - 1]) || (x + 1 < g.size[0] && mask[i + 1]) ||
                            (y > 0 && mask[i - g.size[0]]) || (y + 1 < g.size[1] && mask[i + g.size[0]]) ||
                            (z > 0 && mask[i - g.size[0] * g.size[1]]) ||
                            (z + 1 < g.size[2] && mask[i + g.size[0] * g.size[1]]);
          if (near) next[i] = 1;
        }
    mask.swap(next);
  }
  return mask;
}

std::vector<unsigned char> dilate_box(const std::vector<unsigned char>& mask, const Geometry& g) {
  std::vector<unsigned char> out(mask.size(), 0);
  const long nx = static_cast<long>(g.size[0]), ny = static_cast<long>(g.size[1]), nz = static_cast<long>(g.size[2]);
  for (long z = 0; z < nz; ++z)
    for (long y = 0; y < ny; ++y)
      for (long x = 0; x < nx; ++x) {
        if (!mask[static_cast<std::size_t>(x + nx * (y + ny * z))]) continue;
        for (long dz = std::max(0L, z - 1); dz <= std::min(nz - 1, z + 1); ++dz)
          for (long dy = std::max(0L, y - 1); dy <= std::min(ny - 1, y + 1); ++dy)
            for (long dx = std::max(0L, x - 1); dx <= std::min(nx - 1, x + 1); ++dx)
              out[static_cast<std::size_t>(dx + nx * (dy + ny * dz))] = 1;
      }
  return out;
}

EstimationGrid estimation_grid(const Geometry& g, const Options& o, double fwhm_mm) {
  EstimationGrid e;
  const double sigma_mm = fwhm_mm / (2.0 * std::sqrt(2.0 * std::log(2.0)));
  for (int a = 0; a < 3; ++a) {
    const double k = std::round(o.estimation_voxel_mm / g.spacing[a]);
    e.factor[a] = static_cast<std::size_t>(std::clamp(k, 1.0, std::max(1.0, static_cast<double>(g.size[a]) / 8.0)));
    const double h = g.spacing[a] * static_cast<double>(e.factor[a]);
    // Block averaging already applied a box of width h (variance (h^2 - s^2)/12 beyond the voxel's own).
    const double box_var = (h * h - g.spacing[a] * g.spacing[a]) / 12.0;
    e.sigma_vox[a] = std::sqrt(std::max(0.0, sigma_mm * sigma_mm - box_var)) / h;
  }
  return e;
}

EstimationImages build_estimation_images(const DynamicImage& pet, const Options& o,
                                         const std::vector<std::size_t>& frames, bool second_pass) {
  const std::size_t n = pet.frame_count();
  const double refine_fwhm = o.refine_fwhm_mm < 0 ? o.fwhm_mm : o.refine_fwhm_mm;
  const EstimationGrid eg = estimation_grid(pet.geom, o, o.fwhm_mm);
  const EstimationGrid eg_fine = estimation_grid(pet.geom, o, refine_fwhm);
  EstimationImages images;
  images.smoothed.resize(n);
  images.fine.resize(second_pass ? n : 0);
  Progress progress("realign: smoothing", frames.size());
  parallel_for(frames.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const std::size_t f = frames[i];
      Image3D& smoothed = images.smoothed[f];
      if (second_pass) {
        // Both from one block average (the grid does not depend on the FWHM).
        Image3D& fine = images.fine[f];
        fine = block_average(pet.frame(f), pet.geom, eg_fine.factor);
        smoothed = fine;
        gaussian_voxels(smoothed, eg.sigma_vox);
        gaussian_voxels(fine, eg_fine.sigma_vox);
      } else {
        smoothed = block_average(pet.frame(f), pet.geom, eg.factor);
        gaussian_voxels(smoothed, eg.sigma_vox);
      }
      progress.advance();
    }
  });
  return images;
}

}  // namespace petpipe::realign::detail
