#include "petpipe/core/bids.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "petpipe/core/error.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"

namespace petpipe::bids {

std::optional<std::string> Name::get(const std::string& key) const {
  for (const auto& [k, v] : entities)
    if (k == key) return v;
  return std::nullopt;
}

void Name::set(const std::string& key, const std::string& value) {
  for (auto& [k, v] : entities)
    if (k == key) {
      v = value;
      return;
    }
  entities.emplace_back(key, value);
}

void Name::erase(const std::string& key) {
  entities.erase(std::remove_if(entities.begin(), entities.end(),
                                [&](const auto& kv) { return kv.first == key; }),
                 entities.end());
}

std::string Name::str() const {
  std::string s;
  for (const auto& [k, v] : entities) s += k + "-" + v + "_";
  return s + suffix + extension;
}

std::optional<Name> parse_name(const std::string& filename) {
  Name n;
  std::string stem = filename;
  for (const char* e : {".nii.gz", ".nii", ".json", ".tsv", ".h5", ".html"}) {
    const std::string ext(e);
    if (stem.size() > ext.size() && stem.compare(stem.size() - ext.size(), ext.size(), ext) == 0) {
      n.extension = ext;
      stem = stem.substr(0, stem.size() - ext.size());
      break;
    }
  }
  std::size_t start = 0;
  while (true) {
    const auto us = stem.find('_', start);
    const std::string part = stem.substr(start, us == std::string::npos ? std::string::npos : us - start);
    if (us == std::string::npos) {
      if (part.find('-') != std::string::npos || part.empty()) return std::nullopt;
      n.suffix = part;
      break;
    }
    const auto dash = part.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == part.size()) return std::nullopt;
    n.entities.emplace_back(part.substr(0, dash), part.substr(dash + 1));
    start = us + 1;
  }
  if (n.entities.empty() || n.entities.front().first != "sub") return std::nullopt;
  return n;
}

bool looks_like_dataset(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return false;
  if (fs::exists(root / "dataset_description.json", ec)) return true;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && e.path().filename().string().rfind("sub-", 0) == 0) return true;
  return false;
}

namespace {
bool is_image(const fs::path& p) {
  const std::string n = p.filename().string();
  auto ends = [&](const char* e) {
    const std::string x(e);
    return n.size() > x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0;
  };
  return ends(".nii.gz") || ends(".nii");
}

void collect(const fs::path& dir, const std::string& subject, const std::string& session, Dataset& ds) {
  std::error_code ec;
  std::vector<fs::path> t1;
  if (fs::is_directory(dir / "anat", ec))
    for (const auto& e : fs::directory_iterator(dir / "anat", ec)) {
      auto n = parse_name(e.path().filename().string());
      if (n && n->suffix == "T1w" && is_image(e.path())) t1.push_back(e.path());
    }
  std::sort(t1.begin(), t1.end());
  if (!fs::is_directory(dir / "pet", ec)) return;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "pet", ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto n = parse_name(f.filename().string());
    if (!n || n->suffix != "pet" || !is_image(f)) continue;
    PetScan scan;
    scan.subject = subject;
    scan.session = session;
    scan.image = f;
    scan.sidecar = sidecar_path(f);
    scan.t1w = t1;
    if (auto trc = n->get("trc")) {
      scan.tracer = *trc;
    } else if (fs::exists(scan.sidecar, ec)) {
      try {
        const auto j = read_json(scan.sidecar);
        if (j.contains("TracerName") && j["TracerName"].is_string()) scan.tracer = j["TracerName"];
      } catch (const Error& e) {
        log::warn(e.what());
      }
    }
    ds.pet.push_back(std::move(scan));
  }
}
}  // namespace

Dataset scan_dataset(const fs::path& root, const std::vector<std::string>& labels) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw make_error(root.string(), ": BIDS directory not found");
  Dataset ds;
  ds.root = root;
  if (fs::exists(root / "dataset_description.json", ec)) {
    const auto j = read_json(root / "dataset_description.json");
    if (j.contains("Name") && j["Name"].is_string()) ds.name = j["Name"];
  }
  if (fs::exists(root / "participants.tsv", ec)) ds.participants = root / "participants.tsv";
  std::vector<std::string> wanted;
  for (auto l : labels) wanted.push_back(l.rfind("sub-", 0) == 0 ? l.substr(4) : l);
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.rfind("sub-", 0) != 0) continue;
    const std::string sub = n.substr(4);
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), sub) == wanted.end()) continue;
    ds.subjects.push_back(sub);
  }
  std::sort(ds.subjects.begin(), ds.subjects.end());
  for (const auto& w : wanted)
    if (std::find(ds.subjects.begin(), ds.subjects.end(), w) == ds.subjects.end())
      throw make_error(root.string(), ": participant sub-", w, " not found in the dataset");
  if (ds.subjects.empty()) throw make_error(root.string(), ": no sub-* folders (not a BIDS dataset?)");
  for (const auto& sub : ds.subjects) {
    const fs::path sdir = root / ("sub-" + sub);
    bool sessions = false;
    std::vector<fs::path> sess;
    for (const auto& e : fs::directory_iterator(sdir, ec))
      if (e.is_directory() && e.path().filename().string().rfind("ses-", 0) == 0) sess.push_back(e.path());
    std::sort(sess.begin(), sess.end());
    for (const auto& s : sess) {
      sessions = true;
      collect(s, sub, s.filename().string().substr(4), ds);
    }
    if (!sessions) collect(sdir, sub, "", ds);
  }
  return ds;
}

std::string derivative_name(const Name& source,
                            const std::vector<std::pair<std::string, std::string>>& entities,
                            const std::string& suffix, const std::string& extension) {
  Name out;
  for (const char* key : {"sub", "ses", "trc", "rec", "run"})
    if (auto v = source.get(key)) out.entities.emplace_back(key, *v);
  for (const auto& [k, v] : entities) out.set(k, v);
  out.suffix = suffix;
  out.extension = extension;
  return out.str();
}

}  // namespace petpipe::bids
