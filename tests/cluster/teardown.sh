#!/usr/bin/env bash
# Takes down everything an emulated cluster (tests/cluster/start.sh) is made
# of, by its fixed names: the processes inside its namespaces (SIGTERM, then
# SIGKILL after 5 s), the namespaces ferc-n1..3 (which removes their veth
# pairs and tc qdiscs), the bridge ferc-br, and what Open MPI leaves behind for
# the host names fer-node1..3 when its processes are killed (session
# directories, shared-memory segments). Safe to run twice. Called by stop.sh,
# by the watchdog and by start.sh; a test calls stop.sh.
# With STATE_DIR, an mpirun that launches through that cluster's agent is
# ended too: one whose node was cut off waits for it forever, SIGTERM or not.
# Usage: tests/cluster/teardown.sh [STATE_DIR]
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
state=${1:-}
log() { echo "[cluster-teardown $(date +%T)] $*"; }
spaces=$(ip netns list 2>/dev/null | awk '$1 ~ /^ferc-n[1-3]$/ { print $1 }')
launchers() { # mpirun processes (in this namespace) launching with STATE_DIR's agent
    local p
    [ -n "$state" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = mpirun ] || continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "OMPI_MCA_plm_rsh_agent=$state/agent.sh" && echo "${p#/proc/}"
    done
    return 0
}
inside() { # PIDs of the processes in our namespaces, and of mpirun on them
    local ns
    for ns in $spaces; do ip netns pids "$ns" 2>/dev/null; done
    launchers
}
pids=$(inside | tr '\n' ' ')
if [ -n "${pids// /}" ]; then
    log "SIGTERM to the processes in the nodes: $pids"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 50); do
        [ -z "$(inside)" ] && break
        sleep 0.1
    done
    pids=$(inside | tr '\n' ' ')
    if [ -n "${pids// /}" ]; then
        log "SIGKILL to $pids"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        for _ in $(seq 50); do
            [ -z "$(inside)" ] && break
            sleep 0.1
        done
    fi
fi
for ns in $spaces; do
    ip netns delete "$ns" && log "deleted namespace $ns"
done
for i in 1 2 3; do # a veth whose namespace is already gone, if any
    ip link show "ferc-v$i" >/dev/null 2>&1 && ip link delete "ferc-v$i" 2>/dev/null
done
if ip link show ferc-br >/dev/null 2>&1; then
    ip link delete ferc-br && log "deleted bridge ferc-br"
fi
# Open MPI names its files by host name: fer-nodeI is only ever a node of
# this cluster, and none of its processes is left.
for i in 1 2 3; do
    for f in /dev/shm/*.fer-node$i.* "${TMPDIR:-/tmp}"/ompi.fer-node$i.* /tmp/ompi.fer-node$i.*; do
        [ -e "$f" ] || continue
        rm -rf "$f" && log "removed $f"
    done
done
exit 0
