#!/bin/sh
# The pacing shim (libpace.so) that the crowd benchmark relies on, checked:
# each send path at PACE_RATE for about PACE_SECS seconds, elapsed time
# against the expected one (goal within 10%), and the byte count exact.
set -u
me=pace
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/bench/bench_lib.sh"

rate=${PACE_RATE:-25000000}
secs=${PACE_SECS:-10}
check="$root/tests/bench/pace_check"
[ -f "$shim" ] && [ -x "$check" ] || die "libpace.so or pace_check not built (make bench)"
bytes=$(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%d\n", r * s }')
head -c "$bytes" /dev/urandom > "$dir/f"
fail=0

# report METHOD ELAPSED COUNTFILE
report() {
	c=$(counted "$3")
	awk -v m="$1" -v t="$2" -v b="$bytes" -v r="$rate" -v c="$c" 'BEGIN {
		want = b / r; err = (t - want) / want * 100
		printf "  %-9s %7.3f s for %.1f MB (expected %.3f s): %+.1f%%%s; counted %d of %d bytes\n",
		    m, t, b / 1e6, want, err, (err > 10 || err < -10) ? "  OUTSIDE 10%" : "", c, b
	}'
	[ "$c" = "$bytes" ] || fail=1
}

# sendfile, blocking socket (xfer send, as peerd serves pieces); sets t0 t1
sendfile_run() {	# rate countfile
	: > "$dir/port"
	launch "$1" "$2" "$xfer" send "$dir/f" > "$dir/port"
	xs=$pid
	wait_until 100 test -s "$dir/port" || die "xfer send failed"
	rm -f "$dir/out"
	t0=$(now)
	timeout $((secs * 3 + 10)) "$xfer" recv "$(cat "$dir/port")" "$dir/out" ||
	    die "xfer recv failed"
	t1=$(now)
	stop_pid "$xs"
	cmp -s "$dir/f" "$dir/out" || die "sendfile: received bytes differ"
	rm -f "$dir/out"
}

echo "pacing shim: $rate B/s, $bytes bytes per path (${secs} s expected)"
sendfile_run "$rate" "$dir/c.sendfile"
report sendfile "$(elapsed "$t0" "$t1")" "$dir/c.sendfile"
for m in send write writev sendmsg; do	# non-blocking socket, poll loop
	t=$(LD_PRELOAD="$shim" PACE_BYTES_PER_SEC=$rate PACE_COUNT_FILE="$dir/c.$m" \
	    timeout $((secs * 3 + 10)) "$check" "$m" "$bytes") || die "$m failed"
	report "$m" "$t" "$dir/c.$m"
done
# count only (rate 0): no waiting, exact count
sendfile_run 0 "$dir/c.count"
c=$(counted "$dir/c.count")
awk -v t0="$t0" -v t1="$t1" -v c="$c" -v b="$bytes" 'BEGIN {
	printf "  count only (rate 0), sendfile: %.3f s, counted %d of %d bytes\n", t1 - t0, c, b }'
[ "$c" = "$bytes" ] || fail=1
[ $fail -eq 0 ] || die "byte counts differ from bytes sent"
