/* peerd downloads end to end, driven through sharectl: two seeders and a
 * downloader, a corrupt seeder, a seeder killed, the downloader restarted,
 * a tracker lost, all mid-download. */
#include "tests/e2e/swarm.h"

static char	src[PATH_MAX], dl[PATH_MAX], got[PATH_MAX + 80];
static pid_t	throttler;

static void
setup(void)
{
	sw_setup_sharing(src, dl);
	throttler = 0;
}

static void
unthrottle(void)
{
	sw_stop_child(&throttler, SIGTERM);
}

static void
teardown(void)
{
	unthrottle();
	sw_fini();
}

TestSuite(peer_swarm, .init = setup, .fini = teardown, .timeout = 180);

/*
 * Slow the given peerd down without touching their code: a child that
 * stops them most of the time (SIGSTOP/SIGCONT), so a download lasts
 * long enough to be interrupted. Always leaves them running.
 */
static void
throttle(const pid_t *pids, int n, int run_ms, int stop_ms)
{
	int	i;

	unthrottle();
	if (sw_fork_child(&throttler) != 0)
		return;
	while (!sw_child_stopping) {
		for (i = 0; i < n; i++)
			kill(pids[i], SIGSTOP);
		sw_sleep_ms(stop_ms);
		for (i = 0; i < n; i++)
			kill(pids[i], SIGCONT);
		sw_sleep_ms(run_ms);
	}
	for (i = 0; i < n; i++)
		kill(pids[i], SIGCONT);
	_exit(0);
}

/* Progress of group/file on peer i from show_downloads; state letter. */
static char
progress(int i, const char *file, unsigned long long *done,
    unsigned long long *total)
{
	struct h_run	 r;
	char		 pat[128], *p, st = 0;

	*done = *total = 0;
	if (sc(&r, i, "show_downloads") != 0) {
		h_run_free(&r);
		return 0;
	}
	snprintf(pat, sizeof(pat), "] [g] %s\t", file);
	if ((p = strstr(r.out, pat)) != NULL && p - r.out >= 2) {
		st = p[-1];
		p += strlen(pat);
		strtoul(p, &p, 10);		/* percent */
		*done = strtoull(p + 1, &p, 10);
		*total = strtoull(p + 1, &p, 10);
	}
	h_run_free(&r);
	return st;
}

/* Wait until peer i has at least min bytes of file, still downloading. */
static void
wait_partial(int i, const char *file, unsigned long long min)
{
	unsigned long long	done, total;
	char			st;
	int			k;

	for (k = 0; k < 3000; k++) {
		st = progress(i, file, &done, &total);
		cr_assert_neq(st, 'C', "%s completed before it could be "
		    "interrupted", file);
		cr_assert_neq(st, 'F', "%s failed", file);
		if (st == 'D' && done >= min)
			return;
		sw_sleep_ms(10);
	}
	cr_assert_fail("no progress on %s", file);
}

static void
seed(int peer, const char *name, size_t size, unsigned rnd)
{
	char	path[PATH_MAX + 80];

	snprintf(path, sizeof(path), "%s/%d", src, peer);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%d/%s", src, peer, name);
	h_random_file(path, size, rnd);
	SC(0, peer, "upload_file %s g", path);
}

static void
same_as_seed(const char *file)
{
	char	orig[PATH_MAX + 80];

	snprintf(orig, sizeof(orig), "%s/0/%s", src, file);
	snprintf(got, sizeof(got), "%s/%s", dl, file);
	cr_assert(h_same_file(orig, got), "%s differs from the original", got);
}

Test(peer_swarm, two_seeders_one_downloader)
{
	struct h_run	r;
	struct stat	st;
	char		path[PATH_MAX + 16];
	mode_t		mask;

	seed(0, "f.bin", 6 * 1024 * 1024 + 4321, 11);
	seed(1, "f.bin", 6 * 1024 * 1024 + 4321, 11);
	cr_assert_eq(sw_seeders(2, "g", "f.bin"), 2);
	cr_assert_eq(sc(&r, 2, "download_file g f.bin %s", dl), 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "/dl/f.bin"), "%s", r.out);
	h_run_free(&r);
	wait_done(2, "f.bin", 0);
	same_as_seed("f.bin");
	/* an ordinary file: 0644 less the umask peerd was started with */
	mask = umask(0);
	umask(mask);
	snprintf(path, sizeof(path), "%s/f.bin", dl);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644 & ~mask, "mode %o",
	    (unsigned)(st.st_mode & 0777));
	cr_assert_eq(sc(&r, 2, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "[C] [g] f.bin\t100\t6295777\t6295777\n"),
	    "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(scj(&r, 2, "show_downloads"), 0);
	cr_assert(json_valid(r.out), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\"state\":\"complete\""), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\"pieces_total\":13"), "%s", r.out);
	h_run_free(&r);
	/* the downloader is a seeder now */
	for (int k = 0; k < 100 && sw_seeders(0, "g", "f.bin") != 3; k++)
		sw_sleep_ms(50);
	cr_assert_eq(sw_seeders(0, "g", "f.bin"), 3);
	/* refusals: unknown file, unknown download, not a member */
	SC(1, 2, "download_file g nosuch.bin %s", dl);
	SC(1, 2, "wait g nosuch.bin");
	SC(1, 2, "download_file nogroup f.bin %s", dl);
	SC(1, 2, "download_file g f.bin %s/nodir", SW.dir);
}

Test(peer_swarm, corrupt_seeder_is_worked_around)
{
	char		path[PATH_MAX + 80], junk[4096];
	struct stat	st;
	struct timespec	ts[2];
	int		fd;

	seed(0, "c.bin", 4 * 1024 * 1024, 21);
	seed(1, "c.bin", 4 * 1024 * 1024, 21);
	/* corrupt seeder 1's copy in place and put its mtime back, so it
	 * keeps serving: only the piece hashes can catch it */
	snprintf(path, sizeof(path), "%s/1/c.bin", src);
	cr_assert_eq(stat(path, &st), 0);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(path, O_WRONLY);
	for (int p = 0; p < 8; p++)
		cr_assert_eq(pwrite(fd, junk, sizeof(junk),
		    (off_t)p * 512 * 1024 + 1000), (ssize_t)sizeof(junk));
	close(fd);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	SC(0, 2, "download_file g c.bin %s", dl);
	wait_done(2, "c.bin", 0);
	same_as_seed("c.bin");
}

Test(peer_swarm, seeder_killed_mid_download)
{
	pid_t	pids[2];

	seed(0, "k.bin", 32 * 1024 * 1024, 31);
	seed(1, "k.bin", 32 * 1024 * 1024, 31);
	pids[0] = SW.peer[0].pid;
	pids[1] = SW.peer[1].pid;
	throttle(pids, 2, 1, 40);
	SC(0, 2, "download_file g k.bin %s", dl);
	wait_partial(2, "k.bin", 1024 * 1024);
	unthrottle();
	kill(SW.peer[0].pid, SIGKILL);
	h_stop(&SW.peer[0], SIGKILL, 5000);
	wait_done(2, "k.bin", 0);
	same_as_seed("k.bin");
}

Test(peer_swarm, downloader_restarted_resumes)
{
	unsigned long long	done, total;
	pid_t			pids[2];
	char			*log, *p;
	unsigned		have = 0;

	seed(0, "r.bin", 48 * 1024 * 1024, 41);
	seed(1, "r.bin", 48 * 1024 * 1024, 41);
	pids[0] = SW.peer[0].pid;
	pids[1] = SW.peer[1].pid;
	throttle(pids, 2, 1, 40);
	SC(0, 2, "download_file g r.bin %s", dl);
	wait_partial(2, "r.bin", 4 * 1024 * 1024);
	cr_assert_eq(h_stop(&SW.peer[2], SIGTERM, 10000), 0);
	unthrottle();
	sw_start_peer(2);
	/* the unfinished download is back before any login */
	cr_assert_eq(progress(2, "r.bin", &done, &total), 'D');
	cr_assert_geq(done, 4ull * 1024 * 1024, "verified pieces kept");
	/* no login: the saved session goes on */
	wait_done(2, "r.bin", 0);
	same_as_seed("r.bin");
	log = h_read_file(SW.plog[2], NULL);
	cr_assert_not_null(log);
	p = strstr(log, "resumed with ");
	cr_assert_not_null(p, "no resume in the log");
	have = (unsigned)strtoul(p + 13, NULL, 10);
	cr_assert_geq(have, 8u, "resumed with %u pieces", have);
	free(log);
}

Test(peer_swarm, tracker_lost_mid_download)
{
	pid_t	pids[2];

	seed(0, "t.bin", 32 * 1024 * 1024, 51);
	seed(1, "t.bin", 32 * 1024 * 1024, 51);
	pids[0] = SW.peer[0].pid;
	pids[1] = SW.peer[1].pid;
	throttle(pids, 2, 1, 40);
	SC(0, 2, "download_file g t.bin %s", dl);
	wait_partial(2, "t.bin", 1024 * 1024);
	sw_kill_tracker(0);
	unthrottle();
	wait_done(2, "t.bin", 0);
	same_as_seed("t.bin");
	/* no new login anywhere: every peerd goes on through tracker 2 */
	cr_assert_eq(sw_seeders(1, "g", "t.bin"), 3);
	SC(0, 0, "stop_share g t.bin");
	cr_assert_eq(sw_seeders(1, "g", "t.bin"), 2);
	cr_assert_null(strstr(h_read_file(SW.plog[2], NULL), "logging in again"));
}

Test(peer_swarm, changed_file_is_withdrawn)
{
	char	path[PATH_MAX + 80];
	int	fd, k;

	seed(0, "w.bin", 3 * 1024 * 1024, 61);
	seed(1, "w.bin", 3 * 1024 * 1024, 61);
	/* seeder 0's copy is rewritten (mtime moves): it must stop serving
	 * it and withdraw it from the tracker when a peer asks for it */
	snprintf(path, sizeof(path), "%s/0/w.bin", src);
	sw_sleep_ms(20);
	fd = open(path, O_WRONLY);
	cr_assert_eq(pwrite(fd, "garbage", 7, 12345), 7);
	close(fd);
	SC(0, 2, "download_file g w.bin %s", dl);
	wait_done(2, "w.bin", 0);
	snprintf(path, sizeof(path), "%s/1/w.bin", src);
	snprintf(got, sizeof(got), "%s/w.bin", dl);
	cr_assert(h_same_file(path, got));
	/* seeders: 1 and the downloader, no longer 0 */
	for (k = 0; k < 100 && sw_seeders(1, "g", "w.bin") != 2; k++)
		sw_sleep_ms(50);
	cr_assert_eq(sw_seeders(1, "g", "w.bin"), 2);
	cr_assert_not_null(strstr(h_read_file(SW.plog[0], NULL),
	    "changed on disk"));
}
