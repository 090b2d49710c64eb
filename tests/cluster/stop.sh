#!/usr/bin/env bash
# Stops the emulated cluster that tests/cluster/start.sh brought up in
# STATE_DIR: tears down its processes, namespaces, links and leftovers
# (teardown.sh), then ends its watchdog, which releases the machine's lock.
# With --purge it also deletes STATE_DIR.
# Usage: tests/cluster/stop.sh STATE_DIR [--purge]
set -uo pipefail
state=${1:?usage: stop.sh STATE_DIR [--purge]}
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
"$here/teardown.sh" "$state"
pid=$(cat "$state/watchdog.pid" 2>/dev/null)
# The recorded PID is the watchdog only while its command line says so.
if [ -n "$pid" ] && [ "$pid" != "$PPID" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "watchdog.sh $state "; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "[cluster-stop] watchdog $pid ended"
fi
rm -f "$state/watchdog.pid"
[ "${2:-}" = --purge ] && rm -rf "${state:?}"
exit 0
