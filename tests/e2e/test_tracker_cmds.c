/* trackerd end to end, one command at a time: every command's success and
 * its refusals over the wire, pipelining, and what reaches the journal. */
#include "tests/e2e/tracker_e2e.h"

static void
setup(void)
{
	trk_init();
	trk_start_both();
}

static void
teardown(void)
{
	trk_fini();
}

TestSuite(tracker_cmds, .init = setup, .fini = teardown, .timeout = 60);

Test(tracker_cmds, users_and_sessions)
{
	int		 a = trk_conn(0), b = trk_conn(0);
	char		 tok[32];

	OK(a, "create_user alice pw1");
	ERR(a, NULL, "create_user alice other");
	ERR(a, NULL, "create_user bad/name pw");
	ERR(a, NULL, "create_user .dot pw");
	ERR(a, NULL, "create_user %065d pw", 7);
	ERR(a, NULL, "create_user onlyname");
	ERR(a, NULL, "create_user x y z");
	ERR(a, NULL, "login alice wrong");
	ERR(a, NULL, "login nobody pw1");
	ERR(a, NULL, "list_groups");
	ERR(a, NULL, "create_group g");
	ERR(a, NULL, "frobnicate now");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "alice", "pw1"));
	OK(a, "list_groups");
	/* the session prefix works on any connection */
	OK(b, "session alice %s list_groups", tok);
	ERR(b, "invalid_session", "session alice AAAAAAAAAAAAAAAA list_groups");
	ERR(b, "invalid_session", "session bob %s list_groups", tok);
	ERR(b, NULL, "session alice");
	OK(a, "logout");
	ERR(a, NULL, "list_groups");
	ERR(b, "invalid_session", "session alice %s list_groups", tok);
	close(a);
	close(b);
}

Test(tracker_cmds, groups_membership_requests)
{
	int	a = trk_conn(0), b = trk_conn(0), c = trk_conn(0);
	char	*r;

	trk_user(a, "alice", "pa");
	trk_user(b, "bob", "pb");
	trk_user(c, "carol", "pc");
	OK(a, "create_group g1");
	ERR(a, NULL, "create_group g1");
	ERR(a, NULL, "create_group .g");
	ERR(a, NULL, "create_group");
	r = rq(b, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(strstr(r, "\ng1 alice\n") != NULL, "%s", r);
	free(r);

	ERR(b, "not_member", "list_files g1");
	ERR(b, "no_such_group", "list_files nog");
	ERR(b, "no_such_group", "join_group nog");
	OK(b, "join_group g1");
	ERR(b, NULL, "join_group g1");
	ERR(a, NULL, "join_group g1");		/* already a member */
	ERR(b, "not_owner", "list_requests g1");
	ERR(b, "not_owner", "accept_request g1 bob");
	OK(c, "join_group g1");
	r = rq(a, "list_requests g1");
	cr_assert_eq(reply_count(r), 2, "%s", r);
	cr_assert(has_line(r, "bob") && has_line(r, "carol"), "%s", r);
	free(r);
	OK(a, "accept_request g1 bob");
	ERR(a, NULL, "accept_request g1 bob");
	ERR(a, NULL, "accept_request g1 nobody");
	OK(a, "reject_request g1 carol");
	ERR(a, NULL, "reject_request g1 carol");
	r = rq(a, "list_requests g1");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
	ERR(c, "not_member", "list_files g1");
	r = rq(b, "list_files g1");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);

	/* the owner leaves: the longest-standing member takes over */
	ERR(c, "not_member", "leave_group g1");
	ERR(c, "no_such_group", "leave_group nog");
	OK(a, "leave_group g1");
	ERR(a, "not_member", "list_files g1");
	r = rq(c, "list_groups");
	cr_assert(strstr(r, "\ng1 bob\n") != NULL, "%s", r);
	free(r);
	OK(c, "join_group g1");
	r = rq(b, "list_requests g1");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	/* the last member leaves: the group is gone */
	OK(b, "leave_group g1");
	r = rq(c, "list_groups");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
	ERR(c, "no_such_group", "list_files g1");
	close(a);
	close(b);
	close(c);
}

static void
member_pair(int a, int b, const char *group)
{
	trk_user(a, "alice", "pa");
	trk_user(b, "bob", "pb");
	OK(a, "create_group %s", group);
	OK(b, "join_group %s", group);
	OK(a, "accept_request %s bob", group);
}

Test(tracker_cmds, files_upload_download_stop)
{
	int	 a = trk_conn(0), b = trk_conn(0), c = trk_conn(0);
	char	*r, *l, sha[41], line[512];

	member_pair(a, b, "g");
	trk_user(c, "carol", "pc");
	upload_ok(a, "g", "f1", 1000, 7001, 1);
	r = rq(b, "list_files g");
	fake_sha1(1, sha);
	snprintf(line, sizeof(line), "\nf1 1000 %s 1\n", sha);
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(strstr(r, line) != NULL, "want%s got %s", line, r);
	free(r);

	/* the same content from another seeder adds it */
	upload_ok(b, "g", "f1", 1000, 7002, 1);
	r = rq(b, "download_file g f1");
	cr_assert(strncmp(r, "OK 1000 ", 8) == 0, "%s", r);
	cr_assert(strstr(r, sha) != NULL, "%s", r);
	cr_assert(strstr(r, " 2 ") != NULL, "%s", r);
	cr_assert(strstr(r, "127.0.0.1:7001") && strstr(r, "127.0.0.1:7002"),
	    "%s", r);
	free(r);
	/* other content under the same name is refused */
	l = upload_line("g", "f1", 1000, "127.0.0.1", 7003, 2);
	ERR(b, NULL, "%s", l);
	free(l);

	/* malformed uploads */
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 7001 %s 2 %s %s", sha,
	    sha, sha);			/* 2 pieces for 1000 bytes */
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 7001 %s 1 %.39sz", sha,
	    sha);
	ERR(a, NULL, "upload_file g f2 -5 127.0.0.1 7001 %s 1 %s", sha, sha);
	ERR(a, NULL, "upload_file g f2 1e3 127.0.0.1 7001 %s 1 %s", sha, sha);
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 0 %s 1 %s", sha, sha);
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 70000 %s 1 %s", sha,
	    sha);
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 7001 %s 1", sha);
	ERR(a, NULL, "upload_file g f2 1000 127.0.0.1 7001 %s 1 %s %s", sha,
	    sha, sha);
	ERR(a, NULL, "upload_file g ../etc 1000 127.0.0.1 7001 %s 1 %s", sha,
	    sha);
	ERR(a, NULL, "upload_file g f2 99999999999999999999999 127.0.0.1 7001 "
	    "%s 1 %s", sha, sha);
	/* a seeder address must be the connection's own IP */
	l = upload_line("g", "f3", 1000, "10.1.2.3", 7001, 3);
	ERR(a, NULL, "%s", l);
	free(l);
	l = upload_line("g", "f3", 1000, "not.an.ip", 7001, 3);
	ERR(a, NULL, "%s", l);
	free(l);
	l = upload_line("g", "f3", 1000, "127.0.0.1", 7001, 3);
	ERR(c, "not_member", "%s", l);
	free(l);
	l = upload_line("nog", "f3", 1000, "127.0.0.1", 7001, 3);
	ERR(a, "no_such_group", "%s", l);
	free(l);
	ERR(c, "not_member", "download_file g f1");
	ERR(b, NULL, "download_file g nofile");
	ERR(b, "no_such_group", "download_file nog f1");

	/* stop_share: only one's own seeder */
	ERR(a, NULL, "stop_share g f1 127.0.0.1 7002");
	ERR(b, NULL, "stop_share g nofile 127.0.0.1 7002");
	OK(b, "stop_share g f1 127.0.0.1 7002");
	ERR(b, NULL, "stop_share g f1 127.0.0.1 7002");
	r = rq(b, "download_file g f1");
	cr_assert(strstr(r, "127.0.0.1:7002") == NULL, "%s", r);
	cr_assert(strstr(r, "127.0.0.1:7001") != NULL, "%s", r);
	free(r);
	OK(a, "stop_share g f1 127.0.0.1 7001");
	r = rq(b, "list_files g");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
	close(a);
	close(b);
	close(c);
}

Test(tracker_cmds, big_file_hash_list)
{
	int	 a = trk_conn(0), b = trk_conn(0);
	char	*r, *p;
	long	 words = 0;

	member_pair(a, b, "g");
	/* 1 GiB: 2048 pieces, an 84 KB request line */
	upload_ok(a, "g", "big.iso", 1ull << 30, 7001, 9);
	r = rq(b, "download_file g big.iso");
	cr_assert(strncmp(r, "OK 1073741824 ", 14) == 0, "%.200s", r);
	for (p = r; (p = strchr(p, ' ')) != NULL; p++)
		words++;
	/* OK size sha n h*2048 m ip:port */
	cr_assert_eq(words, 2048 + 5, "words %ld", words);
	free(r);
	/* only upload_file may be that long */
	r = malloc(10000);
	memset(r, 'a', 9999);
	r[9999] = '\0';
	ERR(b, "too_long", "list_files %s", r);
	ERR(b, "too_long", "rid 0123456789abcdef0123456789abcdef list_files %s",
	    r);
	free(r);
	/* peerd's form, with a session and a request id, as long */
	p = upload_line("g", "big2.iso", 1ull << 30, "127.0.0.1", 7002, 10);
	r = rq(b, "session bob %s rid 0123456789abcdef0123456789abcdef %s",
	    trk_login(b, "bob", "pb"), p);
	cr_assert_str_eq(r, "OK file_uploaded\nEND_OF_REPLY\n");
	free(r);
	free(p);
	close(a);
	close(b);
}

Test(tracker_cmds, logout_stops_shares)
{
	int	 a = trk_conn(0), b = trk_conn(0);
	char	*r;

	member_pair(a, b, "g");
	upload_ok(a, "g", "f", 4096, 7001, 5);
	r = rq(b, "list_files g");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	OK(a, "logout");
	r = rq(b, "list_files g");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
	close(a);
	close(b);
}

Test(tracker_cmds, pipelined_in_order)
{
	int	 a = trk_conn(0);
	char	*req = malloc(1 << 16), *r, *p;
	size_t	 len = 0;
	int	 i, n = 0;

	OK(a, "create_user pipe pw");
	/* a login (hashed off the event loop) first: later replies wait */
	len += sprintf(req + len, "login pipe pw\n");
	n++;
	for (i = 0; i < 60; i++) {
		if (i % 3 == 0)
			len += sprintf(req + len, "create_group pg%d\n", i);
		else if (i % 3 == 1)
			len += sprintf(req + len, "list_files pg%d\n", i - 1);
		else
			len += sprintf(req + len, "list_files nog%d\r\n\n", i);
		n++;
	}
	cr_assert_eq(send(a, req, len, MSG_NOSIGNAL), (ssize_t)len);
	r = read_replies(a, n);
	p = r;
	cr_assert(strncmp(p, "OK login_success ", 17) == 0, "%.200s", p);
	p = strstr(p, "END_OF_REPLY\n") + 13;
	for (i = 0; i < 60; i++) {
		if (i % 3 == 2)
			cr_assert(strncmp(p, "ERR no_such_group", 17) == 0,
			    "reply %d: %.100s", i, p);
		else if (i % 3 == 1)
			cr_assert(strncmp(p, "OK 0\n", 5) == 0,
			    "reply %d: %.100s", i, p);
		else
			cr_assert(strncmp(p, "OK", 2) == 0,
			    "reply %d: %.100s", i, p);
		p = strstr(p, "END_OF_REPLY\n");
		cr_assert_not_null(p, "reply %d missing", i);
		p += 13;
	}
	cr_assert_eq(*p, '\0', "extra output: %.100s", p);
	free(r);
	free(req);
	close(a);
}

Test(tracker_cmds, no_clear_password_in_journal)
{
	int	 a = trk_conn(0), b = trk_conn(1);
	char	*j;

	OK(a, "create_user secretive Xyzzy-Plugh-42");
	trk_login(a, "secretive", "Xyzzy-Plugh-42");
	trk_login(b, "secretive", "Xyzzy-Plugh-42");
	ERR(b, NULL, "login secretive Wr0ng-Pa55word");
	j = h_read_file(T.journal, NULL);
	cr_assert_not_null(j, "no journal at %s", T.journal);
	cr_assert(strstr(j, "secretive") != NULL, "user not journaled");
	cr_assert(strstr(j, "Xyzzy-Plugh-42") == NULL, "clear password");
	cr_assert(strstr(j, "Wr0ng-Pa55word") == NULL, "clear password");
	free(j);
	close(a);
	close(b);
}

/* Bursts of writes over many connections to both trackers, then silence:
 * every reply arrives (each waits for its journal line to be durable; the
 * workers' syncs cover each other's lines). */
Test(tracker_cmds, write_bursts_all_answered)
{
	enum { C = 32, ROUNDS = 15 };
	int	 fd[C], a, i, k;
	char	 tok[32], line[128], *r;
	long	 t0;

	a = trk_conn(0);
	OK(a, "create_user bursty pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "bursty", "pw"));
	trk_sleep_ms(100);	/* the session reaches tracker 2 */
	for (i = 0; i < C; i++)
		fd[i] = trk_conn(i % 2);
	for (k = 0; k < ROUNDS; k++) {
		t0 = trk_now_ms();
		for (i = 0; i < C; i++) {
			snprintf(line, sizeof(line), "session bursty %s "
			    "create_group r%d_%d\n", tok, k, i);
			send(fd[i], line, strlen(line), MSG_NOSIGNAL);
		}
		for (i = 0; i < C; i++) {
			r = h_read_reply(fd[i]);
			cr_assert_not_null(r, "round %d: no reply on %d", k, i);
			cr_assert(strncmp(r, "OK", 2) == 0, "%s", r);
			free(r);
		}
		cr_assert_lt(trk_now_ms() - t0, 2000, "round %d: %ld ms", k,
		    trk_now_ms() - t0);
		trk_sleep_ms(k % 3 * 20);
	}
	for (i = 0; i < C; i++)
		close(fd[i]);
	close(a);
}
