#!/bin/bash
# Portable (default, run-time dispatched kernels) vs PETPIPE_NATIVE=ON (-march=native) builds of the
# same source, measured in the same run, alternating the two binaries round by round:
#   - petpipe bench srtm (the BFM voxel fits, HRRT size, 300 bases): srtm_bfm CPU seconds (best of 3);
#   - petpipe realign on the 128 x 128 x 104, 16-frame phantom of scripts/bench_realign_phantom.py
#     (estimation, B-spline reslicing, output): CPU seconds;
#   - petpipe normalize on the synthetic subject of scripts/bench_normalize.py (rigid, affine, demons):
#     CPU seconds.
# CPU time (user + system) is the figure because the machine may be shared; wall times are printed too.
# Each figure is the smallest over the rounds; the ratio is portable / native.
#
#   scripts/bench/portable_vs_native.sh PORTABLE_EXE NATIVE_EXE [WORKDIR]
#   e.g. scripts/bench/portable_vs_native.sh build/pipeline/petpipe build-native/pipeline/petpipe /tmp/pvn
# ROUNDS (default 3) sets the number of rounds; THREADS (default 2) the threads of every run.
# Needs Debian's python3 with numpy, scipy and nibabel (/usr/bin/python3) and mricron-data.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
portable=$(readlink -f "$1")
native=$(readlink -f "$2")
work=${3:-/tmp/petpipe_portable_vs_native}
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
py=/usr/bin/python3
mkdir -p "$work"
[ -f "$work/realign/sub-bench_pet.nii" ] ||
  $py "$here/bench_realign_phantom.py" "$work/realign" --voxel 2.4375 --size 128 128 104 >/dev/null
[ -f "$work/normalize/t1.nii.gz" ] || $py "$here/bench_normalize.py" make "$work/normalize" >/dev/null

results="$work/results.tsv"
printf 'round\tbuild\tbenchmark\tcpu_s\twall_s\n' > "$results"

# run ROUND BUILD NAME CMD...: appends the command's CPU (user + sys) and wall seconds.
run() {
  local round=$1 build=$2 name=$3
  shift 3
  /usr/bin/time -f '%U %S %e' -o "$work/time.txt" "$@" > "$work/out.txt" 2>&1 ||
    { cat "$work/out.txt" >&2; exit 1; }
  read -r user sys wall < "$work/time.txt"
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$build" "$name" "$(echo "$user + $sys" | bc)" "$wall" >> "$results"
}

for ((r = 1; r <= rounds; r++)); do
  # Alternate which build goes first.
  if ((r % 2)); then order="portable native"; else order="native portable"; fi
  for b in $order; do
    exe=$portable
    [ "$b" = native ] && exe=$native
    # srtm: the benchmark's own srtm_bfm CPU and wall seconds (best of its 3 repeats).
    "$exe" bench srtm --json --threads "$threads" > "$work/srtm_$b.json"
    $py - "$work/srtm_$b.json" "$r" "$b" >> "$results" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}\t{sys.argv[3]}\tsrtm_bfm\t{j['srtm_bfm_cpu_seconds']:.3f}\t{j['srtm_bfm_wall_seconds']:.3f}")
PY
    rm -rf "$work/out_realign" "$work/out_normalize"
    run "$r" "$b" realign "$exe" realign --pet "$work/realign/sub-bench_pet.nii" --out "$work/out_realign" \
      --ref-frame 16 --threads "$threads" --quiet
    run "$r" "$b" normalize "$exe" normalize --pet-mean "$work/normalize/pet_mean.nii.gz" \
      --t1 "$work/normalize/t1.nii.gz" --out "$work/out_normalize" --threads "$threads" --quiet
  done
done

echo "per-round figures: $results"
$py - "$results" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"{'benchmark':<10} {'portable cpu s':>15} {'native cpu s':>13} {'ratio':>6}   (wall s: portable / native)")
for name in ["srtm_bfm", "realign", "normalize"]:
    best = {}
    for b in ["portable", "native"]:
        sel = [r for r in rows if r["benchmark"] == name and r["build"] == b]
        best[b] = (min(float(r["cpu_s"]) for r in sel), min(float(r["wall_s"]) for r in sel))
    p, n = best["portable"], best["native"]
    print(f"{name:<10} {p[0]:>15.2f} {n[0]:>13.2f} {p[0] / n[0]:>6.3f}   ({p[1]:.2f} / {n[1]:.2f})")
PY
