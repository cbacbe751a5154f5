/* What every SHA-1 block function here shares (FIPS 180-4): the initial
 * state, the padding of the last bytes and the digest's byte order. */
#ifndef PEERD_SHA1PAD_H
#define PEERD_SHA1PAD_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/proto.h"		/* SHA1_LEN */

#define SHA1_BLOCK	64

extern const uint32_t	sha1_iv[5];

/* The last total % 64 bytes of a message of total bytes (at tail) with
 * its padding (0x80, zeros, the length in bits) into out: the number of
 * blocks that makes, 1 or 2. */
size_t	sha1_pad(uint8_t out[2 * SHA1_BLOCK], const uint8_t *tail,
	    uint64_t total);
/* State h as the digest, big-endian. */
void	sha1_digest(const uint32_t h[5], uint8_t md[SHA1_LEN]);

#endif
