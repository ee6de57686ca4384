#pragma once
// ROI definitions over atlas labels (atlases/<name>.json) and the templates they come with.
// The AAL atlas and the Colin27 template come from Debian's mricron-data package.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::roi {

namespace fs = std::filesystem;

// Limits in MNI (RAS) millimetres that cut a region out of its labels, e.g. ventral striatum =
// caudate + putamen below z = 0 mm and anterior to y = 4 mm. Unset limits are open.
struct CoordinateLimits {
  std::optional<double> x_min, x_max, y_min, y_max, z_min, z_max;
  bool contains(const Vec3& ras) const;
  bool empty() const;
};

struct Region {
  std::string name;         // e.g. "amygdala", "amygdala_L", "amygdala_R"
  std::string description;
  std::vector<int> label_values;         // atlas label values included
  std::vector<std::string> label_names;  // the same, by name
  CoordinateLimits limits;
  std::string hemisphere;  // "L", "R" or "" for bilateral
};

struct ReferenceRegion {
  std::string name;                  // e.g. "occipital"
  Region region;                     // bilateral region definition
};

struct Atlas {
  std::string name;   // "aal"
  std::string space;  // "MNIColin27"
  fs::path definition_file;
  fs::path template_dir;
  fs::path labels_image;                 // aal.nii.gz
  fs::path labels_table;                 // aal.nii.txt
  std::map<std::string, fs::path> templates;  // "T1" -> ch2better.nii.gz, "T1_brain" -> ch2bet.nii.gz
  std::map<int, std::string> label_names;     // from the label table
  std::vector<Region> regions;           // analysis ROIs: bilateral first, then _L and _R
  std::vector<ReferenceRegion> reference_regions;

  const Region& region(const std::string& name) const;  // throws listing the known names
  const ReferenceRegion& reference(const std::string& name) const;
};

struct AtlasLocations {
  fs::path atlas_dir;     // where <name>.json definitions live
  fs::path template_dir;  // where the mricron-data templates live
};
// Default locations: $PETPIPE_ATLAS_DIR or the source tree's atlases/; $PETPIPE_TEMPLATE_DIR or
// /usr/share/mricron/templates.
AtlasLocations default_locations();

// Loads and validates an atlas definition: every label name must exist in the installed label table,
// the label image and templates must exist. Errors name the file and, when templates are missing, the
// Debian package that provides them.
Atlas load_atlas(const std::string& name_or_path, const AtlasLocations& where = default_locations());

// Label table "1 Precentral_L 2001" lines -> {1: "Precentral_L"}.
std::map<int, std::string> read_label_table(const fs::path& path);

// Voxels of `labels` (an image in the atlas space) that belong to `region`.
Mask region_mask(const Region& region, const LabelImage& labels);

}  // namespace petpipe::roi
