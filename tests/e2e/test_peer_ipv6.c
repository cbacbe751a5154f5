/* IPv6: trackers on [::1] in tracker_info.txt, peerd listening on ::1, a
 * download between two of them, and the seed client kept to IPv4. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/time.h>

#include "tests/e2e/swarm.h"

/* A blocking connection to [::1]:port (5 s timeouts), or -1. */
static int
connect6(uint16_t port)
{
	struct sockaddr_in6	sin6;
	struct timeval		tv = { 5, 0 };
	int			fd;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	sin6.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
wait_port6(uint16_t port)
{
	int	fd, k;

	for (k = 0; k < 500; k++) {
		if ((fd = connect6(port)) != -1) {
			close(fd);
			return;
		}
		sw_sleep_ms(20);
	}
	cr_assert_fail("nothing listens on [::1]:%u", port);
}

static void
start_tracker6(int i)
{
	sw_spawn_tracker(i);
	wait_port6(SW.tport[i]);
}

static void
setup(void)
{
	char	buf[256];
	int	i;

	sw_init(0, 0);
	snprintf(buf, sizeof(buf), "# IPv6\n[::1]:%u\n::1 %u\n", SW.tport[0],
	    SW.tport[1]);
	h_write_file(SW.info, buf);
	for (i = 0; i < NTRK; i++)
		start_tracker6(i);
	for (i = 0; i < NPEER; i++)
		sw_start_peer_at(i, "[::1]", NULL);
}

TestSuite(peer_ipv6, .init = setup, .fini = sw_fini, .timeout = 120);

/* A request in alice's session on tracker i over IPv6; the reply. */
static char *
ask6(int i, const char *line)
{
	int	 fd;

	cr_assert_geq(fd = connect6(SW.tport[i]), 0);
	return sw_ask_as_alice(fd, line);
}

/*
 * Two peerd on ::1 share a file through trackers on ::1: the trackers
 * store and journal the IPv6 seeder, hand it out in peerd's form of
 * download_file only (the seed client's form, which parses IPv4, leaves
 * it out), and the download completes over IPv6.
 */
Test(peer_ipv6, download_over_ipv6)
{
	char	path[PATH_MAX], dl[PATH_MAX], got[PATH_MAX + 16];
	char	want[64], *rep, *text;
	int	i;

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "six.bin", (3 << 19) + 77, 6);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g six.bin %s", dl);
	SC(0, 1, "wait g six.bin");
	snprintf(got, sizeof(got), "%s/six.bin", dl);
	cr_assert(h_same_file(path, got));

	snprintf(want, sizeof(want), " [::1]:%u", SW.pport[0]);
	cr_assert_not_null(text = h_read_file(SW.journal, NULL));
	cr_assert_not_null(strstr(text, " ::1 "), "no IPv6 seeder journaled");
	free(text);
	for (i = 0; i < NTRK; i++) {
		rep = ask6(i, "download_file g six.bin partial");
		cr_assert_not_null(strstr(rep, want), "tracker %d: %s", i + 1,
		    rep);
		free(rep);
		/* the seed client's form: complete IPv4 seeders only */
		rep = ask6(i, "download_file g six.bin");
		cr_assert_null(strstr(rep, "::1"), "tracker %d: %s", i + 1, rep);
		cr_assert_not_null(strstr(rep, " 0\nEND_OF_REPLY\n"),
		    "tracker %d: %s", i + 1, rep);
		free(rep);
	}
	rep = ask6(1, "list_files g");
	cr_assert(strncmp(rep, "OK 1\nsix.bin ", 13) == 0, "%s", rep);
	free(rep);
}

/* peerd on [::]:PORT listens on every address and registers its shares
 * with the IPv6 address of its tracker connection. */
Test(peer_ipv6, bind_any_advertises_tracker_address)
{
	char	 path[PATH_MAX], dl[PATH_MAX], got[PATH_MAX + 16];
	char	 want[64], *rep;

	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 10000), 0);
	sw_spawn_peer(0, "-v", "[::]", NULL);
	cr_assert_eq(h_wait_unix(SW.sock[0], 10000), 0);
	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "any6.bin", 1 << 20, 23);
	snprintf(want, sizeof(want), " [::1]:%u\n", SW.pport[0]);
	rep = ask6(0, "download_file g any6.bin partial");
	cr_assert_not_null(strstr(rep, want), "%s", rep);
	free(rep);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g any6.bin %s", dl);
	SC(0, 1, "wait g any6.bin");
	snprintf(got, sizeof(got), "%s/any6.bin", dl);
	cr_assert(h_same_file(path, got));
}

/* A tracker restarted replays the IPv6 seeders of its journal. */
Test(peer_ipv6, ipv6_seeders_survive_replay)
{
	char	path[PATH_MAX], want[64], *rep;

	sw_users_and_group();
	sw_share_random(2, path, sizeof(path), "r.bin", 1000, 9);
	cr_assert_eq(h_stop(&SW.trk[1], SIGTERM, 10000), 0);
	start_tracker6(1);
	snprintf(want, sizeof(want), " [::1]:%u\n", SW.pport[2]);
	rep = ask6(1, "download_file g r.bin partial");
	cr_assert_not_null(strstr(rep, want), "%s", rep);
	free(rep);
}

/* Addresses that are not: one line saying why, usage exit status. */
Test(peer_ipv6, bad_addresses_refused)
{
	struct h_run	 r;
	char		 info[PATH_MAX + 16];
	char		*peer[] = { "peerd/peerd", "-f", "-n", "::1:7000",
	    SW.info, NULL };
	char		*peer_a[] = { "peerd/peerd", "-f", "-n", "-a", "::",
	    "[::1]:7000", SW.info, NULL };
	char		*trk[] = { "trackerd/trackerd", "-f", "-n", info, "1",
	    NULL };

	cr_assert_eq(h_run(&r, peer, NULL, 10000), 0);
	cr_assert_eq(r.status, 64, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "an IPv6 address goes in brackets"),
	    "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "%s",
	    r.err);
	h_run_free(&r);
	cr_assert_eq(h_run(&r, peer_a, NULL, 10000), 0);
	cr_assert_eq(r.status, 64, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "-a ::"), "%s", r.err);
	h_run_free(&r);
	snprintf(info, sizeof(info), "%s/bad_info.txt", SW.dir);
	h_write_file(info, "[::1]:7001\n[::1:7002\n");
	cr_assert_eq(h_run(&r, trk, NULL, 10000), 0);
	cr_assert_neq(r.status, 0);
	cr_assert_not_null(strstr(r.err, ":2: expected IP:PORT"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "no ']' after an IPv6 address"),
	    "%s", r.err);
	h_run_free(&r);
}
