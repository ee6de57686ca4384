#pragma once
// Write-to-temporary-then-rename helper. The temporary lives in the target's directory and keeps the
// target's extension (ITK chooses its writer by extension). If commit() is not called, the destructor
// removes the temporary.
#include <filesystem>
#include <string>

namespace petpipe {

class AtomicFile {
public:
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }
  void commit();  // rename temp -> target

private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

}  // namespace petpipe
