# The gradient sum overlapped with backward (distribution.overlap on, a
# communication thread summing buckets) gives the bits of the sum after
# backward (overlap off):
#  - tests/test_grad_buckets.c under mpirun -np 2 and 3, for the whole
#    network and for the head stage (and against MPI_Allreduce within 1e-6);
#  - `fer train configs/tiny.yaml` on 1, 2 and 3 ranks with overlap on,
#    buckets of 0.01 MiB and a bucket per layer (bucket_mb 0), gives the
#    per-step losses and final weights of the run with overlap off, equal
#    (compare_runs.py with tolerance 0), and the log says which way ran.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
test_program test_grad_buckets
cd "$work"
for p in 2 3; do
  set +e
  mpirun -np "$p" --oversubscribe --bind-to none "$prog" > buckets$p.log 2>&1; rc=$?
  set -e
  sed 's/^/  /' buckets$p.log
  check "$p ranks: the overlapped sum equals the sum after backward (exit $rc)" [ $rc -eq 0 ]
done

cfg=$src/configs/tiny.yaml
for p in 1 2 3; do
  for way in off:0 on:0.01 on:0; do
    set +e
    mpirun_fer $p train "$cfg" --run-dir "r${p}_$way" --set distribution.overlap="${way%%:*}" \
      --set distribution.bucket_mb="${way#*:}" > "r${p}_$way.log" 2>&1; rc=$?
    set -e
    check "$p rank(s), overlap $way: exit 0 (got $rc)" [ $rc -eq 0 ]
    [ $rc -eq 0 ] || tail -5 "r${p}_$way.log"
    grep -h "gradient sum:" "r${p}_$way.log" | sed 's/^/  /'
  done
  [ $p -eq 1 ] && want="overlap off (one rank)" || want="overlap on (distribution.overlap on)"
  check "$p rank(s): the log says $want" grep -qF "$want" "r${p}_on:0.01.log"
done
compare() { /usr/bin/python3 "$src/tests/compare_runs.py" "$1" "$2" 24 0; }
for p in 1 2 3; do
  check "$p rank(s): overlap with 0.01 MiB buckets vs off, the same bits" compare "r${p}_off:0" "r${p}_on:0.01"
  check "$p rank(s): overlap with a bucket per layer vs off, the same bits" compare "r${p}_off:0" "r${p}_on:0"
done
finish
