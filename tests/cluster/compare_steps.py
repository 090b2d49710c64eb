#!/usr/bin/python3
"""Two `fer train` run directories agree as tests/test_mpi_ranks.sh compares
runs on different rank counts: the losses of global steps 1..STEPS in
steps.csv (the same steps in both, relative difference below 1e-5) and the
weights of CHECKPOINT (a file name in both run directories, or `latest`:
largest difference below 1e-5 of the largest weight).

usage: compare_steps.py RUN_A RUN_B STEPS CHECKPOINT
"""
import csv
import sys

import h5py
import numpy as np


def losses(run, last):
    with open(run + "/steps.csv") as f:
        return {int(r["global_step"]): float(r["loss"]) for r in csv.DictReader(f)
                if int(r["global_step"]) <= last}


def weights(run, ckpt):
    out = {}
    name = open(run + "/latest").read().strip() if ckpt == "latest" else ckpt
    with h5py.File(run + "/" + name, "r") as f:
        f["model_weights"].visititems(
            lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    a, b, last, ckpt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    la, lb = losses(a, last), losses(b, last)
    common = la.keys() & lb.keys()
    rel = max(abs(la[s] - lb[s]) / max(abs(la[s]), 1e-12) for s in common) if common else 1.0
    wa, wb = weights(a, ckpt), weights(b, ckpt)
    scale = max(np.abs(v).max() for v in wa.values())
    werr = max(np.abs(wa[k] - wb[k]).max() for k in wa) / scale
    print(f"{a} vs {b}: steps {min(la)}-{max(la)} ({len(la)} vs {len(lb)}), max rel loss diff {rel:.2e} "
          f"(tol 1e-5), weights of {ckpt}: max diff / max |w| {werr:.2e} (tol 1e-5)")
    return 0 if la.keys() == lb.keys() and rel < 1e-5 and werr < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
