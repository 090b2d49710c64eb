#!/usr/bin/python3
"""Copies a reference-state file and changes one value in it, so that a test
can prove `fer check-reference` fails: perturb.py IN OUT DATASET DELTA adds
DELTA times the dataset's largest magnitude to its first element; DELTA
"negate" negates that element instead (a ReLU input then takes the other
decision). DATASET "-GROUP" (any DELTA) deletes GROUP instead: a file as an older
generator wrote it."""
import shutil
import sys

import h5py
import numpy as np

src, dst, dataset, delta = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
shutil.copyfile(src, dst)
with h5py.File(dst, "r+") as f:
    if dataset.startswith("-"):
        del f[dataset[1:]]
        print(f"{dst}: {dataset[1:]} deleted")
        sys.exit(0)
    d = f[dataset]
    values = d[()]
    flat = np.array(values, dtype=np.float64).reshape(-1)
    change = -2 * flat[0] if delta == "negate" else float(delta) * max(np.abs(flat).max(), 1e-3)
    flat[0] += change
    d[...] = flat.reshape(np.shape(values)).astype(d.dtype)
    print(f"{dst}: {dataset}[0] {flat[0] - change:.6g} -> {flat[0]:.6g}")
