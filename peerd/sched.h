/* The piece picker of a download: rarest first, in order among equally
 * rare pieces (at random near the front when one peer has them), and an
 * endgame that asks a second peer for pieces
 * already in flight once every missing piece is. Pure: no I/O. */
#ifndef PEERD_SCHED_H
#define PEERD_SCHED_H

#include <stdint.h>

#define SCHED_WINDOW	8	/* one peer's pieces drawn from */
#define SCHED_MAX_DUP	2	/* requests of one piece in the endgame */
#define SCHED_AHEAD	32	/* pieces after the front looked at first */

struct sched {
	uint32_t	 n;		/* pieces */
	uint32_t	 ndone;
	uint32_t	 front;		/* no missing piece before this */
	uint8_t		*have;		/* verified pieces (bitfield) */
	uint16_t	*avail;		/* peers known to have each piece */
	uint8_t		*inflight;	/* requests outstanding per piece */
	uint32_t	 idle;		/* missing and not requested at all */
	uint64_t	 rng;
};

/* have (may be NULL) is copied. Returns 0 or -1. */
int		sched_init(struct sched *, uint32_t n, const uint8_t *have,
		    uint64_t seed);
void		sched_free(struct sched *);
/* A peer's whole bitfield appears (delta 1) or goes away (delta -1). */
void		sched_peer_bits(struct sched *, const uint8_t *bits, int delta);
void		sched_peer_have(struct sched *, uint32_t i);	/* HAVE */
void		sched_peer_lost(struct sched *, uint32_t i);	/* REJECT */
/*
 * Choose a piece to request from a peer with bits peer_has that already
 * has requests out for peer_req (bitfield, may be NULL). Returns the
 * index, or -1 if this peer has nothing useful.
 */
int64_t		sched_pick(struct sched *, const uint8_t *peer_has,
		    const uint8_t *peer_req);
void		sched_requested(struct sched *, uint32_t i);
void		sched_released(struct sched *, uint32_t i);	/* answer or loss */
/* Piece i verified; returns 0, or -1 if it already was. */
int		sched_verified(struct sched *, uint32_t i);
static inline int
sched_complete(const struct sched *s)
{
	return s->ndone == s->n;
}

#endif
