# SIGTERM and SIGUSR1 sent to a running `fer train` at a random step stop it at
# the next step boundary with a checkpoint and exit 75; `--resume auto` then
# finishes with weights, statistics and optimizer state bit-identical to an
# uninterrupted run.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
cfg=$src/configs/tiny.yaml
# 10 epochs of 8 steps. The signal goes at step 20 at the latest, leaving a
# wide margin: on a fast machine a tiny step takes a few milliseconds, and the
# count of steps.csv rows lags the trainer by the polling interval.
long=(--set schedule.1.epochs=9)
total=80
cd "$work"

set +e
"$fer" train "$cfg" "${long[@]}" --run-dir straight > straight.log 2>&1; rc=$?
set -e
check "uninterrupted run exits 0 (got $rc)" [ $rc -eq 0 ]
final_ref=$(newest_checkpoint straight)

for sig in TERM USR1; do
  run=run-$sig
  at=$(random_int 2 20)
  "$fer" train "$cfg" "${long[@]}" --run-dir $run > $run.log 2>&1 &
  pid=$!
  reached=0
  wait_rows $run/steps.csv $at $pid && reached=1
  sleep "0.0$(random_int 0 5)"
  done_at_kill=$(rows_in $run/steps.csv)
  kill -$sig $pid 2>/dev/null || true
  after_kill=$(rows_in $run/steps.csv)
  set +e; wait $pid; rc=$?; set -e
  echo "SIG$sig after $done_at_kill steps (waited for $at)"
  check "SIG$sig: training was running when signalled ($done_at_kill of $total steps done)" \
    [ $reached -eq 1 -a "$done_at_kill" -lt $((total - 3)) ]
  check "SIG$sig: exits 75 (got $rc)" [ $rc -eq 75 ]
  check "SIG$sig: the log names the signal" grep -q "stop requested (signal" $run.log
  ckpt=$(newest_checkpoint $run)
  step=$(state_attr "$ckpt" global_step)
  echo "SIG$sig: stop checkpoint $ckpt at global step ${step:-none}"
  # The stop flag is read once a step, after its gradient reduction: the step
  # in flight completes, and the next one too when the flag was already read.
  # Steps of a few milliseconds go on while the shell counts rows and sends
  # the signal, so the bound counts the rows again just after the kill (one
  # step more of slack for a row being written then).
  check "SIG$sig: checkpoint at the next step boundary (step ${step:-none}; $done_at_kill rows before the signal, $after_kill just after)" \
    between "$step" "$done_at_kill" $((after_kill + 3))
  set +e
  "$fer" train "$cfg" "${long[@]}" --run-dir $run --resume auto > $run-resumed.log 2>&1; rc=$?
  set -e
  check "SIG$sig: resume exits 0 (got $rc)" [ $rc -eq 0 ]
  check "SIG$sig: resume starts from the stop checkpoint" grep -q "resuming from $ckpt" $run-resumed.log
  final=$(newest_checkpoint $run)
  echo "comparing $final_ref with $final"
  check "SIG$sig: weights and statistics bit-identical" h5diff -r "$final_ref" "$final" /model_weights /model_weights
  check "SIG$sig: optimizer state bit-identical" h5diff -r "$final_ref" "$final" /optimizer /optimizer
  check "SIG$sig: epochs.csv has 10 epochs" [ "$(rows_in $run/epochs.csv)" -eq 10 ]
done

# A stop agreed on the last step of an epoch checkpoints at the epoch boundary
# even when checkpoint.every_epochs would skip that epoch. The epoch chosen is
# one that does not improve validation accuracy in the uninterrupted run, so
# no best-model checkpoint happens there anyway.
epoch=$(awk -F, 'NR > 1 && NR <= 5 { if (NR > 2 && $7 <= best) { print $1; exit } if ($7 > best) best = $7 }' \
  straight/epochs.csv)
epoch=${epoch:-2}
steps=$((8 * epoch))
set +e
"$fer" train "$cfg" "${long[@]}" --set checkpoint.every_epochs=5 --run-dir boundary --stop-after-steps $steps \
  > boundary.log 2>&1; rc=$?
set -e
ckpt=$(newest_checkpoint boundary)
want=boundary/$(printf 'ckpt-%04d-000000.h5' "$epoch")
echo "stop at the end of epoch $epoch (step $steps) with checkpoint.every_epochs=5: exit $rc, latest ${ckpt:-none}"
check "epoch-boundary stop exits 75 (got $rc)" [ $rc -eq 75 ]
check "epoch-boundary stop checkpoints epoch $epoch" [ "$ckpt" = "$want" ]
check "that checkpoint is at global step $steps" [ "$(state_attr "$ckpt" global_step)" = $steps ]
finish
