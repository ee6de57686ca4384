#!/usr/bin/python3
"""HRRT-sized dynamic phantom with known rigid motion, for scripts/bench_realign.sh.

An analytic head (smooth compartments whose weights change over the frames: vascular early,
specific binding late) evaluated exactly at the moved positions, written as a 4D NIfTI with a
PET-BIDS sidecar, plus every frame as a 3D NIfTI (for elastix) and the true motion (truth.tsv).

Motion convention (as petpipe realign): frame f shows reference-space point x at
T_f(x) = R (x - c) + c + t in LPS mm, R = Rz(rz) Rx(rx) Ry(ry), c = grid centre. Written by this
script independently of petpipe's C++ code.
Usage: bench_realign_phantom.py OUTDIR [--voxel MM] [--size NX NY NZ] [--frames N] [--noise REL]
"""
import argparse, json, os
import numpy as np
import nibabel as nib

from motion_convention import rot

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--voxel", type=float, default=1.21875)
p.add_argument("--size", type=int, nargs=3, default=[256, 256, 207])
p.add_argument("--frames", type=int, default=16)
p.add_argument("--noise", type=float, default=0.05)
p.add_argument("--seed", type=int, default=5)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(a.seed)

n = a.frames
# Frame timing: 4 x 30 s, 4 x 2 min, then 5 min frames (16 frames -> 60 min).
dur = [30] * 4 + [120] * 4 + [300] * max(0, n - 8)
dur = dur[:n]
starts = np.concatenate([[0], np.cumsum(dur)[:-1]]).astype(float)
dur = np.array(dur, float)

def weights(t):
    m = t / 60.0
    return (8.0 * m * np.exp(-m / 0.8) + 0.3 * np.exp(-m / 30.0),
            2.0 * (1 - np.exp(-m / 2.0)) * np.exp(-m / 80.0),
            3.0 * (1 - np.exp(-m / 12.0)))

# Motion: drift, two jumps, up to ~6 mm and 4 degrees; frame 0 unmoved.
motion = np.zeros((n, 6))  # tx ty tz (mm) rx ry rz (deg)
for f in range(n):
    s = f / (n - 1)
    motion[f] = [2.5 * s, -1.5 * s, 1.0 * s, 1.0 * s, -0.8 * s, 1.2 * s]
    if f >= n // 3:
        motion[f] += [3.0, 0, -3.0, 2.5, 0, -1.5]
    if f >= 2 * n // 3:
        motion[f] += [0, 4.0, 0, -1.0, 3.0, 0]

nx, ny, nz = a.size
v = a.voxel
origin = -0.5 * v * (np.array(a.size) - 1)  # LPS; the grid centre is (0,0,0)
centre = np.zeros(3)
affine = np.diag([-v, -v, v, 1.0])  # RAS affine of an LPS-identity grid
affine[:3, 3] = [-origin[0], -origin[1], origin[2]]

i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
Y = np.stack([origin[0] + v * i, origin[1] + v * j, origin[2] + v * k], -1).reshape(-1, 3).astype(np.float32)
del i, j, k

def head(x, y, z, w):
    def blob(cx, cy, cz, fwhm):
        s2 = (fwhm / 2.3548) ** 2
        return np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / s2)
    r = np.sqrt(x * x / 66.0 ** 2 + y * y / 80.0 ** 2 + z * z / 60.0 ** 2)
    hd = 1.0 / (1.0 + np.exp((r - 1.0) * 70.0 / 5.0))
    cortex = hd * (0.6 + 0.4 * np.cos(x / 9.0) * np.cos(y / 11.0 + 0.5) * np.cos(z / 13.0))
    tissue = cortex + 0.8 * blob(0, -55, -30, 22)
    specific = blob(14, 6, 6, 14) + blob(-13, 8, 5, 14) + 0.5 * blob(30, -35, 30, 18)
    vascular = blob(0, 75, 25, 12) + blob(0, -20, -40, 10) + 0.5 * blob(-40, 0, -20, 10)
    return w[0] * vascular + w[1] * tissue + w[2] * specific

data = np.zeros((nx, ny, nz, n), np.float32)
for f in range(n):
    R = rot(*motion[f, 3:])
    X = ((Y - centre - motion[f, :3]) @ R + centre).astype(np.float32)  # R^T (y - c - t) + c, row-wise
    val = head(X[:, 0], X[:, 1], X[:, 2], weights(starts[f] + 0.5 * dur[f])).astype(np.float32)
    if a.noise > 0:
        sd = a.noise * val.mean() / np.sqrt(dur[f] / 300.0)
        val += (sd * rng.standard_normal(val.size) * np.sqrt(np.maximum(val, 0) + 0.05)).astype(np.float32)
    frame = val.reshape(nx, ny, nz)
    data[..., f] = frame
    img3 = nib.Nifti1Image(frame, affine)
    img3.set_qform(affine, 1); img3.set_sform(affine, 1)
    nib.save(img3, os.path.join(a.out, f"frame{f + 1:02d}.nii"))
img = nib.Nifti1Image(data, affine)
img.set_qform(affine, 1); img.set_sform(affine, 1)
img.header.set_xyzt_units("mm", "sec")
nib.save(img, os.path.join(a.out, "sub-bench_pet.nii"))
json.dump({"FrameTimesStart": starts.tolist(), "FrameDuration": dur.tolist(), "Units": "kBq/mL",
           "TracerName": "phantom", "TracerRadionuclide": "C11", "ImageDecayCorrected": True,
           "ImageDecayCorrectionTime": 0, "TimeZero": "00:00:00"},
          open(os.path.join(a.out, "sub-bench_pet.json"), "w"), indent=2)
with open(os.path.join(a.out, "truth.tsv"), "w") as fh:
    fh.write("frame\tframe_start\ttx\tty\ttz\trx\try\trz\n")
    for f in range(n):
        fh.write(f"{f + 1}\t{starts[f]:g}\t" + "\t".join(f"{x:.6f}" for x in motion[f]) + "\n")
print(f"wrote {a.out}: {nx}x{ny}x{nz} voxels of {v} mm, {n} frames")
