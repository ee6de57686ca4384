#!/bin/bash
# HRRT-size realignment timing (issue 5: a 16-frame HRRT scan in <= 60 s wall on 2 cores): simulates a
# carfentanil subject at the HRRT's 1.22 mm voxels with motion and noise, zero-pads it (centred, with
# nibabel) to the HRRT's full field of view, 256 x 256 x 207 voxels x 16 frames (868 MB of float32), and
# times `petpipe realign` (read .nii.gz, estimate, B-spline reslice, write .nii.gz) with /usr/bin/time -v.
# Usage: scripts/bench_realign_hrrt.sh PETPIPE_EXE WORKDIR [more PETPIPE_EXE to time in turn]
# Environment: THREADS (2), REPEAT (1: runs per executable, alternating).
set -euo pipefail
WORK=$2
EXES=("$(readlink -f "$1")")
for e in "${@:3}"; do EXES+=("$(readlink -f "$e")"); done
mkdir -p "$WORK"
cd "$WORK"
PET=hrrtfull/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz
if [ ! -f "$PET" ]; then
  rm -rf hrrt hrrtfull
  "${EXES[0]}" simulate --out hrrt --subjects 1 --voxel-size 1.22 --noise 0.3 --motion --seed 2 --no-t1 -q
  mkdir -p hrrtfull/sub-01/pet
  /usr/bin/python3 - <<'PY'
import shutil
import nibabel as nib
import numpy as np
src = "hrrt/sub-01/pet/sub-01_trc-carfentanil_pet"
im = nib.load(src + ".nii.gz")
d = np.asarray(im.dataobj, dtype=np.float32)
full = (256, 256, 207)
o = [(f - s) // 2 for f, s in zip(full, d.shape[:3])]
out = np.zeros(full + (d.shape[3],), np.float32)
out[o[0]:o[0] + d.shape[0], o[1]:o[1] + d.shape[1], o[2]:o[2] + d.shape[2]] = d
aff = im.affine.copy()
aff[:3, 3] -= aff[:3, :3] @ np.array(o)
img = nib.Nifti1Image(out, aff, im.header)
img.header.set_data_dtype(np.float32)
nib.save(img, "hrrtfull/sub-01/pet/sub-01_trc-carfentanil_pet.nii.gz")
shutil.copy(src + ".json", "hrrtfull/sub-01/pet/")
print(f"padded {d.shape} to {out.shape}")
PY
fi
for _ in $(seq "${REPEAT:-1}"); do
  for exe in "${EXES[@]}"; do
    /usr/bin/time -v "$exe" realign --pet "$PET" --out hrrt_rl --threads "${THREADS:-2}" -q --force 2>time.txt
    printf '%s: wall %s, user %s s, peak %s kB\n' "$exe" \
      "$(grep 'Elapsed (wall' time.txt | awk '{print $NF}')" "$(grep 'User time' time.txt | awk '{print $NF}')" \
      "$(grep 'Maximum resident' time.txt | awk '{print $NF}')"
  done
done
