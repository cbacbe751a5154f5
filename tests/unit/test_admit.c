/* Unit tests of peerd/admit.c: who makes way for a newcomer, and who is
 * cut for giving nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include "peerd/admit.h"

static struct admit_view	v[ADMIT_MAX_CONNS];

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

Test(admit, room_left)
{
	fill(10, 10);
	cr_assert_eq(admit_victim(v, 10, 99), -1);
}

Test(admit, all_busy_refuses_newcomer)
{
	fill(ADMIT_MAX_CONNS, 16);
	cr_assert_eq(admit_victim(v, ADMIT_MAX_CONNS, 99), -2);
}

Test(admit, handshakes_go_first_oldest_first)
{
	fill(ADMIT_MAX_CONNS, 16);
	v[7].busy = 0;
	v[7].useful = 10;		/* idle member */
	v[40].ready = 0;
	v[40].born = 5000;
	v[41].ready = 0;
	v[41].born = 4000;
	cr_assert_eq(admit_victim(v, ADMIT_MAX_CONNS, 99), 41);
	v[40].ready = v[41].ready = 1;
	cr_assert_eq(admit_victim(v, ADMIT_MAX_CONNS, 99), 7,
	    "then the idle member");
}

Test(admit, per_address_limit_evicts_from_that_address)
{
	fill(ADMIT_MAX_PER_IP, 1);	/* all from ip 1, room overall */
	v[3].ready = 0;
	v[3].born = 1;
	cr_assert_eq(admit_victim(v, ADMIT_MAX_PER_IP, 2), -1,
	    "another address fits");
	cr_assert_eq(admit_victim(v, ADMIT_MAX_PER_IP, 1), 3);
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
