#pragma once
// Helpers for the stats tests: run Debian's python3 with a script and parse numbers it prints.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <cmath>
#include <unistd.h>

namespace petpipe::stats::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("petpipe_stats_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Runs /usr/bin/python3 on `script` (written to dir/script.py); returns stdout.
inline std::string run_python(const std::filesystem::path& dir, const std::string& script) {
  const auto path = dir / "script.py";
  std::ofstream(path) << script;
  const std::string cmd = "/usr/bin/python3 " + path.string() + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  std::array<char, 4096> buf{};
  while (pipe && fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return out;
}

inline std::vector<double> numbers(const std::string& text) {
  std::istringstream is(text);
  std::vector<double> v;
  std::string tok;
  while (is >> tok) v.push_back(std::stod(tok));
  return v;
}

inline double rel_diff(double a, double b) {
  const double scale = std::max(std::fabs(a), std::fabs(b));
  return scale == 0 ? 0.0 : std::fabs(a - b) / scale;
}

}  // namespace petpipe::stats::test
