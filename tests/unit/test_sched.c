/* Unit tests for peerd/sched: rarest first, only pieces the peer has, no
 * duplicate requests until the endgame, completion accounting. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/sched.h"

Test(sched, picks_only_what_peer_has)
{
	struct sched	s;
	uint8_t		peer[2] = { 0, 0 };

	cr_assert_eq(sched_init(&s, 16, NULL, 1), 0);
	cr_assert_eq(sched_pick(&s, peer, NULL), -1);
	bf_set(peer, 5);
	sched_peer_bits(&s, peer, 1);
	cr_assert_eq(sched_pick(&s, peer, NULL), 5);
	sched_free(&s);
}

Test(sched, rarest_first)
{
	struct sched	s;
	uint8_t		all[4], one[4] = { 0 };
	int		k;

	cr_assert_eq(sched_init(&s, 32, NULL, 7), 0);
	bf_fill(all, 32);
	bf_set(one, 20);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, one, 1);
	/* Piece 20 is held by three peers, every other by two: never 20 first. */
	for (k = 0; k < 50; k++) {
		int64_t i = sched_pick(&s, all, NULL);
		cr_assert(i >= 0 && i != 20);
	}
	/* Now make 30 the rarest by dropping a peer that had it. */
	sched_peer_bits(&s, all, -1);
	memset(one, 0, sizeof(one));
	bf_fill(one, 32);
	bf_clear(one, 30);
	sched_peer_bits(&s, one, 1);
	cr_assert_eq(sched_pick(&s, all, NULL), 30);
	sched_free(&s);
}

Test(sched, random_among_equals_near_front)
{
	struct sched	s;
	uint8_t		all[8];
	int		seen[64] = { 0 }, k, distinct = 0;

	cr_assert_eq(sched_init(&s, 64, NULL, 42), 0);
	bf_fill(all, 64);
	sched_peer_bits(&s, all, 1);
	for (k = 0; k < 200; k++) {
		int64_t i = sched_pick(&s, all, NULL);
		cr_assert(i >= 0 && i < SCHED_WINDOW);
		if (!seen[i]++)
			distinct++;
	}
	cr_assert_gt(distinct, 1);
	sched_free(&s);
}

Test(sched, in_order_among_equals_several_peers_have)
{
	struct sched	s;
	uint8_t		all[8], req[8] = { 0 };
	int64_t		i;
	int		k;

	cr_assert_eq(sched_init(&s, 64, NULL, 42), 0);
	bf_fill(all, 64);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, all, 1);
	for (k = 0; k < 10; k++) {
		i = sched_pick(&s, all, req);
		cr_assert_eq(i, k);
		sched_requested(&s, (uint32_t)i);
		bf_set(req, (uint32_t)i);
	}
	/* a rarer piece near the front still comes first */
	sched_peer_lost(&s, 30);
	cr_assert_eq(sched_pick(&s, all, req), 30);
	sched_free(&s);
}

Test(sched, near_the_front_before_rarer_far_ahead)
{
	struct sched	s;
	uint8_t		all[16], far[16] = { 0 };
	int64_t		i;

	cr_assert_eq(sched_init(&s, 128, NULL, 3), 0);
	bf_fill(all, 128);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, all, 1);
	sched_peer_lost(&s, SCHED_AHEAD + 20);	/* rarer, but far ahead */
	cr_assert_eq(sched_pick(&s, all, NULL), 0);
	/* past the front's window, the rarest again */
	sched_peer_lost(&s, SCHED_AHEAD + 50);
	sched_peer_lost(&s, SCHED_AHEAD + 50);
	bf_set(far, SCHED_AHEAD + 20);
	bf_set(far, SCHED_AHEAD + 50);
	cr_assert_eq(sched_pick(&s, far, NULL), SCHED_AHEAD + 50);
	/* the window moves with the front: the rarer piece is in it now */
	for (i = 0; i < 30; i++)
		sched_verified(&s, (uint32_t)i);
	cr_assert_eq(sched_pick(&s, all, NULL), SCHED_AHEAD + 20);
	sched_free(&s);
}

Test(sched, no_duplicates_then_endgame)
{
	struct sched	s;
	uint8_t		all[1], reqa[1] = { 0 }, reqb[1] = { 0 };
	int64_t		i;
	int		k;

	cr_assert_eq(sched_init(&s, 4, NULL, 3), 0);
	bf_fill(all, 4);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, all, 1);
	for (k = 0; k < 4; k++) {
		i = sched_pick(&s, all, reqa);
		cr_assert(i >= 0 && !bf_test(reqa, (uint32_t)i));
		bf_set(reqa, (uint32_t)i);
		sched_requested(&s, (uint32_t)i);
	}
	/* Everything is requested from peer a: a gets nothing more. */
	cr_assert_eq(sched_pick(&s, all, reqa), -1);
	/* Endgame: peer b may ask for the same pieces, once each. */
	for (k = 0; k < 4; k++) {
		i = sched_pick(&s, all, reqb);
		cr_assert(i >= 0);
		bf_set(reqb, (uint32_t)i);
		sched_requested(&s, (uint32_t)i);
	}
	cr_assert_eq(sched_pick(&s, all, reqb), -1);
	for (k = 0; k < 4; k++)
		cr_assert_eq(sched_verified(&s, (uint32_t)k), 0);
	cr_assert_eq(sched_verified(&s, 2), -1);
	cr_assert(sched_complete(&s));
	cr_assert_eq(sched_pick(&s, all, NULL), -1);
	sched_free(&s);
}

Test(sched, resume_skips_verified)
{
	struct sched	s;
	uint8_t		have[2] = { 0xff, 0x7f }, all[2];

	cr_assert_eq(sched_init(&s, 16, have, 9), 0);
	cr_assert_eq(s.ndone, 15);
	bf_fill(all, 16);
	sched_peer_bits(&s, all, 1);
	cr_assert_eq(sched_pick(&s, all, NULL), 8);
	cr_assert_eq(sched_verified(&s, 8), 0);
	cr_assert(sched_complete(&s));
	sched_free(&s);
}

Test(sched, released_piece_is_picked_again)
{
	struct sched	s;
	uint8_t		all[1];

	cr_assert_eq(sched_init(&s, 1, NULL, 5), 0);
	bf_fill(all, 1);
	sched_peer_bits(&s, all, 1);
	cr_assert_eq(sched_pick(&s, all, NULL), 0);
	sched_requested(&s, 0);
	sched_requested(&s, 0);
	cr_assert_eq(sched_pick(&s, all, NULL), -1);
	sched_released(&s, 0);
	sched_released(&s, 0);
	cr_assert_eq(sched_pick(&s, all, NULL), 0);
	sched_free(&s);
}

/* A piece already asked of one peer is not asked of another while some
 * missing piece is still asked of nobody (that is not yet the endgame). */
Test(sched, no_duplicate_before_endgame)
{
	struct sched	s;
	uint8_t		all[1], first[1] = { 0 };

	cr_assert_eq(sched_init(&s, 2, NULL, 4), 0);
	bf_fill(all, 2);
	bf_set(first, 0);
	sched_peer_bits(&s, all, 1);
	sched_peer_bits(&s, first, 1);
	sched_requested(&s, 0);
	cr_assert_eq(s.idle, 1);
	/* this peer has only piece 0, in flight elsewhere; piece 1 idle */
	cr_assert_eq(sched_pick(&s, first, NULL), -1);
	sched_requested(&s, 1);
	cr_assert_eq(s.idle, 0);
	cr_assert_eq(sched_pick(&s, first, NULL), 0);
	sched_released(&s, 1);
	cr_assert_eq(s.idle, 1);
	cr_assert_eq(sched_verified(&s, 1), 0);
	cr_assert_eq(s.idle, 0);
	sched_free(&s);
}
