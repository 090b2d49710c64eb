# fer train on configs/tiny.yaml: a straight run, and the same run stopped
# mid-epoch (and again in the next phase) then resumed, must end with
# bit-identical weights, statistics and optimizer state.
source "$(dirname "$0")/lib.bash"
cfg=$src/configs/tiny.yaml
cd "$work"

"$fer" train "$cfg" "${precision[@]}" --run-dir straight > straight.log 2>&1; rc=$?
check "straight run exits 0 (got $rc)" [ $rc -eq 0 ]
[ ${#precision[@]} -eq 0 ] || check "the run computes with bf16 products" grep -q "products: bf16" straight.log
check "straight run wrote epochs.csv with 3 epochs" [ "$(tail -n +2 straight/epochs.csv | wc -l)" -eq 3 ]
check "straight run wrote best.h5 and latest" [ -f straight/best.h5 -a -f straight/latest ]

set +e
"$fer" train "$cfg" "${precision[@]}" --run-dir resumed --stop-after-steps 5 > part1.log 2>&1; rc1=$?
# What a run killed after its last checkpoint leaves behind: steps.csv rows past
# the checkpoint and a half-written temporary checkpoint.
echo "1,6,6,0,9.9,0.1,0.05,100.0" >> resumed/steps.csv
echo "partial" > resumed/ckpt-0001-000006.h5.tmp.999999999
"$fer" train "$cfg" "${precision[@]}" --run-dir resumed --resume auto --stop-after-steps 13 > part2.log 2>&1; rc2=$?
"$fer" train "$cfg" "${precision[@]}" --run-dir resumed --resume auto > part3.log 2>&1; rc3=$?
set -e
check "stop mid-epoch 1 exits 75 (got $rc1)" [ $rc1 -eq 75 ]
check "stop mid-epoch 2 (phase 2) exits 75 (got $rc2)" [ $rc2 -eq 75 ]
check "resumed run finishes with 0 (got $rc3)" [ $rc3 -eq 0 ]
check "resume says where it continues" grep -q "resuming from" part2.log
check "weights and statistics bit-identical" same_checkpoints straight resumed /model_weights
check "optimizer state bit-identical" same_checkpoints straight resumed /optimizer
check "a stale temporary checkpoint is removed on resume" [ ! -e resumed/ckpt-0001-000006.h5.tmp.999999999 ]
steps_once() { [ "$(tail -n +2 resumed/steps.csv | cut -d, -f3 | tr '\n' ' ')" = "$(seq 1 24 | tr '\n' ' ')" ]; }
check "steps.csv lists global steps 1..24 once each" steps_once
check "resumed epochs.csv has 3 epochs" [ "$(tail -n +2 resumed/epochs.csv | wc -l)" -eq 3 ]

# A fresh run (no --resume) into the finished run's directory is refused and
# leaves its checkpoints, best.h5 and metrics as they were.
before=$(cd straight && cat ./*.h5 latest epochs.csv steps.csv | md5sum)
set +e
"$fer" train "$cfg" "${precision[@]}" --run-dir straight > again.log 2>&1; rc=$?
set -e
echo "a fresh run into straight/: exit $rc, $(grep -c . again.log) log lines, last: $(tail -n 1 again.log)"
check "a fresh run into a finished run's directory exits 1 (got $rc)" [ $rc -eq 1 ]
check "it says to pass --resume auto" grep -q "holds an earlier run's checkpoints: continue it with --resume auto" again.log
check "the finished run's files are unchanged" [ "$(cd straight && cat ./*.h5 latest epochs.csv steps.csv | md5sum)" = "$before" ]
finish
