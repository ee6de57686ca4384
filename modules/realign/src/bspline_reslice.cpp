// Cubic B-spline reslicing of one volume through a rigid transform (Unser, Aldroubi, Eden 1991;
// Unser 1999, "Splines: a perfect fit for signal and image processing"): the samples are first turned
// into interpolating B-spline coefficients by a recursive filter along each axis (mirror boundaries),
// then every output voxel sums 4 x 4 x 4 coefficients with the cubic B-spline weights of its
// sub-voxel position. Same result as ITK's BSplineInterpolateImageFunction (order 3) in ITK's
// ResampleImageFilter, which the unit test checks, at a fraction of its time: the rigid map is affine
// in voxel indices, so each point costs three multiply-adds per axis, and the weights are computed once
// per axis.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend.hpp"
#include "petpipe/core/parallel.hpp"
#include "petpipe/core/simd.hpp"

namespace petpipe::realign::detail {

namespace {

constexpr double kPole = -0.26794919243112270;  // sqrt(3) - 2, the pole of the cubic B-spline filter

// In-place conversion of one line of samples (stride `step`) to cubic B-spline coefficients, mirror
// boundary conditions (.. x2 x1 | x0 x1 .. x(n-1) | x(n-2) ..).
void prefilter_line(float* data, std::size_t n, std::size_t step, std::vector<double>& line) {
  if (n < 2) return;
  line.resize(n);
  const double z = kPole;
  const double gain = (1.0 - z) * (1.0 - 1.0 / z);  // 6
  for (std::size_t k = 0; k < n; ++k) line[k] = gain * static_cast<double>(data[k * step]);
  // Causal initialisation: the mirrored infinite sum, truncated where z^k is below float precision
  // (or exact over one mirror period for short lines).
  const std::size_t horizon = 30;  // |z|^30 < 1e-17
  double c0;
  if (n > horizon) {
    double zk = z;
    c0 = line[0];
    for (std::size_t k = 1; k < horizon; ++k) {
      c0 += zk * line[k];
      zk *= z;
    }
  } else {
    const double zn = std::pow(z, static_cast<double>(n - 1));
    const double iz = 1.0 / z;
    double z2n = zn * zn * iz;
    double zk = z;
    c0 = line[0] + zn * line[n - 1];
    for (std::size_t k = 1; k + 1 < n; ++k) {
      c0 += (zk + z2n) * line[k];
      zk *= z;
      z2n *= iz;
    }
    c0 /= 1.0 - zn * zn;
  }
  line[0] = c0;
  for (std::size_t k = 1; k < n; ++k) line[k] += z * line[k - 1];
  // Anti-causal initialisation and recursion.
  line[n - 1] = (z / (z * z - 1.0)) * (line[n - 1] + z * line[n - 2]);
  for (std::size_t k = n - 1; k-- > 0;) line[k] = z * (line[k + 1] - line[k]);
  // Coefficients decay geometrically away from activity; those far below float precision of the
  // line's largest are set to 0 so that no subnormal floats reach the evaluation (they are ~100x slower).
  double largest = 0;
  for (std::size_t k = 0; k < n; ++k) largest = std::max(largest, std::abs(line[k]));
  const double negligible = 1e-12 * largest;
  for (std::size_t k = 0; k < n; ++k)
    data[k * step] = std::abs(line[k]) < negligible ? 0.0f : static_cast<float>(line[k]);
}

// Index of a neighbour under mirror boundaries (period 2 (n - 1)).
inline long mirror(long i, long n) {
  if (n == 1) return 0;
  const long period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// out = p q for row-major 3 x 3 matrices.
void mul3(const double* p, const double* q, double* out) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out[3 * r + c] = p[3 * r] * q[c] + p[3 * r + 1] * q[3 + c] + p[3 * r + 2] * q[6 + c];
}

inline void cubic_weights(float t, float w[4]) {
  const float t2 = t * t, t3 = t2 * t, u = 1.0f - t;
  constexpr float s = 1.0f / 6.0f;
  w[0] = u * u * u * s;
  w[1] = (4.0f - 6.0f * t2 + 3.0f * t3) * s;
  w[2] = (1.0f + 3.0f * t + 3.0f * t2 - 3.0f * t3) * s;
  w[3] = t3 * s;
}

// One output row: u(i) = base + i * (A[0], A[3], A[6]) in the coefficients' continuous index space.
PETPIPE_SIMD_CLONES
void reslice_row(const float* coefficients, float* o, long nx, long ny, long nz, const double base[3],
                 const double A[9]) {
  const std::size_t sy = static_cast<std::size_t>(nx), sz = sy * static_cast<std::size_t>(ny);
  for (long i = 0; i < nx; ++i) {
    const double u[3] = {base[0] + A[0] * i, base[1] + A[3] * i, base[2] + A[6] * i};
    // Outside the image (ITK's convention: continuous index outside [-0.5, n - 0.5)) -> 0.
    if (u[0] < -0.5 || u[0] >= nx - 0.5 || u[1] < -0.5 || u[1] >= ny - 0.5 || u[2] < -0.5 ||
        u[2] >= nz - 0.5) {
      o[i] = 0.0f;
      continue;
    }
    float w[3][4];
    long idx[3][4];
    const long n[3] = {nx, ny, nz};
    bool interior = true;
    for (int a = 0; a < 3; ++a) {
      const double f = std::floor(u[a]);
      cubic_weights(static_cast<float>(u[a] - f), w[a]);
      const long first = static_cast<long>(f) - 1;
      interior = interior && first >= 0 && first + 3 < n[a];
      for (int m = 0; m < 4; ++m) idx[a][m] = first + m;
    }
    float sum = 0;
    if (interior) {
      // The common case: four contiguous coefficients per row.
      const float* p0 = coefficients + static_cast<std::size_t>(idx[2][0]) * sz +
                        static_cast<std::size_t>(idx[1][0]) * sy + static_cast<std::size_t>(idx[0][0]);
      for (int c = 0; c < 4; ++c) {
        float plane = 0;
        for (int bb = 0; bb < 4; ++bb) {
          const float* row = p0 + c * sz + bb * sy;
          plane += w[1][bb] * (w[0][0] * row[0] + w[0][1] * row[1] + w[0][2] * row[2] + w[0][3] * row[3]);
        }
        sum += w[2][c] * plane;
      }
    } else {
      for (int a = 0; a < 3; ++a)
        for (int m = 0; m < 4; ++m) idx[a][m] = mirror(idx[a][m], n[a]);
      for (int c = 0; c < 4; ++c) {
        const float* pz = coefficients + static_cast<std::size_t>(idx[2][c]) * sz;
        float plane = 0;
        for (int bb = 0; bb < 4; ++bb) {
          const float* py = pz + static_cast<std::size_t>(idx[1][bb]) * sy;
          plane += w[1][bb] * (w[0][0] * py[idx[0][0]] + w[0][1] * py[idx[0][1]] + w[0][2] * py[idx[0][2]] +
                               w[0][3] * py[idx[0][3]]);
        }
        sum += w[2][c] * plane;
      }
    }
    o[i] = sum;
  }
}

}  // namespace

void bspline_coefficients(float* data, const Geometry& g) {
  const std::size_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  // x lines (contiguous), then y, then z.
  parallel_for(ny * nz, [&](std::size_t b, std::size_t e) {
    std::vector<double> line;
    for (std::size_t l = b; l < e; ++l) prefilter_line(data + l * nx, nx, 1, line);
  });
  parallel_for(nz, [&](std::size_t b, std::size_t e) {
    std::vector<double> line;
    for (std::size_t k = b; k < e; ++k)
      for (std::size_t i = 0; i < nx; ++i) prefilter_line(data + k * nx * ny + i, ny, nx, line);
  });
  parallel_for(ny, [&](std::size_t b, std::size_t e) {
    std::vector<double> line;
    for (std::size_t j = b; j < e; ++j)
      for (std::size_t i = 0; i < nx; ++i) prefilter_line(data + j * nx + i, nz, nx * ny, line);
  });
}

void reslice_bspline(const float* coefficients, float* out, const Geometry& g, const Params& params,
                     const Vec3& center) {
  // Continuous input index u = A idx + b: idx -> point x (grid) -> T(x) (frame) -> index (grid).
  const Mat3 R = rotation_matrix(params[0] * 180.0 / M_PI, params[1] * 180.0 / M_PI, params[2] * 180.0 / M_PI);
  double DS[9], invDS[9];  // direction * spacing and its inverse
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) DS[3 * r + c] = g.direction[3 * r + c] * g.spacing[c];
  // (D S)^-1 = S^-1 D^T for an orthonormal direction.
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) invDS[3 * r + c] = g.direction[3 * c + r] / g.spacing[r];
  double RDS[9], A[9];
  mul3(R.data(), DS, RDS);
  mul3(invDS, RDS, A);
  // T(x) = R (x - c) + c + t with x = O + DS idx:  T = R DS idx + R (O - c) + c + t.
  double q[3];
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int k = 0; k < 3; ++k) s += R[3 * r + k] * (g.origin[k] - center[k]);
    q[r] = s + center[r] + params[3 + r] - g.origin[r];
  }
  double b[3];
  for (int r = 0; r < 3; ++r) b[r] = invDS[3 * r] * q[0] + invDS[3 * r + 1] * q[1] + invDS[3 * r + 2] * q[2];

  const long nx = static_cast<long>(g.size[0]), ny = static_cast<long>(g.size[1]), nz = static_cast<long>(g.size[2]);
  const std::size_t sy = g.size[0], sz = g.size[0] * g.size[1];
  parallel_for(static_cast<std::size_t>(nz), [&](std::size_t k0, std::size_t k1) {
    for (std::size_t k = k0; k < k1; ++k)
      for (long j = 0; j < ny; ++j) {
        float* o = out + k * sz + static_cast<std::size_t>(j) * sy;
        // u(i) = base + i * A[:,0]
        const double base[3] = {A[1] * j + A[2] * static_cast<double>(k) + b[0],
                                A[4] * j + A[5] * static_cast<double>(k) + b[1],
                                A[7] * j + A[8] * static_cast<double>(k) + b[2]};
        reslice_row(coefficients, o, nx, ny, nz, base, A);
      }
  });
}

}  // namespace petpipe::realign::detail
