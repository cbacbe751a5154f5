#!/bin/sh
# A hung tracker: what a sharectl command costs when the tracker peerd talks
# to is stopped (SIGSTOP) and peerd moves to the other one, for a read
# (list_groups) and a change (create_group, sent with its request id),
# against the same commands with both trackers running; medians of runs.
set -eu
me=failover
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/bench/bench_lib.sh"
runs=${FAILOVER_RUNS:-7}

for _t in "$tk" "$pd" "$sc" "$xfer"; do
	[ -x "$_t" ] || die "$_t not built (make bench)"
done

# two trackers sharing one journal, each in its own process group (the
# whole group is stopped, master and workers)
p1=$("$xfer" port); p2=$("$xfer" port)
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$p1" "$p2" > "$dir/trackers.txt"
for n in 1 2; do
	setsid "$tk" -f -k 1000 -w 2 -o signups=0 -l "$dir/sync_log.txt" \
	    "$dir/trackers.txt" "$n" > "$dir/trackerd$n.log" 2>&1 &
	track $!
	eval "tpid$n=\$!"
done
wait_until 100 listening "$p1" || die "trackerd 1 did not start"
wait_until 100 listening "$p2" || die "trackerd 2 did not start"
mkdir -p "$dir/p0"
pp=$("$xfer" port)
"$pd" -f -S "$dir/p0/sock" -d "$dir/p0" "127.0.0.1:$pp" "$dir/trackers.txt" \
    > "$dir/p0.log" 2>&1 &
track $!
wait_until 100 peer_up "$!" "$pp" "$dir/p0/sock" || die "peerd did not start"
S "$dir" 0 create_user alice pw
S "$dir" 0 login alice pw

# timed N CMD...: the seconds sharectl takes, into D/N
timed() {
	_f=$1; shift
	_t0=$(now)
	S "$dir" 0 "$@"
	elapsed "$_t0" "$(now)" >> "$dir/$_f"
}

: > "$dir/read_up"; : > "$dir/change_up"; : > "$dir/read_hung"
: > "$dir/change_hung"
cur=1	# the tracker peerd talks to
i=0
while [ "$i" -lt "$runs" ]; do
	timed read_up list_groups
	timed change_up create_group "u$i"
	for kind in read change; do
		eval "tp=\$tpid$cur"
		/bin/kill -s STOP -- "-$tp"
		if [ "$kind" = read ]; then
			timed read_hung list_groups
		else
			timed change_hung create_group "h$i"
		fi
		/bin/kill -s CONT -- "-$tp"
		cur=$((3 - cur))
	done
	i=$((i + 1))
done
# every group once, on both trackers' shared journal
groups=$(grep -c ' group [uh][0-9]* alice ' "$dir/sync_log.txt" || true)
[ "$groups" -eq $((2 * runs)) ] ||
    die "$groups groups journaled, $((2 * runs)) expected"
ru=$(median < "$dir/read_up"); cu=$(median < "$dir/change_up")
rh=$(median < "$dir/read_hung"); ch=$(median < "$dir/change_hung")
printf 'hung tracker, %d runs (load %s): list_groups %.3f s (%.3f s with it running), create_group %.3f s (%.3f s); each change journaled once\n' \
    "$runs" "$(load)" "$rh" "$ru" "$ch" "$cu"
