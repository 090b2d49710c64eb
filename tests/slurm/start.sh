#!/usr/bin/env bash
# Brings up a one-node Slurm cluster on loopback for the Slurm tests: its own
# munged (private key and socket), slurmctld and slurmd, all state, logs and
# the config under STATE_DIR, on free ports; /etc is not touched. Installs the
# Debian packages first when they are missing. Needs root.
#
# With CLUSTER_DIR, the STATE_DIR of an emulated cluster of N nodes that
# tests/cluster/start.sh brought up, Slurm spans its namespaces instead: the
# last node (fer-nodeN) is the controller (munged and slurmctld, no slurmd),
# every other node runs a slurmd of its own under its own host name, with
# NodeName=fer-nodeI NodeAddr=SUBNET.(10+I) and its own spool directory, PID
# and log file (slurm.conf's %n). Every daemon then runs inside a namespace,
# so the cluster's teardown (and its watchdog) also ends them.
#
# Usage: tests/slurm/start.sh STATE_DIR [CLUSTER_DIR]
#   then: source STATE_DIR/env   (sets SLURM_CONF for sbatch, squeue, ...)
#   stop: tests/slurm/stop.sh STATE_DIR
# Exit codes: 0 the nodes are idle and an srun on every node worked; 1 it did
# not come up (see STATE_DIR/log); 3 the packages are absent and cannot be
# installed.
# Environment: FER_SLURM_CPUS (CPUs to advertise, default max(cores, 2)),
# FER_SLURM_NO_INSTALL=1 (never run apt-get).
#
# Pitfalls of a bare Debian 12 machine this handles (Slurm 22.05):
# - no systemd: daemons are started by hand and recorded by PID;
# - the host name is not localhost: `slurmd -N localhost` with
#   NodeHostname=localhost NodeAddr=127.0.0.1;
# - NoCtldInAddrAny,NoInAddrAny keep the daemons on loopback;
# - MailProg=/bin/true (no mailer), no accounting (use scontrol, not sacct);
# - more CPUs advertised than exist need SlurmdParameters=config_overrides;
# - an impossible request pends forever unless EnforcePartLimits=ALL;
# - DependencyParameters=kill_invalid_depend is left out on purpose: the
#   pipeline must cancel the jobs after a failed step by itself.
set -euo pipefail
state=${1:?usage: start.sh STATE_DIR [CLUSTER_DIR]}
cluster=${2:-}
mkdir -p "$state"
state=$(cd "$state" && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
t0=$(date +%s)
log() { echo "[slurm-start $(($(date +%s) - t0))s] $*"; }
die() {
    log "ERROR: $*"
    exit 1
}
[ "$(id -u)" -eq 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"

packages=(munge slurmctld slurmd slurm-client)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${FER_SLURM_NO_INSTALL:-0}" = 1 ] || ! command -v apt-get >/dev/null; then
        log "packages missing and not installing: ${missing[*]}"
        exit 3
    fi
    log "installing ${missing[*]}"
    apt=(apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >"$state/apt.log" 2>&1; then
        "${apt[@]}" update -qq >>"$state/apt.log" 2>&1 || true
        "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >>"$state/apt.log" 2>&1 || {
            tail -5 "$state/apt.log"
            log "could not install ${missing[*]}"
            exit 3
        }
    fi
fi

# Where the daemons run: here, or in the emulated cluster's namespaces.
# in_node NAME NS COMMAND...: runs COMMAND in network namespace NS under host
# name NAME. nsenter, not `ip netns exec`, which mounts a /sys of its own
# without /sys/fs/cgroup: slurmd then fails ("No filesystem mounted on
# /sys/fs/cgroup", "Unable to initialize cgroup plugin").
# shellcheck disable=SC2016 # expanded by the inner sh
in_node() { nsenter --net="/run/netns/$2" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$1" "${@:3}"; }
on_ctl=() ctl_host=localhost nodes=(localhost) node_ns=("") node_addr=(127.0.0.1)
if [ -n "$cluster" ]; then
    [ -s "$cluster/nodes" ] || die "$cluster/nodes is missing: not an emulated cluster (tests/cluster/start.sh)"
    mapfile -t lines <"$cluster/nodes" # NAME NAMESPACE ADDRESS per node
    [ ${#lines[@]} -ge 2 ] || die "the emulated cluster in $cluster has ${#lines[@]} node(s): 2 or more are needed"
    read -r ctl_host ctl_ns ctl_addr <<<"${lines[-1]}"
    on_ctl=(in_node "$ctl_host" "$ctl_ns")
    nodes=() node_ns=() node_addr=()
    for line in "${lines[@]:0:${#lines[@]}-1}"; do
        read -r n ns a <<<"$line"
        nodes+=("$n") node_ns+=("$ns") node_addr+=("$a")
    done
fi

# When systemd runs, the package may have started its own daemons on the
# default ports; ours use other ports and another munge socket, so both coexist.
mkdir -p "$state"/{ctld,spool,log,pids}
chmod 0755 "$state"
install -d -o munge -g munge -m 0755 "$state/munge"
alive() { # alive PID NAME: running, not a zombie, and named NAME (PID reuse)
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
wait_for() { # wait_for TENTHS COMMAND...: retry until it succeeds
    local n=$1
    shift
    for _ in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
record() { # record NAME PIDFILE [AS]: keep the PID of a daemon we started
    local as=${3:-$1} pid
    wait_for 100 test -s "$2" || die "$as wrote no PID file $2 (log: $state/log/$as.log)"
    pid=$(cat "$2")
    wait_for 20 alive "$pid" "$1" || die "$as ($pid) is not running (log: $state/log/$as.log)"
    echo "$pid" >"$state/pids/$as"
    log "$as pid $pid"
}

# munged: private key and socket so that a system munged (if any) is left alone.
sock=$state/munge/munge.sock
if [ ! -s "$state/munge/munge.key" ]; then
    dd if=/dev/urandom bs=1 count=1024 of="$state/munge/munge.key" 2>/dev/null
    chown munge:munge "$state/munge/munge.key"
    chmod 0400 "$state/munge/munge.key"
fi
"${on_ctl[@]}" runuser -u munge -- munged --socket="$sock" --key-file="$state/munge/munge.key" \
    --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" \
    --seed-file="$state/munge/munged.seed" </dev/null >/dev/null 2>&1 || {
    cat "$state/munge/munged.log" 2>/dev/null
    die "munged did not start"
}
record munged "$state/munge/munged.pid"
wait_for 50 sh -c "munge -S '$sock' -n | unmunge -S '$sock' >/dev/null 2>&1" || die "munge does not answer on $sock"

free_port() { # free_port START: the first port >= START with it and the next free
    local p=$1
    command -v ss >/dev/null || {
        echo "$p"
        return
    }
    while ss -Hltn "( sport = :$p or sport = :$((p + 1)) )" | grep -q .; do p=$((p + 2)); done
    echo "$p"
}
port=$(free_port 16817)
cores=$(nproc)
cpus=${FER_SLURM_CPUS:-$((cores > 2 ? cores : 2))}
overrides=""
[ "$cpus" -eq "$cores" ] || overrides="SlurmdParameters=config_overrides"
# Job ids name things outside STATE_DIR: Open MPI's session directory and
# shared-memory segments derive from the PMIx namespace slurm.pmix.JOB.STEP.
# A random first id keeps them apart from those of another test cluster on
# this machine, running or left over.
first_job_id=$(((RANDOM << 15 | RANDOM) % 50000000 + 1000))
if [ -z "$cluster" ]; then
    what="One-node test cluster on loopback"
    ctl=localhost comm=CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
    slurmd_files="SlurmdSpoolDir=$state/spool
SlurmdPidFile=$state/slurmd.pid
SlurmdLogFile=$state/log/slurmd.log"
else
    # The daemons listen on every address of their namespace, which has only
    # the cluster's /24 and its own loopback: NoCtldInAddrAny and NoInAddrAny
    # would need the nodes' names to resolve (slurmctld: 'Unable to resolve
    # "fer-node3"', then fatal), and /etc/hosts is not touched.
    what="Test cluster on the emulated nodes of $cluster"
    ctl="$ctl_host($ctl_addr)" comm=""
    slurmd_files="SlurmdSpoolDir=$state/spool/%n
SlurmdPidFile=$state/slurmd.%n.pid
SlurmdLogFile=$state/log/slurmd.%n.log"
fi
node_lines=""
for i in "${!nodes[@]}"; do
    node_lines+="NodeName=${nodes[i]} NodeAddr=${node_addr[i]} NodeHostname=${nodes[i]} CPUs=$cpus State=UNKNOWN
"
done
node_list=$(IFS=,; echo "${nodes[*]}")
cat >"$state/slurm.conf" <<EOF
# $what, written by tests/slurm/start.sh.
ClusterName=fertest
FirstJobId=$first_job_id
SlurmctldHost=$ctl
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
$comm
StateSaveLocation=$state/ctld
SlurmctldPidFile=$state/slurmctld.pid
SlurmctldLogFile=$state/log/slurmctld.log
$slurmd_files
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SchedulerType=sched/backfill
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=3600
KillWait=30
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
$overrides
${node_lines}PartitionName=debug Nodes=$node_list Default=YES MaxTime=INFINITE State=UP
EOF
# PMIx's per-step directories (spmix_appdir_UID_JOB.STEP) go under /tmp by
# default, where a leftover of another test cluster with the same job id
# would make a step fail to launch: keep them in STATE_DIR.
# The emulated nodes share every file system, but each step daemon creates
# the same directory name there: each slurmd gets a mount namespace of its
# own in which STATE_DIR/pmix is its node's STATE_DIR/pmix-NODE, as /tmp
# would be node-local on a real cluster (mpi.conf's path knows no %n).
install -d -m 1777 "$state/pmix"
for n in "${nodes[@]}"; do [ -z "$cluster" ] || install -d -m 1777 "$state/pmix-$n"; done
echo "PMIxCliTmpDirBase=$state/pmix" >"$state/mpi.conf"
echo "export SLURM_CONF=$state/slurm.conf" >"$state/env"
export SLURM_CONF=$state/slurm.conf

"${on_ctl[@]}" slurmctld -i </dev/null >/dev/null 2>&1 || die "slurmctld did not start (log: $state/log/slurmctld.log)"
record slurmctld "$state/slurmctld.pid"
wait_for 100 sh -c 'scontrol ping 2>/dev/null | grep -q "is UP"' || die "slurmctld does not answer"
if [ -z "$cluster" ]; then
    slurmd -N localhost </dev/null >/dev/null 2>&1 || die "slurmd did not start (log: $state/log/slurmd.log)"
    record slurmd "$state/slurmd.pid"
else
    for i in "${!nodes[@]}"; do
        n=${nodes[i]}
        mkdir -p "$state/spool/$n"
        # shellcheck disable=SC2016 # expanded by the inner sh
        in_node "$n" "${node_ns[i]}" unshare --mount --propagation private \
            sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$state/pmix-$n" "$state/pmix" \
            slurmd -N "$n" </dev/null >/dev/null 2>&1 ||
            die "slurmd of $n did not start (log: $state/log/slurmd.$n.log)"
        record slurmd "$state/slurmd.$n.pid" "slurmd.$n"
    done
fi

n_nodes=${#nodes[@]}
nodes_up() { [ "$(sinfo -h -N -o %T 2>/dev/null | grep -cx idle)" -eq "$n_nodes" ]; }
wait_for 600 nodes_up || {
    sinfo -N -l || true
    tail -n 20 "$state"/log/*.log || true
    die "not every node ($node_list) idle after 60 s"
}
# One task on every node; in the emulated cluster srun runs in the first
# node, as a batch script does.
on_first=()
[ -z "$cluster" ] || on_first=(nsenter --net="/run/netns/${node_ns[0]}")
out=$(timeout 60 "${on_first[@]}" srun -N"$n_nodes" -n"$n_nodes" -t 1 -J fer-slurm-check hostname 2>&1) ||
    die "an srun of $n_nodes task(s) failed: $out"
# (one-node: the task runs under the machine's own host name)
[ -z "$cluster" ] || [ "$(sort -u <<<"$out" | tr '\n' ' ')" = "$(printf '%s\n' "${nodes[@]}" | sort | tr '\n' ' ')" ] ||
    die "an srun on $node_list ran on '$out'"
log "ready: $node_list idle with $cpus CPUs each, ports $port/$((port + 1)), srun ran on '$(tr '\n' ' ' <<<"$out")'"
