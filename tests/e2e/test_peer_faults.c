/* peerd and trackerd under faults while a swarm works: SIGHUP (reopen the
 * logs) sent over and over to the seeder, the leecher and the trackers
 * during a download, which must complete, verified, with nothing lost;
 * a download into a file system too small for it. */
#include <sys/mount.h>
#include <sys/stat.h>

#include <pthread.h>
#include <sched.h>

#include "tests/e2e/swarm.h"

TestSuite(peer_faults, .init = sw_setup, .fini = sw_fini, .timeout = 180);

/*
 * The small disk: the test's own mount namespace (made before the daemons
 * start, so that they share it), where SW.dir/small is a 4 MiB tmpfs.
 * Root only; the mount goes with the namespace, and is undone first.
 */
static char	small[PATH_MAX];
static int	own_ns;

static void
small_setup(void)
{
	own_ns = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
	sw_setup();
	small[0] = '\0';
	if (own_ns && sw_subdir(small, sizeof(small), "small", 0700) == 0 &&
	    mount("p2pshare-test", small, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=4m,mode=0700") == -1)
		small[0] = '\0';
}

static void
small_fini(void)
{
	if (small[0] != '\0')
		umount2(small, MNT_DETACH);
	sw_fini();
}

TestSuite(peer_disk, .init = small_setup, .fini = small_fini, .timeout = 60);

Test(peer_disk, too_large_for_the_disk_fails_at_once_and_leaves_nothing)
{
	struct h_run	 r;
	struct stat	 st;
	char		 src[PATH_MAX + 16], part[PATH_MAX + 16];

	if (small[0] == '\0') {
		small_fini();
		cr_skip_test("needs root for a mount namespace with a tmpfs");
	}
	sw_users_and_group();
	snprintf(src, sizeof(src), "%s/wide.bin", SW.dir);
	h_random_file(src, 6u << 20, 11);
	SC(0, 0, "upload_file %s g", src);
	SC(0, 1, "download_file g wide.bin %s", small);
	SC(1, 1, "wait g wide.bin");
	cr_assert_eq(sc(&r, 1, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "[F] [g] wide.bin\t0\t0\t6291456\n"),
	    "%s", r.out);
	h_run_free(&r);
	/* the reason: no space for the whole file, known before any piece */
	cr_assert_eq(scj(&r, 1, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "No space left on device"), "%s",
	    r.out);
	h_run_free(&r);
	snprintf(part, sizeof(part), "%s/wide.bin.part", small);
	cr_assert(lstat(part, &st) == -1 && errno == ENOENT,
	    "%s was left behind", part);
	/* a file that fits goes on as usual on the same disk */
	snprintf(src, sizeof(src), "%s/narrow.bin", SW.dir);
	h_random_file(src, 2u << 20, 12);
	SC(0, 0, "upload_file %s g", src);
	SC(0, 1, "download_file g narrow.bin %s", small);
	SC(0, 1, "wait g narrow.bin");
	snprintf(part, sizeof(part), "%s/narrow.bin", small);
	cr_assert(h_same_file(src, part), "the download differs");
}

struct hupper {
	volatile int	stop;
	int		sent;
};

/* SIGHUP to every daemon of the swarm, every 20 ms, until told to stop. */
static void *
hup_all(void *arg)
{
	struct hupper	*h = arg;
	int		 i;

	while (!h->stop) {
		for (i = 0; i < NPEER; i++)
			if (SW.peer[i].pid > 0)
				kill(SW.peer[i].pid, SIGHUP);
		for (i = 0; i < NTRK; i++)
			if (SW.trk[i].pid > 0)
				kill(SW.trk[i].pid, SIGHUP);
		h->sent++;
		sw_sleep_ms(20);
	}
	return NULL;
}

Test(peer_faults, sighup_during_a_download)
{
	struct hupper	 h = { 0 };
	pthread_t	 tid;
	char		 src[PATH_MAX + 16], dst[PATH_MAX + 16], out[PATH_MAX];
	int		 i;

	sw_users_and_group();
	snprintf(src, sizeof(src), "%s/big.bin", SW.dir);
	cr_assert_eq(sw_subdir(out, sizeof(out), "out", 0700), 0);
	snprintf(dst, sizeof(dst), "%s/big.bin", out);
	h_random_file(src, 24u << 20, 7);
	SC(0, 0, "upload_file %s g", src);

	/* about a second of download, whatever the machine's speed, so
	 * that the signals fall during it */
	SC(0, 1, "set_limit download_rate 24M");
	cr_assert_eq(pthread_create(&tid, NULL, hup_all, &h), 0);
	SC(0, 1, "download_file g big.bin %s", out);
	SC(0, 1, "wait g big.bin");
	SC(0, 2, "list_groups");
	h.stop = 1;
	pthread_join(tid, NULL);

	cr_assert_geq(h.sent, 5, "only %d rounds of SIGHUP", h.sent);
	cr_assert(h_same_file(src, dst), "the download differs");
	for (i = 0; i < NPEER; i++)
		cr_assert(sw_running(SW.peer[i].pid), "peerd %d died", i);
	for (i = 0; i < NTRK; i++)
		cr_assert(sw_running(SW.trk[i].pid), "trackerd %d died", i);
	/* every daemon still exits cleanly */
	for (i = 0; i < NPEER; i++)
		cr_assert_eq(h_stop(&SW.peer[i], SIGTERM, 10000), 0,
		    "peerd %d exit status", i);
	for (i = 0; i < NTRK; i++)
		cr_assert_eq(h_stop(&SW.trk[i], SIGTERM, 10000), 0,
		    "trackerd %d exit status", i);
}
