/* The swarm end to end: leechers that trade pieces with each other beside
 * a seeder whose upload is capped, a name shared in two groups asked for
 * by GET_PIECE, and a download whose only seeder sends bad data, failed
 * and then resumed from a good seeder. */
#include <sys/socket.h>

#include "tests/e2e/swarm.h"

#define PIECE	(512 * 1024)

static char	src[PATH_MAX], dl1[PATH_MAX], dl2[PATH_MAX];
static char	count_file[PATH_MAX + 16];

static void
setup(void)
{
	sw_init(1, NPEER);
	sw_users_and_group();
	(void)sw_subdir(src, sizeof(src), "src", 0700);
	(void)sw_subdir(dl1, sizeof(dl1), "dl1", 0700);
	(void)sw_subdir(dl2, sizeof(dl2), "dl2", 0700);
}

TestSuite(peer_crowd, .init = setup, .fini = sw_fini, .timeout = 180);

/* A file of size bytes from seed rnd, shared by peer in group. */
static void
share(int peer, const char *group, const char *sub, const char *name,
    size_t size, unsigned rnd)
{
	char	path[PATH_MAX + 80];

	snprintf(path, sizeof(path), "%s/%s", src, sub);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s", src, sub, name);
	h_random_file(path, size, rnd);
	SC(0, peer, "upload_file %s %s", path, group);
}

/* Peer 0 again, its TCP upload capped at rate B/s and counted by the
 * benchmarks' pacing shim (its saved session goes on). */
static void
restart_capped(unsigned rate)
{
	static char	pre[PATH_MAX + 16], bps[64], cnt[PATH_MAX + 32];
	char		*env[] = { pre, bps, cnt,
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };

	snprintf(count_file, sizeof(count_file), "%s/seeder.sent", SW.dir);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s/tests/bench/libpace.so",
	    h_root());
	snprintf(bps, sizeof(bps), "PACE_BYTES_PER_SEC=%u", rate);
	snprintf(cnt, sizeof(cnt), "PACE_COUNT_FILE=%s", count_file);
	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 10000), 0);
	sw_start_peer_env(0, env);
}

static unsigned long long
counted(const char *path)
{
	unsigned long long	v = 0;
	size_t			n = 0;
	char			*b = h_read_file(path, &n);

	if (b != NULL && n >= sizeof(uint64_t))
		memcpy(&v, b, sizeof(uint64_t));
	free(b);
	return v;
}

/* Pieces peer i's log says it sent to downloaders, over all connections. */
static unsigned
pieces_sent(int i)
{
	char		*log, *p;
	unsigned	 n = 0;

	cr_assert_not_null(log = h_read_file(SW.plog[i], NULL));
	for (p = log; (p = strstr(p, ": sent ")) != NULL; p++)
		n += (unsigned)strtoul(p + 7, NULL, 10);
	free(log);
	return n;
}

static void
same_file(const char *sub, const char *dir, const char *name)
{
	char	a[PATH_MAX + 80], b[PATH_MAX + 80];

	snprintf(a, sizeof(a), "%s/%s/%s", src, sub, name);
	snprintf(b, sizeof(b), "%s/%s", dir, name);
	cr_assert(h_same_file(a, b), "%s differs from %s", b, a);
}

/*
 * One seeder with a slow uplink, two leechers starting together: the
 * seeder hands them different pieces, they trade the rest, and it
 * uploads less than the two copies it would serve alone.
 */
Test(peer_crowd, leechers_trade_beside_capped_seeder)
{
	size_t			size = 24 * PIECE + 777;
	unsigned long long	up;
	unsigned		s1, s2;

	restart_capped(4000000);
	share(0, "g", "0", "crowd.bin", size, 71);
	SC(0, 1, "download_file g crowd.bin %s", dl1);
	SC(0, 2, "download_file g crowd.bin %s", dl2);
	wait_done(1, "crowd.bin", 0);
	wait_done(2, "crowd.bin", 0);
	same_file("0", dl1, "crowd.bin");
	same_file("0", dl2, "crowd.bin");
	/* the connections to their servers close once both are complete */
	h_stop(&SW.peer[1], SIGTERM, 10000);
	h_stop(&SW.peer[2], SIGTERM, 10000);
	s1 = pieces_sent(1);
	s2 = pieces_sent(2);
	cr_assert_gt(s1, 0, "leecher 1 uploaded nothing");
	cr_assert_gt(s2, 0, "leecher 2 uploaded nothing");
	up = counted(count_file);
	cr_assert_lt(up, 2ull * size, "the capped seeder sent %llu bytes, "
	    "both copies (leechers sent %u and %u pieces)", up, s1, s2);
}

/* The seeders a download_file line lists on the tracker connection fd
 * ("OK size sha1 n h1..hn m ip:port..."): m, and the addresses in out. */
static int
listed(int fd, const char *line, char *out, size_t outlen)
{
	char		*r, *p;
	unsigned long	 n, m, k;

	cr_assert_not_null(r = h_request(fd, line), "%s: no answer", line);
	cr_assert(strncmp(r, "OK ", 3) == 0, "%s: %s", line, r);
	p = strchr(r + 3, ' ');			/* after size */
	p = strchr(p + 1, ' ');			/* after sha1 */
	n = strtoul(p + 1, &p, 10);
	for (k = 0; k < n; k++)
		p = strchr(p + 1, ' ');
	m = strtoul(p + 1, &p, 10);
	strlcpy(out, p, outlen);
	if ((p = strchr(out, '\n')) != NULL)
		*p = '\0';
	free(r);
	return (int)m;
}

/*
 * The seed client assumes every seeder it is given has every piece: the
 * tracker lists a peerd that is still downloading only to peerd's own
 * form of download_file, and to the seed client's once it is complete.
 */
Test(peer_crowd, seed_client_sees_complete_seeders_only)
{
	char	addrs[256], seeder[64], *r;
	int	fd, k, m = 0;

	restart_capped(1000000);
	share(0, "g", "0", "p.bin", 8 * PIECE, 61);
	SC(0, 1, "download_file g p.bin %s", dl1);
	cr_assert_geq(fd = h_connect(SW.tport[0]), 0);
	cr_assert_not_null(r = h_request(fd, "login carol pc"));
	cr_assert(strncmp(r, "OK login_success", 16) == 0, "%s", r);
	free(r);
	snprintf(seeder, sizeof(seeder), " 127.0.0.1:%u", SW.pport[0]);
	for (k = 0; k < 200 && m < 2; k++) {
		sw_sleep_ms(25);
		m = listed(fd, "download_file g p.bin partial", addrs,
		    sizeof(addrs));
	}
	cr_assert_eq(m, 2, "the leecher never registered: %s", addrs);
	cr_assert_eq(listed(fd, "download_file g p.bin", addrs,
	    sizeof(addrs)), 1, "a partial seeder listed: %s", addrs);
	cr_assert_str_eq(addrs, seeder);
	wait_done(1, "p.bin", 0);
	for (k = 0, m = 0; k < 200 && m < 2; k++) {
		m = listed(fd, "download_file g p.bin", addrs, sizeof(addrs));
		sw_sleep_ms(25);
	}
	cr_assert_eq(m, 2, "complete, still not listed: %s", addrs);
	close(fd);
}

/* Read what a GET_PIECE line gets back, up to max bytes, until close. */
static size_t
get_piece(const char *line, uint8_t *out, size_t max)
{
	size_t	n = 0;
	ssize_t	r;
	int	fd;

	cr_assert_geq(fd = h_connect(SW.pport[0]), 0);
	cr_assert_eq(send(fd, line, strlen(line), MSG_NOSIGNAL),
	    (ssize_t)strlen(line));
	while (n < max && (r = recv(fd, out + n, max - n, 0)) > 0)
		n += (size_t)r;
	close(fd);
	return n;
}

/* The bytes of piece i of the file at src/sub/name. */
static void
piece_of(const char *sub, const char *name, uint32_t i, uint8_t *out,
    size_t len)
{
	char	path[PATH_MAX + 80];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s/%s", src, sub, name);
	cr_assert_geq(fd = open(path, O_RDONLY), 0);
	cr_assert_eq(pread(fd, out, len, (off_t)i * PIECE), (ssize_t)len);
	close(fd);
}

/*
 * GET_PIECE names no group. A name alice shares in two groups with other
 * contents is refused (closed, no byte); with the same contents, or once
 * one of them is withdrawn, it is answered with the right bytes.
 */
Test(peer_crowd, name_in_two_groups_by_get_piece)
{
	static uint8_t	got[PIECE + 1], want[PIECE];

	sw_restart_peer_get_piece(0);
	SC(0, 0, "login alice pa");
	SC(0, 0, "create_group h");
	share(0, "g", "g", "dup.bin", 2 * PIECE, 81);
	share(0, "h", "h", "dup.bin", 2 * PIECE, 82);
	cr_assert_eq(get_piece("GET_PIECE dup.bin 1\n", got, sizeof(got)), 0,
	    "an ambiguous name was answered");
	SC(0, 0, "stop_share h dup.bin");
	cr_assert_eq(get_piece("GET_PIECE dup.bin 1\n", got, sizeof(got)),
	    (size_t)PIECE);
	piece_of("g", "dup.bin", 1, want, PIECE);
	cr_assert_eq(memcmp(got, want, PIECE), 0, "bytes of another file");
	/* the same contents in both groups: either answer is right */
	share(0, "h", "g2", "dup.bin", 2 * PIECE, 81);
	cr_assert_eq(get_piece("GET_PIECE dup.bin 1\n", got, sizeof(got)),
	    (size_t)PIECE);
	cr_assert_eq(memcmp(got, want, PIECE), 0);
}

/* Overwrite pieces of src/sub/name in place, keeping its mtime, so the
 * seeder goes on serving them: only the piece hashes can tell. */
static void
corrupt(const char *sub, const char *name, const uint32_t *pieces, int n)
{
	char		path[PATH_MAX + 80], junk[4096];
	struct stat	st;
	struct timespec	ts[2];
	int		fd, k;

	snprintf(path, sizeof(path), "%s/%s/%s", src, sub, name);
	cr_assert_eq(stat(path, &st), 0);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_geq(fd = open(path, O_WRONLY), 0);
	for (k = 0; k < n; k++)
		cr_assert_eq(pwrite(fd, junk, sizeof(junk),
		    (off_t)pieces[k] * PIECE + 100), (ssize_t)sizeof(junk));
	close(fd);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/*
 * The only seeder sends bad data: the download fails saying which pieces
 * failed verification from every seeder, keeps what it verified, and
 * download_file again, with a good seeder now, goes on from there.
 */
Test(peer_crowd, all_corrupt_seeder_then_resume)
{
	static const uint32_t	bad[] = { 2, 5, 9 };
	struct h_run		r;
	char			*log, *p;
	unsigned		kept;

	share(1, "g", "1", "bad.bin", 16 * PIECE, 91);
	corrupt("1", "bad.bin", bad, 3);
	SC(0, 2, "download_file g bad.bin %s", dl2);
	wait_done(2, "bad.bin", 1);
	cr_assert_eq(sc(&r, 2, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "[F] [g] bad.bin"), "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(scj(&r, 2, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "pieces 2, 5, 9 failed verification "
	    "from every seeder"), "%s", r.out);
	h_run_free(&r);
	/* a good copy appears; the same download goes on from its pieces */
	share(0, "g", "0", "bad.bin", 16 * PIECE, 91);
	SC(0, 2, "download_file g bad.bin %s", dl2);
	wait_done(2, "bad.bin", 0);
	same_file("0", dl2, "bad.bin");
	cr_assert_not_null(log = h_read_file(SW.plog[2], NULL));
	/* the second start's line: "... resumed with N of M pieces" */
	cr_assert_not_null(p = strstr(log, "resumed with "), "%s", log);
	kept = (unsigned)strtoul(p + 13, NULL, 10);
	cr_assert_gt(kept, 0, "nothing kept from the failed attempt");
	free(log);
}
