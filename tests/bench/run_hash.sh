#!/bin/sh
# upload_file hashing benchmark: peerd's hash_file_async on a 1 GiB random
# file against `openssl dgst -sha1` on the same (cached) file; medians.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/tests/bench/hash"
size_mb=${HASH_BENCH_MB:-1024}
runs=${HASH_BENCH_RUNS:-5}
dir=$(mktemp -d /tmp/p2p-hash.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
f="$dir/file.bin"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$f"
cat "$f" > /dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: > "$dir/ossl"; : > "$dir/ours"
i=0
while [ "$i" -lt "$runs" ]; do
	t0=$(now); want=$(openssl dgst -sha1 "$f" | awk '{ print $NF }'); t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >> "$dir/ossl"
	out=$("$bin" "$f")
	echo "$out" | awk '{ print $1 }' >> "$dir/ours"
	got=$(echo "$out" | awk '{ print $2 }')
	[ "$got" = "$want" ] || { echo "hash mismatch: $got != $want" >&2; exit 1; }
	i=$((i + 1))
done
o=$(median < "$dir/ossl"); u=$(median < "$dir/ours")
printf 'hash %d MiB: openssl dgst -sha1 %.3f s, upload_file hashing %.3f s, ratio %.2f (goal <= 1.10)\n' \
    "$size_mb" "$o" "$u" "$(awk -v a="$u" -v b="$o" 'BEGIN { print a / b }')"

# A download's piece checks (sha1mb, from memory) beside libcrypto one
# piece at a time, same run; openssl dgst's median above includes reading
# the cached file.
: > "$dir/mb"; : > "$dir/one"; : > "$dir/whole"; : > "$dir/shared"
i=0
while [ "$i" -lt "$runs" ]; do
	out=$("$bin" -p "$f")
	echo "$out" | awk '{ print $1 }' >> "$dir/mb"
	echo "$out" | awk '{ print $2 }' >> "$dir/one"
	echo "$out" | awk '{ print $4 }' >> "$dir/whole"
	echo "$out" | awk '{ print $5 }' >> "$dir/shared"
	lanes=$(echo "$out" | awk '{ print $3 }')
	ni=$(echo "$out" | awk '{ print $6 }')
	i=$((i + 1))
done
m=$(median < "$dir/mb"); s1=$(median < "$dir/one")
printf 'piece checks %d MiB (%s lanes): %.3f s, libcrypto one piece at a time %.3f s (%.2fx), openssl dgst -sha1 %.3f s (%.2fx)\n' \
    "$size_mb" "$lanes" "$m" "$s1" "$(awk -v a="$s1" -v b="$m" 'BEGIN { print a / b }')" \
    "$o" "$(awk -v a="$o" -v b="$m" 'BEGIN { print a / b }')"
# The whole-file digest alone, and with every piece's own digest from the
# same pass (shared on CPUs with the SHA instructions), beside the digest
# plus separate piece checks.
w=$(median < "$dir/whole"); sh=$(median < "$dir/shared")
printf 'whole-file digest with piece checks in one pass (%s): %.3f s; the digest alone %.3f s (%.2fx of it); the digest then sha1mb %.3f s\n' \
    "$([ "$ni" = 1 ] && echo shared || echo "not shared: no SHA instructions")" \
    "$sh" "$w" "$(awk -v a="$sh" -v b="$w" 'BEGIN { print a / b }')" \
    "$(awk -v a="$w" -v b="$m" 'BEGIN { print a + b }')"
