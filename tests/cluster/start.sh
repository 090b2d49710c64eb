#!/usr/bin/env bash
# Brings up an emulated cluster of NODES (2 or 3) "nodes" on this machine for
# the multi-node tests: each node is a network namespace ferc-nI with one
# interface (eth0, SUBNET.(10+I)/24) on a private bridge ferc-br (SUBNET.1 in
# the root namespace, where mpirun runs), its own host name fer-nodeI (set in a
# UTS namespace by the launch agent) and, optionally, its link capped to RATE
# in both directions (tc tbf on both ends of its veth pair). The nodes share
# this machine's file systems: /tmp is the cluster's "shared file system".
#
# Usage: tests/cluster/start.sh STATE_DIR NODES [RATE]
#   then: source STATE_DIR/env   (Open MPI's settings: the launch agent, the
#         hostfile, TCP on the bridge's subnet between nodes, shared memory
#         inside each) and run e.g.
#         mpirun -np 4 --map-by ppr:2:node --bind-to none fer train ...
#   stop: tests/cluster/stop.sh STATE_DIR (also run by a watchdog when the
#         process that started the cluster exits without stopping it)
# RATE is a tc rate (e.g. 200mbit); FER_CLUSTER_BURST (default 256kb) and
# FER_CLUSTER_LATENCY (default 100ms) are tbf's burst and queueing bound.
# FER_CLUSTER_SUBNET: the first three octets of the /24 (default 10.254.18).
# FER_CLUSTER_OWNER: the PID whose exit tears the cluster down (default: the
# caller of this script). FER_CLUSTER_WAIT: seconds to wait for another
# cluster on this machine to go away (default 600).
# Exit codes: 0 up and checked (a TCP connection from every node to every
# other); 1 it did not come up (see the message); 2 another cluster held the
# machine for FER_CLUSTER_WAIT seconds; 3 namespaces cannot be made here (not
# root, no ip/unshare/tc, or the kernel refuses): callers skip.
#
# Traffic stays on the bridge: the namespaces have no route but the /24, the
# bridge is not attached to any physical interface, and the subnet is checked
# to be unused by this machine's routes before anything is made.
set -euo pipefail
state=${1:?usage: start.sh STATE_DIR NODES [RATE]}
nodes=${2:?usage: start.sh STATE_DIR NODES [RATE]}
rate=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
t0=$(date +%s)
log() { echo "[cluster-start $(($(date +%s) - t0))s] $*"; }
made=0
die() { # after the lock is held, what was made is taken down again
    log "ERROR: $*"
    [ "$made" = 0 ] || "$here/stop.sh" "$state" >>"$state/log/teardown.log" 2>&1
    exit 1
}
cannot() {
    log "cannot make an emulated cluster here: $*"
    exit 3
}
case $nodes in 2 | 3) ;; *) die "NODES must be 2 or 3 (got '$nodes')" ;; esac
subnet=${FER_CLUSTER_SUBNET:-10.254.18}
[[ $subnet =~ ^(10|172|192)\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "FER_CLUSTER_SUBNET must be three octets of a private range (got '$subnet')"
[ "$(id -u)" -eq 0 ] || cannot "not root (network namespaces, veth pairs and a bridge need CAP_NET_ADMIN)"
for tool in ip unshare flock setsid; do
    command -v $tool >/dev/null || cannot "no '$tool' command"
done
[ -z "$rate" ] || command -v tc >/dev/null || cannot "no 'tc' command to cap the links"
command -v mpirun >/dev/null || cannot "no mpirun"

mkdir -p "$state"
state=$(cd "$state" && pwd)
mkdir -p "$state/log"

# One cluster per machine: the names and the subnet are fixed. The lock is
# held by the watchdog started below for as long as the cluster exists.
lock=/run/lock/fer-cluster.lock
[ -d /run/lock ] || lock=/tmp/fer-cluster.lock
exec 9>>"$lock"
flock -w "${FER_CLUSTER_WAIT:-600}" 9 || {
    log "another emulated cluster held $lock for ${FER_CLUSTER_WAIT:-600} s"
    exit 2
}
# Holding the lock, anything with our names is a leftover of a cluster whose
# owner and watchdog were both killed: take it down first.
if ip netns list | grep -q '^ferc-n' || ip link show ferc-br >/dev/null 2>&1; then
    log "removing a leftover cluster"
    "$here/teardown.sh" "$state" >>"$state/log/teardown.log" 2>&1 || true
fi
# The subnet must be ours alone: no route or address of this machine in it.
if ip -4 route show | grep -q "^${subnet//./\\.}\.[0-9]*/\|via ${subnet//./\\.}\." ||
    ip -4 addr show | grep -q "inet ${subnet//./\\.}\."; then
    die "$subnet.0/24 is in use on this machine (ip route / ip addr): set FER_CLUSTER_SUBNET to a free private /24"
fi

# From here on a failure takes down what was made.
made=1
trap 'die "a command failed (line $LINENO)"' ERR
cap() { # cap [ip -n NS] DEV: tbf on DEV's egress
    local dev=${*: -1} where=("${@:1:$#-1}")
    "${where[@]}" tc qdisc replace dev "$dev" root tbf rate "$rate" \
        burst "${FER_CLUSTER_BURST:-256kb}" latency "${FER_CLUSTER_LATENCY:-100ms}"
}
if ! err=$(ip netns add ferc-n1 2>&1); then
    "$here/teardown.sh" "$state" >>"$state/log/teardown.log" 2>&1
    cannot "ip netns add failed: $err"
fi
ip link add ferc-br type bridge
ip addr add "$subnet.1/24" dev ferc-br
ip link set ferc-br up
: >"$state/nodes"
for i in $(seq 1 "$nodes"); do
    ns=ferc-n$i
    [ "$i" -eq 1 ] || ip netns add "$ns"
    ip link add "ferc-v$i" type veth peer name eth0 netns "$ns"
    ip link set "ferc-v$i" master ferc-br up
    ip -n "$ns" addr add "$subnet.$((10 + i))/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    if [ -n "$rate" ]; then
        cap "ferc-v$i"                 # bridge -> node
        cap ip netns exec "$ns" eth0 # node -> bridge
    fi
    echo "fer-node$i $ns $subnet.$((10 + i))" >>"$state/nodes"
done

# The launch agent: Open MPI's rsh launcher calls it as `agent HOST COMMAND`
# (the command a remote shell would run); it runs COMMAND in HOST's network
# namespace under HOST's name. A host it does not know is refused.
cat >"$state/agent.sh" <<EOF
#!/bin/bash
# Written by tests/cluster/start.sh: enters an emulated node.
host=\$1
shift
ns=\$(awk -v h="\$host" '\$1 == h || \$3 == h { print \$2 }' "$state/nodes")
name=\$(awk -v h="\$host" '\$1 == h || \$3 == h { print \$1 }' "$state/nodes")
echo "\$(date +%T) \$host (\$ns): \$*" >>"$state/log/agent.log"
[ -n "\$ns" ] || { echo "cluster agent: no node '\$host' in $state/nodes" >&2; exit 255; }
exec ip netns exec "\$ns" unshare --uts /bin/sh -c 'hostname "\$0" && exec /bin/sh -c "\$1"' "\$name" "\$*"
EOF
chmod 0755 "$state/agent.sh"
awk '{ print $1 }' "$state/nodes" >"$state/hostfile"
cat >"$state/env" <<EOF
# Open MPI on the emulated cluster (written by tests/cluster/start.sh).
export OMPI_MCA_plm_rsh_agent=$state/agent.sh
export OMPI_MCA_orte_default_hostfile=$state/hostfile
export OMPI_MCA_oob_tcp_if_include=$subnet.0/24
export OMPI_MCA_btl_tcp_if_include=$subnet.0/24
export OMPI_MCA_btl=tcp,self,vader
export FER_CLUSTER_STATE=$state FER_CLUSTER_NODES=$nodes FER_CLUSTER_SUBNET=$subnet
EOF
echo "$rate" >"$state/rate"

# The watchdog keeps the lock and tears the cluster down when its owner
# exits without calling stop.sh (a test killed mid-run).
owner=${FER_CLUSTER_OWNER:-$PPID}
setsid "$here/watchdog.sh" "$state" "$owner" </dev/null >>"$state/log/watchdog.log" 2>&1 &
echo $! >"$state/watchdog.pid"
exec 9>&-

# Every node reaches every other over TCP (bash's /dev/tcp, a listener from
# python3 or, without it, a second bash reading the port through ss).
port=$((20000 + RANDOM % 20000))
check_pair() { # check_pair I J: node I connects to node J
    local to=$subnet.$((10 + $2)) got
    ip netns exec "ferc-n$2" timeout 10 python3 -c "
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$to',$port)); s.listen(1); s.settimeout(8)
c,a=s.accept(); print(c.recv(64).decode().strip(), 'from', a[0])" >"$state/log/pair-$1-$2" 2>&1 &
    local listener=$!
    for _ in $(seq 50); do
        ip netns exec "ferc-n$1" timeout 2 bash -c "echo hello-from-$1 >/dev/tcp/$to/$port" 2>/dev/null && break
        sleep 0.1
    done
    wait $listener || true
    got=$(cat "$state/log/pair-$1-$2")
    [ "$got" = "hello-from-$1 from $subnet.$((10 + $1))" ] || die "node $1 could not reach node $2 over TCP ($got)"
}
if command -v python3 >/dev/null; then
    for i in $(seq 1 "$nodes"); do
        for j in $(seq 1 "$nodes"); do [ "$i" = "$j" ] || check_pair "$i" "$j"; done
    done
    checked="TCP between every pair of nodes"
else
    checked="not checked (no python3)"
fi
log "ready: $nodes nodes on $subnet.0/24 ($(awk '{ printf "%s%s=%s", sep, $1, $3; sep=", " }' "$state/nodes")), links ${rate:-uncapped}; $checked; source $state/env"
