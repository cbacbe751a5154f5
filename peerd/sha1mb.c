/* SHA-1 of up to eight buffers of one length at once: buffer i in 32-bit
 * lane i of the AVX-512VL registers; libcrypto one by one elsewhere. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "peerd/sha1mb.h"
#include "peerd/sha1pad.h"

/*
 * FIPS 180-4's SHA-1, each operation applied to eight message schedules
 * and states at once. AVX-512VL gives a rotate (vprold) and any function
 * of three inputs (vpternlogd) in one instruction each, on 256-bit
 * registers; compiled for it here only and chosen at run time.
 */
#define VECTOR_CODE	__attribute__((target("avx2,avx512f,avx512vl")))

typedef __m256i	vec;

#define ROL(x, n)	_mm256_rol_epi32((x), (n))
#define ADD(x, y)	_mm256_add_epi32((x), (y))
/* Truth tables of vpternlogd (inputs b, c, d) for the round functions. */
#define F_CHOOSE	0xca	/* b ? c : d */
#define F_PARITY	0x96	/* b ^ c ^ d */
#define F_MAJORITY	0xe8	/* at least two of b, c, d */
#define F(fn)		_mm256_ternarylogic_epi32(b, c, d, (fn))

/* Rows r[i] (eight words of lane i) become columns (word i of each lane). */
VECTOR_CODE static inline void
transpose8(vec r[8])
{
	vec	t[8], u[8];
	int	i;

	for (i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
	}
	for (i = 0; i < 8; i += 4) {
		u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
		u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
		u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
		u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
	}
	for (i = 0; i < 4; i++) {
		r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
		r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
	}
}

/* Words 0-15 of block n of every lane, big-endian, one lane per element. */
VECTOR_CODE static inline void
load_block(vec w[16], const uint8_t *const p[8], size_t n)
{
	const vec	swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4,
			    11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4,
			    11, 10, 9, 8, 15, 14, 13, 12);
	vec		lo[8], hi[8];
	int		i;

	for (i = 0; i < 8; i++) {
		lo[i] = _mm256_loadu_si256((const vec *)(p[i] + n * 64));
		hi[i] = _mm256_loadu_si256((const vec *)(p[i] + n * 64 + 32));
	}
	transpose8(lo);
	transpose8(hi);
	for (i = 0; i < 8; i++) {
		w[i] = _mm256_shuffle_epi8(lo[i], swap);
		w[i + 8] = _mm256_shuffle_epi8(hi[i], swap);
	}
}

/* One round: e takes the new word in, the five variables move along. */
#define ROUND(f, k, x) do {						\
	vec	t_ = ADD(ADD(ROL(a, 5), (f)), ADD(e, ADD((k), (x))));	\
	e = d;								\
	d = c;								\
	c = ROL(b, 30);							\
	b = a;								\
	a = t_;								\
} while (0)
/* Word i >= 16 of the schedule, kept in a ring of sixteen. */
#define SCHEDULE(i)	(w[(i) & 15] = ROL(_mm256_xor_si256(		\
	_mm256_ternarylogic_epi32(w[((i) - 3) & 15], w[((i) - 8) & 15],	\
	w[((i) - 14) & 15], F_PARITY), w[(i) & 15]), 1))

/* Feed nblocks 64-byte blocks of each lane into the states st[word][lane]. */
VECTOR_CODE static void
sha1_blocks8(uint32_t st[5][8], const uint8_t *const p[8], size_t nblocks)
{
	const vec	k0 = _mm256_set1_epi32(0x5a827999);
	const vec	k1 = _mm256_set1_epi32(0x6ed9eba1);
	const vec	k2 = _mm256_set1_epi32((int)0x8f1bbcdc);
	const vec	k3 = _mm256_set1_epi32((int)0xca62c1d6);
	vec		h[5], w[16], a, b, c, d, e;
	size_t		n;
	int		i;

	for (i = 0; i < 5; i++)
		h[i] = _mm256_loadu_si256((const vec *)st[i]);
	for (n = 0; n < nblocks; n++) {
		load_block(w, p, n);
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
#pragma GCC unroll 16
		for (i = 0; i < 16; i++)
			ROUND(F(F_CHOOSE), k0, w[i]);
#pragma GCC unroll 4
		for (; i < 20; i++)
			ROUND(F(F_CHOOSE), k0, SCHEDULE(i));
#pragma GCC unroll 20
		for (; i < 40; i++)
			ROUND(F(F_PARITY), k1, SCHEDULE(i));
#pragma GCC unroll 20
		for (; i < 60; i++)
			ROUND(F(F_MAJORITY), k2, SCHEDULE(i));
#pragma GCC unroll 20
		for (; i < 80; i++)
			ROUND(F(F_PARITY), k3, SCHEDULE(i));
		h[0] = ADD(h[0], a);
		h[1] = ADD(h[1], b);
		h[2] = ADD(h[2], c);
		h[3] = ADD(h[3], d);
		h[4] = ADD(h[4], e);
	}
	for (i = 0; i < 5; i++)
		_mm256_storeu_si256((vec *)st[i], h[i]);
}

/*
 * Eight lanes (n of them wanted; the others repeat lane 0): the whole
 * blocks straight from the buffers, then each lane's last bytes with the
 * padding (0x80, zeros, the length in bits) in one or two blocks of its own.
 */
static void
sha1_lanes(const uint8_t *const data[], size_t n, size_t len,
    uint8_t (*out)[SHA1_LEN])
{
	uint8_t		 tail[8][2 * SHA1_BLOCK];
	const uint8_t	*p[8];
	uint32_t	 st[5][8], h[5];
	size_t		 full = len / SHA1_BLOCK, tblocks = 1, i;
	int		 j, l;

	for (l = 0; l < 8; l++) {
		p[l] = data[(size_t)l < n ? (size_t)l : 0];
		for (j = 0; j < 5; j++)
			st[j][l] = sha1_iv[j];
	}
	sha1_blocks8(st, p, full);
	for (l = 0; l < 8; l++) {	/* every lane: len bytes, one count */
		tblocks = sha1_pad(tail[l], p[l] + full * SHA1_BLOCK, len);
		p[l] = tail[l];
	}
	sha1_blocks8(st, p, tblocks);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 5; j++)
			h[j] = st[j][i];
		sha1_digest(h, out[i]);
	}
}

int
sha1mb_lanes(void)
{
	/* libgcc also checks that the kernel saves the AVX-512 state */
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512vl"))
		return SHA1MB_LANES;
	return 1;
}

void
sha1mb(const uint8_t *const data[], size_t n, size_t len,
    uint8_t (*out)[SHA1_LEN])
{
	size_t	i, j, k;
	int	vector = sha1mb_lanes() > 1;

	for (i = 0; i < n; i += k) {
		k = n - i < SHA1MB_LANES ? n - i : SHA1MB_LANES;
		if (vector && k >= SHA1MB_MIN) {
			sha1_lanes(data + i, k, len, out + i);
			continue;
		}
		for (j = 0; j < k; j++)
			SHA1(data[i + j], len, out[i + j]);
	}
}
