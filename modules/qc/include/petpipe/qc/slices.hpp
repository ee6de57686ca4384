#pragma once
// Orthogonal slice views (axial, coronal, sagittal) and maximum-intensity projections ("glass brain")
// of images held in memory, rendered to RGB rasters.
//
// Views are resampled in physical space on a square pixel grid (so the aspect ratio is physical
// whatever the voxel size or orientation of the images) spanning the bounding box of the base image.
// Every layer is sampled at the same physical points, so images on different grids overlay correctly
// when they share a physical space (e.g. PET and a coregistered T1). Axes follow RAS (MNI):
//   axial    horizontal = x (left/right), vertical = y (anterior at the top), through z = centre
//   coronal  horizontal = x, vertical = z (superior at the top), through y = centre
//   sagittal horizontal = y (posterior left, anterior right), vertical = z, through x = centre
// In the radiological convention the patient's right is on the viewer's left (as if facing the
// patient); in the neurological convention the patient's left is on the viewer's left.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/qc/colormap.hpp"
#include "petpipe/qc/png.hpp"

namespace petpipe::qc {

enum class Convention { radiological, neurological };
enum class Plane { axial, coronal, sagittal };
std::string to_string(Convention convention);
std::string to_string(Plane plane);

// What is drawn, bottom to top. Pointers are not owned and may be null (layer absent).
struct SliceLayers {
  const Image3D* base = nullptr;          // required; its bounding box is the field of view
  Colormap base_colormap = Colormap::grey;
  std::optional<double> base_min;         // display range; default 0 ...
  std::optional<double> base_max;         // ... and the 99.5th percentile of the finite positive values

  const Image3D* overlay = nullptr;       // e.g. a statistic map; drawn where |value| >= overlay_threshold
  double overlay_threshold = 0.0;         // in the overlay's unit; values below (and NaN) are transparent
  std::optional<double> overlay_max;      // top of the colour scale; default max |value|
  Colormap overlay_colormap = Colormap::hot;           // positive values
  Colormap overlay_negative_colormap = Colormap::cool;  // negative values (|value| mapped)
  bool overlay_show_negative = true;

  const Mask* mask = nullptr;             // filled translucently and outlined (e.g. reference region)
  Rgb mask_colour{0, 200, 255};
  double mask_alpha = 0.4;

  const Image3D* edges = nullptr;         // gradient-magnitude edges of this image are drawn on top
  Rgb edge_colour{255, 40, 40};
  double edge_fraction = 0.12;            // fraction of in-image pixels drawn as edges (strongest gradients)

  const LabelImage* contours = nullptr;   // boundaries between labels (atlas regions)
  Rgb contour_colour{80, 255, 120};
};

struct ViewOptions {
  Convention convention = Convention::radiological;
  std::optional<Vec3> centre_ras;  // slice point, RAS mm; default: centre of mass of the positive base
  double pixel_mm = 0.0;           // 0: the smallest base voxel spacing, at most 1 mm, enlarged so that
                                   // no view side exceeds max_side pixels
  int max_side = 256;              // pixels
  bool projection = false;         // maximum-intensity projection along the viewing axis instead of a
                                   // slice: base drawn as a light silhouette, overlay as max |value|
                                   // (rays sampled at the overlay's finest voxel spacing, >= pixel_mm)
};

struct SliceView {
  Plane plane = Plane::axial;
  Raster image;                          // RGB
  double position_mm = 0.0;              // RAS coordinate of the slice along its normal
  std::string left, right, top, bottom;  // anatomical direction at each side ("R", "L", "A", "P", "S", "I")
};

struct OrthoViews {
  std::array<SliceView, 3> views;  // axial, coronal, sagittal
  Vec3 centre_ras{0, 0, 0};
  double pixel_mm = 0.0;
  double base_min = 0.0, base_max = 0.0;
  double overlay_max = 0.0;
  Convention convention = Convention::radiological;
};

// Throws petpipe::Error when the base image is missing or empty.
OrthoViews render_orthogonal(const SliceLayers& layers, const ViewOptions& options = {});

// Centre of mass (RAS mm) of the finite positive values; the grid centre when there are none.
Vec3 centre_of_mass_ras(const Image3D& image);
// RAS point of the largest |value| (a plateau of equal maxima: its centroid); nullopt when all are
// non-finite.
std::optional<Vec3> peak_ras(const Image3D& image);

// Trilinear sample at a physical LPS point; NaN outside the grid (beyond half a voxel).
double sample_linear(const Image3D& image, const Vec3& lps);
// Nearest-voxel sample; `outside` beyond half a voxel.
std::int32_t sample_nearest(const LabelImage& labels, const Vec3& lps, std::int32_t outside = 0);

}  // namespace petpipe::qc
