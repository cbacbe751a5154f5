/* Unit tests for peerd/bitfield: bit order, counting, the tail check and
 * the scan for the next missing piece. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "peerd/bitfield.h"

Test(bitfield, msb_first)
{
	uint8_t	bf[2] = { 0, 0 };

	bf_set(bf, 0);
	bf_set(bf, 9);
	cr_assert_eq(bf[0], 0x80);
	cr_assert_eq(bf[1], 0x40);
	cr_assert(bf_test(bf, 0));
	cr_assert(!bf_test(bf, 1));
	cr_assert(bf_test(bf, 9));
	bf_clear(bf, 0);
	cr_assert_eq(bf[0], 0);
}

Test(bitfield, fill_and_count)
{
	uint32_t	n;

	for (n = 1; n < 40; n++) {
		uint8_t	*bf = bf_new(n);

		cr_assert_not_null(bf);
		cr_assert_eq(bf_count(bf, n), 0);
		bf_fill(bf, n);
		cr_assert_eq(bf_count(bf, n), n, "n=%u", n);
		cr_assert(bf_tail_clear(bf, n), "n=%u", n);
		cr_assert_eq(bf_bytes(n), (n + 7) / 8);
		free(bf);
	}
}

Test(bitfield, tail_check)
{
	uint8_t	bf[2] = { 0xff, 0xe0 };

	cr_assert(bf_tail_clear(bf, 11));
	cr_assert(!bf_tail_clear(bf, 10));
	cr_assert(bf_tail_clear(bf, 16));
	bf[1] = 0x01;
	cr_assert(!bf_tail_clear(bf, 15));
}

Test(bitfield, next_clear)
{
	uint8_t	bf[4] = { 0xff, 0xff, 0xfe, 0x00 };

	cr_assert_eq(bf_next_clear(bf, 32, 0), 23);
	cr_assert_eq(bf_next_clear(bf, 32, 23), 23);
	cr_assert_eq(bf_next_clear(bf, 32, 24), 24);
	cr_assert_eq(bf_next_clear(bf, 20, 0), 20);
	bf_fill(bf, 32);
	cr_assert_eq(bf_next_clear(bf, 32, 3), 32);
}
