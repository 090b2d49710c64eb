# Stop agreement and node death across emulated nodes (tests/cluster/), 2
# nodes x 2 ranks, the multi-node versions of tests/test_mpi_stop.sh:
#  1. SIGTERM to one rank on node 2 only (world rank 3, not mpirun): every
#     rank on both nodes exits 75 (each rank's own exit status, recorded by a
#     wrapper), rank 0 writes one stop checkpoint at the step boundary after
#     the signal and steps.csv ends at that step; the run resumes on 2 nodes
#     x 1 rank from that checkpoint and completes.
#  2. node 2 "dies": both of its fer ranks get SIGKILL at once. The job ends
#     within 30 s (no rank left waiting in an allreduce; `timeout` would say
#     124), node 1's ranks are gone too, and the run resumes on the one
#     surviving node (2 ranks) from the newest checkpoint and completes.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
source "$(dirname "$0")/cluster/cluster.bash"
cluster_up 2
cfg=$src/configs/tiny.yaml
long=(--set schedule.1.epochs=9) # 10 epochs of 8 steps
total=80
cd "$work"
# every rank's exit status, host and rank, appended to $exits by a wrapper
exits=$work/exits.txt
wrap=(sh -c '"$@"; rc=$?; echo "$OMPI_COMM_WORLD_RANK $(hostname) $rc" >> "$FER_EXITS"; exit $rc' rank)

# --- 1. SIGTERM to rank 3 on node 2 --------------------------------------------
# sigterm_run DIR [MPIRUN OPTIONS]: trains in DIR, SIGTERM to rank 3 after 3 to
# 20 steps; sets rc, ckpt, step, done_at_kill and checks what every run must.
sigterm_run() {
  local dir=$1 rank3="" at reached=0 p
  shift
  : > "$exits"
  FER_EXITS=$exits timeout 180 mpirun -np 4 --map-by ppr:2:node --bind-to none --oversubscribe -x FER_EXITS "$@" \
    "${wrap[@]}" "$fer" train "$cfg" "${long[@]}" --run-dir "$dir" > "$dir.log" 2>&1 &
  job=$!
  wait_node_ranks 2 2 60 || true
  for p in $(node_pids 2 fer); do [ "$(rank_env $p OMPI_COMM_WORLD_RANK)" = 3 ] && rank3=$p; done
  at=$(random_int 3 20)
  wait_rows "$dir/steps.csv" $at $job 90 && reached=1
  done_at_kill=$(rows_in "$dir/steps.csv")
  [ -n "$rank3" ] && kill -TERM "$rank3"
  local after_kill
  after_kill=$(rows_in "$dir/steps.csv") # steps go on while the shell counts and signals
  set +e; wait $job; rc=$?; set -e
  ckpt=$(newest_checkpoint "$dir")
  step=$(state_attr "$ckpt" global_step)
  local last_row mid_epoch
  last_row=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "global_step") c = i } NR > 1 { s = $c } END { print s }' "$dir/steps.csv")
  mid_epoch=$(ls "$dir" | grep -c '^ckpt-[0-9]*-0*[1-9][0-9]*\.h5$' || true)
  echo "$dir: SIGTERM to rank 3 (pid ${rank3:-not found}, node 2) after $done_at_kill steps: mpirun exit $rc," \
    "checkpoint ${ckpt:-none} at step ${step:-none}, last steps.csv row step $last_row; checkpoints: $(ls "$dir" | grep -c '^ckpt-')"
  sort -n "$exits" | sed 's/^/  rank, host, exit: /'
  check "$dir: found rank 3's process in node 2" [ -n "$rank3" ]
  check "$dir: training was running when signalled ($done_at_kill of $total steps done)" \
    [ $reached -eq 1 -a "$done_at_kill" -lt $((total - 3)) ]
  check "$dir: rank 0 learned of the other node's signal" grep -q "stop requested (a signal to another rank)" "$dir.log"
  # A stop that falls on an epoch's last step writes that epoch's checkpoint
  # (ckpt-EEEE-000000.h5) and no mid-epoch one.
  local at_epoch_end=0
  case "$ckpt" in *-000000.h5) at_epoch_end=1 ;; esac
  check "$dir: one stop checkpoint ($mid_epoch written mid-epoch, the stop at an epoch's end: $at_epoch_end)" \
    [ "$mid_epoch" -eq 1 -a $at_epoch_end -eq 0 -o "$mid_epoch" -eq 0 -a $at_epoch_end -eq 1 ]
  check "$dir: the checkpoint at the next step boundary (step ${step:-none}; $done_at_kill rows before the signal, $after_kill just after)" \
    between "$step" "$done_at_kill" $((after_kill + 3))
  check "$dir: steps.csv ends at the checkpoint's step ($last_row)" [ "$last_row" = "$step" ]
  check "$dir: every rank that lived to report exited 75" [ "$(awk '$3 != 75' "$exits" | wc -l)" -eq 0 ]
}
# As launched by default, mpirun ends the other ranks once the first exits
# non-zero, so not every rank may live to report; mpirun's own status is 75.
sigterm_run term
check "term: mpirun exits 75 (got $rc)" [ $rc -eq 75 ]
# With orte_abort_on_non_zero_status=0 mpirun waits for every rank: each one
# exits 75 by itself (mpirun then exits 0 in Open MPI 4.1: not checked).
sigterm_run every --mca orte_abort_on_non_zero_status 0
check "every: all 4 ranks, 2 on each node, report 75" \
  [ "$(awk '$3 == 75 { print $2 }' "$exits" | sort | uniq -c | awk '$1 == 2' | wc -l)" -eq 2 -a "$(wc -l < "$exits")" -eq 4 ]
ckpt=$(newest_checkpoint term)
set +e
timeout 180 mpirun -np 2 --map-by ppr:1:node --bind-to none "$fer" train "$cfg" "${long[@]}" --run-dir term --resume auto > term-resumed.log 2>&1; rc=$?
set -e
[ $rc -eq 0 ] || tail -n 25 term-resumed.log
check "resume on 2 nodes x 1 rank exits 0 (got $rc)" [ $rc -eq 0 ]
check "it resumed from the stop checkpoint" grep -q "resuming from $ckpt" term-resumed.log
check "epochs.csv has 10 epochs" [ "$(rows_in term/epochs.csv)" -eq 10 ]

# --- 2. node 2 dies --------------------------------------------------------------
timeout 120 mpirun -np 4 --map-by ppr:2:node --bind-to none --oversubscribe \
  "$fer" train "$cfg" "${long[@]}" --run-dir dead > dead.log 2>&1 &
job=$!
wait_node_ranks 2 2 60 || true
wait_node_ranks 1 2 60 || true
node1=$(node_pids 1 fer | tr '\n' ' ') node2=$(node_pids 2 fer | tr '\n' ' ')
wait_rows dead/steps.csv "$(random_int 10 20)" $job 90 || true
done_at_kill=$(rows_in dead/steps.csv)
# shellcheck disable=SC2086
[ -n "${node2// /}" ] && kill -KILL $node2
killed_at=$SECONDS
set +e; wait $job; rc=$?; set -e
took=$((SECONDS - killed_at))
alive=""
for _ in $(seq 100); do
  alive=$(for p in $node1; do if running "$p"; then echo "$p"; fi; done | tr '\n' ' ')
  [ -z "${alive// /}" ] && break
  sleep 0.1
done
echo "SIGKILL to node 2's ranks (pids ${node2:-none}) after $done_at_kill steps: mpirun exit $rc after $took s;" \
  "node 1's ranks (${node1:-none}) alive after waiting up to 10 s: '${alive}'"
check "found 2 ranks on each node" [ "$(echo $node1 | wc -w)$(echo $node2 | wc -w)" = 22 ]
check "the job fails (got $rc; 124 would be a hang)" [ $rc -ne 0 -a $rc -ne 124 ]
check "the job ends within 30 s of the kill (took $took s)" [ $took -le 30 ]
check "node 1's ranks are gone too" [ -z "${alive// /}" ]
ckpt=$(newest_checkpoint dead)
check "a checkpoint exists" [ -n "$ckpt" ]
set +e
timeout 180 mpirun -np 2 --host fer-node1:2 --bind-to none "$fer" train "$cfg" "${long[@]}" --run-dir dead \
  --resume auto > dead-resumed.log 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || tail -n 25 dead-resumed.log
check "resume on the surviving node (1 node x 2 ranks) exits 0 (got $rc)" [ $rc -eq 0 ]
check "it ran on fer-node1 with 2 ranks" grep -q "2 rank(s), global batch" dead-resumed.log
check "it resumed from the newest checkpoint ($ckpt)" grep -q "resuming from $ckpt" dead-resumed.log
check "epochs.csv has 10 epochs" [ "$(rows_in dead/epochs.csv)" -eq 10 ]
finish
