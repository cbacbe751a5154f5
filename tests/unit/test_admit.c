/* Unit tests of peerd/admit.c: who makes way for a newcomer, and who is
 * cut for giving nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include "peerd/admit.h"

#define NOW	100000
#define FULL	(ADMIT_MAX_CONNS + ADMIT_PROBATION)

static struct admit_view	v[FULL + 1];

static void
fill(size_t n, uint32_t ips)
{
	size_t	i;

	memset(v, 0, sizeof(v));
	for (i = 0; i < n; i++) {
		v[i].ip = (uint32_t)(i % ips) + 1;
		v[i].ready = 1;
		v[i].busy = 1;
		v[i].born = v[i].useful = v[i].progress = 1000;
	}
}

Test(admit, room_left_on_probation)
{
	fill(ADMIT_MAX_CONNS, 16);
	cr_assert_eq(admit_victim(v, ADMIT_MAX_CONNS, 99, NOW), -1,
	    "a newcomer comes in on probation beyond the limit");
}

Test(admit, all_busy_refuses_newcomer)
{
	fill(FULL, 16);
	cr_assert_eq(admit_victim(v, FULL, 99, NOW), -2);
}

Test(admit, handshakes_go_first_oldest_first)
{
	fill(FULL, 16);
	v[7].busy = 0;
	v[7].useful = 10;		/* idle member */
	v[40].ready = 0;
	v[40].born = 5000;
	v[41].ready = 0;
	v[41].born = 4000;
	cr_assert_eq(admit_victim(v, FULL, 99, NOW), 41);
	v[40].ready = v[41].ready = 1;
	cr_assert_eq(admit_victim(v, FULL, 99, NOW), 7, "then the idle member");
}

Test(admit, young_handshakes_are_not_evicted)
{
	fill(FULL, 16);
	v[9].ready = 0;
	v[9].born = NOW - ADMIT_GRACE_MS + 1;
	cr_assert_eq(admit_victim(v, FULL, 99, NOW), -2,
	    "a reconnect flood does not chase itself");
	v[9].born = NOW - ADMIT_GRACE_MS;
	cr_assert_eq(admit_victim(v, FULL, 99, NOW), 9);
}

Test(admit, per_address_limit_evicts_from_that_address)
{
	size_t	n = ADMIT_MAX_PER_IP + ADMIT_PROBATION_IP;

	fill(n, 1);			/* all from ip 1, room overall */
	v[3].ready = 0;
	v[3].born = 1;
	cr_assert_eq(admit_victim(v, n, 2, NOW), -1, "another address fits");
	cr_assert_eq(admit_victim(v, n, 1, NOW), 3);
}

Test(admit, a_member_pushes_out_the_least_useful)
{
	fill(ADMIT_MAX_CONNS + 1, 16);
	v[5].ready = 0;
	v[5].born = NOW - 2000;		/* an old handshake */
	v[6].ready = 0;
	v[6].born = NOW;		/* the member, just admitted */
	cr_assert_eq(admit_ready_victim(v, ADMIT_MAX_CONNS + 1, 6, NOW), 5);
	cr_assert_eq(admit_ready_victim(v, ADMIT_MAX_CONNS, 6, NOW), -1,
	    "within the limit nobody goes");
	v[5].born = NOW;		/* only young handshakes: keep all */
	cr_assert_eq(admit_ready_victim(v, ADMIT_MAX_CONNS + 1, 6, NOW), -1);
}

Test(admit, expiry)
{
	struct admit_view	c = { .born = 1000, .useful = 1000,
	    .progress = 1000 };

	cr_assert_null(admit_expired(&c, 1000 + ADMIT_HELLO_MS - 1));
	cr_assert_not_null(admit_expired(&c, 1000 + ADMIT_HELLO_MS));
	c.ready = 1;
	cr_assert_null(admit_expired(&c, 1000 + ADMIT_IDLE_MS - 1));
	cr_assert_not_null(admit_expired(&c, 1000 + ADMIT_IDLE_MS));
	c.busy = 1;
	cr_assert_null(admit_expired(&c, 1000 + ADMIT_STALL_MS - 1));
	cr_assert_not_null(admit_expired(&c, 1000 + ADMIT_STALL_MS),
	    "data waits, nothing read");
}
