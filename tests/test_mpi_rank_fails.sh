# One rank alone fails while the trainer sets up (here: no memory for its
# batch's activations, under a ulimit the other rank does not have). Every
# rank must stop with that rank's error, not wait for ever in the next
# collective call while the failed rank has left: on a cluster such a hang
# burns the whole allocation. Failed (hung until the timeout) on the code
# before the fix.
source "$(dirname "$0")/lib.bash"
# AddressSanitizer reserves terabytes of address space (no ulimit -v) and
# aborts where malloc would return NULL.
skip_under_asan "a ulimit on address space"
cd "$work"
# 96x96 faces in batches of 2800: about 3.5 GiB of activations per rank of 2.
args=(train "$src/configs/quickstart.yaml" --run-dir run --set model.input_size=96 --set data.batch_size=2800
  --set logging.progress=none)
# KiB of address space for rank 1: room to start (the libraries, MPI's and
# BLAS's buffers, more of them on more cores), not for the batch.
limit=3300000
set +e
start=$(date +%s)
timeout 120 mpirun --oversubscribe --bind-to none -np 1 "$fer" "${args[@]}" : \
  -np 1 bash -c "ulimit -v $limit && exec \"\$0\" \"\$@\"" "$fer" "${args[@]}" > run.log 2>&1
rc=$?
set -e
took=$(($(date +%s) - start))
cat run.log
echo "exit $rc after $took s"
check "the ranks stop rather than hang (exit $rc; 124 is the timeout)" [ $rc -ne 124 ]
check "the run fails (exit $rc)" [ $rc -ne 0 ]
check "the failed rank's reason is printed" grep -q "out of memory for the activations of a batch" run.log
check "no checkpoint was written" [ -z "$(ls run/*.h5 2>/dev/null)" ]
finish
