/* trackerd end to end against bad clients: garbage bytes, a 2 MB line, a
 * silent half line, a request cut off by a disconnect, idle connections;
 * none of them may disturb the other clients or crash a worker. */
#include <netinet/tcp.h>
#include <poll.h>

#include "tests/e2e/tracker_e2e.h"

static pid_t	workers[8];
static int	nworkers;

static void
setup(void)
{
	trk_init();
}

static void
teardown(void)
{
	trk_fini();
}

TestSuite(tracker_abuse, .init = setup, .fini = teardown, .timeout = 60);

static void
start_one(void)
{
	cr_assert_eq(trk_start(0), 0, "tracker did not start");
	for (long end = trk_now_ms() + 3000; trk_now_ms() < end;) {
		nworkers = child_pids(T.p[0].pid, workers, 8);
		if (nworkers == 2)
			break;
		trk_sleep_ms(10);
	}
	cr_assert_eq(nworkers, 2);
}

/* No worker died: same pids as at the start. */
static void
same_workers(void)
{
	pid_t	now[8];
	int	n = child_pids(T.p[0].pid, now, 8);

	cr_assert_eq(n, nworkers, "workers: %d", n);
	for (int i = 0; i < n; i++)
		cr_assert(now[i] == workers[0] || now[i] == workers[1],
		    "a worker was replaced (crashed?)");
}

/* A well-behaved client's round of work. */
static void
good_client(int fd, int round)
{
	char	*r;

	OK(fd, "create_group good%d", round);
	r = rq(fd, "list_files good%d", round);
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
}

/* 1 when fd was closed by the peer (bounded wait). */
static int
closed_by_peer(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		buf[4096];
	long		end = trk_now_ms() + ms;
	ssize_t		n;

	while (trk_now_ms() < end) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

Test(tracker_abuse, garbage_bytes)
{
	int		 g, ok;
	unsigned char	*junk;
	uint32_t	 x = 12345;
	char		*r;

	start_one();
	ok = trk_conn(0);
	trk_user(ok, "good", "pw");
	g = trk_conn(0);
	junk = malloc(65536);
	for (int i = 0; i < 65536; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		junk[i] = (unsigned char)x;
		if (i % 200 == 199)
			junk[i] = '\n';	/* short lines: each gets an error */
	}
	for (int k = 0; k < 4; k++) {
		send(g, junk, 65536, MSG_NOSIGNAL);
		good_client(ok, k);
	}
	free(junk);
	close(g);
	/* a garbage line gets a one-line error; the connection still works */
	g = trk_conn(0);
	ERR(g, NULL, "\x01\x02\xff\xfe");
	r = rq(g, "list_groups");
	cr_assert(is_err_reply(r, NULL), "%s", r);
	free(r);
	close(g);
	/* NUL bytes inside a line */
	g = trk_conn(0);
	cr_assert_eq(send(g, "list_groups\0junk\n", 17, MSG_NOSIGNAL), 17);
	r = h_read_reply(g);
	cr_assert_not_null(r);
	free(r);
	close(g);
	good_client(ok, 10);
	same_workers();
	close(ok);
}

Test(tracker_abuse, two_megabyte_line)
{
	int	 big, ok;
	char	*line, *r, all[512];

	start_one();
	ok = trk_conn(0);
	trk_user(ok, "good", "pw");
	big = trk_conn(0);
	line = malloc(2 << 20);
	memset(line, 'x', 2 << 20);
	line[(2 << 20) - 1] = '\n';
	cr_assert_eq(send(big, line, 2 << 20, MSG_NOSIGNAL), 2 << 20);
	good_client(ok, 1);
	/* one error line; the rest of the line is skipped and the same
	 * connection serves the next request */
	r = h_read_reply(big);
	cr_assert_not_null(r);
	cr_assert_str_eq(r, "ERR too_long request longer than 4096 bytes\n"
	    "END_OF_REPLY\n");
	free(r);
	r = rq(big, "list_groups");
	cr_assert(is_err_reply(r, "not_logged_in"), "%s", r);
	free(r);
	/* a request a little over 4 KiB, with a good one right behind it */
	memset(line, 'x', 5000);
	memcpy(line + 5000, "\nfrob\n", 6);
	cr_assert_eq(send(big, line, 5006, MSG_NOSIGNAL), 5006);
	all[0] = '\0';
	for (int k = 0; k < 10 && strstr(all, "frob\nEND_OF_REPLY\n") == NULL;
	    k++) {
		cr_assert_not_null(r = h_read_reply(big));
		strlcat(all, r, sizeof(all));
		free(r);
	}
	cr_assert_str_eq(all, "ERR too_long request longer than 4096 bytes\n"
	    "END_OF_REPLY\nERR unknown_command unknown command frob\n"
	    "END_OF_REPLY\n");
	close(big);
	/* the same as an upload_file that is too long for any file */
	big = trk_conn(0);
	memcpy(line, "upload_file ", 12);
	memset(line + 12, 'y', (2 << 20) - 13);
	send(big, line, 2 << 20, MSG_NOSIGNAL);
	good_client(ok, 2);
	close(big);
	free(line);
	good_client(ok, 3);
	same_workers();
	close(ok);
}

Test(tracker_abuse, silent_half_line_and_cut_request)
{
	int	 half[20], ok, cut;
	char	*r;

	start_one();
	ok = trk_conn(0);
	trk_user(ok, "good", "pw");
	/* many clients send half a line and go silent */
	for (int i = 0; i < 20; i++) {
		half[i] = trk_conn(0);
		send(half[i], "list_gro", 8, MSG_NOSIGNAL);
	}
	for (int k = 0; k < 20; k++)
		good_client(ok, k);
	/* a request cut off by a disconnect is never applied */
	cut = trk_conn(0);
	send(cut, "create_user cutoff pw", 21, MSG_NOSIGNAL);
	close(cut);
	trk_sleep_ms(100);
	ERR(ok, NULL, "login cutoff pw");
	/* the half line completes late: it is answered */
	send(half[0], "ups\n", 4, MSG_NOSIGNAL);
	r = h_read_reply(half[0]);
	cr_assert(r && is_err_reply(r, NULL), "%s", r ? r : "(none)");
	free(r);
	for (int i = 0; i < 20; i++)
		close(half[i]);
	same_workers();
	close(ok);
}

Test(tracker_abuse, idle_connections_closed)
{
	int	idle, ok;

	trk_opt("-i");
	trk_opt("1");
	start_one();
	idle = trk_conn(0);
	ok = trk_conn(0);
	OK(ok, "create_user good pw");
	cr_assert(closed_by_peer(idle, 4000), "idle connection kept open");
	close(idle);
	close(ok);
}

Test(tracker_abuse, many_connections)
{
	enum { N = 300 };
	int	fds[N], ok;
	char	*r;

	start_one();
	for (int i = 0; i < N; i++)
		fds[i] = trk_conn(0);
	ok = trk_conn(0);
	trk_user(ok, "good", "pw");
	good_client(ok, 1);
	/* every one of them is served */
	for (int i = 0; i < N; i++) {
		r = rq(fds[i], "list_groups");
		cr_assert(is_err_reply(r, NULL), "%s", r);
		free(r);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	same_workers();
	close(ok);
}

Test(tracker_abuse, small_max_file_size)
{
	int	 ok;
	char	*l;

	trk_opt("-o");
	trk_opt("maxsize=1000000");
	start_one();
	ok = trk_conn(0);
	trk_user(ok, "good", "pw");
	good_client(ok, 1);
	upload_ok(ok, "good1", "small.bin", 1000000, 7001, 1);
	l = upload_line("good1", "big.bin", 1000001, "127.0.0.1", 7001, 2);
	ERR(ok, NULL, "%s", l);
	free(l);
	/* short of the largest upload, lines over 4 KiB are still refused */
	l = malloc(5000);
	memset(l, 'a', 4999);
	l[4999] = '\0';
	ERR(ok, "too_long", "list_files %s", l);
	free(l);
	same_workers();
	close(ok);
}

/* Requests split at every byte, and many in one segment: the same
 * answers, in order. */
Test(tracker_abuse, framing_across_reads)
{
	static const char	script[] =
	    "create_user frag pw\r\nlogin frag pw\n\ncreate_group fg\n"
	    "list_files fg\nlist_files nog\nlist_groups\n";
	static const char	*const want[] = { "OK", "OK login_success",
	    "OK", "OK 0", "ERR no_such_group", "OK 1" };
	int	 fd, on = 1;
	char	*r, *p;

	start_one();
	fd = trk_conn(0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	for (size_t i = 0; i < sizeof(script) - 1; i++) {
		cr_assert_eq(send(fd, script + i, 1, MSG_NOSIGNAL), 1);
		if (i % 7 == 0)
			trk_sleep_ms(1);
	}
	r = read_replies(fd, 6);
	p = r;
	for (int k = 0; k < 6; k++) {
		cr_assert(strncmp(p, want[k], strlen(want[k])) == 0,
		    "reply %d: %.60s", k, p);
		p = strstr(p, "END_OF_REPLY\n");
		cr_assert_not_null(p);
		p += 13;
	}
	free(r);
	close(fd);
}

/* Requests sent in one segment are answered in order, and the harness
 * hands the replies over one by one (none is taken with the one before). */
Test(tracker_abuse, pipelined_replies_one_at_a_time)
{
	static const char	script[] = "frob1\nfrob2\nfrob3\n";
	char			want[80], *r;
	int			fd;

	start_one();
	fd = trk_conn(0);
	cr_assert_eq(send(fd, script, sizeof(script) - 1, MSG_NOSIGNAL),
	    (ssize_t)sizeof(script) - 1);
	trk_sleep_ms(100);	/* all three replies are in the socket */
	for (int k = 1; k <= 3; k++) {
		snprintf(want, sizeof(want), "ERR unknown_command unknown "
		    "command frob%d\nEND_OF_REPLY\n", k);
		cr_assert_not_null(r = h_read_reply(fd), "reply %d", k);
		cr_assert_str_eq(r, want);
		free(r);
	}
	close(fd);
	same_workers();
}
