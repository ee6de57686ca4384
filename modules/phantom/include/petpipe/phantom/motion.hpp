#pragma once
// Per-frame rigid head motion with known truth.
//
// Convention (the one of ITK's Euler3DTransform with fixed = reference, moving = frame):
//   p_frame = R (p_ref - c) + c + t
// maps a point of the reference (motion-free) space to the point of frame space where the same
// anatomy is seen. Coordinates are ITK physical LPS millimetres; c is the centre of the image grid;
// t = (tx, ty, tz) in mm (LPS axes); R = Rz(rz) Rx(rx) Ry(ry) (ITK's default ZXY order: rotate about
// y first, then x, then z), angles in degrees, right-handed about the LPS axes. The simulated frame is
// I_frame(p) = I_ref(T^-1(p)). Frames of the first `still_s` seconds have no motion, so they are the
// reference position.
#include <vector>

#include "petpipe/core/frame_table.hpp"
#include "petpipe/core/image.hpp"
#include "petpipe/phantom/random.hpp"

namespace petpipe::phantom {

struct RigidMotion {
  double tx = 0, ty = 0, tz = 0;  // mm, LPS
  double rx = 0, ry = 0, rz = 0;  // degrees
};

struct MotionOptions {
  double max_translation_mm = 4.0;  // bound on |tx|, |ty|, |tz|
  double max_rotation_deg = 3.0;    // bound on |rx|, |ry|, |rz|
  int jumps = 2;                    // sudden steps at random frames (each up to half the bounds)
  double drift_fraction = 0.6;      // end-of-scan linear drift, up to this fraction of the bounds
  double still_s = 180.0;           // no motion in frames starting before this time
};

// Motion per frame: linear drift from still_s to the end of the scan plus steps, clamped to the
// bounds, evaluated at the frame mid-time.
std::vector<RigidMotion> random_motion(const FrameTable& frames, const MotionOptions& options, Rng& rng);

Mat3 rotation_matrix(const RigidMotion& m);  // R, row-major
Vec3 grid_centre(const Geometry& g);        // physical centre (LPS) of the voxel grid

// out(p) = in(T^-1(p)) with trilinear interpolation (0 outside).
void move_volume(const float* in, float* out, const Geometry& geom, const RigidMotion& m, const Vec3& centre);

}  // namespace petpipe::phantom
