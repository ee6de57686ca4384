#pragma once
// Spatial transforms of petpipe: affine maps and dense displacement fields, chained. All points are
// physical points in ITK's LPS convention (mm). A transform "from space F to space M" maps points of
// F to points of M, as ITK's registration transforms do: resampling an image of M onto a grid of F
// evaluates the image at the mapped points (pull-back).
#include <filesystem>
#include <variant>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::normalize {

// y = matrix * x + offset (LPS mm).
struct AffineMap {
  Mat3 matrix{1, 0, 0, 0, 1, 0, 0, 0, 1};
  Vec3 offset{0, 0, 0};

  Vec3 apply(const Vec3& x) const;
  AffineMap inverse() const;  // throws petpipe::Error when singular
  // (this after first)(x) = this(first(x)).
  AffineMap after(const AffineMap& first) const;
  double determinant() const;
  // Rotation angle (degrees) of the closest rotation (polar decomposition) and the translation.
  double rotation_degrees() const;
};

// Displacement field u on a grid: the map x -> x + u(x). Components are stored interleaved
// (u_x, u_y, u_z per voxel, LPS mm), x-fastest. Trilinear interpolation; the displacement is clamped
// to the border value outside the grid (smooth continuation).
struct DisplacementField {
  Geometry geom;
  std::vector<float> data;  // 3 * voxel_count

  DisplacementField() = default;
  explicit DisplacementField(const Geometry& g) : geom(g), data(3 * g.voxel_count(), 0.0f) {}
  bool empty() const { return data.empty(); }
  Vec3 displacement(const Vec3& point) const;
  Vec3 apply(const Vec3& x) const {
    const Vec3 u = displacement(x);
    return {x[0] + u[0], x[1] + u[1], x[2] + u[2]};
  }
};

struct InvertFieldOptions {
  int max_iterations = 50;      // fixed-point iterations v(y) = -u(y + v(y))
  double tolerance_mm = 0.001;  // stop when the largest update is below this
};
// The inverse map y -> y + v(y) on the same grid as `field`.
DisplacementField invert_field(const DisplacementField& field, const InvertFieldOptions& options = {});

// A chain of affine maps and displacement fields applied in order: apply(x) = c_n(...c_1(x)).
class Transform {
public:
  using Component = std::variant<AffineMap, DisplacementField>;

  Transform() = default;
  explicit Transform(std::vector<Component> components) : components_(std::move(components)) {}
  static Transform identity() { return Transform(); }

  // Appends a component that is applied after the existing ones.
  Transform& then(Component c);
  Vec3 apply(const Vec3& x) const;
  const std::vector<Component>& components() const { return components_; }
  bool empty() const { return components_.empty(); }

private:
  std::vector<Component> components_;
};

// ---- Resampling (pull-back: each voxel of `target` takes the value of `source` at
// target_to_source(voxel centre)). Voxels mapping outside `source` get `outside`.
Image3D resample_linear(const Image3D& source, const Geometry& target, const Transform& target_to_source,
                        float outside = 0.0f);
// Nearest neighbour, for labels.
LabelImage resample_nearest(const LabelImage& source, const Geometry& target,
                            const Transform& target_to_source, std::int32_t outside = 0);
// Fractional occupancy of a mask: each target voxel is sampled at n^3 evenly spaced sub-points and
// the fraction of them that fall inside the mask is returned (0..1). Use it when target voxels are
// larger than source voxels (e.g. atlas regions into PET space).
Image3D resample_occupancy(const Mask& source, const Geometry& target, const Transform& target_to_source,
                           int subsamples = 3);

// A grid covering an RAS bounding box [lo, hi] (mm, inclusive) at `spacing_mm`, stored RAS-wise as
// SPM's MNI images (x towards right ...): size = round((hi-lo)/spacing)+1. The default is SPM's
// 2 mm MNI box [-90 -126 -72; 90 90 108], 91 x 109 x 91.
Geometry mni_grid(double spacing_mm = 2.0, const Vec3& ras_lo = {-90, -126, -72},
                  const Vec3& ras_hi = {90, 90, 108});
// The grid of `g` re-sampled at `spacing_mm` over the same extent (for working resolutions).
Geometry regrid(const Geometry& g, double spacing_mm);
// Sub-voxel grid of `g`: voxels lo..hi (inclusive, per axis) of g, each divided into s x s x s voxels
// whose centres are the n^3 evenly spaced sub-points of the voxel (as resample_occupancy samples it),
// same orientation. Throws for s < 1 or an empty / out-of-range box.
Geometry subvoxel_grid(const Geometry& g, int s, const std::array<std::size_t, 3>& lo,
                       const std::array<std::size_t, 3>& hi);
// `source` labels by nearest neighbour on the sub-voxel grid of `coarse` (labels already resampled
// onto the target grid): the box of labelled coarse voxels plus one voxel, each voxel divided s times
// per axis with s = the largest voxel size in mm rounded up, 2..4 (3 mm PET -> 1 mm). Throws when
// `coarse` has no labelled voxel.
LabelImage resample_nearest_subvoxel(const LabelImage& source, const LabelImage& coarse,
                                     const Transform& target_to_source);

// ---- Files. An affine is written as an ITK "Insight Transform File V1.0" text
// (AffineTransform_double_3_3, zero centre), readable by ITK, ANTs and elastix's transformix tools;
// a displacement field as a NIfTI vector image (ITK/ANTs displacement-field convention, LPS mm).
void write_affine(const std::filesystem::path& path, const AffineMap& map);
AffineMap read_affine(const std::filesystem::path& path);
void write_field(const std::filesystem::path& path, const DisplacementField& field);
DisplacementField read_field(const std::filesystem::path& path);

}  // namespace petpipe::normalize
