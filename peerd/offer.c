/* The offer table: what this peer serves to other peers. Complete shares
 * come from the store; partial downloads are registered here by the
 * download side and updated as pieces are verified. */
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/offer.h"
#include "peerd/peerd.h"

struct partial {
	const void	*owner;
	uint8_t		 sha1[SHA1_LEN];
	char		 group[NAME_MAX_LEN + 1];
	struct offer_view v;
	struct partial	*next;
};

static struct partial	*partials;
static void		(*piece_hook)(const uint8_t *, uint32_t);

void
offer_on_piece(void (*fn)(const uint8_t sha1[SHA1_LEN], uint32_t))
{
	piece_hook = fn;
}

static struct partial *
by_owner(const void *owner)
{
	struct partial	*p;

	for (p = partials; p != NULL; p = p->next)
		if (p->owner == owner)
			return p;
	return NULL;
}

int
offer_partial(const void *owner, const uint8_t sha1[SHA1_LEN],
    const char *group, uint64_t size, uint32_t npieces, const uint8_t *have,
    int fd)
{
	struct partial	*p, **pp;

	if ((p = by_owner(owner)) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return -1;
		for (pp = &partials; *pp != NULL; pp = &(*pp)->next)
			;
		*pp = p;		/* in registration order */
	}
	p->owner = owner;
	memcpy(p->sha1, sha1, SHA1_LEN);
	strlcpy(p->group, group, sizeof(p->group));
	p->v.fd = fd;
	p->v.size = size;
	p->v.npieces = npieces;
	p->v.have = have;
	return 0;
}

void
offer_piece(const void *owner, uint32_t i)
{
	struct partial	*p;

	if ((p = by_owner(owner)) != NULL && piece_hook != NULL)
		piece_hook(p->sha1, i);
}

void
offer_withdraw(const void *owner)
{
	struct partial	**pp, *p;

	for (pp = &partials; (p = *pp) != NULL; pp = &p->next)
		if (p->owner == owner) {
			*pp = p->next;
			free(p);
			return;
		}
}

static int
share_view(struct share *sh, struct offer_view *v)
{
	if (sh == NULL || sh->fd == -1)
		return -1;
	v->fd = sh->fd;
	v->size = sh->size;
	v->npieces = sh->npieces;
	v->have = NULL;
	return 0;
}

int
offer_find(const uint8_t sha1[SHA1_LEN], const char *group,
    struct offer_view *v)
{
	struct partial	*p;

	if (share_view(store_share_by_hash(sha1, group), v) == 0)
		return 0;
	for (p = partials; p != NULL; p = p->next)
		if (memcmp(p->sha1, sha1, SHA1_LEN) == 0 &&
		    (group == NULL || strcmp(p->group, group) == 0)) {
			*v = p->v;
			return 0;
		}
	return -1;
}

int
offer_has(const struct offer_view *v, uint32_t i)
{
	return i < v->npieces && (v->have == NULL || bf_test(v->have, i));
}

int
offer_find_name(const char *name, struct offer_view *v)
{
	return share_view(store_share_by_name(name), v);
}
