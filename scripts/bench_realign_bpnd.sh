#!/bin/bash
# Regional BPND from a moved-then-realigned phantom against the motion-free phantom (issue 5).
# Simulates the same carfentanil cohort twice with the same seed, once without and once with --motion
# (the phantom draws motion from its own random stream: anatomy, kinetics and noise streams are the
# same, and the frames before the motion starts (3 min) are checked to be identical), runs
# `petpipe run` on both with the same configuration and compares the regional BPND
# (scripts/compare_realign_bpnd.py).
# Usage: scripts/bench_realign_bpnd.sh PETPIPE_EXE WORKDIR
# Environment: SUBJECTS (3), VOXEL (3 mm), NOISE (0.3), SEED (5), CONFIG (examples/demo_pipeline.json),
#   INTERP (realign interpolation for the run: linear or bspline; default: the configuration's),
#   REF_FRAME (realign reference frame, 1-based, for both cohorts; default: the configuration's, i.e.
#   the automatic high-count late frame, which is itself moved in the moved cohort),
#   ASSERT (a % limit: exit 1 when a checked region differs by more), REGIONS (regions checked),
#   SIM_ARGS (extra `petpipe simulate` options, e.g. "--partial-volume --psf-fwhm 5"),
#   POSED=1 (afterwards, also simulate a third cohort "posed": the same subjects without any motion
#   during the scan, but held for the whole scan in the pose of the reference frame petpipe chose
#   (simulate --motion-file with that frame's true pose in every row); compare it with the motion-free
#   cohort (how much a different pose in the scanner alone changes the results) and the moved cohort
#   with it (moved-then-realigned against motion-free at the same pose: the realignment's own effect)),
#   POSED_ASSERT (a % limit for the moved-vs-posed comparison, over REGIONS),
#   ORACLE=1 (afterwards, also reslice both cohorts with the TRUE motion into the pose of the reference
#   frame petpipe chose (scripts/reslice_true_motion.py), rerun the later stages and compare again:
#   what a perfect realignment would give).
set -euo pipefail
EXE=$(readlink -f "$1")
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SUBJECTS=${SUBJECTS:-3}
VOXEL=${VOXEL:-3}
NOISE=${NOISE:-0.3}
SEED=${SEED:-5}
CONFIG=${CONFIG:-$HERE/../examples/demo_pipeline.json}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
/usr/bin/python3 - "$CONFIG" "${INTERP:-}" "${REF_FRAME:-}" > config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[2]:
    c.setdefault("realign", {})["interpolation"] = sys.argv[2]
if sys.argv[3]:
    c.setdefault("realign", {})["reference_frame"] = int(sys.argv[3])
c.pop("group", None)
print(json.dumps(c, indent=2))
PY
common=(--subjects "$SUBJECTS" --voxel-size "$VOXEL" --noise "$NOISE" --seed "$SEED" --t1-voxel-size 2 -q)
# shellcheck disable=SC2206
common+=(${SIM_ARGS:-})
t0=$(date +%s)
"$EXE" simulate --out still "${common[@]}"
"$EXE" simulate --out moved --motion "${common[@]}"
# Same anatomy, kinetics and noise: the unmoved early frames and the T1s are identical.
/usr/bin/python3 - <<'PY'
import glob, sys
import nibabel as nib, numpy as np
for p in sorted(glob.glob("still/sub-*/pet/*_pet.nii.gz")):
    q = p.replace("still/", "moved/", 1)
    a, b = nib.load(p), nib.load(q)
    truth = np.loadtxt(glob.glob(q.split("/pet/")[0].replace("moved/", "moved/derivatives/truth/") + "/*_motion.tsv")[0],
                       skiprows=1)
    still = np.all(truth[:, 3:9] == 0, axis=1)
    x, y = np.asarray(a.dataobj), np.asarray(b.dataobj)
    if not np.array_equal(x[..., still], y[..., still]):
        sys.exit(f"{p}: the frames without motion differ between the two simulations")
    if not np.any(x[..., ~still] != y[..., ~still]):
        sys.exit(f"{q}: no frame moved")
    t1 = p.replace("/pet/", "/anat/").split("_trc-")[0] + "_T1w.nii.gz"
    if not np.array_equal(np.asarray(nib.load(t1).dataobj), np.asarray(nib.load(t1.replace("still/", "moved/", 1)).dataobj)):
        sys.exit(f"{t1}: T1 differs between the two simulations")
    print(f"{p.split('/')[1]}: {int(still.sum())} unmoved frames identical, {int((~still).sum())} moved frames")
PY
t1=$(date +%s)
"$EXE" run --bids still --out deriv_still --config config.json -q
"$EXE" run --bids moved --out deriv_moved --config config.json -q
t2=$(date +%s)
echo "simulate $((t1 - t0)) s, run (both cohorts) $((t2 - t1)) s"
# Realignment accuracy against the simulated truth (relative to the reference frame).
PYTHONPATH="$HERE" /usr/bin/python3 - <<'PY'
import glob
import numpy as np
from motion_convention import read_motion, relative_to
for kind in ("moved", "still"):
    for p in sorted(glob.glob(f"deriv_{kind}/sub-*/pet/*_motion.tsv")):
        sub = p.split("/")[1]
        rows, est = read_motion(p)
        start = np.array([float(r["frame_start"]) for r in rows])
        truth = read_motion(glob.glob(f"{kind}/derivatives/truth/{sub}/*_motion.tsv")[0])[1]
        ref = [r["status"] for r in rows].index("reference")
        err = relative_to(est, ref) - relative_to(truth, ref)
        late = start >= 180
        dt = np.linalg.norm(err[late, :3], axis=1); dr = np.linalg.norm(err[late, 3:], axis=1)
        print(f"{kind} {sub}: realign error after 3 min: translation RMS {np.sqrt(np.mean(dt**2)):.2f} mm "
              f"(max {dt.max():.2f}), rotation RMS {np.sqrt(np.mean(dr**2)):.2f} deg (max {dr.max():.2f})")
PY
/usr/bin/python3 "$HERE/compare_realign_bpnd.py" deriv_still deriv_moved ${ASSERT:+--assert "$ASSERT"} \
  ${REGIONS:+--regions "$REGIONS"}
if [ "${POSED:-0}" = 1 ]; then
  echo "--- posed: motion-free, held in the reference frame's true pose for the whole scan ---"
  for m in deriv_moved/sub-*/pet/*_motion.tsv; do
    sub=$(basename "$(dirname "$(dirname "$m")")")
    /usr/bin/python3 - "$m" "moved/derivatives/truth/$sub/${sub}_trc-"*"_motion.tsv" "pose_$sub.tsv" <<'PY'
import csv, sys
est = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
truth = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
ref = [r["status"] for r in est].index("reference")
cols = ["tx", "ty", "tz", "rx", "ry", "rz"]
with open(sys.argv[3], "w") as f:
    f.write("\t".join(["frame"] + cols) + "\n")
    for i in range(len(truth)):
        f.write("\t".join([str(i + 1)] + [truth[ref][c] for c in cols]) + "\n")
print(f"{sys.argv[1].split('/')[1]}: pose of frame {ref + 1}:", " ".join(truth[ref][c] for c in cols))
PY
    "$EXE" simulate --out posed "${common[@]}" --participant-label "$sub" --motion-file "pose_$sub.tsv"
  done
  "$EXE" run --bids posed --out deriv_posed --config config.json -q
  echo "posed vs motion-free (the pose alone):"
  /usr/bin/python3 "$HERE/compare_realign_bpnd.py" deriv_still deriv_posed
  echo "moved-then-realigned vs posed (motion-free in the same pose):"
  /usr/bin/python3 "$HERE/compare_realign_bpnd.py" deriv_posed deriv_moved ${POSED_ASSERT:+--assert "$POSED_ASSERT"} \
    ${REGIONS:+--regions "$REGIONS"}
fi
if [ "${ORACLE:-0}" = 1 ]; then
  echo "--- with the TRUE motion (same reference pose; realignment error removed) ---"
  for kind in still moved; do
    /usr/bin/python3 "$HERE/reslice_true_motion.py" "$kind" "deriv_$kind"
    "$EXE" run --bids "$kind" --out "deriv_$kind" --config config.json -q
  done
  /usr/bin/python3 "$HERE/compare_realign_bpnd.py" deriv_still deriv_moved
fi
