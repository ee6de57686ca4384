#!/usr/bin/python3
"""Regional BPND of a moved-then-realigned phantom cohort against the motion-free cohort.

Used by scripts/bench_realign_bpnd.sh and tests/unit/realign (ctest realign_bpnd). Compares, per
subject and region, (1) the regional SRTM BPND of `petpipe run` (seg-AAL_model-SRTM_kinpar.tsv, fits
of the regional TACs in PET space), (2) the mean of the smoothed MNI-space BPND map over each ROI
(seg-AAL_desc-sm8_roistats.tsv, all 10 ROIs), and (3) the reference-region TAC (desc-reference_tacs.tsv,
duration-weighted mean and largest frame difference after the first 3 minutes, before which the phantom
does not move). Prints one table line per region; with --assert LIMIT_PCT exits 1 when any |difference|
of the checked regions exceeds the limit.
Usage: compare_realign_bpnd.py STILL_DERIV MOVED_DERIV [--assert PCT] [--regions r1,r2,...]
"""
import argparse, csv, glob, os, sys
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("still")
p.add_argument("moved")
p.add_argument("--assert", dest="limit", type=float, default=None)
p.add_argument("--regions", default="", help="regions checked by --assert (default: all)")
a = p.parse_args()

def table(path, key="roi"):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    return rows if key is None else {r[key]: r for r in rows}

subjects = sorted(os.path.basename(d) for d in glob.glob(os.path.join(a.still, "sub-*")) if os.path.isdir(d))
if not subjects:
    sys.exit(f"no sub-* directories in {a.still}")
diffs = {}  # (kind, region) -> list of % differences over subjects

def add(kind, region, still, moved):
    diffs.setdefault((kind, region), []).append(100.0 * (moved - still) / still)

for s in subjects:
    def one(deriv, pattern):
        hits = glob.glob(os.path.join(deriv, s, "pet", pattern))
        if len(hits) != 1:
            sys.exit(f"{deriv}/{s}/pet: expected one {pattern}, found {len(hits)}")
        return hits[0]
    k0 = table(one(a.still, "*_seg-AAL_model-SRTM_kinpar.tsv"))
    k1 = table(one(a.moved, "*_seg-AAL_model-SRTM_kinpar.tsv"))
    for r in k0:
        add("regional SRTM fit", r, float(k0[r]["BPND"]), float(k1[r]["BPND"]))
    m0 = table(one(a.still, "*_seg-AAL_desc-sm8_roistats.tsv"))
    m1 = table(one(a.moved, "*_seg-AAL_desc-sm8_roistats.tsv"))
    for r in m0:
        add("MNI map, sm8, ROI mean", r, float(m0[r]["mean"]), float(m1[r]["mean"]))
    t0 = table(one(a.still, "*_desc-reference_tacs.tsv"), None)
    t1 = table(one(a.moved, "*_desc-reference_tacs.tsv"), None)
    start = np.array([float(r["frame_start"]) for r in t0])
    dur = np.array([float(r["frame_end"]) for r in t0]) - start
    c0 = np.array([float(r["reference"]) for r in t0])
    c1 = np.array([float(r["reference"]) for r in t1])
    late = start >= 180
    add("reference TAC, mean after 3 min", "reference", np.sum(dur[late] * c0[late]), np.sum(dur[late] * c1[late]))
    worst = np.argmax(np.abs(c1[late] / c0[late] - 1))
    add("reference TAC, largest frame", "reference", c0[late][worst], c1[late][worst])

checked = set(a.regions.split(",")) if a.regions else None
bad = []
print(f"{len(subjects)} subjects; % difference moved-then-realigned vs motion-free (per subject, then mean)")
for (kind, region), d in diffs.items():
    d = np.array(d)
    print(f"{kind:32s} {region:17s} " + " ".join(f"{x:+6.2f}" for x in d) + f"   mean {d.mean():+6.2f}"
          f"  max|.| {np.abs(d).max():5.2f}")
    if a.limit is not None and (checked is None or region in checked) and np.abs(d).max() >= a.limit:
        bad.append(f"{kind} {region}: max |difference| {np.abs(d).max():.2f} % >= {a.limit} %")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
