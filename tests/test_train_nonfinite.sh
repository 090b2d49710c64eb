# A non-finite loss or gradient (provoked by lr 1e30 in phase 2, after the
# phase-1 checkpoint exists) stops `fer train` with exit 1 and a message naming
# the epoch and step, and leaves the run directory's checkpoints untouched;
# logging.on_nonfinite=skip skips such steps instead and training continues,
# with the BatchNorm statistics and best.h5 unharmed by the skipped batches.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
cfg=$src/configs/tiny.yaml
absurd=(--set schedule.1.optimizer.lr=1e30)
cd "$work"

# run_phase1 DIR: epoch 1 (phase head) only, ending with its checkpoint.
run_phase1() {
  local rc=0
  "$fer" train "$cfg" --run-dir "$1" --stop-after-steps 8 > "$1-phase1.log" 2>&1 || rc=$?
  [ $rc -eq 75 ] && [ -f "$1/ckpt-0001-000000.h5" ]
}
# digest DIR: checksums of every checkpoint file and the `latest` pointer.
digest() { (cd "$1" && sha256sum latest best.h5 ckpt-*.h5); }

check "phase 1 ends with a checkpoint" run_phase1 stop
digest stop > before.sha
set +e
"$fer" train "$cfg" "${absurd[@]}" --run-dir stop --resume auto > stop.out 2> stop.err; rc=$?
set -e
echo "lr 1e30, on_nonfinite stop: exit $rc, stderr's last line: $(tail -1 stop.err)"
check "non-finite step exits 1 (got $rc)" [ $rc -eq 1 ]
check "the message names the epoch and step" grep -Eq "non-finite (loss|gradient) at epoch 2 step [0-9]+" stop.err
digest stop > after.sha
check "checkpoints and latest unchanged (sha256)" diff before.sha after.sha
check "no checkpoint written after the fault" [ "$(ls stop/ckpt-*.h5)" = stop/ckpt-0001-000000.h5 ]
set +e
"$fer" train "$cfg" --run-dir stop --resume auto > sane.log 2>&1; rc=$?
set -e
check "resuming the kept checkpoint with a sane lr finishes (got $rc)" [ $rc -eq 0 ]
check "it resumed from the phase-1 checkpoint" grep -q "resuming from stop/ckpt-0001-000000.h5" sane.log

# Every rank sees the same reduced loss: all stop, and the reason is said once.
set +e
timeout 120 mpirun -np 2 --oversubscribe --bind-to none "$fer" train "$cfg" "${absurd[@]}" --run-dir stop2 > stop2.log 2>&1; rc=$?
set -e
said=$(grep -c "non-finite" stop2.log || true)
echo "2 ranks: mpirun exit $rc, the reason said $said time(s)"
check "2 ranks: mpirun exits 1 (got $rc)" [ $rc -eq 1 ]
check "2 ranks: the reason is said once (got $said)" [ "$said" -eq 1 ]

check "phase 1 ends with a checkpoint (skip run)" run_phase1 skip
set +e
"$fer" train "$cfg" "${absurd[@]}" --set logging.on_nonfinite=skip --run-dir skip --resume auto \
  > skip.log 2>&1; rc=$?
set -e
skipped=$(grep -c "skipped step" skip.log || true)
echo "lr 1e30, on_nonfinite skip: exit $rc, $skipped of 16 phase-2 steps skipped"
check "skip policy finishes with 0 (got $rc)" [ $rc -eq 0 ]
check "skipped steps are reported with epoch and step" grep -Eq "skipped step [0-9]+ of epoch 2: non-finite" skip.log
check "training continued to the last epoch" [ "$(rows_in skip/epochs.csv)" -eq 3 ]
final=$(newest_checkpoint skip)
stats_nonfinite=0
for bn in batch_normalization_1 batch_normalization_2; do
  for s in moving_mean moving_variance; do
    n=$(h5dump -d "/model_weights/$bn/$bn/$s:0" "$final" | grep -ci "nan\|inf" || true)
    stats_nonfinite=$((stats_nonfinite + n))
  done
done
echo "$final: $stats_nonfinite line(s) of non-finite BatchNorm statistics"
check "skipped batches left the BatchNorm statistics finite" [ "$stats_nonfinite" -eq 0 ]
check "a diverged epoch never becomes best.h5 (best epoch $(state_attr skip/best.h5 best_epoch))" \
  [ "$(state_attr skip/best.h5 best_epoch)" = 1 ]
finish
