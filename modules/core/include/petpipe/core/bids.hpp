#pragma once
// PET-BIDS layout: file-name entities, dataset discovery and BIDS-derivative output names.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace petpipe::bids {

namespace fs = std::filesystem;

// "sub-01_ses-a_trc-carfentanil_pet.nii.gz" -> entities {sub:01, ses:a, trc:carfentanil},
// suffix "pet", extension ".nii.gz". Entities keep their order of appearance.
struct Name {
  std::vector<std::pair<std::string, std::string>> entities;
  std::string suffix;
  std::string extension;

  std::optional<std::string> get(const std::string& key) const;
  void set(const std::string& key, const std::string& value);  // replaces or appends
  void erase(const std::string& key);
  std::string str() const;  // reassembled file name
};
std::optional<Name> parse_name(const std::string& filename);

struct PetScan {
  std::string subject;  // without "sub-"
  std::string session;  // may be empty
  std::string tracer;   // trc- entity, else the sidecar's TracerName, else empty
  fs::path image;
  fs::path sidecar;
  std::vector<fs::path> t1w;  // anatomical images of the same subject (and session when present)
};

struct Dataset {
  fs::path root;
  std::string name;  // dataset_description.json Name
  std::optional<fs::path> participants;
  std::vector<std::string> subjects;  // sorted, without "sub-"
  std::vector<PetScan> pet;
};

// Scans a BIDS dataset. Throws petpipe::Error when the directory does not exist or holds no sub-*
// folders. Subject filter: labels with or without "sub-".
Dataset scan_dataset(const fs::path& root, const std::vector<std::string>& participant_labels = {});

bool looks_like_dataset(const fs::path& root);

// Derivative name: keeps sub/ses/trc/rec/run of `source` and appends the given entities in order, then
// the suffix and extension; e.g. derivative_name(src, {{"model","SRTM"},{"meas","BPND"}}, "mimap",
// ".nii.gz").
std::string derivative_name(const Name& source,
                            const std::vector<std::pair<std::string, std::string>>& entities,
                            const std::string& suffix, const std::string& extension);

}  // namespace petpipe::bids
