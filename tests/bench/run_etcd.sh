#!/bin/sh
# make bench: trackerd -J on a real three-member etcd on loopback. Journaled
# changes/s through two trackers at once beside etcd's own one-put-per-
# transaction rate (and its 128-put ceiling) in the same run; reads on etcd
# against the file journal; the pause when the etcd leader dies; the time
# from a tracker's death to peerd's next answered command. Medians of 3.
# Arguments pick parts: reads writes leader tracker (default: all).
set -u
parts=" ${*:-reads writes leader tracker} "
on() { case "$parts" in *" $1 "*) return 0 ;; esac; return 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
load="$root/tests/bench/tracker_load"
eload="$root/tests/bench/etcd_load"
tk="$root/trackerd/trackerd"
pd="$root/peerd/peerd"
sc="$root/sharectl/sharectl"
secs=${BENCH_SECONDS:-3}
runs=${BENCH_RUNS:-3}
caps=signups=0,user_groups=1000000,user_requests=1000000,users=100000,groups=2000000,members=1000000,requests=100000,sessions=100000,files=100000,seeders=100000,hashes=1000000
dir=$(mktemp -d /tmp/p2p-etcd-bench.XXXXXX)
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null
	done
	# the tracker killed on purpose leaves its region behind
	for p in ${p1:-} ${p2:-} ${p3:-}; do
		rm -f "/dev/shm/p2pshare-trackerd-$p"
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() { echo "run_etcd: $*" >&2; exit 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
port() { "$load" -P; }
ms() { date +%s%3N; }

# ---- the cluster (LAN timings, as README recommends: a leader's death is
# noticed after the 500 ms election timeout instead of etcd's default 1 s) ----
i=0; cluster=""; ends=""
while [ $i -lt 3 ]; do
	eval "cp$i=$(port)"; eval "pp$i=$(port)"
	eval "cluster=\"$cluster${cluster:+,}m$i=http://127.0.0.1:\$pp$i\""
	eval "ends=\"$ends${ends:+,}127.0.0.1:\$cp$i\""
	i=$((i + 1))
done
start_member() {	# i
	eval "c=\$cp$1; p=\$pp$1"
	/usr/bin/etcd --name "m$1" --data-dir "$dir/m$1" \
	    --listen-client-urls "http://127.0.0.1:$c" \
	    --advertise-client-urls "http://127.0.0.1:$c" \
	    --listen-peer-urls "http://127.0.0.1:$p" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$p" \
	    --initial-cluster "$cluster" --initial-cluster-token "$dir" \
	    --heartbeat-interval 50 --election-timeout 500 \
	    > "$dir/m$1.log" 2>&1 &
	eval "mpid$1=$!"
	pids="$pids $!"
}
ready() {	# client port: a linearizable read answered
	curl -s -m 1 -X POST "http://127.0.0.1:$1/v3/kv/range" \
	    -d '{"key":"eA=="}' | grep -q '"revision"'
}
leader() {	# index of the member leading now
	for m in 0 1 2; do
		eval "c=\$cp$m"
		s=$(curl -s -m 1 -X POST "http://127.0.0.1:$c/v3/maintenance/status" -d '{}')
		id=$(echo "$s" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
		ld=$(echo "$s" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
		[ -n "$id" ] && [ "$id" = "$ld" ] && { echo $m; return; }
	done
	echo -1
}
wait_ready() {
	for m in 0 1 2; do
		eval "c=\$cp$m"; n=0
		until ready "$c"; do
			n=$((n + 1)); [ $n -lt 200 ] || die "etcd member $m not ready"
			sleep 0.1
		done
	done
}
for i in 0 1 2; do start_member $i; done
wait_ready
url="etcd://$ends/bench"

# ---- two trackers on it, one on a journal file ----
p1=$(port); p2=$(port); p3=$(port)
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$p1" "$p2" > "$dir/ti.txt"
printf '127.0.0.1:%s\n' "$p3" > "$dir/tf.txt"
start_tracker() {	# no, args...
	n=$1; shift
	mkdir -p "$dir/t$n"
	(cd "$dir/t$n" && exec "$tk" -f -k 1000 -w 2 -o "$caps" "$@") \
	    > "$dir/t$n.log" 2>&1 &
	eval "tpid$n=$!"
	pids="$pids $!"
}
start_tracker 1 -J "$url" "$dir/ti.txt" 1
start_tracker 2 -J "$url" "$dir/ti.txt" 2
start_tracker 3 -l "$dir/t3/sync_log.txt" "$dir/tf.txt" 1
sleep 1

echo "trackerd -J on a 3-member etcd 3.4 (loopback), 2 trackers x 2 workers;" \
    "$runs runs of ${secs}s, medians"
# ---- reads: etcd against the file journal (same fresh state) ----
if on reads; then
re=$("$load" -m read -c 64 -d 1 -s "$secs" -n "$runs" "127.0.0.1:$p1" | tail -1)
rf=$("$load" -m read -c 64 -d 1 -s "$secs" -n "$runs" "127.0.0.1:$p3" | tail -1)
echo "reads, 64 conns, depth 1: etcd backend: $re"
echo "reads, 64 conns, depth 1: file backend: $rf"
# list_files of a 20-file group against the do-nothing responder (-R),
# on each backend, one and 16 requests in flight
for d in 1 16; do
	echo "list_files, etcd backend, depth $d:"
	"$load" -R -m list -c 64 -d $d -s "$secs" -n "$runs" "127.0.0.1:$p1"
	echo "list_files, file backend, depth $d:"
	"$load" -R -m list -c 64 -d $d -s "$secs" -n "$runs" "127.0.0.1:$p3"
done
fi

# ---- journaled changes/s ----
if on writes; then
: > "$dir/w"; : > "$dir/r1"; : > "$dir/r128"; : > "$dir/g64"
i=0
while [ $i -lt "$runs" ]; do
	"$eload" -w -c 128 -d 1 -s "$secs" "127.0.0.1:$p1" "127.0.0.1:$p2" |
	    awk '{ print $1 }' >> "$dir/w"
	"$eload" -r -b 1 -c 8 -s "$secs" "$url/raw" >> "$dir/r1"
	"$eload" -r -b 128 -c 4 -s "$secs" "$url/raw" >> "$dir/r128"
	"$eload" -r -g -b 64 -c 8 -s "$secs" "$url/raw" >> "$dir/g64"
	i=$((i + 1))
done
w=$(median < "$dir/w"); r1=$(median < "$dir/r1"); r128=$(median < "$dir/r128")
g64=$(median < "$dir/g64")
echo "changes/s, 128 clients over both trackers: $w" \
    "(etcd one put per txn, 8 clients: $r1 = $(awk -v a="$w" -v b="$r1" \
    'BEGIN { printf "%.1fx", a / b }'); 128 puts per txn: $r128;" \
    "trackerd's txn shape, 64 guarded puts per txn, 8 clients: $g64)"

fi

# ---- the leader dies under writes ----
if on leader; then
: > "$dir/gap"
i=0
while [ $i -lt "$runs" ]; do
	l=$(leader); [ "$l" -ge 0 ] || die "no etcd leader"
	eval "lp=\$mpid$l"
	out=$("$eload" -w -c 16 -d 1 -s 4 -K "$lp" "127.0.0.1:$p1" \
	    "127.0.0.1:$p2") || die "etcd_load -K failed: $out"
	echo "$out" | awk '{ print $2 }' >> "$dir/gap"
	wait "$lp" 2>/dev/null
	start_member "$l"
	wait_ready
	i=$((i + 1))
done
echo "leader killed: ms to the next acknowledged change (worst client):" \
    "$(median < "$dir/gap") (runs: $(tr '\n' ' ' < "$dir/gap"))"

fi

# ---- a tracker dies under peerd ----
if on tracker; then
: > "$dir/fo"
i=0
while [ $i -lt "$runs" ]; do
	[ $i -eq 0 ] || { start_tracker 1 -J "$url" "$dir/ti.txt" 1; sleep 1; }
	mkdir -p "$dir/p$i"
	"$pd" -f -S "$dir/p$i/sock" -d "$dir/p$i" "127.0.0.1:$(port)" \
	    "$dir/ti.txt" > "$dir/p$i.log" 2>&1 &
	ppid=$!
	pids="$pids $ppid"
	n=0
	while [ ! -S "$dir/p$i/sock" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
	"$sc" -S "$dir/p$i/sock" create_user "fo$i" pw > /dev/null || die "create_user"
	"$sc" -S "$dir/p$i/sock" login "fo$i" pw > /dev/null || die "login"
	"$sc" -S "$dir/p$i/sock" create_group "fo$i" > /dev/null || die "create_group"
	kill -9 "$tpid1"
	t0=$(ms)
	until "$sc" -S "$dir/p$i/sock" list_groups > /dev/null 2>&1; do
		[ $(($(ms) - t0)) -lt 20000 ] || die "peerd never failed over"
	done
	echo $(($(ms) - t0)) >> "$dir/fo"
	kill "$ppid"
	wait "$tpid1" 2>/dev/null
	i=$((i + 1))
done
echo "tracker killed: ms to peerd's next answered command: $(median < "$dir/fo")" \
    "(runs: $(tr '\n' ' ' < "$dir/fo"))"
fi
echo "goals: changes >= 5000/s; etcd reads >= 0.8x file reads at depth 1;" \
    "leader and tracker death <= 1000 ms"
