#!/bin/bash
# Hostile files and faults from the command line (issue 19): what fer must
# refuse, and what it must leave behind when stopped or out of disk. Each
# check names the item of the issue it guards. Limits: docs/limits.md.
source "$(dirname "$0")/lib.bash"

# runs CMD... with stdout/stderr to $work/out, $work/err; sets $rc
run() {
  set +e
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  set -e
}
err_has() { grep -qF -- "$1" "$work/err"; }
show() { echo "  exit $rc: $(tail -n 2 "$work/err" | head -c 400)"; }

# ---- item 6: the temp-and-rename write refuses non-regular targets ----
mkfifo "$work/fifo.h5"
ln -s "$work/elsewhere.h5" "$work/link.h5"
mkdir "$work/dir.h5"
for target in fifo.h5 link.h5 dir.h5; do
  kind=$(stat -c %F "$work/$target")
  run "$fer" prepare --synthetic 7,1,1 --out "$work/$target"
  show
  check "prepare --out $target (a $kind) is refused by name" \
    bash -c "[ $rc = 1 ] && grep -qF '$work/$target: is a' '$work/err'"
done
check "the FIFO is still a FIFO" test -p "$work/fifo.h5"
check "the symlink is still a symlink, its target not created" \
  bash -c "test -L '$work/link.h5' && ! test -e '$work/elsewhere.h5'"
check "the directory is still a directory" test -d "$work/dir.h5"
if [ "$(id -u)" = 0 ] && mknod "$work/full" c 1 7 2>/dev/null; then
  run "$fer" prepare --synthetic 7,1,1 --out "$work/full"
  show
  check "prepare --out a device node (a copy of /dev/full) is refused" \
    bash -c "[ $rc = 1 ] && grep -qF 'is a character device' '$work/err'"
  check "the device node is still a character device" test -c "$work/full"
else
  echo "skipped: the device-node case needs root (mknod)"
fi
# Nothing was left under a temporary name by the refusals.
check "no temporary files left by the refusals" \
  bash -c "! ls '$work' | grep -q '\.tmp'"

# ---- item 14: SIGTERM during `fer prepare` leaves no temporary file ----
out="$work/stopped.h5"
"$fer" prepare --synthetic 6000,1,1 --out "$out" >"$work/out" 2>"$work/err" &
pid=$!
caught=0
for _ in $(seq 1 6000); do # up to a minute: the synthetic faces come first
  if compgen -G "$out.tmp*" >/dev/null; then
    kill -TERM "$pid"
    caught=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
set +e
wait "$pid"
rc=$?
set -e
show
if [ "$caught" = 1 ]; then
  check "SIGTERM while the data set is written: exit non-zero" test "$rc" != 0
  check "SIGTERM while the data set is written: no $out.tmp.* left" \
    bash -c "! compgen -G '$out.tmp*' >/dev/null"
  check "SIGTERM while the data set is written: no half $out" test ! -e "$out"
  check "SIGTERM: the message names the signal" err_has "stopped by signal 15"
else
  echo "skipped: the temporary file of prepare was never seen (machine too fast or too slow)"
fi

# ---- item 8: integers that do not fit are errors, naming the key/option ----
run "$fer" summary "$src/configs/tiny.yaml" --set data.batch_size=4294967328
show
check "--set data.batch_size=4294967328 is refused (was: batch 32)" \
  bash -c "[ $rc != 0 ] && grep -qF 'data.batch_size: expected an integer in [1, 2147483647]' '$work/err'"
run "$fer" summary "$src/configs/tiny.yaml" --set checkpoint.every_steps=4294967296
show
check "--set checkpoint.every_steps=4294967296 is refused (was: 0, off)" \
  bash -c "[ $rc != 0 ] && grep -qF 'checkpoint.every_steps' '$work/err'"
for b in 1e3 4294967297 0 12x; do
  run "$fer" eval --checkpoint "$work/none.h5" --batch "$b"
  show
  check "eval --batch $b is a usage error naming --batch (was: atoi)" \
    bash -c "[ $rc = 2 ] && grep -qF -- \"--batch: expected an integer in [1, 2147483647], got '$b'\" '$work/err'"
done

# ---- item 9: deep nesting is refused at once, with file:line:column ----
{
  printf 'seed: '
  head -c 200000 /dev/zero | tr '\0' '['
  head -c 200000 /dev/zero | tr '\0' ']'
  echo
} >"$work/deep.yaml"
start=$(date +%s)
run timeout 60 "$fer" summary "$work/deep.yaml"
took=$(($(date +%s) - start))
show
check "a config nested 200000 deep is refused in seconds (took ${took}s)" \
  bash -c "[ $rc = 1 ] && [ $took -lt 10 ] && grep -qF 'deep.yaml:1:70: mappings and lists nested more than 64 levels deep' '$work/err'"

# ---- item 4: a full disk during a checkpoint write ----
# A 96 KiB tmpfs holds the logs of the tiny run but not its first checkpoint.
mkdir "$work/small_fs"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=96k tmpfs "$work/small_fs" 2>/dev/null; then
  trap 'umount "$work/small_fs" 2>/dev/null || true; rm -rf "$work"' EXIT
  run timeout 300 "$fer" train "$src/configs/tiny.yaml" --set run_dir="$work/small_fs/run"
  show
  check "disk full at a checkpoint: exit 1, no crash at exit (was: SIGSEGV in HDF5's shutdown, 139)" test "$rc" = 1
  check "disk full at a checkpoint: the error says 'No space left on device'" err_has "No space left on device"
  check "disk full at a checkpoint: the error names the checkpoint" err_has "$work/small_fs/run/ckpt-0001"
  check "disk full at a checkpoint: no temporary file left" \
    bash -c "! ls '$work/small_fs/run' | grep -q '\.tmp'"
  run "$fer" prepare --synthetic 500,1,1 --out "$work/small_fs/data.h5"
  show
  check "disk full during prepare: exit 1 and 'No space left on device'" \
    bash -c "[ $rc = 1 ] && grep -qF 'data.h5: cannot write the data set: No space left on device' '$work/err'"
  check "disk full during prepare: no data set, no temporary file" \
    bash -c "! ls '$work/small_fs' | grep -q 'data.h5'"
  umount "$work/small_fs"
else
  echo "skipped: the disk-full case needs root and a mountable tmpfs (mount -t tmpfs -o size=96k)"
fi

finish
