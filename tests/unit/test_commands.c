/* cmd_execute on golden request lines against a real tracker state in a
 * temporary directory: every command's success and every refusal. */
#include <pthread.h>
#include <time.h>

#include "tests/unit/tracker_fixture.h"
#include "trackerd/journal.h"
#include "trackerd/keys.h"

static struct tracker	*T;
static struct client	 A, B, C;

static void
setup(void)
{
	fx_setup_dir();
	T = fx_open(&fx_cfg);
	fx_client(&A, "127.0.0.1");
	fx_client(&B, "127.0.0.2");
	fx_client(&C, "127.0.0.3");
}

static void
teardown(void)
{
	tracker_destroy(T);
	fx_remove_dir();
}

TestSuite(commands, .init = setup, .fini = teardown);

Test(commands, create_user_and_login)
{
	char	line[200], *r;

	fx_expect(T, &A, "create_user alice secret", "OK user_created\n");
	fx_expect(T, &A, "create_user alice other", "ERR user_exists ");
	fx_expect(T, &A, "create_user bad/name pw", "ERR bad_request ");
	fx_expect(T, &A, "create_user .dot pw", "ERR bad_request ");
	fx_expect(T, &A, "create_user bob", "ERR bad_request ");
	fx_expect(T, &A, "create_user bob pw extra", "ERR bad_request ");
	memset(line, 'p', sizeof(line));
	memcpy(line, "create_user bob ", 16);
	line[16 + 129] = '\0';
	fx_expect(T, &A, line, "ERR bad_request ");
	fx_expect(T, &A, "login alice wrong", "ERR invalid_credentials ");
	fx_expect(T, &A, "login nobody secret", "ERR invalid_credentials ");
	cr_assert_str_empty(A.token);
	r = fx_req(T, &A, "login alice secret");
	cr_assert(strncmp(r, "OK login_success ", 17) == 0, "%s", r);
	cr_assert_eq(strspn(r + 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
	    "pqrstuvwxyz0123456789"), 16, "%s", r);
	cr_assert_str_eq(r + 33, "\nEND_OF_REPLY\n");
	cr_assert_str_eq(A.user, "alice");
}

Test(commands, tokens_differ)
{
	char	t1[TOKEN_LEN + 1];

	fx_login(T, &A, "alice", 1);
	strcpy(t1, A.token);
	fx_login(T, &B, "alice", 0);
	cr_assert_str_neq(t1, B.token);
}

Test(commands, no_password_in_journal)
{
	char	*j;
	FILE	*f;
	long	 n;

	fx_expect(T, &A, "create_user alice Sup3rS3cret!", "OK user_created");
	fx_expect(T, &A, "login alice Sup3rS3cret!", "OK login_success");
	cr_assert_not_null(f = fopen(fx_journal, "r"));
	j = calloc(1, 1 << 16);
	n = (long)fread(j, 1, (1 << 16) - 1, f);
	fclose(f);
	cr_assert_gt(n, 0);
	cr_assert_null(strstr(j, "Sup3rS3cret"));
	cr_assert_not_null(strstr(j, " user alice 1 1000 "));
	free(j);
}

Test(commands, needs_a_session)
{
	const char	*cmds[] = { "logout", "touch", "create_group g",
	    "join_group g", "leave_group g", "list_requests g",
	    "accept_request g u", "reject_request g u", "list_groups",
	    "list_files g", "download_file g f", "stop_share g f 1.2.3.4 5" };
	size_t		i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fx_expect(T, &A, cmds[i], "ERR not_logged_in ");
}

Test(commands, session_prefix)
{
	char	line[256], tok[TOKEN_LEN + 1];

	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	strcpy(tok, A.token);
	fx_expect(T, &C, "session alice AAAAAAAAAAAAAAAA list_groups",
	    "ERR invalid_session ");
	snprintf(line, sizeof(line), "session bob %s list_groups", tok);
	fx_expect(T, &C, line, "ERR invalid_session ");
	fx_expect(T, &C, "session alice", "ERR bad_request ");
	fx_expect(T, &C, "session alice short list_groups",
	    "ERR invalid_session ");
	cr_assert_str_empty(C.token);
	/* a prefix is checked whatever the request */
	fx_expect(T, &C, "session alice AAAAAAAAAAAAAAAA create_user x pw",
	    "ERR invalid_session ");
	snprintf(line, sizeof(line), "session alice %s create_group g1", tok);
	fx_expect(T, &C, line, "OK group_created\n");
	/* the connection is now authenticated as alice */
	cr_assert_str_eq(C.user, "alice");
	fx_expect(T, &C, "list_groups", "OK 1\ng1 alice\nEND_OF_REPLY\n");
	/* logout on one connection ends the session for all */
	fx_expect(T, &A, "logout", "OK logout_success\n");
	fx_expect(T, &A, "list_groups", "ERR not_logged_in ");
	fx_expect(T, &C, "list_groups", "ERR invalid_session ");
	fx_expect(T, &C, line, "ERR invalid_session ");
	fx_expect(T, &B, "list_groups", "OK 1\n");
}

Test(commands, unknown_empty_and_too_long)
{
	char	*l;

	fx_expect(T, &A, "frobnicate now", "ERR unknown_command ");
	fx_expect(T, &A, "test_hold_lock 10", "ERR unknown_command ");
	fx_expect(T, &A, "   ", "ERR bad_request ");
	l = malloc(5000);
	memset(l, 'x', 4999);
	memcpy(l, "list_files ", 11);
	l[4999] = '\0';
	fx_expect(T, &A, l, "ERR too_long ");
	free(l);
}

Test(commands, groups_and_requests)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &C, "carol", 1);
	fx_expect(T, &A, "create_group g1", "OK group_created\n");
	fx_expect(T, &A, "create_group g1", "ERR group_exists ");
	fx_expect(T, &B, "create_group g1", "ERR group_exists ");
	fx_expect(T, &A, "create_group .g", "ERR bad_request ");
	fx_expect(T, &A, "create_group", "ERR bad_request ");
	fx_expect(T, &B, "join_group nog", "ERR no_such_group ");
	fx_expect(T, &A, "join_group g1", "ERR already_member ");
	fx_expect(T, &B, "join_group g1", "OK request_sent\n");
	fx_expect(T, &B, "join_group g1", "ERR request_exists ");
	fx_expect(T, &C, "join_group g1", "OK request_sent\n");
	fx_expect(T, &B, "list_requests g1", "ERR not_owner ");
	fx_expect(T, &A, "list_requests nog", "ERR no_such_group ");
	fx_expect(T, &A, "list_requests g1",
	    "OK 2\nbob\ncarol\nEND_OF_REPLY\n");
	fx_expect(T, &B, "accept_request g1 bob", "ERR not_owner ");
	fx_expect(T, &A, "accept_request g1 nobody", "ERR no_such_user ");
	fx_expect(T, &A, "accept_request g1 alice", "ERR no_such_request ");
	fx_expect(T, &A, "accept_request g1 b/d", "ERR bad_request ");
	fx_expect(T, &A, "accept_request g1 bob", "OK request_accepted\n");
	fx_expect(T, &A, "accept_request g1 bob", "ERR no_such_request ");
	fx_expect(T, &A, "reject_request g1 carol", "OK request_rejected\n");
	fx_expect(T, &A, "reject_request g1 carol", "ERR no_such_request ");
	fx_expect(T, &A, "list_requests g1", "OK 0\nEND_OF_REPLY\n");
	fx_expect(T, &B, "list_files g1", "OK 0\n");
	fx_expect(T, &C, "list_files g1", "ERR not_member ");
	fx_expect(T, &B, "join_group g1", "ERR already_member ");
	fx_expect(T, &C, "list_groups", "OK 1\ng1 alice\nEND_OF_REPLY\n");
}

Test(commands, owner_leaves_and_group_empties)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &C, "carol", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &C, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g carol", "OK request_accepted");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
	fx_expect(T, &C, "leave_group nog", "ERR no_such_group ");
	fx_expect(T, &A, "leave_group g", "OK left_group\n");
	/* carol joined before bob: she is the longest-standing member */
	fx_expect(T, &B, "list_groups", "OK 1\ng carol\nEND_OF_REPLY\n");
	fx_expect(T, &A, "leave_group g", "ERR not_member ");
	fx_expect(T, &A, "list_files g", "ERR not_member ");
	fx_expect(T, &C, "list_requests g", "OK 0\n");
	fx_expect(T, &C, "leave_group g", "OK left_group");
	fx_expect(T, &B, "list_groups", "OK 1\ng bob\n");
	fx_expect(T, &A, "join_group g", "OK request_sent");
	fx_expect(T, &B, "leave_group g", "OK left_group");
	fx_expect(T, &B, "list_groups", "OK 0\nEND_OF_REPLY\n");
	fx_expect(T, &B, "list_files g", "ERR no_such_group ");
	/* the name is free again, and alice's old request went with it */
	fx_expect(T, &B, "create_group g", "OK group_created");
	fx_expect(T, &B, "list_requests g", "OK 0\n");
}

static void
file_group(void)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &C, "carol", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
}

/* A peerd still downloading registers as a partial seeder: listed to
 * peerd's form of download_file, never to the seed client's, until it
 * registers again as complete. It cannot create a file. */
Test(commands, partial_seeders_only_to_peerd)
{
	char	*l, *lp, *r;

	file_group();
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.1", 7001, 3);
	fx_expect(T, &A, l, "OK file_uploaded\n");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.2", 7002, 3);
	cr_assert_geq(asprintf(&lp, "%s partial", l), 0);
	fx_expect(T, &B, lp, "OK file_uploaded\n");
	r = fx_req(T, &B, "download_file g f1");
	cr_assert_not_null(strstr(r, " 1 127.0.0.1:7001\nEND_OF_REPLY\n"),
	    "%s", r);
	r = fx_req(T, &B, "download_file g f1 partial");
	cr_assert_not_null(strstr(r, " 2 127.0.0.1:7001 127.0.0.2:7002\n"),
	    "%s", r);
	fx_expect(T, &B, "download_file g f1 all", "ERR bad_request ");
	fx_expect(T, &B, l, "OK file_uploaded\n");	/* now complete */
	r = fx_req(T, &B, "download_file g f1");
	cr_assert_not_null(strstr(r, " 2 127.0.0.1:7001 127.0.0.2:7002\n"),
	    "%s", r);
	free(l);
	free(lp);
	l = fx_upload_line("g", "f9", 1000000, "127.0.0.2", 7002, 3);
	cr_assert_geq(asprintf(&lp, "%s partial", l), 0);
	fx_expect(T, &B, lp, "ERR no_such_file ");
	free(l);
	free(lp);
}

Test(commands, upload_list_download_stop)
{
	char	*l, *r, want[256];

	file_group();
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.1", 7001, 3);
	fx_expect(T, &A, l, "OK file_uploaded\n");
	fx_expect(T, &A, l, "OK file_uploaded\n");	/* idempotent */
	fx_expect(T, &B, l, "ERR bad_address ");	/* not bob's IP */
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.3", 7003, 3);
	fx_expect(T, &C, l, "ERR not_member ");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.2", 7002, 3);
	fx_expect(T, &B, l, "OK file_uploaded\n");	/* second seeder */
	free(l);
	l = fx_upload_line("g", "f1", 1000001, "127.0.0.2", 7002, 3);
	fx_expect(T, &B, l, "ERR file_conflict ");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.2", 7002, 4);
	fx_expect(T, &B, l, "ERR file_conflict ");
	free(l);
	r = fx_req(T, &B, "list_files g");
	cr_assert_str_eq(r, "OK 1\nf1 1000000 3456789abcdef0123456789abcdef"
	    "0123456789a 2\nEND_OF_REPLY\n");
	r = fx_req(T, &B, "download_file g f1");
	snprintf(want, sizeof(want), "OK 1000000 %s 2 ",
	    "3456789abcdef0123456789abcdef0123456789a");
	cr_assert(strncmp(r, want, strlen(want)) == 0, "%s", r);
	cr_assert_not_null(strstr(r, " 2 127.0.0.1:7001 127.0.0.2:7002\n"
	    "END_OF_REPLY\n"), "%s", r);
	fx_expect(T, &B, "download_file g nofile", "ERR no_such_file ");
	fx_expect(T, &B, "download_file nog f1", "ERR no_such_group ");
	fx_expect(T, &C, "download_file g f1", "ERR not_member ");
	fx_expect(T, &B, "stop_share g f1 127.0.0.1 7001", "ERR not_seeder ");
	fx_expect(T, &A, "stop_share g f1 127.0.0.1 7009", "ERR not_seeder ");
	fx_expect(T, &A, "stop_share g nofile 127.0.0.1 7001",
	    "ERR no_such_file ");
	fx_expect(T, &A, "stop_share g f1 127.0.0.1 0", "ERR bad_request ");
	fx_expect(T, &A, "stop_share g f1 127.0.0.1 7001", "OK share_stopped\n");
	fx_expect(T, &B, "list_files g", "OK 1\n");
	fx_expect(T, &B, "stop_share g f1 127.0.0.2 7002", "OK share_stopped\n");
	fx_expect(T, &B, "list_files g", "OK 0\n");
	fx_expect(T, &B, "download_file g f1", "ERR no_such_file ");
	/* with no seeder left the name can take other content */
	l = fx_upload_line("g", "f1", 5, "127.0.0.2", 7002, 9);
	fx_expect(T, &B, l, "OK file_uploaded\n");
	free(l);
}

Test(commands, upload_refusals)
{
	const char	*sha = "0123456789abcdef0123456789abcdef01234567";
	char		 l[512];

	file_group();
#define UP(fmt, ...) do {						\
	snprintf(l, sizeof(l), "upload_file g " fmt, __VA_ARGS__);	\
	fx_expect(T, &A, l, "ERR ");					\
} while (0)
	UP("f2 1000 127.0.0.1 7001 %s 2 %s %s", sha, sha, sha);
	UP("f2 1000 127.0.0.1 7001 %s 1 %.39sz", sha, sha);
	UP("f2 -5 127.0.0.1 7001 %s 1 %s", sha, sha);
	UP("f2 1e3 127.0.0.1 7001 %s 1 %s", sha, sha);
	UP("f2 1000 127.0.0.1 0 %s 1 %s", sha, sha);
	UP("f2 1000 127.0.0.1 70000 %s 1 %s", sha, sha);
	UP("f2 1000 127.0.0.1 7001 %s 1", sha);
	UP("f2 1000 127.0.0.1 7001 %s 1 %s %s", sha, sha, sha);
	UP("../etc 1000 127.0.0.1 7001 %s 1 %s", sha, sha);
	UP("f2 99999999999999999999999 127.0.0.1 7001 %s 1 %s", sha, sha);
	UP("f2 %llu 127.0.0.1 7001 %s 1 %s", 65ull << 30, sha, sha);
	UP("f2 1000 127.0.0.256 7001 %s 1 %s", sha, sha);
	UP("f2 1000 127.0.0.1 7001 %.39s 1 %s", sha, sha);
	snprintf(l, sizeof(l), "upload_file nog f2 1000 127.0.0.1 7001 %s 1 %s",
	    sha, sha);
	fx_expect(T, &A, l, "ERR no_such_group ");
	fx_expect(T, &A, "upload_file g f2 1000", "ERR bad_request ");
	fx_expect(T, &A, "list_files g", "OK 0\n");
#undef UP
}

Test(commands, leave_and_logout_stop_shares)
{
	char	*l;

	file_group();
	l = fx_upload_line("g", "fa", 10, "127.0.0.1", 7001, 1);
	fx_expect(T, &A, l, "OK file_uploaded");
	free(l);
	l = fx_upload_line("g", "fb", 10, "127.0.0.2", 7002, 2);
	fx_expect(T, &B, l, "OK file_uploaded");
	free(l);
	fx_expect(T, &A, "list_files g", "OK 2\n");
	fx_expect(T, &B, "logout", "OK logout_success");
	fx_expect(T, &A, "list_files g", "OK 1\nfa ");
	fx_login(T, &B, "bob", 0);
	l = fx_upload_line("g", "fb", 10, "127.0.0.2", 7002, 2);
	fx_expect(T, &B, l, "OK file_uploaded");
	free(l);
	fx_expect(T, &A, "list_files g", "OK 2\n");
	fx_expect(T, &B, "leave_group g", "OK left_group");
	fx_expect(T, &A, "list_files g", "OK 1\nfa ");
}

Test(commands, lease_expiry_and_touch)
{
	struct session_rec	*s;
	char			*l;
	uint32_t		 si;

	file_group();
	l = fx_upload_line("g", "fa", 10, "127.0.0.2", 7002, 1);
	fx_expect(T, &B, l, "OK file_uploaded");
	free(l);
	/* bob's peer goes silent past the lease */
	state_lock_meta(T);
	si = state_find_session_locked(T, B.token);
	cr_assert_neq(si, NIL);
	s = SESSION(T, si);
	s->last_touch -= fx_cfg.lease_seconds + 5;
	s->journaled_touch = s->last_touch;
	state_unlock_meta(T);
	fx_expect(T, &A, "list_files g", "OK 0\n");
	fx_expect(T, &A, "download_file g fa", "OK 10 ");
	cr_assert_not_null(strstr(fx_req(T, &A, "download_file g fa"),
	    " 0\nEND_OF_REPLY\n"));
	fx_expect(T, &B, "touch", "OK touched\n");
	fx_expect(T, &A, "list_files g", "OK 1\n");
	/* while nobody offers it, its name may take other content */
	state_lock_meta(T);
	s->last_touch -= fx_cfg.lease_seconds + 5;
	state_unlock_meta(T);
	l = fx_upload_line("g", "fa", 20, "127.0.0.1", 7001, 2);
	fx_expect(T, &A, l, "OK file_uploaded");
	free(l);
	fx_expect(T, &A, "download_file g fa", "OK 20 ");
	cr_assert_not_null(strstr(fx_req(T, &A, "download_file g fa"),
	    " 1 127.0.0.1:7001\nEND_OF_REPLY\n"));
}

Test(commands, touch_is_journaled_rarely)
{
	uint64_t	s1 = 0, s2 = 1;

	fx_login(T, &A, "alice", 1);
	fx_req_seq(T, &A, "touch", &s1);
	cr_assert_eq(s1, 0, "a fresh session's touch was journaled");
	state_lock_meta(T);
	SESSION(T, state_find_session_locked(T, A.token))->journaled_touch -=
	    1000;
	state_unlock_meta(T);
	fx_req_seq(T, &A, "touch", &s2);
	cr_assert_gt(s2, 0, "a stale touch was not journaled");
	fx_req_seq(T, &A, "touch", &s1);
	cr_assert_eq(s1, 0);
}

Test(commands, durable_seq_per_policy)
{
	uint64_t	seq = 0;

	fx_req_seq(T, &A, "create_user alice pw-alice", &seq);
	cr_assert_eq(seq, 1);
	fx_login(T, &A, "alice", 0);
	fx_req_seq(T, &A, "create_group g", &seq);
	cr_assert_eq(seq, 3);
	fx_req_seq(T, &A, "list_groups", &seq);
	cr_assert_eq(seq, 0);
	fx_req_seq(T, &A, "create_group g", &seq);
	cr_assert_eq(seq, 0, "a refusal needs no sync");
	cr_assert_geq(journal_sync(T), 3);
	cr_assert_geq(journal_durable_seq(T), 3);
}

Test(commands, full_tables)
{
	struct tracker_config	cfg = fx_cfg;
	struct tracker		*t;
	struct client		 c;
	char			 line[64], *l;
	int			 i;

	tracker_destroy(T);
	cfg.max_users = 2;
	cfg.max_groups = 1;
	cfg.max_sessions = 2;
	cfg.max_files = 1;
	T = t = fx_open(&cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user u1 pw-u1", "OK user_created");
	fx_expect(t, &c, "create_user u2 pw-u2", "OK user_created");
	fx_expect(t, &c, "create_user u3 pw", "ERR full ");
	fx_expect(t, &c, "login u1 pw-u1", "OK login_success");
	fx_expect(t, &c, "login u1 pw-u1", "OK login_success");
	fx_expect(t, &c, "login u1 pw-u1", "ERR full ");
	/* a session past its lease makes room */
	state_lock_meta(t);
	SESSION(t, 1)->last_touch -= cfg.lease_seconds + 1;
	state_unlock_meta(t);
	fx_expect(t, &c, "login u1 pw-u1", "OK login_success");
	fx_expect(t, &c, "login u1 pw-u1", "ERR full ");
	cr_assert_eq(state_free_count(t, T_SESSION), 0);
	fx_expect(t, &c, "create_group g1", "OK group_created");
	fx_expect(t, &c, "create_group g2", "ERR full ");
	l = fx_upload_line("g1", "f1", 1, "127.0.0.1", 1, 1);
	fx_expect(t, &c, l, "OK file_uploaded");
	free(l);
	l = fx_upload_line("g1", "f2", 1, "127.0.0.1", 1, 1);
	fx_expect(t, &c, l, "ERR full ");
	free(l);
	fx_expect(t, &c, "list_groups", "OK 1\ng1 u1\nEND_OF_REPLY\n");
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "create_user x%d pw", i);
		fx_expect(t, &c, line, "ERR full ");
	}
}

Test(commands, state_survives_restart)
{
	char	*l, tok[TOKEN_LEN + 1], line[128];

	file_group();
	l = fx_upload_line("g", "fa", 1 << 20, "127.0.0.1", 7001, 1);
	fx_expect(T, &A, l, "OK file_uploaded");
	free(l);
	fx_expect(T, &C, "join_group g", "OK request_sent");
	strcpy(tok, A.token);
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
	fx_client(&A, "127.0.0.1");
	snprintf(line, sizeof(line), "session alice %s list_files g", tok);
	fx_expect(T, &A, line, "OK 1\nfa 1048576 ");
	fx_expect(T, &A, "list_requests g", "OK 1\ncarol\n");
	fx_expect(T, &A, "list_groups", "OK 1\ng alice\n");
	fx_expect(T, &A, "create_user bob x", "ERR user_exists ");
	fx_expect(T, &A, "login bob pw-bob", "OK login_success ");
}

/* The production build has no test hooks, whatever the environment says
 * (they exist only in tests/e2e/trackerd-test, built with -DTEST_HOOKS). */
Test(commands, no_test_hooks_in_production)
{
	setenv("TRACKERD_TEST_HOOKS", "1", 1);
	fx_expect(T, &A, "test_hold_lock 1", "ERR unknown_command ");
	fx_expect(T, &A, "test_hold_lock_dirty 1", "ERR unknown_command ");
	unsetenv("TRACKERD_TEST_HOOKS");
	fx_expect(T, &A, "create_user hook_dirty pw", "OK user_created");
}

Test(commands, bad_names_everywhere)
{
	const char	*cmds[] = { "create_group a/b", "join_group ../g",
	    "leave_group .g", "list_requests g!", "accept_request g b/c",
	    "reject_request g .u", "list_files a\\b", "download_file g ..",
	    "download_file g/ f", "stop_share g .f 127.0.0.1 1",
	    "stop_share g f 127.0.0 1", "stop_share g f 127.0.0.1 65536" };
	size_t		i;

	fx_login(T, &A, "alice", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fx_expect(T, &A, cmds[i], "ERR bad_request ");
	fx_expect(T, &A, "list_groups", "OK 1\ng alice\nEND_OF_REPLY\n");
}

Test(commands, argument_counts)
{
	const char	*cmds[] = { "login alice", "logout now", "touch x",
	    "create_group a b", "join_group", "leave_group a b",
	    "list_requests", "accept_request g", "reject_request g u v",
	    "list_groups x", "list_files", "download_file g",
	    "stop_share g f 127.0.0.1", "upload_file g f 1 127.0.0.1 1 x" };
	size_t		i;

	fx_login(T, &A, "alice", 1);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *r = fx_req(T, &A, cmds[i]);

		cr_assert(strncmp(r, "ERR bad_request usage: ", 23) == 0,
		    "%s -> %s", cmds[i], r);
		cr_assert_eq(strchr(r, '\n'), strstr(r, "\nEND_OF_REPLY\n"),
		    "more than one line: %s", r);
	}
}

Test(commands, full_memberships_and_requests)
{
	struct tracker_config	cfg = fx_cfg;

	tracker_destroy(T);
	cfg.max_members = 2;
	cfg.max_requests = 1;
	T = fx_open(&cfg);
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &C, "carol", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &C, "join_group g", "ERR full ");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
	fx_expect(T, &C, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g carol", "ERR full ");
	fx_expect(T, &C, "create_group h", "ERR full ");
	fx_expect(T, &A, "list_requests g", "OK 1\ncarol\n");
	fx_expect(T, &A, "reject_request g carol", "OK request_rejected");
}

/*
 * download_file reads a file under its bucket only, while another worker
 * may touch a seeder's session (under meta) at any moment: the seeder
 * count it prints must still match the addresses that follow it (it was
 * counted in one pass and listed in another, so a seeder coming back to
 * life in between was listed but not counted).
 */
static volatile int		 toggle_stop;
static struct session_rec	*toggle_s;

static void *
toggle_touch(void *arg)
{
	uint64_t	now = (uint64_t)time(NULL);

	(void)arg;
	while (!toggle_stop) {
		__atomic_store_n(&toggle_s->last_touch, 1, __ATOMIC_RELAXED);
		for (volatile int k = 0; k < 2000; k++)
			;
		__atomic_store_n(&toggle_s->last_touch, now + 60,
		    __ATOMIC_RELAXED);
		for (volatile int k = 0; k < 2000; k++)
			;
	}
	return NULL;
}

static int
count_words(const char *s)
{
	int	n = 0;

	for (; *s != '\0' && *s != '\n'; s++)
		if (*s == ' ')
			n++;
	return n;
}

Test(commands, download_seeder_count_matches_list)
{
	pthread_t	 th;
	char		*l, *r, *p;
	long		 m;
	int		 i, bad = 0;

	file_group();
	l = fx_upload_line("g", "big", 400ull * PIECE_SIZE, "127.0.0.1", 7001, 3);
	fx_expect(T, &A, l, "OK file_uploaded\n");
	free(l);
	l = fx_upload_line("g", "big", 400ull * PIECE_SIZE, "127.0.0.2", 7002, 3);
	fx_expect(T, &B, l, "OK file_uploaded\n");
	free(l);
	toggle_s = SESSION(T, state_find_session_locked(T, B.token));
	cr_assert_eq(pthread_create(&th, NULL, toggle_touch, NULL), 0);
	for (i = 0; i < 20000 && !bad; i++) {
		r = fx_req(T, &A, "download_file g big");
		/* "OK size sha1 n h1..hn m ip:port.." */
		p = r;
		for (int w = 0; w < 4 + 400; w++)
			p = strchr(p, ' ') + 1;
		m = strtol(p, &p, 10);
		if (m != count_words(p))
			bad = 1;
	}
	toggle_stop = 1;
	pthread_join(th, NULL);
	cr_assert_eq(bad, 0, "download %d: seeder count %ld does not match "
	    "the list", i, m);
}

/*
 * An upload of other content under the name of a file nobody offers any
 * more, refused because the piece-hash arena is full, must change
 * nothing: the old file (and its lapsed seeder) was dropped first, so a
 * refused request had deleted another user's file.
 */
Test(commands, upload_refused_for_room_keeps_the_lapsed_file)
{
	struct tracker_config	 cfg = fx_cfg;
	struct session_rec	*s;
	char			*l;

	tracker_destroy(T);
	cfg.max_hashes = 4;
	T = fx_open(&cfg);
	file_group();
	l = fx_upload_line("g", "fa", 2 * PIECE_SIZE, "127.0.0.2", 7002, 1);
	fx_expect(T, &B, l, "OK file_uploaded");
	free(l);
	state_lock_meta(T);
	s = SESSION(T, state_find_session_locked(T, B.token));
	s->last_touch -= cfg.lease_seconds + 5;
	state_unlock_meta(T);
	/* 3 pieces: only 2 hashes left in the arena */
	l = fx_upload_line("g", "fa", 3 * PIECE_SIZE, "127.0.0.1", 7001, 2);
	fx_expect(T, &A, l, "ERR full ");
	free(l);
	fx_expect(T, &B, "touch", "OK touched\n");
	fx_expect(T, &A, "list_files g", "OK 1\nfa 1048576 ");
}

/* The public key "keys" lists (exactly one expected). */
static void
only_key(struct ticket_key *k)
{
	char	*r, idh[17], pubh[65];

	r = fx_req(T, &C, "keys");
	cr_assert_eq(sscanf(r, "OK 1\n%16s %64s\nEND_OF_REPLY\n", idh, pubh),
	    2, "%s", r);
	cr_assert_eq(hex_decode(idh, k->keyid, 8), 8);
	cr_assert_eq(hex_decode(pubh, k->pub, 32), 32);
}

Test(commands, tickets_signed_for_members_keys_journaled)
{
	struct ticket_key	 k, k2;
	struct ticket		 t;
	uint8_t			 bin[TICKET_MAX_BIN];
	char			*l, *r, *sp;
	ssize_t			 n;

	fx_expect(T, &C, "keys", "OK 0\n");
	cr_assert_eq(keys_init(T), 0);
	only_key(&k);
	file_group();
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.1", 7001, 3);
	fx_expect(T, &A, l, "OK file_uploaded\n");
	free(l);
	r = fx_req(T, &B, "ticket g f1");
	cr_assert(strncmp(r, "OK ", 3) == 0, "%s", r);
	cr_assert_not_null(sp = strchr(r + 3, ' '));
	*sp = '\0';
	cr_assert_gt(n = hex_decode(r + 3, bin, sizeof(bin)), 0);
	cr_assert_eq(ticket_decode(bin, (size_t)n, &t), 0);
	cr_assert_str_eq(t.user, "bob");
	cr_assert_str_eq(t.group, "g");
	cr_assert(ticket_signed_by(bin, (size_t)n, k.pub));
	cr_assert(t.expires > (uint64_t)time(NULL) + TICKET_LIFETIME - 5);
	fx_expect(T, &C, "ticket g f1", "ERR not_member ");
	fx_expect(T, &B, "ticket g nofile", "ERR no_such_file ");
	fx_expect(T, &B, "ticket nog f1", "ERR no_such_group ");
	fx_expect(T, &B, "ticket g ../f1", "ERR bad_request ");

	/* The key survives compaction and replay; the private key is in
	 * no journal line (only 32-byte public keys are). */
	cr_assert_eq(journal_compact(T), 0);
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
	only_key(&k2);
	cr_assert_eq(memcmp(&k, &k2, sizeof(k)), 0);
}

Test(commands, key_lines_keep_the_previous_key)
{
	static const char a[] = "key 2 21fe31dfa154a261 "
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
	static const char b[] = "key 2 0000000000000001 "
	    "0000000000000000000000000000000000000000000000000000000000000001";
	char	body[200], *r;

	cr_assert_eq(state_lock_meta(T), 0);
	strcpy(body, a);
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 1), 0);
	strcpy(body, b);
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 2), 0);
	strcpy(body, b);
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 3), 0);
	strcpy(body, "key 17 0000000000000001 00");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 4), -1);
	strcpy(body, "key 2 00000000000001 "
	    "0000000000000000000000000000000000000000000000000000000000000001");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 5), -1);
	state_unlock_meta(T);
	r = fx_req(T, &C, "keys");
	cr_assert(strncmp(r, "OK 2\n", 5) == 0, "newest and previous: %s", r);
}

#define RID_A	"0123456789abcdef0123456789abcdef"
#define RID_B	"fedcba9876543210fedcba9876543210"

/* A change sent again with its id (peerd's failover) is answered as the
 * first time and applied once, from any client, after a restart too. */
Test(commands, request_id_applies_once)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_expect(T, &A, "rid " RID_A " create_group g1", "OK group_created\n");
	fx_expect(T, &A, "rid " RID_A " create_group g1", "OK group_created\n");
	fx_expect(T, &A, "rid " RID_B " create_group g1", "ERR group_exists ");
	fx_expect(T, &A, "create_group g1", "ERR group_exists ");
	fx_expect(T, &B, "rid " RID_B " join_group g1", "OK request_sent\n");
	fx_expect(T, &B, "rid " RID_B " join_group g1", "OK request_sent\n");
	fx_expect(T, &A, "list_requests g1", "OK 1\nbob\nEND_OF_REPLY\n");
	fx_expect(T, &C, "rid " RID_A " create_user carol pw",
	    "OK user_created\n");
	fx_expect(T, &C, "login carol pw", "ERR invalid_credentials ");
	fx_expect(T, &C, "rid 0123 create_group g2", "ERR bad_request ");
	fx_expect(T, &C, "rid " RID_A, "ERR bad_request ");
	fx_expect(T, &A, "rid " RID_A "0 create_group g2", "ERR bad_request ");
	cr_assert_eq(journal_compact(T), 0);
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
	fx_client(&A, "127.0.0.1");
	fx_login(T, &A, "alice", 0);
	fx_expect(T, &A, "rid " RID_A " create_group g1", "OK group_created\n");
	fx_expect(T, &A, "list_groups", "OK 1\ng1 alice\nEND_OF_REPLY\n");
}

/* Two trackers on etcd may both commit one request: the second copy of
 * its changes is skipped whole when applied, other requests are not. */
Test(commands, request_id_copy_skipped_when_applied)
{
	char	body[200];

	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	cr_assert_eq(state_lock_meta(T), 0);
	strcpy(body, "rid " RID_A " 0 group g1 alice");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 100), 0);
	strcpy(body, "rid " RID_A " 1 join_req g1 bob");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 100), 0);
	strcpy(body, "rid " RID_B " 0 group g2 bob");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 100), 0);
	/* the copy: group exists, the request too; neither is applied */
	strcpy(body, "rid " RID_A " 0 group g1 alice");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 101), 0);
	strcpy(body, "rid " RID_A " 1 reject g1 bob");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 101), 0);
	/* a change without an id after it is applied as always */
	strcpy(body, "join_req g2 alice");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 102), 0);
	strcpy(body, "rid " RID_B " x group g3 bob");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 103), -1);
	state_unlock_meta(T);
	fx_expect(T, &A, "list_requests g1", "OK 1\nbob\nEND_OF_REPLY\n");
	fx_expect(T, &B, "list_requests g2", "OK 1\nalice\nEND_OF_REPLY\n");
}

/* A request whose first change did not apply (on etcd: a table full by
 * the time its turn came) is not taken as done: its id is not kept, its
 * later changes are skipped, and the request sent again is carried out. */
Test(commands, request_id_kept_only_when_applied)
{
	char	body[200];

	fx_login(T, &A, "alice", 1);
	cr_assert_eq(state_lock_meta(T), 0);
	strcpy(body, "rid " RID_A " 0 join_req nosuch alice");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 100), -1);
	strcpy(body, "rid " RID_A " 1 group g9 alice");
	cr_assert_eq(journal_apply_body(T, body, strlen(body), 100), 0);
	state_unlock_meta(T);
	fx_expect(T, &A, "list_groups", "OK 0\nEND_OF_REPLY\n");
	fx_expect(T, &A, "rid " RID_A " create_group g1", "OK group_created\n");
	fx_expect(T, &A, "list_groups", "OK 1\ng1 alice\nEND_OF_REPLY\n");
	fx_expect(T, &A, "rid " RID_A " create_group g1", "OK group_created\n");
	fx_expect(T, &A, "list_groups", "OK 1\ng1 alice\nEND_OF_REPLY\n");
}

/* A seeder on IPv6: registered from its own address, stored, journaled
 * and replayed as 16 bytes, handed out in peerd's form only ("[v6]:port";
 * the seed client parses IPv4 addresses), stopped by its address. */
Test(commands, ipv6_seeders_to_peerd_only)
{
	char	*l, *r;

	file_group();
	fx_client(&B, "2001:db8::7");
	fx_login(T, &B, "bob", 0);
	l = fx_upload_line("g", "f1", 1000000, "127.0.0.1", 7001, 3);
	fx_expect(T, &A, l, "OK file_uploaded\n");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "2001:db8::8", 7002, 3);
	fx_expect(T, &B, l, "ERR bad_address ");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "[2001:db8::7]", 7002, 3);
	fx_expect(T, &B, l, "ERR bad_request ");
	free(l);
	l = fx_upload_line("g", "f1", 1000000, "2001:DB8:0::7", 7002, 3);
	fx_expect(T, &B, l, "OK file_uploaded\n");
	free(l);
	r = fx_req(T, &B, "download_file g f1");
	cr_assert_not_null(strstr(r, " 1 127.0.0.1:7001\nEND_OF_REPLY\n"),
	    "%s", r);
	r = fx_req(T, &B, "download_file g f1 partial");
	cr_assert_not_null(strstr(r, " 2 127.0.0.1:7001 [2001:db8::7]:7002\n"),
	    "%s", r);
	r = fx_req(T, &A, "list_files g");
	cr_assert(strncmp(r, "OK 1\nf1 1000000 ", 16) == 0, "%s", r);
	cr_assert_not_null(strstr(r, " 2\nEND_OF_REPLY\n"), "%s", r);
	cr_assert_eq(journal_compact(T), 0);
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
	r = fx_req(T, &B, "download_file g f1 partial");
	cr_assert_not_null(strstr(r, " 2 127.0.0.1:7001 [2001:db8::7]:7002\n"),
	    "%s", r);
	fx_expect(T, &B, "stop_share g f1 2001:db8::7 7002",
	    "OK share_stopped\n");
	r = fx_req(T, &B, "download_file g f1 partial");
	cr_assert_not_null(strstr(r, " 1 127.0.0.1:7001\n"), "%s", r);
}

/* The ids kept are the latest STATE_RIDS: older ones give way, oldest
 * first, and a compaction keeps exactly those kept. */
Test(commands, request_ids_bounded_oldest_first)
{
	char		body[64];
	uint8_t		id[RID_LEN];
	uint32_t	i, n = STATE_RIDS + 100;

	cr_assert_eq(state_lock_meta(T), 0);
	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "rid %08x%024x 0", i * 2654435761u,
		    i);
		cr_assert_eq(journal_apply_body(T, body, strlen(body), i + 1), 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%08x%024x", i * 2654435761u, i);
		cr_assert_eq(reqid_parse(body, id), 0);
		cr_assert_eq(reqid_seen_locked(T, id), i >= 100, "id %u", i);
	}
	state_unlock_meta(T);
	cr_assert_eq(journal_compact(T), 0);
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
	cr_assert_eq(state_lock_meta(T), 0);
	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%08x%024x", i * 2654435761u, i);
		cr_assert_eq(reqid_parse(body, id), 0);
		cr_assert_eq(reqid_seen_locked(T, id), i >= 100, "id %u", i);
	}
	state_unlock_meta(T);
}
