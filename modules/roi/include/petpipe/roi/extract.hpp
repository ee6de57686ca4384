#pragma once
// Regional statistics and regional time-activity curves over atlas ROIs.
//
// Labels are brought onto the image grid by NEAREST NEIGHBOUR on physical coordinates: every image
// voxel takes the label at the label-image voxel nearest to its centre (index = floor(continuous index
// + 0.5)); image voxels whose centre falls outside the label image get label 0. For the AAL atlas (1 mm,
// 181x217x181) and the usual MNI 2 mm grid (91x109x91, origin -90 -126 -72 RAS) every 2 mm voxel
// centre coincides with a 1 mm voxel centre, so this is exact sampling. By default a voxel belongs
// wholly to one label or to none.
//
// Fractional (partial-volume) ROIs: with RoiOptions::fractional and labels on a FINER grid than the
// image (e.g. the sub-voxel native labels of petpipe normalize, the PET grid divided 2 or 3 times per
// axis), every image voxel is weighted by the volume fraction of it that the ROI's labels cover: each
// label voxel is assigned to the image voxel containing its centre, and the weight is (label voxels of
// the ROI in it) x (label voxel volume) / (image voxel volume). An ROI's mean is then the weighted mean.
// Binary ROIs change by whole voxels when the head sits differently on the image grid (e.g. after
// motion correction to another reference pose); fractional ones change smoothly.
//
// ROIs are sets of image voxels. Statistics use the finite voxels of the map inside the ROI; non-finite
// voxels are excluded and counted. An ROI with no (finite) voxels gives NaN values (written "n/a") and a
// log warning -- never a silent zero.
#include <cstddef>
#include <string>
#include <vector>

#include "petpipe/core/image.hpp"
#include "petpipe/core/tsv.hpp"
#include "petpipe/roi/atlas.hpp"

namespace petpipe::roi {

// ---- labels on the image grid -------------------------------------------------------------------

struct ResampledLabels {
  LabelImage labels;                // on the target grid; 0 where the centre is outside the source
  std::size_t voxels_inside = 0;    // target voxels whose centre falls inside the source grid
  std::size_t labelled_voxels = 0;  // target voxels that received a non-zero label
  // Labelled volume on the target grid / labelled volume of the source (mm^3 / mm^3). About 1 when the
  // image covers the whole atlas; well below 1 when the image covers only part of it.
  double labelled_volume_ratio = 0.0;
};

// Nearest-neighbour resampling of `labels` onto `target`. Throws petpipe::Error when no target voxel
// centre falls inside the label image or no labelled voxel does (the image and the labels are not in
// the same space). The caller adds the file names as context.
ResampledLabels resample_labels_nearest(const LabelImage& labels, const Geometry& target);

// ---- ROI sets ----------------------------------------------------------------------------------

enum class LabelSpace {
  atlas,   // the labels are the atlas in its (MNI) space: coordinate limits of regions apply
  native,  // the labels were brought into the PET space (e.g. by normalize): regions cut by MNI
           // coordinate limits cannot be formed and are reported as unavailable
};

struct RoiOptions {
  std::vector<std::string> regions;  // region names (analysis or reference regions); empty = all
                                     // analysis regions of the atlas (bilateral, then _L and _R)
  LabelSpace space = LabelSpace::atlas;
  double min_volume_ratio = 0.5;     // warn when the image covers less of the labelled atlas volume
  bool fractional = false;           // partial-volume weights from labels on a finer grid (see top)
};

struct RoiSet {
  Geometry geom;                                 // the image grid
  std::vector<std::string> names;
  std::vector<std::vector<std::size_t>> voxels;  // linear indices on geom, ascending
  // Per ROI, the weight of each voxel in `voxels` (volume fraction, 0 < w <= about 1); an empty vector
  // means every voxel has weight 1 (binary ROI).
  std::vector<std::vector<float>> weights;
  std::vector<std::string> notes;                // per ROI: why it is empty ("" when it is not)
  double labelled_volume_ratio = 1.0;            // from the resampling (1 when the grids were equal)

  std::size_t size() const { return names.size(); }
};

// ROIs of `atlas` on the grid `image_grid`, from `labels` (the atlas label image, or a label image
// with atlas label values in the PET space). Labels on another grid are resampled by nearest
// neighbour (or, with options.fractional, turned into volume fractions: the labels must then be on a
// grid at least as fine as the image's). Throws for unknown region names, for a region with MNI
// coordinate limits requested by name in native space, and when image and labels do not overlap.
// Empty ROIs are kept, with a note and a warning.
RoiSet make_rois(const Atlas& atlas, const LabelImage& labels, const Geometry& image_grid,
                 const RoiOptions& options = {});

// ---- statistics --------------------------------------------------------------------------------

// With fractional ROIs the statistics are weighted: volume = sum of the weights x voxel volume, mean
// = weighted mean, median = the value at half the cumulative weight (between the two values when the
// half falls exactly on a boundary, as for an even count), sd = SD with reliability weights (the
// sample SD when all weights are 1).
struct RegionStats {
  std::string name;
  std::size_t voxels = 0;      // finite voxels of the map in the ROI (those the statistics use)
  std::size_t nan_voxels = 0;  // ROI voxels excluded because the map is NaN/Inf there
  double volume_mm3 = 0.0;     // voxels x voxel volume (fractional: weights x voxel volume)
  double volume_ml = 0.0;      // volume_mm3 / 1000
  double mean = 0.0;           // NaN when voxels == 0
  double median = 0.0;         // mean of the two middle values for an even count; NaN when empty
  double sd = 0.0;             // sample SD (n - 1); NaN when voxels < 2
};

// Statistics of a 3D map in every ROI. The map must be on the RoiSet's grid.
std::vector<RegionStats> region_statistics(const Image3D& map, const RoiSet& rois);

// Per-subject table: roi, voxels, nan_voxels, volume_mm3, volume_ml, mean, median, sd.
Table statistics_table(const std::vector<RegionStats>& stats);

// ---- regional TACs -----------------------------------------------------------------------------

struct RegionalTacs {
  FrameTable frames;
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;  // [region][frame]: (weighted) mean of the finite ROI voxels
  std::vector<std::size_t> voxels;          // ROI voxels on the grid
  std::vector<std::size_t> nan_voxels;      // voxel-frames excluded as non-finite, per region
};

// Mean activity per ROI and frame of a dynamic image on the RoiSet's grid.
RegionalTacs regional_tacs(const DynamicImage& pet, const RoiSet& rois);

// _tacs.tsv: frame_start, frame_end (s), then one column per region.
Table tacs_table(const RegionalTacs& tacs);

// ---- group long table --------------------------------------------------------------------------

enum class Statistic { mean, median };

struct SubjectStats {
  std::string participant_id;  // "sub-01" (a bare label is prefixed with "sub-")
  std::vector<RegionStats> stats;
};

// Long table: participant_id, roi, value, voxels, nan_voxels, then every column of `participants`
// (group, covariates) for the subject. With `participants`, a subject missing from it is an error.
Table group_long_table(const std::vector<SubjectStats>& subjects, Statistic statistic,
                       const Participants* participants = nullptr);

}  // namespace petpipe::roi
