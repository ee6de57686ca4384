#pragma once
// Helpers shared by the qc tests: temporary directories, running commands, small synthetic data.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "petpipe/core/image.hpp"
#include "petpipe/core/tsv.hpp"
#include "test_util.hpp"

namespace petpipe::qc::test {

namespace fs = std::filesystem;

inline fs::path fresh_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("petpipe_test_qc_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Running commands and finding the executable: the shared helpers of every test.
using petpipe::test::petpipe_exe;
using petpipe::test::run;
using petpipe::test::RunResult;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void write_file(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// An RAS-stored grid (direction diag(-1,-1,1) in LPS) of the given size and spacing centred on 0.
inline Geometry ras_grid(std::size_t nx, std::size_t ny, std::size_t nz, double sx, double sy, double sz) {
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacing = {sx, sy, sz};
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  // Centre of the grid at RAS (0, 0, 0): LPS origin = -(direction * spacing * (n-1)/2).
  g.origin = {sx * (nx - 1) / 2.0, sy * (ny - 1) / 2.0, -sz * (nz - 1) / 2.0};
  return g;
}

// A "brain": an ellipsoid of value `inside` with a hot sphere, on the grid g.
inline Image3D ellipsoid_image(const Geometry& g, double rx, double ry, double rz, float inside, const Vec3& hot_ras,
                               double hot_r, float hot) {
  Image3D img(g, 0.0f);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = to_ras(g.index_to_point({double(i), double(j), double(k)}));
        const double e = p[0] * p[0] / (rx * rx) + p[1] * p[1] / (ry * ry) + p[2] * p[2] / (rz * rz);
        if (e <= 1.0) img.at(i, j, k) = inside;
        const double d = std::hypot(p[0] - hot_ras[0], p[1] - hot_ras[1], p[2] - hot_ras[2]);
        if (d <= hot_r) img.at(i, j, k) = hot;
      }
  return img;
}

// A motion table in the runner's format: 12 frames of 5 min; the head steps by `jump_mm` along x at
// frame 8 (0-based 7); frame 1 excluded.
inline Table motion_table(double jump_mm) {
  Table t;
  t.columns = {"frame", "frame_start", "frame_end", "tx", "ty", "tz", "rx", "ry", "rz", "fd", "excluded"};
  double prev[6] = {0, 0, 0, 0, 0, 0};
  for (int f = 0; f < 12; ++f) {
    double p[6] = {f >= 7 ? jump_mm : 0.02 * f, 0.01 * f, -0.01 * f, 0.005 * f, 0, f >= 7 ? 0.3 : 0};
    double fd = 0;
    if (f > 0)
      for (int a = 0; a < 6; ++a) fd += std::abs(p[a] - prev[a]) * (a < 3 ? 1.0 : 50.0 * M_PI / 180.0);
    std::copy(p, p + 6, prev);
    std::vector<std::string> row{std::to_string(f + 1), std::to_string(300 * f), std::to_string(300 * (f + 1))};
    for (double v : p) row.push_back(format_number(v));
    row.push_back(format_number(fd));
    row.push_back(f == 0 ? "1" : "0");
    t.add_row(row);
  }
  return t;
}

// TACs: a reference decaying after a peak, two regions with more binding; `fitted` gives model-like
// curves (the same with a small offset) and leaves `failed_region` as n/a.
inline Table tac_table(bool fitted, const std::string& failed_region = "") {
  Table t;
  t.columns = {"frame_start", "frame_end", "caudate", "putamen", "occipital_ctx", "reference"};
  for (int f = 0; f < 12; ++f) {
    const double mid = (300.0 * f + 150.0) / 60.0;  // min
    const double ref = 20.0 * mid * std::exp(-mid / 8.0);
    const double a = ref * (1.0 + 2.0 * (1 - std::exp(-mid / 15.0)));
    const double b = ref * (1.0 + 1.5 * (1 - std::exp(-mid / 15.0)));
    const double c = ref * 1.05;
    const double off = fitted ? 0.3 : 0.0;
    auto cell = [&](const std::string& name, double v) { return name == failed_region ? std::string("n/a") : format_number(v + off); };
    t.add_row({std::to_string(300 * f), std::to_string(300 * (f + 1)), cell("caudate", a), cell("putamen", b),
               cell("occipital_ctx", c), format_number(ref + (fitted ? 0.0 : 0.0))});
  }
  return t;
}

}  // namespace petpipe::qc::test
