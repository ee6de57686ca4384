#pragma once
// The subject normalisation workflow: mean PET -> T1 (rigid), T1 -> template (affine + deformable), the
// atlas labels pulled into PET space (voxel and sub-voxel grids), QC images, and a reference region
// placed in PET space with its trimming rules, optional grey-matter masking and (for dynamic PET) TAC.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/normalize/normalize.hpp"
#include "petpipe/normalize/tissue.hpp"

namespace petpipe::normalize {

// The template space: a T1 template matching the subject's T1 (with or without skull), the
// skull-stripped template (non-zero = brain) and the atlas labels, all in template (MNI) space.
struct TemplateSpace {
  Image3D t1;
  Image3D brain;
  LabelImage labels;
  std::map<std::int32_t, std::string> label_names;  // label value -> name (e.g. "Vermis_1_2")
};

// A reference region chosen by the caller: its name selects the trimming preset
// (reference_options_for) and, for "cerebellum_gm", a margin from the atlas labels named "Vermis*";
// `region` is the region on the atlas label grid.
struct ReferenceInput {
  std::string name;
  Mask region;
};

struct WorkflowOptions {
  CoregisterOptions coregister;
  TemplateOptions normalization;
  bool trim_reference = true;           // false: occupancy mapping only (reference_options_for, trim false)
  bool grey_matter_mask = false;        // keep reference voxels at least `grey_matter_fraction` grey matter
  double grey_matter_fraction = 0.5;    // of a 3-class k-means of the T1 inside the template brain
  std::size_t grey_matter_min_voxels = 10;  // fewer would remain: grey-matter masking is skipped
  double t1_mni_spacing_mm = 1.0;       // grid of the T1 in MNI space (SPM's box)
  // Names of the images in messages and errors (e.g. file names), and the context of errors about
  // the atlas in PET space (e.g. the PET file's path).
  std::string pet_name = "PET", t1_name = "T1", pet_context = "PET";
};

struct ReferencePlacement {
  std::string name;
  ReferenceResult region;               // mask in PET space and the voxel counts of each step
  bool trimmed = true;
  TissueResult tissue;                  // k-means classes on the T1 grid (empty without grey-matter masking)
  // Grey-matter masking ran (the mask is left unchanged, with a warning, when fewer than
  // grey_matter_min_voxels would remain).
  bool grey_matter_masked = false;
  std::vector<double> tac;              // mean of each frame over the region (dynamic PET only)
};

struct SubjectNormalization {
  SubjectTransforms transforms;
  CoregisterResult coregistration;
  Image3D pet_mean;                     // the mean PET that was registered
  Image3D t1_mni;                       // the T1 on the MNI grid (t1_mni_spacing_mm)
  Image3D pet_in_t1;                    // the mean PET on the T1 grid
  Image3D t1_in_pet;                    // the T1 in PET space at the finer of the two voxel sizes
  Image3D template_in_t1;               // the template T1 on the T1 grid
  LabelImage labels;                    // atlas labels on the PET grid (nearest neighbour)
  LabelImage subvoxel_labels;           // the same on a sub-voxel grid (resample_nearest_subvoxel)
  std::optional<ReferencePlacement> reference;
  double coregister_seconds = 0, coregister_cpu_seconds = 0;   // wall / CPU (all threads)
  double normalize_seconds = 0, normalize_cpu_seconds = 0;
};

// Duration-weighted mean of the frames (non-finite voxels count as 0).
Image3D time_average(const DynamicImage& pet);

// A T1 with more than 60 % of its voxels <= 0 is taken as skull-stripped (matched to the skull-stripped
// template).
bool looks_skull_stripped(const Image3D& t1);

// The workflow on a mean PET image. `reference` (optional) is placed in PET space.
SubjectNormalization normalize_subject(const Image3D& pet_mean, const Image3D& t1, const TemplateSpace& space,
                                       const std::optional<ReferenceInput>& reference,
                                       const WorkflowOptions& options);

// The same on dynamic PET: its time average is registered and the reference region's TAC is computed.
SubjectNormalization normalize_subject(const DynamicImage& pet, const Image3D& t1, const TemplateSpace& space,
                                       const std::optional<ReferenceInput>& reference,
                                       const WorkflowOptions& options);

}  // namespace petpipe::normalize
