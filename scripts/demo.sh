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
