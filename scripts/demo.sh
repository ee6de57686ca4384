#!/usr/bin/env bash
# petpipe demo: builds petpipe if needed and runs it end to end on built-in data.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${PETPIPE_BUILD_DIR:-build}
OUT=${1:-demo-output}
if [ ! -x "$BUILD_DIR/pipeline/petpipe" ]; then scripts/setup.sh --build-dir "$BUILD_DIR"; fi
PETPIPE="$BUILD_DIR/pipeline/petpipe"
export PETPIPE_ATLAS_DIR="$PWD/atlases"
mkdir -p "$OUT"

echo "== The installed AAL atlas and Colin27 template (Debian mricron-data)"
"$PETPIPE" info /usr/share/mricron/templates/aal.nii.gz
"$PETPIPE" info /usr/share/mricron/templates/ch2better.nii.gz

echo "== A small synthetic [11C]carfentanil cohort with known truth (4 subjects, 4 mm, noise and motion)"
rm -rf "$OUT/sim"
"$PETPIPE" simulate --out "$OUT/sim" --tracer carfentanil --subjects 4 --voxel-size 4 --t1-voxel-size 2 \
  --noise 0.3 --motion --seed 1
"$PETPIPE" info "$OUT/sim" --brief
echo "(truth: $OUT/sim/derivatives/truth)"
