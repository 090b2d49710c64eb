#!/usr/bin/python3
"""Two `fer train` run directories agree: the per-step losses of steps.csv
(relative difference below TOL) and a checkpoint's weights (largest
difference below TOL of the largest weight), over STEPS common steps.

usage: compare_runs.py RUN_A RUN_B [STEPS [TOL]] [--first] [--checkpoint NAME] [--differ]
  STEPS         how many steps both runs logged (default 24, configs/tiny.yaml's run)
  TOL           default 1e-4; 0 asks for the same bits: equal losses and weights
  --first       compare the global steps up to STEPS only (the runs may go on); both runs
                must have logged the same ones (a run resumed mid-way logs from there)
  --checkpoint  the checkpoint file in each run directory (default: the one `latest` names)
  --differ      exit 0 when the runs do not agree (a key that must change the run)
"""
import argparse
import csv
import sys

import h5py
import numpy as np


def losses(run, upto):
    with open(run + "/steps.csv") as f:
        rows = {int(r["global_step"]): float(r["loss"]) for r in csv.DictReader(f)}
    return {s: v for s, v in rows.items() if upto is None or s <= upto}


def weights(run, name):
    out = {}
    if name == "latest":
        name = open(run + "/latest").read().strip()
    with h5py.File(run + "/" + name, "r") as f:
        f["model_weights"].visititems(
            lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("steps", nargs="?", type=int, default=24)
    ap.add_argument("tol", nargs="?", type=float, default=1e-4)
    ap.add_argument("--first", action="store_true")
    ap.add_argument("--checkpoint", default="latest")
    ap.add_argument("--differ", action="store_true")
    args = ap.parse_args()
    upto = args.steps if args.first else None
    la, lb = losses(args.a, upto), losses(args.b, upto)
    steps = sorted(set(la) & set(lb))
    rel = max((abs(la[s] - lb[s]) / max(abs(la[s]), 1e-12) for s in steps), default=float("inf"))
    wa, wb = weights(args.a, args.checkpoint), weights(args.b, args.checkpoint)
    scale = max(np.abs(v).max() for v in wa.values())
    werr = max(np.abs(wa[k] - wb[k]).max() for k in wa) / scale
    span = f"steps {steps[0]}-{steps[-1]}" if steps else "no common steps"
    print(f"{args.a} vs {args.b}: {span} ({len(la)} vs {len(lb)} logged), max rel loss diff {rel:.2e}, "
          f"weights of {args.checkpoint}: max diff / max |w| {werr:.2e} (tol {args.tol:g}, expected "
          f"{'a difference' if args.differ else 'agreement'})")
    if args.first:  # the same steps logged up to STEPS, at least one
        same_steps = len(steps) > 0 and la.keys() == lb.keys()
    else:
        same_steps = len(steps) == args.steps
    if args.tol == 0:
        agree = same_steps and rel == 0 and werr == 0
    else:
        agree = same_steps and rel < args.tol and werr < args.tol
    return 0 if agree != args.differ else 1


if __name__ == "__main__":
    sys.exit(main())
