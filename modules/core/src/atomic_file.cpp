#include "petpipe/core/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <system_error>

#include "petpipe/core/error.hpp"

namespace petpipe {
namespace fs = std::filesystem;

namespace {
std::string split_extension(const std::string& name, std::string* ext) {
  // Keep compound extensions (.nii.gz, .tsv, .h5) so writers that dispatch on extension still work.
  static const char* compound[] = {".nii.gz", ".tar.gz"};
  for (const char* c : compound) {
    const std::string e(c);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      *ext = e;
      return name.substr(0, name.size() - e.size());
    }
  }
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) {
    ext->clear();
    return name;
  }
  *ext = name.substr(dot);
  return name.substr(0, dot);
}
std::atomic<unsigned> g_counter{0};
}  // namespace

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  std::string ext;
  const std::string stem = split_extension(target_.filename().string(), &ext);
  const fs::path dir = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw make_error(dir.string(), ": cannot create directory: ", ec.message());
  temp_ = dir / ("." + stem + ".tmp" + std::to_string(::getpid()) + "-" +
                 std::to_string(g_counter++) + ext);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) throw make_error(target_.string(), ": cannot move the finished file into place: ", ec.message());
  committed_ = true;
}

}  // namespace petpipe
