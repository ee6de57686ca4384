#include "petpipe/pipeline/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"

#ifndef PETPIPE_TRACER_DIR
#define PETPIPE_TRACER_DIR "tracers"
#endif

namespace petpipe::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;

std::string canonical_tracer(const std::string& tracer) {
  std::string t;
  for (char c : tracer)
    if (std::isalnum(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.rfind("11c", 0) == 0) t = t.substr(3);
  if (t.rfind("18f", 0) == 0) t = t.substr(3);
  return t;
}

fs::path tracer_dir() {
  const char* d = std::getenv("PETPIPE_TRACER_DIR");
  return (d && *d) ? fs::path(d) : fs::path(PETPIPE_TRACER_DIR);
}

namespace {

TracerPreset load_preset(const fs::path& file) {
  const json j = read_json(file);
  TracerPreset p;
  p.file = file;
  p.name = file.stem().string();
  if (!j.is_object() || !j.contains("config") || !j["config"].is_object())
    throw make_error(file.string(), ": a tracer preset needs a \"config\" object");
  p.description = j.value("description", "");
  p.config = j["config"];
  check_config(p.config, file.string());
  return p;
}

std::vector<fs::path> preset_files() {
  std::vector<fs::path> files;
  std::error_code ec;
  const fs::path dir = tracer_dir();
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<std::string> known_tracers() {
  std::vector<std::string> names;
  for (const auto& f : preset_files()) names.push_back(f.stem().string());
  return names;
}

std::optional<TracerPreset> find_tracer_preset(const std::string& tracer) {
  const std::string t = canonical_tracer(tracer);
  if (t.empty()) return std::nullopt;
  for (const auto& f : preset_files()) {
    bool match = canonical_tracer(f.stem().string()) == t;
    if (!match) {
      const json j = read_json(f);
      for (const auto& n : j.value("names", json::array()))
        if (n.is_string() && canonical_tracer(n.get<std::string>()) == t) match = true;
    }
    if (match) return load_preset(f);
  }
  return std::nullopt;
}

json merge_config(const json& base, const json& over) {
  json out = base;
  if (!over.is_object()) return out;
  for (auto it = over.begin(); it != over.end(); ++it) {
    if (it->is_object() && out.contains(it.key()) && out[it.key()].is_object())
      out[it.key()] = merge_config(out[it.key()], *it);
    else
      out[it.key()] = *it;
  }
  return out;
}

void check_run_config(const json& cfg, const std::string& source) {
  const json& ref = cfg["reference"];
  const bool have_ref = !ref["region"].get<std::string>().empty() || !ref["mni_mask"].get<std::string>().empty() ||
                        !ref["subject_mask"].get<std::string>().empty();
  const json& s = cfg["srtm"];
  const bool have_theta = !s["theta3_min_per_min"].is_null() && !s["theta3_max_per_min"].is_null();
  const std::string tracer = cfg.value("tracer", "");
  if (!have_ref || !have_theta) {
    std::string known;
    for (const auto& k : known_tracers()) known += (known.empty() ? "" : ", ") + k;
    std::string missing;
    if (!have_ref) missing = "reference.region (or reference.mni_mask or reference.subject_mask)";
    if (!have_theta) missing += std::string(missing.empty() ? "" : " and ") + "srtm.theta3_min_per_min and srtm.theta3_max_per_min";
    throw make_error(source, ": tracer \"", tracer, "\" has no preset (known: ", known, "); the configuration must give ",
                     missing);
  }
  if (!(s["theta3_min_per_min"].get<double>() < s["theta3_max_per_min"].get<double>()))
    throw make_error(source, ": srtm.theta3_min_per_min (", s["theta3_min_per_min"].get<double>(),
                     ") must be below srtm.theta3_max_per_min (", s["theta3_max_per_min"].get<double>(), ")");
  if (!ref["mni_mask"].get<std::string>().empty() && !ref["subject_mask"].get<std::string>().empty())
    throw make_error(source, ": give reference.mni_mask or reference.subject_mask, not both");
}

json effective_config(const std::string& tracer, const json& user, const std::string& source) {
  if (!user.is_null()) check_config(user, source);
  const std::string scan_t = canonical_tracer(tracer);
  std::string user_t;
  if (user.is_object() && user.contains("tracer")) user_t = canonical_tracer(user["tracer"].get<std::string>());
  if (scan_t.empty() && user_t.empty())
    throw make_error(source, ": the tracer is unknown (no trc- entity, no TracerName, no \"tracer\" key)");
  std::optional<TracerPreset> scan_preset = scan_t.empty() ? std::nullopt : find_tracer_preset(scan_t);
  std::optional<TracerPreset> base = scan_preset;
  if (!user_t.empty()) {
    std::optional<TracerPreset> user_preset = find_tracer_preset(user_t);
    if (scan_preset && (!user_preset || user_preset->name != scan_preset->name))
      throw make_error(source, ": configuration is for tracer \"", user_t, "\" but the scan's tracer is \"", scan_t,
                       "\", which has a preset of its own");
    if (!scan_preset) base = user_preset;
  }
  json cfg = default_config();
  if (base) cfg = merge_config(cfg, base->config);
  if (!user.is_null()) cfg = merge_config(cfg, user);
  cfg["tracer"] = scan_preset ? scan_preset->name : (scan_t.empty() ? (base ? base->name : user_t) : scan_t);
  check_config(cfg, source);
  check_run_config(cfg, source);
  return cfg;
}

json read_config(const fs::path& path) {
  const json j = read_json(path);
  check_config(j, path.string());
  return j;
}

}  // namespace petpipe::pipeline
