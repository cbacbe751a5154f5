/* Super-seeding: which pieces a peer with the whole file advertises to each
 * downloader, so that different downloaders get different pieces from it
 * and the swarm holds a full copy as early as possible. Pure: no I/O. */
#ifndef PEERD_SPREAD_H
#define PEERD_SPREAD_H

#include <stdint.h>

#include "ipc/proto.h"

#define SPREAD_TOTAL	48	/* pieces advertised ahead, over all peers
				 * (to one of them, half at most, and half
				 * the file) */
#define SPREAD_MIN	3	/* ... and to each peer at least */
#define SPREAD_HOLD_MS	2000	/* a second copy waits for the first, at most */

struct spread;

/* One downloader of a file, as the seeder sees it. */
struct spread_peer {
	struct spread	*sp;
	uint8_t		*has;		/* pieces it told us it has */
	uint8_t		*adv;		/* pieces we advertised to it */
	uint32_t	 out;		/* advertised, not yet had */
	int		 offered;	/* we advertised it something */
};

/* Join the file's table (created on first use). 0, or -1. */
int	spread_join(struct spread_peer *, const uint8_t sha1[SHA1_LEN],
	    uint32_t npieces);
void	spread_leave(struct spread_peer *);
/* The downloader has piece i (HAVE), or every piece in bits (BITFIELD). */
void	spread_have(struct spread_peer *, uint32_t i);
void	spread_bits(struct spread_peer *, const uint8_t *bits);
/*
 * The next piece to advertise to this peer at time now (ms), marked
 * advertised, or -1 when it has enough outstanding: the pieces fewest
 * other downloaders have or were offered, in order among equals, up to its
 * share of SPREAD_TOTAL. Once every piece was offered, none is offered a
 * second time while some piece is had by no downloader, for up to
 * SPREAD_HOLD_MS, except to a downloader offered nothing yet (it came
 * late, and trades what it gets).
 */
int64_t	spread_next(struct spread_peer *, uint64_t now);

#endif
