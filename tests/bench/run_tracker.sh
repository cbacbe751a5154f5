#!/bin/sh
# make bench: trackerd under load (tracker_load), each figure the median of
# 3 runs, reads also against a do-nothing responder of the same reply sizes.
set -eu
cd "$(dirname "$0")/../.."
load=tests/bench/tracker_load
secs=${BENCH_SECONDS:-2}
runs=${BENCH_RUNS:-3}
dir=$(mktemp -d /tmp/p2pshare-bench.XXXXXX)
pid=""

# start_tracker NAME: a fresh trackerd with its own journal
start_tracker() {
	port=$($load -P)
	echo "127.0.0.1:$port" > "$dir/$1.txt"
	trackerd/trackerd -f -k 1000 -w 2 -s always -l "$dir/$1.log" \
	    -o groups=1000000,requests=1000000,files=1000000,seeders=1000000 \
	    -o signups=0,user_groups=1000000,user_requests=1000000 \
	    "$dir/$1.txt" 1 2> "$dir/$1.err" &
	pid=$!
}
stop_tracker() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" || true
	pid=""
}
cleanup() {
	stop_tracker
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

echo "trackerd: 2 workers, PBKDF2 -k 1000, sync always;" \
    "$runs runs of ${secs}s each, medians"
# reads: a group of 20 files; list_files alone (64 persistent connections,
# one and 16 requests in flight), then a mix of list_groups, list_files and
# download_file
start_tracker reads
$load -R -m list -c 64 -d 1 -s "$secs" -n "$runs" "127.0.0.1:$port"
$load -R -m list -c 64 -d 16 -s "$secs" -n "$runs" "127.0.0.1:$port"
$load -R -m read -c 64 -d 1 -s "$secs" -n "$runs" "127.0.0.1:$port"
$load -R -m read -c 64 -d 16 -s "$secs" -n "$runs" "127.0.0.1:$port"
$load -R -m cpr -c 64 -s "$secs" -n "$runs" "127.0.0.1:$port"
stop_tracker
# journaled writes: join_group, upload_file, stop_share (own journal)
start_tracker writes
$load -m write -c 64 -d 1 -s "$secs" -n "$runs" "127.0.0.1:$port"
$load -m write -c 64 -d 4 -s "$secs" -n "$runs" "127.0.0.1:$port"
stop_tracker
echo "goals: list_files >= 0.80x responder at d=1 (p99 <= 3 ms), >= 0.50x at d=16;" \
    "writes >= 20000/s; conn-per-request >= 13000/s"
