#!/usr/bin/env bash
# Brings up a one-node Slurm cluster on loopback for the Slurm tests: its own
# munged (private key and socket), slurmctld and slurmd, all state, logs and
# the config under STATE_DIR, on free ports; /etc is not touched. Installs the
# Debian packages first when they are missing. Needs root.
#
# Usage: tests/slurm/start.sh STATE_DIR
#   then: source STATE_DIR/env   (sets SLURM_CONF for sbatch, squeue, ...)
#   stop: tests/slurm/stop.sh STATE_DIR
# Exit codes: 0 the node is idle and a 1-task srun worked; 1 it did not come
# up (see STATE_DIR/log); 3 the packages are absent and cannot be installed.
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
state=${1:?usage: start.sh STATE_DIR}
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
record() { # record NAME PIDFILE: keep the PID of a daemon we started
    wait_for 100 test -s "$2" || die "$1 wrote no PID file $2 (log: $state/log/$1.log)"
    local pid
    pid=$(cat "$2")
    wait_for 20 alive "$pid" "$1" || die "$1 ($pid) is not running (log: $state/log/$1.log)"
    echo "$pid" >"$state/pids/$1"
    log "$1 pid $pid"
}

# munged: private key and socket so that a system munged (if any) is left alone.
sock=$state/munge/munge.sock
if [ ! -s "$state/munge/munge.key" ]; then
    dd if=/dev/urandom bs=1 count=1024 of="$state/munge/munge.key" 2>/dev/null
    chown munge:munge "$state/munge/munge.key"
    chmod 0400 "$state/munge/munge.key"
fi
runuser -u munge -- munged --socket="$sock" --key-file="$state/munge/munge.key" \
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
cat >"$state/slurm.conf" <<EOF
# One-node test cluster on loopback, written by tests/slurm/start.sh.
ClusterName=fertest
FirstJobId=$first_job_id
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
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
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# PMIx's per-step directories (spmix_appdir_UID_JOB.STEP) go under /tmp by
# default, where a leftover of another test cluster with the same job id
# would make a step fail to launch: keep them in STATE_DIR.
install -d -m 1777 "$state/pmix"
echo "PMIxCliTmpDirBase=$state/pmix" >"$state/mpi.conf"
echo "export SLURM_CONF=$state/slurm.conf" >"$state/env"
export SLURM_CONF=$state/slurm.conf

slurmctld -i </dev/null >/dev/null 2>&1 || die "slurmctld did not start (log: $state/log/slurmctld.log)"
record slurmctld "$state/slurmctld.pid"
wait_for 100 sh -c 'scontrol ping 2>/dev/null | grep -q "is UP"' || die "slurmctld does not answer"
slurmd -N localhost </dev/null >/dev/null 2>&1 || die "slurmd did not start (log: $state/log/slurmd.log)"
record slurmd "$state/slurmd.pid"

node_up() { sinfo -h -N -n localhost -o %T 2>/dev/null | grep -qx idle; }
wait_for 600 node_up || {
    sinfo -N -l || true
    tail -20 "$state/log/slurmctld.log" "$state/log/slurmd.log" || true
    die "node localhost not idle after 60 s"
}
out=$(timeout 60 srun -N1 -n1 -t 1 -J fer-slurm-check hostname 2>&1) || die "a 1-task srun failed: $out"
log "ready: node localhost idle with $cpus CPUs, ports $port/$((port + 1)), srun ran on '$out'"
