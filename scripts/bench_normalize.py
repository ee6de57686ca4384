#!/usr/bin/python3
"""Benchmark helper for scripts/bench_normalize.sh (Debian python3 with numpy, scipy, nibabel).

  bench_normalize.py make DIR        synthetic subject: Colin27 (ch2, 1 mm) warped by a known affine and
                                     smooth displacement (the T1), and a PET-like image of the same brain
                                     moved by a known rigid transform (2 mm, 6 mm FWHM); truth in DIR/truth.json
  bench_normalize.py eval DIR TOOL [SUBDIR]   accuracy of TOOL's transforms in DIR/SUBDIR (default DIR/TOOL; "petpipe": SUBDIR/transforms,
                                     "elastix": SUBDIR/t1 and SUBDIR/pet deformation fields) as JSON

All geometry is in ITK's LPS convention (mm); NIfTI affines (RAS) are converted on the way in.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

TEMPLATES = os.environ.get("PETPIPE_TEMPLATE_DIR", "/usr/share/mricron/templates")
LPS = np.diag([-1.0, -1.0, 1.0])


def rotation(rx, ry, rz):
    a, b, c = np.radians([rx, ry, rz])
    Rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    Ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    Rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def field(p, amp):
    """Smooth analytic displacement (mm) at LPS points p (N x 3)."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    return amp * np.stack([
        np.sin(2 * np.pi * y / 120.0) * np.cos(2 * np.pi * z / 140.0),
        np.sin(2 * np.pi * z / 110.0 + 0.5) * np.cos(2 * np.pi * x / 130.0),
        np.sin(2 * np.pi * x / 100.0 + 1.0) * np.cos(2 * np.pi * y / 150.0)], axis=1)


def lps_affine(img):
    """voxel index -> LPS point (4x4)."""
    a = img.affine.copy()
    a[:3, :] = LPS @ a[:3, :]
    return a


def grid_points(shape, aff, step=1):
    idx = np.stack(np.meshgrid(*[np.arange(0, n, step) for n in shape[:3]], indexing="ij"), -1).reshape(-1, 3)
    return idx, idx @ aff[:3, :3].T + aff[:3, 3]


def sample(vol, aff, pts, order=1, cval=0.0):
    inv = np.linalg.inv(aff)
    ijk = pts @ inv[:3, :3].T + inv[:3, 3]
    return ndi.map_coordinates(vol, ijk.T, order=order, mode="constant", cval=cval)


def truth_phi(t, p):
    """subject (T1) point -> template point."""
    B = np.array(t["B"]); b = np.array(t["b"])
    q = p @ B.T + b
    return q + field(q, t["amp"])


def make(d):
    os.makedirs(d, exist_ok=True)
    ch2 = nib.load(f"{TEMPLATES}/ch2.nii.gz")
    bet = nib.load(f"{TEMPLATES}/ch2bet.nii.gz")
    A = lps_affine(ch2)
    t = {"B": (0.95 * rotation(5, -3, 4)).tolist(), "b": [4.0, -6.0, 3.0], "amp": 3.0,
         "R": rotation(6, -4, 8).tolist(), "r": [5.0, -8.0, 6.0]}
    # T1 on the template's 1 mm grid: S(y) = ch2(phi(y))
    _, pts = grid_points(ch2.shape, A)
    t1 = sample(ch2.get_fdata(dtype=np.float32), A, truth_phi(t, pts)).reshape(ch2.shape)
    nib.save(nib.Nifti1Image(t1.astype(np.float32), ch2.affine), f"{d}/t1.nii.gz")
    # PET: grey matter bright, white matter dim, 6 mm FWHM, on a 2 mm grid; P(q) = src(phi(R^-1 (q - r)))
    v = bet.get_fdata(dtype=np.float32)
    src = np.where(v > 60, np.maximum(0, 260 - v), 0).astype(np.float32)
    src = ndi.gaussian_filter(src, 6.0 / 2.3548)
    paff_ras = np.array([[2.0, 0, 0, -96], [0, 2, 0, -130], [0, 0, 2, -80], [0, 0, 0, 1]])
    pshape = (96, 110, 84)
    paff = paff_ras.copy(); paff[:3, :] = LPS @ paff[:3, :]
    _, q = grid_points(pshape, paff)
    R = np.array(t["R"]); r = np.array(t["r"])
    y = (q - r) @ np.linalg.inv(R).T
    pet = sample(src, lps_affine(bet), truth_phi(t, y)).reshape(pshape)
    nib.save(nib.Nifti1Image(pet.astype(np.float32), paff_ras), f"{d}/pet_mean.nii.gz")
    with open(f"{d}/truth.json", "w") as f:
        json.dump(t, f, indent=1)


def read_itk_affine(path):
    vals = {}
    for line in open(path):
        if ":" in line:
            k, v = line.split(":", 1)
            vals[k.strip()] = v.split()
    p = np.array([float(x) for x in vals["Parameters"]])
    c = np.array([float(x) for x in vals.get("FixedParameters", ["0", "0", "0"])])
    M = p[:9].reshape(3, 3)
    return M, p[9:12] + c - M @ c


def read_vector_field(path):
    """ITK/ANTs/elastix displacement-field NIfTI -> (data X x Y x Z x 3 in LPS mm, voxel->LPS affine)."""
    img = nib.load(path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    data = data.reshape(img.shape[:3] + (3,))
    return data, lps_affine(img)


def field_at(data, aff, pts):
    return np.stack([sample(data[..., a], aff, pts, order=1, cval=np.nan) for a in range(3)], axis=1)


def evaluate(d, tool, subdir=None):
    """Accuracy of a run in d/<subdir> (default d/<tool>): petpipe's transforms/ or elastix's fields."""
    if tool not in ("petpipe", "elastix"):
        sys.exit(f"bench_normalize.py eval: unknown tool {tool!r} (petpipe or elastix)")
    run = f"{d}/{subdir or tool}"
    t = json.load(open(f"{d}/truth.json"))
    bet = nib.load(f"{TEMPLATES}/ch2bet.nii.gz")
    aal = nib.load(f"{TEMPLATES}/aal.nii.gz")
    A = lps_affine(bet)
    idx, pts = grid_points(bet.shape, A)
    brain = bet.get_fdata(dtype=np.float32).reshape(-1) > 0
    # psi: template point -> subject T1 point (estimated)
    if tool == "petpipe":
        M, off = read_itk_affine(f"{run}/transforms/t1_to_mni_affine.txt")
        u, uaff = read_vector_field(f"{run}/transforms/t1_to_mni_warp.nii.gz")
        # the field is clamped at its border (petpipe's convention): clip the sample indices
        inv = np.linalg.inv(uaff)
        ijk = pts @ inv[:3, :3].T + inv[:3, 3]
        ijk = np.clip(ijk, 0, np.array(u.shape[:3]) - 1)
        disp = np.stack([ndi.map_coordinates(u[..., a], ijk.T, order=1) for a in range(3)], 1)
        psi = (pts + disp) @ M.T + off
    else:
        dfield, daff = read_vector_field(f"{run}/t1/deformationField.nii.gz")
        psi = pts + field_at(dfield, daff, pts)
    back = truth_phi(t, psi)
    err = np.linalg.norm(back - pts, axis=1)
    out = {"tool": tool, "t1_to_mni_mean_error_mm": float(np.nanmean(err[brain])),
           "t1_to_mni_p95_error_mm": float(np.nanpercentile(err[brain], 95))}
    labels = aal.get_fdata(dtype=np.float32)
    truth_lab = labels.reshape(-1)
    est_lab = sample(labels, lps_affine(aal), back, order=0)
    names = {37: "Hippocampus_L", 38: "Hippocampus_R", 41: "Amygdala_L", 42: "Amygdala_R",
             77: "Thalamus_L", 78: "Thalamus_R"}
    out["dice"] = {}
    for lab, name in names.items():
        a = truth_lab == lab; b = est_lab == lab
        out["dice"][name] = float(2 * np.sum(a & b) / (np.sum(a) + np.sum(b)))
    # PET -> T1: estimated T1 point -> PET point against the truth, on subject brain points
    ch2 = nib.load(f"{TEMPLATES}/ch2.nii.gz")
    _, ypts = grid_points(ch2.shape, lps_affine(ch2), step=2)
    ybrain = sample(bet.get_fdata(dtype=np.float32), A, truth_phi(t, ypts), order=0) > 0
    ypts = ypts[ybrain]
    R = np.array(t["R"]); r = np.array(t["r"])
    true_q = ypts @ R.T + r
    if tool == "petpipe":
        M, off = read_itk_affine(f"{run}/transforms/pet_to_t1_rigid.txt")
        est_q = ypts @ M.T + off
    else:
        dfield, daff = read_vector_field(f"{run}/pet/deformationField.nii.gz")
        est_q = ypts + field_at(dfield, daff, ypts)
    e = np.linalg.norm(est_q - true_q, axis=1)
    out["pet_to_t1_mean_error_mm"] = float(np.nanmean(e))
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "eval":
        evaluate(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)
