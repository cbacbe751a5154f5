# Shell helpers of the benchmarks that race p2pshare against aria2: process
# bookkeeping, timing, and starting trackerd/peerd and opentracker/aria2c.
# Sourced (not run) after the caller sets: me (script name) and root.
# Every process started here is recorded in $pids and stopped by PID.

xfer="$root/tests/bench/xfer"
shim="$root/tests/bench/libpace.so"
tk="$root/trackerd/trackerd"
pd="$root/peerd/peerd"
sc="$root/sharectl/sharectl"
dir=$(mktemp -d "/tmp/p2p-$me.XXXXXX")
pids=""

die() { echo "$me: $*" >&2; exit 1; }
now() { date +%s.%N; }
# elapsed A B [DECIMALS]: the seconds from A to B (3 decimals)
elapsed() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { printf "%." d "f\n", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# counted FILE: the bytes a shimmed process sent so far (0 before any)
counted() { [ -s "$1" ] && od -An -t u8 -N 8 "$1" | tr -d ' ' || echo 0; }
cpu_s() {	# utime+stime of a pid, in seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' \
	    "/proc/$1/stat"
}
# the load average, to judge how noisy a figure is on a shared machine
load() { cut -d ' ' -f 1-3 /proc/loadavg; }
# cpu_ticks: "BUSY TOTAL", the machine's CPU time so far in clock ticks
# (busy: neither idle nor waiting for I/O)
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
# busy_pct "B0 T0" "B1 T1": the share of CPU time in use between the two
busy_pct() { echo "$1 $2" | awk '{ printf "%.0f\n", ($4 > $2 ? 100 * ($3 - $1) / ($4 - $2) : 0) }'; }
hwm_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

# alive PID: running and not a zombie
alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# A PID is signalled only while it names the process this script started
# (same start time), never one that reused the number.
started() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'; }
track() {
	mkdir -p "$dir/.pids"
	started "$1" > "$dir/.pids/$1"
	pids="$pids $1"
}
ours() { [ -n "$(started "$1")" ] && [ "$(started "$1")" = "$(cat "$dir/.pids/$1" 2>/dev/null)" ]; }

# stop_pid PID: SIGTERM, 5 s to go, then SIGKILL; reaped and forgotten
stop_pid() {
	ours "$1" && kill "$1" 2>/dev/null
	_i=0
	while ours "$1" && alive "$1" && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
	ours "$1" && alive "$1" && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	rm -f "$dir/.pids/$1"
	pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# stop_all: every process started, all signalled first
stop_all() {
	for _p in $pids; do ours "$_p" && kill "$_p" 2>/dev/null; done
	for _p in $pids; do stop_pid "$_p"; done
	pids=""
}

# On failure the logs stay (the large files go) for a look afterwards.
bench_cleanup() {
	_rc=$?
	stop_all
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "kept $dir" >&2
	elif [ "$_rc" -ne 0 ]; then
		find "$dir" -type f -size +1M -delete
		echo "logs kept in $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

# wait_until TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times
wait_until() {
	_n=$1; shift
	while ! "$@"; do
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1; _n=$((_n - 1))
	done
}
listening() { ss -Hltn "sport = :$1" | grep -q .; }

need_tools() {
	for _t in "$xfer" "$shim" "$tk" "$pd" "$sc"; do
		[ -x "$_t" ] || [ -f "$_t" ] || die "$_t not built (make bench)"
	done
	for _t in aria2c mktorrent opentracker ss curl; do
		command -v "$_t" > /dev/null ||
		    die "$_t missing (apt-get install aria2 mktorrent opentracker iproute2 curl)"
	done
}

# make_file PATH MIB: random content, read once into the page cache
make_file() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom > "$1" || die "cannot write $1"
	cat "$1" > /dev/null
}

# launch RATE COUNTFILE CMD...: start CMD in the background under the
# pacing shim (RATE bytes/s, 0 = count only; "none": without the shim);
# its pid in $pid
launch() {
	_rate=$1 _cnt=$2; shift 2
	if [ "$_rate" = none ]; then
		"$@" &
	else
		LD_PRELOAD="$shim" PACE_BYTES_PER_SEC="$_rate" PACE_COUNT_FILE="$_cnt" "$@" &
	fi
	pid=$!
	track "$pid"
}

# ---- p2pshare ----

# p2p_tracker D [OPTION...]: one trackerd with these options besides the
# usual, its tracker list in D/trackers.txt; its pid in $pid
p2p_tracker() {
	_d=$1; shift
	_port=$("$xfer" port)
	echo "127.0.0.1:$_port" > "$_d/trackers.txt"
	# every peer makes its account from 127.0.0.1: no limit per address
	"$tk" -f -k 1000 -w 2 -o signups=0 "$@" -l "$_d/sync_log.txt" \
	    -p "$_d/trackerd.pid" "$_d/trackers.txt" 1 > "$_d/trackerd.log" 2>&1 &
	pid=$!
	track $pid
	wait_until 100 listening "$_port" || die "trackerd did not start ($_d/trackerd.log)"
}

# p2p_peer D N RATE: peerd number N (state in D/pN) under the shim; a
# port taken between choosing and binding it costs a retry on another
p2p_peer() {
	mkdir -p "$1/p$2"
	for _try in 1 2 3; do
		_port=$("$xfer" port)
		rm -f "$1/p$2/sock"
		launch "$3" "$1/p$2.sent" "$pd" -f -S "$1/p$2/sock" -d "$1/p$2" \
		    -p "$1/p$2/pid" "127.0.0.1:$_port" "$1/trackers.txt" \
		    >> "$1/p$2.log" 2>&1
		wait_until 100 peer_up "$pid" "$_port" "$1/p$2/sock"
		alive "$pid" && return 0
		stop_pid "$pid"
	done
	die "peerd $2 did not start ($1/p$2.log)"
}
# peer_up PID PORT SOCK: peerd is serving both, or has exited
peer_up() { ! alive "$1" || { listening "$2" && [ -S "$3" ]; }; }

# S D N COMMAND...: sharectl against peer N of D, failing the benchmark
S() {
	_d=$1 _n=$2; shift 2
	timeout 600 "$sc" -S "$_d/p$_n/sock" "$@" > /dev/null ||
	    die "peer $_n: sharectl $* failed ($_d/p$_n.log)"
}

# p2p_member D N USER GROUP: peer N logs in as a new USER who joins GROUP
# (owned by peer 0)
p2p_member() {
	S "$1" "$2" create_user "$3" pw
	S "$1" "$2" login "$3" pw
	S "$1" "$2" join_group "$4"
	S "$1" 0 accept_request "$4" "$3"
}

# p2p_reread LOG...: "D C N": of the N pieces the downloads in these peerd
# logs completed, D were read back from the disk for the whole-file SHA-1
# and C from the page cache (the others were hashed from memory as they
# arrived)
p2p_reread() {
	cat "$@" 2>/dev/null |
	    sed -n 's/.*; \([0-9]*\) of \([0-9]*\) hashed once in memory, \([0-9]*\) read back.*/\1 \2 \3/p' |
	    awk '{ d += $2 - $1 - $3; c += $3; n += $2 } END { printf "%d %d %d\n", d, c, n }'
}

# p2p_fetch D N GROUP FILE DEST: in the background, peer N downloads FILE
# into DEST and the time it ends goes to D/pN.done (or D/pN.fail); the
# pid of that shell in $pid
p2p_fetch() {
	(
		if timeout 900 "$sc" -S "$1/p$2/sock" download_file "$3" "$4" "$5" > /dev/null &&
		    timeout 900 "$sc" -S "$1/p$2/sock" wait "$3" "$4" > /dev/null 2>&1; then
			now > "$1/p$2.tmp" && mv "$1/p$2.tmp" "$1/p$2.done"
		else
			: > "$1/p$2.fail"
		fi
	) &
	pid=$!
}

# ---- aria2 / BitTorrent ----

# a2_torrent D FILE: D/file.torrent (512 KiB pieces, like p2pshare) for an
# opentracker on a free port; sets a2_port and a2_hash
a2_torrent() {
	a2_port=$("$xfer" port)
	mktorrent -a "http://127.0.0.1:$a2_port/announce" -l 19 \
	    -o "$1/file.torrent" "$2" > /dev/null || die "mktorrent failed"
	a2_hash=$(aria2c -S "$1/file.torrent" | awk '/^Info Hash:/ { print $3 }')
	[ ${#a2_hash} -eq 40 ] || die "no info hash from aria2c -S"
}

# a2_tracker D: opentracker on 127.0.0.1:a2_port that admits a2_hash
# (Debian builds it whitelist-only); it chroots into D
a2_tracker() {
	echo "$a2_hash" > "$1/whitelist.txt"
	printf 'access.whitelist /whitelist.txt\ntracker.rootdir %s\n' "$1" > "$1/opentracker.conf"
	opentracker -i 127.0.0.1 -p "$a2_port" -P "$a2_port" -f "$1/opentracker.conf" \
	    > "$1/opentracker.log" 2>&1 &
	track $!
	wait_until 100 listening "$a2_port" || die "opentracker did not start"
}

# a2_complete: how many complete peers opentracker knows of
a2_complete() {
	_q=$(echo "$a2_hash" | sed 's/../%&/g')
	curl -s --max-time 2 "http://127.0.0.1:$a2_port/scrape?info_hash=$_q" |
	    LC_ALL=C sed -n 's/.*8:completei\([0-9]*\)e.*/\1/p'
}
a2_has_seeders() { [ "$(a2_complete)" -ge "$1" ] 2>/dev/null; }

# The same for every aria2c: BitTorrent through the tracker and peer
# exchange only, no preallocation, every peer seeds until stopped.
A2_OPTS="--enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
--enable-peer-exchange=true --file-allocation=none --check-integrity=false \
--bt-max-peers=55 --seed-ratio=0.0 --disable-ipv6=true --summary-interval=0 \
--console-log-level=notice --auto-save-interval=0 --bt-save-metadata=false \
--stop-with-process=$$"

# a2_hook D: the completion hook: the time of completion into $A2_DONE
a2_hook() {
	cat > "$1/done.sh" <<-'EOF'
	#!/bin/sh
	date +%s.%N > "$A2_DONE.tmp" && mv "$A2_DONE.tmp" "$A2_DONE"
	EOF
	chmod +x "$1/done.sh"
}

# a2_ports: a listening port range for one aria2c. A single free port
# may be taken (by the crowd's own outgoing connections) before aria2c
# binds it, and aria2c then gives up; a range lets it take the next.
a2_ports() {
	_p=$("$xfer" port)
	[ "$_p" -gt 65500 ] && _p=65500
	echo "$_p-$((_p + 30))"
}

# a2_seed D N RATE: aria2c seeder N of D/aN/file.bin under the shim
a2_seed() {
	# shellcheck disable=SC2086
	launch "$3" "$1/a$2.sent" aria2c $A2_OPTS --bt-seed-unverified=true \
	    -d "$1/a$2" --listen-port="$(a2_ports)" "$1/file.torrent" \
	    > "$1/a$2.log" 2>&1
}

# a2_leech D N RATE: aria2c leecher N into D/aN under the shim; the time
# it completes goes to D/aN.done (needs a2_hook D)
a2_leech() {
	mkdir -p "$1/a$2"
	# shellcheck disable=SC2086
	launch "$3" "$1/a$2.sent" env A2_DONE="$1/a$2.done" aria2c $A2_OPTS \
	    --on-bt-download-complete="$1/done.sh" -d "$1/a$2" \
	    --listen-port="$(a2_ports)" "$1/file.torrent" > "$1/a$2.log" 2>&1
}

# a2_reported D N: the upload aria2c N wrote in its closing summary
a2_reported() {
	sed -n 's/.*uploaded\/downloaded=\([^/]*\)\/.*/\1/p' "$1/a$2.log" | tail -n 1
}
