# The bucketed, overlapped gradient allreduce (distribution.bucket_mb > 0)
# sums the same gradient as the single allreduce:
#  - tests/test_grad_buckets.c under mpirun -np 2 and 3, for the whole
#    network and for the head stage (within 1e-6 of the largest gradient);
#  - `fer train configs/tiny.yaml` on 2 and 3 ranks with --set distribution.bucket_mb=0.01 gives the
#    per-step losses (1e-4 relative) and final weights (1e-4 of the largest)
#    of the run with bucket_mb 0, as tests/test_mpi_ranks.sh compares ranks.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
: "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build directory}"
prog=$FER_BUILD_DIR/tests/test_grad_buckets
[ -x "$prog" ] || { echo "skipped: $prog not built"; exit 77; }
cd "$work"
for p in 2 3; do
  set +e
  mpirun -np "$p" --oversubscribe --bind-to none "$prog" > buckets$p.log 2>&1; rc=$?
  set -e
  sed 's/^/  /' buckets$p.log
  check "$p ranks: bucketed allreduce equals the single one (exit $rc)" [ $rc -eq 0 ]
done

cfg=$src/configs/tiny.yaml
for p in 2 3; do
  for mb in 0 0.01; do
    set +e
    mpirun_fer $p train "$cfg" --run-dir r${p}_$mb --set distribution.bucket_mb=$mb > r${p}_$mb.log 2>&1; rc=$?
    set -e
    check "$p ranks, bucket_mb $mb: exit 0 (got $rc)" [ $rc -eq 0 ]
    [ $rc -eq 0 ] || tail -5 r${p}_$mb.log
  done
done
compare() { /usr/bin/python3 "$src/tests/compare_runs.py" "$1" "$2" 24; }
check "2 ranks: buckets of 0.01 MiB vs one allreduce" compare r2_0 r2_0.01
check "3 ranks: buckets of 0.01 MiB vs one allreduce" compare r3_0 r3_0.01
finish
