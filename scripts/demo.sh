#!/usr/bin/env bash
# petpipe demo: builds petpipe if needed and runs the whole pipeline on built-in synthetic data:
# a two-group [11C]carfentanil cohort with a planted +30 % BPND effect in hippocampus and thalamus
# (examples/demo_cohort.json), processed subject by subject (realign, normalize, SRTM, MNI, smoothing,
# ROIs) and then as a group (voxelwise GLM with FDR and clusters, ROI statistics). A few minutes on 2 cores.
# Usage: scripts/demo.sh [OUTPUT_DIR]   (default demo-output/)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${PETPIPE_BUILD_DIR:-build}
OUT=${1:-demo-output}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
if [ ! -x "$BUILD_DIR/pipeline/petpipe" ]; then scripts/setup.sh --build-dir "$BUILD_DIR"; fi
PETPIPE="$BUILD_DIR/pipeline/petpipe"
export PETPIPE_ATLAS_DIR="$PWD/atlases"
mkdir -p "$OUT"
start=$(date +%s)

echo "== The installed AAL atlas and Colin27 template (Debian mricron-data)"
"$PETPIPE" info /usr/share/mricron/templates/aal.nii.gz

echo
echo "== 1. Simulate: 8 [11C]carfentanil subjects (4 low, 4 high: +30 % BPND in hippocampus and thalamus)"
rm -rf "$OUT/bids" "$OUT/derivatives"
"$PETPIPE" simulate --config examples/demo_cohort.json --out "$OUT/bids" --t1-voxel-size 2
"$PETPIPE" info "$OUT/bids" --brief | head -20

echo
echo "== 2. Process every subject: petpipe run (resumable; rerun it and every stage is skipped)"
"$PETPIPE" run --bids "$OUT/bids" --out "$OUT/derivatives" --config examples/demo_pipeline.json --quiet
column -t -s $'\t' "$OUT/derivatives/run_summary.tsv" | cut -c1-100

echo
echo "== 3. Group statistics: petpipe group (design \"group\", contrast high > low, FDR q 0.05)"
"$PETPIPE" group --derivatives "$OUT/derivatives" --config examples/demo_pipeline.json --quiet
echo "ROI statistics of the smoothed MNI BPND (group effect, high - low):"
awk -F'\t' 'NR==1 || $2=="group"' "$OUT/derivatives/group/roi/roi_effects.tsv" | cut -f1,4,6,7,8,9 | column -t
echo
echo "Voxelwise clusters (cluster-forming p < 0.001, RFT):"
cut -f1-12 "$OUT/derivatives/group/voxelwise/contrast-highxgtxlow_clusters.tsv" | column -t -s $'\t' | head -8

echo
echo "Done in $(( $(date +%s) - start )) s. Look at:"
echo "  $OUT/derivatives/sub-01/sub-01_trc-carfentanil_report.html   (subject QC report)"
echo "  $OUT/derivatives/group/group_report.html                     (group report)"
echo "  $OUT/derivatives/group/voxelwise/                            (t, p, FDR maps, cluster table)"
echo "  $OUT/bids/derivatives/truth/                                 (the simulation's known truth)"
