#!/usr/bin/env bash
# Any tracer runs: phantoms relabelled to a tracer without a preset (trc-raclopride, TracerName
# raclopride) run end to end when the configuration gives what a preset would, and give the regional
# BPND of the same phantom run under its own tracer's preset:
#  (a) the full configuration printed for carfentanil (petpipe run --print-config), carfentanil phantom;
#  (b) only the reference region (cerebellum_gm) and the theta3 range, MADAM phantom;
#  (c) a per-subject reference mask in PET space (reference.subject_mask), carfentanil phantom.
# A relabelled scan without such a configuration fails before any output is written.
# Usage: any_tracer.sh PETPIPE WORKDIR
set -euo pipefail
PETPIPE=$1
WORK=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
# One thread: the runs compared are then bit-reproducible (normalize's Mattes metric sums its work units
# in completion order with several threads).
T=(--threads 1 -q)
FAST='{"normalize": {"deformable": false, "working_spacing_mm": 4}, "srtm": {"basis_functions": 100}}'
echo "$FAST" > fast.json

relabel() {  # relabel SRC_BIDS DST_BIDS FROM: trc-FROM -> trc-raclopride, TracerName -> raclopride
  cp -r "$1" "$2"
  for f in $(find "$2" -name "*trc-$3*"); do mv "$f" "${f//trc-$3/trc-raclopride}"; done
  "$PY" - "$2" <<'PYEOF'
import json, pathlib, sys
for p in pathlib.Path(sys.argv[1]).rglob("*_pet.json"):
    j = json.load(open(p)); j["TracerName"] = "raclopride"; json.dump(j, open(p, "w"), indent=2)
PYEOF
}

"$PETPIPE" simulate --out cfn --tracer carfentanil --subjects 1 --voxel-size 4 --t1-voxel-size 2 --noise 0.1 --seed 3 -q
"$PETPIPE" simulate --out madam --tracer madam --subjects 1 --voxel-size 4 --t1-voxel-size 2 --noise 0.1 --seed 4 -q
relabel cfn rac_cfn carfentanil
relabel madam rac_madam madam

echo "== without a preset or a configuration: refused before any output"
if "$PETPIPE" run --bids rac_cfn --out refused "${T[@]}" 2> refused.log; then echo "FAIL: ran without a configuration"; exit 1; fi
grep -q 'tracer "raclopride" has no preset' refused.log || { echo "FAIL: unclear error"; cat refused.log; exit 1; }
[ ! -e refused ] || { echo "FAIL: output written"; exit 1; }

echo "== the presets' own runs"
"$PETPIPE" run --bids cfn --out out_cfn --config fast.json "${T[@]}"
"$PETPIPE" run --bids madam --out out_madam --config fast.json "${T[@]}"

echo "== (a) the printed carfentanil configuration"
"$PETPIPE" run --print-config carfentanil --config fast.json > printed.json
"$PETPIPE" run --bids rac_cfn --out out_a --config printed.json "${T[@]}"

echo "== (b) reference region and theta3 range only"
study_config() {  # study_config OUT REFERENCE_JSON THETA3_MIN THETA3_MAX: fast.json + reference, theta3, regions
  "$PY" - "$@" <<'PYEOF'
import json, sys
out, reference, lo, hi = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
c = json.load(open("fast.json"))
c["reference"] = reference
c["srtm"].update({"theta3_min_per_min": lo, "theta3_max_per_min": hi})
c["roi"] = {"regions": ["amygdala", "hippocampus", "ventral_striatum", "dorsal_caudate", "thalamus", "insula",
                        "ofc", "acc", "mcc", "pcc"]}
json.dump(c, open(out, "w"))
PYEOF
}
study_config b.json '{"region": "cerebellum_gm"}' 0.045 0.6
"$PETPIPE" run --bids rac_madam --out out_b --config b.json "${T[@]}"

echo "== (c) a per-subject reference mask"
mkdir -p masks/sub-01/pet
cp out_cfn/sub-01/normalize/sub-01_trc-carfentanil_desc-occipital_mask.nii.gz \
   masks/sub-01/pet/sub-01_trc-raclopride_desc-reference_mask.nii.gz
study_config c.json '{"subject_mask": "masks"}' 0.06 0.6
"$PETPIPE" run --bids rac_cfn --out out_c --config c.json "${T[@]}"

"$PY" - <<'PYEOF'
import csv, sys
def bpnd(path):
    return {r["roi"]: float(r["BPND"]) for r in csv.DictReader(open(path), delimiter="\t") if r["BPND"] != "n/a"}
fails = []
def compare(name, got_path, ref_path, tol):
    got, ref = bpnd(got_path), bpnd(ref_path)
    if set(got) != set(ref) or not ref:
        fails.append(f"{name}: regions differ: {sorted(got)} vs {sorted(ref)}"); return
    worst = max(abs(got[k] - ref[k]) / max(abs(ref[k]), 1e-9) for k in ref)
    print(f"{name}: {len(ref)} regions, largest relative BPND difference to the preset run {worst:.2e}")
    if worst > tol: fails.append(f"{name}: BPND differs by {worst:.3g} (limit {tol})")
k = "pet/sub-01_trc-{}_seg-AAL_model-SRTM_kinpar.tsv"
compare("(a) printed carfentanil config", "out_a/sub-01/" + k.format("raclopride"), "out_cfn/sub-01/" + k.format("carfentanil"), 1e-6)
compare("(b) cerebellum_gm + theta3 range", "out_b/sub-01/" + k.format("raclopride"), "out_madam/sub-01/" + k.format("madam"), 1e-6)
compare("(c) per-subject reference mask", "out_c/sub-01/" + k.format("raclopride"), "out_cfn/sub-01/" + k.format("carfentanil"), 1e-6)
for f in fails: print("FAIL:", f)
sys.exit(1 if fails else 0)
PYEOF
grep -q '"tracer": "raclopride"' out_a/sub-01/sub-01_trc-raclopride_config.json || { echo "FAIL: tracer not recorded"; exit 1; }
echo "any_tracer: 1 passed, 0 failed"
