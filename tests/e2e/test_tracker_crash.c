/* trackerd end to end, when things break: restart and replay, a torn or
 * corrupt journal, workers and whole trackers killed, clean shutdown, and
 * a second instance refused. */
#include <poll.h>
#include <sys/stat.h>

#include "tests/e2e/tracker_e2e.h"

static void
setup(void)
{
	trk_init();
}

static pid_t	daemon_pid;	/* a detached trackerd to stop */

static void
teardown(void)
{
	trk_fini();
	if (daemon_pid > 0 && kill(daemon_pid, SIGKILL) == 0)
		wait_gone(&daemon_pid, 1, 3000);
}

TestSuite(tracker_crash, .init = setup, .fini = teardown, .timeout = 90);

static char	tok_a[32];

/* A little of everything, acknowledged: users, a group with a member and a
 * pending request, a shared file, a live session. */
static void
make_state(int i)
{
	int	a = trk_conn(i), b = trk_conn(i), c = trk_conn(i);

	OK(a, "create_user alice pa");
	snprintf(tok_a, sizeof(tok_a), "%s", trk_login(a, "alice", "pa"));
	trk_user(b, "bob", "pb");
	trk_user(c, "carol", "pc");
	OK(a, "create_group crew");
	OK(b, "join_group crew");
	OK(a, "accept_request crew bob");
	OK(c, "join_group crew");
	upload_ok(a, "crew", "notes.txt", 1234, 7001, 11);
	close(a);
	close(b);
	close(c);
}

static void
check_state(int i)
{
	int	 a = trk_conn(i), b = trk_conn(i);
	char	*r;

	trk_login(b, "bob", "pb");
	ERR(b, NULL, "login carol wrong");
	trk_login(b, "carol", "pc");
	r = rq(a, "session alice %s list_requests crew", tok_a);
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(has_line(strchr(r, '\n') + 1, "carol"), "%s", r);
	free(r);
	r = rq(a, "session alice %s list_files crew", tok_a);
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(strstr(r, "\nnotes.txt 1234 ") != NULL, "%s", r);
	free(r);
	r = rq(a, "session alice %s list_groups", tok_a);
	cr_assert(strstr(r, "\ncrew alice\n") != NULL, "%s", r);
	free(r);
	ERR(a, NULL, "create_user bob again");
	close(a);
	close(b);
}

static void
shm_path(int i, char *out, size_t n)
{
	snprintf(out, n, "/dev/shm/p2pshare-trackerd-%u", T.port[i]);
}

/* The workers of tracker i, and wait until the master has n again. */
static int
workers_now(int i, pid_t *kids)
{
	int	n = 0;

	for (long end = trk_now_ms() + 5000; trk_now_ms() < end;) {
		n = child_pids(T.p[i].pid, kids, 8);
		if (n == 2)
			break;
		trk_sleep_ms(10);
	}
	return n;
}

Test(tracker_crash, sigterm_is_clean)
{
	char	shm[128];
	pid_t	kids[8];
	int	n;

	trk_start_both();
	shm_path(0, shm, sizeof(shm));
	cr_assert_eq(access(shm, F_OK), 0, "no shm object %s", shm);
	cr_assert_eq(access(T.pidfile[0], F_OK), 0, "no pidfile");
	n = workers_now(0, kids);	/* forked after the port opened */
	cr_assert_eq(n, 2, "expected 2 workers, found %d", n);
	cr_assert_eq(trk_stop(0), 0, "SIGTERM: non-zero exit");
	cr_assert_eq(wait_gone(kids, n, 3000), 0, "workers left behind");
	cr_assert_neq(access(shm, F_OK), 0, "%s left behind", shm);
	cr_assert_neq(access(T.pidfile[0], F_OK), 0, "pidfile left behind");
	/* SIGINT too */
	shm_path(1, shm, sizeof(shm));
	cr_assert_eq(h_stop(&T.p[1], SIGINT, 8000), 0, "SIGINT: non-zero");
	cr_assert_neq(access(shm, F_OK), 0, "%s left behind", shm);
}

Test(tracker_crash, restart_replays_journal)
{
	trk_start_both();
	make_state(0);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_stop(1), 0);
	cr_assert_eq(trk_start(1), 0, "restart");
	check_state(1);
	cr_assert_eq(trk_start(0), 0, "restart");
	check_state(0);
}

Test(tracker_crash, torn_tail_dropped)
{
	static const char	torn[] = "999999 2 user tornuser $pbkdf2";
	char			*j, *log;
	FILE			*fp;
	int			 a;

	trk_start_both();
	make_state(0);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_stop(1), 0);
	fp = fopen(T.journal, "a");
	cr_assert_not_null(fp);
	fputs(torn, fp);		/* half a line: no checksum, no '\n' */
	fclose(fp);
	cr_assert_eq(trk_start(0), 0, "did not start over a torn tail");
	check_state(0);
	j = h_read_file(T.journal, NULL);
	cr_assert(strstr(j, "tornuser") == NULL, "torn line still there");
	free(j);
	log = h_read_file(T.log[0], NULL);
	cr_assert(strstr(log, "torn") || strstr(log, "truncat") ||
	    strstr(log, "incomplete") || strstr(log, "drop"),
	    "no warning about the torn line: %s", log);
	free(log);
	/* the journal is whole again: a new change and another restart */
	a = trk_conn(0);
	OK(a, "create_user after_torn pw");
	close(a);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_start(0), 0);
	a = trk_conn(0);
	trk_login(a, "after_torn", "pw");
	close(a);
}

/* Change one byte in the middle of line lineno (1-based). */
static void
corrupt_line(const char *path, int lineno)
{
	size_t	 len;
	char	*s = h_read_file(path, &len), *p = s, *e;
	FILE	*fp;

	for (int i = 1; i < lineno; i++)
		p = strchr(p, '\n') + 1;
	e = strchr(p, '\n');
	p += (e - p) / 2;
	*p = *p == 'X' ? 'Y' : 'X';
	fp = fopen(path, "w");
	fwrite(s, 1, len, fp);
	fclose(fp);
	free(s);
}

Test(tracker_crash, corrupt_middle_refused)
{
	struct h_run	 r;
	char		*argv[32], shm[128];
	int		 lines;

	trk_start_both();
	make_state(0);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_stop(1), 0);
	lines = file_lines(T.journal);
	cr_assert_geq(lines, 5, "journal has %d lines", lines);
	corrupt_line(T.journal, 3);
	trk_argv(0, argv);
	h_run(&r, argv, NULL, 15000);
	cr_assert_neq(r.status, 0, "started on a corrupt journal");
	cr_assert_neq(r.status, -1, "did not exit on a corrupt journal");
	cr_assert(strstr(r.err, ":3:") != NULL, "message does not name line 3: "
	    "%s", r.err);
	cr_log_info("corrupt journal: exit %d: %s", r.status, r.err);
	h_run_free(&r);
	shm_path(0, shm, sizeof(shm));
	cr_assert_neq(access(shm, F_OK), 0, "%s left behind", shm);
	cr_assert_neq(h_wait_port(T.port[0], 100), 0, "listening anyway");
}

Test(tracker_crash, sigkill_worker_loses_nothing)
{
	pid_t	before[8], after[8];
	int	n, a;

	trk_start_both();
	make_state(0);
	n = workers_now(0, before);
	cr_assert_eq(n, 2);
	kill(before[0], SIGKILL);
	cr_assert_eq(wait_gone(before, 1, 3000), 0);
	for (long end = trk_now_ms() + 5000; trk_now_ms() < end;) {
		n = child_pids(T.p[0].pid, after, 8);
		if (n == 2 && after[0] != before[0] && after[1] != before[0])
			break;
		trk_sleep_ms(10);
	}
	cr_assert(n == 2 && after[0] != before[0] && after[1] != before[0],
	    "worker not replaced");
	for (int k = 0; k < 8; k++) {	/* both workers get connections */
		check_state(0);
	}
	a = trk_conn(0);
	OK(a, "create_user after_kill pw");
	close(a);
	cr_assert(h_alive(T.p[0].pid));
}

Test(tracker_crash, sigkill_worker_holding_lock)
{
	pid_t	victim;
	int	h, a, b;
	long	t0, t;

	T.bin = TRK_TEST_BIN;	/* test_hold_lock* */
	trk_start_both();
	make_state(0);
	h = trk_conn(0);
	cr_assert_eq(send(h, "test_hold_lock 10000\n", 21, MSG_NOSIGNAL), 21);
	victim = worker_of_wait(h, T.p[0].pid, 5000);
	cr_assert_gt(victim, 0, "cannot find the worker holding the lock");
	trk_sleep_ms(300);	/* it has read the request and holds the lock */
	kill(victim, SIGKILL);
	/* writes and reads go on at once, on both trackers */
	t0 = trk_now_ms();
	for (int k = 0; k < 4; k++) {
		a = trk_conn(0);
		OK(a, "create_user after_lock%d pw", k);
		close(a);
	}
	b = trk_conn(1);
	OK(b, "create_user after_lock_t2 pw");
	close(b);
	t = trk_now_ms() - t0;
	cr_log_info("writes resumed %ld ms after the kill", t);
	cr_assert_lt(t, 5000, "the dead worker's lock held writes %ld ms", t);
	close(h);
	check_state(0);
	check_state(1);
	/* and everything acknowledged survives a restart */
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_start(0), 0);
	check_state(0);
	a = trk_conn(0);
	trk_login(a, "after_lock3", "pw");
	close(a);
}

/* The dead worker left a change half applied (a user nobody journaled):
 * the repair must drop it and keep everything acknowledged. */
Test(tracker_crash, sigkill_worker_half_applied_change)
{
	pid_t	victim;
	int	h, a;

	T.bin = TRK_TEST_BIN;	/* test_hold_lock* */
	trk_start_both();
	make_state(0);
	h = trk_conn(0);
	cr_assert_eq(send(h, "test_hold_lock_dirty 10000\n", 27, MSG_NOSIGNAL),
	    27);
	victim = worker_of_wait(h, T.p[0].pid, 5000);
	cr_assert_gt(victim, 0, "cannot find the worker holding the lock");
	trk_sleep_ms(300);	/* it has read the request and holds the lock */
	kill(victim, SIGKILL);
	a = trk_conn(0);
	/* the half-made user does not exist: its name is free */
	OK(a, "create_user hook_dirty pw");
	trk_login(a, "hook_dirty", "pw");
	close(a);
	close(h);
	check_state(0);
	check_state(1);
}

Test(tracker_crash, sigkill_tracker_then_restart)
{
	pid_t	kids[8];
	int	n, b;

	trk_start_both();
	make_state(0);
	n = child_pids(T.p[0].pid, kids, 8);
	cr_assert_eq(h_stop(&T.p[0], SIGKILL, 3000), 128 + SIGKILL);
	cr_assert_eq(wait_gone(kids, n, 5000), 0, "workers outlived master");
	/* tracker 2 carries on meanwhile */
	b = trk_conn(1);
	OK(b, "create_user during_outage pw");
	close(b);
	check_state(1);
	cr_assert_eq(trk_start(0), 0, "restart after SIGKILL");
	check_state(0);
	b = trk_conn(0);
	trk_login(b, "during_outage", "pw");
	close(b);
}

Test(tracker_crash, second_instance_refused)
{
	struct h_run	 r;
	char		*argv[32], info2[400], buf[128], *pid;
	uint16_t	 other;

	trk_start_both();
	/* same port (and pidfile) */
	trk_argv(0, argv);
	h_run(&r, argv, NULL, 10000);
	cr_assert(r.status != 0 && r.status != -1, "second instance: %d",
	    r.status);
	cr_assert(strstr(r.err, "already running") != NULL, "%s", r.err);
	h_run_free(&r);
	/* same port, another pidfile */
	snprintf(T.pidfile[0], sizeof(T.pidfile[0]), "%s/other.pid", T.dir);
	trk_argv(0, argv);
	h_run(&r, argv, NULL, 10000);
	cr_assert(r.status != 0 && r.status != -1, "same port: %d", r.status);
	cr_assert(strstr(r.err, "in use") != NULL, "%s", r.err);
	h_run_free(&r);
	/* same pidfile, another port */
	snprintf(T.pidfile[0], sizeof(T.pidfile[0]), "%s/trackerd2.pid",
	    T.dir);
	other = h_free_port();
	snprintf(info2, sizeof(info2), "%s/info2.txt", T.dir);
	snprintf(buf, sizeof(buf), "127.0.0.1:%u\n", other);
	h_write_file(info2, buf);
	snprintf(T.info, sizeof(T.info), "%s", info2);
	trk_argv(0, argv);
	h_run(&r, argv, NULL, 10000);
	cr_assert(r.status != 0 && r.status != -1, "same pidfile: %d",
	    r.status);
	cr_assert(strstr(r.err, "already running") != NULL, "%s", r.err);
	h_run_free(&r);
	/* the pidfile names the running master; both still serve */
	pid = h_read_file(T.pidfile[1], NULL);
	cr_assert_eq(strtol(pid, NULL, 10), T.p[1].pid, "pidfile: %s", pid);
	free(pid);
	cr_assert(h_alive(T.p[0].pid) && h_alive(T.p[1].pid));
	cr_assert_eq(h_wait_port(T.port[0], 1000), 0);
}

Test(tracker_crash, usage_errors)
{
	struct h_run	 r;
	char		*a1[] = { "trackerd/trackerd", "-f", NULL };
	char		*a2[] = { "trackerd/trackerd", "-f", "-w", "zero", "x",
	    "1", NULL };
	char		*a3[] = { "trackerd/trackerd", "-f", "-s", "sometimes",
	    "x", "1", NULL };
	char		*a4[] = { "trackerd/trackerd", "-f", T.info, "3", NULL };
	char		*a5[] = { "trackerd/trackerd", "-f", "/nonexistent/ti",
	    "1", NULL };

	h_run(&r, a1, NULL, 5000);
	cr_assert_eq(r.status, 64, "%d %s", r.status, r.err);
	cr_assert(strstr(r.err, "usage:") != NULL, "%s", r.err);
	h_run_free(&r);
	h_run(&r, a2, NULL, 5000);
	cr_assert_eq(r.status, 64, "%d %s", r.status, r.err);
	h_run_free(&r);
	h_run(&r, a3, NULL, 5000);
	cr_assert_eq(r.status, 64, "%d %s", r.status, r.err);
	h_run_free(&r);
	h_run(&r, a4, NULL, 5000);
	cr_assert_eq(r.status, 64, "%d %s", r.status, r.err);
	h_run_free(&r);
	h_run(&r, a5, NULL, 5000);
	cr_assert_eq(r.status, 1, "%d %s", r.status, r.err);
	cr_assert(strstr(r.err, "/nonexistent/ti") != NULL, "%s", r.err);
	h_run_free(&r);
}

/* Everything the peer sends until it closes (bounded by the 5 s receive
 * timeout of h_connect). */
static char *
read_to_eof(int fd)
{
	size_t	 len = 0, cap = 1 << 16;
	char	*b = malloc(cap);
	ssize_t	 n;

	while ((n = recv(fd, b + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096)
			b = realloc(b, cap *= 2);
	}
	b[len] = '\0';
	return b;
}

/* Writes in flight when the whole tracker is SIGKILLed: every one that was
 * acknowledged is there after a restart. (Replies still unread when the
 * RST arrives are lost to the client, so "acknowledged" undercounts.) */
Test(tracker_crash, acknowledged_writes_survive_sigkill)
{
	enum { C = 4, N = 2000 };
	int	 fd[C], acked = 0, k, i;
	char	 tok[32], *req, *p, *r, *list;
	pid_t	 kids[8];
	size_t	 len;
	int	 n;

	trk_opt("-o");
	trk_opt("groups=16384,members=16384");
	trk_start_both();
	fd[0] = trk_conn(0);
	OK(fd[0], "create_user burst pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(fd[0], "burst", "pw"));
	for (k = 1; k < C; k++)
		fd[k] = trk_conn(0);
	req = malloc(N * 96);
	for (k = 0; k < C; k++) {
		for (p = req, i = 0; i < N; i++)
			p += sprintf(p, "session burst %s create_group b%d_%d\n",
			    tok, k, i);
		len = (size_t)(p - req);
		cr_assert_eq(send(fd[k], req, len, MSG_NOSIGNAL), (ssize_t)len);
	}
	free(req);
	/* kill in the middle: once the first replies are arriving */
	{
		struct pollfd pfd = { fd[C - 1], POLLIN, 0 };

		cr_assert_eq(poll(&pfd, 1, 3000), 1, "no reply at all");
		trk_sleep_ms(20);
	}
	n = child_pids(T.p[0].pid, kids, 8);
	kill(T.p[0].pid, SIGKILL);
	for (i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	h_stop(&T.p[0], SIGKILL, 3000);
	cr_assert_eq(wait_gone(kids, n, 3000), 0);
	/* count the acknowledged creates (replies come in order) */
	list = calloc(C * N, 1);
	for (k = 0; k < C; k++) {
		r = read_to_eof(fd[k]);
		for (p = r, i = 0; i < N && *p; i++) {
			if (strncmp(p, "OK", 2) == 0) {
				list[k * N + i] = 1;
				acked++;
			}
			if ((p = strstr(p, "END_OF_REPLY\n")) == NULL)
				break;
			p += 13;
		}
		free(r);
		close(fd[k]);
	}
	cr_log_info("%d of %d creates acknowledged before the kill", acked,
	    C * N);
	cr_assert_eq(trk_start(0), 0, "restart after SIGKILL");
	fd[0] = trk_conn(0);
	r = rq(fd[0], "session burst %s list_groups", tok);
	cr_log_info("%ld groups after the restart", reply_count(r));
	for (k = 0; k < C; k++)
		for (i = 0; i < N; i++) {
			char want[64];

			if (!list[k * N + i])
				continue;
			snprintf(want, sizeof(want), "\nb%d_%d burst\n", k, i);
			cr_assert(strstr(r, want) != NULL, "acknowledged b%d_%d "
			    "lost", k, i);
		}
	free(r);
	free(list);
	close(fd[0]);
}

Test(tracker_crash, sighup_reopens_logs_keeps_serving)
{
	pid_t	before[8], after[8];
	int	n, m, a;
	char	*log;

	trk_start_both();
	n = workers_now(0, before);
	a = trk_conn(0);
	OK(a, "create_user hup pw");
	kill(T.p[0].pid, SIGHUP);
	trk_sleep_ms(200);
	OK(a, "create_user hup2 pw");	/* the same connection goes on */
	m = child_pids(T.p[0].pid, after, 8);
	cr_assert_eq(m, n);
	for (int i = 0; i < n; i++)
		cr_assert(after[i] == before[0] || after[i] == before[1],
		    "SIGHUP replaced a worker");
	log = h_read_file(T.log[0], NULL);
	cr_assert(strstr(log, "reopen") != NULL, "%s", log);
	free(log);
	close(a);
	cr_assert_eq(trk_stop(0), 0);
}

/* Without -f: detach, pidfile, syslog; SIGTERM cleans up. */
Test(tracker_crash, daemon_mode)
{
	struct h_run	 r;
	char		*argv[32], *pidtxt, shm[128];
	pid_t		 pid;
	int		 a;

	trk_argv(0, argv);
	for (int i = 1; argv[i] != NULL; i++)	/* drop "-f" */
		argv[i] = argv[i + 1];
	cr_assert_eq(h_run(&r, argv, NULL, 10000), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_run_free(&r);
	cr_assert_eq(h_wait_file(T.pidfile[0], 3000), 0, "no pidfile");
	trk_sleep_ms(50);
	pidtxt = h_read_file(T.pidfile[0], NULL);
	pid = (pid_t)strtol(pidtxt, NULL, 10);
	free(pidtxt);
	cr_assert_gt(pid, 1);
	daemon_pid = pid;
	cr_assert_eq(h_wait_port(T.port[0], 5000), 0);
	a = trk_conn(0);
	OK(a, "create_user daemonic pw");
	close(a);
	kill(pid, SIGTERM);
	cr_assert_eq(wait_gone(&pid, 1, 8000), 0, "daemon did not stop");
	daemon_pid = 0;
	shm_path(0, shm, sizeof(shm));
	cr_assert_neq(access(shm, F_OK), 0, "%s left behind", shm);
	cr_assert_neq(access(T.pidfile[0], F_OK), 0, "pidfile left behind");
}
