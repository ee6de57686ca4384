#pragma once
// Helpers shared by the ROI tests.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

#include "petpipe/core/image.hpp"

namespace roi_test {

namespace fs = std::filesystem;

inline fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("petpipe_test_roi_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct CmdResult {
  int code;
  std::string output;
};

inline CmdResult run(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline CmdResult run_petpipe(const std::string& args) {
  const char* exe = std::getenv("PETPIPE_EXE");
  if (!exe) return {-1, "PETPIPE_EXE not set"};
  return run(std::string(exe) + " " + args);
}

inline fs::path source_dir() {
  const char* s = std::getenv("PETPIPE_SOURCE_DIR");
  return s ? fs::path(s) : fs::path(".");
}

// The MNI 2 mm grid of SPM/FSL: 91x109x91, voxel (0,0,0) at RAS (-90,-126,-72); stored LPS.
inline petpipe::Geometry mni_grid(double voxel = 2.0) {
  petpipe::Geometry g;
  g.size = {std::size_t(180 / voxel) + 1, std::size_t(216 / voxel) + 1, std::size_t(180 / voxel) + 1};
  g.spacing = {voxel, voxel, voxel};
  g.origin = {90.0, 126.0, -72.0};
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  return g;
}

// A positive random map with a smooth trend, so that ROI means differ.
inline petpipe::Image3D random_map(const petpipe::Geometry& g, unsigned seed) {
  petpipe::Image3D m(g);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        m.at(i, j, k) = u(rng) + 0.02f * float(i) + 0.01f * float(k);
  return m;
}

}  // namespace roi_test
