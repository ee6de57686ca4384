#!/usr/bin/env bash
# petpipe validation study: the design of Turtonen et al. 2021 on synthetic cohorts, from raw dynamic
# scans to group contrasts, and a report (docs/VALIDATION.md with figures in docs/validation/) in which
# every number comes from this run.
#
#   [11C]carfentanil, N = 39 (16 secure, 14 avoidant, 9 ambivalent), secure > insecure BPND planted in
#   hippocampus, amygdala, thalamus and right lateral prefrontal cortex (examples/validation/carfentanil_attachment.json);
#   [11C]MADAM, N = 37, no group effect (examples/validation/madam_null.json), simulated --null-cohorts
#   times with different seeds; --null-seeds replicate analyses draw 37 subjects (class sizes kept)
#   from that pool and test them as the study would.
# Each cohort: petpipe simulate -> petpipe run (realign, normalize, SRTM, MNI, 8 mm smoothing, ROIs) ->
# petpipe group (voxelwise GLM, FDR, RFT clusters, ROI ANOVA) -> petpipe glm (three-class ROI ANOVA,
# Tukey; carfentanil: TFCE with 1000 permutations, 100 with --quick) -> scripts/validation_report.py
# (truth comparison, report).
#
# Usage: scripts/validate.sh [--quick] [--out DIR] [--report FILE] [--null-cohorts K] [--null-seeds S]
#   --quick        the reduced CI version: small cohorts at 6 mm, affine normalisation, 3 null replicates;
#                  asserts that the planted effect is found and that the null cohort has no FDR-significant
#                  voxel; the report goes to DIR/VALIDATION.md unless --report is given
#   --out DIR      work directory (default validation-output, or validation-quick with --quick); reruns
#                  resume: finished subjects and analyses are not redone
#   --report FILE  the report (default docs/VALIDATION.md; figures in a folder named after it)
#   --null-cohorts K  MADAM cohorts of 37 simulated for the null pool (default 2)
#   --null-seeds S    null replicate analyses drawn from the pool (default 20)
#   --jobs N       petpipe run processes per cohort, each on its own subjects (default: the number of cores)
# Environment: PETPIPE (petpipe binary; default build/pipeline/petpipe, built if missing).
set -euo pipefail
# The whole script is one function, read completely before it runs, so editing this file while a long
# study is running cannot change what that run executes.
main() {
SRC=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
OUT=""
REPORT=""
NULL_COHORTS=2
NULL_SEEDS=20
JOBS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    --report) REPORT=$2; shift ;;
    --null-cohorts) NULL_COHORTS=$2; shift ;;
    --null-seeds) NULL_SEEDS=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "validate.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  OUT=${OUT:-validation-quick}
  REPORT=${REPORT:-$OUT/VALIDATION.md}
  [ "$NULL_COHORTS" = 2 ] && NULL_COHORTS=1
  [ "$NULL_SEEDS" = 20 ] && NULL_SEEDS=3
else
  OUT=${OUT:-validation-output}
  REPORT=${REPORT:-$SRC/docs/VALIDATION.md}
fi
PY=/usr/bin/python3
if [ -z "${PETPIPE:-}" ]; then
  PETPIPE="$SRC/build/pipeline/petpipe"
  [ -x "$PETPIPE" ] || "$SRC/scripts/setup.sh" --build-dir "$SRC/build"
fi
export PETPIPE_ATLAS_DIR=${PETPIPE_ATLAS_DIR:-$SRC/atlases}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CONF="$OUT/config"
mkdir -p "$CONF"
TIMING="$OUT/timing.tsv"
[ -f "$TIMING" ] || printf 'step\tseconds\tfinished\n' > "$TIMING"
t_all=$(date +%s)

# Effective configurations: the study files, or their reduced versions for --quick.
"$PY" "$SRC/scripts/validation_report.py" configs --src "$SRC" --out "$CONF" --quick "$QUICK"

timed() {  # timed NAME command...: run, and append the wall time to timing.tsv
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "== $name"
  set +e
  "$@"
  rc=$?
  set -e
  printf '%s\t%s\t%s\n' "$name" "$(( $(date +%s) - t0 ))" "$(date -u +%FT%TZ)" >> "$TIMING"
  return $rc
}

simulate() {  # simulate CONFIG DIR [extra args]: skipped when DIR holds the same simulation
  local cfg=$1 dir=$2
  shift 2
  local key
  key=$(cat "$cfg"; echo "$*")
  if [ -f "$dir/.validate_simulation" ] && [ "$(cat "$dir/.validate_simulation")" = "$key" ]; then
    echo "   $dir: already simulated"
    return 0
  fi
  rm -rf "$dir"
  "$PETPIPE" simulate --config "$cfg" --out "$dir" -q "$@"
  printf '%s' "$key" > "$dir/.validate_simulation"
}

process() {  # process COHORT_DIR: every subject (resumable), then the group analyses
  local d=$1
  # A failed subject is recorded by petpipe run (status file) and reported; the group analyses then use
  # the complete subjects (--allow-missing) and the report lists what was missing. JOBS processes share the
  # subjects round-robin (disjoint --participant-label lists), each with cores/JOBS threads.
  local ids threads j pids=()
  ids=$(awk -F'\t' 'NR > 1 { sub(/^sub-/, "", $1); print $1 }' "$d/bids/participants.tsv")
  threads=$(( $(nproc) / JOBS ))
  [ "$threads" -ge 1 ] || threads=1
  for j in $(seq 0 $((JOBS - 1))); do
    local mine
    mine=$(echo "$ids" | awk -v j="$j" -v n="$JOBS" '(NR - 1) % n == j' | tr '\n' ' ')
    [ -n "${mine// /}" ] || continue
    # shellcheck disable=SC2086
    "$PETPIPE" run --bids "$d/bids" --out "$d/derivatives" --config "$CONF/pipeline.json" -q \
      --threads "$threads" --participant-label $mine &
    pids+=($!)
  done
  for j in "${pids[@]}"; do wait "$j" || true; done
  # One last pass over every subject: nothing is redone, and run_summary.tsv lists them all.
  "$PETPIPE" run --bids "$d/bids" --out "$d/derivatives" --config "$CONF/pipeline.json" -q || true
  "$PY" "$SRC/scripts/validation_report.py" design --participants "$d/bids/participants.tsv" \
    --out "$d/participants_design.tsv"
  "$PETPIPE" group --derivatives "$d/derivatives" --config "$CONF/pipeline.json" \
    --participants "$d/participants_design.tsv" --allow-missing --force -q
  # Three-class ROI ANOVA (class + age + sex, nested), Tukey HSD and class means.
  "$PETPIPE" glm --roi-table "$d/derivatives/group/roi_long_BPND.tsv" --participants "$d/participants_design.tsv" \
    --design "class + age + sex" --contrast "class=class" --out "$d/roi_class3" --force -q
}

# TFCE with Freedman-Lane permutation FWE on the carfentanil contrast (resumable).
tfce() {
  local g=$OUT/carfentanil/derivatives/group dir=$OUT/carfentanil/tfce mask=()
  if [ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$TFCE_PERMUTATIONS" ]; then return 0; fi
  rm -rf "$dir"
  [ -f "$g/brain_mask.nii.gz" ] && mask=(--mask "$g/brain_mask.nii.gz")
  "$PETPIPE" glm --maps-list "$g/maps.tsv" --participants "$g/participants.tsv" --design "attachment + age + sex" \
    --contrast "secure_gt_insecure=secure>insecure" "${mask[@]}" --fdr 0.025 --cluster-p 0.001 \
    --tfce --permutations "$TFCE_PERMUTATIONS" --seed 1 --out "$dir" -q
  echo "$TFCE_PERMUTATIONS" > "$dir/.done"
}
TFCE_PERMUTATIONS=1000
[ "$QUICK" = 1 ] && TFCE_PERMUTATIONS=100

timed "simulate carfentanil" simulate "$CONF/carfentanil.json" "$OUT/carfentanil/bids"
timed "process carfentanil" process "$OUT/carfentanil"
timed "TFCE carfentanil" tfce
for k in $(seq 1 "$NULL_COHORTS"); do
  timed "simulate madam-$k" simulate "$CONF/madam.json" "$OUT/madam-$k/bids" --seed $((36 + k))
  timed "process madam-$k" process "$OUT/madam-$k"
done

# Null replicates: S analyses of 37 subjects drawn from the MADAM pool (class sizes kept).
null_replicates() {
  local s dir
  for s in $(seq 1 "$NULL_SEEDS"); do
    dir="$OUT/null/seed-$(printf %02d "$s")"
    # a replicate is redone when the pool changed (another --null-cohorts)
    if [ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$NULL_COHORTS" ]; then continue; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    "$PY" "$SRC/scripts/validation_report.py" draw --work "$OUT" --cohorts "$NULL_COHORTS" --seed "$s" --out "$dir"
    "$PETPIPE" glm --maps-list "$dir/maps.tsv" --participants "$dir/participants.tsv" --design "attachment + age + sex" \
      --contrast "secure_gt_insecure=secure>insecure" --contrast "insecure_gt_secure=insecure>secure" \
      --fdr 0.025 --cluster-p 0.001 --out "$dir/voxelwise" -q
    "$PETPIPE" glm --roi-table "$dir/roi_long.tsv" --participants "$dir/participants.tsv" \
      --design "attachment + age + sex" --contrast "secure_gt_insecure=secure>insecure" --out "$dir/roi" -q
    echo "$NULL_COHORTS" > "$dir/.done"
    echo "   null replicate $s of $NULL_SEEDS done"
  done
}
timed "null replicates" null_replicates

total=$(( $(date +%s) - t_all ))
printf '%s\t%s\t%s\n' "validate.sh (this invocation)" "$total" "$(date -u +%FT%TZ)" >> "$TIMING"
"$PY" "$SRC/scripts/validation_report.py" report --src "$SRC" --work "$OUT" --report "$REPORT" \
  --petpipe "$PETPIPE" --quick "$QUICK" --null-cohorts "$NULL_COHORTS" --null-seeds "$NULL_SEEDS" --jobs "$JOBS"
echo "report: $REPORT"
if [ "$QUICK" = 1 ]; then
  "$PY" "$SRC/scripts/validation_report.py" check --work "$OUT"
fi
}
main "$@"; exit $?
