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
me=soak
root=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_KEEP=${BENCH_KEEP:-${SOAK_KEEP:-}}
. "$root/tests/bench/bench_lib.sh"
secs=${1:-${SOAK_SECONDS:-1800}}
active=${SOAK_ACTIVE:-1000}
idle=${SOAK_IDLE:-10000}
rate=${SOAK_RATE_MS:-1000}
interval=${SOAK_INTERVAL:-30}
size_mb=${SOAK_MB:-32}
soak="$root/tests/bench/soak"

for b in "$soak" "$xfer" "$tk" "$pd" "$sc"; do
	[ -x "$b" ] || die "build first: make all tests/bench/soak tests/bench/xfer"
done

rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# One tracker; room for the soak's users, groups and files, and no limit on
# accounts created from one address (every leecher signs up from 127.0.0.1).
p2p_tracker "$dir" -s always
tpid=$pid
port=$(sed 's/.*://' "$dir/trackers.txt")

# start_peer N: peerd N (state in $dir/pN), its pid in $pid; no pidfile
# (p2p_peer's), which would count among the descriptors reported
start_peer() {
	mkdir -p "$dir/p$1"
	_port=$("$xfer" port)
	launch none "" "$pd" -f -S "$dir/p$1/sock" -d "$dir/p$1" "127.0.0.1:$_port" \
	    "$dir/trackers.txt" >> "$dir/p$1.log" 2>&1
	wait_until 100 peer_up "$pid" "$_port" "$dir/p$1/sock" && alive "$pid" ||
	    die "peerd $1 did not start"
}

f="$dir/file.bin"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$f"
start_peer sa; sa=$pid
S "$dir" sa create_user seeda pw; S "$dir" sa login seeda pw; S "$dir" sa create_group swarm
start_peer sb; sb=$pid
S "$dir" sb create_user seedb pw; S "$dir" sb login seedb pw; S "$dir" sb join_group swarm
S "$dir" sa accept_request swarm seedb
S "$dir" sa upload_file "$f" swarm
S "$dir" sb upload_file "$f" swarm

launch none "" "$soak" -a "$active" -i "$idle" -r "$rate" -s "$secs" -t "$interval" \
    -p "$tpid" "127.0.0.1:$port" > "$dir/soak.out" 2> "$dir/soak.err"
lpid=$pid
echo "soak: ${secs}s; trackerd (2 workers, -s always) with $active active clients" \
    "and $idle idle connections; swarm of ${size_mb} MiB under churn"
launch none "" tail -f "$dir/soak.out"

# The swarm under churn, for as long as the tracker load runs.
t0=$(now)
r=0
: > "$dir/swarm.out"
while kill -0 "$lpid" 2>/dev/null; do
	n=l$r
	start_peer "$n"; lp=$pid
	S "$dir" "$n" create_user "leech$r" pw; S "$dir" "$n" login "leech$r" pw
	S "$dir" "$n" join_group swarm; S "$dir" sa accept_request swarm "leech$r"
	mkdir -p "$dir/out"
	a=$(now)
	S "$dir" "$n" download_file swarm file.bin "$dir/out"
	S "$dir" "$n" wait swarm file.bin
	b=$(now)
	cmp -s "$f" "$dir/out/file.bin" || die "round $r: the download differs"
	S "$dir" "$n" logout
	stop_pid "$lp"
	rm -rf "$dir/out" "$dir/p$n" "$dir/p$n.log"
	if [ $((r % 3)) -eq 2 ]; then	# the second seeder restarts
		stop_pid "$sb"
		start_peer sb; sb=$pid
	fi
	printf '%6.0f s  swarm round %d  download %s s  seeder A rss %s kB fds %s  seeder B rss %s kB fds %s\n' \
	    "$(elapsed "$t0" "$(now)" 2)" "$r" "$(elapsed "$a" "$b" 2)" \
	    "$(rss_kb "$sa")" "$(nfds "$sa")" "$(rss_kb "$sb")" "$(nfds "$sb")" |
	    tee -a "$dir/swarm.out"
	r=$((r + 1))
done
wait "$lpid" 2>/dev/null
[ -s "$dir/soak.err" ] && { cat "$dir/soak.err" >&2; die "the tracker load failed"; }
kill -0 "$tpid" 2>/dev/null || die "trackerd died"

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
