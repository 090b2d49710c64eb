#!/usr/bin/python3
"""Compares two reference-state files of tools/torch_reference.py made with the
same config, seed and batch (e.g. --dtype float64 and --dtype float32), with
the measures of `fer check-reference`: per tensor the max error normalized by
the reference's largest magnitude (a gradient the reference has as zero: by
the largest gradient), the relative L2 error and 1 - cosine similarity, the
same for all gradients as one vector, and the ReLU / max-pool decisions taken
differently (from both files' /expected/decision_inputs) with the relative L2
error of the activations there (a ReLU's output, a max pool's input).

  /usr/bin/python3 tools/compare_reference_states.py REFERENCE.h5 OTHER.h5

It answers "how far is PyTorch's own float32 from its float64?" on the same
weights and input, next to what `fer check-reference` says of fer.
"""
import sys

import h5py
import numpy as np

ZERO_GRADIENT = 1e-9  # as fer check-reference


def tensors(f, group):
    """(path, float64 array) of every dataset under group."""
    out = []
    f[group].visititems(lambda name, obj: out.append((name, obj[()].astype(np.float64)))
                        if isinstance(obj, h5py.Dataset) else None)
    return out


def measures(ours, ref):
    d = ours - ref
    ref2, ours2 = float((ref * ref).sum()), float((ours * ours).sum())
    rel = np.sqrt(float((d * d).sum()) / ref2) if ref2 > 0 else float("nan")
    cos = float((ours * ref).sum()) / np.sqrt(ours2 * ref2) if ref2 > 0 and ours2 > 0 else float("nan")
    return float(np.abs(d).max()), float(np.abs(ref).max()), rel, cos


def pool_argmax(x):
    """First-maximum index of each 2x2 window of an NHWC tensor, and whether
    another element ties with it."""
    n, h, w, c = x.shape
    v = x[:, :2 * (h // 2), :2 * (w // 2), :].reshape(n, h // 2, 2, w // 2, 2, c)
    v = v.transpose(0, 1, 3, 5, 2, 4).reshape(-1, 4)
    arg = v.argmax(axis=1)
    tied = (v == v[np.arange(len(v)), arg][:, None]).sum(axis=1) > 1
    return arg, tied


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    print(f"reference {sys.argv[1]} ({a.attrs.get('dtype', b'float64').decode()}), "
          f"compared {sys.argv[2]} ({b.attrs.get('dtype', b'float64').decode()})")
    ref_grads, our_grads = tensors(a, "expected/gradients"), tensors(b, "expected/gradients")
    scale = max(np.abs(g).max() for _, g in ref_grads)
    print(f"  {'tensor':<30} {'normalized':>11} {'rel L2':>10} {'1-cosine':>10}")
    rows = [("logits", b["expected/logits"][()].astype(np.float64), a["expected/logits"][()].astype(np.float64))]
    if [n for n, _ in ref_grads] != [n for n, _ in our_grads]:
        sys.exit("compare_reference_states: the files have different gradient tensors")
    rows += [("d " + n.split("/", 1)[-1], o, r) for (n, r), (_, o) in zip(ref_grads, our_grads)]
    for name, o, r in rows:
        err, mag, rel, cos = measures(o, r)
        zero = name.startswith("d ") and mag <= ZERO_GRADIENT * scale
        if zero:
            print(f"  {name:<30} {err / scale:11.3e} {'-':>10} {'-':>10}  (zero in the reference)")
        else:
            print(f"  {name:<30} {err / mag:11.3e} {rel:10.3e} {1 - cos:10.3e}")
    _, _, rel, cos = measures(np.concatenate([o.ravel() for _, o, _ in rows[1:]]),
                              np.concatenate([r.ravel() for _, _, r in rows[1:]]))
    print(f"  {'all gradients (one vector)':<30} {'':>11} {rel:10.3e} {1 - cos:10.3e}")
    if "decision_inputs" not in a["expected"] or "decision_inputs" not in b["expected"]:
        print("decisions: not counted (a file lacks /expected/decision_inputs)")
        return
    total = differ = 0
    for name in a["expected/decision_inputs"]:
        ds = a["expected/decision_inputs"][name]
        r, o = ds[()], b["expected/decision_inputs"][name][()]
        if ds.attrs["decision"] == b"maxpool":
            ra, tied = pool_argmax(r)
            oa, _ = pool_argmax(o)
            taken, d = int((~tied).sum()), int(((ra != oa) & ~tied).sum())
        else:
            taken, d = r.size, int(((r > 0) != (o > 0)).sum())
            r, o = np.maximum(r, 0), np.maximum(o, 0)  # compare the ReLU's outputs, as fer check-reference
        rel = measures(o.astype(np.float64), r.astype(np.float64))[2]
        print(f"  {name:<30} {taken:>12} decisions, {d} differ; activations' rel L2 {rel:.3e}")
        total += taken
        differ += d
    print(f"  {'all decisions':<30} {total:>12} decisions, {differ} differ")


if __name__ == "__main__":
    main()
