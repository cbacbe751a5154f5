/* peerd and trackerd under signals while a swarm works: SIGHUP (reopen the
 * logs) sent over and over to the seeder, the leecher and the trackers
 * during a download, which must complete, verified, with nothing lost. */
#include <pthread.h>

#include "tests/e2e/swarm.h"

TestSuite(peer_faults, .init = sw_setup, .fini = sw_fini, .timeout = 180);

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
