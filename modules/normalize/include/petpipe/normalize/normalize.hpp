#pragma once
// Subject-level steps: PET -> T1 coregistration, T1 -> MNI normalisation (affine then demons), and
// reference regions placed in PET space from atlas definitions.
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/normalize/register.hpp"
#include "petpipe/normalize/transform.hpp"

namespace petpipe::normalize {

// ---------------------------------------------------------------- PET -> T1
struct CoregisterOptions {
  LinearOptions linear{};          // rigid, Mattes MI, 8/4/3 mm pyramid (see LinearOptions)
  double min_overlap_fraction = 0.05;  // of the smaller bounding box, before registration
  double max_rotation_degrees = 45.0;  // larger rotations are reported as a failure
  bool check_orientation = true;   // compare the 24 axis-aligned orientations first
};

struct CoregisterResult {
  AffineMap t1_to_pet;  // T1 point -> PET point (rigid)
  double metric = 0.0;
  double nmi = 0.0;     // normalised MI after registration
  OrientationCheck orientation;
};

// Rigid registration of the mean PET (moving) onto the T1 (fixed). Throws petpipe::Error (naming
// `pet_name` / `t1_name`) when the images do not overlap, follow different orientation conventions,
// or the registration needs an implausible rotation.
CoregisterResult coregister(const Image3D& pet_mean, const Image3D& t1, const CoregisterOptions& options,
                            const std::string& pet_name = "PET", const std::string& t1_name = "T1");

// ---------------------------------------------------------------- T1 -> MNI
struct TemplateOptions {
  LinearOptions affine{LinearKind::affine, {8.0, 4.0, 3.0}, {4.0, 2.0, 1.0}, {200, 150, 80}};
  // Deformable step: cubic B-spline free-form deformation (bspline) or symmetric demons (demons).
  enum class Deformable { bspline, demons };
  Deformable method = Deformable::bspline;
  BSplineOptions bspline{};
  DemonsOptions demons{};
  double working_spacing_mm = 2.0;  // grid of the displacement field, and of demons (template box at this spacing)
  // B-spline: grid of the images matched at the finest level (coarser levels at 2x, 4x, ...); never
  // finer than the T1 voxels nor coarser than working_spacing_mm.
  double bspline_image_spacing_mm = 1.0;
  bool deformable = true;           // false: affine only
  // With a template brain image: demons forces (and the histogram matching) only inside the
  // template brain dilated by this margin (mm), so that scalp, skull and background, which differ
  // between subjects and the template, do not drive the field. < 0: the whole head.
  double brain_margin_mm = 6.0;
  // With the brain mask: demons runs on locally contrast-normalised images (local_normalize with this
  // Gaussian sigma, mm) instead of histogram-matched intensities. 0: histogram matching.
  double local_contrast_sigma_mm = 5.0;
  bool check_orientation = true;
  double max_rotation_degrees = 45.0;
};

struct TemplateResult {
  AffineMap mni_to_t1;              // template point -> T1 point (affine part)
  DisplacementField field;          // on the working template grid; empty when affine only
  DisplacementField inverse_field;  // inverse of `field` on the same grid
  double affine_metric = 0.0;
  // RMS intensity difference of the deformable step's images before and after it
  double deformable_initial_rms = 0.0, deformable_final_rms = 0.0;
  OrientationCheck orientation;

  // template -> T1: x -> mni_to_t1(x + u(x)); T1 -> template: the inverse chain.
  Transform template_to_t1() const;
  Transform t1_to_template() const;
};

// Registers the subject T1 (moving) to the template (fixed). Both with or both without skull.
// `template_brain` (optional): the skull-stripped template in the same space (non-zero = brain);
// it restricts the deformable step (see TemplateOptions::brain_margin_mm).
TemplateResult to_template(const Image3D& t1, const Image3D& template_t1, const TemplateOptions& options,
                           const std::string& t1_name = "T1", const Image3D* template_brain = nullptr);

// Whole-subject chain. Spaces: PET, T1, MNI.
struct SubjectTransforms {
  AffineMap t1_to_pet;
  TemplateResult normalization;
  Transform mni_to_pet() const;  // pull-back for forward warps of PET-space maps to MNI
  Transform pet_to_mni() const;  // pull-back for inverse warps of MNI atlases to PET space
  Transform mni_to_t1() const { return normalization.template_to_t1(); }
  Transform t1_to_mni() const { return normalization.t1_to_template(); }
  Transform t1_to_pet_transform() const { return Transform({t1_to_pet}); }
  Transform pet_to_t1_transform() const { return Transform({t1_to_pet.inverse()}); }
};

// Writes / reads a transform directory: pet_to_t1_rigid.txt (T1 -> PET points),
// t1_to_mni_affine.txt (MNI -> T1 points), t1_to_mni_warp.nii.gz and t1_to_mni_inverse_warp.nii.gz
// (displacement fields on the MNI working grid) and transforms.json describing the chain.
void write_transforms(const std::filesystem::path& dir, const SubjectTransforms& t);
SubjectTransforms read_transforms(const std::filesystem::path& dir);

// ---------------------------------------------------------------- reference regions
struct ReferenceOptions {
  // In template space: drop the top and bottom fractions of the region's superior-inferior extent.
  double drop_top_fraction = 1.0 / 6.0;
  double drop_bottom_fraction = 1.0 / 6.0;
  // In template space: drop region voxels within this distance (mm) of the `exclude` mask (e.g. the
  // vermis for the cerebellar reference). 0 disables.
  double exclude_margin_mm = 0.0;
  // In PET space: a PET voxel is a candidate when at least this fraction of it lies in the trimmed
  // region (fractional occupancy, 3 x 3 x 3 sub-samples per voxel) ...
  double min_occupancy = 0.5;
  int occupancy_subsamples = 3;
  // ... and every voxel of its (2r+1)^3 neighbourhood is at least 10 % occupied (erosion by r voxels
  // away from region boundaries where spill-over biases the TAC).
  int erode_voxels = 1;
  // Mode trimming on the mean PET: keep candidates within mode +/- mode_window x robust SD
  // (1.4826 x median absolute deviation). <= 0 disables.
  double mode_window = 1.0;
  std::size_t min_voxels = 10;  // fewer voxels after a step: that step is skipped (with a warning)
};

struct ReferenceResult {
  Mask mask;                       // in PET space
  std::size_t template_voxels = 0;  // region voxels in template space before / after trimming
  std::size_t trimmed_template_voxels = 0;
  std::size_t candidate_voxels = 0;  // PET voxels after occupancy and erosion
  std::size_t final_voxels = 0;
  double mode = 0.0;               // mode of the mean-PET histogram of the candidates
  double robust_sd = 0.0;
};

// `region` and `exclude` (may be empty) are masks on the template grid; `pet_mean` fixes the PET
// grid; `pet_to_template` maps PET points to template points.
ReferenceResult place_reference_region(const Mask& region, const Mask& exclude, const Image3D& pet_mean,
                                       const Transform& pet_to_template, const ReferenceOptions& options);

// Preset trimming for a reference region name: "occipital" (carfentanil) or "cerebellum_gm" (MADAM).
// trim = false: the atlas region as it is (no top/bottom sixths, no vermis margin, no erosion, no
// mode trimming); only the fractional-occupancy mapping into PET space remains.
ReferenceOptions reference_options_for(const std::string& reference_name, bool trim = true);

// Mean of each frame of `frames` (voxels x frames, frame-major as DynamicImage) over `mask`.
std::vector<double> region_tac(const DynamicImage& pet, const Mask& mask);

}  // namespace petpipe::normalize
