#!/bin/bash
# Benchmark of petpipe realign against Debian's elastix on an HRRT-sized 16-frame phantom with known
# motion (scripts/bench_realign_phantom.py). elastix is installed here if missing; it is never a
# runtime dependency of petpipe. Usage:
#   scripts/bench_realign.sh PETPIPE_EXE [WORKDIR]   (e.g. build/pipeline/petpipe /tmp/realign_bench)
# Prints per-frame errors against the truth and the wall times; both tools use the same 2 threads.
set -euo pipefail
EXE=$(readlink -f "$1")
WORK=${2:-/tmp/realign_bench}
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${THREADS:-2}
mkdir -p "$WORK"
if ! command -v elastix >/dev/null; then
  apt-get install -y elastix >/dev/null
fi
# PHANTOM_ARGS: e.g. "--voxel 2.4375 --size 128 128 104" for the HRRT field of view at 2x downsampling.
DATA=$WORK/data${PHANTOM_ARGS:+_$(echo "$PHANTOM_ARGS" | tr -c 'a-z0-9.' '_')}
if [ ! -f "$DATA/sub-bench_pet.nii" ]; then
  /usr/bin/python3 "$HERE/bench_realign_phantom.py" "$DATA" ${PHANTOM_ARGS:-}
fi

# petpipe: full run (estimation + reslicing + outputs) and estimation only.
rm -rf "$WORK/petpipe" "$WORK/petpipe_est"
echo "data: $DATA"
t0=$(date +%s.%N)
"$EXE" realign --pet "$DATA/sub-bench_pet.nii" --out "$WORK/petpipe_est" --estimate-only --ref-frame 16 \
  --threads "$THREADS" --quiet
t1=$(date +%s.%N)
"$EXE" realign --pet "$DATA/sub-bench_pet.nii" --out "$WORK/petpipe" --ref-frame 16 --threads "$THREADS" --quiet
t2=$(date +%s.%N)

# elastix: every frame to the same reference frame (16), standard rigid parameter file.
cat > "$WORK/rigid.txt" <<'PAR'
(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(FixedImageDimension 3)
(MovingImageDimension 3)
(UseDirectionCosines "true")
(Registration "MultiResolutionRegistration")
(Interpolator "BSplineInterpolator")
(ResampleInterpolator "FinalBSplineInterpolator")
(Resampler "DefaultResampler")
(FixedImagePyramid "FixedSmoothingImagePyramid")
(MovingImagePyramid "MovingSmoothingImagePyramid")
(Optimizer "AdaptiveStochasticGradientDescent")
(Transform "EulerTransform")
(Metric "AdvancedMattesMutualInformation")
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "false")
(HowToCombineTransforms "Compose")
(NumberOfHistogramBins 32)
(ErodeMask "false")
(NumberOfResolutions 3)
(MaximumNumberOfIterations 250)
(NumberOfSpatialSamples 2048)
(NewSamplesEveryIteration "true")
(ImageSampler "Random")
(BSplineInterpolationOrder 1)
(FinalBSplineInterpolationOrder 3)
(DefaultPixelValue 0)
(WriteResultImage "false")
(ResultImagePixelType "float")
(ResultImageFormat "nii")
PAR
rm -rf "$WORK/elastix"
mkdir -p "$WORK/elastix"
t3=$(date +%s.%N)
for f in $(seq -w 1 15); do
  mkdir -p "$WORK/elastix/f$f"
  elastix -f "$DATA/frame16.nii" -m "$DATA/frame$f.nii" -p "$WORK/rigid.txt" -out "$WORK/elastix/f$f" \
    -threads "$THREADS" >/dev/null
done
t4=$(date +%s.%N)

PYTHONPATH="$HERE" /usr/bin/python3 - "$WORK" "$DATA" <<'PY'
import sys, os, re, numpy as np
from motion_convention import read_motion, relative_to, rot
work, data = sys.argv[1], sys.argv[2]
truth_rows, T = read_motion(os.path.join(data, "truth.tsv"))
starts = np.array([float(r["frame_start"]) for r in truth_rows])
ref = 15
rel = relative_to(T, ref)  # truth relative to the reference frame, centre (0,0,0): T_f o T_ref^-1
def errors(est, name, frames):
    dt = np.linalg.norm(est[frames, :3] - rel[frames, :3], axis=1)
    dr = np.linalg.norm(est[frames, 3:] - rel[frames, 3:], axis=1)
    print(f"{name:8s} frames {frames[0]+1}-{frames[-1]+1}: translation RMS {np.sqrt(np.mean(dt**2)):.3f} mm "
          f"(max {dt.max():.3f}), rotation RMS {np.sqrt(np.mean(dr**2)):.3f} deg (max {dr.max():.3f})")
# petpipe motion table (grid centre = (0,0,0) in this phantom)
import csv
rows = list(csv.DictReader(open(os.path.join(work, "petpipe", "sub-bench_motion.tsv")), delimiter="\t"))
pp = np.array([[float(r[k]) for k in ("tx","ty","tz","rx","ry","rz")] for r in rows])
# elastix: (TransformParameters rx ry rz tx ty tz) radians, centre of rotation from the file
el = np.zeros_like(pp)
for f in range(15):
    txt = open(os.path.join(work, "elastix", f"f{f+1:02d}", "TransformParameters.0.txt")).read()
    p = [float(x) for x in re.search(r"\(TransformParameters ([^)]*)\)", txt).group(1).split()]
    c = np.array([float(x) for x in re.search(r"\(CenterOfRotationPoint ([^)]*)\)", txt).group(1).split()])
    R = rot(*np.degrees(p[:3]))
    t = np.array(p[3:]) + c - R @ c  # re-centred at (0,0,0): R (x - c) + c + t = R x + (t + c - R c)
    el[f] = np.concatenate([t, np.degrees(p[:3])])
late = [f for f in range(16) if starts[f] >= 180]
errors(pp, "petpipe", late); errors(el, "elastix", late)
errors(pp, "petpipe", list(range(16))); errors(el, "elastix", list(range(16)))
PY
python3 -c "
t0,t1,t2,t3,t4=$t0,$t1,$t2,$t3,$t4
print(f'petpipe realign --estimate-only: {t1-t0:.1f} s wall; full run (estimate + reslice + write): {t2-t1:.1f} s')
print(f'elastix, 15 frame pairs: {t4-t3:.1f} s wall ({(t4-t3)/15:.2f} s per pair)')
print(f'per frame: petpipe estimate-only {(t1-t0)/16:.2f} s, ratio elastix/petpipe {(t4-t3)/15/((t1-t0)/16):.1f}x')
"
