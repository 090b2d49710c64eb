# The per-node image sets (src/dist/shared_images.c) on 2 emulated nodes x 2
# ranks: one shared-memory window per node -- not one per job, not one per
# rank -- created by the node's local rank 0, and mapped by both ranks of
# that node only.
#  1. tests/test_shared_images under the cluster: every rank's sets equal a
#     reference it builds itself, the checksums agree across nodes, and the
#     local ranks 1 allocate nothing (its own checks; it prints each rank's
#     figures);
#  2. while fer trains: the osc_sm segments (Open MPI's backing files of
#     MPI_Win_allocate_shared, in /dev/shm, named osc_sm.HOST.JOB.CREATOR.CID)
#     each rank maps, read from /proc/PID/maps: each rank maps one, large
#     enough for the images, the same file (device and inode) as the other
#     rank of its node, and a different one from the other node's; its
#     creator is the world rank that is local rank 0 on that node.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/cluster/cluster.bash"
test_program test_shared_images
cluster_up 2
cd "$work"

set +e
cluster_mpirun 2 "$prog" 300 > shared.log 2>&1; rc=$?
set -e
grep -E "node copy|rank [0-9] \(local|checksum|equal|DIFFER|FAIL" shared.log | sed 's/^/  /'
check "test_shared_images on 2 nodes x 2 ranks passes its checks (exit $rc)" [ $rc -eq 0 ]
check "local ranks 0 (world 0, 2) hold a copy each, local ranks 1 (world 1, 3) allocate nothing" \
  [ "$(grep -cE 'rank [02] \(local 0\): allocated [1-9]' shared.log)$(grep -cE 'rank [13] \(local 1\): allocated 0.0 MiB' shared.log)" = 22 ]

cluster_mpirun 2 "$fer" train "$src/configs/tiny.yaml" --run-dir run --stop-after-steps 20 > run.log 2>&1 &
job=$!
seen=1
for n in 1 2; do wait_node_ranks $n 2 60 || seen=0; done
# node pid world-rank local-rank dev:inode bytes file, one line per osc_sm
# mapping of every rank; taken again until all 4 ranks map one (they map it
# before the first step) or 60 s pass.
snapshot() {
  : > maps.txt
  local n p r l range dev inode file
  for n in 1 2; do
    for p in $(node_pids $n fer); do
      r=$(rank_env $p OMPI_COMM_WORLD_RANK 2> /dev/null) l=$(rank_env $p OMPI_COMM_WORLD_LOCAL_RANK 2> /dev/null)
      { grep -F /osc_sm. "/proc/$p/maps" 2> /dev/null || true; } | while read -r range _ _ dev inode file; do
        echo "$n $p $r $l $dev:$inode $((16#${range#*-} - 16#${range%-*})) $file" >> maps.txt
      done
    done
  done
  [ "$(awk '{ print $3 }' maps.txt | sort -u | wc -l)" -eq 4 ]
}
deadline=$((SECONDS + 60))
until snapshot || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
set +e; wait $job; rc=$?; set -e
echo "  osc_sm mappings while training (node, pid, world rank, local rank, device:inode, bytes, file):"
sed 's/^/    /' maps.txt
images=$(((256 + 64) * 24 * 24)) # the training and validation sets that train loads
check "fer trained on 2 nodes x 2 ranks (exit $rc, 75 expected) and all 4 ranks were found" [ $rc -eq 75 -a $seen -eq 1 ]
check "every rank maps exactly one window" [ "$(awk '{ print $3 }' maps.txt | sort | uniq -c | awk '$1 == 1' | wc -l)" -eq 4 ]
check "one window per node: 2 distinct files in the job" [ "$(awk '{ print $5 }' maps.txt | sort -u | wc -l)" -eq 2 ]
check "the ranks of a node map the same file, the nodes different ones" \
  [ "$(awk '{ print $1, $5 }' maps.txt | sort -u | awk '{ print $1 }' | sort | uniq -c | awk '$1 == 1' | wc -l)" -eq 2 ]
check "each window holds the images ($images bytes of pixels at least)" [ "$(awk -v m=$images '$6 < m' maps.txt | wc -l)" -eq 0 ]
check "each window was created by its node's local rank 0 (the creator in its name)" \
  [ "$(awk '{ split($7, f, "/"); split(f[4], c, "."); if ($4 == 0) creator[$1] = $3; named[$1] = c[4] }
      END { for (n in named) if (named[n] == creator[n] && n != "") ok++; print ok + 0 }' maps.txt)" -eq 2 ]
check "each file is named after the node that holds it" \
  [ "$(awk '{ split($7, f, "/"); split(f[4], c, "."); if (c[2] != "fer-node" $1) bad++ } END { print bad + 0 }' maps.txt)" -eq 0 ]
finish
