#!/usr/bin/env bash
# Stops the cluster that tests/slurm/start.sh started in STATE_DIR: cancels its
# jobs, then stops slurmd, slurmctld and munged by the PIDs start.sh recorded
# (never by name, so other Slurm or munge daemons on the machine are left
# alone). With --purge it also deletes STATE_DIR.
# Usage: tests/slurm/stop.sh STATE_DIR [--purge]
set -uo pipefail
state=${1:?usage: stop.sh STATE_DIR [--purge]}
purge=${2:-}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
log() { echo "[slurm-stop] $*"; }
[ -d "$state" ] || exit 0
export SLURM_CONF=$state/slurm.conf
alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
stop() { # stop NAME [AS]: TERM the PID recorded as AS, KILL after 10 s
    local as=${2:-$1} pid f
    f=$state/pids/$as
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if alive "$pid" "$1"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 100); do alive "$pid" "$1" || break; sleep 0.1; done
        if alive "$pid" "$1"; then
            log "$as ($pid) ignored SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$f"
    log "$as ($pid) stopped"
}
ctld=$(cat "$state/pids/slurmctld" 2>/dev/null)
if alive "$ctld" slurmctld && [ -f "$SLURM_CONF" ]; then
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null
        for _ in $(seq 1 60); do
            [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi
# Step daemons of our slurmd finish their teardown before slurmd goes away.
source "$(dirname "$0")/poll.bash"
wait_until 20 no_steps
stop slurmd
for f in "$state"/pids/slurmd.*; do # one per node of an emulated cluster
    [ -e "$f" ] && stop slurmd "${f##*/}"
done
stop slurmctld
stop munged
if [ "$purge" = --purge ]; then
    rm -rf "${state:?}"
    log "removed $state"
fi
exit 0
