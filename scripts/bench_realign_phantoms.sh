#!/bin/bash
# Issue 5's accuracy criteria on the realignment phantoms of docs/BENCHMARKS.md ("realign: the issue's
# criteria on 13 phantoms"): simulates each phantom (petpipe simulate, fixed seeds), runs
# `petpipe realign --estimate-only` with the defaults (plus REALIGN_ARGS), and prints the error after the
# first 3 minutes, RMS and largest frame: against 0 for the motion-free phantoms, against the simulated
# motion relative to the reference frame for the moved ones. With FLOOR=1 the motion-free noisy phantoms
# also get the single-frame noise floor (scripts/realign_noise_floor.py against their noise-free twins).
# Usage: scripts/bench_realign_phantoms.sh PETPIPE_EXE WORKDIR
# Environment: REALIGN_ARGS (extra realign options, e.g. "--model-prior 0"), ONLY ("d3n pv4m ..."),
# FLOOR=1. The phantoms are kept in WORKDIR/sim and reused; WORKDIR/out-* is redone.
set -euo pipefail
EXE=$(readlink -f "$1")
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK/sim"
cd "$WORK"
PV5=(--partial-volume --psf-fwhm 5)
# name | simulate options | reference frame for realign ("" = automatic) | moved (1) or motion-free (0)
phantoms=(
  "d2|--noise 0 --seed 4||0"
  "d2n|--noise 0.3 --seed 4||0"
  "nm|--voxel-size 3 --noise 0.3 --seed 5||0"
  "pv4|--voxel-size 4 --noise 0 --seed 3 ${PV5[*]}||0"
  "d3|--voxel-size 3 --noise 0 --seed 8 ${PV5[*]}||0"
  "d3n|--voxel-size 3 --noise 0.3 --seed 8 ${PV5[*]}||0"
  "d2m0|--tracer madam --voxel-size 3 --noise 0 --seed 6 ${PV5[*]}||0"
  "d2m|--tracer madam --voxel-size 3 --noise 0.2 --seed 6 ${PV5[*]}||0"
  "pv4m|--voxel-size 4 --noise 0 --seed 5 ${PV5[*]} --motion|9|1"
  "pv4m3|--voxel-size 4 --noise 0 --seed 3 ${PV5[*]} --motion|9|1"
  "pv4m9|--voxel-size 4 --noise 0 --seed 9 ${PV5[*]} --motion|9|1"
  "pv3m|--voxel-size 3 --noise 0 --seed 5 ${PV5[*]} --motion|9|1"
  "pv3mn|--voxel-size 3 --noise 0.3 --seed 7 ${PV5[*]} --motion|9|1"
  "hr|--voxel-size 1.22 --noise 0.3 --seed 2 --motion||1"
)
twin() {  # noise-free twin of a noisy motion-free phantom, for the floor
  case $1 in d2n) echo d2 ;; d3n) echo d3 ;; d2m) echo d2m0 ;; nm) echo nm0 ;; *) echo "" ;; esac
}
simulate() {  # name, options
  if [ ! -f "sim/$1/sub-01/pet/.done" ]; then
    rm -rf "sim/$1"
    # shellcheck disable=SC2086
    "$EXE" simulate --out "sim/$1" --subjects 1 --no-t1 -q $2
    touch "sim/$1/sub-01/pet/.done"
  fi
}
tag=out-$(echo "${REALIGN_ARGS:-default}" | tr -c 'a-z0-9.' '_')
rm -rf "$tag"
printf '%-7s %-6s %-34s %s\n' phantom wall "translation mm RMS (largest)" "rotation deg RMS (largest)"
for entry in "${phantoms[@]}"; do
  IFS='|' read -r name opts ref moved <<<"$entry"
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  simulate "$name" "$opts"
  pet=$(ls "sim/$name"/sub-01/pet/*_pet.nii.gz)
  args=(--pet "$pet" --out "$tag/$name" --estimate-only -q)
  if [ -n "$ref" ]; then args+=(--ref-frame "$ref"); fi
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$EXE" realign "${args[@]}" ${REALIGN_ARGS:-}
  t1=$(date +%s.%N)
  truth=""
  if [ "$moved" = 1 ]; then truth=$(ls "sim/$name"/derivatives/truth/sub-01/*_motion.tsv); fi
  PYTHONPATH="$HERE" /usr/bin/python3 - "$name" "$(echo "$t1 - $t0" | bc)" "$tag/$name" "$truth" <<'PY'
import glob, sys
import numpy as np
from motion_convention import read_motion, relative_to
name, wall, out, truth = sys.argv[1:5]
rows, est = read_motion(glob.glob(f"{out}/*_motion.tsv")[0])
err = est.copy()
if truth:  # against the truth relative to the reference frame petpipe used
    ref = [r["status"] for r in rows].index("reference")
    err = relative_to(est, ref) - relative_to(read_motion(truth)[1], ref)
late = np.array([float(r["frame_start"]) >= 180 for r in rows])
t = np.linalg.norm(err[late, :3], axis=1)
r = np.linalg.norm(err[late, 3:], axis=1)
print(f"{name:7s} {float(wall):5.1f}s {np.sqrt(np.mean(t**2)):.3f} ({t.max():.3f}){'':21s}"
      f"{np.sqrt(np.mean(r**2)):.3f} ({r.max():.3f})")
PY
  if [ "${FLOOR:-0}" = 1 ] && [ -n "$(twin "$name")" ]; then
    clean=$(twin "$name")
    case $clean in
      nm0) simulate nm0 "--voxel-size 3 --noise 0 --seed 5" ;;
      *) for e in "${phantoms[@]}"; do IFS='|' read -r n o _ _ <<<"$e"; if [ "$n" = "$clean" ]; then simulate "$n" "$o"; fi; done ;;
    esac
    printf '%-7s noise floor: ' "$name"
    /usr/bin/python3 "$HERE/realign_noise_floor.py" "$(ls "sim/$clean"/sub-01/pet/*_pet.nii.gz)" "$pet" | tail -1
  fi
done
