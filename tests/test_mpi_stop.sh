# MPI stop agreement: SIGTERM sent to one rank's process only (not to mpirun,
# which would forward it to all) stops every rank at the same step boundary,
# rank 0 checkpoints and mpirun exits 75; the run then resumes on 3 ranks.
# A rank killed with SIGKILL makes mpirun abort the job promptly (no rank left
# waiting in an allreduce) and the newest checkpoint stays loadable.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
cfg=$src/configs/tiny.yaml
# 10 epochs of 8 steps: the signal goes at step 20 at the latest, leaving a
# wide margin for the lag between counting steps.csv rows and the kill.
long=(--set schedule.1.epochs=9)
total=80
mpi=(-np 2 --oversubscribe --bind-to none)
cd "$work"

# --- SIGTERM to rank 1 only ---------------------------------------------------
timeout 120 mpirun "${mpi[@]}" "$fer" train "$cfg" "${long[@]}" --run-dir term > term.log 2>&1 &
job=$!
rank1=$(rank_pid $job 1 || true)
at=$(random_int 3 20)
reached=0
wait_rows term/steps.csv $at $job 60 && reached=1
done_at_kill=$(rows_in term/steps.csv)
[ -n "$rank1" ] && kill -TERM "$rank1"
after_kill=$(rows_in term/steps.csv) # steps go on while the shell counts and signals
set +e; wait $job; rc=$?; set -e
ckpt=$(newest_checkpoint term)
step=$(state_attr "$ckpt" global_step)
echo "SIGTERM to rank 1 (pid ${rank1:-not found}) after $done_at_kill steps: mpirun exit $rc, checkpoint ${ckpt:-none} at step ${step:-none}"
check "found rank 1's process" [ -n "$rank1" ]
check "training was running when signalled ($done_at_kill of $total steps done)" \
  [ $reached -eq 1 -a "$done_at_kill" -lt $((total - 3)) ]
check "mpirun exits 75 (got $rc)" [ $rc -eq 75 ]
check "rank 0 learned of the other rank's signal" grep -q "stop requested (a signal to another rank)" term.log
# As in test_train_signals.sh: at most 3 steps after the count (the flag is
# read once a step, after the gradient reduction, on every rank).
check "checkpoint at the next step boundary (step ${step:-none}; $done_at_kill rows before the signal, $after_kill just after)" \
  between "$step" "$done_at_kill" $((after_kill + 3))
set +e
timeout 120 mpirun -np 3 --oversubscribe --bind-to none "$fer" train "$cfg" "${long[@]}" --run-dir term \
  --resume auto > term-resumed.log 2>&1; rc=$?
set -e
check "resume on 3 ranks exits 0 (got $rc)" [ $rc -eq 0 ]
check "it resumed from the stop checkpoint" grep -q "resuming from $ckpt" term-resumed.log
check "epochs.csv has 10 epochs" [ "$(rows_in term/epochs.csv)" -eq 10 ]

# --- SIGKILL to rank 1 ----------------------------------------------------------
timeout 60 mpirun "${mpi[@]}" "$fer" train "$cfg" "${long[@]}" --run-dir dead > dead.log 2>&1 &
job=$!
rank0=$(rank_pid $job 0 || true) rank1=$(rank_pid $job 1 || true)
wait_rows dead/steps.csv "$(random_int 10 20)" $job 60 || true
[ -n "$rank1" ] && kill -KILL "$rank1"
killed_at=$SECONDS
set +e; wait $job; rc=$?; set -e
took=$((SECONDS - killed_at))
# mpirun ends rank 0 with SIGTERM then SIGKILL; a process under AddressSanitizer
# takes a moment to tear down, so allow it 10 s.
rank0_alive=0
if [ -n "$rank0" ]; then
  for _ in $(seq 100); do running "$rank0" || break; sleep 0.1; done
  running "$rank0" && rank0_alive=1
fi
echo "SIGKILL to rank 1 (pid ${rank1:-not found}): mpirun exit $rc after ${took} s, rank 0 alive 10 s later: $rank0_alive"
check "found rank 1's process" [ -n "$rank1" ]
check "the job fails (got $rc; 124 would be a hang)" [ $rc -ne 0 -a $rc -ne 124 ]
check "the job ends within 15 s of the kill (took $took s)" [ $took -le 15 ]
check "rank 0 is gone too (within 10 s)" [ -n "$rank0" -a $rank0_alive -eq 0 ]
ckpt=$(newest_checkpoint dead)
check "a checkpoint exists" [ -n "$ckpt" ]
loads() { "$fer" eval --checkpoint "$1" --out "$work/probe" > probe.log 2>&1 || { cat probe.log; return 1; }; }
check "the newest checkpoint ($ckpt) loads" loads "$ckpt"
set +e
timeout 120 mpirun "${mpi[@]}" "$fer" train "$cfg" "${long[@]}" --run-dir dead --resume auto > dead-resumed.log 2>&1
rc=$?
set -e
check "resume after the kill exits 0 (got $rc)" [ $rc -eq 0 ]
finish
