#pragma once
// Rigid poses of the realignment: conversions between FrameMotion (degrees, mm) and ITK's Euler
// parameters, rotation-matrix algebra, and re-expressing a series of transforms in another space.
// The convention is that of realign.hpp.
#include <array>
#include <cstddef>
#include <vector>

#include "backend.hpp"

namespace petpipe::realign::detail {

Params to_params(const FrameMotion& m);
void set_params(FrameMotion& m, const Params& p);

// Physical centre of a grid: the centre of rotation of every transform.
Vec3 grid_center(const Geometry& g);

// p * q, or p * q^T with transpose_q (row-major 3 x 3).
Mat3 mat_mul(const Mat3& p, const Mat3& q, bool transpose_q = false);

// Euler angles (degrees) of a rotation matrix R = Rz * Rx * Ry (|rx| < 90 deg).
std::array<double, 3> matrix_angles(const Mat3& r);

// Re-expresses every transform as T_f o G^-1 (G: the transform g).
void rebase(std::vector<FrameMotion>& frames, const FrameMotion& g);

// In the space of frame `ref`: T_f o T_ref^-1, so that the reference frame's transform becomes the identity.
void rebase_on_reference(std::vector<FrameMotion>& frames, std::size_t ref);

// The common transform G that takes a series `from` to `to` (to_f ~ from_f o G): the mean over the
// frames of from_f^-1 o to_f.
FrameMotion common_offset(const std::vector<FrameMotion>& from, const std::vector<FrameMotion>& to);

}  // namespace petpipe::realign::detail
