/* Ready list_files replies: each worker keeps the last reply it built for
 * a group and answers with it while the group's generation and leases hold. */
#ifndef TRACKERD_LISTCACHE_H
#define TRACKERD_LISTCACHE_H

#include <stddef.h>
#include <stdint.h>

#define LISTCACHE_SLOTS		256		/* groups, by index */
#define LISTCACHE_MAX_REPLY	(64u << 10)	/* larger lists are built
						 * every time */

struct listcache;

struct listcache *listcache_new(void);
void	listcache_free(struct listcache *);
/*
 * The reply kept for group g at generation gen, if one was built at that
 * generation and now is not past its validity (the last second at which
 * every seeder it counted is still active). NULL otherwise.
 */
const char *listcache_get(struct listcache *, uint32_t g, uint64_t gen,
	    uint64_t now, size_t *len);
/* Keep a reply for (g, gen), valid through second until. Silently keeps
 * nothing when out of memory or too large. */
void	listcache_put(struct listcache *, uint32_t g, uint64_t gen,
	    uint64_t until, const char *reply, size_t len);

#endif
