/* The ready list_files replies: the cache alone, and list_files answers
 * that follow every change to the group (upload, stop_share, a seeder's
 * lease running out and coming back, leave_group, a deleted group). */
#include <time.h>

#include "tests/unit/tracker_fixture.h"
#include "trackerd/listcache.h"

static struct tracker	*T;
static struct client	 A, B, C;

static void
setup(void)
{
	fx_setup_dir();
	fx_cfg.lease_seconds = 2;
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

TestSuite(listcache, .init = setup, .fini = teardown);

Test(listcache, get_put_by_group_generation_and_time)
{
	struct listcache	*lc = listcache_new();
	const char		*r;
	size_t			 len;

	cr_assert_not_null(lc);
	cr_assert_null(listcache_get(lc, 5, 1, 100, &len));
	listcache_put(lc, 5, 7, 200, "OK 0\n", 5);
	r = listcache_get(lc, 5, 7, 200, &len);
	cr_assert_not_null(r);
	cr_assert_eq(len, 5);
	cr_assert(memcmp(r, "OK 0\n", 5) == 0);
	cr_assert_null(listcache_get(lc, 5, 8, 100, &len), "newer generation");
	cr_assert_null(listcache_get(lc, 5, 7, 201, &len), "past its lease");
	/* another group in the same slot replaces it */
	listcache_put(lc, 5 + LISTCACHE_SLOTS, 9, 300, "OK 1\nx\n", 7);
	cr_assert_null(listcache_get(lc, 5, 7, 100, &len));
	cr_assert_not_null(listcache_get(lc, 5 + LISTCACHE_SLOTS, 9, 100, &len));
	cr_assert_null(listcache_get(lc, 5, 9, 100, &len));
	/* too large to keep */
	{
		char *big = calloc(1, LISTCACHE_MAX_REPLY + 1);

		listcache_put(lc, 6, 10, 300, big, LISTCACHE_MAX_REPLY + 1);
		cr_assert_null(listcache_get(lc, 6, 10, 100, &len));
		free(big);
	}
	listcache_free(lc);
	listcache_free(NULL);
}

static void
team(void)
{
	fx_login(T, &A, "alice", 1);
	fx_login(T, &B, "bob", 1);
	fx_login(T, &C, "carol", 1);
	fx_expect(T, &A, "create_group g", "OK group_created");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
}

static void
upload(struct client *c, const char *name, const char *ip, int port, int seed)
{
	char	*l = fx_upload_line("g", name, 10, ip, port, seed);

	fx_expect(T, c, l, "OK file_uploaded\n");
	free(l);
}

/* The names list_files shows, in order, as "a,b," */
static const char *
listed(struct client *c)
{
	static char	names[1024];
	char		*r = fx_req(T, c, "list_files g"), *p, *nl;
	size_t		 n = 0;

	cr_assert(strncmp(r, "OK ", 3) == 0, "%s", r);
	names[0] = '\0';
	p = strchr(r, '\n') + 1;
	while ((nl = strchr(p, '\n')) != NULL && strncmp(p, "END_OF_REPLY", 12)) {
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%.*s,",
		    (int)strcspn(p, " "), p);
		p = nl + 1;
	}
	return names;
}

Test(listcache, upload_and_stop_share)
{
	team();
	cr_assert_str_eq(listed(&A), "");
	upload(&A, "fa", "127.0.0.1", 7001, 1);
	cr_assert_str_eq(listed(&A), "fa,");
	cr_assert_str_eq(listed(&B), "fa,");		/* the ready reply */
	upload(&B, "fb", "127.0.0.2", 7002, 2);
	cr_assert_str_eq(listed(&A), "fa,fb,");
	/* a second seeder changes the count */
	upload(&B, "fa", "127.0.0.2", 7002, 1);
	cr_assert(strstr(fx_req(T, &A, "list_files g"), "\nfa 10 ") != NULL);
	cr_assert(strstr(fx_req(T, &A, "list_files g"), " 2\nfb ") != NULL,
	    "%s", fx_req(T, &A, "list_files g"));
	fx_expect(T, &A, "stop_share g fa 127.0.0.1 7001", "OK share_stopped");
	cr_assert(strstr(fx_req(T, &A, "list_files g"), " 1\nfb ") != NULL,
	    "%s", fx_req(T, &A, "list_files g"));
	fx_expect(T, &B, "stop_share g fa 127.0.0.2 7002", "OK share_stopped");
	cr_assert_str_eq(listed(&A), "fb,");
}

Test(listcache, seeder_lapses_and_comes_back)
{
	struct timespec	ts = { 3, 200000000 };

	team();
	upload(&B, "fb", "127.0.0.2", 7002, 2);
	cr_assert_str_eq(listed(&A), "fb,");
	/* bob says nothing for longer than the 2 s lease: no change to the
	 * group, only time passing */
	nanosleep(&ts, NULL);
	cr_assert_str_eq(listed(&A), "");
	cr_assert_str_eq(listed(&A), "");
	/* any request of bob's session brings his seeder back */
	fx_expect(T, &B, "list_groups", "OK 1\n");
	cr_assert_str_eq(listed(&A), "fb,");
	nanosleep(&ts, NULL);
	cr_assert_str_eq(listed(&A), "");
	fx_expect(T, &B, "touch", "OK touched\n");
	cr_assert_str_eq(listed(&A), "fb,");
}

Test(listcache, logout_and_leave_group)
{
	team();
	upload(&A, "fa", "127.0.0.1", 7001, 1);
	upload(&B, "fb", "127.0.0.2", 7002, 2);
	cr_assert_str_eq(listed(&A), "fa,fb,");
	fx_expect(T, &B, "leave_group g", "OK left_group");
	cr_assert_str_eq(listed(&A), "fa,");
	fx_expect(T, &B, "join_group g", "OK request_sent");
	fx_expect(T, &A, "accept_request g bob", "OK request_accepted");
	upload(&B, "fb", "127.0.0.2", 7002, 2);
	cr_assert_str_eq(listed(&A), "fa,fb,");
	fx_expect(T, &B, "logout", "OK logout_success");
	cr_assert_str_eq(listed(&A), "fa,");
}

Test(listcache, deleted_group_recreated_at_the_same_index)
{
	team();
	upload(&A, "fa", "127.0.0.1", 7001, 1);
	cr_assert_str_eq(listed(&A), "fa,");
	cr_assert_str_eq(listed(&B), "fa,");
	fx_expect(T, &B, "leave_group g", "OK left_group");
	fx_expect(T, &A, "leave_group g", "OK left_group");
	fx_expect(T, &A, "list_files g", "ERR no_such_group ");
	/* carol's new g takes the freed record */
	fx_expect(T, &C, "create_group g", "OK group_created");
	cr_assert_str_eq(listed(&C), "");
	fx_expect(T, &A, "list_files g", "ERR not_member ");
}

Test(listcache, change_by_another_worker)
{
	struct tracker	*w2;
	char		 err[256];

	w2 = tracker_attach(&fx_cfg, err, sizeof(err));
	cr_assert_not_null(w2, "%s", err);
	team();
	upload(&A, "fa", "127.0.0.1", 7001, 1);
	cr_assert_str_eq(listed(&A), "fa,");		/* worker 1 keeps it */
	{
		char *l = fx_upload_line("g", "fb", 10, "127.0.0.2", 7002, 2);

		fx_expect(w2, &B, l, "OK file_uploaded\n");
		free(l);
	}
	cr_assert_str_eq(listed(&A), "fa,fb,");
	fx_expect(w2, &A, "stop_share g fa 127.0.0.1 7001", "OK share_stopped");
	cr_assert_str_eq(listed(&A), "fb,");
	tracker_detach(w2);
}

Test(listcache, survives_a_rebuild)
{
	team();
	upload(&A, "fa", "127.0.0.1", 7001, 1);
	cr_assert_str_eq(listed(&A), "fa,");
	/* a rebuild from the journal lays the state out again */
	state_lock_meta(T);
	T->hdr->dirty = 1;
	state_unlock_meta(T);
	cr_assert_str_eq(listed(&A), "fa,");
	fx_expect(T, &A, "stop_share g fa 127.0.0.1 7001", "OK share_stopped");
	cr_assert_str_eq(listed(&A), "");
}
