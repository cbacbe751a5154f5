/* Unit tests for peerd/sha1ni: the streamed SHA-1 equals libcrypto's for
 * any split of the message, and one pass over a piece gives the piece's
 * own SHA-1 as well, on the SHA instructions and without them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/sha1ni.h"

#define MAXLEN	(3 * 65536 + 77)

static uint8_t	*mem;

static void
fill(void)
{
	size_t	i;

	srandom(11);
	cr_assert_not_null(mem = malloc(MAXLEN));
	for (i = 0; i < MAXLEN; i++)
		mem[i] = (uint8_t)random();
}

static void
drain(void)
{
	free(mem);
}

/* The first len bytes fed in chunks of step (the last shorter), with
 * update_digest when digest is set; each chunk's own SHA-1 and the whole
 * compared with libcrypto's. */
static void
check(int ni, size_t len, size_t step, int digest)
{
	struct sha1_stream	s;
	uint8_t			got[SHA1_LEN], want[SHA1_LEN];
	size_t			off, n;

	sha1_stream_init(&s, ni);
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		if (!digest) {
			sha1_stream_update(&s, mem + off, n);
			continue;
		}
		memset(got, 0, sizeof(got));
		sha1_stream_update_digest(&s, mem + off, n, got);
		SHA1(mem + off, n, want);
		cr_assert_arr_eq(got, want, SHA1_LEN, "ni %d: chunk at %zu "
		    "(%zu bytes) of %zu in steps of %zu", ni, off, n, len,
		    step);
	}
	memset(got, 0, sizeof(got));
	sha1_stream_final(&s, got);
	SHA1(mem, len, want);
	cr_assert_arr_eq(got, want, SHA1_LEN, "ni %d: %zu bytes in steps of "
	    "%zu, digest %d", ni, len, step, digest);
}

TestSuite(sha1ni, .init = fill, .fini = drain);

Test(sha1ni, lengths_around_the_padding)
{
	static const size_t	lens[] = { 0, 1, 3, 55, 56, 57, 63, 64, 65,
				    119, 120, 127, 128, 129, 1000, 4095 };
	size_t			i;
	int			ni;

	for (ni = 0; ni <= 1; ni++)
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			check(ni, lens[i], MAXLEN, 0);
			check(ni, lens[i], MAXLEN, 1);
		}
}

Test(sha1ni, any_split_of_the_stream)
{
	static const size_t	steps[] = { 1, 7, 63, 64, 65, 1000, 4096 };
	size_t			i;
	int			ni;

	for (ni = 0; ni <= 1; ni++)
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			check(ni, 20000 + i, steps[i], 0);
}

/* Pieces as a download has them: whole blocks, the last one short; and
 * the stream off a block boundary, where the two passes are separate. */
Test(sha1ni, pieces_digested_in_the_same_pass)
{
	int	ni;

	for (ni = 0; ni <= 1; ni++) {
		check(ni, MAXLEN, 65536, 1);
		check(ni, 65536 * 3, 65536, 1);
		check(ni, 5000, 640, 1);
		check(ni, 5000, 100, 1);
		check(ni, MAXLEN, 4097, 1);
	}
}

Test(sha1ni, stream_state_copied_and_restored)
{
	struct sha1_stream	s, saved;
	uint8_t			got[SHA1_LEN], want[SHA1_LEN], md[SHA1_LEN];

	/* as a download takes back a piece that failed its check */
	sha1_stream_init(&s, 1);
	sha1_stream_update_digest(&s, mem, 4096, md);
	saved = s;
	sha1_stream_update_digest(&s, mem + 8192, 4096, md);
	s = saved;
	sha1_stream_update_digest(&s, mem + 4096, 4096, md);
	sha1_stream_final(&s, got);
	SHA1(mem, 8192, want);
	cr_assert_arr_eq(got, want, SHA1_LEN);
}

/* 1 when the kernel lists flag for the CPU */
static int
cpuinfo_has(const char *flag)
{
	char	 line[4096], *tok, *save;
	FILE	*f;
	int	 has = 0;

	cr_assert_not_null(f = fopen("/proc/cpuinfo", "r"));
	while (!has && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (tok = strtok_r(line, " \t\n", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t\n", &save))
			if (strcmp(tok, flag) == 0)
				has = 1;
		break;
	}
	fclose(f);
	return has;
}

Test(sha1ni, instructions_reported)
{
	struct sha1_stream	s;

	sha1_stream_init(&s, 1);
	cr_assert_eq(s.ni, sha1_stream_shared());
	cr_assert_eq(sha1_stream_shared(), cpuinfo_has("sha_ni"));
	sha1_stream_init(&s, 0);
	cr_assert_eq(s.ni, 0);
}
