#!/usr/bin/env bash
# Started by tests/cluster/start.sh, holding the cluster's lock (fd 9): waits
# for the cluster's owner (a PID) to exit and then tears the cluster down, so
# that a test killed before its own cleanup leaves nothing behind. stop.sh
# ends it first when the owner stops the cluster itself.
# Usage: watchdog.sh STATE_DIR OWNER_PID
state=$1 owner=$2
here=$(cd "$(dirname "$0")" && pwd)
while kill -0 "$owner" 2>/dev/null; do sleep 1 9>&-; done
echo "owner $owner exited without stopping the cluster: tearing it down"
"$here/teardown.sh" "$state"
