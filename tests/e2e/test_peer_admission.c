/* A seeder under hostile connections: 256 connections from 8 loopback
 * addresses held open (silent, dripping, or a member's valid ticket and
 * then asking for nothing; each reopened as soon as it is closed) and 32
 * more showing forged tickets must not keep a real member from
 * downloading: the download runs at least at half its unloaded speed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include "peerd/wire.h"
#include "tests/e2e/swarm.h"

#define HOSTILE		256	/* connections held */
#define FORGERS		32	/* and more, showing forged tickets */
#define NSLOT		(HOSTILE + FORGERS)
#define HOSTILE_IPS	8
#define FILE_SIZE	(96u << 20)
#define REOPEN_MS	50	/* a closed connection is reopened after
				 * this (a forged-ticket one after 100 ms):
				 * the attacker holds its slots without
				 * eating all the CPU the two peers share
				 * with it */
#define KIND(k)		((k) >= HOSTILE ? 3 : (k) % 3)	/* 0 silent, 1 drip,
				 * 2 idle member, 3 forged ticket */

static char	src[PATH_MAX], dl[PATH_MAX];
static pid_t	attacker;

static void
setup(void)
{
	sw_setup_sharing(src, dl);
	attacker = 0;
}

static void
stop_attack(void)
{
	sw_stop_child(&attacker, SIGTERM);
}

static void
teardown(void)
{
	stop_attack();
	sw_fini();
}

TestSuite(peer_admission, .init = setup, .fini = teardown, .timeout = 180);

/* A non-blocking connection to port from 127.0.0.(2 + k % 8). */
static int
hostile_connect(uint16_t port, int k)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	sin.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(k % HOSTILE_IPS));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint8_t	valid_hello[WIRE_MAGIC_LEN + WIRE_HDR_LEN + WIRE_MAX_HELLO];
static size_t	valid_len;

/* A HELLO for name with a member's (carol's) valid ticket. */
static void
member_hello(const char *name)
{
	char		 line[160], *r, *w, *sp;
	uint8_t		*p = valid_hello + WIRE_MAGIC_LEN + WIRE_HDR_LEN;
	ssize_t		 n;
	int		 fd;

	cr_assert_neq(fd = h_connect(SW.tport[0]), -1);
	free(h_request(fd, "login carol pc"));
	snprintf(line, sizeof(line), "download_file g %s", name);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert_not_null(w = strchr(r + 3, ' '));
	w[41] = '\0';
	cr_assert_eq(hex_to_sha1(w + 1, p), 0);
	free(r);
	snprintf(line, sizeof(line), "ticket g %s", name);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert_not_null(sp = strchr(r + 3, ' '));
	*sp = '\0';
	cr_assert_gt(n = hex_decode(r + 3, p + 20, TICKET_MAX_BIN), 0);
	free(r);
	close(fd);
	memcpy(valid_hello, WIRE_MAGIC, WIRE_MAGIC_LEN);
	wire_hdr(valid_hello + WIRE_MAGIC_LEN, WIRE_HELLO, 0,
	    (uint32_t)(20 + n));
	valid_len = WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20 + (size_t)n;
}

/* Every second: a byte from the drips, a CANCEL from the idle members. */
static void
trickle(struct pollfd *pf)
{
	uint8_t	cancel[WIRE_HDR_LEN];
	int	k;

	wire_hdr(cancel, WIRE_CANCEL, 0, 0);
	for (k = 0; k < HOSTILE; k++) {
		if (pf[k].fd == -1)
			continue;
		if (KIND(k) == 1)
			(void)send(pf[k].fd, "\0", 1, MSG_NOSIGNAL);
		else if (KIND(k) == 2)
			(void)send(pf[k].fd, cancel, sizeof(cancel),
			    MSG_NOSIGNAL);
	}
}

/* The attacker: keep HOSTILE connections open; report how many it made. */
static void __attribute__((noreturn))
attack(uint16_t port)
{
	struct pollfd	 pf[NSLOT];
	long		 reopen[NSLOT] = { 0 };
	uint8_t		 forged[WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20 +
			    TICKET_MIN_BIN], junk[4096];
	uint64_t	 opened = 0;
	long		 last_drip = h_now_ms();
	int		 k, kind;

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* never outlives the test */
	memset(forged, 0x41, sizeof(forged));
	memcpy(forged, WIRE_MAGIC, WIRE_MAGIC_LEN);
	wire_hdr(forged + WIRE_MAGIC_LEN, WIRE_HELLO, 0, 20 + TICKET_MIN_BIN);
	forged[WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20] = TICKET_VERSION;
	for (k = 0; k < NSLOT; k++)
		pf[k].fd = -1;
	while (!sw_child_stopping) {
		for (k = 0; k < NSLOT; k++) {
			if (pf[k].fd != -1 || h_now_ms() < reopen[k])
				continue;
			if ((pf[k].fd = hostile_connect(port, k)) == -1)
				continue;
			opened++;
			pf[k].events = POLLIN;
			kind = KIND(k);
			if (kind == 1)	/* the magic, then drip */
				(void)send(pf[k].fd, WIRE_MAGIC, 4,
				    MSG_NOSIGNAL);
			else if (kind == 2)
				(void)send(pf[k].fd, valid_hello, valid_len,
				    MSG_NOSIGNAL);
			else if (kind == 3)
				(void)send(pf[k].fd, forged, sizeof(forged),
				    MSG_NOSIGNAL);
		}
		if (h_now_ms() - last_drip >= 1000) {
			last_drip = h_now_ms();
			trickle(pf);
		}
		if (poll(pf, NSLOT, 50) <= 0)
			continue;
		for (k = 0; k < NSLOT; k++) {
			if (pf[k].fd == -1 || pf[k].revents == 0)
				continue;
			if (recv(pf[k].fd, junk, sizeof(junk), 0) > 0)
				continue;
			close(pf[k].fd);	/* closed on us: reopen */
			pf[k].fd = -1;
			reopen[k] = h_now_ms() + REOPEN_MS * (KIND(k) == 3 ? 2 : 1);
		}
	}
	fprintf(stderr, "admission: attacker opened %llu connections\n",
	    (unsigned long long)opened);
	_exit(0);
}

/* Count of connections peer 0's port holds from the hostile addresses. */
static int
hostile_established(void)
{
	char	 cmd[256];
	FILE	*fp;
	int	 n = -1;

	snprintf(cmd, sizeof(cmd), "ss -Htn state established "
	    "'( sport = :%u )' | grep -c ' 127.0.0.[2-9]:' ", SW.pport[0]);
	if ((fp = popen(cmd, "r")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1)
			n = -1;
		pclose(fp);
	}
	return n;
}

/* Download name by peer i: its duration in ms, 0 if it failed (the
 * caller stops the attack before it asserts). */
static uint64_t
timed_download(int i, const char *name)
{
	char		 path[PATH_MAX + 64], out[PATH_MAX + 64];
	long		 t0 = h_now_ms();
	uint64_t	 ms;

	if (sc(NULL, i, "download_file g %s %s", name, dl) != 0 ||
	    sc(NULL, i, "wait g %s", name) != 0)
		return 0;
	ms = (uint64_t)(h_now_ms() - t0);
	snprintf(path, sizeof(path), "%s/%s", src, name);
	snprintf(out, sizeof(out), "%s/%s", dl, name);
	return h_same_file(path, out) ? (ms > 0 ? ms : 1) : 0;
}

Test(peer_admission, member_downloads_amid_hostile_connections)
{
	char		 path[PATH_MAX + 64];
	uint64_t	 quiet, loaded;
	double		 ratio;
	int		 held;

	snprintf(path, sizeof(path), "%s/quiet.bin", src);
	h_random_file(path, FILE_SIZE, 11);
	SC(0, 0, "upload_file %s g", path);
	snprintf(path, sizeof(path), "%s/loaded.bin", src);
	h_random_file(path, FILE_SIZE, 12);
	SC(0, 0, "upload_file %s g", path);

	quiet = timed_download(1, "quiet.bin");
	cr_assert_gt(quiet, 0, "the unloaded download completes");
	member_hello("loaded.bin");

	if (sw_fork_child(&attacker) == 0)
		attack(SW.pport[0]);
	cr_assert_gt(attacker, 0);
	sw_sleep_ms(1500);
	held = hostile_established();
	cr_assert_geq(held, HOSTILE - 16, "the attack holds its slots "
	    "(%d connections)", held);
	loaded = timed_download(1, "loaded.bin");
	held = hostile_established();
	stop_attack();
	cr_assert_gt(loaded, 0, "the download under attack completes");

	ratio = (double)quiet / (double)loaded;
	fprintf(stderr, "admission: %u MiB unloaded %llu ms (%.0f MiB/s), "
	    "under %d hostile connections %llu ms (%.0f MiB/s): %.0f%%\n",
	    FILE_SIZE >> 20, (unsigned long long)quiet,
	    (FILE_SIZE >> 20) * 1000.0 / (double)quiet, held,
	    (unsigned long long)loaded,
	    (FILE_SIZE >> 20) * 1000.0 / (double)loaded, ratio * 100);
	cr_assert_geq(ratio, 0.5, "loaded speed %.0f%% of unloaded",
	    ratio * 100);
}
