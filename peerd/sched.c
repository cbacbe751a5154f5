/* Rarest-first piece picking near the front first, in order among equally
 * rare pieces several peers have (the whole-file digest streams), at
 * random within a small window among those one peer has, and an endgame. */
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/sched.h"

int
sched_init(struct sched *s, uint32_t n, const uint8_t *have, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	s->have = bf_new(n);
	s->avail = calloc(n ? n : 1, sizeof(*s->avail));
	s->inflight = calloc(n ? n : 1, 1);
	if (s->have == NULL || s->avail == NULL || s->inflight == NULL) {
		sched_free(s);
		return -1;
	}
	if (have != NULL) {
		memcpy(s->have, have, bf_bytes(n));
		if (n & 7)
			s->have[bf_bytes(n) - 1] &= (uint8_t)(0xffu << (8 - (n & 7)));
		s->ndone = bf_count(s->have, n);
	}
	s->front = bf_next_clear(s->have, n, 0);
	s->idle = n - s->ndone;
	return 0;
}

void
sched_free(struct sched *s)
{
	free(s->have);
	free(s->avail);
	free(s->inflight);
	s->have = NULL;
	s->avail = NULL;
	s->inflight = NULL;
}

void
sched_peer_bits(struct sched *s, const uint8_t *bits, int delta)
{
	uint32_t	i;

	for (i = 0; i < s->n; i++) {
		if (!bf_test(bits, i))
			continue;
		if (delta > 0 && s->avail[i] < UINT16_MAX)
			s->avail[i]++;
		else if (delta < 0 && s->avail[i] > 0)
			s->avail[i]--;
	}
}

void
sched_peer_have(struct sched *s, uint32_t i)
{
	if (i < s->n && s->avail[i] < UINT16_MAX)
		s->avail[i]++;
}

void
sched_peer_lost(struct sched *s, uint32_t i)
{
	if (i < s->n && s->avail[i] > 0)
		s->avail[i]--;
}

static uint64_t
rng_next(struct sched *s)
{
	/* xorshift64*: fast, and good enough to break ties. */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

/*
 * One scan of [from, to): among pieces the peer has, we lack, not asked
 * of this peer and with at most maxdup requests out, keep the lowest
 * (inflight, avail) key. Among pieces that share it, the first, so that
 * pieces arrive in order and the whole-file digest takes them from
 * memory; but among pieces only one peer has, one at random of the first
 * SCHED_WINDOW: downloaders that compete for that peer's upload then ask
 * it for different pieces, which they can trade.
 */
static int64_t
scan(struct sched *s, const uint8_t *has, const uint8_t *req, unsigned maxdup,
    uint32_t from, uint32_t to)
{
	uint32_t	i, key, best = UINT32_MAX, seen = 0;
	int64_t		pick = -1;

	for (i = from; i < to; i++) {
		if (bf_test(s->have, i) || !bf_test(has, i) ||
		    s->inflight[i] > maxdup || (req && bf_test(req, i)))
			continue;
		key = (uint32_t)s->inflight[i] << 16 | s->avail[i];
		if (key < best) {
			best = key;
			seen = 0;
		} else if (key > best || seen >= SCHED_WINDOW)
			continue;
		seen++;
		if (seen == 1 ||
		    ((key & 0xffff) <= 1 && rng_next(s) % seen == 0))
			pick = i;
	}
	return pick;
}

/*
 * Rarest first among the SCHED_AHEAD pieces after the front, then among
 * the rest: a rarer piece far ahead waits while the peer has one near the
 * front, so that the pieces arrive close enough to their turn for the
 * whole-file digest to take them from memory.
 */
static int64_t
scan_ahead_first(struct sched *s, const uint8_t *has, const uint8_t *req,
    unsigned maxdup)
{
	uint32_t	ahead = s->n - s->front > SCHED_AHEAD ?
			    s->front + SCHED_AHEAD : s->n;
	int64_t		i;

	if ((i = scan(s, has, req, maxdup, s->front, ahead)) >= 0)
		return i;
	return scan(s, has, req, maxdup, ahead, s->n);
}

int64_t
sched_pick(struct sched *s, const uint8_t *peer_has, const uint8_t *peer_req)
{
	int64_t	i;

	if ((i = scan_ahead_first(s, peer_has, peer_req, 0)) >= 0)
		return i;
	/* A second request of a piece only in the endgame: before that it
	 * would cost an upload someone else is already making. */
	if (s->idle > 0)
		return -1;
	return scan_ahead_first(s, peer_has, peer_req, SCHED_MAX_DUP - 1);
}

void
sched_requested(struct sched *s, uint32_t i)
{
	if (i >= s->n || s->inflight[i] == UINT8_MAX)
		return;
	if (s->inflight[i]++ == 0 && !bf_test(s->have, i))
		s->idle--;
}

void
sched_released(struct sched *s, uint32_t i)
{
	if (i >= s->n || s->inflight[i] == 0)
		return;
	if (--s->inflight[i] == 0 && !bf_test(s->have, i))
		s->idle++;
}

int
sched_verified(struct sched *s, uint32_t i)
{
	if (i >= s->n || bf_test(s->have, i))
		return -1;
	bf_set(s->have, i);
	s->ndone++;
	if (s->inflight[i] == 0)
		s->idle--;
	if (i == s->front)
		s->front = bf_next_clear(s->have, s->n, i);
	return 0;
}
