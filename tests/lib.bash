# Shared helpers for the script tests (sourced, not run).
set -euo pipefail
: "${FER_BINARY:?FER_BINARY must point at the fer executable}"
: "${FER_SOURCE_DIR:?FER_SOURCE_DIR must point at the source tree}"
fer=$FER_BINARY
src=$FER_SOURCE_DIR
work=$(mktemp -d "${TMPDIR:-/tmp}/fer-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
check() { # check "what" command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
finish() {
  if [ "$failures" -eq 0 ]; then echo "all checks passed"; exit 0; fi
  echo "$failures check(s) failed"; exit 1
}
need_python() { # need_python module... : skip (77) unless Debian's python3 has them
  for m in "$@"; do
    /usr/bin/python3 -c "import $m" 2>/dev/null || { echo "skipped: /usr/bin/python3 lacks $m"; exit 77; }
  done
}
test_program() { # test_program NAME: sets prog to the built C test program NAME, or skips (77)
  : "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build directory}"
  prog=$FER_BUILD_DIR/tests/$1
  [ -x "$prog" ] || { echo "skipped: $prog not built"; exit 77; }
}
mpirun_fer() { # mpirun_fer NP args...
  local np=$1; shift
  mpirun -np "$np" --oversubscribe --bind-to none "$fer" "$@"
}
# precision: FER_TEST_PRECISION=bf16 (the test_*_bf16.sh wrappers) runs a
# test's training with bf16 products: on this CPU's bf16 kernel, or on the
# portable reference kernel where it has none. Sets the array `precision`
# to the --set arguments to pass to fer train, and says which kernel runs.
precision=()
if [ "${FER_TEST_PRECISION:-fp32}" = bf16 ]; then
  precision=(--set precision=bf16)
  if ! grep -qw 'avx512_bf16\|amx_bf16' /proc/cpuinfo 2>/dev/null; then
    export FER_BF16_KERNEL=reference
  fi
  echo "precision: bf16 products, FER_BF16_KERNEL=${FER_BF16_KERNEL:-(unset: the fastest of this CPU)}"
fi
# fer2013_slice OUT TRAINING PUBLIC PRIVATE: the first rows of each usage of
# the real FER2013 CSV, so that a job test prepares and evaluates a few
# hundred faces rather than 35887 (the full file is test_real_smoke's).
fer2013_slice() {
  zcat "$src/../shared/data/fer2013.csv.gz" | awk -F, -v t="$2" -v pu="$3" -v pr="$4" '
    NR == 1 { print; next }
    { u = $3; sub(/\r$/, "", u); n[u]++ }
    (u == "Training" && n[u] <= t) || (u == "PublicTest" && n[u] <= pu) || (u == "PrivateTest" && n[u] <= pr)' > "$1"
}
# skip_under_asan WHY: skip (77) when fer is built with AddressSanitizer,
# which needs address space and memory a test takes away or fills.
# Read whole first: `ldd | grep -q` under pipefail fails when grep's early
# exit kills ldd with SIGPIPE, and the test then ran instead of skipping.
skip_under_asan() {
  local symbols
  symbols=$(ldd "$fer" 2>/dev/null; nm -D "$fer" 2>/dev/null) || true
  if grep -q 'libasan\|__asan_init' <<< "$symbols"; then
    echo "skipped: $1 ($fer is built with AddressSanitizer)"
    exit 77
  fi
}
# same_checkpoints RUN_A RUN_B GROUP: GROUP (e.g. /model_weights) of the
# checkpoints the two runs' `latest` name has no difference (h5diff -r); says
# how many datasets and attributes were compared and which differ.
same_checkpoints() {
  local a b out rc
  a=$1/$(cat "$1/latest" 2>/dev/null) b=$2/$(cat "$2/latest" 2>/dev/null)
  out=$(h5diff -r "$a" "$b" "$3" "$3") && rc=0 || rc=$?
  echo "h5diff -r $3 of $a and $b: exit $rc; $(grep -c '^dataset' <<<"$out") datasets and" \
    "$(grep -c '^attribute' <<<"$out") attributes compared, $(grep -c '^0 differences found' <<<"$out") without differences"
  grep -B1 -E '^[1-9][0-9]* differences? found' <<<"$out" | head -n 20 || true
  return $rc
}
