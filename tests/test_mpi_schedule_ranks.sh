# Rank-count invariance with a cosine schedule (warm-up, floor) and the
# weights' EMA on: configs/tiny.yaml on 1, 2 and 3 ranks gives the same
# per-step losses and learning rates, and the same EMA and training weights
# after the frozen-backbone phase (within 1e-5, as tests/test_mpi_ranks.sh
# compares, and for the same reason: ranks differ only in summation order);
# a plateau schedule in the next phase reduces the lr at the same epochs.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
cfg=$src/configs/tiny.yaml
cd "$work"
opts=(--set schedule.0.optimizer.warmup_epochs=0.25 --set 'schedule.0.lr_schedule={name: cosine, min_lr: 0.005}'
  --set schedule.1.epochs=4
  --set 'schedule.1.lr_schedule={name: plateau, patience: 1, factor: 0.5, min_delta: 1}'
  --set train.ema=0.9 --set train.ema_warmup=true --set checkpoint.keep_last=10)
for p in 1 2 3; do
  set +e; mpirun_fer $p train "$cfg" "${precision[@]}" "${opts[@]}" --run-dir r$p > r$p.log 2>&1; rc=$?; set -e
  check "$p rank(s) exit 0 (got $rc)" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || tail -5 r$p.log
done
compare() { # compare A B: steps 1-8 and the checkpoint after epoch 1
  /usr/bin/python3 - "$@" <<'PY'
import sys, csv, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
def steps(d):
    with open(d + "/steps.csv") as f:
        return {int(r["global_step"]): (float(r["loss"]), float(r["lr"])) for r in csv.DictReader(f)
                if int(r["global_step"]) <= 8}
sa, sb = steps(a), steps(b)
rel = max(abs(sa[s][0] - sb[s][0]) / max(abs(sa[s][0]), 1e-12) for s in sa) if sa.keys() == sb.keys() else 1.0
lr_same = sa.keys() == sb.keys() and all(sa[s][1] == sb[s][1] for s in sa)
lr_moves = len({v[1] for v in sa.values()}) > 2
def weights(d, group):
    out = {}
    with h5py.File(d + "/ckpt-0001-000000.h5", "r") as f:
        f[group].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
errs = {}
for g in ("model_weights", "training_weights"):
    wa, wb = weights(a, g), weights(b, g)
    scale = max(np.abs(v).max() for v in wa.values())
    errs[g] = max(np.abs(wa[k] - wb[k]).max() for k in wa) / scale
print(f"{a} vs {b}: steps 1-8 max rel loss diff {rel:.2e} (tol 1e-5), lr per step equal {lr_same} "
      f"(cosine moves it: {lr_moves}); epoch 1 EMA max diff / max |w| {errs['model_weights']:.2e}, "
      f"training weights {errs['training_weights']:.2e} (tol 1e-5)")
sys.exit(0 if rel < 1e-5 and lr_same and lr_moves and max(errs.values()) < 1e-5 else 1)
PY
}
check "1 vs 2 ranks: losses, lr, EMA and weights after the cosine phase" compare r1 r2
check "1 vs 3 ranks: losses, lr, EMA and weights after the cosine phase" compare r1 r3
for p in 2 3; do
  echo "lr per epoch, 1 rank: $(cut -d, -f3 r1/epochs.csv | tr '\n' ' '); $p ranks: $(cut -d, -f3 r$p/epochs.csv | tr '\n' ' ')"
  check "plateau: 1 and $p ranks log the same lr per epoch" diff <(cut -d, -f1-3 r1/epochs.csv) <(cut -d, -f1-3 r$p/epochs.csv)
done
check "the plateau reduced the lr" grep -q "lr 0.01 -> 0.005" r1.log
finish
