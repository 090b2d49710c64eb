# Checkpoints and metrics are written by world rank 0 only, on 2 emulated
# nodes x 2 ranks (tests/cluster/). The run directory is on the nodes' shared
# file system -- here this machine's /tmp, which every namespace sees -- so
# a file written by any rank would land beside rank 0's: which rank touched
# what is read from an strace of each rank's file system calls (opens for
# writing, creations, renames, removals, links, truncations) during a run
# that stops mid-epoch and its resume.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/cluster/cluster.bash"
command -v strace > /dev/null || { echo "skipped: no strace (Debian package strace)"; exit 77; }
cluster_up 2
cfg=$src/configs/tiny.yaml
cd "$work"
run=$work/run
calls=open,openat,creat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,link,linkat,symlink,symlinkat,truncate
# each rank under strace, its trace in trace-PART.RANK. LeakSanitizer cannot
# run under ptrace (a Sanitize build would exit 1 at the end): off for these.
traced() { # traced PART fer-arguments...
  local part=$1
  shift
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    FER_TRACE=$work/trace-$part timeout 180 mpirun -np 4 --map-by ppr:2:node --bind-to none --oversubscribe -x FER_TRACE -x ASAN_OPTIONS \
    sh -c 'exec strace -f -qq -e trace='$calls' -o "$FER_TRACE.$OMPI_COMM_WORLD_RANK" "$@"' rank "$fer" "$@"
}
set +e
traced a train "$cfg" --run-dir "$run" --stop-after-steps 12 > a.log 2>&1; rca=$?
traced b train "$cfg" --run-dir "$run" --resume auto --stop-after-steps 20 > b.log 2>&1; rcb=$?
set -e
check "the run stops with 75 at step 12 and its resume at step 20 (got $rca, $rcb)" [ $rca$rcb = 7575 ]
check "the resume continued the run" grep -q "resuming from $run/" b.log
# changes RANK: the run directory's entries a rank changed (by file name);
# reads RANK: those it opened read-only
changes() {
  cat "$work"/trace-?."$1" 2> /dev/null | grep -F "\"$run" |
    grep -E '^[0-9]+ +((open|openat)\(.*O_(WRONLY|RDWR|CREAT|TRUNC)|(creat|rename|renameat|renameat2|unlink|unlinkat|mkdir|mkdirat|link|linkat|symlink|symlinkat|truncate)\()' |
    grep -oE "\"$run[^\"]*\"" | sed "s|\"$run/\\{0,1\\}||; s|\"||; s|\\.tmp\\.[0-9]*\$|.tmp.PID|" | sort -u | tr '\n' ' ' || true
}
reads() {
  cat "$work"/trace-?."$1" 2> /dev/null | grep -F "\"$run" | grep -E '^[0-9]+ +(open|openat)\(.*O_RDONLY' |
    grep -vE 'O_(WRONLY|RDWR|CREAT|TRUNC)' | grep -oE "\"$run[^\"]*\"" | sed "s|\"$run/\\{0,1\\}||; s|\"||" | sort -u | tr '\n' ' ' || true
}
for r in 0 1 2 3; do
  echo "  rank $r (node $((r / 2 + 1))): traced $(cat "$work"/trace-?.$r 2> /dev/null | wc -l) calls; changed in the run directory: '$(changes $r)'; read: '$(reads $r)'"
done
check "every rank was traced" [ "$(ls "$work"/trace-a.* "$work"/trace-b.* | wc -l)" -eq 8 ]
check "rank 0 wrote the checkpoints, latest, steps.csv and epochs.csv" \
  sh -c 'c="$1"; for f in ckpt-0001-000000.h5 ckpt-0001-000004.h5 ckpt-0002-000004.h5 latest steps.csv epochs.csv; do case " $c " in *" $f "*) ;; *) echo "  missing: $f"; exit 1 ;; esac; done' _ "$(changes 0)"
for r in 1 2 3; do
  check "rank $r changed nothing in the run directory" [ -z "$(changes $r)" ]
done
finish
