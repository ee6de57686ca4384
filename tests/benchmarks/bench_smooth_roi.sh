#!/bin/sh
# Benchmarks of petpipe smooth and petpipe roi against scipy.ndimage / nibabel+numpy in the same run.
# usage: tests/benchmarks/bench_smooth_roi.sh [PETPIPE_EXE]   (Debian's /usr/bin/python3 with scipy)
set -eu
EXE=${1:-build/pipeline/petpipe}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export PETPIPE_ATLAS_DIR=${PETPIPE_ATLAS_DIR:-$(dirname "$0")/../../atlases}

/usr/bin/python3 - "$W" <<'PY'
import sys, numpy as np, nibabel as nib
w = sys.argv[1]
rng = np.random.default_rng(1)
for name, shape, vox in (("mni2", (91, 109, 91), 2.0), ("hrrt", (256, 256, 207), 1.0)):
    a = rng.random(shape, dtype=np.float32)
    aff = np.diag([vox, vox, vox, 1.0]); aff[:3, 3] = [-90, -126, -72]
    nib.save(nib.Nifti1Image(a, aff), f"{w}/{name}.nii.gz")
aff = np.diag([2.0, 2.0, 2.0, 1.0]); aff[:3, 3] = [-90, -126, -72]
for s in range(1, 40):
    nib.save(nib.Nifti1Image(rng.random((91, 109, 91), dtype=np.float32), aff), f"{w}/sub-{s:02d}_meas-BPND_mimap.nii.gz")
PY

echo "== 8 mm FWHM smoothing (compute only, best of 3; scipy.ndimage.gaussian_filter float32, truncate 4)"
for name in mni2 hrrt; do
  for th in 1 2; do
    best=
    for rep in 1 2 3; do
      t=$("$EXE" smooth --in "$W/$name.nii.gz" --out "$W/${name}_sm.nii.gz" --fwhm 8 --threads $th --force 2>&1 |
          sed -n 's/.*smoothing took \([0-9.e-]*\) s.*/\1/p')
      best=$(/usr/bin/python3 -c "print(min([float(x) for x in '$best $t'.split()]))")
    done
    echo "petpipe $name threads=$th: $best s"
  done
  /usr/bin/python3 - "$W/$name.nii.gz" <<'PY'
import sys, time, numpy as np, nibabel as nib
from scipy import ndimage
img = nib.load(sys.argv[1]); a = np.asarray(img.dataobj, dtype=np.float32)
vox = np.sqrt((img.affine[:3, :3] ** 2).sum(0)); sigma = 8.0 / (2 * np.sqrt(2 * np.log(2))) / vox
best = 1e9
for _ in range(3):
    t0 = time.perf_counter(); ndimage.gaussian_filter(a, sigma, truncate=4.0); best = min(best, time.perf_counter() - t0)
print("scipy   %s: %.4f s" % (sys.argv[1].split('/')[-1], best))
PY
done

echo "== ROI extraction: 10 AAL ROIs from 39 MNI 2 mm maps (wall time incl. reading the maps and the atlas)"
ROIS="amygdala hippocampus ventral_striatum dorsal_caudate thalamus insula ofc acc mcc pcc"
t0=$(date +%s.%N)
"$EXE" roi --in "$W"/sub-*_mimap.nii.gz --rois $ROIS --out "$W/long.tsv" --quiet
t1=$(date +%s.%N)
echo "petpipe roi: $(echo "$t1 - $t0" | bc) s"
/usr/bin/python3 - "$W" $ROIS <<'PY'
import sys, time, glob, json, os, numpy as np, nibabel as nib
t0 = time.perf_counter()
w, rois = sys.argv[1], sys.argv[2:]
# Same definitions as petpipe (atlases/aal.json); nearest-neighbour labels on the map grid.
defs = json.load(open(os.path.join(os.environ["PETPIPE_ATLAS_DIR"], "aal.json")))
names = {l.split()[1]: int(l.split()[0]) for l in open("/usr/share/mricron/templates/aal.nii.txt") if l.strip()}
aal = nib.load("/usr/share/mricron/templates/aal.nii.gz"); lab = np.asarray(aal.dataobj).astype(np.int64)
maps = sorted(glob.glob(w + "/sub-*_mimap.nii.gz"))
ref = nib.load(maps[0]); shape = ref.shape
ijk = np.indices(shape).reshape(3, -1); ras = ref.affine[:3, :3] @ ijk + ref.affine[:3, 3:4]
src = np.floor(np.linalg.inv(aal.affine)[:3, :3] @ ras + np.linalg.inv(aal.affine)[:3, 3:4] + 0.5).astype(int)
inside = np.all((src >= 0) & (src < np.array(lab.shape)[:, None]), axis=0)
labels = np.zeros(src.shape[1], dtype=np.int64); labels[inside] = lab[src[0, inside], src[1, inside], src[2, inside]]
masks = {}
for e in defs["rois"]:
    if e["name"] not in rois: continue
    vals = [names[b + s] for b in e["labels"] for s in ("_L", "_R") if b + s in names] + [names[b] for b in e["labels"] if b in names]
    m = np.isin(labels, vals)
    for k, v in e.get("limits_mm", {}).items():
        if k == "comment": continue
        c = ras["xyz".index(k[0])]
        m &= (c >= v) if k.endswith("min") else (c <= v)
    masks[e["name"]] = m
rows = []
for f in maps:
    d = np.asarray(nib.load(f).dataobj, dtype=np.float64).ravel()
    for r in rois:
        v = d[masks[r]]; v = v[np.isfinite(v)]
        rows.append((f, r, v.mean(), np.median(v), v.std(ddof=1), v.size))
print("python (nibabel+numpy) roi: %.3f s" % (time.perf_counter() - t0))
PY
