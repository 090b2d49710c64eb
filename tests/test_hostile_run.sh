# Hostile runs of `fer train` and friends (issue 19): each check names the
# defect it guards; each failed on the code before the fix.
#  - model.classes above the documented maximum (16): was a stack overflow
#  - resume after a change of data.batch_size / data.limit_train: spun forever
#  - --resume auto over unreadable checkpoints: silently overwrote the run
#  - two trainers on one run directory: mixed their files, deleted live temps
#  - labels beyond the model's classes or outside a byte: misleading or silent
#  - --batch 2147483647 and a checkpoint at epoch INT_MAX: signed overflows
#  - messages that named no layer / ignored --weights without a word
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
cfg=$src/configs/tiny.yaml
cd "$work"
have_h5py() { /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; }
skip() { echo "skipped: $1"; }
set +e

# --- class count ------------------------------------------------------------
"$fer" train "$cfg" --run-dir c20 --set model.classes=20 --set model.layers.19.units=20 > c20.log 2>&1
rc=$?
echo "20 classes: exit $rc: $(tail -n 1 c20.log)"
check "model.classes=20 is refused (exit $rc, 1)" [ $rc -eq 1 ]
check "the error names model.classes and the maximum 16" grep -q "model.classes: expected an integer in \[2, 16\]" c20.log
check "a refused class count trains nothing (no c20/)" [ ! -e c20 ]
"$fer" train "$cfg" --run-dir c16 --set model.classes=16 --set model.layers.19.units=16 \
  --set schedule.1.epochs=1 > c16.log 2>&1
rc=$?
val=$(sed -n 's/.*validation accuracy \([-0-9.]*\),.*/\1/p' c16.log)
echo "16 classes (the maximum): exit $rc, validation accuracy '$val'"
check "model.classes=16 trains and exits 0 (got $rc)" [ $rc -eq 0 ]
check "16 classes: validation accuracy $val within [0, 1]" awk -v v="$val" 'BEGIN { exit !(v != "" && v >= 0 && v <= 1) }'

# --- resume with another batch size or training set -------------------------
"$fer" train "$cfg" --run-dir stop6 --stop-after-steps 6 > stop6.log 2>&1
rc=$?
check "tiny run stopped at global step 6 exits 75 (got $rc)" [ $rc -eq 75 ]
cp -r stop6 half && cp -r stop6 whole && cp -r stop6 limit
# Old code: 'Epoch 1/3' forever (hundreds of MB of log); head bounds the log,
# timeout the time.
resume_changed() { # resume_changed DIR LOG --set ...
  local dir=$1 log=$2; shift 2
  timeout 60 "$fer" train "$cfg" --run-dir "$dir" --resume auto "$@" 2>&1 | head -c 200000 > "$log"
  return "${PIPESTATUS[0]}"
}
resume_changed stop6 b128.log --set data.batch_size=128; rc=$?
echo "batch 32 -> 128 after step 6: exit $rc; $(grep 'epoch 1:' b128.log)"
check "resume with data.batch_size 128 after step 6 of 8 finishes (exit $rc, not a timeout)" [ $rc -eq 0 ]
check "it says where epoch 1 continues (192 samples: step 1 of 2)" grep -q "continuing at step 1 of 2 (batch 128)" b128.log
check "epochs.csv has the 3 epochs" [ "$(rows_in stop6/epochs.csv)" -eq 3 ]
resume_changed half b16.log --set data.batch_size=16; rc=$?
echo "batch 32 -> 16 after step 6: exit $rc; $(grep 'epoch 1:' b16.log)"
check "resume with data.batch_size 16 finishes (exit $rc)" [ $rc -eq 0 ]
check "192 samples done at batch 16: continues at step 12 of 16" grep -q "continuing at step 12 of 16 (batch 16)" b16.log
resume_changed limit lim.log --set data.limit_train=100; rc=$?
echo "limit_train 100 after step 6: exit $rc; $(grep 'epoch 1:' lim.log)"
check "resume with data.limit_train 100 finishes (exit $rc)" [ $rc -eq 0 ]
check "the epoch of 100 samples is complete as it stands, and the log says why" \
  grep -q "training set changed.*complete as it stands" lim.log
# SIGTERM to a resume whose first epoch has no step left (old code: spun
# there, deaf to the signal, until the timeout).
timeout 60 "$fer" train "$cfg" --run-dir whole --resume auto --set data.limit_train=100 \
  --set schedule.1.epochs=100000 > >(head -c 200000 > term.log) 2>&1 &
pid=$!
wait_rows whole/epochs.csv 2 $pid 30
kill -TERM $pid 2>/dev/null
wait $pid; rc=$?
echo "SIGTERM to a resumed run: exit $rc"
check "SIGTERM stops a resumed run with a checkpoint (exit $rc, 75)" [ $rc -eq 75 ]

# --- --resume auto over unreadable checkpoints ------------------------------
"$fer" train "$cfg" --run-dir done > done.log 2>&1
check "a finished tiny run to protect" [ -f done/best.h5 ]
for f in done/ckpt-*.h5; do truncate -s 2000 "$f"; done
before=$(md5sum done/best.h5 done/ckpt-*.h5 done/epochs.csv | md5sum)
"$fer" train "$cfg" --run-dir done --resume auto > trunc.log 2>&1; rc=$?
after=$(md5sum done/best.h5 done/ckpt-*.h5 done/epochs.csv | md5sum)
echo "every checkpoint truncated, --resume auto: exit $rc: $(tail -n 1 trunc.log)"
check "--resume auto with only unreadable checkpoints refuses (exit $rc, 1)" [ $rc -eq 1 ]
check "the refusal says how to start fresh anyway" grep -q -- "--fresh-if-unreadable" trunc.log
check "best.h5, the checkpoints and epochs.csv are untouched" [ "$before" = "$after" ]
"$fer" train "$cfg" --run-dir done --resume auto --fresh-if-unreadable --set schedule.1.epochs=1 > fresh.log 2>&1
rc=$?
check "--fresh-if-unreadable starts over and finishes (exit $rc)" [ $rc -eq 0 ]
check "... and says it replaces the earlier run" grep -q "starting fresh (--fresh-if-unreadable)" fresh.log
"$fer" train "$cfg" --run-dir none --resume auto --set schedule.1.epochs=1 > none.log 2>&1; rc=$?
check "--resume auto on a directory without checkpoints starts fresh (exit $rc)" [ $rc -eq 0 ]
"$fer" train "$cfg" --run-dir none --fresh-if-unreadable > bad_flag.log 2>&1; rc=$?
check "--fresh-if-unreadable without --resume auto is a usage error (exit $rc)" [ $rc -eq 2 ]
if have_h5py; then
  "$fer" train "$cfg" --run-dir newer --set schedule.1.epochs=1 > newer.log 2>&1
  for f in newer/ckpt-*.h5; do
    /usr/bin/python3 -c "import h5py,sys; h5py.File(sys.argv[1],'r+').attrs.modify('fer_format_version', 99)" "$f"
  done
  "$fer" train "$cfg" --run-dir newer --resume auto > newer2.log 2>&1; rc=$?
  check "checkpoints of a newer format: --resume auto refuses (exit $rc)" [ $rc -eq 1 ]
else
  skip "newer-format checkpoints (needs Debian's python3-h5py)"
fi

# --- the run directory's lock -----------------------------------------------
sleep 300 & live=$!
mkdir -p lock && touch lock/ckpt-0009-000000.h5.tmp.$live
touch lock/ckpt-0008-000000.h5.tmp.999999999
"$fer" train "$cfg" --run-dir lock --set schedule.1.epochs=100000 > lockA.log 2>&1 &
first=$!
wait_rows lock/steps.csv 3 $first 30
"$fer" train "$cfg" --run-dir lock --set schedule.1.epochs=1 > lockB.log 2>&1; rc=$?
echo "second trainer on a locked directory: exit $rc: $(tail -n 1 lockB.log)"
check "a second trainer on a run directory in use fails (exit $rc, 1)" [ $rc -eq 1 ]
check "its error names the holder's pid and host" grep -q "in use by another fer train (pid $first on host $(hostname)" lockB.log
check "the first trainer is still running" running $first
kill -TERM $first; wait $first; rc=$?
check "the first trainer stops with its checkpoint (exit $rc, 75)" [ $rc -eq 75 ]
check "the temporary file of a live process is spared" [ -e lock/ckpt-0009-000000.h5.tmp.$live ]
check "the temporary file of a dead process is removed" [ ! -e lock/ckpt-0008-000000.h5.tmp.999999999 ]
kill $live; wait $live 2>/dev/null
"$fer" train "$cfg" --run-dir lock --resume auto --set schedule.1.epochs=1 > lockC.log 2>&1; rc=$?
check "once the holder exited, the directory is free again (exit $rc)" [ $rc -eq 0 ]

# --- labels beyond the model's classes --------------------------------------
if have_h5py; then
  cat > mkset.py << 'EOF'
import sys, h5py, numpy as np
path, dtype, labels = sys.argv[1], sys.argv[2], [int(v) for v in sys.argv[3].split(',')]
n = len(labels)
with h5py.File(path, 'w') as f:
    f['pixels'] = (np.arange(n * 48 * 48) % 251).astype(np.uint8).reshape(n, 48, 48)
    f['labels'] = np.array(labels, dtype=dtype)
    f['usage'] = np.array([i % 2 for i in range(n)], dtype=np.uint8)
    f.attrs['class_names'] = np.array([b'c%d' % i for i in range(16)], dtype='S32')
    f.attrs['usage_names'] = np.array([b'Training', b'PublicTest', b'PrivateTest'], dtype='S32')
EOF
  /usr/bin/python3 mkset.py label9.h5 uint8 0,1,2,9,3,4,5,6
  /usr/bin/python3 mkset.py wide.h5 int32 -1,1,2,3,300,4,5,6
  /usr/bin/python3 mkset.py fine.h5 int32 0,1,2,3,4,5,6,6
  "$fer" train "$cfg" --run-dir l9 --set data.path=label9.h5 > l9.log 2>&1; rc=$?
  echo "label 9 for 7 classes: exit $rc: $(tail -n 1 l9.log)"
  check "training on a label beyond model.classes fails (exit $rc)" [ $rc -eq 1 ]
  check "the error names the file, the sample and model.classes" \
    grep -q "label9.h5: sample 3 (PublicTest) has label 9, but the model has 7 classes (model.classes" l9.log
  "$fer" eval --checkpoint done/best.h5 --data label9.h5 --usage PublicTest > l9e.log 2>&1; rc=$?
  check "evaluating such a file fails instead of dropping samples (exit $rc)" [ $rc -eq 1 ]
  "$fer" train "$cfg" --run-dir wide --set data.path=wide.h5 > wide.log 2>&1; rc=$?
  echo "int32 labels -1 and 300: exit $rc: $(tail -n 1 wide.log)"
  check "int32 label -1 is refused, not read as 0" grep -q "wide.h5: /labels\[0\] = -1, outside 0..255" wide.log
  "$fer" train "$cfg" --run-dir fine --set data.path=fine.h5 --set schedule.1.epochs=1 > fine.log 2>&1; rc=$?
  check "int32 labels within 0..6 still train (exit $rc)" [ $rc -eq 0 ]
else
  skip "label files (needs Debian's python3-h5py)"
fi

# --- overflows ----------------------------------------------------------------
"$fer" eval --checkpoint done/best.h5 --batch 2147483647 > bigbatch.log 2>&1; rc=$?
"$fer" eval --checkpoint done/best.h5 > batch.log 2>&1
echo "eval --batch 2147483647: exit $rc: $(grep accuracy bigbatch.log | head -n 1)"
check "eval --batch 2147483647 works (exit $rc)" [ $rc -eq 0 ]
check "... with the accuracy of the default batch" \
  [ "$(grep -m1 'accuracy' bigbatch.log)" = "$(grep -m1 'accuracy' batch.log)" ]
if have_h5py; then
  cp "$(newest_checkpoint lock)" epochmax.h5
  /usr/bin/python3 -c "import h5py,sys; h5py.File(sys.argv[1],'r+')['state'].attrs.modify('epoch', 2147483647)" epochmax.h5
  "$fer" train "$cfg" --run-dir emax --resume epochmax.h5 > emax.log 2>&1; rc=$?
  echo "checkpoint at epoch INT_MAX: exit $rc: $(tail -n 1 emax.log)"
  check "a checkpoint at epoch 2147483647 is refused (exit $rc)" [ $rc -eq 1 ]
  check "... naming the state's epoch and its range" grep -q "state: epoch 2147483647 outside 0..8000000" emax.log
else
  skip "epoch INT_MAX checkpoint (needs Debian's python3-h5py)"
fi

# --- messages -----------------------------------------------------------------
"$fer" viz saliency --checkpoint done/best.h5 --out sal --layer dense_1 --per-class 1 > gradcam.log 2>&1
rc=$?
echo "Grad-CAM on dense_1: exit $rc: $(tail -n 1 gradcam.log)"
check "Grad-CAM on the output layer names the layer and a usable one" \
  grep -q "layer dense_1 is the model's output.*conv2d_3, the last convolution" gradcam.log
"$fer" train "$cfg" --run-dir done --resume auto --weights done/best.h5 --stop-after-steps 1 > weights.log 2>&1
check "--resume auto --weights says the weights are not used" grep -q -- "--weights done/best.h5 not used" weights.log
finish
