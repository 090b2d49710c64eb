#!/usr/bin/env bash
# steps.csv (truncated on resume) and epochs.csv (rewritten every epoch) are
# replaced the crash-safe way of src/io/atomic_file.c: the temporary file is
# fsync'ed before its rename and the directory after it, seen with strace
# around test_train_metrics_log. Skipped (77) without strace.
source "$(dirname "$0")/lib.bash"
command -v strace > /dev/null || { echo "skipped: strace is not installed"; exit 77; }
: "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build directory}"
bin=$FER_BUILD_DIR/tests/test_train_metrics_log
# LeakSanitizer cannot run under ptrace; test_train_metrics_log checks leaks itself.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
  strace -f -y -e trace=fsync,rename -o "$work/trace" "$bin" > "$work/out" 2>&1 ||
  { cat "$work/out"; echo "FAIL: test_train_metrics_log failed under strace"; exit 1; }
grep -E 'fsync|rename' "$work/trace" | sed 's/^[0-9]* *//'
for name in steps.csv epochs.csv; do
  # the line numbers of the fsync of the temporary file, its rename, and the
  # fsync of the directory after it
  synced=$(grep -n "fsync([0-9]*<[^>]*/$name.tmp>" "$work/trace" | head -1 | cut -d: -f1)
  renamed=$(grep -n "rename(\"[^\"]*/$name.tmp\"" "$work/trace" | head -1 | cut -d: -f1)
  dir_synced=$(awk -v from="${renamed:-999999}" 'NR > from && /fsync\([0-9]*<\/tmp\/fer-metrics-log-[^\/>]*>/ {print NR; exit}' "$work/trace")
  check "$name.tmp fsync'ed (line ${synced:-none}) before its rename (line ${renamed:-none})" \
    [ "${synced:-999999}" -lt "${renamed:-0}" ]
  check "the directory fsync'ed after the rename of $name.tmp (line ${dir_synced:-none})" [ -n "$dir_synced" ]
done
finish
