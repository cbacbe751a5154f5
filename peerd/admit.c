/* The piece server's admission policy: a newcomer takes the slot of the
 * least useful connection, and connections that give nothing are cut. */
#include "peerd/admit.h"

/* Lower is evicted first; -1: never (it is being served). */
static int64_t
rank(const struct admit_view *c)
{
	if (!c->ready)
		return (int64_t)c->born;
	if (c->busy)
		return -1;
	return (int64_t)(1ull << 62) + (int64_t)c->useful;
}

int
admit_victim(const struct admit_view *v, size_t n, uint32_t ip)
{
	size_t	i, from_ip = 0;
	int64_t	r, best = -1;
	int	same, victim = -2;

	for (i = 0; i < n; i++)
		from_ip += v[i].ip == ip;
	same = from_ip >= ADMIT_MAX_PER_IP;
	if (!same && n < ADMIT_MAX_CONNS)
		return -1;
	for (i = 0; i < n; i++) {
		if ((same && v[i].ip != ip) || (r = rank(&v[i])) < 0)
			continue;
		if (best < 0 || r < best) {
			best = r;
			victim = (int)i;
		}
	}
	return victim;
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
