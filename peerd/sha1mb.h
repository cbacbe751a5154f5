/* SHA-1 of several buffers of one length at once, in the lanes of vector
 * registers when the CPU has AVX-512VL: how a download checks its pieces. */
#ifndef PEERD_SHA1MB_H
#define PEERD_SHA1MB_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/proto.h"		/* SHA1_LEN */

#define SHA1MB_LANES	8	/* buffers hashed side by side */
/*
 * Below this many buffers they are hashed one after the other: the lanes
 * cost the same whether they are full or not, and a CPU with the SHA
 * instructions hashes one buffer at about half the speed of eight lanes.
 */
#define SHA1MB_MIN	4

/* SHA1MB_LANES when the vector code runs on this CPU, else 1. */
int	sha1mb_lanes(void);
/* out[i] = SHA-1 of the len bytes at data[i], for i < n (any n). */
void	sha1mb(const uint8_t *const data[], size_t n, size_t len,
	    uint8_t (*out)[SHA1_LEN]);

#endif
