# train.label_smoothing and train.mixup_alpha keep fer's guarantees:
# configs/tiny.yaml with both on gives the same per-step losses (1e-5
# relative) and epoch-1 weights (1e-5 of the largest) on 1, 2 and 3 ranks
# (the frozen-backbone phase, as test_mpi_ranks.sh compares: beyond it the
# tiny network amplifies summation-order rounding), a stopped and resumed
# run ends bit-identical to a straight one, and the keys change training
# (the losses differ from a run without them). Out-of-range values are
# refused with the key's name.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
cfg=$src/configs/tiny.yaml
cd "$work"
on=(--set train.label_smoothing=0.1 --set train.mixup_alpha=1 --set train.mixup_prob=0.8)
set +e
for p in 1 2 3; do
  mpirun_fer $p train "$cfg" "${on[@]}" --run-dir r$p > r$p.log 2>&1; rc[$p]=$?
done
"$fer" train "$cfg" --run-dir off > off.log 2>&1; rco=$?
"$fer" train "$cfg" "${on[@]}" --run-dir resumed --stop-after-steps 13 > p1.log 2>&1; rcp1=$?
"$fer" train "$cfg" "${on[@]}" --run-dir resumed --resume auto > p2.log 2>&1; rcp2=$?
set -e
check "runs exit 0 (1, 2, 3 ranks: ${rc[1]} ${rc[2]} ${rc[3]}; without ${rco}; resumed $rcp2) and the stop 75 ($rcp1)" \
  [ ${rc[1]} -eq 0 -a ${rc[2]} -eq 0 -a ${rc[3]} -eq 0 -a $rco -eq 0 -a $rcp1 -eq 75 -a $rcp2 -eq 0 ]
# compare A B STEPS: losses of global steps 1..STEPS and epoch 1's weights.
compare() {
  /usr/bin/python3 "$src/tests/compare_runs.py" "$1" "$2" "$3" 1e-5 --first --checkpoint ckpt-0001-000000.h5
}
check "1 vs 2 ranks, frozen-backbone phase, within 1e-5" compare r1 r2 8
check "1 vs 3 ranks, frozen-backbone phase, within 1e-5" compare r1 r3 8
differs() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, csv
def losses(d):
    with open(d + "/steps.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
gap = max(abs(x - y) for x, y in zip(a, b))
print(f"step losses with vs without smoothing + mixup: max difference {gap:.3f} (want > 0.01)")
sys.exit(0 if gap > 0.01 else 1)
PY
}
check "smoothing + mixup change the losses" differs r1 off
check "stopped at step 13 and resumed: weights and statistics bit-identical" \
  same_checkpoints r1 resumed /model_weights
refused() { # refused KEY=VALUE: fer train refuses it, naming the key
  local out
  if out=$("$fer" train "$cfg" --set "$1" --print-config 2>&1); then return 1; fi
  echo "$out" | head -1
  echo "$out" | grep -q "${1%%=*}"
}
check "train.label_smoothing=1 refused" refused train.label_smoothing=1
check "train.mixup_alpha=-0.5 refused" refused train.mixup_alpha=-0.5
check "train.mixup_prob=1.5 refused" refused train.mixup_prob=1.5
finish
