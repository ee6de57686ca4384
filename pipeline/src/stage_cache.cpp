#include "petpipe/pipeline/stage_cache.hpp"

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/core/provenance.hpp"

namespace petpipe::pipeline {

StageCache::StageCache(fs::path state_dir) : dir_(std::move(state_dir)) {}

fs::path StageCache::record_path(const std::string& stage) const { return dir_ / (stage + ".json"); }

std::string StageCache::key(const std::string& stage, const nlohmann::json& parameters,
                            const std::vector<fs::path>& inputs) const {
  // The version and the commit the binary was built from are part of the key: a petpipe built from other
  // sources redoes every stage instead of keeping outputs an older build made.
  std::string material = "petpipe-stage\n" + stage + "\n" + version_string() + " " + git_hash() + "\n" +
                         parameters.dump() + "\n";
  for (const auto& in : inputs) {
    std::error_code ec;
    if (!fs::is_regular_file(in, ec)) throw make_error(in.string(), ": input of stage ", stage, " not found");
    material += in.filename().string() + " " + sha256_file(in) + "\n";
  }
  return sha256_hex(material);
}

bool StageCache::up_to_date(const std::string& stage, const std::string& key,
                            const std::vector<fs::path>& outputs) const {
  std::error_code ec;
  const fs::path rec = record_path(stage);
  if (!fs::exists(rec, ec)) return false;
  nlohmann::json j;
  try {
    j = read_json(rec);
  } catch (const Error&) {
    return false;  // unreadable record: redo the stage
  }
  if (j.value("key", "") != key) return false;
  const auto& outs = j.value("outputs", nlohmann::json::object());
  for (const auto& out : outputs) {
    if (!fs::is_regular_file(out, ec)) return false;
    const std::string name = out.filename().string();
    if (!outs.contains(name) || outs[name] != sha256_file(out)) return false;
  }
  return true;
}

void StageCache::record(const std::string& stage, const std::string& key, const std::vector<fs::path>& outputs,
                        double seconds) const {
  nlohmann::json j;
  j["stage"] = stage;
  j["key"] = key;
  j["seconds"] = seconds;
  j["outputs"] = nlohmann::json::object();
  for (const auto& out : outputs) j["outputs"][out.filename().string()] = sha256_file(out);
  write_json(record_path(stage), j);
}

void StageCache::forget(const std::string& stage) const {
  std::error_code ec;
  fs::remove(record_path(stage), ec);
}

}  // namespace petpipe::pipeline
