#!/usr/bin/python3
"""Two `fer train` run directories agree: the per-step losses of steps.csv
(relative difference below 1e-4) and the final checkpoint's weights (largest
difference below 1e-4 of the largest weight), over `steps` common steps.

usage: compare_runs.py RUN_A RUN_B [STEPS [TOL]]   (default 24, configs/tiny.yaml's run; 1e-4)
TOL 0 asks for the same bits: equal losses and weights.
"""
import csv
import sys

import h5py
import numpy as np


def losses(run):
    with open(run + "/steps.csv") as f:
        return {int(r["global_step"]): float(r["loss"]) for r in csv.DictReader(f)}


def weights(run):
    out = {}
    with h5py.File(run + "/" + open(run + "/latest").read().strip(), "r") as f:
        f["model_weights"].visititems(
            lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    a, b = sys.argv[1], sys.argv[2]
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 24
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    la, lb = losses(a), losses(b)
    steps = sorted(set(la) & set(lb))
    rel = max(abs(la[s] - lb[s]) / max(abs(la[s]), 1e-12) for s in steps)
    wa, wb = weights(a), weights(b)
    scale = max(np.abs(v).max() for v in wa.values())
    werr = max(np.abs(wa[k] - wb[k]).max() for k in wa) / scale
    print(f"{a} vs {b}: {len(steps)} steps, max rel loss diff {rel:.2e} (tol {tol:g}), "
          f"max weight diff / max |w| {werr:.2e} (tol {tol:g})")
    if tol == 0:
        return 0 if len(steps) == want and rel == 0 and werr == 0 else 1
    return 0 if len(steps) == want and rel < tol and werr < tol else 1


if __name__ == "__main__":
    sys.exit(main())
