# Progress display follows the real output, also under mpirun (which gives
# every rank a pseudo-terminal even when its own output is a file): a log
# file gets plain "epoch E/N step S/B ..." lines, a terminal gets the bar
# ("ETA:"). `script` runs a command on a fresh pseudo-terminal.
source "$(dirname "$0")/lib.bash"
cd "$work"
args=(train "$src/configs/tiny.yaml" --stop-after-steps 3 --set logging.every_steps=1 --set logging.progress=auto)
launcher=("$src/jobs/fer-mpirun" -n 1)
export FER_BIN=$fer
bar() { grep -q "ETA:" "$1"; }
not_bar() { ! bar "$1"; }
# Not anchored at the line start: mpirun forwards stdout and stderr apart, so
# a line of one may land in the middle of a line of the other.
plain() { grep -q "epoch 1/[0-9]* step 3/" "$1"; }
run() { # run LOG command...: output into LOG, exit status ignored (75: stopped)
  local log=$1; shift
  "$@" > "$log" 2>&1 || true
}
in_terminal() { # in_terminal LOG command...: on a pseudo-terminal, transcript into LOG
  local log=$1; shift
  script -qec "$(printf '%q ' "$@")" /dev/null > "$log" 2>&1 || true
}

run alone-file.log "$fer" "${args[@]}" --run-dir a
in_terminal alone-tty.log "$fer" "${args[@]}" --run-dir b
run mpirun-file.log mpirun -np 1 --bind-to none "$fer" "${args[@]}" --run-dir c
run launcher-file.log "${launcher[@]}" "${args[@]}" --run-dir d
in_terminal launcher-tty.log "${launcher[@]}" "${args[@]}" --run-dir e
for log in alone-file alone-tty mpirun-file launcher-file launcher-tty; do
  echo "$log: $(grep -c "ETA:" $log.log || true) bar line(s), $(grep -c "step [0-9]*/" $log.log || true) plain line(s)"
  grep "step 3/" $log.log | tr '\r' '|' | sed "s/^/  $log: /" || true
done
check "fer into a file: plain lines" plain alone-file.log
check "fer into a file: no bar" not_bar alone-file.log
check "fer on a terminal: the bar" bar alone-tty.log
check "mpirun into a file: plain lines" plain mpirun-file.log
check "mpirun into a file: no bar" not_bar mpirun-file.log
check "jobs/fer-mpirun into a file: plain lines" plain launcher-file.log
check "jobs/fer-mpirun into a file: no bar" not_bar launcher-file.log
check "jobs/fer-mpirun on a terminal: the bar" bar launcher-tty.log
finish
