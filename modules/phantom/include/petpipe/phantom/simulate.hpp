#pragma once
// One simulated subject: native-space dynamic PET, synthetic T1 and every truth needed to validate
// the pipeline on it. The order of effects on each frame is: regional SRTM frame means (exact) put on
// the PET grid through the (rigidly moved) anatomy -> Gaussian PSF -> decay (when the output is not
// decay corrected) -> Gaussian noise. A moved frame samples the anatomy through its rigid motion
// (about the grid centre), as an unmoved frame samples it directly, so no resampling blur is added.
// Voxel values: by default each voxel takes the TAC of the majority class of its subsamples (a
// label image); with partial_volume, the mean of its subsamples' TACs (every 0.5 mm), so a voxel on
// a boundary mixes both sides and a moved head changes voxel values continuously, as in a scanner.
//
// Noise: a voxel with true decay-corrected frame mean y in a frame of duration D minutes and
// frame-average decay factor F (FrameTable::decay_factor) gets Gaussian noise of variance
//   noise^2 * (y F) / D / F^2   (kBq/mL)^2,
// i.e. variance proportional to the true uncorrected counts divided by the duration, times the
// squared decay-correction factor. noise = 0 gives noiseless data. Uncorrected output is the
// corrected value times F, its noise standard deviation likewise.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/phantom/anatomy.hpp"
#include "petpipe/phantom/curves.hpp"
#include "petpipe/phantom/motion.hpp"
#include "petpipe/phantom/presets.hpp"

namespace petpipe::phantom {

struct SimulationOptions {
  double voxel_mm = 2.0;        // PET voxel size (isotropic), mm
  double psf_fwhm_mm = 2.5;     // Gaussian PSF FWHM, mm; 0 = none
  double noise = 0.0;           // noise level (see above); 0 = noiseless
  bool partial_volume = false;  // voxel = mean of its subsamples' activity (see above), not the majority class
  bool decay_corrected = true;  // store decay-corrected values
  bool motion = false;
  MotionOptions motion_options;
  // Prescribed motion, one entry per frame, the same for every subject (e.g. a measured motion table
  // replayed): when not empty it replaces the random drift and jumps (motion must then be true).
  std::vector<RigidMotion> motion_table;
  bool warp = false;            // native anatomy = known affine + smooth deformation of MNI
  WarpOptions warp_options;
  bool make_t1 = true;
  double t1_voxel_mm = 1.0;        // synthetic T1 voxel size, mm
  double t1_noise_percent = 2.0;   // Gaussian noise SD, % of the white-matter intensity (110)
  double t1_inu_percent = 10.0;    // peak intensity non-uniformity, %
};

struct SubjectParameters {
  std::uint64_t seed = 0;
  double dose_scale = 1.0;              // multiplies the reference curve (injected dose per weight)
  std::map<int, Kinetics> kinetics;     // per anatomy class (AAL label, 201-203)
};

struct RegionTruth {
  int label = 0;
  std::string name;
  double r1 = 1, k2 = 0, k2a = 0, bpnd = 0;  // k2, k2a in 1/min
  std::size_t voxels_native = 0, voxels_mni = 0;
  std::vector<double> tac;  // true decay-corrected frame means before PSF (kBq/mL)
};

struct SubjectSimulation {
  DynamicImage pet;             // native space
  Image3D t1;                   // native space (empty when make_t1 is false)
  LabelImage classes_native, classes_mni;
  Image3D bpnd_native, r1_native, k2_native;
  Image3D bpnd_mni, r1_mni, k2_mni;
  Mask reference_native, reference_mni;
  std::vector<RigidMotion> motion;  // one per frame (all zero without motion)
  Deformation deformation;          // identity without warp
  std::array<Image3D, 3> displacement;  // native PET grid: x_mni - x_native, RAS mm (warp only)
  ExpCurve reference;                   // reference-region curve (decay corrected, t in min)
  std::vector<double> reference_tac;    // its frame means
  std::vector<RegionTruth> regions;     // every class present in the MNI anatomy, by label
};

// frames: timing plus radionuclide half-life (decay), tracer; its decay_corrected flag is set from
// the options. mni_classes: anatomy.classes sampled on the MNI PET grid (sample_classes with an
// identity deformation). reference_labels: the classes of the tracer's reference region.
SubjectSimulation simulate_subject(const Anatomy& anatomy, const LabelImage& mni_classes,
                                   const TracerPreset& preset, const std::vector<int>& reference_labels,
                                   FrameTable frames, const SubjectParameters& params,
                                   const SimulationOptions& options);

// Throws petpipe::Error for invalid options (voxel sizes, PSF, noise, motion bounds) or frames.
void validate_options(const SimulationOptions& options, const FrameTable& frames);

// Subsamples per axis used to resample the 1 mm classes onto a grid of voxel_mm.
int class_subsamples(double voxel_mm);
// Subsamples per axis of the partial-volume rendering (every 0.5 mm, 2..8).
int partial_volume_subsamples(double voxel_mm);

}  // namespace petpipe::phantom
