/* The initial state, the padding and the digest's byte order of SHA-1,
 * written once for the vector (sha1mb.c) and SHA-NI (sha1ni.c) code. */
#include <string.h>

#include "peerd/sha1pad.h"

const uint32_t	sha1_iv[5] = {
	0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
};

size_t
sha1_pad(uint8_t out[2 * SHA1_BLOCK], const uint8_t *tail, uint64_t total)
{
	size_t		ntail = total % SHA1_BLOCK;
	size_t		n = ntail < SHA1_BLOCK - 8 ? SHA1_BLOCK : 2 * SHA1_BLOCK;
	uint64_t	bits = total * 8;
	int		i;

	memset(out, 0, 2 * SHA1_BLOCK);
	memcpy(out, tail, ntail);
	out[ntail] = 0x80;
	for (i = 0; i < 8; i++)
		out[n - 1 - i] = (uint8_t)(bits >> (8 * i));
	return n / SHA1_BLOCK;
}

void
sha1_digest(const uint32_t h[5], uint8_t md[SHA1_LEN])
{
	int	i;

	for (i = 0; i < 5; i++) {
		md[4 * i] = (uint8_t)(h[i] >> 24);
		md[4 * i + 1] = (uint8_t)(h[i] >> 16);
		md[4 * i + 2] = (uint8_t)(h[i] >> 8);
		md[4 * i + 3] = (uint8_t)h[i];
	}
}
