/* Token buckets limiting piece traffic: refilled from the monotonic clock,
 * a burst of a tenth of a second (at least 16 KiB), never a sleep. */
#include <string.h>

#include "peerd/ratelimit.h"

#define RL_MIN_BURST	16384
#define RL_QUANTUM	4096		/* wake up for at least this much */

struct rlimit	rl_up, rl_down;

static void
refill(struct rlimit *r, uint64_t now)
{
	if (now > r->last_ms) {
		r->tokens += (double)r->rate * (double)(now - r->last_ms) /
		    1000.0;
		if (r->tokens > (double)r->burst)
			r->tokens = (double)r->burst;
	}
	r->last_ms = now;
}

void
rl_set(struct rlimit *r, uint64_t rate, uint64_t now)
{
	r->rate = rate;
	r->burst = rate / 10 > RL_MIN_BURST ? rate / 10 : RL_MIN_BURST;
	r->tokens = (double)r->burst;
	r->last_ms = now;
}

size_t
rl_allow(struct rlimit *r, size_t want, uint64_t now)
{
	if (r->rate == 0)
		return want;
	refill(r, now);
	if (r->tokens < 1.0)
		return 0;
	return (double)want < r->tokens ? want : (size_t)r->tokens;
}

void
rl_used(struct rlimit *r, size_t n, uint64_t now)
{
	r->total += n;
	if (r->rate == 0)
		return;
	refill(r, now);
	r->tokens -= (double)n;
	if (r->tokens < 0)
		r->tokens = 0;
}

uint64_t
rl_delay_ms(const struct rlimit *r)
{
	double	need = RL_QUANTUM - r->tokens;
	uint64_t ms;

	if (r->rate == 0 || need <= 0)
		return 1;
	ms = (uint64_t)(need * 1000.0 / (double)r->rate) + 1;
	return ms > 1000 ? 1000 : ms;
}

uint64_t
rl_measured(struct rlimit *r, uint64_t now)
{
	if (r->meas_ms == 0 || now < r->meas_ms) {
		r->meas_ms = now;
		r->meas_total = r->total;
	} else if (now - r->meas_ms >= 1000) {
		r->measured = (r->total - r->meas_total) * 1000 /
		    (now - r->meas_ms);
		r->meas_ms = now;
		r->meas_total = r->total;
	}
	return r->measured;
}
