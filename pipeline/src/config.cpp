#include "petpipe/pipeline/config.hpp"

#include <algorithm>
#include <cctype>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"

namespace petpipe::pipeline {

using nlohmann::json;

json default_config() {
  return json::parse(R"({
    "tracer": "",
    "realign": {
      "fwhm_mm": 7.0,
      "reference_frame": -1,
      "exclude_frames": [],
      "start_time_s": 0.0,
      "empty_fraction": 0.02,
      "excluded_policy": "nearest",
      "metric": "mattes",
      "refine_target": "model",
      "reference_metric": "wncc",
      "model_metric": "lsq",
      "interpolation": "bspline"
    },
    "normalize": {
      "template": "auto",
      "deformable": true,
      "deformable_method": "bspline",
      "working_spacing_mm": 2.0
    },
    "reference": {
      "region": "",
      "trim": true,
      "gm_mask": false
    },
    "srtm": {
      "theta3_min_per_min": 0.06,
      "theta3_max_per_min": 0.6,
      "basis_functions": 300,
      "weights": "counts",
      "mask_threshold_fraction": 0.1
    },
    "mni": {
      "voxel_mm": 2.0
    },
    "smooth": {
      "fwhm_mm": 8.0
    },
    "roi": {
      "atlas": "aal",
      "regions": ["amygdala", "hippocampus", "ventral_striatum", "dorsal_caudate", "thalamus", "insula",
                  "ofc", "acc", "mcc", "pcc"],
      "regional_fits": true,
      "native_weights": "fractional"
    },
    "report": {
      "enabled": true
    },
    "group": {
      "map": "BPND",
      "design": "group",
      "contrasts": [],
      "fdr_q": 0.025,
      "cluster_p": 0.001,
      "mask": "brain",
      "permutations": 0,
      "tfce": false,
      "seed": 1
    }
  })");
}

std::string canonical_tracer(const std::string& tracer) {
  std::string t;
  for (char c : tracer)
    if (std::isalnum(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.rfind("11c", 0) == 0) t = t.substr(3);
  return t;
}

json tracer_preset(const std::string& tracer) {
  const std::string t = canonical_tracer(tracer);
  if (t == "carfentanil")
    return json{{"tracer", "carfentanil"},
                {"reference", {{"region", "occipital"}}},
                {"srtm", {{"theta3_min_per_min", 0.06}, {"theta3_max_per_min", 0.6}}}};
  if (t == "madam")
    return json{{"tracer", "madam"},
                {"reference", {{"region", "cerebellum_gm"}}},
                {"srtm", {{"theta3_min_per_min", 0.045}, {"theta3_max_per_min", 0.6}}}};
  throw make_error("no preset for tracer \"", tracer, "\" (known: carfentanil, madam); give a configuration "
                   "with reference.region and the srtm theta3 range");
}

namespace {
void merge_into(json& base, const json& over, const std::string& source, const std::string& path) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key_path = path.empty() ? it.key() : path + "." + it.key();
    if (!base.contains(it.key()))
      throw make_error(source, ": unknown configuration key \"", key_path, "\"");
    json& b = base[it.key()];
    if (b.is_object()) {
      if (!it->is_object()) throw make_error(source, ": \"", key_path, "\" must be an object");
      merge_into(b, *it, source, key_path);
    } else {
      const bool number_ok = b.is_number() && it->is_number();
      if (!b.is_null() && !number_ok && b.type() != it->type() && !(b.is_string() && it->is_null()))
        throw make_error(source, ": \"", key_path, "\" has the wrong type (expected ", b.type_name(), ", got ",
                         it->type_name(), ")");
      b = *it;
    }
  }
}
}  // namespace

json merge_config(const json& base, const json& overrides, const std::string& source) {
  json out = base;
  if (overrides.is_null()) return out;
  if (!overrides.is_object()) throw make_error(source, ": configuration must be a JSON object");
  merge_into(out, overrides, source, "");
  return out;
}

json effective_config(const std::string& tracer, const json& user, const std::string& source) {
  std::string t = tracer;
  if (user.is_object() && user.contains("tracer") && user["tracer"].is_string() && !user["tracer"].get<std::string>().empty()) {
    const std::string ut = canonical_tracer(user["tracer"].get<std::string>());
    if (!t.empty() && canonical_tracer(t) != ut)
      throw make_error(source, ": configuration is for tracer \"", ut, "\" but the scan's tracer is \"", t, "\"");
    t = ut;
  }
  if (t.empty()) throw make_error(source, ": the tracer is unknown (no trc- entity, no TracerName, no \"tracer\" key)");
  json cfg = merge_config(default_config(), tracer_preset(t), "preset " + t);
  cfg = merge_config(cfg, user, source);
  cfg["tracer"] = canonical_tracer(t);
  // Values used by in-process stages (the subcommands check their own options).
  const std::string w = cfg["roi"]["native_weights"].get<std::string>();
  if (w != "fractional" && w != "nearest")
    throw make_error(source, ": \"roi.native_weights\" is \"", w, "\" (expected fractional or nearest)");
  return cfg;
}

json read_config(const std::filesystem::path& path) { return read_json(path); }

}  // namespace petpipe::pipeline
