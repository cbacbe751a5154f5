/* Ready list_files replies, per worker process: a small table indexed by
 * group, each entry tagged with the generation and lease it was built at. */
#include <stdlib.h>
#include <string.h>

#include "trackerd/listcache.h"

struct entry {
	uint32_t	 group;
	uint64_t	 gen;		/* 0: empty (generations start at 1) */
	uint64_t	 until;
	char		*data;
	size_t		 len, cap;
};

struct listcache {
	struct entry	slot[LISTCACHE_SLOTS];
};

struct listcache *
listcache_new(void)
{
	return calloc(1, sizeof(struct listcache));
}

void
listcache_free(struct listcache *lc)
{
	int	i;

	if (lc == NULL)
		return;
	for (i = 0; i < LISTCACHE_SLOTS; i++)
		free(lc->slot[i].data);
	free(lc);
}

static struct entry *
slot_of(struct listcache *lc, uint32_t g)
{
	return &lc->slot[g % LISTCACHE_SLOTS];
}

const char *
listcache_get(struct listcache *lc, uint32_t g, uint64_t gen, uint64_t now,
    size_t *len)
{
	struct entry	*e;

	if (lc == NULL)
		return NULL;
	e = slot_of(lc, g);
	if (e->gen == 0 || e->gen != gen || e->group != g || now > e->until)
		return NULL;
	*len = e->len;
	return e->data;
}

void
listcache_put(struct listcache *lc, uint32_t g, uint64_t gen, uint64_t until,
    const char *reply, size_t len)
{
	struct entry	*e;
	char		*n;

	if (lc == NULL || gen == 0 || len > LISTCACHE_MAX_REPLY)
		return;
	e = slot_of(lc, g);
	e->gen = 0;
	if (len > e->cap) {
		if ((n = realloc(e->data, len)) == NULL)
			return;
		e->data = n;
		e->cap = len;
	}
	memcpy(e->data, reply, len);
	e->len = len;
	e->group = g;
	e->until = until;
	e->gen = gen;
}
