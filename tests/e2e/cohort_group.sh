#!/usr/bin/env bash
# End to end: simulate a two-group cohort with a planted +30 % BPND effect in hippocampus and thalamus
# (examples/demo_cohort.json), run every subject, run the group statistics, and check that the effect is
# found in the ROI statistics and in the voxelwise FDR map, and nowhere much else.
# Usage: cohort_group.sh PETPIPE WORKDIR
set -euo pipefail
PETPIPE=$1
WORK=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
start=$(date +%s)
"$PETPIPE" simulate --config "$SRC/examples/demo_cohort.json" --out bids --t1-voxel-size 2 -q
"$PETPIPE" run --bids bids --out deriv --config "$SRC/examples/demo_pipeline.json" -q
"$PETPIPE" group --derivatives deriv --config "$SRC/examples/demo_pipeline.json" -q
echo "cohort processed in $(( $(date +%s) - start )) s"
[ -f deriv/group/group_report.html ] || { echo "FAIL: no group report"; exit 1; }
for s in deriv/sub-*/sub-*_report.html; do [ -s "$s" ] || { echo "FAIL: empty report $s"; exit 1; }; done

/usr/bin/python3 - "$SRC" <<'PYEOF'
import csv, sys
import nibabel as nib
import numpy as np

src = sys.argv[1]
fails = []
rows = list(csv.DictReader(open("deriv/group/roi/roi_effects.tsv"), delimiter="\t"))
def effect(roi):
    for r in rows:
        if r["roi"] == roi and r["model"] == "group":
            return float(r["estimate"]), float(r["t"]), float(r["p"])
    fails.append(f"no group effect row for {roi}")
    return 0.0, 0.0, 1.0
for roi in ("hippocampus", "thalamus"):
    est, t, p = effect(roi)
    print(f"{roi}: high - low = {est:.3f} BPND, t = {t:.2f}, p = {p:.2g}")
    if not (est > 0 and p < 0.001):
        fails.append(f"{roi}: planted effect not found (estimate {est}, p {p})")

# Voxelwise: FDR-significant voxels lie mostly in the planted regions (dilated by the 8 mm smoothing).
fdr = nib.load("deriv/group/voxelwise/contrast-highxgtxlow_desc-FDR_stat-t_statmap.nii.gz")
sig = np.nan_to_num(np.asarray(fdr.dataobj, dtype=float)) > 0
aal = nib.load("/usr/share/mricron/templates/aal.nii.gz")
labels = np.asarray(aal.dataobj)
# AAL (1 mm) sampled at the map's voxel centres.
ijk = np.indices(sig.shape).reshape(3, -1)
xyz = fdr.affine[:3, :3] @ ijk + fdr.affine[:3, 3:4]
vox = np.rint(np.linalg.inv(aal.affine)[:3, :3] @ xyz + np.linalg.inv(aal.affine)[:3, 3:4]).astype(int)
inside = np.all((vox >= 0) & (vox < np.array(labels.shape)[:, None]), axis=0)
lab = np.zeros(ijk.shape[1], dtype=int)
lab[inside] = labels[vox[0, inside], vox[1, inside], vox[2, inside]]
planted = np.isin(lab, [37, 38, 77, 78]).reshape(sig.shape)  # Hippocampus_L/R, Thalamus_L/R
from scipy.ndimage import binary_dilation
# 10 mm at 2 mm voxels: the 8 mm FWHM smoothing carries a 30 % effect (peak t ~20) beyond 6 mm.
near = binary_dilation(planted, iterations=5)
n_sig, n_in = int(sig.sum()), int((sig & near).sum())
print(f"FDR-significant voxels: {n_sig}, of which {n_in} within 10 mm of hippocampus or thalamus; "
      f"{int((sig & planted).sum())} of {int(planted.sum())} planted voxels detected")
if (sig & planted).sum() < 0.3 * planted.sum():
    fails.append("voxelwise: less than 30 % of the planted voxels are FDR-significant")
if n_sig and n_in < 0.9 * n_sig:
    fails.append("voxelwise: more than 10 % of the FDR-significant voxels lie away from the planted regions")
# The analysis mask is the template brain by default: checked against ch2bet sampled independently.
gmask = nib.load("deriv/group/voxelwise/mask.nii.gz")
m = np.asarray(gmask.dataobj) > 0
bet = nib.load("/usr/share/mricron/templates/ch2bet.nii.gz")
bvox = np.rint(np.linalg.inv(bet.affine)[:3, :3] @ xyz + np.linalg.inv(bet.affine)[:3, 3:4]).astype(int)
binside = np.all((bvox >= 0) & (bvox < np.array(bet.shape[:3])[:, None]), axis=0)
bval = np.zeros(ijk.shape[1])
bval[binside] = np.asarray(bet.dataobj)[bvox[0, binside], bvox[1, binside], bvox[2, binside]]
in_brain = (bval > 0).reshape(m.shape)
share = (m & in_brain).sum() / max(1, m.sum())
cover = (m & in_brain).sum() / max(1, in_brain.sum())
print(f"group mask: {int(m.sum())} voxels, {100 * share:.1f} % inside ch2bet; covers {100 * cover:.1f} % of ch2bet")
if share < 0.95 or cover < 0.8:
    fails.append("group mask is not the template brain (share inside ch2bet < 95 % or cover < 80 %)")
clusters = list(csv.DictReader(open("deriv/group/voxelwise/contrast-highxgtxlow_clusters.tsv"), delimiter="\t"))
print(f"clusters: {len(clusters)}")
if not clusters:
    fails.append("no clusters in the cluster table")
for f in fails:
    print("FAIL:", f)
print(f"cohort_group: {0 if fails else 1} passed, {1 if fails else 0} failed")
sys.exit(1 if fails else 0)
PYEOF
