"""petpipe's rigid-motion convention, for the test and benchmark scripts (never imported by petpipe).

A motion row (tx, ty, tz in mm; rx, ry, rz in degrees) maps reference-space points to the frame:
y = R (x - c) + c + t, R = Rz(rz) Rx(rx) Ry(ry), LPS coordinates, c the centre of the image grid
(modules/realign/include/petpipe/realign/realign.hpp). Motion tables (petpipe realign's _motion.tsv and
petpipe simulate's truth) have columns tx ty tz rx ry rz.
"""
import csv

import numpy as np

COLUMNS = ("tx", "ty", "tz", "rx", "ry", "rz")


def rot(rx, ry, rz):
    """R = Rz Rx Ry for angles in degrees."""
    a, b, c = np.radians([rx, ry, rz])
    Rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    Ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    Rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return Rz @ Rx @ Ry


def angles(R):
    """Degrees (rx, ry, rz) of R = Rz Rx Ry (|rx| < 90 deg)."""
    return np.degrees([np.arcsin(R[2, 1]), np.arctan2(-R[2, 0], R[2, 2]), np.arctan2(-R[0, 1], R[1, 1])])


def read_motion(path):
    """The rows of a motion table (dicts) and its motion as an N x 6 array."""
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    return rows, np.array([[float(r[k]) for k in COLUMNS] for r in rows])


def relative_to(T, ref):
    """Every row of T re-expressed in frame ref's space: T_f o T_ref^-1 (about the same centre)."""
    Rr = rot(*T[ref, 3:])
    out = []
    for f in range(len(T)):
        A = rot(*T[f, 3:]) @ Rr.T
        out.append(np.concatenate([T[f, :3] - A @ T[ref, :3], angles(A)]))
    return np.array(out)
