# distribution.allreduce_dtype bf16: gradients rounded to bf16 for the
# exchange, added in fp32 (tests/test_grad_buckets.c checks that every rank
# ends each sum with the same bits). On configs/tiny.yaml:
#  - 2 and 3 ranks with bf16 follow the 1-rank run (which exchanges nothing)
#    over the frozen-backbone phase (steps 1-8: losses and weights within
#    1e-4 relative), and over one fine-tuning step from the same checkpoint;
#    rounding to bf16 amplifies over the fine-tuning phase of this tiny
#    network, as summation order does in tests/test_mpi_ranks.sh, so whole
#    runs are not compared;
#  - the bf16 run is not the fp32 run (the weights differ: the rounding is
#    really applied), and overlap on gives its bits exactly (the rounded sum
#    does not depend on the bucket cut).
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
cfg=$src/configs/tiny.yaml
cd "$work"
bf16=(--set distribution.allreduce_dtype=bf16)
run() { # run NAME NP ARGS...: expects exit 75 (--stop-after-steps)
  local name=$1 np=$2; shift 2
  set +e; mpirun_fer "$np" train "$cfg" --run-dir "$name" "$@" > "$name.log" 2>&1; local rc=$?; set -e
  check "$name: $np rank(s) stop with 75 (got $rc)" [ $rc -eq 75 ]
  [ $rc -eq 75 ] || tail -5 "$name.log"
}
run f1 1 --stop-after-steps 8
run f2 2 --stop-after-steps 8
for p in 2 3; do
  run b$p $p --stop-after-steps 8 "${bf16[@]}" --set distribution.overlap=off
done
run b2on 2 --stop-after-steps 8 "${bf16[@]}" --set distribution.overlap=on
check "the bf16 runs say so" grep -q "bf16 on the wire" b3.log
compare() { /usr/bin/python3 "$src/tests/compare_runs.py" "$@"; }
check "frozen-backbone phase: 1 rank vs 2 ranks with bf16" compare f1 b2 8 1e-4
check "frozen-backbone phase: 1 rank vs 3 ranks with bf16" compare f1 b3 8 1e-4
check "2 ranks with bf16, overlap on vs off: the same bits" compare b2 b2on 8 0
check "2 ranks: the bf16 run differs from the fp32 run" bash -c "! /usr/bin/python3 $src/tests/compare_runs.py f2 b2 8 0"
# One fine-tuning step (step 9) from f1's epoch-1 checkpoint.
run s1 1 --resume f1/ckpt-0001-000000.h5 --stop-after-steps 9
for p in 2 3; do
  run s$p $p --resume f1/ckpt-0001-000000.h5 --stop-after-steps 9 "${bf16[@]}"
  check "fine-tuning step 9: 1 rank vs $p ranks with bf16" compare s1 s$p 1 1e-4
done
finish
