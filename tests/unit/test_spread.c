/* spread.c: a seeder advertises different pieces to different downloaders
 * (fewest first, in order among equals), within each one's window. */
#include <criterion/criterion.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/spread.h"

static const uint8_t	sha1[SHA1_LEN] = { 1, 2, 3 };

/* Everything spread_next gives p now, as a bitfield of n pieces. */
static unsigned
drain(struct spread_peer *p, uint8_t *got)
{
	int64_t		i;
	unsigned	k = 0;

	while ((i = spread_next(p, 0)) >= 0) {
		cr_assert(!bf_test(got, (uint32_t)i), "piece %lld twice",
		    (long long)i);
		bf_set(got, (uint32_t)i);
		k++;
	}
	return k;
}

Test(spread, one_peer_in_order_within_window)
{
	struct spread_peer	a;
	int64_t			i;

	cr_assert_eq(spread_join(&a, sha1, 100), 0);
	for (i = 0; i < SPREAD_TOTAL / 2; i++)
		cr_assert_eq(spread_next(&a, 0), i);
	cr_assert_eq(spread_next(&a, 0), -1, "window full: half the total, "
	    "the rest kept for a downloader that comes next");
	spread_have(&a, 0);
	cr_assert_eq(spread_next(&a, 0), SPREAD_TOTAL / 2,
	    "one more as one is had");
	spread_leave(&a);
}

Test(spread, peers_get_distinct_pieces)
{
	struct spread_peer	p[4];
	uint8_t			got[4][8], all[8];
	unsigned		k, j, n = 64, total = 0;

	memset(got, 0, sizeof(got));
	memset(all, 0, sizeof(all));
	for (k = 0; k < 4; k++)
		cr_assert_eq(spread_join(&p[k], sha1, n), 0);
	for (k = 0; k < 4; k++) {
		total += drain(&p[k], got[k]);
		for (j = 0; j < n; j++) {
			if (!bf_test(got[k], j))
				continue;
			cr_assert(!bf_test(all, j), "piece %u to two peers", j);
			bf_set(all, j);
		}
	}
	cr_assert_eq(total, SPREAD_TOTAL, "each its share of the window");
	for (k = 0; k < 4; k++)
		spread_leave(&p[k]);
}

Test(spread, rare_pieces_first)
{
	struct spread_peer	a, b;
	uint8_t			bits[1];
	int64_t			i;

	cr_assert_eq(spread_join(&a, sha1, 4), 0);
	cr_assert_eq(spread_join(&b, sha1, 4), 0);
	memset(bits, 0, sizeof(bits));
	bf_set(bits, 0);
	bf_set(bits, 1);
	spread_bits(&a, bits);			/* a has 0 and 1 */
	i = spread_next(&b, 0);
	cr_assert(i == 2, "nobody has 2 and 3: first (%lld)", (long long)i);
	cr_assert_eq(spread_next(&b, 0), 3);
	cr_assert_eq(spread_next(&b, 1), -1, "no second copy while 2 and 3 "
	    "are on their way");
	spread_have(&b, 2);
	spread_have(&b, 3);
	cr_assert_eq(spread_next(&b, 2), 0, "then what others have, in order");
	spread_leave(&a);
	spread_leave(&b);
}

Test(spread, second_copy_waits_for_the_first_then_gives_up)
{
	struct spread_peer	a, b, c;
	uint8_t			got[1] = { 0 };

	cr_assert_eq(spread_join(&a, sha1, 8), 0);
	cr_assert_eq(spread_join(&b, sha1, 8), 0);
	cr_assert_eq(drain(&a, got), 4, "half the file to a");
	cr_assert_eq(drain(&b, got), 4, "the other half to b");
	spread_have(&a, 0);
	cr_assert_eq(spread_next(&a, 100), -1, "1 to 7 still on their way");
	cr_assert_eq(spread_next(&a, 100 + SPREAD_HOLD_MS), 4,
	    "after SPREAD_HOLD_MS, a second copy rather than none");
	cr_assert_eq(spread_join(&c, sha1, 8), 0);
	cr_assert_eq(spread_next(&c, 150), 0, "c came late: not held back");
	spread_leave(&a);
	spread_leave(&b);
	spread_leave(&c);
}
