#pragma once
// Small helpers shared by the core tests.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace petpipe::test {

inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("petpipe_test_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

struct RunResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

inline RunResult run(const std::string& command) {
  RunResult r{-1, {}};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string petpipe_exe() {
  const char* e = std::getenv("PETPIPE_EXE");
  return e ? e : "petpipe";
}

inline std::size_t file_count(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace petpipe::test
