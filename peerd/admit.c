/* The piece server's admission policy: a newcomer is let in on probation,
 * and takes the slot of the least useful connection only once it showed a
 * valid ticket; connections that give nothing are cut. */
#include "peerd/admit.h"

/* Lower is evicted first; -1: not now (being served, or just arrived). */
static int64_t
rank(const struct admit_view *c, uint64_t now)
{
	if (!c->ready)
		return now - c->born >= ADMIT_GRACE_MS ? (int64_t)c->born : -1;
	if (c->busy)
		return -1;
	return (int64_t)(1ull << 62) + (int64_t)c->useful;
}

/* The least useful of v (from ip only when same), never skip; or -2. */
static int
least_useful(const struct admit_view *v, size_t n, uint32_t ip, int same,
    size_t skip, uint64_t now)
{
	size_t	i;
	int64_t	r, best = -1;
	int	victim = -2;

	for (i = 0; i < n; i++) {
		if (i == skip || (same && v[i].ip != ip) ||
		    (r = rank(&v[i], now)) < 0)
			continue;
		if (best < 0 || r < best) {
			best = r;
			victim = (int)i;
		}
	}
	return victim;
}

static size_t
count_ip(const struct admit_view *v, size_t n, uint32_t ip)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++)
		k += v[i].ip == ip;
	return k;
}

int
admit_victim(const struct admit_view *v, size_t n, uint32_t ip, uint64_t now)
{
	int	same = count_ip(v, n, ip) >= ADMIT_MAX_PER_IP + ADMIT_PROBATION_IP;

	if (!same && n < ADMIT_MAX_CONNS + ADMIT_PROBATION)
		return -1;
	return least_useful(v, n, ip, same, n, now);
}

int
admit_ready_victim(const struct admit_view *v, size_t n, size_t self,
    uint64_t now)
{
	int	same = count_ip(v, n, v[self].ip) > ADMIT_MAX_PER_IP;
	int	k;

	if (!same && n <= ADMIT_MAX_CONNS)
		return -1;
	k = least_useful(v, n, v[self].ip, same, self, now);
	return k == -2 ? -1 : k;
}

const char *
admit_expired(const struct admit_view *c, uint64_t now)
{
	if (!c->ready)
		return now - c->born >= ADMIT_HELLO_MS ? "no handshake in time" :
		    NULL;
	if (c->busy)
		return now - c->progress >= ADMIT_STALL_MS ? "reads too slowly" :
		    NULL;
	return now - c->useful >= ADMIT_IDLE_MS ? "asks for nothing" : NULL;
}
