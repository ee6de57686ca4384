#pragma once
// NIfTI (.nii, .nii.gz) input and output through ITK, plus the PET-BIDS sidecar. Every writer writes
// to a temporary file beside the target and renames it, so a failure never leaves a partial file.
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "petpipe/core/image.hpp"

namespace petpipe {

namespace fs = std::filesystem;

// Header-level information about any image ITK can read, without loading the voxels.
struct ImageInfo {
  std::string path;
  unsigned dimension = 0;              // 3 or 4 (2 for slices)
  std::array<std::size_t, 4> size{1, 1, 1, 1};
  std::array<double, 4> spacing{1, 1, 1, 1};
  Geometry geom;                       // spatial part
  std::string component_type;          // "float", "unsigned char", ...
  std::string pixel_type;              // "scalar", ...
  std::size_t components = 1;
};

ImageInfo read_image_info(const fs::path& path);

// 3D images (a 4D file with one volume is accepted). Values converted to the requested type.
Image3D read_image(const fs::path& path);
LabelImage read_labels(const fs::path& path);  // rejects non-integral values
Mask read_mask(const fs::path& path);          // non-zero, finite => 1

// 4D PET with its PET-BIDS sidecar (default: same name with .json). Values converted to kBq/mL.
// Throws petpipe::Error naming the file for: a missing image or sidecar, unreadable/corrupt data, a 3D
// image, frame count != dim[4], bad frame timing, unknown units, a frame that is entirely NaN.
struct ReadDynamicOptions {
  fs::path sidecar;            // empty: derived from the image path
  bool allow_nan_frames = false;
};
DynamicImage read_dynamic(const fs::path& path, const ReadDynamicOptions& options = {});

// Reads and validates a PET-BIDS sidecar into a FrameTable; `expected_frames` of 0 skips the count
// check. Accepts dcm2niix legacy names (FrameTimeStart, DecayFactor). `unit_scale` receives the factor
// converting the stored values to kBq/mL.
FrameTable read_pet_sidecar(const fs::path& json_path, std::size_t expected_frames, double* unit_scale);
nlohmann::json frame_table_to_sidecar(const FrameTable& frames);

// The sidecar path of an image: sub-01_pet.nii.gz -> sub-01_pet.json.
fs::path sidecar_path(const fs::path& image_path);
// The file name without .nii / .nii.gz / .json.
std::string strip_image_extension(const std::string& filename);

// Writers (atomic). Images are written as float32 (labels and masks as int32 / uint8).
void write_image(const fs::path& path, const Image3D& image);
void write_labels(const fs::path& path, const LabelImage& labels);
void write_mask(const fs::path& path, const Mask& mask);
// Writes the 4D image and, unless `write_sidecar` is false, its PET-BIDS sidecar.
void write_dynamic(const fs::path& path, const DynamicImage& image, bool write_sidecar = true);

// Atomic JSON / text writers.
void write_json(const fs::path& path, const nlohmann::json& j);
nlohmann::json read_json(const fs::path& path);
void write_text(const fs::path& path, const std::string& text);

}  // namespace petpipe
