# Rank-count invariance across nodes: configs/tiny.yaml on 2 emulated nodes
# (tests/cluster/, links capped at 100 Mbit/s) with 1 rank per node -- every
# gradient sum crosses TCP -- and with 2 ranks per node -- shared memory
# inside a node, TCP between -- gives the losses and weights of the 1-rank
# run, compared as tests/test_mpi_ranks.sh compares rank counts on one node:
# whole runs over the frozen-backbone phase (steps 1-8, the epoch-1
# checkpoint), and single fine-tuning steps (9 and 17) from the 1-rank run's
# checkpoints (test_mpi_ranks.sh says why the fine-tuning phase is compared
# one step at a time).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/cluster/cluster.bash"
need_python numpy h5py
cluster_up 2 100mbit
cfg=$src/configs/tiny.yaml
cd "$work"
compare() { /usr/bin/python3 "$cluster_dir/compare_steps.py" "$@"; }
set +e
"$fer" train "$cfg" --run-dir r1 > r1.log 2>&1; rc1=$?
cluster_mpirun 1 "$fer" train "$cfg" --run-dir r2x1 > r2x1.log 2>&1; rc21=$?
cluster_mpirun 2 "$fer" train "$cfg" --run-dir r2x2 > r2x2.log 2>&1; rc22=$?
set -e
check "1 rank, 2 nodes x 1 rank, 2 nodes x 2 ranks exit 0 (got $rc1, $rc21, $rc22)" [ $rc1$rc21$rc22 = 000 ]
for r in r2x1 r2x2; do [ -f $r.log ] && grep -v '^epoch ' $r.log | head -4 | sed "s/^/  $r: /"; done
check "2x1 ran 2 ranks, rank 0 on fer-node1" grep -q "rank 0 on host fer-node1" r2x1.log
check "2x2 ran 4 ranks" grep -q "4 rank(s), global batch" r2x2.log
for at in 1:9 2:17; do
  e=${at%%:*} s=${at#*:}
  set +e
  "$fer" train "$cfg" --run-dir s$s-1 --resume r1/ckpt-000$e-000000.h5 --stop-after-steps $s > s$s-1.log 2>&1; a=$?
  cluster_mpirun 1 "$fer" train "$cfg" --run-dir s$s-2x1 --resume r1/ckpt-000$e-000000.h5 --stop-after-steps $s > s$s-2x1.log 2>&1; b=$?
  cluster_mpirun 2 "$fer" train "$cfg" --run-dir s$s-2x2 --resume r1/ckpt-000$e-000000.h5 --stop-after-steps $s > s$s-2x2.log 2>&1; c=$?
  set -e
  check "step $s on 1 rank, 2x1 and 2x2 stops with 75 (got $a, $b, $c)" [ $a$b$c = 757575 ]
done
epoch1=ckpt-0001-000000.h5
check "1 rank vs 2 nodes x 1 rank, frozen-backbone phase" compare r1 r2x1 8 $epoch1
check "1 rank vs 2 nodes x 2 ranks, frozen-backbone phase" compare r1 r2x2 8 $epoch1
for s in 9 17; do
  check "fine-tuning step $s: 1 rank vs 2 nodes x 1 rank" compare s$s-1 s$s-2x1 $s latest
  check "fine-tuning step $s: 1 rank vs 2 nodes x 2 ranks" compare s$s-1 s$s-2x2 $s latest
done
finish
