/* Per-user quotas of trackerd: what each user holds, counted from the
 * state (and so again after a restart), ERR quota at a limit with nothing
 * changed, other users unaffected; account creations per source address. */
#include <sys/stat.h>
#include <time.h>

#include "tests/unit/tracker_fixture.h"

static struct tracker	*T;
static struct client	 A, B, M;

static void
setup(void)
{
	fx_setup_dir();
	fx_client(&A, "127.0.0.1");
	fx_client(&B, "127.0.0.2");
	fx_client(&M, "127.0.0.3");
}

static void
teardown(void)
{
	tracker_destroy(T);
	fx_remove_dir();
}

TestSuite(quota, .init = setup, .fini = teardown);

static void
start(void)
{
	T = fx_open(&fx_cfg);
}

static void
restart(void)
{
	tracker_destroy(T);
	T = fx_open(&fx_cfg);
}

static struct user_usage
usage_of(const char *user)
{
	struct user_usage	u;
	uint32_t		i;

	state_lock_meta(T);
	i = state_find_user_locked(T, user);
	cr_assert_neq(i, NIL, "no user %s", user);
	u = USER(T, i)->use;
	state_unlock_meta(T);
	return u;
}

static off_t
journal_size(void)
{
	struct stat	st;

	cr_assert_eq(stat(fx_journal, &st), 0);
	return st.st_size;
}

static int
journal_has(const char *s)
{
	char	*j = calloc(1, 1 << 20);
	FILE	*f = fopen(fx_journal, "r");
	int	 hit;

	cr_assert_not_null(f);
	(void)!fread(j, 1, (1 << 20) - 1, f);
	fclose(f);
	hit = strstr(j, s) != NULL;
	free(j);
	return hit;
}

/* alice owns g; bob and mallory are members. */
static void
team(void)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &M, "mallory", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &M, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
	fx_expect(T, &A, "accept_request g mallory", "OK request_accepted");
}

static void
upload(struct client *c, const char *ip, const char *name, uint64_t size,
    int port, int seed, const char *want)
{
	char	*l = fx_upload_line("g", name, size, ip, port, seed);

	fx_expect(T, c, l, want);
	free(l);
}

Test(quota, defaults_are_shares_of_the_tables)
{
	struct tracker_config	c;

	config_defaults(&c);
	cr_assert_eq(config_quota(&c, Q_FILES), (1u << 20) / 16);
	cr_assert_eq(config_quota(&c, Q_HASHES), (16ull << 20) / 16);
	cr_assert_eq(config_quota(&c, Q_GROUPS), 131072 / 64);
	cr_assert_eq(config_quota(&c, Q_REQUESTS), 262144 / 64);
	cr_assert_eq(config_quota(&c, Q_SESSIONS), 131072 / 64);
	cr_assert_eq(c.signups, 10);
	cr_assert_eq(c.signup_window, 3600);
	c.max_hashes = 400000;
	cr_assert_eq(config_quota(&c, Q_HASHES), 25000);
	c.quota_hashes = 7;
	cr_assert_eq(config_quota(&c, Q_HASHES), 7);
	c.max_groups = 10;
	cr_assert_eq(config_quota(&c, Q_GROUPS), 1, "never 0");
}

Test(quota, usage_follows_the_state_and_survives_restart)
{
	struct user_usage	u;
	char			tok[TOKEN_LEN + 1], line[128];

	start();
	team();
	fx_expect(T, &B, "create_group h", "OK group_created");
	fx_expect(T, &M, "join_group h", "OK request_sent");
	upload(&M, "127.0.0.3", "f1", 3 << 20, 7003, 1, "OK file_uploaded");
	upload(&M, "127.0.0.3", "f2", 10, 7003, 2, "OK file_uploaded");
	upload(&B, "127.0.0.2", "f2", 10, 7002, 2, "OK file_uploaded");
	u = usage_of("mallory");
	cr_assert_eq(u.shares, 2);
	cr_assert_eq(u.hashes, 6 + 1);
	cr_assert_eq(u.requests, 1);
	cr_assert_eq(u.groups, 0);
	cr_assert_eq(usage_of("bob").groups, 1);
	cr_assert_eq(usage_of("alice").groups, 1);
	strcpy(tok, M.token);
	restart();
	u = usage_of("mallory");
	cr_assert_eq(u.shares, 2);
	cr_assert_eq(u.hashes, 7);
	cr_assert_eq(u.requests, 1);
	cr_assert_eq(usage_of("bob").shares, 1);
	snprintf(line, sizeof(line), "session mallory %s stop_share g f1 "
	    "127.0.0.3 7003", tok);
	fx_expect(T, &M, line, "OK share_stopped");
	cr_assert_eq(usage_of("mallory").hashes, 1);
	fx_expect(T, &B, "reject_request h mallory", "OK request_rejected");
	cr_assert_eq(usage_of("mallory").requests, 0);
	/* the owner leaves: the group and its count pass to mallory */
	fx_expect(T, &A, "leave_group g", "OK left_group");
	cr_assert_eq(usage_of("alice").groups, 0);
	cr_assert_eq(usage_of("bob").groups + usage_of("mallory").groups, 2);
	fx_expect(T, &M, "logout", "OK logout_success");
	u = usage_of("mallory");
	cr_assert_eq(u.shares, 0);
	cr_assert_eq(u.hashes, 0);
}

Test(quota, files_shared)
{
	off_t	before;

	fx_cfg.quota_files = 2;
	start();
	team();
	upload(&M, "127.0.0.3", "f1", 10, 7003, 1, "OK file_uploaded");
	upload(&M, "127.0.0.3", "f2", 10, 7003, 2, "OK file_uploaded");
	upload(&A, "127.0.0.1", "fa", 10, 7001, 4, "OK file_uploaded");
	before = journal_size();
	upload(&M, "127.0.0.3", "f3", 10, 7003, 3,
	    "ERR quota files shared: 2 of 2 in use, 1 more asked\n");
	/* seeding another's file is a share too */
	upload(&M, "127.0.0.3", "fa", 10, 7003, 4, "ERR quota ");
	cr_assert_eq(journal_size(), before, "a refusal was journaled");
	/* what mallory already shares is still fine, and others go on */
	upload(&M, "127.0.0.3", "f1", 10, 7003, 1, "OK file_uploaded");
	upload(&B, "127.0.0.2", "f3", 10, 7002, 3, "OK file_uploaded");
	upload(&B, "127.0.0.2", "f4", 10, 7002, 5, "OK file_uploaded");
	upload(&B, "127.0.0.2", "f1", 10, 7002, 1, "ERR quota ");
	fx_expect(T, &A, "list_files g", "OK 5\n");
	fx_expect(T, &M, "stop_share g f2 127.0.0.3 7003", "OK share_stopped");
	upload(&M, "127.0.0.3", "f3", 10, 7003, 3, "OK file_uploaded");
}

Test(quota, piece_hashes)
{
	off_t	before;

	fx_cfg.quota_hashes = 10;
	start();
	team();
	upload(&M, "127.0.0.3", "big", 5 << 20, 7003, 1, "OK file_uploaded");
	before = journal_size();
	upload(&M, "127.0.0.3", "one", 10, 7003, 2,
	    "ERR quota piece hashes of files shared: 10 of 10 in use, 1 more");
	cr_assert_eq(journal_size(), before);
	cr_assert_eq(usage_of("mallory").hashes, 10);
	/* the table has room for everyone else */
	upload(&B, "127.0.0.2", "one", 10, 7002, 2, "OK file_uploaded");
	upload(&A, "127.0.0.1", "nine", 9 << 19, 7001, 3, "OK file_uploaded");
	upload(&A, "127.0.0.1", "two", 2 << 19, 7001, 4, "ERR quota ");
	fx_expect(T, &M, "stop_share g big 127.0.0.3 7003", "OK share_stopped");
	upload(&M, "127.0.0.3", "one", 10, 7003, 2, "OK file_uploaded");
}

Test(quota, a_lapsed_file_replaced_gives_its_share_back)
{
	struct session_rec	*s;
	struct client		 m2;

	fx_cfg.quota_files = 1;
	start();
	team();
	upload(&M, "127.0.0.3", "f", 10, 7003, 1, "OK file_uploaded");
	/* mallory's peer goes silent past the lease, then she logs in again
	 * and shares other content under the same name */
	state_lock_meta(T);
	s = SESSION(T, state_find_session_locked(T, M.token));
	s->last_touch -= fx_cfg.lease_seconds + 5;
	state_unlock_meta(T);
	fx_client(&m2, "127.0.0.3");
	fx_login(T, &m2, "mallory", 0);
	upload(&m2, "127.0.0.3", "f", 20, 7003, 2, "OK file_uploaded");
	cr_assert_eq(usage_of("mallory").shares, 1);
	fx_expect(T, &M, "download_file g f", "OK 20 ");
}

Test(quota, groups_owned)
{
	fx_cfg.quota_groups = 2;
	start();
	team();
	fx_expect(T, &A, "create_group h", "OK group_created");
	fx_expect(T, &A, "create_group i", "ERR quota groups owned: 2 of 2");
	fx_expect(T, &B, "create_group i", "OK group_created");
	fx_expect(T, &A, "list_groups", "OK 3\n");
	fx_expect(T, &A, "leave_group h", "OK left_group");	/* deleted */
	fx_expect(T, &A, "create_group j", "OK group_created");
	/* a group passed on counts for its new owner */
	fx_expect(T, &B, "create_group k", "OK group_created");
	fx_expect(T, &A, "leave_group g", "OK left_group");
	cr_assert_eq(usage_of("bob").groups, 3);
	fx_expect(T, &B, "create_group l", "ERR quota ");
}

Test(quota, pending_requests)
{
	fx_cfg.quota_requests = 2;
	start();
	fx_login(T, &A, "alice", 1);
	fx_login(T, &M, "mallory", 1);
	fx_login(T, &B, "bob", 1);
	fx_expect(T, &A, "create_group g1", "OK group_created");
	fx_expect(T, &A, "create_group g2", "OK group_created");
	fx_expect(T, &A, "create_group g3", "OK group_created");
	fx_expect(T, &M, "join_group g1", "OK request_sent");
	fx_expect(T, &M, "join_group g2", "OK request_sent");
	fx_expect(T, &M, "join_group g3",
	    "ERR quota join requests pending: 2 of 2");
	fx_expect(T, &A, "list_requests g3", "OK 0\n");
	fx_expect(T, &B, "join_group g3", "OK request_sent");
	fx_expect(T, &A, "accept_request g1 mallory", "OK request_accepted");
	fx_expect(T, &M, "join_group g3", "OK request_sent");
}

Test(quota, accounts_per_source_address)
{
	struct client	c1, c2;

	fx_cfg.signups = 2;
	start();
	fx_client(&c1, "127.0.0.9");
	fx_client(&c2, "127.1.2.3");
	fx_expect(T, &c1, "create_user u1 pw", "OK user_created");
	fx_expect(T, &c1, "create_user u2 pw", "OK user_created");
	fx_expect(T, &c1, "create_user u3 pw",
	    "ERR quota 2 accounts were created from 127.0.0.9 within 3600 "
	    "seconds; try later\n");
	fx_expect(T, &c1, "login u3 pw", "ERR invalid_credentials ");
	/* another address is not affected */
	fx_expect(T, &c2, "create_user u3 pw", "OK user_created");
	/* the journal remembers where and when */
	restart();
	fx_expect(T, &c1, "create_user u4 pw", "ERR quota ");
	fx_expect(T, &c2, "create_user u4 pw", "OK user_created");
	cr_assert(journal_has(" 127.1.2.3 "), "no source address journaled");
	fx_expect(T, &c2, "create_user u5 pw", "ERR quota ");
	/* and after a compaction too */
	cr_assert_eq(journal_compact(T), 0);
	restart();
	fx_expect(T, &c1, "create_user u6 pw", "ERR quota ");
	fx_expect(T, &c1, "login u1 pw", "OK login_success ");
}

Test(quota, accounts_window_passes)
{
	struct client	 c1;
	struct timespec	 ts = { 2, 200000000 };

	fx_cfg.signups = 1;
	fx_cfg.signup_window = 2;
	start();
	fx_client(&c1, "127.0.0.9");
	fx_expect(T, &c1, "create_user u1 pw", "OK user_created");
	fx_expect(T, &c1, "create_user u2 pw", "ERR quota ");
	nanosleep(&ts, NULL);
	fx_expect(T, &c1, "create_user u2 pw", "OK user_created");
}

Test(quota, sessions_open)
{
	struct client	c1, c2, c3;
	char		old[TOKEN_LEN + 1], line[128];

	fx_cfg.quota_sessions = 2;
	start();
	fx_client(&c1, "127.0.0.1");
	fx_client(&c2, "127.0.0.2");
	fx_client(&c3, "127.0.0.3");
	fx_login(T, &c1, "alice", 1);
	fx_login(T, &c2, "alice", 0);
	fx_expect(T, &c3, "login alice pw-alice",
	    "ERR quota sessions: 2 open, none idle past its lease");
	fx_login(T, &B, "bob", 1);			/* others go on */
	/* c1's peer vanished: past its lease, its session makes room */
	strcpy(old, c1.token);
	state_lock_meta(T);
	SESSION(T, state_find_session_locked(T, old))->last_touch -=
	    fx_cfg.lease_seconds + 5;
	state_unlock_meta(T);
	fx_login(T, &c3, "alice", 0);
	cr_assert_eq(usage_of("alice").sessions, 2);
	snprintf(line, sizeof(line), "session alice %s list_groups", old);
	fx_expect(T, &A, line, "ERR invalid_session ");
	fx_expect(T, &c2, "logout", "OK logout_success");
	cr_assert_eq(usage_of("alice").sessions, 1);
	restart();
	cr_assert_eq(usage_of("alice").sessions, 1);
}
