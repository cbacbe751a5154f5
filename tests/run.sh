#!/bin/sh
# make check/unit/e2e: run Criterion binaries one after another, keep
# their own output, then print one total line summing their Synthesis lines.
# usage: sh tests/run.sh BINARY...   (exit 0 only if every binary passed)

log=$(mktemp "${TMPDIR:-/tmp}/p2pshare-check.XXXXXX") || exit 1
trap 'rm -f "$log" "$log.rc"' EXIT
trap 'exit 130' INT TERM
failed=""
nbin=0
for t in "$@"; do
	nbin=$((nbin + 1))
	echo "== $t"
	opts=""
	case $t in
	tests/e2e/*) opts="--jobs 1" ;;	# real daemons: one test at a time
	esac
	# Criterion reports on stderr; keep it streaming and keep a copy.
	{ ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "./$t" $opts 2>&1
	  echo $? > "$log.rc"; } | tee -a "$log"
	[ "$(cat "$log.rc")" = 0 ] || failed="$failed $t"
done

# "[====] Synthesis: Tested: 4 | Passing: 4 | Failing: 0 | Crashing: 0"
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk -v nbin="$nbin" -v failed="$failed" '
/Synthesis:/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "Tested:") t += $(i + 1)
		if ($i == "Passing:") p += $(i + 1)
		if ($i == "Failing:") f += $(i + 1)
		if ($i == "Crashing:") c += $(i + 1)
	}
	n++
}
END {
	printf "== Total: Tested: %d | Passing: %d | Failing: %d | Crashing: %d" \
	    " (%d test binaries%s)\n", t, p, f, c, nbin,
	    failed == "" ? ", all passed" : "; failed:" failed \
	    (n < nbin ? ", " nbin - n " without a summary" : "")
}'
[ -z "$failed" ]
