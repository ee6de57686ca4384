#pragma once
// Shared test helpers: Colin27 at coarse resolution, known deformations, overlap measures.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "petpipe/core/image.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/normalize/transform.hpp"

namespace test_normalize {

using namespace petpipe;
using namespace petpipe::normalize;

inline std::filesystem::path template_dir() {
  const char* t = std::getenv("PETPIPE_TEMPLATE_DIR");
  return (t && *t) ? std::filesystem::path(t) : std::filesystem::path("/usr/share/mricron/templates");
}

// Block average by an integer factor (independent of the module's resampling code).
inline Image3D block_average(const Image3D& in, int f) {
  Geometry g = in.geom;
  for (int a = 0; a < 3; ++a) {
    g.size[a] = in.geom.size[a] / f;
    g.spacing[a] = in.geom.spacing[a] * f;
  }
  // centre of block (0..f-1) is at index (f-1)/2 of the input
  const Vec3 o = in.geom.index_to_point({(f - 1) / 2.0, (f - 1) / 2.0, (f - 1) / 2.0});
  g.origin = o;
  Image3D out(g, 0.0f);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        double s = 0;
        for (int c = 0; c < f; ++c)
          for (int b = 0; b < f; ++b)
            for (int a = 0; a < f; ++a) s += in.at(i * f + a, j * f + b, k * f + c);
        out.at(i, j, k) = float(s / (f * f * f));
      }
  return out;
}

// Rotation about the axes (degrees) + translation (mm), as an affine map.
inline AffineMap rigid(double rx, double ry, double rz, const Vec3& t, double scale = 1.0) {
  const double a = rx * M_PI / 180, b = ry * M_PI / 180, c = rz * M_PI / 180;
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b), cc = std::cos(c),
               sc = std::sin(c);
  // R = Rz * Ry * Rx
  AffineMap m;
  m.matrix = {cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa,
              sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa,
              -sb,     cb * sa,                cb * ca};
  for (auto& v : m.matrix) v *= scale;
  m.offset = t;
  return m;
}

// Smooth displacement field (sum of low-frequency sinusoids, amplitude `amp` mm) on grid g.
inline DisplacementField smooth_field(const Geometry& g, double amp) {
  DisplacementField u(g);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.index_to_point({double(i), double(j), double(k)});
        const std::size_t v = g.linear_index(i, j, k);
        u.data[3 * v] = float(amp * std::sin(2 * M_PI * p[1] / 120.0) * std::cos(2 * M_PI * p[2] / 140.0));
        u.data[3 * v + 1] = float(amp * std::sin(2 * M_PI * p[2] / 110.0 + 0.5) * std::cos(2 * M_PI * p[0] / 130.0));
        u.data[3 * v + 2] = float(amp * std::sin(2 * M_PI * p[0] / 100.0 + 1.0) * std::cos(2 * M_PI * p[1] / 150.0));
      }
  return u;
}

inline double dice(const LabelImage& a, const LabelImage& b, int label) {
  std::size_t na = 0, nb = 0, both = 0;
  for (std::size_t v = 0; v < a.data.size(); ++v) {
    const bool x = a.data[v] == label, y = b.data[v] == label;
    na += x;
    nb += y;
    both += x && y;
  }
  return na + nb ? 2.0 * double(both) / double(na + nb) : 0.0;
}

inline double distance(const Vec3& a, const Vec3& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

}  // namespace test_normalize
