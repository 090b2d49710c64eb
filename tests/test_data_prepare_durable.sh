#!/usr/bin/env bash
# fer prepare writes its data set the crash-safe way of src/io/atomic_file.c
# (issue 19, item 14: the output was not fsync'ed): the temporary file is
# fsync'ed before its rename into place, and the directory after it, seen
# with strace. Skipped (77) without strace.
source "$(dirname "$0")/lib.bash"
command -v strace > /dev/null || { echo "skipped: strace is not installed"; exit 77; }
out=$work/out.h5
# LeakSanitizer cannot run under ptrace.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
  strace -f -y -e trace=fsync,rename -o "$work/trace" "$fer" prepare --synthetic 70,14,14 --out "$out" \
  > "$work/log" 2>&1 || { cat "$work/log"; echo "FAIL: fer prepare failed under strace"; exit 1; }
grep -E 'fsync|rename' "$work/trace" | sed 's/^[0-9]* *//'
synced=$(grep -n "fsync([0-9]*<$out.tmp[^>]*>" "$work/trace" | head -1 | cut -d: -f1 || true)
renamed=$(grep -n "rename(\"$out.tmp[^\"]*\", \"$out\"" "$work/trace" | head -1 | cut -d: -f1 || true)
dir_synced=$(awk -v from="${renamed:-999999}" -v dir="$work" 'NR > from && index($0, "fsync(") && index($0, "<" dir ">") {print NR; exit}' "$work/trace")
check "the temporary data set fsync'ed (line ${synced:-none}) before its rename (line ${renamed:-none})" \
  [ "${synced:-999999}" -lt "${renamed:-0}" ]
check "the directory fsync'ed after the rename (line ${dir_synced:-none})" [ -n "$dir_synced" ]
check "the data set is in place" [ -s "$out" ]
finish
