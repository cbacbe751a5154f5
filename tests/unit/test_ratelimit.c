/* Unit tests of the token bucket (peerd/ratelimit.c) on a clock of our
 * own: the rate over time, the burst, and no limit at 0. */
#include <criterion/criterion.h>

#include "peerd/ratelimit.h"

/* Take as much as allowed every ms for ms_total; bytes taken. */
static uint64_t
drain(struct rlimit *r, uint64_t start, uint64_t ms_total, size_t want)
{
	uint64_t	t, got = 0;
	size_t		n;

	for (t = start; t < start + ms_total; t++) {
		n = rl_allow(r, want, t);
		rl_used(r, n, t);
		got += n;
	}
	return got;
}

Test(ratelimit, rate_over_seconds)
{
	struct rlimit	r = { 0 };
	uint64_t	got;

	rl_set(&r, 10000000, 1000);
	got = drain(&r, 1000, 3000, 65536);
	/* 3 s at 10 MB/s plus the initial burst of 1 MB */
	cr_assert(got >= 30000000 && got <= 31000000 + 65536, "%llu",
	    (unsigned long long)got);
}

Test(ratelimit, burst_and_delay)
{
	struct rlimit	r = { 0 };

	rl_set(&r, 100000, 0);		/* burst: the 16 KiB minimum */
	cr_assert_eq(rl_allow(&r, 1 << 20, 0), 16384);
	rl_used(&r, 16384, 0);
	cr_assert_eq(rl_allow(&r, 100, 0), 0);
	cr_assert_geq(rl_delay_ms(&r), 40);	/* 4 KiB at 100 kB/s */
	cr_assert_leq(rl_delay_ms(&r), 42);
	/* idle for long: the bucket holds one burst, not more */
	cr_assert_eq(rl_allow(&r, 1 << 20, 100000), 16384);
}

Test(ratelimit, zero_is_unlimited)
{
	struct rlimit	r = { 0 };

	rl_set(&r, 0, 0);
	cr_assert_eq(rl_allow(&r, 123456789, 0), 123456789);
	rl_used(&r, 123456789, 0);
	cr_assert_eq(r.total, 123456789);
}
