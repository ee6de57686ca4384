#!/bin/bash
# No-motion check of petpipe realign on a phantom whose tracer distribution changes over the scan and
# whose images are smooth (issue 5: no motion -> estimated motion < 0.1 mm and < 0.05 deg).
# Simulates one motion-free, noise-free carfentanil subject with partial-volume voxels and a 5 mm PSF,
# realigns it with the defaults and with mutual information in the reference round
# (--reference-metric mattes), and reports the estimated motion after the first 3 minutes (the truth is
# zero). Fails when the default's largest frame exceeds the issue's limits (0.1 mm, 0.05 deg) or the
# default is not at least twice as close to zero (RMS) as the mutual-information variant.
# Usage: scripts/check_realign_no_motion.sh PETPIPE_EXE WORKDIR
# Environment: VOXEL (4 mm), SEED (3), T_LIMIT (largest frame, mm, 0.1), R_LIMIT (largest frame, deg, 0.05).
set -euo pipefail
EXE=$(readlink -f "$1")
WORK=$2
VOXEL=${VOXEL:-4}
SEED=${SEED:-3}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$EXE" simulate --out sim --subjects 1 --voxel-size "$VOXEL" --noise 0 --seed "$SEED" --partial-volume --psf-fwhm 5 \
  --no-t1 -q
pet=$(ls sim/sub-01/pet/*_pet.nii.gz)
"$EXE" realign --pet "$pet" --out default --estimate-only -q
"$EXE" realign --pet "$pet" --out mattes --estimate-only --reference-metric mattes -q
/usr/bin/python3 - "${T_LIMIT:-0.1}" "${R_LIMIT:-0.05}" <<'PY'
import csv, glob, sys
import numpy as np
def rms(d):
    p = glob.glob(f"{d}/*_motion.tsv")[0]
    rows = list(csv.DictReader(open(p), delimiter="\t"))
    e = np.array([[float(r[k]) for k in ("tx", "ty", "tz", "rx", "ry", "rz")] for r in rows])
    late = np.array([float(r["frame_start"]) >= 180 for r in rows])
    t = np.linalg.norm(e[late, :3], axis=1); r = np.linalg.norm(e[late, 3:], axis=1)
    print(f"{d}: translation RMS {np.sqrt(np.mean(t**2)):.3f} mm (max {t.max():.3f}), "
          f"rotation RMS {np.sqrt(np.mean(r**2)):.3f} deg (max {r.max():.3f})")
    return np.sqrt(np.mean(t**2)), np.sqrt(np.mean(r**2)), t.max(), r.max()
t, r, tmax, rmax = rms("default")
tm, rm, _, _ = rms("mattes")
bad = []
if tmax >= float(sys.argv[1]): bad.append(f"largest translation {tmax:.3f} mm >= {sys.argv[1]}")
if rmax >= float(sys.argv[2]): bad.append(f"largest rotation {rmax:.3f} deg >= {sys.argv[2]}")
if not (2 * t < tm and 2 * r < rm): bad.append("the default is not twice as close to zero as --reference-metric mattes")
if bad:
    sys.exit("FAIL: " + "; ".join(bad))
print("OK")
PY
