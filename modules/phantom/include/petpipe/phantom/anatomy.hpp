#pragma once
// Phantom anatomy in MNI (Colin27) space and known subject deformations from it.
//
// Tissue classes: every AAL label keeps its value (grey matter regions); brain voxels of the
// skull-stripped Colin27 template (ch2bet) outside AAL are white matter when their intensity is
// >= white_matter_min (95; the white-matter peak is at ~110-120), CSF when < csf_max (50; ventricles
// and sulci) and "other brain" (brainstem, partial-volume borders) in between.
#include <array>
#include <map>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/phantom/random.hpp"

namespace petpipe::phantom {

inline constexpr int kWhiteMatter = 201;
inline constexpr int kCsf = 202;
inline constexpr int kOtherBrain = 203;

struct TissueOptions {
  double white_matter_min = 95.0;  // ch2bet intensity units
  double csf_max = 50.0;
};

struct Anatomy {
  LabelImage classes;                      // on the atlas grid (1 mm), 0 = outside the brain
  Image3D t1;                              // T1 template with skull (ch2better, 0.5 mm)
  std::map<int, std::string> class_names;  // AAL label names plus white_matter, csf, other_brain
  Vec3 brain_min_ras{}, brain_max_ras{};   // bounding box of the brain classes (MNI mm)
  Vec3 head_min_ras{}, head_max_ras{};     // bounding box of the T1 template's non-zero voxels
};

// Labels must not use the values 201-203. t1_brain must be on the labels' grid.
Anatomy build_anatomy(const LabelImage& aal, const std::map<int, std::string>& label_names,
                      const Image3D& t1_brain, Image3D t1, const TissueOptions& options = {});

// Grid stored in RAS order (direction diag(-1,-1,1) in LPS) with voxel centres at integer multiples
// of voxel_mm, covering the RAS box [min, max].
Geometry box_grid(double voxel_mm, const Vec3& min_ras, const Vec3& max_ras);
// The MNI grid at voxel_mm covering the field of view of `atlas` (91 x 110 x 92 at 2 mm for AAL).
Geometry mni_grid(double voxel_mm, const Geometry& atlas);

// Known subject deformation: a point x of the subject's native space (RAS mm) maps to MNI space as
//   y = A x + b,   x_mni = y + d(y),   d(y) = sum_k a_k exp(-|y - c_k|^2 / (2 s_k^2)),
// an affine followed by a smooth displacement made of Gaussian bumps defined in MNI space. Images in
// native space are made by pulling MNI images back: I_native(x) = I_mni(x_mni(x)).
struct Bump {
  Vec3 centre_ras{};     // c_k, MNI mm
  Vec3 amplitude_mm{};   // a_k, RAS mm
  double sigma_mm = 30;  // s_k
};
struct Deformation {
  std::array<double, 12> affine{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};  // [A | b], row-major, RAS
  std::vector<Bump> bumps;

  bool is_identity() const;
  Vec3 affine_ras(const Vec3& native_ras) const;        // y = A x + b
  Vec3 displacement_ras(const Vec3& y_ras) const;       // d(y)
  Vec3 map_ras(const Vec3& native_ras) const;           // x_mni
  Vec3 map_lps(const Vec3& native_lps) const;           // the same in LPS
  std::array<double, 12> inverse_affine() const;        // [A^-1 | -A^-1 b]
};

struct WarpOptions {
  double max_rotation_deg = 5.0;     // per axis, uniform in [-max, max]
  double max_translation_mm = 6.0;   // per axis
  double max_scale_change = 0.08;    // per-axis scale in [1 - s, 1 + s]
  double max_shear = 0.03;           // off-diagonal shear terms
  int bumps = 6;
  double bump_amplitude_mm = 3.0;    // |a_k| uniform in [0.5, 1] x this
  double bump_sigma_mm = 30.0;       // s_k uniform in [0.8, 1.2] x this
};
// A random deformation; bump centres inside the brain box of `anatomy`.
Deformation random_deformation(const WarpOptions& options, const Anatomy& anatomy, Rng& rng);

// Native-space grid at voxel_mm covering the native image of an MNI box (plus margin_mm).
Geometry native_grid(double voxel_mm, const Deformation& d, const Vec3& min_ras, const Vec3& max_ras,
                     double margin_mm);

// Classes on `grid` pulled back through d: majority vote over subsamples^3 points per voxel (nearest
// neighbour in `classes`); ties go to the first class met.
LabelImage sample_classes(const LabelImage& classes, const Geometry& grid, const Deformation& d,
                          int subsamples);
// Partial-volume rendering: out[i] = mean over the voxel's subsamples^3 points (pulled back through d,
// nearest neighbour in `classes`) of value_by_class[label]; labels outside the table, 0 and points
// outside `classes` contribute 0. `out` has grid.voxel_count() elements.
void sample_class_means(const LabelImage& classes, const Geometry& grid, const Deformation& d, int subsamples,
                        const std::vector<float>& value_by_class, float* out);
// Image on `grid` pulled back through d: mean of trilinear samples over subsamples^3 points per voxel.
Image3D sample_image(const Image3D& image, const Geometry& grid, const Deformation& d, int subsamples);

// Trilinear interpolation at a point (LPS mm); 0 outside the image.
float trilinear(const Image3D& image, const Vec3& lps);
float trilinear(const float* data, const Geometry& geom, const Vec3& lps);

}  // namespace petpipe::phantom
