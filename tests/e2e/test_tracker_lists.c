/* trackerd end to end: list_files answers, kept ready by each worker, follow
 * every change at once on every connection (both workers): upload,
 * stop_share, a seeder's lease running out and back, leave_group, a group
 * deleted and made again. */
#include "tests/e2e/tracker_e2e.h"

#define NCONN	8	/* spread over the tracker's two workers */

static int	fds[NCONN];	/* carol's, listing */
static int	alice, bob;	/* changing things */

static void
setup(void)
{
	trk_init();
}

static void
teardown(void)
{
	for (int i = 0; i < NCONN; i++)
		if (fds[i] > 0)
			close(fds[i]);
	if (alice > 0)
		close(alice);
	if (bob > 0)
		close(bob);
	trk_fini();
}

TestSuite(tracker_lists, .init = setup, .fini = teardown, .timeout = 90);

/* alice owns g; bob and carol are members. */
static void
team(void)
{
	alice = trk_conn(0);
	bob = trk_conn(0);
	trk_user(alice, "alice", "pw");
	OK(alice, "create_group g");
	trk_user(bob, "bob", "pw");
	OK(bob, "join_group g");
	OK(alice, "accept_request g bob");
	for (int i = 0; i < NCONN; i++) {
		fds[i] = trk_conn(0);
		if (i == 0) {
			trk_user(fds[0], "carol", "pw");
			OK(fds[0], "join_group g");
			OK(alice, "accept_request g carol");
		} else
			trk_login(fds[i], "carol", "pw");
	}
}

/* Every connection of carol's lists g with exactly count files, name
 * among them (or not, with present 0). */
static void
all_list(long count, const char *name, int present)
{
	char	*r;

	for (int i = 0; i < NCONN; i++) {
		r = rq(fds[i], "list_files g");
		cr_assert_eq(reply_count(r), count, "connection %d: %s", i, r);
		if (name != NULL)
			cr_assert_eq(has_line(strchr(r, '\n') + 1, name), present,
			    "connection %d: %s", i, r);
		free(r);
	}
}

Test(tracker_lists, every_change_seen_at_once)
{
	trk_start(0);
	team();
	all_list(0, NULL, 0);
	all_list(0, NULL, 0);
	upload_ok(alice, "g", "a.bin", 1000, 7001, 1);
	all_list(1, "a.bin", 1);
	upload_ok(bob, "g", "b.bin", 2000, 7002, 2);
	all_list(2, "b.bin", 1);
	OK(alice, "stop_share g a.bin 127.0.0.1 7001");
	all_list(1, "a.bin", 0);
	OK(bob, "leave_group g");
	all_list(0, "b.bin", 0);
	upload_ok(alice, "g", "a.bin", 1000, 7001, 1);
	upload_ok(fds[0], "g", "c.bin", 3000, 7003, 3);
	all_list(2, "c.bin", 1);
	OK(alice, "leave_group g");
	all_list(1, "a.bin", 0);
	/* the group emptied and made again holds nothing of the old one */
	OK(fds[0], "leave_group g");
	ERR(fds[3], "no_such_group", "list_files g");
	OK(fds[2], "create_group g");
	all_list(0, "c.bin", 0);
}

Test(tracker_lists, lapsed_seeder_leaves_and_comes_back)
{
	trk_opt("-t");
	trk_opt("2");
	trk_start(0);
	team();
	upload_ok(bob, "g", "b.bin", 2000, 7002, 2);
	all_list(1, "b.bin", 1);
	/* bob's peer says nothing for longer than the lease */
	trk_sleep_ms(3500);
	all_list(0, "b.bin", 0);
	OK(bob, "touch");
	all_list(1, "b.bin", 1);
	trk_sleep_ms(3500);
	all_list(0, "b.bin", 0);
	OK(bob, "list_groups");
	all_list(1, "b.bin", 1);
}
