#pragma once
// Resume bookkeeping of the runner. Each stage of a subject has a key: the SHA-256 of the stage name,
// its parameters (JSON) and the SHA-256 of each input file. When a stage finishes, its record (key and
// the SHA-256 of every output) is written atomically. A stage is skipped on a later run only when its
// record exists, the key is unchanged and every output still exists with the recorded checksum; so a
// run killed at any point (outputs are themselves written atomically) resumes by redoing exactly the
// stages that had not been recorded, and a change of input or parameter redoes the stage and every stage
// that consumes its outputs (their input checksums change).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace petpipe::pipeline {

namespace fs = std::filesystem;

class StageCache {
public:
  explicit StageCache(fs::path state_dir);

  std::string key(const std::string& stage, const nlohmann::json& parameters,
                  const std::vector<fs::path>& inputs) const;
  bool up_to_date(const std::string& stage, const std::string& key, const std::vector<fs::path>& outputs) const;
  void record(const std::string& stage, const std::string& key, const std::vector<fs::path>& outputs,
              double seconds) const;
  void forget(const std::string& stage) const;
  fs::path record_path(const std::string& stage) const;

private:
  fs::path dir_;
};

}  // namespace petpipe::pipeline
