#pragma once
// Voxelwise SRTM by the basis-function method (Gunn et al. 1997).
//
// Model per voxel (frame averages): C_T = theta1 C_R + theta2 B_i, with B_i the frame averages of the
// reference TAC's piecewise-linear interpolant convolved with exp(-theta3_i t) (computed exactly, see
// convolution.hpp) and C_R the measured reference frame averages. For each basis i the weighted
// least-squares problem is solved through a QR factorisation of W^1/2 [C_R B_i]; its first column is
// common to all bases, so the explained sum of squares of basis i differs between bases only through
// one dot product z_i = q_i . (W^1/2 y). All z_i of a block of voxels are one matrix product
// (bases x frames) x (frames x voxels) in float32; the best basis is the one with the largest |z_i|,
// confirmed against its neighbours in double precision, and theta1, theta2 and the RSS are then computed
// in double precision (optionally refined between grid points, see BfmOptions).
//
// Decay convention: theta3 is the exponent applied to the data as given. For decay-corrected data
// theta3 = k2a; for uncorrected data theta3 = k2a + lambda (as in Magia), and decay_constant_per_min
// must be lambda. Then R1 = theta1, k2a = theta3 - lambda, k2 = theta2 + theta1 k2a,
// BPND = k2 / k2a - 1; the same physical grid gives the same BPND for corrected and uncorrected data.
//
// Voxel policy: voxels outside the mask are 0 in every map (not fitted), except voxels with a non-finite
// value in some frame, which are NaN (missing data, also when a brain mask left them out). Mask voxels with a non-finite
// value in any frame, or whose TAC is zero in every frame, are NaN in every map and counted. Negative
// BPND is kept (not clipped) and counted. Voxels whose best basis is the first or last of the grid are
// flagged in grid_edge (their parameters are bounded by the grid, not estimated).
#include <cstddef>
#include <vector>

#include "petpipe/core/image.hpp"

namespace petpipe::kinetics {

// n values log-spaced from lo to hi inclusive (n >= 2, 0 < lo < hi).
std::vector<double> log_grid(double lo, double hi, std::size_t n);

struct BfmOptions {
  std::vector<double> theta3;           // basis exponents, 1/min, strictly increasing, all > lambda
  double decay_constant_per_min = 0.0;  // lambda contained in theta3 (0 for decay-corrected data)
  std::vector<double> weights;          // frame weights (> 0), empty = uniform
  // Sub-grid refinement (default on): the RSS of the best basis and its two neighbours is fitted by a
  // parabola in the basis index; theta1, theta2 and theta3 are interpolated quadratically to its vertex
  // (|shift| <= 1/2 index). This removes most of the grid discretisation error at O(frames) cost per voxel.
  // Off: the classic BFM, parameters of the best grid basis. RSS and theta3_index always refer to the
  // best grid basis. Not applied to grid-edge voxels.
  bool subgrid_refinement = true;
  std::size_t block_voxels = 256;      // voxels per matrix product (memory per thread ~ bases x block x 4 B)
};

struct BfmResult {
  Image3D bpnd, r1, k2, k2a;  // k2 and k2a per minute
  Image3D rss;                // weighted residual sum of squares (weights normalised to mean 1), unit^2
  Image3D theta3_index;       // index of the best basis (0-based), as float
  Mask grid_edge;             // 1 where the best basis is the first or last one
  Mask fitted;                // 1 where parameters were estimated
  std::size_t mask_voxels = 0, fitted_voxels = 0;
  std::size_t skipped_nonfinite = 0, skipped_zero = 0;
  std::size_t negative_bpnd = 0, grid_edge_voxels = 0;
  std::size_t nonfinite_outside_mask = 0;  // voxels outside the mask with non-finite data (NaN maps)
  double fit_seconds = 0.0;   // wall time of the voxel fits (basis set-up excluded)
  double basis_seconds = 0.0; // wall time of the set-up: bases, projections, output images
};

// `reference` holds the reference TAC frame averages (same decay state and unit as `pet`); `mask` is on
// the PET grid. Throws petpipe::Error on inconsistent sizes, grids, weights or grid.
BfmResult srtm_bfm(const DynamicImage& pet, const std::vector<double>& reference, const Mask& mask,
                   const BfmOptions& options);

// The basis matrix used by srtm_bfm: column i holds the frame averages of the reference interpolant
// convolved with exp(-theta3[i] t) (frames x bases, row-major by frame: b[f * n + i]).
std::vector<double> srtm_basis(const FrameTable& frames, const std::vector<double>& reference,
                               const std::vector<double>& theta3);

}  // namespace petpipe::kinetics
