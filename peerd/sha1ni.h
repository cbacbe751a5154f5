/* A SHA-1 fed piece by piece (a download's whole-file digest) that, on a
 * CPU with the SHA instructions, also gives a piece's own SHA-1 in the
 * same pass over its bytes. */
#ifndef PEERD_SHA1NI_H
#define PEERD_SHA1NI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#include "ipc/proto.h"		/* SHA1_LEN */

struct sha1_stream {
	int		 ni;		/* our SHA-NI blocks, else ctx */
	uint32_t	 h[5];
	uint64_t	 bytes;		/* fed so far */
	uint8_t		 part[64];	/* of a block not yet complete */
	SHA_CTX		 ctx;
};

/* 1 when this CPU has the SHA instructions (and the pass is shared). */
int	sha1_stream_shared(void);
/* ni: use the SHA instructions (ignored when the CPU lacks them). */
void	sha1_stream_init(struct sha1_stream *, int ni);
void	sha1_stream_update(struct sha1_stream *, const uint8_t *, size_t);
void	sha1_stream_final(struct sha1_stream *, uint8_t md[SHA1_LEN]);
/*
 * Feed len bytes at data and put their own SHA-1 in md. With the SHA
 * instructions, and the stream at a 64-byte boundary, both come from one
 * pass: the message schedule is the same for both, and the rounds of the
 * two states overlap in the CPU (about 1.1 times the cost of one).
 */
void	sha1_stream_update_digest(struct sha1_stream *, const uint8_t *data,
	    size_t len, uint8_t md[SHA1_LEN]);

#endif
