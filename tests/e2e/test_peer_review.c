/* Regression tests from a review of peerd: wait clients that go away,
 * two downloads aimed at one destination, and similar lifecycle edges. */
#include "tests/e2e/swarm.h"

TestSuite(peer_review, .init = sw_setup, .fini = sw_fini_stopped,
    .timeout = 120);

/* A download that cannot progress: its only seeder is stopped. */
static void
stalled_download(char *dl, size_t len)
{
	char	path[PATH_MAX + 16];

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "s.bin", 3 << 20, 7);
	cr_assert_eq(sw_subdir(dl, len, "dl", 0755), 0);
	kill(SW.peer[0].pid, SIGSTOP);
	SC(0, 1, "download_file g s.bin %s", dl);
}

/* Clients that start `wait` and hang up must not pile up until the
 * download ends: peerd keeps serving new sharectl connections. */
Test(peer_review, wait_clients_that_hang_up_are_forgotten)
{
	char	dl[PATH_MAX], buf[512];
	int	i, fd;
	ssize_t	n;

	stalled_download(dl, sizeof(dl));
	for (i = 0; i < 300; i++) {
		fd = h_unix_connect(SW.sock[1]);
		cr_assert_geq(fd, 0, "connection %d", i);
		(void)!write(fd, "wait\tg\ts.bin\n", 13);
		n = read(fd, buf, sizeof(buf));	/* the first progress record */
		cr_assert_gt(n, 0, "wait client %d got no answer", i);
		close(fd);
	}
	SC(0, 1, "show_downloads");
	kill(SW.peer[0].pid, SIGCONT);
}

/* The same file name in two groups, both downloaded into one directory:
 * the second must be refused, not share (and clobber) FILE.part. */
Test(peer_review, one_destination_one_download)
{
	char	dl[PATH_MAX], path[PATH_MAX + 32], d2[PATH_MAX + 16];

	sw_users_and_group();
	SC(0, 0, "create_group g2");
	SC(0, 1, "join_group g2");
	SC(0, 0, "accept_request g2 bob");
	sw_share_random(0, path, sizeof(path), "s.bin", 3 << 20, 7);
	cr_assert_eq(sw_subdir(d2, sizeof(d2), "other", 0755), 0);
	snprintf(path, sizeof(path), "%s/s.bin", d2);
	h_random_file(path, 1 << 20, 8);
	SC(0, 0, "upload_file %s g2", path);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	kill(SW.peer[0].pid, SIGSTOP);
	SC(0, 1, "download_file g s.bin %s", dl);
	SC(1, 1, "download_file g2 s.bin %s", dl);
	kill(SW.peer[0].pid, SIGCONT);
	SC(0, 1, "wait g s.bin");
	snprintf(path, sizeof(path), "%s/s.bin", SW.dir);
	snprintf(d2, sizeof(d2), "%s/s.bin", dl);
	cr_assert(h_same_file(path, d2));
}

/* An empty file has a whole-file SHA-1 too: a tracker record that gives
 * it another one must not end in a "complete" download. */
Test(peer_review, empty_file_checked_against_its_sha1)
{
	char	dl[PATH_MAX], line[512], *rep, *tok, path[PATH_MAX + 32];
	struct h_run r;
	int	fd;

	sw_users_and_group();
	fd = h_connect(SW.tport[0]);
	cr_assert_geq(fd, 0);
	rep = h_request(fd, "login alice pa");
	cr_assert_not_null(rep);
	cr_assert_not_null(tok = strstr(rep, "login_success "), "%s", rep);
	free(rep);
	snprintf(line, sizeof(line), "upload_file g e.bin 0 127.0.0.1 %u "
	    "0123456789abcdef0123456789abcdef01234567 0", SW.pport[0]);
	rep = h_request(fd, line);
	cr_assert_not_null(rep);
	cr_assert_eq(strncmp(rep, "OK", 2), 0, "%s", rep);
	free(rep);
	close(fd);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g e.bin %s", dl);
	cr_assert_eq(sc(&r, 1, "wait g e.bin"), 1, "wait: %s", r.out);
	h_run_free(&r);
	snprintf(path, sizeof(path), "%s/e.bin", dl);
	cr_assert_eq(access(path, F_OK), -1, "%s was created", path);
}

/* DEST_DIR/FILE.part planted as a symlink must not lead the download to
 * truncate and fill the file it points to. */
Test(peer_review, part_symlink_not_followed)
{
	char	dl[PATH_MAX], src[PATH_MAX + 32], victim[PATH_MAX + 32];
	char	part[PATH_MAX + 32], *text;
	size_t	len;

	sw_users_and_group();
	sw_share_random(0, src, sizeof(src), "v.bin", 100000, 3);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	snprintf(victim, sizeof(victim), "%s/victim", SW.dir);
	h_write_file(victim, "precious\n");
	snprintf(part, sizeof(part), "%s/v.bin.part", dl);
	cr_assert_eq(symlink(victim, part), 0);
	(void)sc(NULL, 1, "download_file g v.bin %s", dl);
	(void)sc(NULL, 1, "wait g v.bin");
	cr_assert_not_null(text = h_read_file(victim, &len));
	cr_assert_str_eq(text, "precious\n");
	free(text);
}

/* "wait A" for a finished download pipelined with "wait B" for a running
 * one: the progress timer of B must be the only one (a second, untracked
 * one fired after the client was freed). */
Test(peer_review, pipelined_waits_one_progress_timer)
{
	char	dl[PATH_MAX], path[PATH_MAX + 32], buf[4096];
	int	fd, nrec = 0, i;
	ssize_t	n;
	long	start;

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "a.bin", 100000, 5);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g a.bin %s", dl);
	SC(0, 1, "wait g a.bin");
	sw_share_random(0, path, sizeof(path), "s.bin", 3 << 20, 7);
	kill(SW.peer[0].pid, SIGSTOP);
	SC(0, 1, "download_file g s.bin %s", dl);
	fd = h_unix_connect(SW.sock[1]);
	cr_assert_geq(fd, 0);
	(void)!write(fd, "wait\tg\ta.bin\nwait\tg\ts.bin\n", 26);
	start = h_now_ms();
	for (;;) {
		struct timeval tv = { 0, 200000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if ((n = read(fd, buf, sizeof(buf))) > 0)
			for (i = 0; i < n; i++)
				nrec += buf[i] == '\n';
		if (h_now_ms() - start >= 2200)
			break;
	}
	close(fd);
	/* a.bin: record + status; s.bin: about 1 + 2200/500 progress */
	cr_assert_leq(nrec, 2 + 7, "%d lines: two progress timers", nrec);
	sw_sleep_ms(1200);
	cr_assert(h_alive(SW.peer[1].pid), "peerd died");
	SC(0, 1, "show_downloads");
	kill(SW.peer[0].pid, SIGCONT);
}

/* A client that sends requests and never reads the answers: peerd stops
 * reading its requests instead of buffering up to 32 MiB of answers (and
 * then dropping the client as "reply too long"). */
Test(peer_review, unread_answers_hold_requests_back)
{
	char	 dl[PATH_MAX], path[PATH_MAX + 32], req[15 * 1000];
	char	*log;
	int	 fd, fl, i;
	uint64_t sent = 0;
	ssize_t	 n;

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "a.bin", 100000, 5);
	cr_assert_eq(sw_subdir(dl, sizeof(dl), "dl", 0755), 0);
	SC(0, 1, "download_file g a.bin %s", dl);
	SC(0, 1, "wait g a.bin");
	for (i = 0; i < 1000; i++)
		memcpy(req + 15 * i, "show_downloads\n", 15);
	fd = h_unix_connect(SW.sock[1]);
	cr_assert_geq(fd, 0);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (i = 0; i < 3000 && sent < 12000000; i++) {
		n = send(fd, req, sizeof(req), MSG_NOSIGNAL);
		if (n > 0)
			sent += (uint64_t)n;
		else
			sw_sleep_ms(1);
	}
	close(fd);
	cr_assert(h_alive(SW.peer[1].pid));
	cr_assert_lt(sent, 4000000, "%llu bytes of requests taken",
	    (unsigned long long)sent);
	cr_assert_not_null(log = h_read_file(SW.plog[1], NULL));
	cr_assert_null(strstr(log, "reply too long"), "answers piled up");
	free(log);
	SC(0, 1, "show_downloads");
}
