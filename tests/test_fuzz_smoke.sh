# Fuzzing smoke test: builds the libFuzzer targets of tests/fuzz (clang, ASan
# + UBSan) in its own build directory, replays every saved crash of
# tests/fuzz/regressions/ and fuzzes each target from its seed corpus with a
# fixed libFuzzer seed and input count (tools/fuzz --smoke: deterministic).
# Guards against a reader crashing again on an input that once crashed it,
# and finds shallow new ones; then runs the csv target again, which must try
# the same inputs (without that, CI's verdict would depend on luck).
# Skipped (77) without clang and its libFuzzer runtime. The fuzzers are
# sanitized whatever the suite's build type, so only the Release suite runs
# them (set FER_FUZZ_SMOKE=1 to run them from another build too).
source "$FER_SOURCE_DIR/tests/lib.bash"
command -v clang >/dev/null || { echo "skipped: no clang (libFuzzer needs it)"; exit 77; }
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
  >"$work/probe.c"
clang -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>/dev/null ||
  { echo "skipped: clang has no libFuzzer runtime (-fsanitize=fuzzer)"; exit 77; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "${FER_BUILD_DIR:?}/CMakeCache.txt")
if [ "$build_type" != Release ] && [ "${FER_FUZZ_SMOKE:-0}" != 1 ]; then
  echo "skipped: the Release suite runs the (always sanitized) fuzzers; this is a $build_type build"
  exit 77
fi
check "every fuzz target survives its regressions and its fixed smoke run" \
  "$src/tools/fuzz" --smoke ${FER_FUZZ_SMOKE_SECONDS:+--time "$FER_FUZZ_SMOKE_SECONDS"} --build "$FER_BUILD_DIR/fuzz"
# The final line of a target's run, without its speed and memory figures.
final_state() { # final_state TARGET
  sed -n 's/^\(#[0-9]*\)[[:space:]]*DONE *\(cov: [0-9]* ft: [0-9]* corp: [^ ]*\).*/\1 \2/p' \
    "$FER_BUILD_DIR/fuzz/fuzz-$1.log"
}
if [ -z "${FER_FUZZ_SMOKE_SECONDS:-}" ]; then
  first=$(final_state csv)
  "$src/tools/fuzz" --smoke --build "$FER_BUILD_DIR/fuzz" csv >"$work/csv-again.log" 2>&1 || true
  again=$(final_state csv)
  echo "csv smoke run, first: ${first:-(no final line)}; second: ${again:-(no final line)}"
  if [ -n "$first" ] && [ "${first%% *}" != "${again%% *}" ]; then
    echo "not compared: a run stopped at the time limit, before its fixed input count"
  else
    check "a second smoke run of csv tries the same inputs" test -n "$first" -a "$first" = "$again"
  fi
fi
finish
