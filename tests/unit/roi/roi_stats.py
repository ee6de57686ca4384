#!/usr/bin/python3
"""Independent ROI statistics for petpipe's tests (nibabel + numpy; tests only).

usage: roi_stats.py MAP.nii.gz OUT.tsv [REGION ...]

Reads the AAL definitions (atlases/aal.json + the mricron label table), maps every voxel of MAP to the
AAL voxel nearest to its centre through the two NIfTI affines, applies the MNI coordinate limits of a
region to the map voxel's RAS coordinates, and writes roi, voxels, nan_voxels, mean, median, sd.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np

atlas_dir = os.environ.get("PETPIPE_ATLAS_DIR", os.path.join(os.path.dirname(__file__), "../../../atlases"))
tmpl = os.environ.get("PETPIPE_TEMPLATE_DIR", "/usr/share/mricron/templates")
defs = json.load(open(os.path.join(atlas_dir, "aal.json")))
names = {}
for line in open(os.path.join(tmpl, defs["labels_table"])):
    parts = line.split()
    if len(parts) >= 2 and parts[0].lstrip("-").isdigit():
        names[parts[1]] = int(parts[0])

regions = {}
for e in defs["rois"] + defs["reference_regions"]:
    both, left, right = [], [], []
    for base in e["labels"]:
        if base + "_L" in names:
            left.append(names[base + "_L"])
            right.append(names[base + "_R"])
        else:
            both.append(names[base])
    lim = {k: v for k, v in e.get("limits_mm", {}).items() if k != "comment"}
    regions[e["name"]] = (both + left + right, lim)
    if left and e.get("hemispheres", True) and e in defs["rois"]:
        regions[e["name"] + "_L"] = (left, lim)
        regions[e["name"] + "_R"] = (right, lim)

img = nib.load(sys.argv[1])
data = np.asarray(img.dataobj, dtype=np.float64)
aal = nib.load(os.path.join(tmpl, defs["labels_image"]))
lab = np.asarray(aal.dataobj).astype(np.int64)

ii, jj, kk = np.meshgrid(*[np.arange(n) for n in data.shape[:3]], indexing="ij")
vox = np.stack([ii.ravel(), jj.ravel(), kk.ravel(), np.ones(ii.size)])
ras = img.affine @ vox
src = np.linalg.inv(aal.affine) @ ras
nn = np.floor(src[:3] + 0.5).astype(np.int64)
inside = np.all((nn >= 0) & (nn < np.array(lab.shape)[:, None]), axis=0)
labels = np.zeros(ii.size, dtype=np.int64)
labels[inside] = lab[nn[0, inside], nn[1, inside], nn[2, inside]]
values = data.ravel()
x, y, z = ras[0], ras[1], ras[2]

wanted = sys.argv[3:] or list(regions)
with open(sys.argv[2], "w") as out:
    out.write("roi\tvoxels\tnan_voxels\tmean\tmedian\tsd\n")
    for r in wanted:
        vals, lim = regions[r]
        m = np.isin(labels, vals)
        for key, arr in (("x", x), ("y", y), ("z", z)):
            if key + "_min" in lim:
                m &= arr >= lim[key + "_min"]
            if key + "_max" in lim:
                m &= arr <= lim[key + "_max"]
        v = values[m]
        fin = v[np.isfinite(v)]
        if fin.size:
            out.write("%s\t%d\t%d\t%.17g\t%.17g\t%.17g\n" % (r, fin.size, v.size - fin.size, fin.mean(),
                      np.median(fin), fin.std(ddof=1) if fin.size > 1 else float("nan")))
        else:
            out.write("%s\t0\t%d\tn/a\tn/a\tn/a\n" % (r, v.size))
