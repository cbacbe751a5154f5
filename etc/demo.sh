#!/bin/sh
# make demo (or sh /usr/local/share/doc/p2pshare/demo.sh once installed): a
# whole p2pshare swarm on 127.0.0.1 in a temporary directory:
# 2 trackers, 3 peers, a 50 MiB file shared by two and fetched by the third.
set -eu

# The programs: those built in the source tree when run from it (make
# demo), else the installed ones.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$ROOT/trackerd/trackerd" ] && [ -x "$ROOT/peerd/peerd" ]; then
	TRACKERD=$ROOT/trackerd/trackerd
	PEERD=$ROOT/peerd/peerd
	SHARECTL=$ROOT/sharectl/sharectl
else
	TRACKERD=/usr/local/sbin/trackerd
	PEERD=/usr/local/bin/peerd
	SHARECTL=/usr/local/bin/sharectl
fi
for prog in "$TRACKERD" "$PEERD" "$SHARECTL"; do
	if [ ! -x "$prog" ]; then
		echo "demo: $prog not found: run make first (or make install)" >&2
		exit 1
	fi
done
DIR=$(mktemp -d "${TMPDIR:-/tmp}/p2pshare-demo.XXXXXX")
PIDS=""

say() {
	printf '\n== %s\n' "$*"
}

# Stop everything we started, by PID, with a bounded wait, then clean up.
cleanup() {
	status=$?
	trap - EXIT INT TERM
	for pid in $PIDS; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $PIDS; do
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ $status -ne 0 ]; then
		echo "demo failed; the daemons' logs:" >&2
		tail -n 5 "$DIR"/*.log >&2 2>/dev/null || true
	fi
	rm -rf "$DIR"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports nobody listens on (per /proc/net/tcp), above a random start.
used_ports() {
	awk 'FNR > 1 { split($2, a, ":"); if (a[2] != "") print a[2] }' \
	    /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    while read -r hex; do printf '%d\n' "0x$hex"; done
}
USED=$(used_ports)
NEXT=$((20000 + $$ % 30000))
free_port() {
	while echo "$USED" | grep -qx "$NEXT"; do
		NEXT=$((NEXT + 1))
	done
	PORT=$NEXT
	NEXT=$((NEXT + 1))
}

wait_for() {	# wait_for DESCRIPTION TEST...: up to 10 s
	what=$1
	shift
	n=0
	until "$@"; do
		n=$((n + 1))
		if [ $n -gt 100 ]; then
			echo "demo: $what did not come up" >&2
			exit 1
		fi
		sleep 0.1
	done
}

listening() {	# listening PORT
	hex=$(printf '%04X' "$1")
	grep -q ":$hex 00000000:0000 0A" /proc/net/tcp
}

ctl() {		# ctl PEER COMMAND...: sharectl on that peer's socket
	peer=$1
	shift
	echo "\$ sharectl $*   # on peer $peer"
	"$SHARECTL" -S "$DIR/peer$peer.sock" "$@"
}

free_port; T1=$PORT
free_port; T2=$PORT
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$T1" "$T2" > "$DIR/tracker_info.txt"

say "starting tracker 1 on 127.0.0.1:$T1 and tracker 2 on 127.0.0.1:$T2, sharing one journal"
# -k 100000: PBKDF2 at 100,000 iterations instead of the default 600,000,
# only to keep the demo's logins snappy.
for n in 1 2; do
	"$TRACKERD" -f -k 100000 -w 2 -l "$DIR/sync_log.txt" \
	    "$DIR/tracker_info.txt" $n 2>"$DIR/trackerd$n.log" &
	PIDS="$PIDS $!"
done
wait_for "tracker 1" listening "$T1"
wait_for "tracker 2" listening "$T2"

say "starting three peers (alice, bob, carol), each with its own socket and state directory"
for n in 1 2 3; do
	free_port
	"$PEERD" -f -S "$DIR/peer$n.sock" -d "$DIR/state$n" "127.0.0.1:$PORT" \
	    "$DIR/tracker_info.txt" 2>"$DIR/peerd$n.log" &
	PIDS="$PIDS $!"
	echo "peer $n: peerd on 127.0.0.1:$PORT, control socket $DIR/peer$n.sock"
done
for n in 1 2 3; do
	wait_for "peer $n" test -S "$DIR/peer$n.sock"
done

say "creating users and logging each peer in"
ctl 1 create_user alice alice-pw
ctl 2 create_user bob bob-pw
ctl 3 create_user carol carol-pw
ctl 1 login alice alice-pw
ctl 2 login bob bob-pw
ctl 3 login carol carol-pw

say "alice creates group 'demo'; bob and carol ask to join; alice accepts them"
ctl 1 create_group demo
ctl 2 join_group demo
ctl 3 join_group demo
ctl 1 list_requests demo
ctl 1 accept_request demo bob
ctl 1 accept_request demo carol
ctl 3 list_groups

say "generating a 50 MiB file; alice and bob both share a copy of it"
mkdir -p "$DIR/alice" "$DIR/bob" "$DIR/carol-downloads"
head -c 52428800 /dev/urandom > "$DIR/alice/movie.bin"
cp "$DIR/alice/movie.bin" "$DIR/bob/movie.bin"
ctl 1 upload_file "$DIR/alice/movie.bin" demo
ctl 2 upload_file "$DIR/bob/movie.bin" demo
ctl 3 list_files demo

say "carol downloads it from both seeders and waits for it (progress on a terminal)"
ctl 3 download_file demo movie.bin "$DIR/carol-downloads"
ctl 3 wait demo movie.bin

say "carol's downloads"
ctl 3 show_downloads
ctl 3 -j show_downloads

say "checksums of the original and of carol's copy"
sha1sum "$DIR/alice/movie.bin" "$DIR/carol-downloads/movie.bin"
a=$(sha1sum < "$DIR/alice/movie.bin")
b=$(sha1sum < "$DIR/carol-downloads/movie.bin")
if [ "$a" != "$b" ]; then
	echo "demo: the copies differ!" >&2
	exit 1
fi
echo "identical: carol's copy is verified"

say "stopping the peers and trackers, removing $DIR"
