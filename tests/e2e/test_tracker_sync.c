/* trackerd end to end, two trackers over one journal: changes seen on the
 * other tracker, races between them, sessions that move, seeder leases. */
#include "tests/e2e/tracker_e2e.h"

static void
setup(void)
{
	trk_init();
}

static void
teardown(void)
{
	trk_fini();
}

TestSuite(tracker_sync, .init = setup, .fini = teardown, .timeout = 90);

static int
cmp_long(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

Test(tracker_sync, change_seen_on_other_tracker)
{
	long	t[12];
	int	a, b, i;
	char	name[32], req[64];

	trk_start_both();
	a = trk_conn(0);
	b = trk_conn(1);
	OK(a, "create_user watcher pw");
	trk_login(a, "watcher", "pw");
	/* the user made on tracker 1 can log in on tracker 2 (the
	 * contract allows it 100 ms to get there) */
	for (long end = trk_now_ms() + 1000;;) {
		char *r = rq(b, "login watcher pw");
		int ok = strncmp(r, "OK login_success ", 17) == 0;

		free(r);
		if (ok)
			break;
		cr_assert_lt(trk_now_ms(), end, "no login on tracker 2");
		trk_sleep_ms(5);
	}
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "seen%d", i);
		OK(i % 2 ? b : a, "create_group %s", name);
		snprintf(req, sizeof(req), "list_groups");
		t[i] = trk_poll_line(i % 2 ? a : b, req, name, 1, 3000);
		cr_assert_geq(t[i], 0, "group %s never seen on the other "
		    "tracker", name);
	}
	qsort(t, 12, sizeof(t[0]), cmp_long);
	cr_log_info("visible on the other tracker after: median %ld ms, "
	    "max %ld ms", t[6], t[11]);
	cr_expect_leq(t[6], 100, "median delay %ld ms > 100 ms", t[6]);
	close(a);
	close(b);
}

/* A read that arrives after a change was acknowledged by the other
 * tracker sees it, every time: a join request filed through one tracker
 * is in the owner's list_requests on the other at once. */
Test(tracker_sync, read_after_acknowledged_write)
{
	const char	*tok;
	int		 a, b, owner, i, stale = 0;
	char		*r;

	trk_start_both();
	a = trk_conn(0);
	owner = trk_conn(1);
	trk_user(owner, "owner", "pw");
	OK(owner, "create_group club");
	b = trk_conn(0);
	OK(b, "create_user joiner pw");
	tok = trk_login(b, "joiner", "pw");
	for (i = 0; i < 100; i++) {
		OK(b, "session joiner %s join_group club", tok);
		r = rq(owner, "list_requests club");
		stale += !has_line(strchr(r, '\n') + 1, "joiner");
		free(r);
		OK(owner, "reject_request club joiner");
		r = rq(b, "session joiner %s join_group club", tok);
		stale += strncmp(r, "OK", 2) != 0;
		free(r);
		OK(owner, "reject_request club joiner");
	}
	cr_assert_eq(stale, 0, "%d of 200 reads after an acknowledged change "
	    "on the other tracker did not see it", stale);
	close(a);
	close(b);
	close(owner);
}

/* Fire the same create on both trackers at once, many names in parallel:
 * exactly one of each pair may win. */
Test(tracker_sync, concurrent_creates_one_winner)
{
	enum { N = 40 };
	int	 fa[N], fb[N], i, wins, both;
	char	 line[128], tok_a[32], tok_b[32], *ra, *rb;
	int	 ca, cb;

	trk_start_both();
	ca = trk_conn(0);
	cb = trk_conn(1);
	OK(ca, "create_user racer_a pw");
	snprintf(tok_a, sizeof(tok_a), "%s", trk_login(ca, "racer_a", "pw"));
	OK(cb, "create_user racer_b pw");
	snprintf(tok_b, sizeof(tok_b), "%s", trk_login(cb, "racer_b", "pw"));

	for (int round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			fa[i] = trk_conn(0);
			fb[i] = trk_conn(1);
		}
		for (i = 0; i < N; i++) {
			if (round == 0)
				snprintf(line, sizeof(line),
				    "create_user same%d pw\n", i);
			else
				snprintf(line, sizeof(line), "session racer_a %s "
				    "create_group same%d\n", tok_a, i);
			send(fa[i], line, strlen(line), MSG_NOSIGNAL);
			if (round == 1)
				snprintf(line, sizeof(line), "session racer_b %s "
				    "create_group same%d\n", tok_b, i);
			send(fb[i], line, strlen(line), MSG_NOSIGNAL);
		}
		both = 0;
		for (i = 0; i < N; i++) {
			ra = h_read_reply(fa[i]);
			rb = h_read_reply(fb[i]);
			cr_assert(ra && rb, "no reply for same%d", i);
			wins = (strncmp(ra, "OK", 2) == 0) +
			    (strncmp(rb, "OK", 2) == 0);
			cr_assert_eq(wins, 1, "round %d same%d: %s / %s", round,
			    i, ra, rb);
			cr_assert(is_err_reply(strncmp(ra, "OK", 2) ? ra : rb,
			    NULL), "loser's reply: %s %s", ra, rb);
			both += strncmp(ra, "OK", 2) == 0;
			free(ra);
			free(rb);
			close(fa[i]);
			close(fb[i]);
		}
		cr_log_info("round %d: tracker 1 won %d of %d", round, both, N);
	}
	/* both trackers agree: every group exactly once */
	for (int k = 0; k < 2; k++) {
		int	 fd = k ? cb : ca;
		char	*r;

		trk_sleep_ms(200);
		r = rq(fd, "list_groups");
		cr_assert_eq(reply_count(r), N, "tracker %d: %.300s", k + 1, r);
		free(r);
	}
	close(ca);
	close(cb);
}

Test(tracker_sync, session_moves_to_other_tracker)
{
	int	 a, b, c;
	char	 tok[32], *r;

	trk_start_both();
	a = trk_conn(0);
	b = trk_conn(1);
	OK(a, "create_user mover pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "mover", "pw"));
	OK(a, "create_group mg");
	upload_ok(a, "mg", "movie.mkv", 3u << 20, 7001, 3);
	/* no new login on tracker 2: the token is known there */
	r = NULL;
	for (long end = trk_now_ms() + 2000; trk_now_ms() < end;) {
		free(r);
		r = rq(b, "session mover %s list_files mg", tok);
		if (reply_count(r) == 1)
			break;
		trk_sleep_ms(10);
	}
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(has_line(strchr(r, '\n') + 1, "movie.mkv"), "%s", r);
	free(r);
	OK(b, "session mover %s stop_share mg movie.mkv 127.0.0.1 7001", tok);
	/* tracker 1 dies: the client carries on with tracker 2 */
	cr_assert_eq(trk_stop(0), 0);
	c = trk_conn(1);
	OK(c, "session mover %s create_group mg2", tok);
	OK(c, "session mover %s logout", tok);
	ERR(c, "invalid_session", "session mover %s list_groups", tok);
	close(a);
	close(b);
	close(c);
}

Test(tracker_sync, seeder_lease_expires)
{
	int	 a, b;
	long	 start;
	char	*r;

	trk_opt("-t");
	trk_opt("2");
	trk_start_both();
	a = trk_conn(0);
	b = trk_conn(1);
	trk_user(a, "leaser", "pw");
	OK(a, "create_group lg");
	OK(b, "create_user watcher pw");
	trk_login(b, "watcher", "pw");
	OK(b, "join_group lg");
	OK(a, "accept_request lg watcher");
	upload_ok(a, "lg", "gone.bin", 1000, 7001, 4);
	cr_assert_geq(trk_poll_line(b, "list_files lg", "gone.bin", 1, 2000), 0,
	    "the upload never showed on tracker 2");
	/* the seeder vanishes without logout: after the lease, no tracker
	 * offers it */
	close(a);
	start = trk_now_ms();
	r = NULL;
	for (;;) {
		free(r);
		r = rq(b, "list_files lg");
		if (reply_count(r) == 0 || trk_now_ms() - start > 9000)
			break;
		trk_sleep_ms(100);
	}
	cr_assert_eq(reply_count(r), 0, "still listed after %ld ms: %s",
	    trk_now_ms() - start, r);
	cr_log_info("seeder dropped %ld ms after its last request",
	    trk_now_ms() - start);
	free(r);
	r = rq(b, "download_file lg gone.bin");
	cr_assert(strstr(r, "127.0.0.1:7001") == NULL, "%s", r);
	free(r);
	close(b);
}

/* The journal is compacted under both trackers while they serve: neither
 * loses anything, both go on writing, and a restart replays the new file. */
Test(tracker_sync, compaction_under_two_trackers)
{
	int	 a, b, i;
	char	*r, *log1, *log2, tok[32];
	size_t	 before;

	trk_opt("-o");
	trk_opt("compact=8192");
	trk_start_both();
	a = trk_conn(0);
	b = trk_conn(1);
	trk_user(a, "keeper", "pw");
	OK(a, "create_group kept");
	upload_ok(a, "kept", "kept.bin", 5000, 7001, 8);
	OK(b, "create_user other pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(b, "other", "pw"));
	OK(b, "join_group kept");
	/* dead lines: logins and logouts, on both trackers */
	for (i = 0; i < 150; i++) {
		int	fd = i % 2 ? b : a;
		char	t2[32];

		snprintf(t2, sizeof(t2), "%s", trk_login(fd, "keeper", "pw"));
		OK(fd, "session keeper %s logout", t2);
	}
	/* wait until a compaction happened (the master polls) */
	for (long end = trk_now_ms() + 5000;;) {
		log1 = h_read_file(T.log[0], NULL);
		log2 = h_read_file(T.log[1], NULL);
		i = strstr(log1, "compacted") || strstr(log2, "compacted");
		free(log1);
		free(log2);
		if (i)
			break;
		cr_assert_lt(trk_now_ms(), end, "no compaction");
		trk_sleep_ms(50);
	}
	free(h_read_file(T.journal, &before));
	cr_assert_lt(before, 150 * 2 * 60, "journal not smaller: %zu",
	    before);
	/* both trackers write after the switch and see each other */
	trk_login(a, "keeper", "pw");
	OK(a, "accept_request kept other");
	OK(b, "session other %s create_group after_compact", tok);
	cr_assert_geq(trk_poll_line(a, "list_groups", "after_compact", 1,
	    2000), 0);
	r = rq(b, "session other %s list_files kept", tok);
	cr_assert(strstr(r, "\nkept.bin 5000 ") != NULL, "%s", r);
	free(r);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_stop(1), 0);
	cr_assert_eq(trk_start(1), 0);
	close(a);
	close(b);
	a = trk_conn(1);
	trk_login(a, "keeper", "pw");
	r = rq(a, "list_groups");
	cr_assert(strstr(r, "\nkept keeper\n") && strstr(r,
	    "\nafter_compact other\n"), "%s", r);
	free(r);
	r = rq(a, "list_files kept");
	cr_assert(strstr(r, "\nkept.bin 5000 ") != NULL, "%s", r);
	free(r);
	close(a);
}
