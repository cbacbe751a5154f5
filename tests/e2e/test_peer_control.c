/* Control of downloads and shares end to end: cancel, pause across a
 * restart, rate limits, the queue, history, my shares, stalled downloads,
 * progress kept on failure, and sharectl where scripts run. */
#include "tests/e2e/swarm.h"

TestSuite(peer_control, .init = sw_setup, .fini = sw_fini_stopped,
    .timeout = 150);

/* Field col (1-based) of `show_download g f` on peer i, copied to out;
 * the exit status of sharectl. */
static int
status_field(int i, const char *g, const char *f, int col, char *out,
    size_t outlen)
{
	struct h_run	 r;
	char		*p, *tab;
	int		 st, k;

	out[0] = '\0';
	st = sc(&r, i, "show_download %s %s", g, f);
	if (st == 0) {
		p = r.out;
		for (k = 1; k < col && p != NULL; k++)
			p = (p = strchr(p, '\t')) ? p + 1 : NULL;
		if (p != NULL) {
			tab = p + strcspn(p, "\t\n");
			snprintf(out, outlen, "%.*s", (int)(tab - p), p);
		}
	}
	h_run_free(&r);
	return st;
}

static unsigned long long
bytes_done(int i, const char *g, const char *f)
{
	char	v[64];

	cr_assert_eq(status_field(i, g, f, 6, v, sizeof(v)), 0);
	return strtoull(v, NULL, 10);
}

/* Wait (bounded) until the download is in state; 0 or -1. */
static int
wait_state(int i, const char *g, const char *f, const char *state, int ms)
{
	char		v[64];
	long		end = h_now_ms() + ms;

	do {
		if (status_field(i, g, f, 1, v, sizeof(v)) == 0 &&
		    strcmp(v, state) == 0)
			return 0;
		sw_sleep_ms(100);
	} while (h_now_ms() < end);
	return -1;
}

/* Wait until at least min bytes are in. */
static void
wait_bytes(int i, const char *g, const char *f, unsigned long long min)
{
	long		end = h_now_ms() + 30000;

	while (bytes_done(i, g, f) < min) {
		cr_assert_lt(h_now_ms(), end, "no progress on %s", f);
		sw_sleep_ms(50);
	}
}

static void
restart_peer(int i)
{
	cr_assert_eq(h_stop(&SW.peer[i], SIGTERM, 10000), 0);
	sw_start_peer(i);
}

/* Established TCP connections to 127.0.0.1:port (the remote end). */
static int
conns_to(uint16_t port)
{
	char	 line[512], want[16];
	FILE	*fp;
	int	 n = 0;

	snprintf(want, sizeof(want), ":%04X 01", port);
	if ((fp = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* sl local rem st: the remote address is the third column */
		char *rem = strchr(line, ':');
		if (rem == NULL || (rem = strchr(rem + 1, ' ')) == NULL)
			continue;
		if ((rem = strchr(rem + 1, ' ')) == NULL ||
		    (rem = strchr(rem, ':')) == NULL)
			continue;
		if (strncmp(rem, want, strlen(want)) == 0)
			n++;
	}
	fclose(fp);
	return n;
}

/* alice shares NAME (size bytes, seed) in g; bob's download dir made. */
static void
share(const char *name, size_t size, unsigned seed, char *dl, size_t dllen)
{
	char	path[PATH_MAX];

	sw_share_random(0, path, sizeof(path), name, size, seed);
	(void)sw_subdir(dl, dllen, "dl", 0755);
}

static int
exists(const char *dir, const char *name)
{
	char	path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

Test(peer_control, cancel_mid_transfer_leaves_no_part)
{
	char	dl[PATH_MAX], meta[PATH_MAX + 64];

	sw_users_and_group();
	share("c.bin", 16 << 20, 1, dl, sizeof(dl));
	SC(0, 1, "set_limit download_rate 2M");
	SC(0, 1, "download_file g c.bin %s", dl);
	wait_bytes(1, "g", "c.bin", 1);
	cr_assert(exists(dl, "c.bin.part"));
	SC(0, 1, "cancel_download g c.bin");
	cr_assert(!exists(dl, "c.bin.part"), "FILE.part left behind");
	cr_assert(!exists(dl, "c.bin"));
	snprintf(meta, sizeof(meta), "%s/downloads/g@c.bin.meta",
	    SW.state[1]);
	cr_assert_eq(access(meta, F_OK), -1, "resume state left behind");
	SC(1, 1, "show_download g c.bin");
	SC(1, 1, "cancel_download g c.bin");
	/* cancel ... keep: the .part stays and download_file resumes it */
	SC(0, 1, "download_file g c.bin %s", dl);
	wait_bytes(1, "g", "c.bin", 1 << 20);
	SC(0, 1, "cancel_download g c.bin keep");
	cr_assert(exists(dl, "c.bin.part"));
	SC(0, 1, "set_limit download_rate 0");
	SC(0, 1, "download_file g c.bin %s", dl);
	cr_assert_geq(bytes_done(1, "g", "c.bin"), 1 << 20,
	    "kept pieces not resumed");
	SC(0, 1, "wait g c.bin");
	SC(64, 1, "cancel_download g c.bin nokeep");
}

Test(peer_control, pause_holds_no_connection_and_survives_restart)
{
	char			 dl[PATH_MAX], src[PATH_MAX + 16];
	char			 dst[PATH_MAX + 16], v[64];
	unsigned long long	 before;
	int			 n = -1, k;

	sw_users_and_group();
	share("p.bin", 12 << 20, 2, dl, sizeof(dl));
	SC(0, 1, "set_limit download_rate 2M");
	SC(0, 1, "download_file g p.bin %s", dl);
	wait_bytes(1, "g", "p.bin", 1 << 20);
	SC(0, 1, "pause_download g p.bin");
	for (k = 0; k < 50 && (n = conns_to(SW.pport[0])) != 0; k++)
		sw_sleep_ms(100);
	cr_assert_eq(n, 0, "a paused download holds %d connections", n);
	cr_assert_eq(status_field(1, "g", "p.bin", 1, v, sizeof(v)), 0);
	cr_assert_str_eq(v, "paused");
	before = bytes_done(1, "g", "p.bin");
	sw_sleep_ms(1000);
	cr_assert_eq(bytes_done(1, "g", "p.bin"), before);
	restart_peer(1);
	cr_assert_eq(status_field(1, "g", "p.bin", 1, v, sizeof(v)), 0);
	cr_assert_str_eq(v, "paused", "not paused after a restart");
	cr_assert_geq(bytes_done(1, "g", "p.bin"), before);
	sw_sleep_ms(1000);
	cr_assert_eq(conns_to(SW.pport[0]), 0);
	SC(0, 1, "resume_download g p.bin");
	SC(0, 1, "wait g p.bin");
	snprintf(src, sizeof(src), "%s/p.bin", SW.dir);
	snprintf(dst, sizeof(dst), "%s/p.bin", dl);
	cr_assert(h_same_file(src, dst));
	SC(1, 1, "pause_download g p.bin");
}

/* Bytes per second of the download over ms, after it has started. */
static double
measured_rate(int i, const char *g, const char *f, int ms)
{
	unsigned long long	a, b;
	long			t0, t1;

	wait_bytes(i, g, f, 2 << 20);
	a = bytes_done(i, g, f);
	t0 = h_now_ms();
	sw_sleep_ms(ms);
	b = bytes_done(i, g, f);
	t1 = h_now_ms();
	return (double)(b - a) * 1000.0 / (double)(t1 - t0);
}

/* 10 MB/s within 20% over 3 s, set at runtime, for download and upload. */
Test(peer_control, rate_limits_hold_within_20_percent)
{
	char	dl[PATH_MAX];
	double	rate;

	sw_users_and_group();
	share("r.bin", 80 << 20, 3, dl, sizeof(dl));
	SC(0, 1, "set_limit download_rate 10M");
	SC(0, 1, "download_file g r.bin %s", dl);
	rate = measured_rate(1, "g", "r.bin", 3000);
	fprintf(stderr, "download limited to 10 MB/s: %.0f B/s\n", rate);
	cr_assert(rate > 8e6 && rate < 12e6, "download at %.0f B/s", rate);
	SC(0, 1, "cancel_download g r.bin");
	SC(0, 1, "set_limit download_rate 0");
	SC(0, 0, "set_limit upload_rate 10M");
	SC(0, 1, "download_file g r.bin %s", dl);
	rate = measured_rate(1, "g", "r.bin", 3000);
	fprintf(stderr, "upload limited to 10 MB/s: %.0f B/s\n", rate);
	cr_assert(rate > 8e6 && rate < 12e6, "upload at %.0f B/s", rate);
	SC(0, 1, "cancel_download g r.bin");
	SC(0, 0, "show_limits");
}

Test(peer_control, queue_runs_downloads_in_order)
{
	struct h_run	 r;
	char		 dl[PATH_MAX], *a, *b, *c;

	sw_users_and_group();
	share("q1.bin", 3 << 20, 4, dl, sizeof(dl));
	share("q2.bin", 3 << 20, 5, dl, sizeof(dl));
	share("q3.bin", 3 << 20, 6, dl, sizeof(dl));
	SC(0, 1, "set_limit max_active 1");
	SC(0, 1, "set_limit download_rate 3M");
	SC(0, 1, "download_file g q1.bin %s", dl);
	SC(0, 1, "download_file g q2.bin %s", dl);
	SC(0, 1, "download_file g q3.bin %s", dl);
	cr_assert_eq(sc(&r, 1, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "[D] [g] q1.bin"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "[Q] [g] q2.bin"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "[Q] [g] q3.bin"), "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(wait_state(1, "g", "q2.bin", "downloading", 20000), 0);
	cr_assert_eq(wait_state(1, "g", "q1.bin", "complete", 1000), 0);
	cr_assert_eq(wait_state(1, "g", "q3.bin", "queued", 1000), 0);
	SC(0, 1, "set_limit download_rate 0");
	SC(0, 1, "wait g q3.bin");
	cr_assert_eq(sc(&r, 1, "show_history"), 0);
	a = strstr(r.out, "q1.bin");
	b = strstr(r.out, "q2.bin");
	c = strstr(r.out, "q3.bin");
	cr_assert(a && b && c && a < b && b < c, "%s", r.out);
	h_run_free(&r);
}

Test(peer_control, history_survives_a_restart)
{
	struct h_run	r;
	char		dl[PATH_MAX];

	sw_users_and_group();
	share("h.bin", 1 << 20, 7, dl, sizeof(dl));
	SC(0, 1, "download_file g h.bin %s", dl);
	SC(0, 1, "wait g h.bin");
	restart_peer(1);
	SC(0, 1, "wait g h.bin");
	cr_assert_eq(sc(&r, 1, "show_downloads"), 0);
	cr_assert_not_null(strstr(r.out, "[C] [g] h.bin\t100\t1048576\t"
	    "1048576"), "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(scj(&r, 1, "show_history"), 0);
	cr_assert(json_valid(r.out), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\"state\":\"complete\""), "%s",
	    r.out);
	h_run_free(&r);
	SC(0, 1, "clear_history");
	cr_assert_eq(sc(&r, 1, "show_history"), 0);
	cr_assert_str_eq(r.out, "");
	h_run_free(&r);
	restart_peer(1);
	SC(1, 1, "wait g h.bin");
}

Test(peer_control, my_shares_with_counters)
{
	struct h_run	r;
	char		dl[PATH_MAX];

	sw_users_and_group();
	share("m.bin", 2 << 20, 8, dl, sizeof(dl));
	SC(0, 1, "download_file g m.bin %s", dl);
	SC(0, 1, "wait g m.bin");
	unsigned long long	 up = 0, peers = 0;
	cr_assert_eq(sc(&r, 0, "show_shares"), 0);
	/* group file size listed uploaded peers_served path; endgame
	 * duplicates may make uploaded larger than the file */
	cr_assert_eq(sscanf(r.out, "g\tm.bin\t2097152\tyes\t%llu\t%llu\t",
	    &up, &peers), 2, "%s", r.out);
	cr_assert_geq(up, 2097152ull, "%s", r.out);
	cr_assert_eq(peers, 1, "%s", r.out);
	h_run_free(&r);
	cr_assert_eq(scj(&r, 0, "show_shares"), 0);
	cr_assert(json_valid(r.out), "%s", r.out);
	h_run_free(&r);
	restart_peer(0);	/* the counters survive a restart */
	cr_assert_eq(sc(&r, 0, "show_shares"), 0);
	cr_assert_eq(sscanf(r.out, "g\tm.bin\t2097152\t%*[a-z]\t%llu\t%llu\t",
	    &up, &peers), 2, "%s", r.out);
	cr_assert_geq(up, 2097152ull, "%s", r.out);
	h_run_free(&r);
	SC(0, 0, "stop_share g m.bin");
	cr_assert_eq(sc(&r, 0, "show_shares"), 0);
	cr_assert_null(strstr(r.out, "m.bin"), "%s", r.out);
	h_run_free(&r);
}

/* One download's status: one field per column, and a reason when stalled
 * (its only seeder stopped); wait ends with exit 1 then. */
Test(peer_control, stalled_download_says_why)
{
	struct h_run	r;
	char		dl[PATH_MAX], v[256];

	sw_users_and_group();
	share("s.bin", 3 << 20, 9, dl, sizeof(dl));
	kill(SW.peer[0].pid, SIGSTOP);
	SC(0, 1, "download_file g s.bin %s", dl);
	cr_assert_eq(wait_state(1, "g", "s.bin", "stalled", 40000), 0);
	cr_assert_eq(status_field(1, "g", "s.bin", 13, v, sizeof(v)), 0);
	cr_assert(strstr(v, "no seeder could be reached") != NULL ||
	    strstr(v, "banned") != NULL, "reason: %s", v);
	cr_assert_eq(sc(&r, 1, "wait g s.bin"), 1);
	cr_assert_not_null(strstr(r.err, "stalled"), "%s", r.err);
	h_run_free(&r);
	cr_assert_eq(sc(&r, 1, "show_download g s.bin"), 0);
	cr_assert_eq(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out));
	h_run_free(&r);
	kill(SW.peer[0].pid, SIGCONT);
}

/* An unrelated FILE.part is refused, never truncated; a failure (here:
 * leaving the group) keeps the verified pieces and download_file again
 * resumes from them. */
Test(peer_control, progress_is_never_thrown_away)
{
	char			 dl[PATH_MAX], part[PATH_MAX + 16], *text;
	unsigned long long	 before;
	struct h_run		 r;

	sw_users_and_group();
	share("f.bin", 10 << 20, 10, dl, sizeof(dl));
	snprintf(part, sizeof(part), "%s/f.bin.part", dl);
	h_write_file(part, "data\n");
	cr_assert_eq(sc(&r, 1, "download_file g f.bin %s", dl), 1);
	cr_assert_not_null(strstr(r.err, "not this download's own"), "%s",
	    r.err);
	h_run_free(&r);
	cr_assert_not_null(text = h_read_file(part, NULL));
	cr_assert_str_eq(text, "data\n");
	free(text);
	unlink(part);
	SC(0, 1, "set_limit download_rate 2M");
	SC(0, 1, "download_file g f.bin %s", dl);
	wait_bytes(1, "g", "f.bin", 2 << 20);
	SC(0, 1, "leave_group g");
	cr_assert_eq(wait_state(1, "g", "f.bin", "failed", 5000), 0);
	before = bytes_done(1, "g", "f.bin");
	cr_assert_geq(before, 2 << 20);
	cr_assert(exists(dl, "f.bin.part"), "a failure deleted FILE.part");
	SC(0, 1, "join_group g");
	SC(0, 0, "accept_request g bob");
	SC(0, 1, "download_file g f.bin %s", dl);
	cr_assert_geq(bytes_done(1, "g", "f.bin"), before,
	    "verified pieces lost");
	SC(0, 1, "set_limit download_rate 0");
	SC(0, 1, "wait g f.bin");
}

/* Logout pauses the downloads; the next login resumes them. */
Test(peer_control, logout_pauses_login_resumes)
{
	char	dl[PATH_MAX];

	sw_users_and_group();
	share("l.bin", 8 << 20, 11, dl, sizeof(dl));
	SC(0, 1, "set_limit download_rate 2M");
	SC(0, 1, "download_file g l.bin %s", dl);
	wait_bytes(1, "g", "l.bin", 1);
	SC(0, 1, "logout");
	cr_assert_eq(wait_state(1, "g", "l.bin", "paused", 2000), 0);
	SC(0, 1, "login bob pb");
	cr_assert_eq(wait_state(1, "g", "l.bin", "downloading", 5000), 0);
	SC(0, 1, "set_limit download_rate 0");
	SC(0, 1, "wait g l.bin");
}

/* The password read from stdin never appears in the process's argv. */
Test(peer_control, password_from_stdin_not_in_cmdline)
{
	char	 path[PATH_MAX * 2], cmdline[4096], *argv[] = {
	    "sharectl/sharectl", "-S", SW.sock[0], "--password-stdin",
	    "create_user", "dora", NULL };
	int	 in[2], fd;
	ssize_t	 n;
	pid_t	 pid;

	snprintf(path, sizeof(path), "%s/%s", h_root(), argv[0]);
	cr_assert_eq(pipe(in), 0);
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		close(in[1]);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	sw_sleep_ms(200);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	cr_assert_geq(fd = open(path, O_RDONLY), 0);
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline[n] = '\0';
	cr_assert_null(strstr(cmdline, "Zq9secret"), "%s", cmdline);
	cr_assert_eq(write(in[1], "Zq9secret\n", 10), 10);
	close(in[1]);
	cr_assert_eq(h_reap(pid, 0, 10000), 0);
	snprintf(path, sizeof(path), "%s/pw", SW.dir);
	h_write_file(path, "Zq9secret\n");
	SC(0, 2, "login dora -P %s", path);	/* an option after the command */
	SC(64, 2, "login dora -P /dev/null");
}

/* Run argv (relative to the tree) with env added, output discarded;
 * its exit status, or -1 after 10 s. */
static int
run_env(char *const argv[], char *const env[])
{
	char	path[PATH_MAX * 2];
	int	st, i, fd;
	pid_t	pid;

	snprintf(path, sizeof(path), "%s/%s", h_root(), argv[0]);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
		}
		unsetenv("XDG_RUNTIME_DIR");
		unsetenv("P2PSHARE_SOCKET");
		for (i = 0; env[i] != NULL; i++)
			putenv(env[i]);
		execv(path, argv);
		_exit(127);
	}
	st = h_reap(pid, 0, 10000);
	return st >= 128 ? -1 : st;
}

/* cron and su have no XDG_RUNTIME_DIR: peerd and sharectl agree on the
 * socket all the same (HOME), and both take P2PSHARE_SOCKET. */
Test(peer_control, socket_found_without_xdg_runtime_dir)
{
	struct h_proc	 p;
	char		 home[PATH_MAX + 32], henv[PATH_MAX + 40], self[64];
	char		 sock[PATH_MAX + 64], senv[PATH_MAX + 80];
	char		 log[PATH_MAX + 32], state[PATH_MAX + 32];
	char		*ls[] = { "sharectl/sharectl", "show_downloads", NULL };
	char		*pd[] = { "peerd/peerd", "-f", "-d", state, self,
	    SW.info, NULL };
	char		*env[] = { henv, NULL }, *env2[] = { senv, NULL };

	cr_assert_eq(sw_subdir(home, sizeof(home), "home", 0700), 0);
	snprintf(henv, sizeof(henv), "HOME=%s", home);
	snprintf(state, sizeof(state), "%s/st", SW.dir);
	snprintf(log, sizeof(log), "%s/peerd-home.log", SW.dir);
	snprintf(self, sizeof(self), "127.0.0.1:%u", sw_port());
	snprintf(sock, sizeof(sock), "%s/.p2pshare/peerd.sock", home);
	cr_assert_eq(run_env(ls, env), 69);
	{
		/* peerd under the same environment, a child of ours */
		pid_t pid = fork();
		if (pid == 0) {
			int fd = open(log, O_WRONLY | O_CREAT, 0644);
			dup2(fd, 1);
			dup2(fd, 2);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			unsetenv("XDG_RUNTIME_DIR");
			unsetenv("P2PSHARE_SOCKET");
			putenv(henv);
			snprintf(log, sizeof(log), "%s/%s", h_root(), pd[0]);
			execv(log, pd);
			_exit(127);
		}
		p.pid = pid;
	}
	cr_assert_eq(h_wait_file(sock, 10000), 0, "no socket %s", sock);
	cr_assert_eq(run_env(ls, env), 0, "sharectl did not find peerd");
	snprintf(senv, sizeof(senv), "P2PSHARE_SOCKET=%s", sock);
	cr_assert_eq(run_env(ls, env2), 0, "P2PSHARE_SOCKET ignored");
	cr_assert_eq(h_stop(&p, SIGTERM, 10000), 0);
}

/* Batch mode: comments and blank lines skipped, options after the
 * command, the worst exit status, -e stops at the first failure. */
Test(peer_control, batch_mode)
{
	struct h_run	 r;
	char		*argv[] = { "sharectl/sharectl", "-S", SW.sock[0], NULL,
	    NULL };

	sw_users_and_group();
	cr_assert_eq(h_run(&r, argv, "# groups\n\nlist_groups -j\n"
	    "frobnicate\nlist_groups\n", 10000), 0);
	cr_assert_eq(r.status, 64, "%s", r.err);
	cr_assert_str_eq(r.out, "[{\"group\":\"g\",\"owner\":\"alice\"}]\n"
	    "g\talice\n");
	h_run_free(&r);
	argv[3] = "-e";
	cr_assert_eq(h_run(&r, argv, "list_groups\nfrobnicate\nlist_groups\n",
	    10000), 0);
	cr_assert_eq(r.status, 64);
	cr_assert_str_eq(r.out, "g\talice\n");
	h_run_free(&r);
	argv[3] = "--version";
	cr_assert_eq(h_run(&r, argv, NULL, 10000), 0);
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "sharectl "));
	h_run_free(&r);
}

/* What bash completion offers on the line words (the last one being
 * completed), with sharectl talking to peer i. */
static char *
complete_line(int i, const char *words)
{
	struct h_run	 r;
	char		 script[PATH_MAX * 3], *out;
	char		*argv[] = { "/bin/bash", "-c", script, NULL };

	snprintf(script, sizeof(script), "source '%s/etc/bash_completion.d/"
	    "sharectl'; COMP_WORDS=('%s/sharectl/sharectl' -S '%s' %s); "
	    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sharectl; "
	    "echo \"${COMPREPLY[*]}\"", h_root(), h_root(), SW.sock[i], words);
	cr_assert_eq(h_run(&r, argv, NULL, 20000), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	out = strdup(r.out);
	h_run_free(&r);
	return out;
}

Test(peer_control, bash_completion_asks_peerd)
{
	char	dl[PATH_MAX], *c;

	sw_users_and_group();
	share("comp.bin", 1000, 12, dl, sizeof(dl));
	c = complete_line(1, "show_d");
	cr_assert(strcmp(c, "show_download show_downloads\n") == 0 ||
	    strcmp(c, "show_downloads show_download\n") == 0, "%s", c);
	free(c);
	c = complete_line(1, "list_files ''");
	cr_assert_str_eq(c, "g\n");
	free(c);
	c = complete_line(1, "download_file g co");
	cr_assert_str_eq(c, "comp.bin\n");
	free(c);
	c = complete_line(1, "set_limit d");
	cr_assert_str_eq(c, "download_rate\n");
	free(c);
}

/* A hung peerd (stopped) costs a command its timeout, then exit 69;
 * wait is not bounded. */
Test(peer_control, hung_peerd_bounded_by_timeout)
{
	struct h_run	 r;
	char		*argv[] = { "sharectl/sharectl", "-S", SW.sock[0], "-t",
	    "1", "show_downloads", NULL };

	kill(SW.peer[0].pid, SIGSTOP);
	cr_assert_eq(h_run(&r, argv, NULL, 5000), 0, "sharectl -t 1 hung");
	cr_assert_eq(r.status, 69, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "did not answer within 1 s"), "%s",
	    r.err);
	h_run_free(&r);
	kill(SW.peer[0].pid, SIGCONT);
	SC(0, 0, "show_downloads -t 1");
}
