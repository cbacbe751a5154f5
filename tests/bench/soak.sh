#!/bin/sh
# Soak benchmark (not run by make bench): one trackerd holding 1,000 active
# clients and 10,000 idle connections (tests/bench/soak), and beside them a
# swarm under churn: a stable seeder, a seeder restarted every 3 rounds, and
# a new leecher every round that downloads, verifies, logs out and stops.
# Every interval: trackerd's requests/s, p50/p99/max, RSS (with its private
# and shared-memory parts, summed over master and workers) and descriptors;
# every round: the download time and the seeders' RSS and descriptors. At
# the end, each figure's first, last and extreme values.
#
#   sh tests/bench/soak.sh [seconds]     (default 1800; SOAK_ACTIVE,
#   SOAK_IDLE, SOAK_RATE_MS, SOAK_INTERVAL, SOAK_MB override the load)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${SOAK_SECONDS:-1800}}
active=${SOAK_ACTIVE:-1000}
idle=${SOAK_IDLE:-10000}
rate=${SOAK_RATE_MS:-1000}
interval=${SOAK_INTERVAL:-30}
size_mb=${SOAK_MB:-32}
soak="$root/tests/bench/soak"
xfer="$root/tests/bench/xfer"
tk="$root/trackerd/trackerd"
pd="$root/peerd/peerd"
sc="$root/sharectl/sharectl"
dir=$(mktemp -d /tmp/p2p-soak.XXXXXX)
pids=""

for b in "$soak" "$xfer" "$tk" "$pd" "$sc"; do
	[ -x "$b" ] || { echo "soak: build first: make all tests/bench/soak tests/bench/xfer" >&2; exit 1; }
done

stop() {	# pid: SIGTERM, a bounded wait, SIGKILL
	kill "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	for p in $pids; do stop "$p"; done
	[ -n "${SOAK_KEEP:-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() { echo "soak: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
S() { _p=$1; shift; timeout 300 "$sc" -S "$dir/$_p/sock" "$@" > /dev/null 2>> "$dir/sharectl.err" || die "$_p: $* ($(tail -1 "$dir/sharectl.err"))"; }

# One tracker; room for the soak's users, groups and files, and no limit on
# accounts created from one address (every leecher signs up from 127.0.0.1).
port=$("$xfer" port)
echo "127.0.0.1:$port" > "$dir/trackers.txt"
"$tk" -f -k 1000 -w 2 -s always -o signups=0 -l "$dir/sync_log.txt" -p "$dir/t.pid" \
    "$dir/trackers.txt" 1 > "$dir/trackerd.log" 2>&1 &
tpid=$!
pids="$tpid"
sleep 0.5
kill -0 "$tpid" 2>/dev/null || die "trackerd did not start: $(cat "$dir/trackerd.log")"

start_peer() {	# name: sets pid
	mkdir -p "$dir/$1"
	pport=$("$xfer" port)
	"$pd" -f -S "$dir/$1/sock" -d "$dir/$1" "127.0.0.1:$pport" \
	    "$dir/trackers.txt" >> "$dir/$1.log" 2>&1 &
	pid=$!
	i=0
	while [ ! -S "$dir/$1/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -S "$dir/$1/sock" ] || die "peerd $1 did not start"
}

f="$dir/file.bin"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$f"
start_peer sa; sa=$pid; pids="$pids $sa"
S sa create_user seeda pw; S sa login seeda pw; S sa create_group swarm
start_peer sb; sb=$pid; pids="$pids $sb"
S sb create_user seedb pw; S sb login seedb pw; S sb join_group swarm
S sa accept_request swarm seedb
S sa upload_file "$f" swarm
S sb upload_file "$f" swarm

"$soak" -a "$active" -i "$idle" -r "$rate" -s "$secs" -t "$interval" \
    -p "$tpid" "127.0.0.1:$port" > "$dir/soak.out" 2> "$dir/soak.err" &
lpid=$!
pids="$pids $lpid"
echo "soak: ${secs}s; trackerd (2 workers, -s always) with $active active clients" \
    "and $idle idle connections; swarm of ${size_mb} MiB under churn"
tail -f "$dir/soak.out" &
tailpid=$!
pids="$pids $tailpid"

# The swarm under churn, for as long as the tracker load runs.
t0=$(now)
r=0
: > "$dir/swarm.out"
while kill -0 "$lpid" 2>/dev/null; do
	n=l$r
	start_peer "$n"; lp=$pid; pids="$pids $lp"
	S "$n" create_user "leech$r" pw; S "$n" login "leech$r" pw
	S "$n" join_group swarm; S sa accept_request swarm "leech$r"
	mkdir -p "$dir/out"
	a=$(now)
	S "$n" download_file swarm file.bin "$dir/out"
	S "$n" wait swarm file.bin
	b=$(now)
	cmp -s "$f" "$dir/out/file.bin" || die "round $r: the download differs"
	S "$n" logout
	stop "$lp"
	rm -rf "$dir/out" "$dir/$n" "$dir/$n.log"
	if [ $((r % 3)) -eq 2 ]; then	# the second seeder restarts
		stop "$sb"
		start_peer sb; sb=$pid; pids="$pids $sb"
	fi
	printf '%6.0f s  swarm round %d  download %s s  seeder A rss %s kB fds %s  seeder B rss %s kB fds %s\n' \
	    "$(elapsed "$t0" "$(now)")" "$r" "$(elapsed "$a" "$b")" \
	    "$(rss_kb "$sa")" "$(nfds "$sa")" "$(rss_kb "$sb")" "$(nfds "$sb")" |
	    tee -a "$dir/swarm.out"
	r=$((r + 1))
done
wait "$lpid" 2>/dev/null
[ -s "$dir/soak.err" ] && { cat "$dir/soak.err" >&2; die "the tracker load failed"; }
kill -0 "$tpid" 2>/dev/null || die "trackerd died"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { awk -v k="$1" '/ req\/s / { for (i = 1; i < NF; i++) if ($i == k && $(i - 1) != "writes") print $(i + 1) }' "$dir/soak.out"; }
wfield() { awk '/ req\/s / { for (i = 1; i < NF; i++) if ($i == "p99" && $(i - 1) == "writes") print $(i + 1) }' "$dir/soak.out"; }
echo "summary (first interval -> last interval; over all intervals):"
p99s=$(field p99); rss=$(field rss); fds=$(field fds); anon=$(field anon); shm=$(field shm)
printf '  trackerd: %d intervals, errors %s\n' "$(echo "$p99s" | wc -l)" "$(field err | tail -1)"
printf '  trackerd RSS %s -> %s MiB (max %s), fds %s -> %s (max %s)\n' \
    "$(echo "$rss" | head -1)" "$(echo "$rss" | tail -1)" "$(echo "$rss" | sort -n | tail -1)" \
    "$(echo "$fds" | head -1)" "$(echo "$fds" | tail -1)" "$(echo "$fds" | sort -n | tail -1)"
printf '  of which private (anon) %s -> %s MiB (max %s), shared memory %s -> %s MiB (max %s)\n' \
    "$(echo "$anon" | head -1)" "$(echo "$anon" | tail -1)" "$(echo "$anon" | sort -n | tail -1)" \
    "$(echo "$shm" | head -1)" "$(echo "$shm" | tail -1)" "$(echo "$shm" | sort -n | tail -1)"
printf '  reads p99 %s -> %s ms (median interval %s, worst %s)\n' \
    "$(echo "$p99s" | head -1)" "$(echo "$p99s" | tail -1)" "$(echo "$p99s" | median)" \
    "$(echo "$p99s" | sort -n | tail -1)"
w99=$(wfield)
printf '  writes p99 %s -> %s ms (median interval %s, worst %s)\n' \
    "$(echo "$w99" | head -1)" "$(echo "$w99" | tail -1)" "$(echo "$w99" | median)" \
    "$(echo "$w99" | sort -n | tail -1)"
if [ -s "$dir/swarm.out" ]; then
	dl=$(awk '{ print $7 }' "$dir/swarm.out")
	printf '  swarm: %d rounds, download median %s s, worst %s s\n' "$(echo "$dl" | wc -l)" \
	    "$(echo "$dl" | median)" "$(echo "$dl" | sort -n | tail -1)"
	printf '  seeder A RSS %s -> %s kB, fds %s -> %s\n' \
	    "$(head -1 "$dir/swarm.out" | awk '{ print $12 }')" "$(tail -1 "$dir/swarm.out" | awk '{ print $12 }')" \
	    "$(head -1 "$dir/swarm.out" | awk '{ print $15 }')" "$(tail -1 "$dir/swarm.out" | awk '{ print $15 }')"
fi
