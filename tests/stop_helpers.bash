# Helpers for the stop, kill and fault tests (sourced after lib.bash).

# rows_in CSV: data rows written so far (0 when the file is absent).
rows_in() {
  local n
  n=$({ wc -l < "$1"; } 2>/dev/null) || n=0
  echo $(( n > 0 ? n - 1 : 0 ))
}

# wait_rows CSV N PID [SECONDS]: waits until CSV holds N data rows; fails when
# PID exits first or SECONDS (default 30) pass.
wait_rows() {
  local csv=$1 n=$2 pid=$3 deadline=$((SECONDS + ${4:-30}))
  while [ "$(rows_in "$csv")" -lt "$n" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.01
  done
}

# random_int LO HI: uniform integer in [LO, HI].
random_int() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }

# state_attr CKPT NAME: an attribute of /state (epoch, global_step, ...).
state_attr() {
  h5dump -a "/state/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'
}

# newest_checkpoint RUN_DIR: the path `latest` names ("" when none).
newest_checkpoint() {
  [ -f "$1/latest" ] && echo "$1/$(cat "$1/latest")" || true
}

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ "${state#Z}" = "$state" ]
}

# descendants PID: every process below PID.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# rank_pid PID RANK: the process below PID (mpirun, or a shell around it) that
# runs MPI rank RANK; waits up to 20 s for it to appear.
rank_pid() {
  local deadline=$((SECONDS + 20)) p
  while [ $SECONDS -lt $deadline ]; do
    for p in $(descendants "$1"); do
      if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
        echo "$p"
        return 0
      fi
    done
    sleep 0.05
  done
  return 1
}

# between VALUE LO HI: LO <= VALUE <= HI (false for an empty VALUE).
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
