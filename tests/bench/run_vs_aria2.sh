#!/bin/sh
# One leecher, three seeders, VS_MB (1 GiB): a p2pshare leecher (trackerd +
# 3 peerd seeders) against an aria2c leecher (opentracker + 3 aria2c
# seeders) in the same run: MB/s, peak RSS and CPU seconds, medians; and
# openssl dgst -sha1 of the file, the floor of the two SHA-1 passes.
#
# VS_MB=1024  VS_RUNS=3  VS_TIMEOUT=600 (s per download)  BENCH_KEEP=1
set -u
me=vs-aria2
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/bench/bench_lib.sh"

size_mb=${VS_MB:-1024}
runs=${VS_RUNS:-3}
tmo=${VS_TIMEOUT:-600}
need_tools
f="$dir/file.bin"
make_file "$f" "$size_mb"
P="$dir/p2p"
A="$dir/a2"
mkdir -p "$P" "$A"

# record SYS T0 T1 PID CPU0: one run's time, the leecher's peak RSS (KiB)
# and the CPU seconds it spent since CPU0
record() {
	elapsed "$2" "$3" >> "$dir/$1.t"
	hwm_kib "$4" >> "$dir/$1.rss"
	awk -v a="$5" -v b="$(cpu_s "$4")" 'BEGIN { printf "%.2f\n", b - a }' >> "$dir/$1.cpu"
}

p2p_setup() {	# peers 0, 1, 2; peer 0 owns the group
	p2p_tracker "$P"
	for i in 0 1 2; do
		p2p_peer "$P" $i none
		S "$P" $i create_user "seed$i" pw
		S "$P" $i login "seed$i" pw
	done
	S "$P" 0 create_group bench
	for i in 1 2; do
		S "$P" $i join_group bench
		S "$P" 0 accept_request bench "seed$i"
	done
	for i in 0 1 2; do S "$P" $i upload_file "$f" bench; done
}

p2p_run() {	# r
	n=l$1
	p2p_peer "$P" "$n" none
	lpid=$pid
	p2p_member "$P" "$n" "leech$1" bench
	mkdir -p "$P/out"
	c0=$(cpu_s "$lpid")
	k0=$(cpu_ticks)
	t0=$(now)
	S "$P" "$n" download_file bench file.bin "$P/out"
	S "$P" "$n" wait bench file.bin
	t1=$(now)
	busy_pct "$k0" "$(cpu_ticks)" >> "$dir/p2p.busy"
	record p2p "$t0" "$t1" "$lpid" "$c0"
	p2p_reread "$P/p$n.log" >> "$dir/p2p.reread"
	cmp -s "$f" "$P/out/file.bin" || die "p2pshare run $1: downloaded file differs"
	S "$P" "$n" logout
	stop_pid "$lpid"
	rm -rf "$P/out" "$P/p$n"
}

a2_setup() {
	a2_torrent "$A" "$f"
	a2_tracker "$A"
	a2_hook "$A"
	for i in 1 2 3; do
		mkdir -p "$A/a$i"
		ln "$f" "$A/a$i/file.bin" 2>/dev/null || cp "$f" "$A/a$i/file.bin"
		a2_seed "$A" $i none
	done
	wait_until 100 a2_has_seeders 3 || die "aria2c seeders never announced ($A)"
}

a2_run() {	# r
	rm -rf "$A/a0" "$A/a0.done"
	k0=$(cpu_ticks)
	t0=$(now)
	a2_leech "$A" 0 none
	lpid=$pid
	wait_until $((tmo * 10)) test -f "$A/a0.done" || die "aria2c run $1: not done in ${tmo}s"
	busy_pct "$k0" "$(cpu_ticks)" >> "$dir/a2.busy"
	record a2 "$t0" "$(cat "$A/a0.done")" "$lpid" 0
	cmp -s "$f" "$A/a0/file.bin" || die "aria2 run $1: downloaded file differs"
	stop_pid "$lpid"
}

p2p_setup
a2_setup
load0=$(load)
r=1
while [ $r -le "$runs" ]; do	# alternate who goes first
	if [ $((r % 2)) -eq 1 ]; then p2p_run $r; a2_run $r; else a2_run $r; p2p_run $r; fi
	t0=$(now); openssl dgst -sha1 "$f" > /dev/null; t1=$(now)
	elapsed "$t0" "$t1" >> "$dir/sha1.t"
	r=$((r + 1))
done

line() {	# SYS LABEL
	awk -v b="$((size_mb * 1048576))" -v t="$(median < "$dir/$1.t")" \
	    -v rss="$(median < "$dir/$1.rss")" -v cpu="$(median < "$dir/$1.cpu")" \
	    -v all="$(tr '\n' ' ' < "$dir/$1.t")" -v l="$2" 'BEGIN {
		printf "  %-17s %7.3f s %7.1f MB/s  peak RSS %6.1f MiB  CPU %5.2f s  (runs: %ss)\n",
		    l, t, b / t / 1e6, rss / 1024, cpu, all
	}'
	echo "    machine CPU busy during the runs (all processes, ${ncpu} cores): $(tr '\n' ' ' < "$dir/$1.busy")%"
}
ncpu=$(getconf _NPROCESSORS_ONLN)
echo "vs aria2: $size_mb MiB, 3 seeders, 1 leecher, median of $runs runs" \
    "(load average before: $load0, after: $(load))"
line p2p "p2pshare leecher:"
line a2 "aria2c leecher:"
paste -d ' ' "$dir/a2.t" "$dir/p2p.t" | awk '{ print $1 / $2 }' > "$dir/ratio"
echo "  p2pshare/aria2 run by run (same-run pairs): $(awk '{ printf "%.2f ", $1 }' "$dir/ratio")-> median $(median < "$dir/ratio" | xargs printf "%.2f")"
echo "  p2pshare whole-file SHA-1, pieces read back, run by run (from the disk / the page cache):" \
    "$(awk '{ printf "%d / %d of %d  ", $1, $2, $3 }' "$dir/p2p.reread")"
# the floor: a verified download hashes every byte twice, each piece and
# then the whole file; at best both passes run side by side on two cores
awk -v s="$(median < "$dir/sha1.t")" -v a="$(median < "$dir/a2.t")" 'BEGIN {
	printf "  SHA-1 floor: openssl dgst -sha1 of the file %.3f s, so two passes %.3f s of CPU (%.3f s on 2 cores); 5x aria2 is %.3f s\n",
	    s, 2 * s, s, a / 5
}'
awk -v p="$(median < "$dir/p2p.t")" -v a="$(median < "$dir/a2.t")" \
    -v rss="$(median < "$dir/p2p.rss")" 'BEGIN {
	printf "  p2pshare/aria2 throughput: %.2fx (goal >= 5); p2pshare leecher RSS %.1f MiB (goal <= 32)\n",
	    a / p, rss / 1024
}'
