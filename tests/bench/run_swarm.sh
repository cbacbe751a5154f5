#!/bin/sh
# Swarm benchmark: a random file (1 GiB), 2 trackers, 3 seeders, 1 leecher
# on loopback; the verified download against the transfer ceiling (one TCP
# connection, sendfile -> recv+write, no hashing) and openssl dgst -sha1.
# Everything runs in a temporary directory and is stopped by PID.
set -u
me=run_swarm
root=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_KEEP=${BENCH_KEEP:-${SWARM_KEEP:-}}
. "$root/tests/bench/bench_lib.sh"
size_mb=${SWARM_MB:-1024}
runs=${SWARM_RUNS:-3}

f="$dir/file.bin"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$f"
cat "$f" > /dev/null
bytes=$((size_mb * 1024 * 1024))

# References, measured in this run.
: > "$dir/t_ossl"; : > "$dir/t_ceil"
i=0
while [ $i -lt "$runs" ]; do
	t0=$(now); openssl dgst -sha1 "$f" > /dev/null; t1=$(now)
	elapsed "$t0" "$t1" >> "$dir/t_ossl"
	: > "$dir/xs.out"
	launch none "" "$xfer" send "$f" > "$dir/xs.out"
	xs=$pid
	wait_until 100 test -s "$dir/xs.out" || die "xfer send failed"
	port=$(cat "$dir/xs.out")
	rm -f "$dir/ceil.bin"
	t0=$(now); "$xfer" recv "$port" "$dir/ceil.bin" || die "xfer recv"; t1=$(now)
	stop_pid "$xs"	# it has sent all: the receiver saw it close
	elapsed "$t0" "$t1" >> "$dir/t_ceil"
	rm -f "$dir/ceil.bin"
	i=$((i + 1))
done

# Two trackers sharing one journal.
p1=$("$xfer" port); p2=$("$xfer" port)
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$p1" "$p2" > "$dir/trackers.txt"
for n in 1 2; do
	launch none "" "$tk" -f -k 1000 -w 2 -o signups=0 -l "$dir/sync_log.txt" \
	    -p "$dir/t$n.pid" "$dir/trackers.txt" $n > "$dir/t$n.log" 2>&1
done
wait_until 100 listening "$p1" && wait_until 100 listening "$p2" ||
    die "trackerd did not start ($dir/t1.log, $dir/t2.log)"

spids=""
for n in 1 2 3; do
	p2p_peer "$dir" $n none
	spids="$spids $pid"
	S "$dir" $n create_user "seed$n" pw
	S "$dir" $n login "seed$n" pw
done
S "$dir" 1 create_group bench
for n in 2 3; do
	S "$dir" $n join_group bench
	S "$dir" 1 accept_request bench "seed$n"
done
: > "$dir/t_up"
t0=$(now); S "$dir" 1 upload_file "$f" bench; t1=$(now)
elapsed "$t0" "$t1" >> "$dir/t_up"
S "$dir" 2 upload_file "$f" bench
S "$dir" 3 upload_file "$f" bench

: > "$dir/t_dl"; : > "$dir/rss"; : > "$dir/cpu"; : > "$dir/scpu"
r=0
while [ $r -lt "$runs" ]; do
	n=l$r
	p2p_peer "$dir" $n none
	lpid=$pid
	S "$dir" $n create_user "leech$r" pw
	S "$dir" $n login "leech$r" pw
	S "$dir" $n join_group bench
	S "$dir" 1 accept_request bench "leech$r"
	mkdir -p "$dir/out$r"
	c0=$(cpu_s "$lpid")
	s0=0; for p in $spids; do s0=$(awk -v a="$s0" -v b="$(cpu_s "$p")" 'BEGIN { print a + b }'); done
	if [ -n "${SWARM_PERF:-}" ]; then	# profile the leecher (debugging aid)
		perf record -g -p "$lpid" -o "$SWARM_PERF" > /dev/null 2>&1 &
		perfpid=$!
		sleep 0.3
	fi
	t0=$(now)
	S "$dir" $n download_file bench file.bin "$dir/out$r"
	S "$dir" $n wait bench file.bin
	t1=$(now)
	c1=$(cpu_s "$lpid")
	s1=0; for p in $spids; do s1=$(awk -v a="$s1" -v b="$(cpu_s "$p")" 'BEGIN { print a + b }'); done
	awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f\n", b - a }' >> "$dir/scpu"
	[ -n "${SWARM_PERF:-}" ] && kill -INT "$perfpid" && wait "$perfpid"
	cmp -s "$f" "$dir/out$r/file.bin" || die "run $r: downloaded file differs"
	elapsed "$t0" "$t1" >> "$dir/t_dl"
	hwm_kib "$lpid" >> "$dir/rss"
	awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f\n", b - a }' >> "$dir/cpu"
	S "$dir" $n logout
	stop_pid "$lpid"
	[ -n "${SWARM_KEEP:-}" ] && grep -h complete "$dir/p$n.log" >&2
	rm -rf "$dir/out$r"
	r=$((r + 1))
done

t_ossl=$(median < "$dir/t_ossl"); t_ceil=$(median < "$dir/t_ceil")
t_dl=$(median < "$dir/t_dl"); rss=$(median < "$dir/rss"); cpu=$(median < "$dir/cpu")
scpu=$(median < "$dir/scpu")
t_up=$(median < "$dir/t_up")
awk -v b="$bytes" -v dl="$t_dl" -v ce="$t_ceil" -v os="$t_ossl" -v up="$t_up" \
    -v rss="$rss" -v cpu="$cpu" -v scpu="$scpu" -v runs="$runs" -v all="$(tr "\n" " " < "$dir/t_dl")" 'BEGIN {
	printf "swarm: %d MiB, 2 trackers, 3 seeders, 1 leecher, median of %d runs\n", b / 1048576, runs
	printf "  download (verified): %.3f s  %.1f MB/s  (runs: %s s)\n", dl, b / dl / 1e6, all
	printf "  transfer ceiling:    %.3f s  %.1f MB/s  -> ratio %.2f (goal >= 0.85)\n", ce, b / ce / 1e6, ce / dl
	printf "  leecher peak RSS:    %.1f MiB (goal <= 32)   leecher CPU: %.2f s, seeders CPU: %.2f s\n", rss / 1024, cpu, scpu
	printf "  openssl dgst -sha1:  %.3f s; upload_file (hash + register): %.3f s -> ratio %.2f (goal <= 1.10)\n", os, up, up / os
}'
