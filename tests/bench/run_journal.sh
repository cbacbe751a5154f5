#!/bin/sh
# Journal replay benchmark: tracker_create on a 1M-line sync_log.txt,
# median of three runs (goal: <= 2 s).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
exec "$root/tests/bench/journal_replay"
