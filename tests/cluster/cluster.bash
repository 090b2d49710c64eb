# Helpers for the tests on the emulated cluster (sourced after lib.bash).
# cluster_up brings a cluster up for the rest of the test and takes it down at
# exit, however the test ends (and the watchdog of start.sh does it should
# this shell be killed outright).

cluster_dir=$src/tests/cluster
cluster_state=$work/cluster

cluster_cleanup() { # FER_CLUSTER_KEEP=1 keeps the logs and run directories to look at
  cd / && "$cluster_dir/stop.sh" "$cluster_state" > /dev/null
  if [ "${FER_CLUSTER_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}

# cluster_up NODES [RATE]: a cluster of NODES nodes (links capped to RATE),
# Open MPI's settings exported; skips the test (77) where it cannot be made.
cluster_up() {
  local rc=0
  trap cluster_cleanup EXIT
  trap 'exit 1' INT TERM
  "$cluster_dir/start.sh" "$cluster_state" "$@" || rc=$?
  case $rc in
    0) ;;
    2 | 3) echo "skipped: no emulated cluster here (start.sh exit $rc, its message above)"; exit 77 ;;
    *) echo "FAIL: the emulated cluster did not come up (start.sh exit $rc)"; exit 1 ;;
  esac
  # shellcheck disable=SC1091
  source "$cluster_state/env"
  # Under the Sanitize build, LeakSanitizer's exit-time tracer sometimes dies
  # of SIGSEGV in ranks that used the TCP transport ("Tracer caught signal
  # 11 ... LeakSanitizer has encountered a fatal error"), turning a finished
  # run into exit 1. Leaks are checked by the single-node tests; here ASan
  # and UBSan still check every access.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# cluster_mpirun PER_NODE COMMAND...: COMMAND as PER_NODE ranks on every node.
cluster_mpirun() {
  local per=$1; shift
  mpirun -np $((FER_CLUSTER_NODES * per)) --map-by "ppr:$per:node" --bind-to none --oversubscribe "$@"
}

# node_pids NODE NAME: the PIDs of the processes in node NODE that run the
# executable NAME (by its file: fer re-executes itself, which renames the
# process "exe").
node_pids() {
  local p exe
  for p in $(ip netns pids "ferc-n$1" 2> /dev/null); do
    exe=$(readlink "/proc/$p/exe" 2> /dev/null) || continue
    [ "${exe##*/}" = "$2" ] && echo "$p"
  done
  return 0
}

# wait_node_ranks NODE COUNT SECONDS: waits until COUNT fer ranks run in NODE.
wait_node_ranks() {
  local deadline=$((SECONDS + $3))
  until [ "$(node_pids "$1" fer | wc -l)" -ge "$2" ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# link_bytes NODE: bytes the node's link has carried so far, both directions.
link_bytes() {
  local s=/sys/class/net/ferc-v$1/statistics
  echo $(($(cat $s/rx_bytes) + $(cat $s/tx_bytes)))
}

# rank_env PID NAME: a variable of a process's environment.
rank_env() {
  tr '\0' '\n' < "/proc/$1/environ" 2> /dev/null | sed -n "s/^$2=//p"
}
