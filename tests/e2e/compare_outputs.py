#!/usr/bin/python3
"""Compares two petpipe derivative folders: every NIfTI and TSV file of the first must exist in the
second with equal values (NIfTI: float tolerance; TSV: numbers to a relative tolerance, text exactly).
JSON sidecars and HDF5 files carry dates and are only required to exist. Exit 1 on any difference."""
import math
import os
import sys

import nibabel as nib
import numpy as np

RTOL = 1e-5


def tsv_equal(a, b):
    ra = [l.rstrip("\n").split("\t") for l in open(a)]
    rb = [l.rstrip("\n").split("\t") for l in open(b)]
    if len(ra) != len(rb):
        return f"{len(ra)} vs {len(rb)} lines"
    for i, (x, y) in enumerate(zip(ra, rb)):
        if len(x) != len(y):
            return f"line {i + 1}: {len(x)} vs {len(y)} cells"
        for u, v in zip(x, y):
            if u == v:
                continue
            try:
                fu, fv = float(u), float(v)
            except ValueError:
                return f"line {i + 1}: {u!r} vs {v!r}"
            if not (math.isclose(fu, fv, rel_tol=RTOL, abs_tol=1e-6) or (math.isnan(fu) and math.isnan(fv))):
                return f"line {i + 1}: {u} vs {v}"
    return None


def nii_equal(a, b):
    ia, ib = nib.load(a), nib.load(b)
    if ia.shape != ib.shape:
        return f"shape {ia.shape} vs {ib.shape}"
    if not np.allclose(ia.affine, ib.affine, atol=1e-5):
        return "affine differs"
    da, db = np.asarray(ia.dataobj, dtype=np.float64), np.asarray(ib.dataobj, dtype=np.float64)
    if not np.array_equal(np.isnan(da), np.isnan(db)):
        return "NaN pattern differs"
    m = ~np.isnan(da)
    scale = max(1.0, float(np.abs(da[m]).max()) if m.any() else 1.0)
    err = float(np.abs(da[m] - db[m]).max()) if m.any() else 0.0
    if err > RTOL * scale:
        return f"max difference {err} (scale {scale})"
    return None


def main(ref, other):
    problems, n = [], 0
    for root, dirs, files in os.walk(ref):
        dirs[:] = [d for d in dirs if d not in (".petpipe", "slurm")]
        for f in files:
            pa = os.path.join(root, f)
            rel = os.path.relpath(pa, ref)
            pb = os.path.join(other, rel)
            if not os.path.exists(pb):
                problems.append(f"{rel}: missing")
                continue
            n += 1
            if f.endswith(".tsv") and f != "run_summary.tsv":
                why = tsv_equal(pa, pb)
            elif f.endswith(".nii.gz") or f.endswith(".nii"):
                why = nii_equal(pa, pb)
            else:
                why = None
            if why:
                problems.append(f"{rel}: {why}")
    for p in problems:
        print("DIFFERENT:", p)
    print(f"compared {n} files, {len(problems)} differences")
    return 1 if problems or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
