# The Slurm scripts on a real one-node Slurm on localhost, brought up by
# tests/slurm/start.sh in a temporary directory and torn down at the end:
#  1. slurm/train.sbatch on 2 tasks (srun --mpi=pmix) completes, submitted by
#     an ordinary user (nobody) when it can read the tree;
#  2. the same job preempted twice mid-run -- `scancel --batch --signal=USR1`
#     (it checkpoints and requeues itself) and later `scontrol requeue` --
#     resumes each time and ends with /model_weights and /optimizer identical
#     to run 1 (h5diff);
#  3. FER_LAUNCHER=mpirun (the documented alternative) trains on 2 tasks;
#  4. slurm/pipeline.sh prepare -> train -> eval -> visualize completes, and a
#     chain whose train step fails cancels eval and visualize.
# Runs 1 and 2 train configs/tiny.yaml for 32 epochs of 512 synthetic images
# (its 3 epochs of 256 can end in a second): a preemption sent once an epoch
# has ended then lands mid-run however fast or loaded the machine is.
# Skipped (77): not root, a Sanitize build (these scenarios test scripts, not
# memory: they run in the Release build only), or Slurm cannot be installed
# or started here.
source "$(dirname "$0")/lib.bash"
set +e
harness=$src/tests/slurm
source "$harness/poll.bash"
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0))s"; }

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root to start munged, slurmctld and slurmd"; exit 77; }
skip_under_asan "slurm scenarios run in the Release build only"
# One at a time per machine (several build directories may run the suite):
# two clusters at once would share the 2 CPUs and each take twice as long.
exec 8>"${TMPDIR:-/tmp}/fer-test-slurm.lock"
flock -w 600 8 || { echo "skipped: another test_slurm held ${TMPDIR:-/tmp}/fer-test-slurm.lock for 10 minutes"; exit 77; }
# Run inside a Slurm job or not, the test talks to its own cluster only.
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC|SQUEUE|SCONTROL)_'); do unset "$v"; done

state=$work/cluster
chmod 0755 "$work" # munged runs as user munge and needs to reach its socket
cleanup() { # FER_SLURM_KEEP=1 keeps the logs and run directories to look at
    cd / && "$harness/stop.sh" "$state"
    if [ "${FER_SLURM_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
"$harness/start.sh" "$state" 8>&- # the daemons must not hold the lock
rc=$?
if [ $rc -ne 0 ]; then
    tail -n 20 "$state"/log/*.log "$state/munge/munged.log" 2>/dev/null
    echo "skipped: could not $([ $rc -eq 3 ] && echo install || echo start) a one-node Slurm here (start.sh exit $rc)"
    exit 77
fi
source "$state/env"
export FER_BIN=$fer FER_ROOT=$src
cfg=$src/configs/tiny.yaml
longer=(--set data.synthetic_train=512 --set schedule.1.epochs=31)
show_log() { echo "--- $1"; grep -v '^epoch ' "$1" | tail -n 25; }
ran_2_ranks_epochs() { grep -q "2 rank(s)" "$1.out" && grep -q "finished $2 epochs" "$1.out"; }

# 1. an uninterrupted 2-task run, by an ordinary user when possible
mkdir -m 1777 "$work/shared"
as=()
if id nobody >/dev/null 2>&1 && runuser -u nobody -- test -x "$fer" -a -r "$cfg" -a -x "$src/jobs/fer-train-job"; then
    as=(runuser -u nobody --)
else
    echo "note: user nobody cannot run $fer from here: run 1 is submitted by root"
fi
ref=$work/shared/ref
jid=$(cd "$work/shared" && "${as[@]}" sbatch --parsable -n 2 -o "$ref.out" "$src/slurm/train.sbatch" "$cfg" "$ref" "${longer[@]}")
wait_ended "$jid" 240; s=$ended
echo "[$(elapsed)] run 1 (job $jid, user $(job_field "$jid" UserId)): $s, exit $(job_field "$jid" ExitCode)"
check "2-task training job completes ($s)" [ "$s" = COMPLETED ]
check "it ran 2 ranks and finished 32 epochs" ran_2_ranks_epochs "$ref" 32
[ "$s" = COMPLETED ] || show_log "$ref.out"

# 2. the same job, preempted after epoch 1 (USR1: it requeues itself) and
# after epoch 12 (scontrol requeue). A requeued job waits ~120 s before it
# may start; `StartTime=now` skips that, once the old step daemons are gone
# (a new step with the same id cannot bind the PMIx socket until then).
node_idle() { [ "$(sinfo -h -N -n localhost -o %T 2>/dev/null)" = idle ]; }
restart() {
    wait_until 60 no_steps
    wait_until 60 node_idle
    sleep 1 # Slurm itself waits ~120 s; a little margin for its daemons to settle
    scontrol update jobid="$1" StartTime=now
}
step() { # step WHAT COMMAND...: check, and fail (status 1) when it failed
    local before=$failures
    check "$@"
    [ "$failures" -eq "$before" ]
}
epoch_or_ended() { latest_epoch_at_least "$1" "$2" || job_ended "$3"; }
reaches_epoch() { # reaches_epoch RUN_DIR N JOB: waits, giving up when the job ends
    wait_until 240 epoch_or_ended "$@" && latest_epoch_at_least "$1" "$2"
}
preempt_twice() { # preempt_twice JOB RUN_DIR: stops at the first step that fails
    step "run 2 passes epoch 1" reaches_epoch "$2" 1 "$1" || return
    scancel --batch --signal=USR1 "$1"
    step "USR1 to the batch script: checkpoint, exit 75, requeued by itself" wait_until 60 requeued "$1" 1 || return
    restart "$1"
    step "run 2 resumes and passes epoch 12" reaches_epoch "$2" 12 "$1" || return
    scontrol requeue "$1"
    step "scontrol requeue: checkpoint, requeued" wait_until 60 requeued "$1" 2 || return
    restart "$1"
}
pre=$work/pre
jid=$(cd "$work" && sbatch --parsable -n 2 -o "$pre.out" "$src/slurm/train.sbatch" "$cfg" "$pre" "${longer[@]}")
preempt_twice "$jid" "$pre" || scancel "$jid"
wait_ended "$jid" 240; s=$ended
echo "[$(elapsed)] run 2 (job $jid): $s after $(job_field "$jid" Restarts) restarts"
check "preempted job completes ($s)" [ "$s" = COMPLETED ]
check "it requeued itself after USR1" grep -q "requeueing job $jid" "$pre.out"
grep "resuming from" "$pre.out"
# A stop lands mid-epoch unless the signal is late by a whole epoch (0.5 s
# here, which a loaded machine can take): then the resume is from the
# epoch's end, which tests the requeue as well; mid-epoch resumes are the
# subject of test_train_signals and test_mpi_stop.
check "it resumed twice" [ "$(grep -c "resuming from .*ckpt-" "$pre.out")" -eq 2 ]
echo "resumes from a mid-epoch checkpoint: $(grep -cE "resuming from .*ckpt-[0-9]{4}-0*[1-9][0-9]*\.h5" "$pre.out") of 2"
check "weights and statistics identical to the uninterrupted run" same_checkpoints "$ref" "$pre" /model_weights
check "optimizer state identical to the uninterrupted run" same_checkpoints "$ref" "$pre" /optimizer
if [ "$failures" -ne 0 ]; then
    show_log "$pre.out"
    grep -h "$jid" "$state"/log/slurmctld.log "$state"/log/slurmd.log | tail -n 40
fi

# 3. mpirun instead of srun inside the batch script
mpi=$work/mpi
jid=$(cd "$work" && FER_LAUNCHER=mpirun sbatch --parsable -n 2 -o "$mpi.out" "$src/slurm/train.sbatch" "$cfg" "$mpi")
wait_ended "$jid" 240; s=$ended
echo "[$(elapsed)] run 3 (job $jid, mpirun): $s"
check "FER_LAUNCHER=mpirun: completes ($s)" [ "$s" = COMPLETED ]
check "FER_LAUNCHER=mpirun: ran 2 ranks and finished 3 epochs" ran_2_ranks_epochs "$mpi" 3
[ "$s" = COMPLETED ] || show_log "$mpi.out"

# 4. the pipeline, and one whose train step fails (an unknown config key)
cd "$work" || exit 1
export FER_TRAIN_SBATCH_ARGS="-n 2"
"$src/slurm/pipeline.sh" --synthetic 256,64,64 "$cfg" "$work/pipe" >pipe.ids
"$src/slurm/pipeline.sh" --synthetic 256,64,64 "$cfg" "$work/bad" --set no_such_key=1 >bad.ids
cat pipe.ids bad.ids
states() { # states IDS_FILE: sets $states to the final states of its jobs, in order
    local out="" step id
    while read -r step id; do
        wait_ended "$id" 240
        out+="$step=$ended "
    done <"$1"
    states=${out% }
}
states pipe.ids; good=$states
states bad.ids; bad=$states
echo "[$(elapsed)] pipeline: $good; failing pipeline: $bad"
want_good="prepare=COMPLETED train=COMPLETED eval=COMPLETED visualize=COMPLETED"
want_bad="prepare=COMPLETED train=FAILED eval=CANCELLED visualize=CANCELLED"
check "pipeline: every step completes" [ "$good" = "$want_good" ]
check "pipeline: eval wrote its report" test -f "$work/pipe/eval-PrivateTest.json"
check "pipeline: visualize ran" grep -q "visualization(s) of $work/pipe done" "$work"/pipe/logs/visualize-*.out
check "failing train step cancels eval and visualize" [ "$bad" = "$want_bad" ]
if [ "$good" != "$want_good" ] || [ "$bad" != "$want_bad" ]; then
    for f in "$work"/pipe/logs/*.out "$work"/bad/logs/*.out; do show_log "$f"; done
fi
echo "slurm scenarios took $(elapsed)"
finish
