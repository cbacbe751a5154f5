#!/bin/sh
# Flash crowd: 1 seeder + CROWD_LEECHERS leechers starting together, in
# p2pshare (trackerd + peerd) and aria2 BitTorrent (opentracker + aria2c) in
# the same run; seeder capped (libpace.so) and uncapped; medians of runs.
#
# CROWD_MODES="capped uncapped"  CROWD_RUNS=3  CROWD_LEECHERS=8
# CROWD_MB=64 (capped)  CROWD_UNCAPPED_MB=256  CROWD_RATE=25000000 (B/s)
# CROWD_TIMEOUT=600 (s per crowd)  BENCH_KEEP=1 keeps the temp dir
set -u
me=crowd
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/bench/bench_lib.sh"

modes=${CROWD_MODES:-capped uncapped}
runs=${CROWD_RUNS:-3}
nl=${CROWD_LEECHERS:-8}
rate=${CROWD_RATE:-25000000}
tmo=${CROWD_TIMEOUT:-600}
need_tools

# all_done D PREFIX: every leecher 1..nl wrote D/PREFIXi.done
all_done() {
	_i=1
	while [ $_i -le "$nl" ]; do
		[ -f "$1/$2$_i.fail" ] && die "$2$_i: download failed ($1)"
		[ -f "$1/$2$_i.done" ] || return 1
		_i=$((_i + 1))
	done
}

# finish D PREFIX SYS T0 OUTFMT: wait for the crowd, then record for SYS
# (p2p, a2): time to the last leecher, the seeder's and the leechers'
# uploads, counted by the shim the moment the last one finished; leecher
# i's copy (printf OUTFMT i) must equal the file
finish() {
	wait_until $((tmo * 10)) all_done "$1" "$2" || die "$3: crowd not done in ${tmo}s"
	_up="$(counted "$1/${2}0.sent")"
	_l=""; _i=1; _last=0
	while [ $_i -le "$nl" ]; do
		_l="$_l $(counted "$1/$2$_i.sent")"
		_last=$(awk -v a="$_last" -v b="$(cat "$1/$2$_i.done")" \
		    'BEGIN { print (b > a) ? b : a }')
		_i=$((_i + 1))
	done
	elapsed "$4" "$_last" >> "$out/$3.t"
	echo "$_up" >> "$out/$3.seed"
	echo "$_l" >> "$out/$3.leech"
	_i=1
	while [ $_i -le "$nl" ]; do
		# shellcheck disable=SC2059
		cmp -s "$f" "$(printf "$5" $_i)" || die "$3: leecher $_i got other bytes"
		_i=$((_i + 1))
	done
}

# p2p_crowd D SEEDRATE: trackerd, a seeder and nl leechers in D
p2p_crowd() {
	mkdir -p "$1"
	p2p_tracker "$1"
	p2p_peer "$1" 0 "$2"
	S "$1" 0 create_user seed pw
	S "$1" 0 login seed pw
	S "$1" 0 create_group crowd
	S "$1" 0 upload_file "$f" crowd
	i=1
	while [ $i -le "$nl" ]; do
		p2p_peer "$1" $i 0
		p2p_member "$1" $i "leech$i" crowd
		mkdir -p "$1/dl$i"
		i=$((i + 1))
	done
	waiters=""
	t0=$(now)
	i=1
	while [ $i -le "$nl" ]; do	# all at once, like the aria2c leechers
		p2p_fetch "$1" $i crowd file.bin "$1/dl$i"
		waiters="$waiters $pid"
		i=$((i + 1))
	done
	finish "$1" p p2p "$t0" "$1/dl%d/file.bin"
	for w in $waiters; do wait "$w"; done
	stop_all
	p2p_reread "$1"/p[1-9]*.log >> "$out/p2p.reread"
	rm -rf "$1"
}

# a2_crowd D SEEDRATE: opentracker, an aria2c seeder and nl aria2c leechers
a2_crowd() {
	mkdir -p "$1/a0"
	ln "$f" "$1/a0/file.bin" 2>/dev/null || cp "$f" "$1/a0/file.bin"
	a2_torrent "$1" "$f"
	a2_tracker "$1"
	a2_hook "$1"
	a2_seed "$1" 0 "$2"
	wait_until 100 a2_has_seeders 1 || die "aria2c seeder never announced ($1/a0.log)"
	t0=$(now)
	i=1
	while [ $i -le "$nl" ]; do
		a2_leech "$1" $i 0
		i=$((i + 1))
	done
	finish "$1" a a2 "$t0" "$1/a%d/file.bin"
	stop_all
	a2_reported "$1" 0 >> "$out/a2.seed_own"
	rm -rf "$1"
}

# mode NAME SEEDRATE MIB: the runs of one mode, then its summary
mode() {
	out="$dir/$1"
	mkdir -p "$out"
	f="$dir/file.bin"
	make_file "$f" "$3"
	load0=$(load)
	r=1
	while [ "$r" -le "$runs" ]; do	# alternate who goes first
		if [ $((r % 2)) -eq 1 ]; then
			p2p_crowd "$dir/run" "$2"; a2_crowd "$dir/run" "$2"
		else
			a2_crowd "$dir/run" "$2"; p2p_crowd "$dir/run" "$2"
		fi
		r=$((r + 1))
	done
	summary "$1" "$2" "$3"
	rm -f "$f"
}

# per_run SYS: one line per run: time, seeder upload, leecher uploads
# (MiB), and everything sent against the nl copies the leechers needed
per_run() {
	paste -d ' ' "$out/$1.t" "$out/$1.seed" "$out/$1.leech" |
	    awk -v sys="$1" -v need="$(($2 * 1048576 * nl))" '{
		printf "    %-4s run %d: %7.3f s  seeder %7.1f MiB  leechers", sys, NR, $1, $2 / 1048576
		t = 0
		for (i = 3; i <= NF; i++) { printf " %.0f", $i / 1048576; t += $i }
		printf " (sum %.1f); all sent %.2fx needed\n", t / 1048576, ($2 + t) / need
	}'
}

summary() {
	if [ "$2" = 0 ]; then cap="uncapped"; else cap="seeder upload capped at $2 B/s"; fi
	tp=$(median < "$out/p2p.t"); ta=$(median < "$out/a2.t")
	sp=$(median < "$out/p2p.seed"); sa=$(median < "$out/a2.seed")
	awk -v l="$nl" -v mb="$3" -v cap="$cap" -v runs="$runs" -v tp="$tp" -v ta="$ta" \
	    -v sp="$sp" -v sa="$sa" -v mode="$1" -v load0="$load0" -v load1="$(load)" \
	    -v rate="$2" 'BEGIN {
		file = mb * 1048576
		printf "crowd %s: %d MiB, 1 seeder + %d leechers, %s, median of %d runs (load average before: %s, after: %s)\n", mode, mb, l, cap, runs, load0, load1
		printf "  p2pshare: last leecher done %7.3f s; seeder uploaded %7.1f MiB = %.2fx the file\n", tp, sp / 1048576, sp / file
		printf "  aria2:    last leecher done %7.3f s; seeder uploaded %7.1f MiB = %.2fx the file\n", ta, sa / 1048576, sa / file
		printf "  p2pshare/aria2: time %.2f (capped goal <= 0.67, uncapped <= 0.5), seeder upload %.2f (goal: p2pshare seeder <= 1.5x the file)\n", tp / ta, sp / sa
		if (cap != "uncapped")
			printf "  at the cap: the file once %.2f s, the seeder alone serving all %d copies %.2f s\n", file / rate, l, file * l / rate
	}'
	per_run p2p "$3"
	per_run a2 "$3"
	paste -d ' ' "$out/p2p.t" "$out/a2.t" | awk '{ print $1 / $2 }' > "$out/ratio"
	echo "    p2pshare/aria2 time run by run (same-run pairs): $(awk '{ printf "%.2f ", $1 }' "$out/ratio")-> median $(median < "$out/ratio" | xargs printf "%.2f")"
	echo "    aria2 seeder's own summary of its upload: $(tr '\n' ' ' < "$out/a2.seed_own")"
	echo "    p2pshare whole-file SHA-1, pieces read back over all leechers, run by run (from the disk / the page cache):" \
	    "$(awk '{ printf "%d / %d of %d ", $1, $2, $3 }' "$out/p2p.reread")"
}

for m in $modes; do
	case $m in
	capped)		mode capped "$rate" "${CROWD_MB:-64}" ;;
	uncapped)	mode uncapped 0 "${CROWD_UNCAPPED_MB:-256}" ;;
	*)		die "unknown mode $m (capped, uncapped)" ;;
	esac
done
