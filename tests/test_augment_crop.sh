# augment.random_crop and augment.random_erasing on configs/tiny.yaml
# (24x24 input, crop 20 with padding 2, erasing p 0.5, with mixup, label
# smoothing, a cosine schedule and the EMA): the keys change the
# run; 1, 2 and 3 ranks give the same losses and weights over the
# frozen-backbone phase (as test_mpi_ranks.sh, 1e-5), also 2 ranks stopped
# mid-epoch and resumed on 3; a run stopped twice and resumed ends
# bit-identical to a straight one;
# the checkpoint's config keeps the keys. Then the evaluation side: fer eval
# and fer predict with --tta none|flip|tencrop (tencrop of a constant image
# and flip of a mirror-symmetric one equal no TTA; flip is the mean of the
# image's and its mirror's probabilities; tencrop without a crop is refused),
# and fer export refuses a raw graph for a crop-trained model.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py cv2
cfg=$src/configs/tiny.yaml
cd "$work"
# The other training features on in every run (mixup, label smoothing, a
# cosine schedule, the EMA): a mixup partner gets its own keyed crop and
# erasing, which must hold on every rank count and through resumes too.
common=(--set schedule.1.epochs=1 --set train.mixup_alpha=1 --set train.label_smoothing=0.1
        --set 'schedule.0.lr_schedule={name: cosine, min_lr: 0.005}' --set train.ema=0.9)
keys=("${common[@]}" --set augment.random_crop="{size: 20, padding: 2}" --set augment.random_erasing.p=0.5
      --set augment.random_erasing.value=-20)

set +e
"$fer" train "$cfg" "${precision[@]}" "${common[@]}" --run-dir plain > plain.log 2>&1; rcp=$?
for p in 1 2 3; do
  mpirun_fer $p train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir r$p > r$p.log 2>&1; rc[$p]=$?
done
"$fer" train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir resumed --stop-after-steps 5 > part1.log 2>&1; rc1=$?
"$fer" train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir resumed --resume auto --stop-after-steps 11 \
  > part2.log 2>&1; rc2=$?
"$fer" train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir resumed --resume auto > part3.log 2>&1; rc3=$?
mpirun_fer 2 train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir r23 --stop-after-steps 6 > r23a.log 2>&1; rca=$?
mpirun_fer 3 train "$cfg" "${precision[@]}" "${keys[@]}" --run-dir r23 --resume auto > r23b.log 2>&1; rcb=$?
set -e
check "plain and 1/2/3-rank runs exit 0 (got $rcp ${rc[1]} ${rc[2]} ${rc[3]})" \
  [ $rcp -eq 0 -a ${rc[1]} -eq 0 -a ${rc[2]} -eq 0 -a ${rc[3]} -eq 0 ]
check "stopped at steps 5 and 11 (75, 75), resumed to the end (0): got $rc1 $rc2 $rc3" \
  [ $rc1 -eq 75 -a $rc2 -eq 75 -a $rc3 -eq 0 ]
check "2 ranks stopped at step 6 (75), resumed on 3 (0): got $rca $rcb" [ $rca -eq 75 -a $rcb -eq 0 ]

# compare A B STEPS CHECKPOINT [--differ]: losses of global steps 1..STEPS and
# the weights in CHECKPOINT agree to 1e-5 (or, with --differ, do not).
compare() {
  /usr/bin/python3 "$src/tests/compare_runs.py" "$1" "$2" "$3" 1e-5 --first --checkpoint "$4" "${@:5}"
}
epoch1=ckpt-0001-000000.h5
check "crop + erasing change the run (vs the same config without them)" compare plain r1 8 $epoch1 --differ
check "1 vs 2 ranks with crop + erasing, frozen-backbone phase" compare r1 r2 8 $epoch1
check "1 vs 3 ranks with crop + erasing, frozen-backbone phase" compare r1 r3 8 $epoch1
check "1 rank vs 2 ranks stopped at step 6 and resumed on 3" compare r1 r23 8 $epoch1
check "stopped twice and resumed: weights and statistics bit-identical to the straight run" \
  same_checkpoints r1 resumed /model_weights
check "... and the optimizer state" same_checkpoints r1 resumed /optimizer
"$fer" train "$cfg" "${keys[@]}" --print-config > printed.yaml
check "the resolved config holds the crop" grep -q "random_crop: {size: 20, padding: 2}" printed.yaml
erasing_kept() { grep -A6 "random_erasing:" printed.yaml > erasing.txt && grep -q "p: 0.5" erasing.txt &&
  grep -q "value: -20" erasing.txt; }
check "... and the erasing keys" erasing_kept
# The preview grid draws the crop: the same seed's grid changes with it.
"$fer" augment --config "$cfg" --data synthetic --preview 8 --out grid-plain.png > /dev/null
"$fer" train "$cfg" "${keys[@]}" --print-config > crop.yaml
"$fer" augment --config crop.yaml --data synthetic --preview 8 --out grid-crop.png > /dev/null
check "fer augment --preview draws the crop (the grids differ)" eval '! cmp -s grid-plain.png grid-crop.png'

# ---- evaluation --------------------------------------------------------------
evals() { # evals RUN MODE: fer eval exit status and its accuracy line
  local rc=0
  "$fer" eval --checkpoint $1/best.h5 --tta $2 --out ev-$1-$2 > ev-$1-$2.log 2>&1 || rc=$?
  echo "  fer eval $1 --tta $2: exit $rc: $(grep -i -m1 "accuracy" ev-$1-$2.log || tail -1 ev-$1-$2.log)"
  return $rc
}
for m in none flip tencrop; do check "fer eval --tta $m on the crop-trained model" evals r1 $m; done
check "fer eval --tta flip on the model without a crop" evals plain flip
mpirun_fer 2 eval --checkpoint r1/best.h5 --tta tencrop --out ev2 > ev2.log 2>&1 || true
same_scores() { # the accuracy and loss lines of two evaluations
  diff <(grep -E "accuracy|^loss" ev-r1-tencrop.log) <(grep -E "accuracy|^loss" ev2.log)
}
echo "  2 ranks: $(grep -m1 accuracy ev2.log)"
check "fer eval --tta tencrop on 2 ranks scores as on 1" same_scores
set +e; evals plain tencrop; rct=$?; set -e
check "fer eval --tta tencrop without a crop is refused (exit $rct), naming the key" \
  eval '[ $rct -ne 0 ] && grep -q "random_crop" ev-plain-tencrop.log'

/usr/bin/python3 - <<'PY'
import cv2, numpy as np
rng = np.random.default_rng(3)
f = np.clip(rng.normal(120, 40, (48, 48)), 0, 255).astype(np.uint8)
cv2.imwrite("face.png", f)
cv2.imwrite("mirror.png", f[:, ::-1].copy())
half = np.clip(rng.normal(120, 40, (48, 24)), 0, 255).astype(np.uint8)
cv2.imwrite("symmetric.png", np.concatenate([half, half[:, ::-1]], axis=1))
cv2.imwrite("constant.png", np.full((48, 48), 97, np.uint8))
PY
predict() { # predict RUN MODE IMAGES...: the probability vectors, one line per image
  local run=$1 mode=$2; shift 2
  "$fer" predict --checkpoint $run/best.h5 --json --tta $mode "$@" |
    /usr/bin/python3 -c 'import json,sys; [print(*p["probabilities"].values()) for p in json.load(sys.stdin)["predictions"]]'
}
close() { # close A B TOL: the numbers of two files agree within TOL
  /usr/bin/python3 - "$@" <<'PY'
import sys, numpy as np
a, b = np.loadtxt(sys.argv[1]), np.loadtxt(sys.argv[2])
d = np.abs(a - b).max()
print(f"  {sys.argv[1]} vs {sys.argv[2]}: max diff {d:.2e} (tol {sys.argv[3]})")
sys.exit(0 if d <= float(sys.argv[3]) else 1)
PY
}
predict r1 none constant.png > c-none.txt; predict r1 tencrop constant.png > c-ten.txt
check "tencrop of a constant image = no TTA" close c-none.txt c-ten.txt 1e-6
predict r1 none symmetric.png > s-none.txt; predict r1 flip symmetric.png > s-flip.txt
check "flip of a mirror-symmetric image = no TTA" close s-none.txt s-flip.txt 1e-6
predict r1 none face.png mirror.png > fm.txt; predict r1 flip face.png > f-flip.txt
/usr/bin/python3 -c 'import numpy as np; a = np.loadtxt("fm.txt"); np.savetxt("f-mean.txt", a.mean(0)[None], fmt="%.6f")'
check "flip = mean of the image's and its mirror's probabilities" close f-mean.txt f-flip.txt 2e-6
head -1 fm.txt > f-none.txt
check "flip differs from no TTA on an asymmetric face" eval '! close f-none.txt f-flip.txt 1e-4'

# ---- export ------------------------------------------------------------------
set +e
"$fer" export --checkpoint r1/best.h5 --out raw.onnx > ex1.log 2>&1; rce1=$?
"$fer" export --checkpoint r1/best.h5 --out pre.onnx --input preprocessed > ex2.log 2>&1; rce2=$?
set -e
echo "  raw export: exit $rce1: $(head -1 ex1.log)"
check "export --input raw of a crop-trained model is refused naming the crop, no file left" \
  eval '[ $rce1 -eq 1 ] && grep -q "random_crop (size 20)" ex1.log && [ ! -e raw.onnx ]'
check "export --input preprocessed of it works (exit $rce2)" [ $rce2 -eq 0 -a -s pre.onnx ]
finish
