/* Super-seeding: a seeder advertises each downloader the pieces fewest of
 * its downloaders have, so its upload goes to pieces the swarm lacks. */
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/spread.h"

/* One file: how many of its downloaders have or were offered each piece. */
struct spread {
	uint8_t		 sha1[SHA1_LEN];
	uint32_t	 n;
	uint16_t	*count;
	uint16_t	*held;		/* downloaders that have each piece */
	uint32_t	 unheld;	/* pieces none of them has yet */
	int		 holding;	/* duplicates held back ... */
	uint64_t	 hold_since;	/* ... since then (ms) */
	unsigned	 npeers;
	struct spread	*next;
};

static struct spread	*files;

static struct spread *
file_get(const uint8_t sha1[SHA1_LEN], uint32_t n)
{
	struct spread	*f;

	for (f = files; f != NULL; f = f->next)
		if (f->n == n && memcmp(f->sha1, sha1, SHA1_LEN) == 0)
			return f;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->count = calloc(n ? n : 1, sizeof(*f->count));
	f->held = calloc(n ? n : 1, sizeof(*f->held));
	if (f->count == NULL || f->held == NULL) {
		free(f->count);
		free(f->held);
		free(f);
		return NULL;
	}
	f->unheld = n;
	memcpy(f->sha1, sha1, SHA1_LEN);
	f->n = n;
	f->next = files;
	files = f;
	return f;
}

static void
file_put(struct spread *f)
{
	struct spread	**pp;

	if (--f->npeers > 0)
		return;
	for (pp = &files; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	free(f->count);
	free(f->held);
	free(f);
}

int
spread_join(struct spread_peer *p, const uint8_t sha1[SHA1_LEN], uint32_t n)
{
	memset(p, 0, sizeof(*p));
	if ((p->sp = file_get(sha1, n)) == NULL)
		return -1;
	p->sp->npeers++;
	p->has = bf_new(n);
	p->adv = bf_new(n);
	if (p->has == NULL || p->adv == NULL) {
		spread_leave(p);
		return -1;
	}
	return 0;
}

void
spread_leave(struct spread_peer *p)
{
	uint32_t	i;

	if (p->sp == NULL)
		return;
	for (i = 0; p->has != NULL && p->adv != NULL && i < p->sp->n; i++) {
		if ((bf_test(p->has, i) || bf_test(p->adv, i)) &&
		    p->sp->count[i] > 0)
			p->sp->count[i]--;
		if (bf_test(p->has, i) && p->sp->held[i] > 0 &&
		    --p->sp->held[i] == 0)
			p->sp->unheld++;
	}
	file_put(p->sp);
	free(p->has);
	free(p->adv);
	memset(p, 0, sizeof(*p));
}

void
spread_have(struct spread_peer *p, uint32_t i)
{
	if (p->sp == NULL || i >= p->sp->n || bf_test(p->has, i))
		return;
	bf_set(p->has, i);
	if (p->sp->held[i]++ == 0)
		p->sp->unheld--;
	if (bf_test(p->adv, i))
		p->out--;
	else if (p->sp->count[i] < UINT16_MAX)
		p->sp->count[i]++;
}

void
spread_bits(struct spread_peer *p, const uint8_t *bits)
{
	uint32_t	i;

	for (i = 0; p->sp != NULL && i < p->sp->n; i++)
		if (bf_test(bits, i))
			spread_have(p, i);
}

/* The peer's share of the pieces advertised ahead: at most half of them
 * and half the file, so that a downloader that comes next finds pieces
 * not yet offered (an offer cannot be taken back). */
static uint32_t
window(const struct spread_peer *p)
{
	uint32_t	w = SPREAD_TOTAL / (p->sp->npeers > 2 ? p->sp->npeers : 2);

	if (w > p->sp->n / 2)
		w = p->sp->n / 2;

	return w < SPREAD_MIN ? SPREAD_MIN : w;
}

/*
 * Once every piece was offered, a piece offered again is an upload made
 * twice. While a piece's only copy is still on its way (offered, had by
 * none), that second upload would delay the first copy of the others: it
 * waits, up to SPREAD_HOLD_MS, for the swarm to hold a whole copy. A
 * downloader that came after every piece was offered is not held: it
 * would have nothing of ours to trade.
 */
static int
hold_duplicates(struct spread *f, uint64_t now)
{
	if (f->unheld == 0) {
		f->holding = 0;
		return 0;
	}
	if (!f->holding) {
		f->holding = 1;
		f->hold_since = now;
	}
	return now - f->hold_since < SPREAD_HOLD_MS;
}

int64_t
spread_next(struct spread_peer *p, uint64_t now)
{
	struct spread	*f = p->sp;
	uint32_t	 i, best = UINT32_MAX;
	int64_t		 pick = -1;

	if (f == NULL || p->out >= window(p))
		return -1;
	for (i = 0; i < f->n && best > 0; i++) {
		if (bf_test(p->has, i) || bf_test(p->adv, i) ||
		    f->count[i] >= best)
			continue;
		best = f->count[i];
		pick = i;
	}
	/*
	 * Fewest first means a piece others have comes only once the swarm
	 * holds a whole copy (best > 0): from then on we serve like any
	 * peer, within the window, and the downloader asks whichever of us
	 * has the piece it needs first.
	 */
	if (pick < 0 || (best > 0 && p->offered && hold_duplicates(f, now)))
		return -1;
	bf_set(p->adv, (uint32_t)pick);
	p->offered = 1;
	p->out++;
	if (f->count[pick] < UINT16_MAX)
		f->count[pick]++;
	return pick;
}
