#!/usr/bin/python3
"""Oracle for scripts/bench_realign_bpnd.sh: replaces the realign outputs of a `petpipe run`
derivatives directory with the PET resliced by the phantom's TRUE motion (scipy cubic B-spline),
into the reference frame's pose that petpipe chose (its motion table's "reference" row), so that the
rest of the pipeline shows what a perfect realignment would give. The stage record's hashes are
updated so that `petpipe run` keeps these outputs and redoes only the later stages.
Usage: reslice_true_motion.py BIDS_DIR DERIV_DIR [ORDER]   (ORDER: spline order, default 3)
Motion convention as petpipe realign (LPS mm, R = Rz Rx Ry, centre = grid centre); written here
independently of petpipe's C++ code.
"""
import sys, glob, json, hashlib, os
import numpy as np, nibabel as nib
from scipy import ndimage
import csv
from motion_convention import rot
bids, deriv = sys.argv[1], sys.argv[2]
order = int(sys.argv[3]) if len(sys.argv) > 3 else 3
D = np.diag([-1., -1., 1.])
for pet in sorted(glob.glob(f"{bids}/sub-*/pet/*_pet.nii.gz")):
    sub = pet.split("/")[-3]
    img = nib.load(pet); x = np.asarray(img.dataobj, dtype=np.float64); x = np.nan_to_num(x)
    truth = np.loadtxt(glob.glob(f"{bids}/derivatives/truth/{sub}/*_motion.tsv")[0], skiprows=1)[:, 3:9]
    A = img.affine; Ainv = np.linalg.inv(A)
    shp = x.shape[:3]
    idx = np.indices(shp).reshape(3, -1).astype(float)
    pts = D @ (A[:3, :3] @ idx + A[:3, 3:4])      # LPS
    c = D @ (A[:3, :3] @ ((np.array(shp) - 1) / 2.0) + A[:3, 3])
    out = np.empty(x.shape, np.float32)
    rows = list(csv.DictReader(open(glob.glob(f"{deriv}/{sub}/pet/*_motion.tsv")[0]), delimiter="\t"))
    ref = [r["status"] for r in rows].index("reference")
    Rr, tr = rot(*truth[ref, 3:]), truth[ref, :3]
    for f in range(x.shape[3]):
        t = truth[f]
        if not np.any(t) and not np.any(truth[ref]):
            out[..., f] = x[..., f]
            continue
        # Reference-frame point x -> frame point T_f(T_ref^-1(x)).
        q = Rr.T @ (pts - c[:, None] - tr[:, None])
        y = rot(*t[3:]) @ q + c[:, None] + t[:3, None]
        u = Ainv[:3, :3] @ (D @ y) + Ainv[:3, 3:4]
        out[..., f] = ndimage.map_coordinates(x[..., f], u, order=order, mode='constant', cval=0.0).reshape(shp)
    d = f"{deriv}/{sub}/pet"
    mc = glob.glob(f"{d}/*_desc-mc_pet.nii.gz")[0]
    nib.save(nib.Nifti1Image(out, img.affine, img.header), mc)
    side = json.load(open(pet.replace(".nii.gz", ".json")))
    dur = np.array(side["FrameDuration"], float)
    mean = (out * dur).sum(axis=3) / dur.sum()
    mp = glob.glob(f"{d}/*_desc-mean_pet.nii.gz")[0]
    mimg = nib.load(mp)
    nib.save(nib.Nifti1Image(mean.astype(np.float32), mimg.affine, mimg.header), mp)
    rec = glob.glob(f"{deriv}/{sub}/.petpipe/*/realign.json")[0]
    r = json.load(open(rec))
    for name in r["outputs"]:
        r["outputs"][name] = hashlib.sha256(open(f"{d}/{name}", "rb").read()).hexdigest()
    json.dump(r, open(rec, "w"), indent=2)
    print(f"{deriv}/{sub}: resliced with the true motion into the pose of frame {ref + 1}")
