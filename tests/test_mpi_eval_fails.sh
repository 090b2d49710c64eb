# Evaluation when one rank alone fails: every rank stops with that rank's
# reason, none waits for ever in a collective call for the rank that left
# (on a cluster such a hang burns the whole allocation).
#  1. tests/test_evaluate_ranks.c under mpirun -np 2 and 3: the evaluation
#     inside `fer train`, `fer eval` and `fer viz saliency` when the last
#     rank cannot set up its loader;
#  2. `fer eval` and `fer viz saliency` under mpirun where rank 1 alone is
#     given a checkpoint that does not exist (each rank reads it itself):
#     both ranks exit non-zero promptly, rank 1's message names the file,
#     and no rank prints an empty error line.
# The code before the agreement hung in each case until the timeout.
source "$(dirname "$0")/lib.bash"
test_program test_evaluate_ranks
cd "$work"
for p in 2 3; do
  set +e
  timeout 60 mpirun -np "$p" --oversubscribe --bind-to none "$prog" > ranks$p.log 2>&1; rc=$?
  set -e
  sed 's/^/  /' ranks$p.log
  check "$p ranks, the last failing: every rank returns the failure, in step (exit $rc; 124 is the timeout)" \
    [ $rc -eq 0 ]
done

"$fer" train "$src/configs/tiny.yaml" --run-dir run --set logging.progress=none > train.log 2>&1 ||
  { cat train.log; echo "FAIL: training the checkpoint to evaluate"; exit 1; }
ckpt=run/$(cat run/latest)
# one_rank_missing NAME ARGS...: `fer ARGS --checkpoint C` with C the run's
# checkpoint on rank 0 and missing.h5 on rank 1.
one_rank_missing() {
  local name=$1 rc start
  shift
  start=$(date +%s)
  set +e
  timeout 60 mpirun --oversubscribe --bind-to none -np 1 "$fer" "$@" --checkpoint "$ckpt" : \
    -np 1 "$fer" "$@" --checkpoint missing.h5 > "$name.log" 2>&1
  rc=$?
  set -e
  sed 's/^/  /' "$name.log"
  echo "  exit $rc after $(($(date +%s) - start)) s"
  check "$name: the ranks stop rather than hang (exit $rc; 124 is the timeout)" [ $rc -ne 124 ]
  check "$name: the run fails (exit $rc)" [ $rc -ne 0 ]
  check "$name: rank 1's reason names the file" grep -q "missing.h5" "$name.log"
  check "$name: no empty error line" bash -c "! grep -qx 'fer: *' '$name.log'"
}
one_rank_missing eval eval --out eval-out
one_rank_missing saliency viz saliency --out saliency-out
finish
