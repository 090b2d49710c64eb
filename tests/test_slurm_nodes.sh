# slurm/train.sbatch on a real Slurm spanning two emulated nodes: the
# emulated cluster (tests/cluster/, 3 network namespaces) with a slurmd in
# fer-node1 and fer-node2, each under its own NodeName/NodeAddr, and munged and
# slurmctld in fer-node3 (tests/slurm/start.sh STATE CLUSTER_STATE):
#  1. `sbatch -N 2 --ntasks-per-node=1 slurm/train.sbatch` (srun --mpi=pmix)
#     completes with rank 0 on fer-node1 and rank 1 on fer-node2 (host name
#     and network namespace of each rank, recorded by a wrapper), the
#     gradients crossing node 2's link;
#  2. the same job preempted mid-run by `scancel --batch --signal=USR1` (the
#     batch script on node 1 passes it to both ranks through srun, fer
#     checkpoints, the job requeues itself) resumes on the two nodes and ends
#     with /model_weights and /optimizer identical to run 1 (h5diff);
#  3. FER_LAUNCHER=mpirun on the same allocation (Open MPI starts its daemon
#     on node 2 through srun) trains on both nodes.
# Runs 1 and 2 train configs/tiny.yaml for 32 epochs of 512 synthetic images,
# as test_slurm does, so that a preemption after epoch 1 lands mid-run.
# Skipped (77): not root, a Sanitize build (Release only, as test_slurm),
# namespaces cannot be made, or Slurm cannot be installed or started in them.
source "$(dirname "$0")/lib.bash"
set +e
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root for network namespaces and the Slurm daemons"; exit 77; }
skip_under_asan "slurm scenarios run in the Release build only"
source "$src/tests/cluster/cluster.bash"
source "$src/tests/slurm/poll.bash"
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0))s"; }
# One Slurm test cluster at a time per machine (test_slurm takes it too);
# the emulated cluster has a lock of its own, taken by its start.sh.
exec 8>"${TMPDIR:-/tmp}/fer-test-slurm.lock"
flock -w 600 8 || { echo "skipped: another Slurm test held ${TMPDIR:-/tmp}/fer-test-slurm.lock for 10 minutes"; exit 77; }
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC|SQUEUE|SCONTROL)_'); do unset "$v"; done

chmod 0755 "$work" # munged runs as user munge and needs to reach its socket
cluster_up 3 8>&- # exits 77 where namespaces cannot be made
slurm_state=$work/slurm
cleanup() { # Slurm first (jobs, step daemons), then the namespaces
    cd / && "$src/tests/slurm/stop.sh" "$slurm_state" >/dev/null
    cluster_cleanup
}
trap cleanup EXIT
"$src/tests/slurm/start.sh" "$slurm_state" "$cluster_state" 8>&-
rc=$?
if [ $rc -ne 0 ]; then
    tail -n 20 "$slurm_state"/log/*.log "$slurm_state/munge/munged.log" 2>/dev/null
    echo "skipped: could not $([ $rc -eq 3 ] && echo install || echo start) Slurm on the emulated nodes (start.sh exit $rc)"
    exit 77
fi
source "$slurm_state/env"
# The job inherits this environment (sbatch exports it): Open MPI's TCP
# between the nodes (ctest sets OMPI_MCA_btl=self,vader for one-node tests);
# inside an allocation mpirun takes its hosts from Slurm, not the harness.
export OMPI_MCA_btl=tcp,self,vader
export OMPI_MCA_btl_tcp_if_include=$FER_CLUSTER_SUBNET.0/24 OMPI_MCA_oob_tcp_if_include=$FER_CLUSTER_SUBNET.0/24
unset OMPI_MCA_plm_rsh_agent OMPI_MCA_orte_default_hostfile
# Each rank records where it runs: rank, host name, network namespace.
cat >"$work/fer-where" <<EOF
#!/bin/sh
echo "\${PMIX_RANK:-?} \$(hostname) \$(readlink /proc/self/ns/net) restart \${SLURM_RESTART_COUNT:-0}" >>"\$FER_WHERE"
exec "$fer" "\$@"
EOF
chmod 0755 "$work/fer-where"
export FER_BIN=$work/fer-where FER_ROOT=$src
cfg=$src/configs/tiny.yaml
longer=(--set data.synthetic_train=512 --set schedule.1.epochs=31)
on_two=(-N 2 --ntasks-per-node=1)
root_net=$(readlink /proc/self/ns/net)
show_log() { echo "--- $1"; grep -v '^epoch ' "$1" | tail -n 25; }
ran_2_ranks_epochs() { grep -q "2 rank(s)" "$1.out" && grep -q "finished $2 epochs" "$1.out"; }
on_both_nodes() { # on_both_nodes WHERE_FILE: rank 0 on fer-node1, rank 1 on fer-node2, each start
    sed 's/^/  rank, host, net, restart: /' "$1"
    local starts
    starts=$(awk '{ print $5 }' "$1" | sort -u | wc -l)
    [ "$(awk '$1 == 0 && $2 == "fer-node1" || $1 == 1 && $2 == "fer-node2"' "$1" | wc -l)" -eq $((2 * starts)) ] &&
        [ "$(wc -l <"$1")" -eq $((2 * starts)) ] &&
        [ "$(awk '{ print $2, $3 }' "$1" | sort -u | wc -l)" -eq 2 ] &&
        ! grep -q " $root_net " "$1"
}
slurm_logs() { grep -h "$1" "$slurm_state"/log/slurmctld.log "$slurm_state"/log/slurmd.*.log | tail -n 40; }
submit() { # submit RUN_DIR [sbatch and train.sbatch arguments...]: prints the job id
    local run=$1
    shift
    (cd "$work/shared" && FER_WHERE=$run.where sbatch --parsable "${on_two[@]}" -o "$run.out" "$@")
}
mkdir -p "$work/shared"

# 1. uninterrupted, srun --mpi=pmix across the two nodes
ref=$work/shared/ref
before=$(link_bytes 2)
jid=$(submit "$ref" "$src/slurm/train.sbatch" "$cfg" "$ref" "${longer[@]}")
wait_ended "$jid" 300; s=$ended
moved=$(($(link_bytes 2) - before))
echo "[$(elapsed)] run 1 (job $jid on $(job_field "$jid" NodeList)): $s, exit $(job_field "$jid" ExitCode); node 2's link carried $moved bytes"
check "2-node training job completes ($s)" [ "$s" = COMPLETED ]
check "it ran 2 ranks and finished 32 epochs" ran_2_ranks_epochs "$ref" 32
check "rank 0 on fer-node1, rank 1 on fer-node2, in two namespaces" on_both_nodes "$ref.where"
check "the ranks exchanged over node 2's link (over 1 MB: $moved bytes)" [ "$moved" -gt 1000000 ]
[ "$s" = COMPLETED ] || { show_log "$ref.out"; slurm_logs "$jid"; }

# 2. preempted after epoch 1 by USR1 to the batch script: it checkpoints and
# requeues itself. A requeued job waits ~120 s before it may start;
# `StartTime=now` skips that once the old step daemons are gone.
nodes_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null | grep -cx idle)" -eq 2 ]; }
epoch_or_ended() { latest_epoch_at_least "$1" "$2" || job_ended "$3"; }
reaches_epoch() { wait_until 240 epoch_or_ended "$@" && latest_epoch_at_least "$1" "$2"; }
preempt() { # preempt JOB RUN_DIR: stops at the first check that fails
    local before=$failures
    check "run 2 passes epoch 1" reaches_epoch "$2" 1 "$1"
    [ "$failures" -eq "$before" ] || return
    scancel --batch --signal=USR1 "$1"
    check "USR1 to the batch script: checkpoint, exit 75, requeued by itself" wait_until 60 requeued "$1" 1
    [ "$failures" -eq "$before" ] || return
    wait_until 60 no_steps
    wait_until 60 nodes_idle
    sleep 1
    scontrol update jobid="$1" StartTime=now
}
pre=$work/shared/pre
jid=$(submit "$pre" "$src/slurm/train.sbatch" "$cfg" "$pre" "${longer[@]}")
preempt "$jid" "$pre" || scancel "$jid"
wait_ended "$jid" 300; s=$ended
echo "[$(elapsed)] run 2 (job $jid): $s after $(job_field "$jid" Restarts) restart(s)"
grep -E "resuming from|requeueing" "$pre.out"
check "preempted job completes ($s)" [ "$s" = COMPLETED ]
check "it requeued itself after USR1" grep -q "requeueing job $jid" "$pre.out"
check "it resumed once" [ "$(grep -c "resuming from .*ckpt-" "$pre.out")" -eq 1 ]
echo "resumed from a mid-epoch checkpoint: $(grep -cE "resuming from .*ckpt-[0-9]{4}-0*[1-9][0-9]*\.h5" "$pre.out") of 1"
check "both starts: rank 0 on fer-node1, rank 1 on fer-node2" on_both_nodes "$pre.where"
check "both starts recorded (restart 0 and 1)" [ "$(awk '{ print $5 }' "$pre.where" | sort -u | tr '\n' ' ')" = "0 1 " ]
check "weights and statistics identical to the uninterrupted run" same_checkpoints "$ref" "$pre" /model_weights
check "optimizer state identical to the uninterrupted run" same_checkpoints "$ref" "$pre" /optimizer
[ "$failures" -eq 0 ] || { show_log "$pre.out"; slurm_logs "$jid"; }

# 3. mpirun inside the allocation: its daemon on node 2 is started by srun
mpi=$work/shared/mpi
jid=$(FER_LAUNCHER=mpirun submit "$mpi" "$src/slurm/train.sbatch" "$cfg" "$mpi")
wait_ended "$jid" 240; s=$ended
echo "[$(elapsed)] run 3 (job $jid, mpirun): $s"
check "FER_LAUNCHER=mpirun: completes ($s)" [ "$s" = COMPLETED ]
check "FER_LAUNCHER=mpirun: ran 2 ranks and finished 3 epochs" ran_2_ranks_epochs "$mpi" 3
check "FER_LAUNCHER=mpirun: rank 0 on fer-node1, rank 1 on fer-node2" on_both_nodes "$mpi.where"
[ "$s" = COMPLETED ] || { show_log "$mpi.out"; slurm_logs "$jid"; }
echo "slurm across nodes took $(elapsed)"
finish
