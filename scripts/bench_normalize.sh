#!/bin/bash
# Benchmark: petpipe normalize (PET -> T1 rigid + T1 -> MNI affine + demons) against Debian's elastix
# (rigid; affine + B-spline, Mattes MI, 4 levels, 10 mm final grid) on the same synthetic subject:
# Colin27 warped by a known affine + smooth displacement (T1, 1 mm) and a PET-like image moved by a
# known rigid transform (2 mm). Reports wall time and accuracy (mean displacement error in the brain,
# Dice of AAL hippocampus, amygdala and thalamus, PET -> T1 error) for both.
#
#   scripts/bench_normalize.sh [PETPIPE_EXE] [WORKDIR]
#
# Installs elastix with apt-get when it is missing (root or sudo needed). Needs Debian's python3 with
# numpy, scipy and nibabel (/usr/bin/python3) and mricron-data.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exe="${1:-$here/../build/pipeline/petpipe}"
work="${2:-$(mktemp -d /tmp/petpipe_bench_normalize.XXXXXX)}"
py=/usr/bin/python3
tdir="${PETPIPE_TEMPLATE_DIR:-/usr/share/mricron/templates}"

if ! command -v elastix >/dev/null; then
  echo "installing elastix (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y elastix >/dev/null; else sudo apt-get install -y elastix >/dev/null; fi
fi
mkdir -p "$work"
cd "$work"
echo "work directory: $work" >&2
[ -f truth.json ] || $py "$here/bench_normalize.py" make "$work"

# timed CMD...: runs CMD, appends "wall user+sys" seconds to $work/times.txt
timed() {
  local t0 t1 c0 c1
  t0=$(date +%s.%N)
  c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)  # children CPU ticks of this shell
  "$@"
  t1=$(date +%s.%N)
  c1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  echo "$(echo "$t1 - $t0" | bc) $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)" >> times.txt
}
rm -f times.txt

# ---------------------------------------------------------------- petpipe
rm -rf petpipe
timed "$exe" normalize --pet-mean pet_mean.nii.gz --t1 t1.nii.gz --out petpipe --quiet

# ---------------------------------------------------------------- elastix
rm -rf elastix && mkdir -p elastix/pet elastix/t1
common='(FixedInternalImagePixelType "float")
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
(Metric "AdvancedMattesMutualInformation")
(NumberOfHistogramBins 32)
(NumberOfResolutions 4)
(ImageSampler "RandomCoordinate")
(NumberOfSpatialSamples 2048)
(NewSamplesEveryIteration "true")
(BSplineInterpolationOrder 1)
(FinalBSplineInterpolationOrder 3)
(DefaultPixelValue 0)
(WriteResultImage "false")
(HowToCombineTransforms "Compose")
(ResultImageFormat "nii.gz")'
cat > elastix/rigid.txt <<EOF
$common
(Transform "EulerTransform")
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "true")
(AutomaticTransformInitializationMethod "CenterOfGravity")
(MaximumNumberOfIterations 250)
EOF
cat > elastix/affine.txt <<EOF
$common
(Transform "AffineTransform")
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "true")
(AutomaticTransformInitializationMethod "CenterOfGravity")
(MaximumNumberOfIterations 250)
EOF
cat > elastix/bspline.txt <<EOF
$common
(Transform "BSplineTransform")
(FinalGridSpacingInPhysicalUnits 10)
(MaximumNumberOfIterations 500)
EOF
timed elastix -f t1.nii.gz -m pet_mean.nii.gz -p elastix/rigid.txt -out elastix/pet >/dev/null
timed elastix -f "$tdir/ch2.nii.gz" -m t1.nii.gz -p elastix/affine.txt -p elastix/bspline.txt -out elastix/t1 >/dev/null
transformix -def all -tp elastix/pet/TransformParameters.0.txt -out elastix/pet >/dev/null
transformix -def all -tp elastix/t1/TransformParameters.1.txt -out elastix/t1 >/dev/null

# ---------------------------------------------------------------- accuracy and report
pp=$($py "$here/bench_normalize.py" eval "$work" petpipe)
ex=$($py "$here/bench_normalize.py" eval "$work" elastix)
$py - "$pp" "$ex" <<'EOF'
import json, sys
p, e = json.loads(sys.argv[1]), json.loads(sys.argv[2])
(pw, pc), (ew1, ec1), (ew2, ec2) = [tuple(map(float, l.split())) for l in open("times.txt")]
steps = json.load(open("petpipe/pet_mean_normalize.json"))["Configuration"]["normalize"]["timing_s"]
print(f"load average during the run: {open('/proc/loadavg').read().split()[0]}")
print(f"{'':30s} {'petpipe':>10s} {'elastix':>10s}")
print(f"{'wall time, both steps (s)':30s} {pw:10.1f} {ew1 + ew2:10.1f}   ratio petpipe/elastix {pw / (ew1 + ew2):.2f}")
print(f"{'CPU time, both steps (s)':30s} {pc:10.1f} {ec1 + ec2:10.1f}   ratio petpipe/elastix {pc / (ec1 + ec2):.2f}")
print(f"{'  PET -> T1 wall (s)':30s} {steps['pet_to_t1']:10.1f} {ew1:10.1f}")
print(f"{'  T1 -> MNI wall (s)':30s} {steps['t1_to_mni']:10.1f} {ew2:10.1f}   ratio {steps['t1_to_mni'] / ew2:.2f}")
print(f"{'  PET -> T1 CPU (s)':30s} {steps['pet_to_t1_cpu']:10.1f} {ec1:10.1f}")
print(f"{'  T1 -> MNI CPU (s)':30s} {steps['t1_to_mni_cpu']:10.1f} {ec2:10.1f}   ratio {steps['t1_to_mni_cpu'] / ec2:.2f}")
print(f"{'T1->MNI mean error (mm)':28s} {p['t1_to_mni_mean_error_mm']:10.3f} {e['t1_to_mni_mean_error_mm']:10.3f}")
print(f"{'T1->MNI 95th pct error (mm)':28s} {p['t1_to_mni_p95_error_mm']:10.3f} {e['t1_to_mni_p95_error_mm']:10.3f}")
print(f"{'PET->T1 mean error (mm)':28s} {p['pet_to_t1_mean_error_mm']:10.3f} {e['pet_to_t1_mean_error_mm']:10.3f}")
for k in p["dice"]:
    print(f"{'Dice ' + k:28s} {p['dice'][k]:10.3f} {e['dice'][k]:10.3f}")
EOF
