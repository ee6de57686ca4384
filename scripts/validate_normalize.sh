#!/usr/bin/env bash
# Validation of petpipe normalize on `petpipe simulate --warp` phantoms (issue 6, "Done when").
#
#   scripts/validate_normalize.sh [PETPIPE_EXE] [WORK_DIR] [SUBJECTS] [TRACER]
#
# Simulates SUBJECTS (default 3) warped subjects (2 mm PET, 1 mm T1 with skull, intensity
# non-uniformity and noise; native anatomy = known affine + Gaussian-bump deformation of MNI space),
# runs them through `petpipe run` (realign -> normalize -> srtm ..., exactly the runner's command lines)
# and evaluates each subject with scripts/validate_normalize.py against the truth folder:
# T1 -> MNI displacement error in the brain, Dice of AAL amygdala / hippocampus / thalamus, PET -> T1
# error and the reference TAC of the automatically placed reference region. Prints a Markdown table
# (recorded in docs/MODULE_VALIDATION.md). Extra `petpipe simulate` options: SIM_OPTS env variable.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exe="${1:-$here/../build/pipeline/petpipe}"
work="${2:-$(mktemp -d /tmp/petpipe_validate_normalize.XXXXXX)}"
n="${3:-3}"
tracer="${4:-carfentanil}"
py=/usr/bin/python3
mkdir -p "$work"
cd "$work"
echo "work directory: $work, load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if [ ! -f sim/participants.tsv ]; then
  # shellcheck disable=SC2086
  "$exe" simulate --out sim --warp --tracer "$tracer" --subjects "$n" --seed 11 ${SIM_OPTS:-} --quiet
fi
cat > config.json <<EOF
{"report": {"enabled": false}, "roi": {"regional_fits": false}}
EOF
t0=$(date +%s)
"$exe" run --bids sim --out deriv --config config.json --quiet || true
t1=$(date +%s)
echo "petpipe run: $((t1 - t0)) s for $n subjects" >&2
rm -f eval.jsonl
for s in $(tail -n +2 sim/participants.tsv | cut -f1); do
  $py "$here/validate_normalize.py" eval sim deriv "$s" >> eval.jsonl
done
$py "$here/validate_normalize.py" summary eval.jsonl
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
