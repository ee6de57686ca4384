#!/usr/bin/env bash
# `petpipe slurm` against a real single-node Slurm (scripts/slurm_local.sh): a small phantom cohort with
# one deliberately broken subject (its sidecar's FrameDuration corrupted); 5 subjects at 6 mm, affine
# normalisation and a one-sample group design (4 complete subjects leave the GLM 3 degrees of freedom).
#   1. submit: the others complete, the broken one fails with its error in its status file and in
#      `petpipe slurm --status`, and the group job (afterok) is cancelled by Slurm, writing nothing;
#   2. resubmit with --allow-missing: only the broken subject is submitted again (fails again), and the
#      group job runs on the complete subjects, leaving the broken one out;
#   3. fix the input and resubmit: only that subject runs, it completes, the group job runs on the whole
#      cohort, and --status reports every subject complete;
#   4. a running task killed with SIGKILL (scancel --signal=KILL) and resubmitted resumes from its recorded
#      stages to outputs equal to those of the uninterrupted run.
# Usage: slurm_cohort.sh PETPIPE_EXE SOURCE_DIR   (exit 77 = skipped: Slurm/munge not installed)
set -euo pipefail
PETPIPE=$(readlink -f "$1")
SRC=$(readlink -f "$2")
PY=/usr/bin/python3
for t in slurmctld slurmd munged sbatch scontrol squeue; do
  if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$t" ]; then
    echo "SKIP: $t not installed (scripts/setup.sh installs slurm-wlm and munge)"
    exit 77
  fi
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to start munged and slurmd"; exit 77; }

W=$(mktemp -d /tmp/petpipe-slurm-cohort.XXXXXX)
export PETPIPE_SLURM_DIR=$W/cluster
export PETPIPE_SLURM_PORT=${PETPIPE_SLURM_TEST_PORT:-6947}  # apart from a developer's own local cluster
LOCAL="$SRC/scripts/slurm_local.sh"
ok=0
cleanup() {
  "$LOCAL" stop >/dev/null 2>&1 || true
  if [ "$ok" = 1 ]; then rm -rf "$W"; else echo "(work directory kept: $W)"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$W"/out/slurm/logs/*; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  exit 1
}
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

"$LOCAL" start
eval "$("$LOCAL" env)"

# A small cohort: 5 subjects at 6 mm (PET and T1).
"$PETPIPE" simulate --out "$W/bids" --tracer carfentanil --subjects 5 --voxel-size 6 --t1-voxel-size 6 \
  --noise 0.1 --seed 11 --quiet
subjects=$(cd "$W/bids" && ls -d sub-* | sed 's/^sub-//' | sort)
[ "$(echo "$subjects" | wc -l)" = 5 ] || fail "simulate made $(echo "$subjects" | wc -l) subjects, not 5"
broken=$(echo "$subjects" | tail -n 1)
sidecar=$(ls "$W/bids/sub-$broken"/pet/*_pet.json)
cp "$sidecar" "$W/sidecar.orig"
"$PY" - "$sidecar" <<'EOF'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["FrameDuration"][2] = -j["FrameDuration"][2]
json.dump(j, open(p, "w"), indent=2)
EOF
cat > "$W/config.json" <<'EOF'
{"tracer": "carfentanil", "normalize": {"deformable": false, "working_spacing_mm": 4},
 "group": {"design": "1", "contrasts": ["1"]}}
EOF

OUT=$W/out
submit() { "$PETPIPE" slurm --bids "$W/bids" --out "$OUT" --config "$W/config.json" \
  --cpus-per-task 1 --mem 2G --time 00:15:00 --max-parallel 2 "$@"; }
wait_idle() {  # until the queue is empty (at most 600 s)
  for _ in $(seq 1200); do
    [ -z "$(squeue -h -o %i)" ] && return 0
    sleep 0.5
  done
  squeue
  fail "jobs still queued or running after 600 s"
}
status_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$1"; }
status_file() { ls "$OUT/sub-$1"/sub-"$1"_*_status.json 2>/dev/null | head -n 1; }
job_state() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2; }
last_job() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["submissions"][-1][sys.argv[2]])' \
  "$OUT/slurm/submissions.json" "$1"; }

echo "== 1. submit the cohort (sub-$broken broken)"
t0=$(date +%s)
submit | tee "$W/submit1.txt"
array1=$(last_job array_job); group1=$(last_job group_job)
wait_idle
echo "   cohort done in $(( $(date +%s) - t0 )) s"
for s in $subjects; do
  f=$(status_file "$s")
  [ -n "$f" ] || fail "sub-$s has no status file"
  if [ "$s" = "$broken" ]; then
    check "sub-$s failed" test "$(status_of "$f")" = failed
    check "sub-$s error names the sidecar and the bad duration" grep -Eq "_pet.json: .*duration" "$f"
  else
    check "sub-$s complete" test "$(status_of "$f")" = complete
  fi
  check "sub-$s has its own log" test -s "$(ls "$OUT"/slurm/logs/sub-"$s"_"$array1"_*.log)"
done
check "group job $group1 cancelled (dependency never satisfied)" test "$(job_state "$group1")" = CANCELLED
check "no group results" test ! -e "$OUT/group"
"$PETPIPE" slurm --status --out "$OUT" --bids "$W/bids" | tee "$W/status1.txt"
check "status: sub-$broken failed with its error" grep -Eq "^$broken +carfentanil +failed .*_pet.json: .*duration" "$W/status1.txt"
check "status: summary" grep -q "summary: 4 complete, 1 failed, 0 running, 0 queued, 0 not run" "$W/status1.txt"
check "status: group job cancelled" grep -q "group job $group1 (submission 1): CANCELLED (DependencyNeverSatisfied)" "$W/status1.txt"

echo "== 2. resubmit with --allow-missing (sub-$broken still broken)"
submit --allow-missing | tee "$W/submit2.txt"
check "only sub-$broken resubmitted" grep -q "1 subject ($broken)" "$W/submit2.txt"
group2=$(last_job group_job)
wait_idle
check "sub-$broken failed again" test "$(status_of "$(status_file "$broken")")" = failed
check "group job $group2 completed" test "$(job_state "$group2")" = COMPLETED
check "group results written" test -s "$OUT/group/maps.tsv"
check "group left sub-$broken out" bash -c "! grep -q 'sub-$broken' '$OUT/group/maps.tsv'"
check "group has the 4 complete subjects" test "$(grep -c '^sub-' "$OUT/group/maps.tsv")" = 4

echo "== 3. fix sub-$broken's sidecar and resubmit"
cp "$W/sidecar.orig" "$sidecar"
rm -rf "$OUT/group"
submit | tee "$W/submit3.txt"
check "only sub-$broken resubmitted" grep -q "1 subject ($broken)" "$W/submit3.txt"
group3=$(last_job group_job)
wait_idle
check "sub-$broken complete" test "$(status_of "$(status_file "$broken")")" = complete
check "group job $group3 completed" test "$(job_state "$group3")" = COMPLETED
check "group has all 5 subjects" test "$(grep -c '^sub-' "$OUT/group/maps.tsv")" = 5
"$PETPIPE" slurm --status --out "$OUT" --bids "$W/bids" | tee "$W/status3.txt"
check "status: all complete" grep -q "summary: 5 complete, 0 failed, 0 running, 0 queued, 0 not run" "$W/status3.txt"
echo "== 4. SIGKILL a running task, resubmit: the subject resumes to the uninterrupted results"
first=$(echo "$subjects" | head -n 1)
cp -a "$OUT/sub-$first" "$W/reference-sub-$first"
rm -rf "$OUT/sub-$first"
submit --participant-label "$first" --no-group | tee "$W/submit4.txt"
array4=$(last_job array_job)
for _ in $(seq 600); do  # until the task has recorded its first stage (at most 300 s)
  ls "$OUT/sub-$first"/.petpipe/*/realign.json >/dev/null 2>&1 && break
  sleep 0.5
done
check "sub-$first recorded a stage before the kill" bash -c "ls '$OUT/sub-$first'/.petpipe/*/realign.json >/dev/null 2>&1"
scancel --signal=KILL --full "$array4"
wait_idle
check "sub-$first not complete after the kill" bash -c "! grep -qs '\"complete\"' '$OUT/sub-$first'/sub-${first}_*_status.json"
submit --participant-label "$first" --no-group | tee "$W/submit5.txt"
check "sub-$first resubmitted" grep -q "1 subject ($first)" "$W/submit5.txt"
wait_idle
f=$(status_file "$first")
check "sub-$first complete after the resubmission" test "$(status_of "$f")" = complete
check "sub-$first resumed (realign not redone)" "$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["stages"]["realign"]["status"] != "skipped")' "$f"
check "sub-$first outputs equal the uninterrupted run" "$PY" "$SRC/tests/e2e/compare_outputs.py" "$W/reference-sub-$first" "$OUT/sub-$first"
echo "slurm_cohort: all checks passed in $(( $(date +%s) - t0 )) s"
ok=1
