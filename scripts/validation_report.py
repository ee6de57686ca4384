#!/usr/bin/python3
"""Helpers and the report of scripts/validate.sh (Debian python3 with numpy, scipy, nibabel, matplotlib;
a validation script, never used by petpipe at run time).

  validation_report.py configs --src SRC --out DIR --quick 0|1      effective study configurations
  validation_report.py design --participants TSV --out TSV          class / attachment columns
  validation_report.py draw --work DIR --cohorts K --seed S --out D  one null replicate from the pool
  validation_report.py report --src SRC --work DIR --report MD ...   docs/VALIDATION.md and its figures
  validation_report.py check --work DIR                              the assertions of the CI version

Every number the report prints is computed here from the files of the run in --work.
"""
import argparse
import csv
import glob
import json
import math
import os
import platform
import subprocess
import sys

import numpy as np

ROIS = ["amygdala", "hippocampus", "ventral_striatum", "dorsal_caudate", "thalamus", "insula", "ofc", "acc",
        "mcc", "pcc"]
TEMPLATES = os.environ.get("PETPIPE_TEMPLATE_DIR", "/usr/share/mricron/templates")
# Turtonen et al. 2021, [11C]carfentanil, secure vs insecure: ROI p-values of the class effect without
# covariates, with age, and with age and sex (only hippocampus significant there: beta 0.117, t35 2.82).
PAPER = {"hippocampus": ("0.001", "0.001", "0.0079 (β 0.117, t35 2.82)"),
         "amygdala": ("0.010", "0.012", "n.s."),
         "thalamus": ("0.042", "0.046", "n.s.")}


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def write_tsv(path, rows, columns):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([r[c] for c in columns])
    os.replace(tmp, path)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def fnum(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def fp(p):
    """A p-value as papers print it."""
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 1e-4:
        return f"{p:.1e}"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def wilson(k, n, z=1.959963984540054):
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


# ----------------------------------------------------------------------------------------------- configs
def cmd_configs(a):
    src = os.path.join(a.src, "examples", "validation")
    carf = json.load(open(os.path.join(src, "carfentanil_attachment.json")))
    madam = json.load(open(os.path.join(src, "madam_null.json")))
    pipe = json.load(open(os.path.join(src, "pipeline.json")))
    if int(a.quick):
        # The CI version: few subjects, 6 mm PET, 3 mm T1, affine normalisation, 100 basis functions, a smaller
        # between-subject SD and twice the effects, so that 11 subjects show the planted effect.
        for cfg, sizes in ((carf, (5, 3, 3)), (madam, (3, 3, 2))):
            cfg["voxel_size_mm"] = 6
            cfg["t1_voxel_size_mm"] = 3
            cfg["between_subject_sd_percent"] = 5
            for g, n in zip(cfg["groups"], sizes):
                g["size"] = n
                # twice the study's effects, so that 11 subjects at 6 mm show them voxelwise
                g["effects_percent"] = {k: 2 * v for k, v in g.get("effects_percent", {}).items()}
        carf["name"] += " (reduced CI version)"
        madam["name"] += " (reduced CI version)"
        pipe["normalize"] = {"deformable": False, "working_spacing_mm": 6}
        pipe["srtm"] = {"basis_functions": 100}
    os.makedirs(a.out, exist_ok=True)
    for name, obj in (("carfentanil", carf), ("madam", madam), ("pipeline", pipe)):
        path = os.path.join(a.out, name + ".json")
        text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
        if not os.path.exists(path) or open(path).read() != text:
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)


# ------------------------------------------------------------------------------------------------ design
def cmd_design(a):
    rows = read_tsv(a.participants)
    out = []
    for r in rows:
        if "group" not in r:
            sys.exit(f"{a.participants}: no group column")
        out.append({"participant_id": r["participant_id"], "class": r["group"],
                    "attachment": "secure" if r["group"] == "secure" else "insecure",
                    "age": r["age"], "sex": r["sex"]})
    write_tsv(a.out, out, ["participant_id", "class", "attachment", "age", "sex"])


# -------------------------------------------------------------------------------------------------- draw
def pool(work, cohorts):
    """Complete subjects of the MADAM cohorts: id -> (class, age, sex, map path, roi rows)."""
    subjects = []
    for k in range(1, cohorts + 1):
        d = os.path.join(work, f"madam-{k}")
        design = {r["participant_id"]: r for r in read_tsv(os.path.join(d, "participants_design.tsv"))}
        maps = {r["participant_id"]: r["path"] for r in read_tsv(os.path.join(d, "derivatives/group/maps.tsv"))}
        roi = {}
        for r in read_tsv(os.path.join(d, "derivatives/group/roi_long_BPND.tsv")):
            roi.setdefault(r["participant_id"], []).append(r)
        for pid in sorted(maps):
            subjects.append({"cohort": k, "id": pid, "new_id": f"sub-c{k}s{pid[4:]}", **design[pid],
                             "map": maps[pid], "roi": roi.get(pid, [])})
    return subjects


def cmd_draw(a):
    subjects = pool(a.work, int(a.cohorts))
    first = read_tsv(os.path.join(a.work, "madam-1", "participants_design.tsv"))
    sizes = {}
    for r in first:
        sizes[r["class"]] = sizes.get(r["class"], 0) + 1
    # No subject has a group effect, so the class labels are arbitrary: draw 37 subjects from the pool and give
    # them the classes of cohort 1 in random order (age and sex stay with the subject).
    rng = np.random.default_rng(1000 + int(a.seed))
    n = min(sum(sizes.values()), len(subjects))
    chosen = [dict(subjects[i]) for i in sorted(rng.choice(len(subjects), size=n, replace=False))]
    labels = [cls for cls in sorted(sizes) for _ in range(sizes[cls])][:n]
    for s, cls in zip(chosen, rng.permutation(labels)):
        s["class"] = str(cls)
        s["attachment"] = "secure" if cls == "secure" else "insecure"
    chosen.sort(key=lambda s: s["new_id"])
    os.makedirs(a.out, exist_ok=True)
    write_tsv(os.path.join(a.out, "participants.tsv"),
              [{"participant_id": s["new_id"], "class": s["class"], "attachment": s["attachment"], "age": s["age"],
                "sex": s["sex"], "source": f"madam-{s['cohort']}/{s['id']}"} for s in chosen],
              ["participant_id", "class", "attachment", "age", "sex", "source"])
    write_tsv(os.path.join(a.out, "maps.tsv"), [{"participant_id": s["new_id"], "path": s["map"]} for s in chosen],
              ["participant_id", "path"])
    rows = []
    for s in chosen:
        for r in s["roi"]:
            rows.append({"participant_id": s["new_id"], "roi": r["roi"], "value": r["value"]})
    write_tsv(os.path.join(a.out, "roi_long.tsv"), rows, ["participant_id", "roi", "value"])


# ------------------------------------------------------------------------------------------ atlas / ROIs
class Aal:
    """AAL labels (mricron-data) and the ROI definitions of atlases/aal.json, sampled on any grid."""

    def __init__(self, src):
        import nibabel as nib
        self.defs = json.load(open(os.path.join(src, "atlases", "aal.json")))
        self.names = {}
        for line in open(os.path.join(TEMPLATES, self.defs["labels_table"])):
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit():
                self.names[parts[1]] = int(parts[0])
        img = nib.load(os.path.join(TEMPLATES, self.defs["labels_image"]))
        self.labels = np.asarray(img.dataobj).astype(np.int32)
        self.affine = img.affine

    def sample(self, shape, affine):
        """AAL label nearest to each voxel centre of a grid, and the voxels' RAS coordinates."""
        ijk = np.indices(shape).reshape(3, -1).astype(float)
        ras = affine[:3, :3] @ ijk + affine[:3, 3:4]
        inv = np.linalg.inv(self.affine)
        v = np.floor(inv[:3, :3] @ ras + inv[:3, 3:4] + 0.5).astype(int)
        ok = np.all((v >= 0) & (v < np.array(self.labels.shape)[:, None]), axis=0)
        lab = np.zeros(v.shape[1], dtype=np.int32)
        lab[ok] = self.labels[v[0, ok], v[1, ok], v[2, ok]]
        return lab.reshape(shape), ras.reshape((3,) + tuple(shape))

    def label_ids(self, name):
        """AAL label numbers of a name with or without hemisphere suffix."""
        if name in self.names:
            return [self.names[name]]
        ids = [self.names[n] for n in (name + "_L", name + "_R") if n in self.names]
        if not ids:
            raise KeyError(f"unknown AAL region {name}")
        return ids

    def roi_masks(self, shape, affine):
        lab, ras = self.sample(shape, affine)
        out = {}
        for e in self.defs["rois"] + self.defs["reference_regions"]:
            ids = []
            for base in e["labels"]:
                ids += self.label_ids(base)
            m = np.isin(lab, ids)
            for axis, key in enumerate("xyz"):
                lim = e.get("limits_mm", {}).get(key)
                if lim:
                    lo, hi = lim
                    if lo is not None:
                        m &= ras[axis] >= lo
                    if hi is not None:
                        m &= ras[axis] <= hi
            out[e["name"]] = m
        return out, lab


# ------------------------------------------------------------------------------------------------ report
class Cohort:
    def __init__(self, work, name):
        self.name = name
        self.dir = os.path.join(work, name)
        self.design = read_tsv(os.path.join(self.dir, "participants_design.tsv"))
        self.by_id = {r["participant_id"]: r for r in self.design}
        summary = os.path.join(self.dir, "derivatives", "run_summary.tsv")
        self.run = read_tsv(summary) if os.path.exists(summary) else []
        self.complete = [r["participant_id"] for r in self.run if r["status"] == "complete"]
        self.failed = [r for r in self.run if r["status"] != "complete"]
        self.tracer = self.run[0]["tracer"] if self.run else "?"
        self.group = os.path.join(self.dir, "derivatives", "group")

    def pet(self, pid, what):
        return os.path.join(self.dir, "derivatives", pid, "pet", f"{pid}_trc-{self.tracer}_{what}")

    def truth(self, pid, what):
        return os.path.join(self.dir, "bids", "derivatives", "truth", pid, f"{pid}_trc-{self.tracer}_{what}")


def nii(path):
    import nibabel as nib
    img = nib.load(path)
    return np.asarray(img.dataobj, dtype=np.float64), img.affine


def resample_nearest(data, affine, shape, target_affine):
    """Values of (data, affine) at the voxel centres of a target grid (nearest voxel; NaN outside)."""
    ijk = np.indices(shape).reshape(3, -1).astype(float)
    ras = target_affine[:3, :3] @ ijk + target_affine[:3, 3:4]
    inv = np.linalg.inv(affine)
    v = np.floor(inv[:3, :3] @ ras + inv[:3, 3:4] + 0.5).astype(int)
    ok = np.all((v >= 0) & (v < np.array(data.shape)[:, None]), axis=0)
    out = np.full(v.shape[1], np.nan)
    out[ok] = data[v[0, ok], v[1, ok], v[2, ok]]
    return out.reshape(shape)


def regional_truth(c, aal, cache):
    """Per subject and ROI: true BPND (mean of the truth MNI map), recovered BPND of the regional TAC fit and
    the mean of the unsmoothed MNI BPND map, and voxel pairs (recovered, true) on the pipeline's MNI grid."""
    rows, vox_rec, vox_true = [], [], []
    for pid in c.complete:
        tmap, taff = nii(c.truth(pid, "space-MNIColin27_meas-BPND_mimap.nii.gz"))
        key = ("truth", tmap.shape, tuple(np.round(taff.ravel(), 4)))
        if key not in cache:
            cache[key] = aal.roi_masks(tmap.shape, taff)[0]
        tmasks = cache[key]
        rmap, raff = nii(c.pet(pid, "space-MNIColin27_model-SRTM_meas-BPND_mimap.nii.gz"))
        key = ("mni", rmap.shape, tuple(np.round(raff.ravel(), 4)))
        if key not in cache:
            cache[key] = aal.roi_masks(rmap.shape, raff)[0]
        rmasks = cache[key]
        fits = {r["roi"]: r for r in read_tsv(c.pet(pid, "seg-AAL_model-SRTM_kinpar.tsv"))}
        for roi in ROIS:
            true = float(np.nanmean(tmap[tmasks[roi]]))
            mni = float(np.nanmean(rmap[rmasks[roi]]))
            fit = float(fits[roi]["BPND"]) if roi in fits else float("nan")
            rows.append({"subject": pid, "roi": roi, "true": true, "fit": fit, "mni": mni,
                         "class": c.by_id[pid]["class"]})
        t_on_r = resample_nearest(tmap, taff, rmap.shape, raff)
        ok = np.isfinite(t_on_r) & np.isfinite(rmap) & (t_on_r > 0.05)
        vox_rec.append(rmap[ok].astype(np.float32))
        vox_true.append(t_on_r[ok].astype(np.float32))
    return rows, (np.concatenate(vox_rec) if vox_rec else np.zeros(0)), \
        (np.concatenate(vox_true) if vox_true else np.zeros(0))


def region_metrics(rows, field):
    out = {}
    for roi in ROIS:
        r = [x for x in rows if x["roi"] == roi and math.isfinite(x[field]) and x["true"] > 0]
        if not r:
            continue
        t = np.array([x["true"] for x in r])
        e = np.array([x[field] for x in r])
        rel = (e - t) / t
        corr = float(np.corrcoef(t, e)[0, 1]) if len(r) > 2 and np.std(t) > 0 and np.std(e) > 0 else float("nan")
        out[roi] = {"n": len(r), "true_mean": float(t.mean()), "bias_pct": 100 * float(rel.mean()),
                    "rmse_pct": 100 * float(np.sqrt(np.mean(rel ** 2))), "r": corr}
    return out


def contrast_file(vox_dir, contrast, what):
    # petpipe names files after the contrast with '_' written as 'x' (BIDS entity values are alphanumeric).
    tag = "".join(ch if ch.isalnum() else "x" for ch in contrast)
    return os.path.join(vox_dir, f"contrast-{tag}_{what}")


def voxelwise_summary(vox_dir, contrast, planted=None, near=None):
    fdr, aff = nii(contrast_file(vox_dir, contrast, "desc-FDR_stat-t_statmap.nii.gz"))
    sig = np.nan_to_num(fdr) != 0
    fwe, _ = nii(contrast_file(vox_dir, contrast, "desc-clusterFWE_stat-t_statmap.nii.gz"))
    fwe_sig = np.nan_to_num(fwe) != 0
    clusters = read_tsv(contrast_file(vox_dir, contrast, "clusters.tsv"))
    fwe_clusters = [c for c in clusters if float(c["p_fwe"]) < 0.05]
    voxel_mm3 = abs(np.linalg.det(aff[:3, :3]))
    s = {"fdr_voxels": int(sig.sum()), "fwe_clusters": len(fwe_clusters), "clusters": clusters,
         "fwe_cluster_voxels": int(fwe_sig.sum()), "voxel_mm3": float(voxel_mm3), "sig": sig, "fwe_sig": fwe_sig,
         "affine": aff}
    if planted is not None:
        mask, _ = nii(os.path.join(vox_dir, "mask.nii.gz"))
        inmask = mask > 0
        p = planted & inmask
        s["planted_voxels"] = int(p.sum())
        s["fdr_sensitivity"] = float((sig & p).sum() / max(p.sum(), 1))
        s["fwe_sensitivity"] = float((fwe_sig & p).sum() / max(p.sum(), 1))
        s["fdr_outside_near_mm3"] = float((sig & ~near).sum() * voxel_mm3)
        s["fwe_outside_near_mm3"] = float((fwe_sig & ~near).sum() * voxel_mm3)
        s["fdr_outside_planted_mm3"] = float((sig & ~planted).sum() * voxel_mm3)
        s["fdr_detected_mm3"] = float(sig.sum() * voxel_mm3)
        s["fwe_true_clusters"] = 0
        s["fwe_false_clusters"] = 0
        for c in fwe_clusters:
            # a cluster is true when it reaches the planted regions; its peak label is in the table
            ijk = np.floor(np.linalg.inv(aff) @ np.array([float(c["peak_x_mm"]), float(c["peak_y_mm"]),
                                                          float(c["peak_z_mm"]), 1.0]) + 0.5).astype(int)[:3]
            inside = all(0 <= ijk[i] < near.shape[i] for i in range(3)) and near[tuple(ijk)]
            c["true_positive"] = bool(inside)
            s["fwe_true_clusters" if inside else "fwe_false_clusters"] += 1
    return s


def roi_model_p(roi_dir, term):
    """roi -> model -> (F, df1, df2, p) of a term, from roi_anova.tsv."""
    out = {}
    for r in read_tsv(os.path.join(roi_dir, "roi_anova.tsv")):
        if r["term"] == term:
            out.setdefault(r["roi"], {})[r["model"]] = (float(r["F"]), int(float(r["df1"])), int(float(r["df2"])),
                                                       float(r["p"]))
    return out


def roi_effects(roi_dir, contrast):
    out = {}
    for r in read_tsv(os.path.join(roi_dir, "roi_effects.tsv")):
        if r["contrast"] == contrast:
            out.setdefault(r["roi"], {})[r["model"]] = {k: float(r[k]) for k in ("estimate", "se", "t", "df", "p")}
            out[r["roi"]][r["model"]]["p_fdr"] = float(r["p_fdr"])
    return out


def model_names(d):
    names = []
    for r in read_tsv(os.path.join(d, "roi_anova.tsv")):
        if r["model"] not in names:
            names.append(r["model"])
    return names


def plot_regional(rows_by_tracer, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows_by_tracer), figsize=(5.2 * len(rows_by_tracer), 4.8), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (title, rows) in zip(axes[0], rows_by_tracer):
        lo, hi = np.inf, -np.inf
        for i, roi in enumerate(ROIS):
            r = [x for x in rows if x["roi"] == roi and math.isfinite(x["fit"])]
            if not r:
                continue
            t = np.array([x["true"] for x in r])
            e = np.array([x["fit"] for x in r])
            ax.scatter(t, e, s=10, color=cmap(i), label=roi.replace("_", " "))
            lo, hi = min(lo, t.min(), e.min()), max(hi, t.max(), e.max())
        if math.isfinite(lo):
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel("true regional BPND")
        ax.set_ylabel("recovered BPND (regional SRTM fit)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_voxels(pairs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.6), squeeze=False)
    for ax, (title, rec, true) in zip(axes[0], pairs):
        if true.size:
            hi = float(np.percentile(np.concatenate([true, rec]), 99.5))
            lo = min(0.0, float(np.percentile(rec, 0.5)))
            ax.hist2d(true, rec, bins=120, range=[[lo, hi], [lo, hi]], cmap="viridis", cmin=1,
                      norm=matplotlib.colors.LogNorm())
            ax.plot([lo, hi], [lo, hi], "w--", lw=0.8)
        ax.set_xlabel("true BPND (voxel, MNI)")
        ax.set_ylabel("recovered BPND (voxel, MNI, unsmoothed)")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_slices(vox_dir, contrast, planted, summary, path, zs=(-20, -12, 2, 20, 34)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t, aff = nii(contrast_file(vox_dir, contrast, "stat-t_statmap.nii.gz"))
    bg, _ = nii(os.path.join(vox_dir, "desc-intercept_stat-beta_statmap.nii.gz"))
    fig, axes = plt.subplots(1, len(zs), figsize=(3.0 * len(zs), 3.6))
    inv = np.linalg.inv(aff)
    flip = aff[0, 0] < 0  # show the subject's left on the image's left (neurological convention)
    vmax = float(np.nanmax(t)) if np.isfinite(np.nanmax(t)) else 1.0
    for ax, z in zip(axes, zs):
        k = int(round((inv @ np.array([0, 0, z, 1.0]))[2]))
        k = min(max(k, 0), t.shape[2] - 1)
        sl = lambda x: (x[::-1, :] if flip else x).T
        ax.imshow(sl(np.nan_to_num(bg[:, :, k])), origin="lower", cmap="gray")
        sig = np.where(summary["sig"][:, :, k], t[:, :, k], np.nan)
        ax.imshow(sl(sig), origin="lower", cmap="hot", vmin=0, vmax=vmax)
        if planted[:, :, k].any():
            ax.contour(sl(planted[:, :, k].astype(float)), levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(f"z = {z} mm", fontsize=9)
        ax.axis("off")
    fig.suptitle("t (secure > insecure) at FDR-significant voxels over the mean BPND; planted regions in cyan; "
                 "left is left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_null_p(pvals, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    p = np.sort(np.asarray(pvals))
    n = p.size
    if n:
        expected = (np.arange(1, n + 1) - 0.5) / n
        ax.plot(-np.log10(expected), -np.log10(p), ".", ms=3)
        m = -np.log10(0.5 / n)
        ax.plot([0, m], [0, m], "k--", lw=0.8)
    ax.set_xlabel("expected -log10 p (uniform)")
    ax.set_ylabel("observed -log10 p")
    ax.set_title(f"MADAM null: ROI group-effect p-values ({n} tests)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def git_describe(src):
    try:
        return subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


def cmd_report(a):
    work = a.work
    aal = Aal(a.src)
    report_dir = os.path.dirname(os.path.abspath(a.report))
    fig_name = os.path.splitext(os.path.basename(a.report))[0].lower()
    fig_dir = os.path.join(report_dir, fig_name)
    os.makedirs(fig_dir, exist_ok=True)
    rel = lambda p: os.path.relpath(p, report_dir)
    conf = os.path.join(work, "config")
    carf_cfg = json.load(open(os.path.join(conf, "carfentanil.json")))
    madam_cfg = json.load(open(os.path.join(conf, "madam.json")))
    pipe_cfg = json.load(open(os.path.join(conf, "pipeline.json")))
    carf = Cohort(work, "carfentanil")
    madams = [Cohort(work, f"madam-{k}") for k in range(1, int(a.null_cohorts) + 1)]
    madam = madams[0]
    summary = {"quick": bool(int(a.quick))}
    L = []
    add = L.append

    version = subprocess.run([a.petpipe, "--version"], capture_output=True, text=True).stdout.strip()
    timing = read_tsv(os.path.join(work, "timing.tsv"))
    # A resumed run appends its own times: a step's time is the sum over the invocations that ran it.
    steps, runs = {}, {}
    for r in timing:
        if r["step"].startswith("validate.sh"):
            continue
        steps[r["step"]] = steps.get(r["step"], 0.0) + float(r["seconds"])
        runs[r["step"]] = runs.get(r["step"], 0) + 1
    total_s = sum(steps.values())
    import hashlib
    with open(a.petpipe, "rb") as f:
        exe_sha = hashlib.sha256(f.read()).hexdigest()[:12]

    add("# petpipe validation study: the attachment design of Turtonen et al. on synthetic cohorts")
    add("")
    add("<!-- Generated by scripts/validate.sh (scripts/validation_report.py). Do not edit by hand: every number "
        "below comes from the run it describes. -->")
    add("")
    add(f"Generated {subprocess.run(['date', '-u', '+%Y-%m-%d %H:%M UTC'], capture_output=True, text=True).stdout.strip()} "
        f"by `scripts/validate.sh{' --quick' if int(a.quick) else ''}` with {version} (executable SHA-256 {exe_sha}…; "
        f"source tree at report time {git_describe(a.src)}) on "
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()}). Module-level checks against "
        "analytic cases and independent implementations are in [MODULE_VALIDATION.md](MODULE_VALIDATION.md).")
    add("")
    add(f"**Time.** The steps of this study took **{total_s / 60:.1f} min** of wall time in all "
        f"(simulation, per-subject processing, group statistics and null replicates; when the run was resumed, "
        f"the times of every invocation are added):")
    add("")
    add("| step | wall time (min) | invocations |")
    add("|---|---|---|")
    for k, v in steps.items():
        add(f"| {k} | {v / 60:.1f} | {runs[k]} |")
    add("")

    # ------------------------------------------------------------------ design
    add("## The study")
    add("")
    add("Both cohorts are simulated by `petpipe simulate` (configurations in `examples/validation/`, effective "
        "copies in the work directory's `config/`) and processed exactly as a user would process real data: "
        "`petpipe run` per subject (frame realignment, PET → T1 rigid and T1 → MNI "
        f"{'deformable' if pipe_cfg.get('normalize', {}).get('deformable', True) else 'affine'} normalisation, "
        "automatically placed reference region, voxelwise SRTM basis-function BPND, warp to MNI at 2 mm, "
        "8 mm FWHM smoothing, AAL ROIs, regional TAC fits), then `petpipe group` (voxelwise GLM "
        f"`{pipe_cfg['group']['design']}` with FDR q {pipe_cfg['group']['fdr_q']} and RFT cluster inference at "
        f"cluster-forming p {pipe_cfg['group']['cluster_p']}; ROI ANOVA with nested models) and `petpipe glm` "
        "(three-class ROI ANOVA with Tukey HSD). Truth comes from the phantom's `derivatives/truth`.")
    add("")
    add("| | [11C]carfentanil | [11C]MADAM |")
    add("|---|---|---|")

    def cohort_desc(cfg, c):
        cls = {}
        for r in c.design:
            cls.setdefault(r["class"], []).append(r)
        parts = []
        for g in cfg["groups"]:
            rs = cls.get(g["name"], [])
            ages = [float(r["age"]) for r in rs]
            parts.append(f"{g['name']} {len(rs)} ({sum(r['sex'] == 'M' for r in rs)} M, age "
                         f"{np.mean(ages):.0f} ± {np.std(ages, ddof=1) if len(ages) > 1 else 0:.0f})")
        return "; ".join(parts)

    add(f"| subjects (class: n, men, age mean ± SD) | {cohort_desc(carf_cfg, carf)} | {cohort_desc(madam_cfg, madam)} |")
    eff = {}
    for g in carf_cfg["groups"]:
        for k, v in g.get("effects_percent", {}).items():
            eff.setdefault(k, set()).add(v)
    eff_text = ", ".join(f"{k} {'/'.join(f'{v:+g}' for v in sorted(vs))} %" for k, vs in eff.items())
    add(f"| planted effect | insecure (avoidant and ambivalent) vs secure: {eff_text} | none |")
    for key, label in (("between_subject_sd_percent", "between-subject SD of BPND (%)"),
                       ("age_effect_percent_per_decade", "age effect (% per decade)"),
                       ("voxel_size_mm", "PET voxel (mm)"), ("t1_voxel_size_mm", "T1 voxel (mm)"),
                       ("psf_fwhm_mm", "PSF FWHM (mm)"), ("noise", "noise level"), ("motion", "motion"),
                       ("warp", "native anatomy warped from MNI"), ("dose_sd_percent", "injected dose SD (%)")):
        v1, v2 = carf_cfg.get(key), madam_cfg.get(key)
        fmt = lambda v: json.dumps(v).replace('"', "") if isinstance(v, (dict, list)) else str(v)
        add(f"| {label} | {fmt(v1)} | {fmt(v2)} |")
    fr_c = read_json_safe(os.path.join(carf.dir, "bids"), carf.tracer)
    fr_m = read_json_safe(os.path.join(madam.dir, "bids"), madam.tracer)
    add(f"| frames | {fr_c} | {fr_m} |")
    add(f"| subjects processed | {len(carf.complete)} complete, {len(carf.failed)} failed | "
        f"{len(madam.complete)} complete, {len(madam.failed)} failed (cohort 1 of {len(madams)}) |")
    # Processing time per subject: the stage records of petpipe run (sub-XX/.petpipe/*/<stage>.json) keep the
    # time each stage took when it ran (a resumed run's status file only has the time of the last pass).
    per, per_stage = [], {}
    for c in [carf] + madams:
        for pid in c.complete:
            tot = 0.0
            for rec in glob.glob(os.path.join(c.dir, "derivatives", pid, ".petpipe", "*", "*.json")):
                j = json.load(open(rec))
                tot += float(j.get("seconds", 0))
                per_stage.setdefault(j.get("stage", "?"), []).append(float(j.get("seconds", 0)))
            per.append(tot)
    if per:
        big = sorted(per_stage.items(), key=lambda kv: -np.mean(kv[1]))[:3]
        add(f"| per-subject `petpipe run` time (sum of its stages) | mean {np.mean(per):.0f} s (min {np.min(per):.0f}, "
            f"max {np.max(per):.0f}) over {len(per)} subjects of all cohorts; "
            + ", ".join(f"{k} {np.mean(v):.0f} s" for k, v in big) + f" on average, with {a.jobs} subjects "
            "processed at a time | |")
    add("")
    for c in [carf] + madams:
        for r in c.failed:
            add(f"- {c.name}: {r['participant_id']} failed at {r['failed_stage']}: {r['error']}")
    summary["failed_subjects"] = sum(len(c.failed) for c in [carf] + madams)

    # ------------------------------------------------------------------ BPND recovery
    add("## Recovered versus true BPND")
    add("")
    cache = {}
    rc_rows, rc_rec, rc_true = regional_truth(carf, aal, cache)
    rm_rows, rm_rec, rm_true = regional_truth(madam, aal, cache)
    plot_regional([(f"[11C]carfentanil, {len(carf.complete)} subjects", rc_rows),
                   (f"[11C]MADAM (cohort 1), {len(madam.complete)} subjects", rm_rows)],
                  os.path.join(fig_dir, "regional_bpnd.png"))
    plot_voxels([("[11C]carfentanil", rc_rec, rc_true), ("[11C]MADAM (cohort 1)", rm_rec, rm_true)],
                os.path.join(fig_dir, "voxel_bpnd.png"))
    add("Per region: the true BPND is the mean of the phantom's MNI truth map over the ROI (AAL, with the "
        "ventral-striatum and dorsal-caudate plane cuts of atlases/aal.json); it is compared with the BPND of "
        "the SRTM fit to the regional TAC in PET space (the runner's `seg-AAL_model-SRTM_kinpar.tsv`) and with "
        "the mean of the unsmoothed voxelwise BPND map in MNI space over the same ROI. Bias and RMSE are "
        "relative to the truth, per subject; r is the correlation across subjects (how well between-subject "
        "differences are recovered). Ventral striatum and dorsal caudate are cut out of AAL by MNI planes, so "
        "they exist only in MNI space and have no regional fit in PET space.")
    add("")
    add("| ROI | tracer | true BPND (mean) | regional fit: bias % | RMSE % | r | voxel map ROI mean: bias % | RMSE % | r |")
    add("|---|---|---|---|---|---|---|---|---|")
    regional = {}
    for tracer, rows in (("carfentanil", rc_rows), ("MADAM", rm_rows)):
        mf, mm = region_metrics(rows, "fit"), region_metrics(rows, "mni")
        regional[tracer] = {"fit": mf, "mni": mm}
        for roi in ROIS:
            if roi not in mm:
                continue
            m, f = mm[roi], mf.get(roi)
            fit = (f"{f['bias_pct']:+.1f} | {f['rmse_pct']:.1f} | {fnum(f['r'], 2)}" if f else
                   "n/a (no regional fit) | | ")
            add(f"| {roi} | {tracer} | {m['true_mean']:.2f} | {fit} | {m['bias_pct']:+.1f} | {m['rmse_pct']:.1f} | "
                f"{fnum(m['r'], 2)} |")
    summary["regional"] = regional
    add("")
    add(f"![recovered vs true regional BPND]({rel(os.path.join(fig_dir, 'regional_bpnd.png'))})")
    add("")

    def voxstats(rec, true):
        if not true.size:
            return {}
        d = rec - true
        return {"n": int(true.size), "bias": float(d.mean()), "rmse": float(np.sqrt(np.mean(d ** 2))),
                "r": float(np.corrcoef(rec, true)[0, 1]), "median_rel_pct": float(100 * np.median(d / true))}
    vc, vm = voxstats(rc_rec, rc_true), voxstats(rm_rec, rm_true)
    summary["voxel"] = {"carfentanil": vc, "MADAM": vm}
    add("Per voxel: the unsmoothed MNI BPND map of each subject against the truth map (nearest truth voxel at "
        "each 2 mm voxel centre), over voxels with true BPND > 0.05, all subjects pooled. The recovered maps "
        "include the scanner PSF, motion and the registration errors, so partial-volume effects lower peaks "
        "and raise neighbouring voxels.")
    add("")
    add("| tracer | voxels (all subjects) | bias (BPND) | RMSE (BPND) | median relative error % | r |")
    add("|---|---|---|---|---|---|")
    for name, v in (("carfentanil", vc), ("MADAM", vm)):
        if v:
            add(f"| {name} | {v['n']} | {v['bias']:+.3f} | {v['rmse']:.3f} | {v['median_rel_pct']:+.1f} | {v['r']:.3f} |")
    add("")
    add(f"![recovered vs true voxel BPND]({rel(os.path.join(fig_dir, 'voxel_bpnd.png'))})")
    add("")

    # ------------------------------------------------------------------ voxelwise carfentanil
    add("## Voxelwise group contrast: [11C]carfentanil, secure > insecure")
    add("")
    vox_dir = os.path.join(carf.group, "voxelwise")
    mask_img, mask_aff = nii(os.path.join(vox_dir, "mask.nii.gz"))
    lab, _ = aal.sample(mask_img.shape, mask_aff)
    planted_names = sorted({k for g in carf_cfg["groups"] for k in g.get("effects_percent", {})})
    planted_ids = [i for n in planted_names for i in aal.label_ids(n)]
    planted = np.isin(lab, planted_ids)
    from scipy.ndimage import binary_dilation, generate_binary_structure
    vox_mm = abs(mask_aff[0, 0])
    near = binary_dilation(planted, structure=generate_binary_structure(3, 1), iterations=int(round(8 / vox_mm)))
    s = voxelwise_summary(vox_dir, "secure_gt_insecure", planted, near)
    rev = voxelwise_summary(vox_dir, "insecure_gt_secure", planted, near)
    per_region = {}
    for n in planted_names:
        m = np.isin(lab, aal.label_ids(n)) & (mask_img > 0)
        per_region[n] = (float((s["sig"] & m).sum() / max(m.sum(), 1)), float((s["fwe_sig"] & m).sum() / max(m.sum(), 1)))
    plot_slices(vox_dir, "secure_gt_insecure", planted, s, os.path.join(fig_dir, "carfentanil_tmap.png"))
    add(f"The true effect mask is the planted AAL regions ({', '.join(planted_names)}) on the 2 mm MNI grid "
        f"({s['planted_voxels']} voxels inside the group mask). Smoothing with 8 mm FWHM spreads a true effect "
        "beyond its region, so false positives are counted outside the mask dilated by 8 mm as well as outside "
        "the mask itself.")
    add("")
    add("| inference | detected volume | sensitivity (planted voxels detected) | false-positive volume outside planted + 8 mm | clusters |")
    add("|---|---|---|---|---|")
    add(f"| voxel FDR q {pipe_cfg['group']['fdr_q']} | {s['fdr_detected_mm3'] / 1000:.1f} cm³ ({s['fdr_voxels']} voxels) | "
        f"{100 * s['fdr_sensitivity']:.0f} % | {s['fdr_outside_near_mm3'] / 1000:.2f} cm³ (outside the planted regions "
        f"themselves: {s['fdr_outside_planted_mm3'] / 1000:.1f} cm³) | |")
    add(f"| RFT cluster FWE p < 0.05 (cluster-forming p {pipe_cfg['group']['cluster_p']}) | "
        f"{s['fwe_cluster_voxels'] * s['voxel_mm3'] / 1000:.1f} cm³ | {100 * s['fwe_sensitivity']:.0f} % | "
        f"{s['fwe_outside_near_mm3'] / 1000:.2f} cm³ | {s['fwe_clusters']} significant: {s['fwe_true_clusters']} with "
        f"the peak in or near a planted region, {s['fwe_false_clusters']} elsewhere |")
    tfce_dir = os.path.join(carf.dir, "tfce")
    tfce_p = contrast_file(tfce_dir, "secure_gt_insecure", "stat-tfcepFWE_statmap.nii.gz")
    if os.path.exists(tfce_p):
        tp, _ = nii(tfce_p)
        perms = open(os.path.join(tfce_dir, ".done")).read().strip()
        tin = (mask_img > 0) & np.isfinite(tp)
        tsig = tin & (tp < 0.05)
        pl = planted & (mask_img > 0)
        s["tfce_permutations"] = int(perms)
        s["tfce_min_p"] = float(np.min(tp[tin]))
        s["tfce_voxels"] = int(tsig.sum())
        s["tfce_sensitivity"] = float((tsig & pl).sum() / max(pl.sum(), 1))
        add(f"| TFCE, permutation FWE p < 0.05 ({perms} Freedman-Lane permutations) | "
            f"{tsig.sum() * s['voxel_mm3'] / 1000:.1f} cm³ ({int(tsig.sum())} voxels; smallest p {s['tfce_min_p']:.3f}) | "
            f"{100 * s['tfce_sensitivity']:.0f} % | {(tsig & ~near).sum() * s['voxel_mm3'] / 1000:.2f} cm³ | |")
    add(f"| reverse contrast insecure > secure, FDR | {rev['fdr_voxels']} voxels | | | {rev['fwe_clusters']} FWE-significant clusters |")
    add("")
    add("Sensitivity per planted region (fraction of its voxels detected, FDR / cluster FWE): " +
        "; ".join(f"{n} {100 * a_:.0f} % / {100 * b_:.0f} %" for n, (a_, b_) in per_region.items()) + ".")
    add("")
    # What the design can show voxelwise: the expected t at the planted effect (cohort configuration)
    # against what the voxelwise FDR step needs (this run's p map and mask).
    sd = float(carf_cfg.get("between_subject_sd_percent", 0))
    ins = [g for g in carf_cfg["groups"] if g.get("effects_percent")]
    n1 = sum(g["size"] for g in carf_cfg["groups"] if not g.get("effects_percent"))
    n2 = sum(g["size"] for g in ins)
    pmap, _ = nii(contrast_file(vox_dir, "secure_gt_insecure", "stat-p_statmap.nii.gz"))
    tmap, _ = nii(contrast_file(vox_dir, "secure_gt_insecure", "stat-t_statmap.nii.gz"))
    inm = (mask_img > 0) & np.isfinite(pmap)
    m_vox = int(inm.sum())
    if sd > 0 and n1 and n2 and m_vox:
        expect = {}
        for n in planted_names:
            eff = sum(g["size"] * -float(g["effects_percent"].get(n, 0)) for g in ins) / n2
            expect[n] = eff / sd * np.sqrt(n1 * n2 / (n1 + n2))
        q = float(pipe_cfg["group"]["fdr_q"])
        pv = np.sort(pmap[inm])
        tmax = float(np.nanmax(tmap[inm]))
        add(f"What the design can show voxelwise: with a between-subject SD of {sd:g} % and {n1} secure against "
            f"{n2} insecure subjects, the expected t at the planted effect (effect / SD x sqrt(n1 n2 / (n1 + n2)), "
            "no covariates, no measurement noise) is " +
            ", ".join(f"{n} {t_:.2f}" for n, t_ in expect.items()) +
            f". FDR over the {m_vox} voxels of the group mask at q {q:g} first needs a voxel with p < q / m = "
            f"{q / m_vox:.2g}; the smallest voxel p of this run is {pv[0]:.2g} (largest t {tmax:.2f}), and "
            f"{int((pv < 0.001).sum())} voxels have p < 0.001. Effects of this size are found by the ROI tests "
            "(one test per region) but sit at the edge of what voxelwise FDR over the whole brain can detect.")
        add("")
        summary["carfentanil_expected_t"] = expect
        summary["carfentanil_min_voxel_p"] = float(pv[0])
    add("FWE-significant clusters (from `contrast-securexgtxinsecure_clusters.tsv`):")
    add("")
    add("| cluster | voxels | volume (cm³) | p FWE | p FDR | peak t | peak Z | peak MNI (mm) | peak label | in/near planted |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for c in s["clusters"]:
        if float(c["p_fwe"]) < 0.05:
            add(f"| {c['cluster']} | {c['voxels']} | {float(c['volume_mm3']) / 1000:.1f} | {fp(float(c['p_fwe']))} | "
                f"{fp(float(c['p_fdr']))} | {float(c['peak_t']):.2f} | {float(c['peak_z']):.2f} | "
                f"{c['peak_x_mm']}, {c['peak_y_mm']}, {c['peak_z_mm']} | {c['peak_label']} | "
                f"{'yes' if c.get('true_positive') else 'no'} |")
    add("")
    add(f"![t map]({rel(os.path.join(fig_dir, 'carfentanil_tmap.png'))})")
    add("")
    summary["carfentanil_voxelwise"] = {k: v for k, v in s.items() if k not in ("sig", "fwe_sig", "clusters", "affine")}
    summary["carfentanil_voxelwise"]["per_region"] = per_region
    summary["carfentanil_reverse_fdr_voxels"] = rev["fdr_voxels"]

    # ------------------------------------------------------------------ ROI statistics carfentanil
    add("## ROI statistics beside the paper ([11C]carfentanil)")
    add("")
    roi_dir = os.path.join(carf.group, "roi")
    models = model_names(roi_dir)
    anova = roi_model_p(roi_dir, "attachment")
    effects = roi_effects(roi_dir, "secure_gt_insecure")
    means = {}
    for r in read_tsv(os.path.join(carf.group, "roi_long_BPND.tsv")):
        cls = carf.by_id[r["participant_id"]]["attachment"]
        means.setdefault(r["roi"], {}).setdefault(cls, []).append(float(r["value"]))
    add("p-values of the secure-versus-insecure effect (Type II F test of `attachment` in the nested models "
        f"{', '.join('`' + m + '`' for m in models)}), the adjusted effect of the full model (β = secure − insecure "
        "in BPND units of the smoothed MNI map, with its t and df), and the observed difference in % of the "
        "insecure mean. The paper's values (Turtonen et al. 2021, N = 39) are set beside; the phantom's planted "
        "effects are listed above.")
    add("")
    add("| ROI | p: class only (paper) | p: + age (paper) | p: + age + sex (paper) | β, t(df) with age + sex | secure − insecure % |")
    add("|---|---|---|---|---|---|")
    roi_summary = {}
    for roi in ROIS:
        if roi not in anova:
            continue
        ps = [anova[roi].get(m, (0, 0, 0, float("nan")))[3] for m in models]
        paper = PAPER.get(roi, ("–", "–", "–"))
        full = effects.get(roi, {}).get(models[-1], {})
        sec, ins = np.mean(means[roi]["secure"]), np.mean(means[roi]["insecure"])
        diff = 100 * (sec - ins) / ins
        cells = [f"{fp(p)} ({paper[i]})" if i < 3 else fp(p) for i, p in enumerate(ps)]
        while len(cells) < 3:
            cells.append("n/a")
        add(f"| {roi} | {cells[0]} | {cells[1]} | {cells[2]} | {full.get('estimate', float('nan')):.3f}, "
            f"{full.get('t', float('nan')):.2f} ({int(full.get('df', 0))}) | {diff:+.1f} |")
        roi_summary[roi] = {"p_models": dict(zip(models, ps)), "full": full, "diff_pct": diff}
    summary["carfentanil_roi"] = roi_summary
    add("")
    # three classes
    c3 = os.path.join(carf.dir, "roi_class3")
    an3 = roi_model_p(c3, "class")
    tukey = read_tsv(os.path.join(c3, "roi_tukey.tsv")) if os.path.exists(os.path.join(c3, "roi_tukey.tsv")) else []
    m3 = model_names(c3)
    add(f"Three classes (secure, avoidant, ambivalent): F test of `class` in `{m3[0]}` and `{m3[-1]}`, and Tukey HSD "
        "(family-wise α 0.05) on the ROI values:")
    add("")
    add("| ROI | F, p (class only) | F, p (+ age + sex) | Tukey: pairs with p < 0.05 |")
    add("|---|---|---|---|")
    three = {}
    for roi in ROIS:
        if roi not in an3:
            continue
        a0, a1 = an3[roi].get(m3[0]), an3[roi].get(m3[-1])
        pairs = [f"{r['group1']}–{r['group2']} (diff {float(r['meandiff']):+.3f}, p {fp(float(r['p']))})"
                 for r in tukey if r["roi"] == roi and float(r["p"]) < 0.05]
        add(f"| {roi} | F({a0[1]},{a0[2]}) = {a0[0]:.2f}, p {fp(a0[3])} | F({a1[1]},{a1[2]}) = {a1[0]:.2f}, p {fp(a1[3])} | "
            f"{'; '.join(pairs) if pairs else 'none'} |")
        three[roi] = {"p_class": a0[3], "p_full": a1[3], "tukey_significant": pairs}
    summary["carfentanil_class3"] = three
    add("")

    # ------------------------------------------------------------------ MADAM null
    add("## The [11C]MADAM null")
    add("")
    mvox = os.path.join(madam.group, "voxelwise")
    ms = [voxelwise_summary(mvox, c) for c in ("secure_gt_insecure", "insecure_gt_secure")]
    m_eff = roi_effects(os.path.join(madam.group, "roi"), "secure_gt_insecure")
    m_anova = roi_model_p(os.path.join(madam.group, "roi"), "attachment")
    mmodels = model_names(os.path.join(madam.group, "roi"))
    mmeans = {}
    for r in read_tsv(os.path.join(madam.group, "roi_long_BPND.tsv")):
        cls = madam.by_id[r["participant_id"]]["attachment"]
        mmeans.setdefault(r["roi"], {}).setdefault(cls, []).append(float(r["value"]))
    add(f"The study's MADAM cohort (cohort 1, N = {len(madam.complete)}, no planted effect), analysed with the "
        f"same design: FDR-significant voxels {ms[0]['fdr_voxels']} (secure > insecure) and {ms[1]['fdr_voxels']} "
        f"(insecure > secure); RFT cluster-FWE-significant clusters {ms[0]['fwe_clusters']} and {ms[1]['fwe_clusters']}. "
        "ROI results (the paper saw non-significant differences of 12 % in hippocampus and 8 % in amygdala):")
    add("")
    add("| ROI | secure − insecure % | p: class only | p: + age | p: + age + sex |")
    add("|---|---|---|---|---|")
    madam_roi = {}
    for roi in ROIS:
        if roi not in m_anova:
            continue
        sec, ins = np.mean(mmeans[roi]["secure"]), np.mean(mmeans[roi]["insecure"])
        ps = [m_anova[roi].get(m, (0, 0, 0, float("nan")))[3] for m in mmodels]
        add(f"| {roi} | {100 * (sec - ins) / ins:+.1f} | " + " | ".join(fp(p) for p in ps) + " |")
        madam_roi[roi] = {"diff_pct": 100 * (sec - ins) / ins, "p_models": dict(zip(mmodels, ps))}
    add("")
    summary["madam_primary"] = {"fdr_voxels": [m["fdr_voxels"] for m in ms],
                                "fwe_clusters": [m["fwe_clusters"] for m in ms], "roi": madam_roi}

    seeds = sorted(glob.glob(os.path.join(work, "null", "seed-*")))
    seeds = [d for d in seeds if os.path.exists(os.path.join(d, ".done"))]
    n_pool = sum(len(c.complete) for c in madams)
    fdr_any = [0, 0]
    fwe_any = [0, 0]
    roi_p, roi_fdr_any, roi_fdr_n = [], 0, 0
    overlap = []
    for d in seeds:
        for i, con in enumerate(("secure_gt_insecure", "insecure_gt_secure")):
            v = voxelwise_summary(os.path.join(d, "voxelwise"), con)
            fdr_any[i] += v["fdr_voxels"] > 0
            fwe_any[i] += v["fwe_clusters"] > 0
        eff_ = roi_effects(os.path.join(d, "roi"), "secure_gt_insecure")
        full_model = model_names(os.path.join(d, "roi"))[-1]
        ps = [eff_[r][full_model]["p"] for r in ROIS if r in eff_]
        pf = [eff_[r][full_model]["p_fdr"] for r in ROIS if r in eff_]
        roi_p += ps
        roi_fdr_any += any(p < 0.05 for p in pf)
        roi_fdr_n += sum(p < 0.05 for p in pf)
        overlap.append({r["source"] for r in read_tsv(os.path.join(d, "participants.tsv"))})
    ns = len(seeds)
    plot_null_p(roi_p, os.path.join(fig_dir, "null_roi_p.png"))
    shared = [len(overlap[i] & overlap[j]) for i in range(ns) for j in range(i + 1, ns)]
    n_rep = len(read_tsv(os.path.join(seeds[0], "participants.tsv"))) if seeds else 0
    add(f"Null replicates: {ns} analyses, each of {n_rep} subjects drawn at random (seeded) from a "
        f"pool of {n_pool} processed MADAM subjects ({len(madams)} independently simulated "
        f"cohort{'s' if len(madams) > 1 else ''} of {len(madam.design)}); "
        + (f"two replicates share {np.mean(shared):.1f} subjects on average, so the replicates are not independent "
           "and the confidence intervals below (Wilson, 95 %, as if they were) are optimistic. " if shared else "")
        + "Each replicate is tested as the study: voxelwise `attachment + age + sex` in both directions, FDR q "
        f"{pipe_cfg['group']['fdr_q']} and RFT cluster FWE, and the 10 ROIs. No subject carries a group effect, "
        "so the class labels are assigned at random (class sizes of cohort 1; age and sex stay with the subject)"
        + (f"; with one cohort in the pool every replicate holds the same {n_rep} subjects and only the labels differ "
           "(a permutation-style null)." if len(madams) == 1 else "."))
    add("")
    add("| inference | replicates with any finding | rate (95 % CI) | nominal |")
    add("|---|---|---|---|")
    null = {"replicates": ns, "pool": n_pool}
    for i, name in enumerate(("secure > insecure", "insecure > secure")):
        lo, hi = wilson(fdr_any[i], ns)
        add(f"| voxel FDR q {pipe_cfg['group']['fdr_q']}, {name} | {fdr_any[i]} of {ns} | "
            f"{100 * fdr_any[i] / max(ns, 1):.0f} % ({100 * lo:.0f}–{100 * hi:.0f} %) | ≤ {100 * pipe_cfg['group']['fdr_q']:.1f} % "
            "(under the complete null FDR control is family-wise control) |")
        lo, hi = wilson(fwe_any[i], ns)
        add(f"| RFT cluster FWE p < 0.05, {name} | {fwe_any[i]} of {ns} | {100 * fwe_any[i] / max(ns, 1):.0f} % "
            f"({100 * lo:.0f}–{100 * hi:.0f} %) | 5 % |")
    k = sum(p < 0.05 for p in roi_p)
    lo, hi = wilson(k, len(roi_p))
    add(f"| ROI, p < 0.05 uncorrected (two-sided, `attachment + age + sex`) | {k} of {len(roi_p)} tests | "
        f"{100 * k / max(len(roi_p), 1):.1f} % ({100 * lo:.1f}–{100 * hi:.1f} %) | 5 % per test |")
    lo, hi = wilson(roi_fdr_any, ns)
    add(f"| ROI, any of 10 ROIs FDR q 0.05 | {roi_fdr_any} of {ns} | {100 * roi_fdr_any / max(ns, 1):.0f} % "
        f"({100 * lo:.0f}–{100 * hi:.0f} %) | ≤ 5 % |")
    add("")
    add(f"![null ROI p-values]({rel(os.path.join(fig_dir, 'null_roi_p.png'))})")
    add("")
    null.update({"fdr_any": fdr_any, "fwe_any": fwe_any, "roi_tests": len(roi_p), "roi_p_lt_005": k,
                 "roi_fdr_any": roi_fdr_any})
    summary["null"] = null

    # ------------------------------------------------------------------ verdict
    hip = roi_summary.get("hippocampus", {})
    add("## Summary")
    add("")
    found = [r for r in ("hippocampus", "amygdala", "thalamus") if roi_summary.get(r, {}).get("p_models", {}).get(models[0], 1) < 0.05]
    add(f"- Carfentanil: the planted secure > insecure effect is found in {len(found)} of 3 paper ROIs "
        f"({', '.join(found) if found else 'none'}) at p < 0.05 without covariates; hippocampus with age and sex "
        f"p {fp(hip.get('p_models', {}).get(models[-1], float('nan')))}. Voxelwise FDR detects "
        f"{100 * s['fdr_sensitivity']:.0f} % of the planted voxels with {s['fdr_outside_near_mm3'] / 1000:.2f} cm³ detected "
        "farther than 8 mm from them" +
        (f"; TFCE ({s['tfce_permutations']} permutations) {100 * s['tfce_sensitivity']:.0f} %, smallest FWE p "
         f"{s['tfce_min_p']:.3f}" if "tfce_min_p" in s else "") + ".")
    add(f"- MADAM (no effect): {ms[0]['fdr_voxels'] + ms[1]['fdr_voxels']} FDR-significant voxels in the study "
        f"cohort; over {ns} null replicates, any-voxel FDR findings in {fdr_any[0] + fdr_any[1]} of {2 * ns} one-sided "
        f"analyses, cluster FWE findings in {fwe_any[0] + fwe_any[1]} of {2 * ns}, ROI p < 0.05 in "
        f"{100 * k / max(len(roi_p), 1):.1f} % of {len(roi_p)} tests.")
    add("")
    summary["total_minutes"] = total_s / 60
    write_json(os.path.join(work, "validation_summary.json"), summary)
    tmp = a.report + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(L) + "\n")
    os.replace(tmp, a.report)


def read_json_safe(bids, tracer):
    """The frame schedule of the first subject's sidecar, as 'n x d min' runs."""
    paths = sorted(glob.glob(os.path.join(bids, "sub-*", "pet", f"*trc-{tracer}*_pet.json")))
    if not paths:
        return "n/a"
    d = json.load(open(paths[0]))["FrameDuration"]
    runs = []
    for x in d:
        if runs and abs(runs[-1][1] - x) < 1e-6:
            runs[-1][0] += 1
        else:
            runs.append([1, x])
    return ", ".join(f"{n}×{v / 60:g} min" for n, v in runs)


# ------------------------------------------------------------------------------------------------- check
def cmd_check(a):
    s = json.load(open(os.path.join(a.work, "validation_summary.json")))
    fails = []
    hip = s["carfentanil_roi"].get("hippocampus", {})
    p0 = list(hip.get("p_models", {}).values())[:1]
    est = hip.get("full", {}).get("estimate", 0)
    if not p0 or not (p0[0] < 0.01 and hip.get("diff_pct", 0) > 0):
        fails.append(f"carfentanil: hippocampus secure > insecure not found (p {p0}, difference {hip.get('diff_pct')} %)")
    if not est > 0:
        fails.append(f"carfentanil: hippocampus adjusted effect not positive ({est})")
    v = s["carfentanil_voxelwise"]
    if v["fdr_sensitivity"] < 0.01:
        fails.append(f"carfentanil: only {100 * v['fdr_sensitivity']:.1f} % of the planted voxels are FDR-significant")
    if v["fwe_true_clusters"] < 1:
        fails.append("carfentanil: no FWE-significant cluster in or near the planted regions")
    if v["fdr_voxels"] and v["fdr_outside_near_mm3"] > 0.2 * v["fdr_detected_mm3"]:
        fails.append("carfentanil: more than 20 % of the FDR-significant volume lies farther than 8 mm from the "
                     "planted regions")
    if s["carfentanil_reverse_fdr_voxels"]:
        fails.append(f"carfentanil: {s['carfentanil_reverse_fdr_voxels']} FDR voxels for insecure > secure")
    m = s["madam_primary"]["fdr_voxels"]
    if sum(m):
        fails.append(f"MADAM null: {m} FDR-significant voxels (expected none)")
    if s["failed_subjects"]:
        fails.append(f"{s['failed_subjects']} subjects failed")
    for f in fails:
        print("FAIL:", f)
    print(f"validation check: {'failed' if fails else 'passed'}")
    sys.exit(1 if fails else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("configs")
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quick", default="0")
    p = sub.add_parser("design")
    p.add_argument("--participants", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("draw")
    p.add_argument("--work", required=True)
    p.add_argument("--cohorts", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--src", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--petpipe", required=True)
    p.add_argument("--quick", default="0")
    p.add_argument("--null-cohorts", default="1")
    p.add_argument("--null-seeds", default="0")
    p.add_argument("--jobs", default="1")
    p = sub.add_parser("check")
    p.add_argument("--work", required=True)
    a = ap.parse_args()
    {"configs": cmd_configs, "design": cmd_design, "draw": cmd_draw, "report": cmd_report, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main()
