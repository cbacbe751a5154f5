/* A streamed SHA-1 on the SHA instructions (libcrypto without them), and
 * one pass over a piece that feeds the stream and gives the piece's own. */
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "peerd/sha1ni.h"
#include "peerd/sha1pad.h"

/*
 * FIPS 180-4's SHA-1 with sha1rnds4 (four rounds), sha1nexte (the next
 * E) and sha1msg1/sha1msg2 (the message schedule). One block's rounds
 * are a chain of sha1rnds4, each waiting for the last, and the CPU's SHA
 * unit idles between them: a second state's chain over the same words
 * fills those gaps, and the schedule, which depends on the message only,
 * is computed once for both.
 */
#define SHA_CODE	__attribute__((target("sha,sse4.1")))

#define BLOCK		SHA1_BLOCK

/* Words 4g..4g+3 of the schedule: loaded for g < 4, then from the four
 * before (w[] holds words 4(g-4) .. 4g-1, one quad per register). */
#define LOAD(g)		(w[g] = _mm_shuffle_epi8(_mm_loadu_si128(	\
			    (const __m128i *)(p + 16 * (g))), bswap))
#define NEXT(g)		(w[(g) & 3] = _mm_sha1msg2_epu32(_mm_xor_si128(	\
			    _mm_sha1msg1_epu32(w[(g) & 3], w[((g) + 1) & 3]),	\
			    w[((g) + 2) & 3]), w[((g) + 3) & 3]))
#define WORDS(g)	((g) < 4 ? LOAD(g) : NEXT(g))

/* Rounds 4g..4g+3 of state s (abcd, its value before the last four
 * rounds in prev, e0 its E at the block's start). */
#define ROUNDS(s, g, x) do {						\
	__m128i e_ = (g) == 0 ? _mm_add_epi32(s##e0, (x)) :		\
	    _mm_sha1nexte_epu32(s##prev, (x));				\
	s##prev = s##abcd;						\
	s##abcd = _mm_sha1rnds4_epu32(s##abcd, e_, (g) / 5);		\
} while (0)

#define ONE(g)		do { __m128i x_ = WORDS(g); ROUNDS(a, g, x_); } while (0)
#define TWO(g)		do { __m128i x_ = WORDS(g);			\
			    ROUNDS(a, g, x_); ROUNDS(b, g, x_); } while (0)
#define BLOCK_ROUNDS(R)	do {						\
	R(0); R(1); R(2); R(3); R(4); R(5); R(6); R(7); R(8); R(9);	\
	R(10); R(11); R(12); R(13); R(14); R(15); R(16); R(17); R(18);	\
	R(19);								\
} while (0)

/* The state in registers: ABCD reversed in one, E in the top word of
 * the other, as the instructions take them. */
#define STATE_IN(s, h) do {						\
	s##abcd = _mm_shuffle_epi32(_mm_loadu_si128(			\
	    (const __m128i *)(h)), 0x1b);				\
	s##e = _mm_set_epi32((int)(h)[4], 0, 0, 0);			\
} while (0)
#define STATE_OUT(s, h) do {						\
	_mm_storeu_si128((__m128i *)(h), _mm_shuffle_epi32(s##abcd, 0x1b)); \
	(h)[4] = (uint32_t)_mm_extract_epi32(s##e, 3);			\
} while (0)
/* The block's start added back in: E by way of sha1nexte's rotate. */
#define STATE_ADD(s, abcd0) do {					\
	s##e = _mm_sha1nexte_epu32(s##prev, s##e0);			\
	s##abcd = _mm_add_epi32(s##abcd, (abcd0));			\
} while (0)

SHA_CODE static void
ni_blocks(uint32_t h[5], const uint8_t *p, size_t n)
{
	const __m128i	bswap = _mm_set_epi64x(0x0001020304050607LL,
			    0x08090a0b0c0d0e0fLL);
	__m128i		w[4], aabcd, ae, aprev, ae0, a0;

	STATE_IN(a, h);
	for (; n > 0; n--, p += BLOCK) {
		a0 = aabcd;
		ae0 = ae;
		BLOCK_ROUNDS(ONE);
		STATE_ADD(a, a0);
	}
	STATE_OUT(a, h);
}

/* Both states over the same n blocks. */
SHA_CODE static void
ni_blocks2(uint32_t ha[5], uint32_t hb[5], const uint8_t *p, size_t n)
{
	const __m128i	bswap = _mm_set_epi64x(0x0001020304050607LL,
			    0x08090a0b0c0d0e0fLL);
	__m128i		w[4], aabcd, ae, aprev, ae0, a0;
	__m128i		babcd, be, bprev, be0, b0;

	STATE_IN(a, ha);
	STATE_IN(b, hb);
	for (; n > 0; n--, p += BLOCK) {
		a0 = aabcd;
		ae0 = ae;
		b0 = babcd;
		be0 = be;
		BLOCK_ROUNDS(TWO);
		STATE_ADD(a, a0);
		STATE_ADD(b, b0);
	}
	STATE_OUT(a, ha);
	STATE_OUT(b, hb);
}

/* The last bytes of a message of total bytes (total % 64 at tail), the
 * padding and the length: the digest. */
static void
ni_final(uint32_t h[5], const uint8_t *tail, uint64_t total,
    uint8_t md[SHA1_LEN])
{
	uint8_t	last[2 * BLOCK];

	ni_blocks(h, last, sha1_pad(last, tail, total));
	sha1_digest(h, md);
}

int
sha1_stream_shared(void)
{
	static int	has = -1;
	unsigned	a, b, c, d;

	if (has == -1) {	/* SHA: leaf 7 EBX bit 29; SSE4.1: leaf 1 ECX bit 19 */
		has = __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
		    (b & 1U << 29) && __get_cpuid(1, &a, &b, &c, &d) &&
		    (c & 1U << 19);
	}
	return has;
}

void
sha1_stream_init(struct sha1_stream *s, int ni)
{
	memset(s, 0, sizeof(*s));
	s->ni = ni && sha1_stream_shared();
	if (s->ni)
		memcpy(s->h, sha1_iv, sizeof(s->h));
	else
		SHA1_Init(&s->ctx);
}

void
sha1_stream_update(struct sha1_stream *s, const uint8_t *p, size_t len)
{
	size_t	have, take;

	if (!s->ni) {
		SHA1_Update(&s->ctx, p, len);
		return;
	}
	have = s->bytes % BLOCK;
	s->bytes += len;
	if (have > 0) {
		take = BLOCK - have < len ? BLOCK - have : len;
		memcpy(s->part + have, p, take);
		p += take;
		len -= take;
		if (have + take < BLOCK)
			return;
		ni_blocks(s->h, s->part, 1);
	}
	ni_blocks(s->h, p, len / BLOCK);
	memcpy(s->part, p + len / BLOCK * BLOCK, len % BLOCK);
}

void
sha1_stream_final(struct sha1_stream *s, uint8_t md[SHA1_LEN])
{
	if (s->ni)
		ni_final(s->h, s->part, s->bytes, md);
	else
		SHA1_Final(md, &s->ctx);
}

void
sha1_stream_update_digest(struct sha1_stream *s, const uint8_t *data,
    size_t len, uint8_t md[SHA1_LEN])
{
	uint32_t	h[5];
	size_t		whole = len / BLOCK * BLOCK;

	if (!s->ni || s->bytes % BLOCK != 0) {
		SHA1(data, len, md);
		sha1_stream_update(s, data, len);
		return;
	}
	memcpy(h, sha1_iv, sizeof(h));
	ni_blocks2(s->h, h, data, whole / BLOCK);
	s->bytes += whole;
	ni_final(h, data + whole, len, md);
	sha1_stream_update(s, data + whole, len - whole);
}
