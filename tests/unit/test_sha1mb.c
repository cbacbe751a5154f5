/* Unit tests for peerd/sha1mb: every lane's digest equals libcrypto's, for
 * each count of buffers, for lengths around the padding's edges, for
 * unaligned buffers, and for lanes that differ in one byte only. */
#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/sha1mb.h"

#define NBUF	19		/* two full rounds of lanes and a part */
#define MAXLEN	(64 * 1024 + 200)

static uint8_t	*mem[NBUF];

static void
fill(void)
{
	size_t	i, j;

	srandom(7);
	for (i = 0; i < NBUF; i++) {
		cr_assert_not_null(mem[i] = malloc(MAXLEN + 3));
		for (j = 0; j < MAXLEN + 3; j++)
			mem[i][j] = (uint8_t)random();
	}
}

static void
drain(void)
{
	size_t	i;

	for (i = 0; i < NBUF; i++)
		free(mem[i]);
}

/* sha1mb over n buffers starting off bytes in, checked one by one. */
static void
check(size_t n, size_t len, size_t off)
{
	const uint8_t	*data[NBUF];
	uint8_t		 got[NBUF][SHA1_LEN], want[SHA1_LEN];
	size_t		 i;

	for (i = 0; i < n; i++)
		data[i] = mem[i] + off;
	memset(got, 0, sizeof(got));
	sha1mb(data, n, len, got);
	for (i = 0; i < n; i++) {
		SHA1(data[i], len, want);
		cr_assert_arr_eq(got[i], want, SHA1_LEN,
		    "buffer %zu of %zu, %zu bytes at offset %zu", i, n, len,
		    off);
	}
}

TestSuite(sha1mb, .init = fill, .fini = drain);

Test(sha1mb, every_count_of_buffers)
{
	size_t	n;

	for (n = 1; n <= NBUF; n++)
		check(n, 4096, 0);
}

Test(sha1mb, lengths_around_the_padding)
{
	static const size_t	lens[] = { 0, 1, 3, 55, 56, 57, 63, 64, 65,
				    119, 120, 127, 128, 129, 1000, 4095 };
	size_t			i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		check(SHA1MB_LANES, lens[i], 0);
		check(SHA1MB_MIN + 1, lens[i], 0);
	}
}

Test(sha1mb, unaligned_and_long)
{
	check(SHA1MB_LANES, MAXLEN, 1);
	check(SHA1MB_LANES + 3, MAXLEN - 7, 3);
}

Test(sha1mb, lanes_apart_by_one_byte)
{
	size_t	i;

	for (i = 1; i < SHA1MB_LANES; i++)
		memcpy(mem[i], mem[0], MAXLEN);
	mem[5][MAXLEN / 2] ^= 1;	/* only lane 5 differs, mid-buffer */
	check(SHA1MB_LANES, MAXLEN, 0);
}

Test(sha1mb, lanes_reported)
{
	int	l = sha1mb_lanes();

	cr_assert(l == 1 || l == SHA1MB_LANES);
	if (__builtin_cpu_supports("avx512vl"))
		cr_assert_eq(l, SHA1MB_LANES);
}
