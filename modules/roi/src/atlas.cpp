#include "petpipe/roi/atlas.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/nifti_io.hpp"

#ifndef PETPIPE_ATLAS_DIR
#define PETPIPE_ATLAS_DIR "atlases"
#endif

namespace petpipe::roi {

bool CoordinateLimits::contains(const Vec3& p) const {
  auto ok = [](double v, const std::optional<double>& lo, const std::optional<double>& hi) {
    return (!lo || v >= *lo) && (!hi || v <= *hi);
  };
  return ok(p[0], x_min, x_max) && ok(p[1], y_min, y_max) && ok(p[2], z_min, z_max);
}

bool CoordinateLimits::empty() const {
  return !x_min && !x_max && !y_min && !y_max && !z_min && !z_max;
}

const Region& Atlas::region(const std::string& n) const {
  for (const auto& r : regions)
    if (r.name == n) return r;
  for (const auto& r : reference_regions)
    if (r.name == n) return r.region;
  std::string known;
  for (const auto& r : regions) known += (known.empty() ? "" : ", ") + r.name;
  throw make_error(definition_file.string(), ": no region \"", n, "\" (known: ", known, ")");
}

const ReferenceRegion& Atlas::reference(const std::string& n) const {
  for (const auto& r : reference_regions)
    if (r.name == n) return r;
  throw make_error(definition_file.string(), ": no reference region \"", n, "\"");
}

AtlasLocations default_locations() {
  AtlasLocations w;
  const char* a = std::getenv("PETPIPE_ATLAS_DIR");
  w.atlas_dir = (a && *a) ? fs::path(a) : fs::path(PETPIPE_ATLAS_DIR);
  const char* t = std::getenv("PETPIPE_TEMPLATE_DIR");
  w.template_dir = (t && *t) ? fs::path(t) : fs::path("/usr/share/mricron/templates");
  return w;
}

std::map<int, std::string> read_label_table(const fs::path& path) {
  std::ifstream in(path);
  if (!in)
    throw make_error(path.string(),
                     ": atlas label table not found (install Debian's mricron-data package: "
                     "apt-get install mricron-data)");
  std::map<int, std::string> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    int value;
    std::string name;
    if (!(is >> value >> name)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      throw make_error(path.string(), ": line ", lineno, " is not \"<value> <name> ...\"");
    }
    out[value] = name;
  }
  if (out.empty()) throw make_error(path.string(), ": empty label table");
  return out;
}

namespace {

CoordinateLimits parse_limits(const nlohmann::json& j, const fs::path& file, const std::string& roi) {
  CoordinateLimits l;
  if (!j.is_object()) throw make_error(file.string(), ": ", roi, ": limits_mm must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k == "comment") continue;
    if (!v.is_number()) throw make_error(file.string(), ": ", roi, ": limit ", k, " is not a number");
    const double x = v.get<double>();
    if (k == "x_min") l.x_min = x;
    else if (k == "x_max") l.x_max = x;
    else if (k == "y_min") l.y_min = x;
    else if (k == "y_max") l.y_max = x;
    else if (k == "z_min") l.z_min = x;
    else if (k == "z_max") l.z_max = x;
    else
      throw make_error(file.string(), ": ", roi, ": unknown limit \"", k, "\" (x_min ... z_max)");
  }
  return l;
}

int find_label(const std::map<int, std::string>& table, const std::string& name, const fs::path& file,
               const fs::path& table_path, const std::string& roi) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  throw make_error(file.string(), ": region \"", roi, "\" uses label \"", name, "\" which is not in ",
                   table_path.string());
}

// Builds bilateral, _L and _R regions from a JSON entry whose labels are base names ("Amygdala") that
// exist as "<base>_L" and "<base>_R", or full names without a hemisphere ("Vermis_3").
std::vector<Region> build_regions(const nlohmann::json& e, const Atlas& atlas, bool hemispheres) {
  const fs::path& file = atlas.definition_file;
  if (!e.contains("name") || !e["name"].is_string())
    throw make_error(file.string(), ": a region has no name");
  const std::string name = e["name"];
  if (!e.contains("labels") || !e["labels"].is_array() || e["labels"].empty())
    throw make_error(file.string(), ": region \"", name, "\" has no labels");
  CoordinateLimits limits;
  if (e.contains("limits_mm")) limits = parse_limits(e["limits_mm"], file, name);
  const std::string desc = e.value("description", "");

  Region both{name, desc, {}, {}, limits, ""};
  Region left{name + "_L", desc, {}, {}, limits, "L"};
  Region right{name + "_R", desc, {}, {}, limits, "R"};
  for (const auto& l : e["labels"]) {
    if (!l.is_string()) throw make_error(file.string(), ": region \"", name, "\": labels must be names");
    const std::string base = l;
    bool has_sides = false;
    for (const auto& [v, n] : atlas.label_names)
      if (n == base + "_L" || n == base + "_R") has_sides = true;
    if (has_sides) {
      const int lv = find_label(atlas.label_names, base + "_L", file, atlas.labels_table, name);
      const int rv = find_label(atlas.label_names, base + "_R", file, atlas.labels_table, name);
      for (Region* r : {&both, &left}) {
        r->label_values.push_back(lv);
        r->label_names.push_back(base + "_L");
      }
      for (Region* r : {&both, &right}) {
        r->label_values.push_back(rv);
        r->label_names.push_back(base + "_R");
      }
    } else {
      const int v = find_label(atlas.label_names, base, file, atlas.labels_table, name);
      both.label_values.push_back(v);
      both.label_names.push_back(base);
    }
  }
  std::vector<Region> out{both};
  if (hemispheres && !left.label_values.empty()) {
    out.push_back(left);
    out.push_back(right);
  }
  return out;
}

}  // namespace

Atlas load_atlas(const std::string& name_or_path, const AtlasLocations& where) {
  Atlas atlas;
  fs::path def = name_or_path;
  std::error_code ec;
  if (def.extension() != ".json") def = where.atlas_dir / (name_or_path + ".json");
  if (!fs::exists(def, ec))
    throw make_error(def.string(), ": atlas definition not found (set PETPIPE_ATLAS_DIR to petpipe's "
                                   "atlases/ folder)");
  atlas.definition_file = def;
  const nlohmann::json j = read_json(def);
  try {
    atlas.name = j.at("name").get<std::string>();
    atlas.space = j.value("space", "");
    atlas.template_dir = where.template_dir;
    const std::string package = j.value("package", "mricron-data");
    auto locate = [&](const std::string& file) {
      const fs::path p = where.template_dir / file;
      if (!fs::exists(p, ec))
        throw make_error(p.string(), ": not found; it comes from Debian's ", package,
                         " package (apt-get install ", package, ")");
      return p;
    };
    atlas.labels_image = locate(j.at("labels_image").get<std::string>());
    atlas.labels_table = locate(j.at("labels_table").get<std::string>());
    if (j.contains("templates"))
      for (const auto& [k, v] : j["templates"].items()) atlas.templates[k] = locate(v.get<std::string>());
    atlas.label_names = read_label_table(atlas.labels_table);
  } catch (const nlohmann::json::exception& e) {
    throw make_error(def.string(), ": malformed atlas definition: ", e.what());
  }

  std::vector<Region> bilateral, sided;
  std::set<std::string> seen;
  for (const auto& e : j.value("rois", nlohmann::json::array())) {
    auto rs = build_regions(e, atlas, e.value("hemispheres", true));
    for (std::size_t i = 0; i < rs.size(); ++i) {
      if (!seen.insert(rs[i].name).second)
        throw make_error(def.string(), ": region \"", rs[i].name, "\" defined twice");
      (i == 0 ? bilateral : sided).push_back(rs[i]);
    }
  }
  atlas.regions = bilateral;
  atlas.regions.insert(atlas.regions.end(), sided.begin(), sided.end());
  for (const auto& e : j.value("reference_regions", nlohmann::json::array())) {
    ReferenceRegion rr;
    rr.region = build_regions(e, atlas, false).front();
    rr.name = rr.region.name;
    atlas.reference_regions.push_back(rr);
  }
  return atlas;
}

Mask region_mask(const Region& region, const LabelImage& labels) {
  Mask m(labels.geom, 0);
  const std::set<int> values(region.label_values.begin(), region.label_values.end());
  const auto& g = labels.geom;
  const bool limited = !region.limits.empty();
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const std::size_t idx = g.linear_index(i, j, k);
        if (!values.count(labels.data[idx])) continue;
        if (limited) {
          const Vec3 ras = to_ras(g.index_to_point({double(i), double(j), double(k)}));
          if (!region.limits.contains(ras)) continue;
        }
        m.data[idx] = 1;
      }
  return m;
}

}  // namespace petpipe::roi
