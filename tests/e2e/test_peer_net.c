/* peerd where the network misbehaves: listening on 0.0.0.0, a tracker that
 * is stopped rather than dead, and a seeder that answers wrongly. */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/sha.h>

#include "tests/e2e/swarm.h"

static pid_t	fake;

static void
teardown(void)
{
	sw_continue_all();
	sw_stop_child(&fake, SIGKILL);
	sw_fini();
}

TestSuite(peer_net, .init = sw_setup, .fini = teardown, .timeout = 150);

/* peerd on 0.0.0.0:PORT registers its shares with the address of its
 * tracker connection, and another peer downloads from it. */
Test(peer_net, bind_any_advertises_tracker_address)
{
	char	 path[PATH_MAX], dl[PATH_MAX], got[PATH_MAX + 16];

	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 10000), 0);
	sw_spawn_peer(0, "-v", "0.0.0.0", NULL);
	cr_assert_eq(h_wait_file(SW.sock[0], 10000), 0);
	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "any.bin", 1 << 20, 21);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g any.bin %s", dl);
	SC(0, 1, "wait g any.bin");
	snprintf(got, sizeof(got), "%s/any.bin", dl);
	cr_assert(h_same_file(path, got));
}

/* A stopped tracker (SIGSTOP: it accepts connections and never answers)
 * costs a read about a second: the next tracker answers it. */
Test(peer_net, stopped_tracker_reads_fail_over)
{
	struct h_run	 r;
	char		*argv[] = { "sharectl/sharectl", "-S", SW.sock[0],
	    "list_groups", NULL };

	sw_users_and_group();
	cr_assert_eq(kill(-SW.trk[0].pid, SIGSTOP), 0);
	/* bounded at 2.5 s: the 5 s reply timeout would exceed it */
	cr_assert_eq(h_run(&r, argv, NULL, 2500), 0, "list_groups hung");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "g\talice\n");
	h_run_free(&r);
	SC(0, 1, "list_files g");
	kill(-SW.trk[0].pid, SIGCONT);
}

/* sharectl on peer i within ms (the 5 s reply timeout would exceed it). */
static void
sc_within(int i, int ms, const char *fmt, ...)
{
	struct h_run	r;
	va_list		ap;
	int		st;

	va_start(ap, fmt);
	st = sc_v(&r, i, 0, NULL, ms, fmt, ap);
	va_end(ap);
	cr_assert_eq(st, 0, "peer %d: %s: %s", i, fmt, r.err);
	h_run_free(&r);
}

/* Occurrences of text in file path. */
static int
count_in(const char *path, const char *text)
{
	char	*all, *p;
	int	 n = 0;

	if ((all = h_read_file(path, NULL)) == NULL)
		return -1;
	for (p = all; (p = strstr(p, text)) != NULL; p += strlen(text))
		n++;
	free(all);
	return n;
}

/* Tracker i's answer to line in alice's session. */
static char *
ask_tracker(int i, const char *line)
{
	int	 fd;

	cr_assert_geq(fd = h_connect(SW.tport[i]), 0);
	return sw_ask_as_alice(fd, line);
}

/*
 * A change sent to a stopped tracker goes to the next one within about
 * a second, and is applied once: the stopped tracker, continued, finds
 * its id applied and leaves it, although what it would have changed has
 * been undone meanwhile (a group created then left, a share uploaded then
 * stopped, a join request then rejected).
 */
Test(peer_net, stopped_tracker_changes_apply_once)
{
	char	path[PATH_MAX], *rep;
	int	i, k;

	sw_users_and_group();
	SC(0, 0, "create_group g3");
	snprintf(path, sizeof(path), "%s/x.bin", SW.dir);
	h_random_file(path, 1 << 20, 7);
	cr_assert_eq(kill(-SW.trk[0].pid, SIGSTOP), 0);
	sc_within(0, 2500, "create_group g2");
	sc_within(1, 2500, "upload_file %s g", path);
	sc_within(2, 2500, "join_group g3");
	for (i = 0; i < NPEER; i++)
		cr_assert_eq(count_in(SW.plog[i], "no answer within 1 s"), 1,
		    "peer %d did not fail over", i);
	SC(0, 0, "leave_group g2");
	SC(0, 1, "stop_share g x.bin");
	SC(0, 0, "reject_request g3 carol");
	cr_assert_eq(kill(-SW.trk[0].pid, SIGCONT), 0);
	/* The stopped tracker reads the requests waiting in its sockets as
	 * soon as it runs: let it answer, then give it a moment more. */
	for (k = 0; k < 50; k++) {
		rep = ask_tracker(0, "list_groups");
		k = strncmp(rep, "OK", 2) == 0 ? 50 : k;
		free(rep);
		sw_sleep_ms(100);
	}
	sw_sleep_ms(1000);
	cr_assert_eq(count_in(SW.journal, " group g2 alice "), 1);
	cr_assert_eq(count_in(SW.journal, " join_req g3 carol "), 1);
	cr_assert_eq(count_in(SW.journal, " g x.bin "), 2, "upload, unseed");
	for (i = 0; i < NTRK; i++) {
		rep = ask_tracker(i, "list_groups");
		cr_assert_str_eq(rep, "OK 2\ng alice\ng3 alice\nEND_OF_REPLY\n",
		    "tracker %d", i + 1);
		free(rep);
		rep = ask_tracker(i, "list_requests g3");
		cr_assert_str_eq(rep, "OK 0\nEND_OF_REPLY\n", "tracker %d", i + 1);
		free(rep);
		rep = ask_tracker(i, "list_files g");
		cr_assert_str_eq(rep, "OK 0\nEND_OF_REPLY\n", "tracker %d", i + 1);
		free(rep);
	}
}

/* The fake seeder: speaks the opening, then answers every request with a
 * piece of the wrong length; every connection is counted in countfile. */
static void
fake_seeder(int lfd, const char *countfile)
{
	uint8_t	buf[4096], out[64];
	int	c, fd;

	for (;;) {
		if ((c = accept(lfd, NULL, NULL)) == -1)
			continue;
		if ((fd = open(countfile, O_WRONLY | O_APPEND | O_CREAT,
		    0644)) >= 0) {
			(void)!write(fd, "c", 1);
			close(fd);
		}
		(void)!read(c, buf, sizeof(buf));
		memcpy(out, "P2PSHR1\n", 8);
		out[8] = 2;			/* BITFIELD, 2 pieces */
		memset(out + 9, 0, 8);
		out[12] = 2;
		out[16] = 1;
		out[17] = 0xc0;
		(void)!write(c, out, 18);
		(void)!read(c, buf, sizeof(buf));
		out[0] = 7;			/* PIECE 0, 7 bytes: wrong */
		memset(out + 1, 0, 8);
		out[8] = 7;
		(void)!write(c, out, 9);
		close(c);
	}
}

static void
hex(const uint8_t *md, char *out)
{
	int	i;

	for (i = 0; i < SHA_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* Register the fake seeder of bad.bin (2 pieces) as user mallory. */
static void
register_fake(uint16_t port)
{
	uint8_t		*data, md[SHA_DIGEST_LENGTH];
	char		 line[1024], h[3][41], *rep;
	size_t		 size = (512 << 10) + 1000;
	int		 fd;

	SC(0, 2, "create_user mallory pm");
	SC(0, 2, "login mallory pm");
	SC(0, 2, "join_group g");
	SC(0, 0, "accept_request g mallory");
	cr_assert_not_null(data = calloc(1, size));
	SHA1(data, size, md);
	hex(md, h[0]);
	SHA1(data, 512 << 10, md);
	hex(md, h[1]);
	SHA1(data + (512 << 10), 1000, md);
	hex(md, h[2]);
	free(data);
	cr_assert_geq(fd = h_connect(SW.tport[0]), 0);
	rep = h_request(fd, "login mallory pm");
	cr_assert(rep != NULL && strncmp(rep, "OK", 2) == 0, "%s", rep);
	free(rep);
	snprintf(line, sizeof(line), "upload_file g bad.bin %zu 127.0.0.1 %u "
	    "%s 2 %s %s", size, port, h[0], h[1], h[2]);
	rep = h_request(fd, line);
	cr_assert(rep != NULL && strncmp(rep, "OK", 2) == 0, "%s", rep);
	free(rep);
	close(fd);
}

/* A seeder that answers wrongly is backed off (3, 6, 12 s ...) instead of
 * being reconnected every few seconds, and the download says it stalled
 * and why. */
Test(peer_net, misbehaving_seeder_backed_off)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 count[PATH_MAX], dl[PATH_MAX], *text;
	struct h_run		 r;
	int			 lfd, n, k;

	sw_users_and_group();
	cr_assert_geq(lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(lfd, 16), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	snprintf(count, sizeof(count), "%s/fake.count", SW.dir);
	if ((fake = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fake_seeder(lfd, count);
		_exit(0);
	}
	close(lfd);
	register_fake(ntohs(sin.sin_port));
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g bad.bin %s", dl);
	for (k = 0; k < 250; k++) {
		cr_assert_eq(sc(&r, 1, "show_download g bad.bin"), 0);
		n = strncmp(r.out, "stalled\t", 8) == 0;
		if (n)
			break;
		h_run_free(&r);
		sw_sleep_ms(100);
	}
	cr_assert(n, "never reported stalled");
	cr_assert_not_null(strstr(r.out, "protocol error"), "%s", r.out);
	h_run_free(&r);
	text = h_read_file(count, NULL);
	n = text ? (int)strlen(text) : 0;
	free(text);
	/* 20 s at a retry every 3 s would be 7 connections or more */
	cr_assert_leq(n, 4, "%d connections in the first 20 s", n);
	cr_assert_geq(n, 2, "%d connections: no retry", n);
}
