/* Request ids: the ids of the changes applied lately, so that a request
 * sent again (to this tracker or another) is answered, never applied twice. */
#include <stdio.h>
#include <string.h>

#include "ipc/proto.h"
#include "trackerd/state.h"

#define RID_MAX_INDEX	1000	/* changes of one request, far more than any */

int
reqid_parse(const char *hex, uint8_t id[RID_LEN])
{
	if (strlen(hex) != 2 * RID_LEN ||
	    hex_decode(hex, id, RID_LEN) != RID_LEN)
		return -1;
	return 0;
}

static uint32_t
bucket(const uint8_t id[RID_LEN])
{
	uint32_t	h;

	/* ids are random: their first bytes are hash enough */
	memcpy(&h, id, sizeof(h));
	return h % STATE_RID_BUCKETS;
}

int
reqid_seen_locked(struct tracker *t, const uint8_t id[RID_LEN])
{
	struct rid_table	*r = &t->hdr->rids;
	uint32_t		 s;

	for (s = r->head[bucket(id)]; s != 0; s = r->next[s - 1])
		if (memcmp(r->id[s - 1], id, RID_LEN) == 0)
			return 1;
	return 0;
}

/* Take slot s (1-based) out of its bucket's chain. */
static void
unlink_slot(struct rid_table *r, uint32_t s)
{
	uint32_t	*p;

	for (p = &r->head[bucket(r->id[s - 1])]; *p != 0; p = &r->next[*p - 1])
		if (*p == s) {
			*p = r->next[s - 1];
			return;
		}
}

static void
add_locked(struct tracker *t, const uint8_t id[RID_LEN])
{
	struct rid_table	*r = &t->hdr->rids;
	uint32_t		 s = (uint32_t)(r->total % STATE_RIDS) + 1, b;

	if (r->total >= STATE_RIDS)
		unlink_slot(r, s);	/* the oldest id gives way */
	memcpy(r->id[s - 1], id, RID_LEN);
	b = bucket(id);
	r->next[s - 1] = r->head[b];
	r->head[b] = s;
	r->total++;
}

int
reqid_apply_locked(struct tracker *t, char ***argv, int *argc)
{
	struct rid_table	*r = &t->hdr->rids;
	uint8_t			 id[RID_LEN];
	uint64_t		 k;

	if (*argc < 3 || reqid_parse((*argv)[1], id) == -1 ||
	    parse_u64((*argv)[2], 0, RID_MAX_INDEX, &k) == -1)
		return -1;
	if (k == 0) {
		/* a request's first change: new, or one applied before */
		r->skipping = reqid_seen_locked(t, id);
		if (r->skipping)
			memcpy(r->dup, id, RID_LEN);
		else {
			memcpy(r->cur, id, RID_LEN);
			r->pending = 1;
		}
	}
	if (r->skipping && memcmp(r->dup, id, RID_LEN) == 0)
		return 1;
	*argv += 3;
	*argc -= 3;
	return 0;
}

void
reqid_done_locked(struct tracker *t, int rc)
{
	struct rid_table	*r = &t->hdr->rids;

	if (!r->pending)
		return;
	r->pending = 0;
	if (rc == 0)
		add_locked(t, r->cur);
	else {
		/* not applied: a copy sent again is applied, not answered
		 * as done; what the request did next rested on it */
		memcpy(r->dup, r->cur, RID_LEN);
		r->skipping = 1;
	}
}

int
reqid_dump_locked(struct tracker *t,
    int (*emit)(void *, const char *body, size_t len), void *arg)
{
	struct rid_table	*r = &t->hdr->rids;
	char			 body[64], hex[2 * RID_LEN + 1];
	uint64_t		 i, from;
	int			 n;

	from = r->total > STATE_RIDS ? r->total - STATE_RIDS : 0;
	for (i = from; i < r->total; i++) {
		hex_encode(r->id[i % STATE_RIDS], RID_LEN, hex);
		n = snprintf(body, sizeof(body), "rid %s 0", hex);
		if (emit(arg, body, (size_t)n) == -1)
			return -1;
	}
	return 0;
}
