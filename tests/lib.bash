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
mpirun_fer() { # mpirun_fer NP args...
  local np=$1; shift
  mpirun -np "$np" --oversubscribe --bind-to none "$fer" "$@"
}
