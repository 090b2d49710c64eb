# Learning-rate schedules and the weights' EMA in whole runs of
# configs/tiny.yaml (8 steps an epoch; phase head is epoch 1, finetune the rest):
# - plateau: the lr column of epochs.csv drops after exactly `patience`
#   non-improving epochs, and a run stopped mid-epoch after a reduction, then
#   resumed, ends bit-identical (weights, optimizer, plateau state);
# - cosine with warm-up and EMA: steps.csv's lr follows the closed form, the
#   stored EMA follows its recursion from one checkpoint to the next, best.h5
#   evaluates to the validation accuracy training logged (the EMA's), and a
#   stopped and resumed run ends bit-identical (EMA included).
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
cfg=$src/configs/tiny.yaml
cd "$work"
# min_delta 1: only the phase's first epoch improves (on -inf), so with
# patience 2 the lr halves at the end of epochs 4 and 6 (from epoch 5 on, then 7).
plateau=(--set schedule.1.epochs=6
  --set 'schedule.1.lr_schedule={name: plateau, patience: 2, factor: 0.5, min_delta: 1, min_lr: 0.001}')
cosine=(--set schedule.1.epochs=3 --set schedule.1.optimizer.warmup_epochs=0.5
  --set 'schedule.1.lr_schedule={name: cosine, min_lr: 0.001}' --set train.ema=0.9
  --set checkpoint.every_steps=1 --set checkpoint.keep_last=40)
run() { # run DIR LOG args...: fer train, exit status in $rc
  local dir=$1 log=$2; shift 2
  set +e; "$fer" train "$cfg" "${precision[@]}" --run-dir "$dir" "$@" > "$log" 2>&1; rc=$?; set -e
}
same_state() { # same_state A B: the checkpoints' weights, optimizer and schedule state bit-identical
  h5diff -r "$1" "$2" /model_weights /model_weights > /dev/null && h5diff "$1" "$2" /optimizer /optimizer &&
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
keys = ["lr", "plateau_lr", "plateau_best", "plateau_wait", "plateau_cooldown", "ema_updates", "global_step"]
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
sa, sb = ({k: f["state"].attrs[k] for k in keys} for f in (a, b))
tw = ("training_weights" in a) == ("training_weights" in b)
if tw and "training_weights" in a:
    def flat(f):
        out = {}
        f["training_weights"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out
    fa, fb = flat(a), flat(b)
    tw = fa.keys() == fb.keys() and all((fa[k] == fb[k]).all() for k in fa)
print("state", sys.argv[1], sa, "\n     ", sys.argv[2], sb, "\n      training_weights equal:", tw)
sys.exit(0 if sa == sb and tw else 1)
PY
}

# ---- plateau ----------------------------------------------------------------
run pa pa.log "${plateau[@]}"
check "plateau run exits 0 (got $rc)" [ $rc -eq 0 ]
lrs=$(tail -n +2 pa/epochs.csv | cut -d, -f3 | tr '\n' ' ')
echo "plateau run, lr per epoch: $lrs"
check "the lr halves after 2 non-improving epochs, twice" [ "$lrs" = "0.05 0.01 0.01 0.01 0.005 0.005 0.0025 " ]
check "the log names the reduction" grep -q "epoch 4: .*lr 0.01 -> 0.005" pa.log
# Stopped in epoch 5 (steps 33-40), after the first reduction, and again in epoch 7.
run pb pb1.log "${plateau[@]}" --stop-after-steps 36; rc1=$rc
run pb pb2.log "${plateau[@]}" --resume auto --stop-after-steps 52; rc2=$rc
run pb pb3.log "${plateau[@]}" --resume auto; rc3=$rc
check "plateau run stopped, resumed, stopped, resumed: 75 75 0 (got $rc1 $rc2 $rc3)" [ "$rc1 $rc2 $rc3" = "75 75 0" ]
check "resumed plateau run ends bit-identical to the straight one" same_state pa/$(cat pa/latest) pb/$(cat pb/latest)
check "resumed plateau run logs the same lr per epoch" diff <(cut -d, -f1-3 pa/epochs.csv) <(cut -d, -f1-3 pb/epochs.csv)

# ---- cosine + EMA -----------------------------------------------------------
run ca ca.log "${cosine[@]}"
check "cosine + EMA run exits 0 (got $rc)" [ $rc -eq 0 ]
/usr/bin/python3 - ca <<'PY' > cosine.txt || true; cat cosine.txt
import sys, csv, math
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/steps.csv")) if r["phase"] == "1"]
# finetune: 3 epochs of 8 steps, lr 0.01, warm-up 4 steps, floor 0.001
worst = 0
for r in rows:
    i = int(r["global_step"]) - 9
    want = 0.01 * (i + 1) / 4 if i < 4 else 0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * (i - 4) / 20))
    worst = max(worst, abs(float(r["lr"]) - want) / want)
print(f"cosine: {len(rows)} steps of phase finetune, max relative |lr - closed form| {worst:.2e} (tol 1e-5)")
print("ok" if len(rows) == 24 and worst < 1e-5 else "bad")
PY
check "steps.csv's lr follows warm-up and cosine to the floor" grep -qx ok cosine.txt
/usr/bin/python3 - ca <<'PY' > ema.txt || true; cat ema.txt
import sys, h5py, numpy as np
d = sys.argv[1]
def load(path, group):
    out = {}
    with h5py.File(path, "r") as f:
        f[group].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
# Steps 18 and 19 of epoch 3 (phase finetune: every weight trains).
e1 = load(d + "/ckpt-0002-000002.h5", "model_weights")
e2 = load(d + "/ckpt-0002-000003.h5", "model_weights")
w2 = load(d + "/ckpt-0002-000003.h5", "training_weights")
dec = np.float32(0.9); keep = np.float32(1 - 0.9)
worst = max(np.abs(e2[k] - (dec * e1[k] + keep * w2[k])).max() / max(np.abs(e2[k]).max(), 1e-30) for k in e2)
moved = max(np.abs(e2[k] - w2[k]).max() for k in e2)
print(f"ema: step 19's EMA vs 0.9 * step 18's + 0.1 * step 19's weights over {len(e2)} tensors: "
      f"max relative diff {worst:.2e} (tol 1e-6); max |EMA - weights| {moved:.3g}")
print("ok" if worst < 1e-6 and moved > 0 else "bad")
PY
check "the stored EMA follows e = 0.9 e + 0.1 w from one step to the next" grep -qx ok ema.txt
check "best.h5 holds the EMA and the training weights" /usr/bin/python3 -c "
import h5py, sys; f = h5py.File('ca/best.h5', 'r'); sys.exit(0 if 'training_weights' in f and 'model_weights' in f else 1)"
"$fer" eval --checkpoint ca/best.h5 --usage PublicTest --out ca/eval > eval.log 2>&1 || true
/usr/bin/python3 - ca <<'PY' > eval.txt || true; cat eval.txt
import sys, csv, json, h5py
d = sys.argv[1]
best = int(h5py.File(d + "/best.h5", "r")["state"].attrs["best_epoch"])
row = [r for r in csv.DictReader(open(d + "/epochs.csv")) if int(r["epoch"]) == best][0]
ev = json.load(open(d + "/eval.json"))
print(f"best epoch {best}: validation loss logged in training {row['val_loss']}, fer eval of best.h5 {ev['loss']}")
print("ok" if abs(float(row["val_loss"]) - ev["loss"]) < 2e-6 else "bad")
PY
check "fer eval of best.h5 (the EMA) gives the validation loss training logged" grep -qx ok eval.txt
run cb cb1.log "${cosine[@]}" --stop-after-steps 5; rc1=$rc
run cb cb2.log "${cosine[@]}" --resume auto --stop-after-steps 19; rc2=$rc
run cb cb3.log "${cosine[@]}" --resume auto; rc3=$rc
check "cosine + EMA run stopped, resumed, stopped, resumed: 75 75 0 (got $rc1 $rc2 $rc3)" [ "$rc1 $rc2 $rc3" = "75 75 0" ]
check "resumed cosine + EMA run ends bit-identical (EMA, weights, optimizer, state)" \
  same_state ca/$(cat ca/latest) cb/$(cat cb/latest)
finish
