/* peerd + sharectl end to end, one command at a time: success and refusal
 * with the contract's exit codes, JSON output, failover, lifecycle and
 * abuse of the control socket. */
#include "tests/e2e/swarm.h"

/* The daemon-mode test's peerd is no child of ours: stop it here too,
 * whatever assertion failed. */
static void
stop_daemon(void)
{
	char	path[PATH_MAX + 16], *text;
	long	pid;

	snprintf(path, sizeof(path), "%s/d.pid", SW.dir);
	if ((text = h_read_file(path, NULL)) == NULL)
		return;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid > 1 && sw_running((pid_t)pid))
		kill((pid_t)pid, SIGKILL);
}

static void
teardown(void)
{
	stop_daemon();
	sw_fini();
}

TestSuite(peer_cmds, .init = sw_setup, .fini = teardown, .timeout = 120);

static void
out_has(int i, const char *needle, const char *fmt, ...)
{
	struct h_run	r;
	va_list		ap;
	int		st;

	va_start(ap, fmt);
	st = sc_v(&r, i, 0, NULL, 30000, fmt, ap);
	va_end(ap);
	cr_assert_eq(st, 0, "%s: exit %d: %s", fmt, st, r.err);
	cr_assert_not_null(strstr(r.out, needle), "%s: no '%s' in:\n%s", fmt,
	    needle, r.out);
	h_run_free(&r);
}

Test(peer_cmds, every_command_and_its_refusals)
{
	struct h_run	r;

	/* usage errors never reach peerd */
	SC(64, 0, "frobnicate");
	SC(64, 0, "login alice");
	SC(64, 0, "login alice pa extra");
	SC(64, 0, "login .alice pa");
	SC(64, 0, "create_user al/ice pa");
	SC(64, 0, "create_group %065d", 1);
	SC(64, 0, "download_file g f");
	/* a bad option too: one line on stderr, nothing on stdout */
	cr_assert_eq(sc(&r, 0, "-x list_groups"), 64);
	cr_assert_str_eq(r.err, "sharectl: unknown option -x (sharectl -h for "
	    "usage)\n");
	cr_assert_str_eq(r.out, "");
	h_run_free(&r);
	/* not logged in */
	SC(1, 0, "list_groups");
	SC(1, 0, "create_group g");
	SC(1, 0, "logout");
	SC(0, 0, "show_downloads");

	SC(0, 0, "create_user alice pa");
	SC(1, 0, "create_user alice other");
	SC(0, 1, "create_user bob pb");
	SC(0, 2, "create_user carol pc");
	SC(1, 0, "login alice wrong");
	SC(1, 0, "login nobody pa");
	SC(0, 0, "login alice pa");
	SC(0, 1, "login bob pb");
	SC(0, 2, "login carol pc");

	SC(0, 0, "create_group g");
	SC(1, 1, "create_group g");
	SC(0, 1, "create_group h");
	out_has(2, "g\talice\n", "list_groups");
	out_has(2, "h\tbob\n", "list_groups");
	SC(1, 1, "list_files g");		/* not a member */
	SC(1, 1, "join_group nosuch");
	SC(0, 1, "join_group g");
	SC(1, 1, "join_group g");		/* already asked */
	SC(0, 2, "join_group g");
	SC(1, 1, "list_requests g");		/* not the owner */
	out_has(0, "bob\n", "list_requests g");
	out_has(0, "carol\n", "list_requests g");
	SC(1, 1, "accept_request g carol");
	SC(0, 0, "accept_request g bob");
	SC(0, 0, "reject_request g carol");
	SC(1, 0, "reject_request g carol");
	SC(1, 0, "accept_request g nobody");
	cr_assert_eq(sc(&r, 0, "list_requests g"), 0);
	cr_assert_str_eq(r.out, "");
	h_run_free(&r);
	SC(0, 1, "list_files g");
	SC(1, 2, "list_files g");		/* rejected */
	SC(0, 1, "leave_group g");
	SC(1, 1, "leave_group g");
	SC(1, 1, "list_files g");
	/* a tracker's refusal reads like any other: its text, no reason word */
	cr_assert_eq(sc(&r, 1, "download_file g f %s", SW.dir), 1);
	cr_assert_str_eq(r.err, "sharectl: not a member of g\n");
	h_run_free(&r);
	SC(0, 0, "logout");
	SC(1, 0, "logout");
	SC(1, 0, "list_groups");
	SC(0, 0, "login alice pa");
	SC(0, 0, "list_files g");
	/* a DEST_DIR that is a regular file is named as such */
	cr_assert_eq(sc(&r, 0, "download_file g f %s", SW.info), 1);
	cr_assert(strstr(r.err, ": Not a directory\n") != NULL, "%s", r.err);
	h_run_free(&r);
}

Test(peer_cmds, upload_list_stop_share)
{
	char	path[PATH_MAX], other[PATH_MAX], cmd[PATH_MAX * 4];
	struct h_run r;

	sw_users_and_group();
	snprintf(path, sizeof(path), "%s/data.bin", SW.dir);
	h_random_file(path, 3 * 512 * 1024 + 77, 1);
	/* another file with the same name and other content */
	mkdir(strcat(strcpy(other, SW.dir), "/o"), 0700);
	strcat(other, "/data.bin");
	h_random_file(other, 1000, 2);

	cr_assert_eq(sc(&r, 0, "upload_file %s g", path), 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "g\tdata.bin\t1572941\t"), "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(sw_seeders(2, "g", "data.bin"), 1);
	SC(1, 1, "upload_file %s g", other);	/* other content */
	SC(0, 1, "upload_file %s g", path);	/* same content: a seeder more */
	cr_assert_eq(sw_seeders(2, "g", "data.bin"), 2);
	SC(1, 0, "upload_file %s/nosuch.bin g", SW.dir);
	SC(1, 0, "upload_file %s g", SW.dir);	/* a directory */
	SC(1, 0, "upload_file %s nosuchgroup", path);
	SC(1, 2, "stop_share g nosuch.bin");
	SC(0, 1, "stop_share g data.bin");
	cr_assert_eq(sw_seeders(2, "g", "data.bin"), 1);
	SC(1, 1, "stop_share g data.bin");
	SC(0, 0, "stop_share g data.bin");
	cr_assert_eq(sw_seeders(2, "g", "data.bin"), -1);

	/* a relative PATH is resolved by sharectl against its cwd */
	snprintf(cmd, sizeof(cmd), "cd %s && %s/sharectl/sharectl -S %s "
	    "upload_file ./data.bin g >/dev/null", SW.dir, h_root(), SW.sock[0]);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(sw_seeders(2, "g", "data.bin"), 1);
}

Test(peer_cmds, logout_stops_sharing_login_resumes)
{
	char	path[PATH_MAX], session[PATH_MAX + 16];

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "a.bin", 100000, 3);
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), 1);
	SC(0, 0, "logout");
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), -1);
	SC(0, 0, "login alice pa");
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), 1);
	/* a restarted peerd keeps its shares and its session: no login */
	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 5000), 0);
	SC(69, 0, "list_groups");
	sw_start_peer(0);
	SC(0, 0, "list_groups");
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), 1);
	/* after a logout, a restarted peerd is logged out */
	SC(0, 0, "logout");
	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 5000), 0);
	sw_start_peer(0);
	SC(1, 0, "list_groups");
	/* a saved session the trackers do not know is dropped */
	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 5000), 0);
	snprintf(session, sizeof(session), "%s/session", SW.state[0]);
	h_write_file(session, "alice AAAAAAAAAAAAAAAA\n");
	sw_start_peer(0);
	for (int k = 0; k < 100 && access(session, F_OK) == 0; k++)
		sw_sleep_ms(20);
	SC(1, 0, "list_groups");
	SC(0, 0, "login alice pa");
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), 1);
	/* a file changed on disk is no longer shared after the next login */
	SC(0, 0, "logout");
	sw_sleep_ms(20);
	h_random_file(path, 100001, 4);
	SC(0, 0, "login alice pa");
	cr_assert_eq(sw_seeders(1, "g", "a.bin"), -1);
}

Test(peer_cmds, json_output)
{
	const char	*cmds[] = { "list_groups", "list_files g",
	    "list_requests g", "show_downloads", "create_group j" };
	struct h_run	 r;
	char		 path[PATH_MAX];
	size_t		 i;

	sw_users_and_group();
	snprintf(path, sizeof(path), "%s/j\"s.bin", SW.dir);
	h_random_file(path, 1000, 5);
	cr_assert_eq(scj(&r, 0, "upload_file %s/j\"s.bin g", SW.dir), 64);
	h_run_free(&r);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cr_assert_eq(scj(&r, 0, "%s", cmds[i]), 0, "%s: %s", cmds[i],
		    r.err);
		cr_assert(json_valid(r.out), "%s: not JSON: %s", cmds[i], r.out);
		h_run_free(&r);
	}
	cr_assert_eq(scj(&r, 0, "list_groups"), 0);
	cr_assert_eq(r.out[0], '[');
	cr_assert_not_null(strstr(r.out, "\"group\":\"g\""), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\"owner\":\"alice\""), "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(scj(&r, 1, "create_group k"), 0);
	cr_assert_eq(r.out[0], '{');
	h_run_free(&r);
	/* a refusal: nothing on stdout, one line on stderr */
	cr_assert_eq(scj(&r, 1, "create_group k"), 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_eq(strncmp(r.err, "sharectl: ", 10), 0, "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	h_run_free(&r);
}

Test(peer_cmds, tracker_failover_keeps_the_session)
{
	char	path[PATH_MAX];

	sw_users_and_group();
	sw_share_random(0, path, sizeof(path), "f.bin", 700000, 6);
	sw_kill_tracker(0);
	/* every peerd moves to tracker 2 with its session: no new login */
	out_has(1, "g\talice\n", "list_groups");
	cr_assert_eq(sw_seeders(2, "g", "f.bin"), 1);
	SC(0, 1, "upload_file %s g", path);
	cr_assert_eq(sw_seeders(2, "g", "f.bin"), 2);
	SC(0, 0, "create_group after");
	/* tracker 1 back, tracker 2 gone: back again, still no login */
	sw_start_tracker(0);
	sw_kill_tracker(1);
	out_has(2, "after\talice\n", "list_groups");
	SC(0, 1, "stop_share g f.bin");
	cr_assert_eq(sw_seeders(0, "g", "f.bin"), 1);
}

Test(peer_cmds, no_tracker_no_peerd)
{
	struct h_run	r;

	SC(0, 0, "create_user alice pa");
	SC(0, 0, "login alice pa");
	sw_kill_tracker(0);
	sw_kill_tracker(1);
	/* peerd waits a bounded time (3 s in tests) for any tracker */
	cr_assert_eq(sc(&r, 0, "list_groups"), 69);
	cr_assert_not_null(strstr(r.err, "no tracker reachable"), "%s", r.err);
	h_run_free(&r);
	/* and comes back when one does */
	sw_start_tracker(1);
	SC(0, 0, "list_groups");
	h_stop(&SW.peer[0], SIGTERM, 5000);
	cr_assert_eq(sc(&r, 0, "show_downloads"), 69);
	cr_assert_str_eq(r.out, "");
	cr_assert_not_null(strstr(r.err, "sharectl: peerd is not running "
	    "(socket "), "%s", r.err);
	h_run_free(&r);
}

Test(peer_cmds, commands_from_stdin)
{
	struct h_run	 r;
	char		*argv[] = { "sharectl/sharectl", "-S", SW.sock[0], NULL };

	cr_assert_eq(h_run(&r, argv, "create_user alice pa\n\nlogin alice pa\n"
	    "create_group g\nlist_groups\n", 30000), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "g\talice\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "sharectl>"), "no prompt when not a tty");
	h_run_free(&r);
	cr_assert_eq(h_run(&r, argv, "list_groups\nbogus command\n", 30000), 0);
	cr_assert_eq(r.status, 64);
	h_run_free(&r);
	cr_assert_eq(h_run(&r, argv, "bogus\nlist_groups", 30000), 0);
	cr_assert_eq(r.status, 64, "the worst command decides: %s", r.err);
	h_run_free(&r);
	cr_assert_eq(h_run(&r, argv, "", 30000), 0);
	cr_assert_eq(r.status, 0);
	h_run_free(&r);
}

Test(peer_cmds, one_peerd_per_socket_and_state_dir)
{
	struct h_run	 r;
	char		 self[64], other[PATH_MAX], otherdir[PATH_MAX];
	char		 pid[PATH_MAX], *same_port[12];
	char		*same_sock[] = { "peerd/peerd", "-f", "-S", SW.sock[0],
	    "-d", otherdir, self, SW.info, NULL };
	char		*same_dir[] = { "peerd/peerd", "-f", "-S", other, "-d",
	    SW.state[0], self, SW.info, NULL };

	snprintf(self, sizeof(self), "127.0.0.1:%u", sw_port());
	snprintf(other, sizeof(other), "%s/other.sock", SW.dir);
	snprintf(otherdir, sizeof(otherdir), "%s/otherdir", SW.dir);
	cr_assert_eq(h_run(&r, same_sock, NULL, 10000), 0);
	cr_assert_eq(r.status, 1);
	cr_assert_not_null(strstr(r.err, "already running"), "%s", r.err);
	h_run_free(&r);
	cr_assert_eq(h_run(&r, same_dir, NULL, 10000), 0);
	cr_assert_eq(r.status, 1);
	cr_assert_not_null(strstr(r.err, "already running"), "%s", r.err);
	h_run_free(&r);
	/* the same peer port; the refused start leaves no pidfile */
	snprintf(self, sizeof(self), "127.0.0.1:%u", SW.pport[0]);
	snprintf(SW.state[2] + strlen(SW.state[2]), 8, "x");
	same_dir[5] = SW.state[2];
	snprintf(pid, sizeof(pid), "%s/refused.pid", SW.dir);
	same_port[0] = same_dir[0];
	same_port[1] = "-p";
	same_port[2] = pid;
	memcpy(same_port + 3, same_dir + 1, 8 * sizeof(char *));
	cr_assert_eq(h_run(&r, same_port, NULL, 10000), 0);
	cr_assert_eq(r.status, 1);
	cr_assert_not_null(strstr(r.err, "127.0.0.1"), "%s", r.err);
	h_run_free(&r);
	cr_assert_neq(access(pid, F_OK), 0, "%s left behind", pid);
	SC(0, 0, "show_downloads");		/* the first one is untouched */
	/* a stale socket file (peerd killed) is replaced */
	h_stop(&SW.peer[0], SIGKILL, 5000);
	cr_assert_eq(access(SW.sock[0], F_OK), 0);
	sw_start_peer(0);
	SC(0, 0, "show_downloads");
}

Test(peer_cmds, lifecycle_signals_and_modes)
{
	struct stat	st;

	cr_assert_eq(stat(SW.sock[0], &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(SW.state[0], &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	kill(SW.peer[0].pid, SIGHUP);
	sw_sleep_ms(100);
	SC(0, 0, "show_downloads");
	cr_assert_eq(h_stop(&SW.peer[0], SIGTERM, 5000), 0);
	cr_assert_neq(access(SW.sock[0], F_OK), 0, "socket removed");
	cr_assert_eq(h_stop(&SW.peer[1], SIGINT, 5000), 0);
}

Test(peer_cmds, daemon_mode_and_pidfile)
{
	struct h_run	 r;
	char		 self[64], pid[PATH_MAX], sock[PATH_MAX], dir[PATH_MAX];
	char		*argv[] = { "peerd/peerd", "-S", sock, "-d", dir, "-p", pid,
	    self, SW.info, NULL };
	char		*text;
	long		 p;

	snprintf(self, sizeof(self), "127.0.0.1:%u", sw_port());
	snprintf(pid, sizeof(pid), "%s/d.pid", SW.dir);
	snprintf(sock, sizeof(sock), "%s/d.sock", SW.dir);
	snprintf(dir, sizeof(dir), "%s/d", SW.dir);
	cr_assert_eq(h_run(&r, argv, NULL, 10000), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* a daemon logs to syslog: a good start prints nothing */
	cr_assert_str_eq(r.err, "");
	cr_assert_str_eq(r.out, "");
	h_run_free(&r);
	cr_assert_eq(h_wait_file(pid, 5000), 0);
	cr_assert_eq(h_wait_unix(sock, 5000), 0);
	sw_sleep_ms(100);
	text = h_read_file(pid, NULL);
	cr_assert_not_null(text);
	p = strtol(text, NULL, 10);
	free(text);
	cr_assert_gt(p, 1);
	/* a second daemon on the same pidfile is refused */
	snprintf(sock, sizeof(sock), "%s/d2.sock", SW.dir);
	snprintf(dir, sizeof(dir), "%s/d2", SW.dir);
	cr_assert_eq(h_run(&r, argv, NULL, 10000), 0);
	cr_assert_eq(r.status, 1);
	cr_assert_not_null(strstr(r.err, "already running"), "%s", r.err);
	h_run_free(&r);
	cr_assert_eq(kill((pid_t)p, SIGTERM), 0);
	for (int i = 0; i < 250 && sw_running((pid_t)p); i++)
		sw_sleep_ms(20);
	if (sw_running((pid_t)p))
		kill((pid_t)p, SIGKILL);
	cr_assert(!sw_running((pid_t)p), "daemon stopped on SIGTERM");
	cr_assert_neq(access(pid, F_OK), 0, "pidfile removed");
}

Test(peer_cmds, other_uid_refused)
{
	pid_t	pid;
	int	st;

	if (getuid() != 0) {
		teardown();	/* a skipped test's fini does not run */
		cr_skip_test("needs root to switch uid");
	}
	/* even with the file mode opened up, SO_PEERCRED refuses */
	chmod(SW.dir, 0755);
	chmod(SW.sock[0], 0666);
	if ((pid = fork()) == 0) {
		char	buf[256] = "";
		ssize_t	n;
		int	fd;

		signal(SIGPIPE, SIG_IGN);
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(10);
		if ((fd = h_unix_connect(SW.sock[0])) == -1)
			_exit(0);	/* refused outright */
		(void)!write(fd, "show_downloads\n", 15);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0 && strncmp(buf, "S\t1\t", 4) == 0)
			_exit(0);	/* refused with a reason */
		_exit(n <= 0 ? 0 : 11);
	}
	cr_assert_eq(st = h_reap(pid, 0, 10000), 0, "status %d", st);
	cr_assert_not_null(strstr(h_read_file(SW.plog[0], NULL),
	    "connection from uid 65534"));
	chmod(SW.sock[0], 0600);
	SC(0, 0, "show_downloads");
}

Test(peer_cmds, garbage_on_the_control_socket_and_peer_port)
{
	char	big[70000], buf[512];
	int	fd, i, pfd;
	ssize_t	n;

	/* binary junk, an overlong line, a half line left open */
	fd = h_unix_connect(SW.sock[0]);
	cr_assert_geq(fd, 0);
	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	(void)!write(fd, big, sizeof(big));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	fd = h_unix_connect(SW.sock[0]);
	(void)!write(fd, "login\talice\n\tbad\\q\n", 19);
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_eq(strncmp(buf, "S\t64\t", 5), 0, "%s", buf);
	close(fd);
	pfd = h_unix_connect(SW.sock[0]);
	(void)!write(pfd, "show_dow", 8);	/* and silence */
	/* many clients at once, each answered */
	int fds[50];
	for (i = 0; i < 50; i++) {
		fds[i] = h_unix_connect(SW.sock[0]);
		cr_assert_geq(fds[i], 0);
		(void)!write(fds[i], "show_downloads\n", 15);
	}
	for (i = 0; i < 50; i++) {
		n = read(fds[i], buf, sizeof(buf) - 1);
		cr_assert_gt(n, 0);
		close(fds[i]);
	}
	/* garbage on the peer port */
	for (i = 0; i < 3; i++) {
		fd = h_connect(SW.pport[0]);
		if (fd >= 0) {
			(void)send(fd, big, sizeof(big), MSG_NOSIGNAL);
			close(fd);
		}
	}
	fd = h_connect(SW.pport[0]);
	if (fd >= 0) {
		(void)send(fd, "GET_PIECE ../../etc/passwd 0\n", 29, MSG_NOSIGNAL);
		close(fd);
	}
	SC(0, 0, "show_downloads");
	SC(0, 0, "create_user alice pa");
	cr_assert(h_alive(SW.peer[0].pid));
	close(pfd);
}
