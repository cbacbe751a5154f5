/* Running p2pshare as a service: -V, -n config checks, Type=notify
 * readiness on a fake $NOTIFY_SOCKET, journald levels, -v audit lines,
 * peerd's SIGHUP reload, make install/uninstall, the init script, the
 * systemd units (verify, security score) and the hardened build. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/version.h"
#include "tests/e2e/harness.h"

#define KDF	"1000"

static char	*dir;
static char	 info[600], journal[600];
static uint16_t	 port1, port2;
static struct h_proc procs[4];
static int	 nprocs;
static int	 notify_fd = -1;

static void
setup(void)
{
	dir = h_tmpdir();
	port1 = h_free_port();
	do
		port2 = h_free_port();
	while (port2 == port1);
	snprintf(info, sizeof(info), "%s/tracker_info.txt", dir);
	snprintf(journal, sizeof(journal), "%s/sync_log.txt", dir);
	{
		char	text[128];

		snprintf(text, sizeof(text), "127.0.0.1:%u\n127.0.0.1:%u\n",
		    port1, port2);
		h_write_file(info, text);
	}
	/* a make run by a test must not join the outer make's jobserver */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
}

static void	stop_pidfile(int);

static void
teardown(void)
{
	char	cmd[700];
	int	i;

	if (dir == NULL)
		return;
	stop_pidfile(1);	/* trackers the init script started */
	stop_pidfile(2);
	for (i = 0; i < nprocs; i++)
		if (procs[i].pid > 0 && h_alive(procs[i].pid))
			h_stop(&procs[i], SIGTERM, 5000);
	nprocs = 0;
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
	h_tracker_shm_unlink(port1);
	h_tracker_shm_unlink(port2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(dir);
	dir = NULL;
}

/* A skipped test's fini does not run: clean up first. */
#define SKIP(why) do {							\
	teardown();							\
	cr_skip_test(why);						\
} while (0)

TestSuite(service, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

/* An absolute path for a program on $PATH (malloc'd), or NULL. */
static const char *
which(const char *prog)
{
	const char	*path = getenv("PATH");
	char		*copy, *p, *save = NULL, *res = NULL, try[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin:/usr/sbin:/sbin";
	copy = strdup(path);
	for (p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		snprintf(try, sizeof(try), "%s/%s", p, prog);
		if (access(try, X_OK) == 0) {
			res = strdup(try);
			break;
		}
	}
	free(copy);
	return res;
}

/* The fake service manager's end of $NOTIFY_SOCKET. */
static void
notify_listen(char *env, size_t envlen, int abstract)
{
	struct sockaddr_un	sun;
	socklen_t		len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (abstract) {
		snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
		    "p2pshare-test-notify-%d", (int)getpid());
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(sun.sun_path + 1));
		snprintf(env, envlen, "NOTIFY_SOCKET=@%s", sun.sun_path + 1);
	} else {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
		len = sizeof(sun);
		snprintf(env, envlen, "NOTIFY_SOCKET=%s", sun.sun_path);
	}
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sun, len), 0,
	    "bind notify socket: %s", strerror(errno));
}

/* The next datagram (NUL-terminated in buf), or "" after ms. */
static const char *
notify_next(char *buf, size_t len, int ms)
{
	struct pollfd	pfd = { .fd = notify_fd, .events = POLLIN };
	ssize_t		n;

	buf[0] = '\0';
	if (poll(&pfd, 1, ms) != 1)
		return buf;
	n = recv(notify_fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
expect_notify(const char *want, int ms)
{
	char	buf[512];

	notify_next(buf, sizeof(buf), ms);
	cr_assert(strstr(buf, want) != NULL, "expected %s, got \"%s\"", want,
	    buf);
}

static struct h_proc *
spawn(char *const argv[], char *const env[], const char *log)
{
	struct h_proc	*p = &procs[nprocs++];

	cr_assert_eq(h_spawn(p, argv, env, log), 0);
	return p;
}

static int
run(char *const argv[], struct h_run *r, int ms)
{
	cr_assert_eq(h_run(r, argv, NULL, ms), 0);
	return r->status;
}

static int
log_has(const char *log, const char *needle)
{
	char	*text = h_read_file(log, NULL);
	int	 found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Wait up to ms for needle in log. */
static int
log_wait(const char *log, const char *needle, int ms)
{
	for (; ms > 0; ms -= 20) {
		if (log_has(log, needle))
			return 1;
		usleep(20000);
	}
	return log_has(log, needle);
}

/* make install into dir/usr (binaries) and dir/etc (configuration), with
 * the tree's objects as they are (-o all: never rebuilt by the test). */
static void
make_target(const char *target, struct h_run *r)
{
	char	prefix[700], sysconf[700];
	char	*argv[] = { (char *)which("make"), "-s", "-o", "all", "-C",
	    (char *)h_root(), (char *)target, prefix, sysconf, NULL };

	cr_assert_not_null(argv[0], "make not on PATH");
	snprintf(prefix, sizeof(prefix), "PREFIX=%s/usr", dir);
	snprintf(sysconf, sizeof(sysconf), "SYSCONFDIR=%s/etc", dir);
	cr_assert_eq(run(argv, r, 60000), 0, "make %s: %s%s", target, r->out,
	    r->err);
}

static void
make_install(void)
{
	struct h_run	r;

	make_target("install", &r);
	h_run_free(&r);
}

static int
exists(const char *fmt, const char *arg)
{
	char		path[PATH_MAX];
	struct stat	st;

	snprintf(path, sizeof(path), fmt, dir, arg);
	return lstat(path, &st) == 0;
}

/* ---- version ---- */

Test(service, version_everywhere)
{
	const char	*progs[] = { "trackerd/trackerd", "peerd/peerd",
	    "sharectl/sharectl" };
	const char	*opts[] = { "-V", "--version" };
	struct h_run	 r;
	char		 want[128];
	int		 i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++) {
			char	*argv[] = { (char *)progs[i], (char *)opts[j],
			    NULL };

			cr_assert_eq(run(argv, &r, 5000), 0, "%s %s", progs[i],
			    opts[j]);
			snprintf(want, sizeof(want), "%s (p2pshare) %s\n",
			    strrchr(progs[i], '/') + 1, P2PSHARE_VERSION);
			cr_assert_str_eq(r.out, want);
			h_run_free(&r);
		}
}

/* ---- -n ---- */

Test(service, trackerd_config_check)
{
	char		 jarg[700], *argv[] = { "trackerd/trackerd", "-n", "-l",
	    journal, info, "1", NULL };
	struct h_run	 r;
	struct stat	 st;

	/* no journal yet: its directory will do; nothing is created */
	cr_assert_eq(run(argv, &r, 5000), 0, "%s", r.err);
	cr_assert(strstr(r.err, "configuration OK") != NULL, "%s", r.err);
	cr_assert_neq(stat(journal, &st), 0, "-n created the journal");
	h_run_free(&r);

	/* a torn last line is fine (dropped at start), not one in the middle */
	h_write_file(journal, "1 1 user x *00000000\n");
	cr_assert_eq(run(argv, &r, 5000), 0, "%s", r.err);
	cr_assert(strstr(r.err, "dropped at start") != NULL, "%s", r.err);
	h_run_free(&r);
	h_write_file(journal, "1 1 user x *00000000\n2 1 user y *00000000\n");
	cr_assert_eq(run(argv, &r, 5000), 1);
	cr_assert(strstr(r.err, "sync_log.txt:1: bad checksum") != NULL, "%s",
	    r.err);
	h_run_free(&r);
	unlink(journal);

	/* an unusable journal directory, a missing tracker_info.txt */
	snprintf(jarg, sizeof(jarg), "%s/no/such/dir/sync_log.txt", dir);
	argv[3] = jarg;
	cr_assert_eq(run(argv, &r, 5000), 1);
	cr_assert(strstr(r.err, "No such file or directory") != NULL, "%s",
	    r.err);
	h_run_free(&r);
	argv[3] = journal;
	argv[4] = "/nonexistent/tracker_info.txt";
	cr_assert_eq(run(argv, &r, 5000), 1);
	h_run_free(&r);
}

Test(service, peerd_config_check)
{
	char		 state[700], file[700], sock[700], addr[32];
	char		*argv[] = { "peerd/peerd", "-n", "-d", state, "-S", sock,
	    addr, info, NULL };
	struct h_run	 r;
	struct stat	 st;

	snprintf(state, sizeof(state), "%s/state/deeper", dir);
	snprintf(sock, sizeof(sock), "%s/peerd.sock", dir);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", h_free_port());
	cr_assert_eq(run(argv, &r, 5000), 0, "%s", r.err);
	cr_assert(strstr(r.err, "configuration OK") != NULL, "%s", r.err);
	cr_assert_neq(stat(state, &st), 0, "-n created the state directory");
	h_run_free(&r);

	/* a state directory below a regular file */
	snprintf(file, sizeof(file), "%s/plain", dir);
	h_write_file(file, "x");
	snprintf(state, sizeof(state), "%s/plain/state", dir);
	cr_assert_eq(run(argv, &r, 5000), 1);
	cr_assert(strstr(r.err, "state directory") != NULL, "%s", r.err);
	h_run_free(&r);

	/* a tracker_info.txt that does not parse */
	snprintf(state, sizeof(state), "%s/state", dir);
	h_write_file(file, "not an address\n");
	argv[7] = file;
	cr_assert_eq(run(argv, &r, 5000), 1);
	h_run_free(&r);
}

/* ---- readiness, reload, stop; log levels; -v ---- */

Test(service, trackerd_notify_levels_and_audit)
{
	char		 env[256], log[700], *reply, token[32] = "";
	char		*envv[] = { env, NULL };
	char		*argv[] = { "trackerd/trackerd", "-f", "-v", "-k", KDF,
	    "-w", "2", "-l", journal, info, "1", NULL };
	struct h_proc	*p;
	char		 buf[512];
	int		 fd;

	notify_listen(env, sizeof(env), 0);
	snprintf(log, sizeof(log), "%s/trackerd.log", dir);
	p = spawn(argv, envv, log);
	notify_next(buf, sizeof(buf), 10000);
	cr_assert(strstr(buf, "READY=1") != NULL, "got \"%s\"", buf);
	snprintf(env, sizeof(env), "MAINPID=%d", (int)p->pid);
	cr_assert(strstr(buf, env) != NULL, "got \"%s\"", buf);
	/* ready means serving: the port answers at once */
	cr_assert_eq(h_wait_port(port1, 100), 0);

	fd = h_connect(port1);
	reply = h_request(fd, "create_user alice Secret-pw-1");
	cr_assert(reply && strncmp(reply, "OK", 2) == 0, "%s", reply);
	free(reply);
	reply = h_request(fd, "login alice Wrong-pw-2");
	cr_assert(reply && strncmp(reply, "ERR", 3) == 0, "%s", reply);
	free(reply);
	reply = h_request(fd, "login alice Secret-pw-1");
	cr_assert(reply && sscanf(reply, "OK login_success %16s", token) == 1,
	    "%s", reply);
	free(reply);
	reply = h_request(fd, "list_files nosuchgroup");
	free(reply);
	close(fd);

	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	expect_notify("RELOADING=1", 5000);
	expect_notify("READY=1", 5000);
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	expect_notify("STOPPING=1", 5000);
	cr_assert_eq(h_stop(p, SIGTERM, 10000), 0);

	/* journald levels, and what -v says about clients */
	cr_assert(log_has(log, "<6>trackerd["), "no <6> info lines");
	cr_assert(log_has(log, "<7>trackerd["), "no <7> debug lines");
	cr_assert(log_has(log, "failed login as alice from 127.0.0.1"));
	cr_assert(log_has(log, "login from 127.0.0.1 (user alice)"));
	cr_assert(log_has(log, "refused list_files from 127.0.0.1 (user "
	    "alice): no_such_group"));
	cr_assert(!log_has(log, "Secret-pw-1") && !log_has(log, "Wrong-pw-2"),
	    "a password reached the log");
	cr_assert(!log_has(log, token), "a session token reached the log");
}

Test(service, peerd_notify_and_sighup_rereads_trackers)
{
	char		 env[256], log[700], tlog[700], state[700], sock[700];
	char		 addr[32], text[128], buf[512];
	char		*envv[] = { env, NULL };
	char		*targv[] = { "trackerd/trackerd", "-f", "-k", KDF, "-w",
	    "2", "-l", journal, info, "2", NULL };
	char		*pargv[] = { "peerd/peerd", "-f", "-d", state, "-S", sock,
	    addr, info, NULL };
	char		*cargv[] = { "sharectl/sharectl", "-S", sock,
	    "create_user", "bob", "pw", NULL };
	struct h_proc	*p;
	struct h_run	 r;

	/* peerd starts knowing only tracker 1, which is not running */
	snprintf(text, sizeof(text), "127.0.0.1:%u\n", port1);
	h_write_file(info, text);
	notify_listen(env, sizeof(env), 1);
	snprintf(log, sizeof(log), "%s/peerd.log", dir);
	snprintf(tlog, sizeof(tlog), "%s/trackerd.log", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(sock, sizeof(sock), "%s/peerd.sock", dir);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", h_free_port());
	p = spawn(pargv, envv, log);
	expect_notify("READY=1", 10000);
	cr_assert_eq(h_wait_file(sock, 100), 0, "not listening when ready");

	/* a broken file on SIGHUP is a warning, and changes nothing */
	h_write_file(info, "garbage\n");
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	expect_notify("RELOADING=1", 5000);
	expect_notify("READY=1", 5000);
	cr_assert(log_wait(log, "<4>peerd[", 2000), "no <4> warning line");
	cr_assert(log_has(log, "keeping the 1 tracker in use"));

	/* tracker 2 comes up; SIGHUP makes peerd use it */
	snprintf(text, sizeof(text), "127.0.0.1:%u\n127.0.0.1:%u\n", port1,
	    port2);
	h_write_file(info, text);
	spawn(targv, NULL, tlog);
	cr_assert_eq(h_wait_port(port2, 10000), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u\n", port2);
	h_write_file(info, text);
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	expect_notify("RELOADING=1", 5000);
	expect_notify("READY=1", 5000);
	cr_assert(log_has(log, "SIGHUP: 1 tracker from"));
	cr_assert_eq(run(cargv, &r, 30000), 0, "sharectl: %s", r.err);
	h_run_free(&r);

	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	notify_next(buf, sizeof(buf), 5000);
	cr_assert(strstr(buf, "STOPPING=1") != NULL, "got \"%s\"", buf);
	cr_assert_eq(h_stop(p, SIGTERM, 10000), 0);
	cr_assert(log_has(log, "<6>peerd["));
}

/* ---- install, uninstall ---- */

Test(service, install_keeps_changed_config_and_uninstall_removes_all)
{
	char		 path[700], cmd[800];
	struct h_run	 r;
	char		*text;

	make_install();
	cr_assert(exists("%s/usr/sbin/%s", "trackerd"));
	cr_assert(exists("%s/usr/bin/%s", "peerd"));
	cr_assert(exists("%s/usr/share/bash-completion/completions/%s",
	    "sharectl"));
	cr_assert(exists("%s/usr/share/man/man1/%s", "peerd.1"));
	cr_assert(exists("%s/usr/share/man/man7/%s", "p2pshare.7"));
	cr_assert(exists("%s/usr/share/doc/p2pshare/%s", "LICENSE"));
	cr_assert(exists("%s/etc/init.d/%s", "trackerd"));
	cr_assert(exists("%s/etc/init.d/%s", "peerd"));
	cr_assert(exists("%s/usr/lib/systemd/system/%s", "trackerd.service"));
	cr_assert(exists("%s/usr/lib/systemd/user/%s", "peerd@.service"));
	snprintf(path, sizeof(path), "%s/usr/share/man/man8/trackerd.8", dir);
	text = h_read_file(path, NULL);
	cr_assert(text && strstr(text, ".Os p2pshare " P2PSHARE_VERSION "\n"),
	    "no version in the man page footer");
	free(text);

	/* an administrator's change survives a second install */
	snprintf(path, sizeof(path), "%s/etc/default/trackerd", dir);
	h_write_file(path, "TRACKERS=\"1 2\"\n");
	make_target("install", &r);
	cr_assert(strstr(r.out, "kept it, new version in") != NULL, "%s",
	    r.out);
	h_run_free(&r);
	text = h_read_file(path, NULL);
	cr_assert_str_eq(text, "TRACKERS=\"1 2\"\n");
	free(text);
	cr_assert(exists("%s/etc/default/%s", "trackerd.dist"));

	/* uninstall: everything but the changed file; no file left behind */
	make_target("uninstall", &r);
	cr_assert(strstr(r.out, "was changed; kept it") != NULL, "%s", r.out);
	h_run_free(&r);
	unlink(path);
	snprintf(cmd, sizeof(cmd), "find '%s/usr' '%s/etc' ! -type d", dir,
	    dir);
	{
		char	*argv[] = { "/bin/sh", "-c", cmd, NULL };

		cr_assert_eq(run(argv, &r, 10000), 0);
		cr_assert_str_eq(r.out, "", "left after uninstall:\n%s", r.out);
		h_run_free(&r);
	}
}

/* ---- the init script ---- */

static int
initd(const char *action, struct h_run *r)
{
	char	script[700];
	char	*argv[] = { "/bin/sh", script, (char *)action, NULL };

	snprintf(script, sizeof(script), "%s/etc/init.d/trackerd", dir);
	return run(argv, r, 60000);
}

static void
stop_pidfile(int n)
{
	char		 path[700], *text;
	struct h_proc	 p = { 0 };

	snprintf(path, sizeof(path), "%s/trackerd-%d.pid", dir, n);
	if ((text = h_read_file(path, NULL)) == NULL)
		return;
	p.pid = atoi(text);
	free(text);
	if (p.pid > 1 && h_alive(p.pid))
		h_stop(&p, SIGTERM, 10000);
}

Test(service, init_script_fails_loudly_and_speaks_lsb)
{
	char		 defaults[700], text[1600], info2[700];
	struct h_run	 r;
	int		 fd;

	if (access("/lib/lsb/init-functions", R_OK) != 0 ||
	    which("start-stop-daemon") == NULL) {
		fprintf(stderr, "service::init_script: skipped: no "
		    "/lib/lsb/init-functions or start-stop-daemon\n");
		SKIP("no lsb-base / start-stop-daemon");
	}
	make_install();
	snprintf(info2, sizeof(info2), "%s/etc/p2pshare/tracker_info.txt", dir);
	snprintf(defaults, sizeof(defaults), "%s/etc/default/trackerd", dir);
	snprintf(text, sizeof(text), "TRACKERS=\"1 2\"\nTRACKER_INFO=%s\n"
	    "SYNC_LOG=%s\nTRACKERD_OPTS=\"-k " KDF " -w 2\"\nPIDDIR=%s\n",
	    info2, journal, dir);
	h_write_file(defaults, text);

	/* no tracker_info.txt: start fails, saying why */
	cr_assert_neq(initd("start", &r), 0, "start succeeded: %s", r.out);
	cr_assert(strstr(r.out, "failed") != NULL || strstr(r.err, "No such"),
	    "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "No such file or directory") != NULL, "%s",
	    r.err);
	h_run_free(&r);
	cr_assert_eq(initd("status", &r), 3);
	h_run_free(&r);
	cr_assert_eq(initd("reload", &r), 7);
	h_run_free(&r);

	/* good configuration: start, start again, reload, status, stop */
	snprintf(text, sizeof(text), "127.0.0.1:%u\n127.0.0.1:%u\n", port1,
	    port2);
	h_write_file(info2, text);
	cr_assert_eq(initd("start", &r), 0, "%s%s", r.out, r.err);
	h_run_free(&r);
	cr_assert_eq(h_wait_port(port1, 100), 0);
	cr_assert_eq(h_wait_port(port2, 100), 0);
	cr_assert_eq(initd("start", &r), 0);
	h_run_free(&r);
	cr_assert_eq(initd("status", &r), 0);
	h_run_free(&r);
	cr_assert_eq(initd("reload", &r), 0);
	h_run_free(&r);
	cr_assert_eq(initd("stop", &r), 0, "%s%s", r.out, r.err);
	h_run_free(&r);
	cr_assert_eq(initd("status", &r), 3);
	h_run_free(&r);
	cr_assert_eq(initd("reload", &r), 7);
	h_run_free(&r);

	/* tracker 2's port taken: start fails though tracker 1 came up */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in	sin = { .sin_family = AF_INET,
		    .sin_port = htons(port2),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
		cr_assert_eq(listen(fd, 1), 0);
	}
	cr_assert_neq(initd("start", &r), 0, "start succeeded: %s", r.out);
	cr_assert(strstr(r.err, "in use") != NULL, "%s", r.err);
	h_run_free(&r);
	close(fd);
	cr_assert_eq(initd("stop", &r), 0);
	h_run_free(&r);
}

/* ---- systemd units ---- */

static const char *
need_analyze(void)
{
	const char	*sa = which("systemd-analyze");

	if (sa == NULL) {
		fprintf(stderr, "service: systemd-analyze not installed "
		    "(apt-get install systemd): unit checks skipped\n");
		SKIP("systemd-analyze not installed");
	}
	return sa;
}

Test(service, units_verify_and_generator)
{
	const char	*sa = need_analyze();
	char		 unit[700], gen[700], out[700], text[256], defaults[700];
	struct h_run	 r;
	const char	*units[] = { "system/trackerd.service",
	    "system/trackerd@.service", "user/peerd@.service" };
	int		 i;

	make_install();
	for (i = 0; i < 3; i++) {
		char	*argv[] = { (char *)sa, "verify", "--man=no", unit, NULL };

		snprintf(unit, sizeof(unit), "%s/usr/lib/systemd/%s", dir,
		    units[i]);
		cr_assert_eq(run(argv, &r, 30000), 0, "verify %s: %s%s",
		    units[i], r.out, r.err);
		cr_assert_str_eq(r.err, "", "verify %s: %s", units[i], r.err);
		h_run_free(&r);
	}

	/* the generator starts the trackers the defaults file lists */
	snprintf(defaults, sizeof(defaults), "%s/etc/default/trackerd", dir);
	snprintf(text, sizeof(text), "TRACKERS=\"1 3\"\n");
	h_write_file(defaults, text);
	snprintf(gen, sizeof(gen),
	    "%s/usr/lib/systemd/system-generators/trackerd-generator", dir);
	snprintf(out, sizeof(out), "%s/gen", dir);
	{
		char	*argv[] = { gen, out, out, out, NULL };

		cr_assert_eq(run(argv, &r, 10000), 0, "%s", r.err);
		h_run_free(&r);
	}
	cr_assert(exists("%s/gen/trackerd.service.wants/%s",
	    "trackerd@1.service"));
	cr_assert(exists("%s/gen/trackerd.service.wants/%s",
	    "trackerd@3.service"));
	cr_assert(!exists("%s/gen/trackerd.service.wants/%s",
	    "trackerd@2.service"));
}

Test(service, units_security_ok)
{
	const char	*sa = need_analyze();
	char		 unit[700];
	struct h_run	 r;
	const char	*units[] = { "system/trackerd@.service",
	    "user/peerd@.service" };
	int		 i;

	make_install();
	for (i = 0; i < 2; i++) {
		/* --threshold=40: fail above an exposure of 4.0 ("OK") */
		char	*argv[] = { (char *)sa, "security", "--offline=yes",
		    "--threshold=40", unit, NULL };
		const char *score;

		snprintf(unit, sizeof(unit), "%s/usr/lib/systemd/%s", dir,
		    units[i]);
		run(argv, &r, 30000);
		score = strstr(r.out, "Overall exposure level");
		cr_assert_not_null(score, "%s%s", r.out, r.err);
		cr_assert_eq(r.status, 0, "%s: %s", units[i], score);
		cr_assert(strstr(score, " OK ") != NULL, "%s", score);
		h_run_free(&r);
	}
}

/* ---- the hardened build ---- */

Test(service, binaries_hardened)
{
	const char	*hc = which("hardening-check");
	struct h_run	 r;

	if (hc == NULL) {
		fprintf(stderr, "service: hardening-check not installed "
		    "(apt-get install devscripts): skipped\n");
		SKIP("hardening-check not installed");
	}
#if defined(P2P_SANITIZE)
	fprintf(stderr, "service: hardening-check skipped in a sanitizer "
	    "build (ASan replaces the fortified functions)\n");
	SKIP("sanitizer build");
#endif
	{
		char	t[PATH_MAX], p[PATH_MAX], s[PATH_MAX];
		/*
		 * PIE, stack protector, fortify, relro, bindnow. Not CET:
		 * hardening-check does not find it in binaries that also
		 * link objects built without it (libcrypto's, libc's).
		 * -O0 (no _FORTIFY_SOURCE) is a debugging build: the rest.
		 */
#if defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE > 0
		char	*argv[] = { (char *)hc, "--nocfprotection", t, p, s,
		    NULL };
#else
		char	*argv[] = { (char *)hc, "--nocfprotection",
		    "--nofortify", t, p, s, NULL };
#endif

		snprintf(t, sizeof(t), "%s/trackerd/trackerd", h_root());
		snprintf(p, sizeof(p), "%s/peerd/peerd", h_root());
		snprintf(s, sizeof(s), "%s/sharectl/sharectl", h_root());
		cr_assert_eq(run(argv, &r, 30000), 0, "%s%s", r.out, r.err);
		h_run_free(&r);
	}
}

/* ---- documentation and the demo, as installed ---- */

Test(service, man_pages_lint_clean)
{
	const char	*mandoc = which("mandoc");
	char		 p[4][PATH_MAX];
	const char	*pages[] = { "trackerd/trackerd.8", "peerd/peerd.1",
	    "sharectl/sharectl.1", "ipc/p2pshare.7" };
	struct h_run	 r;
	int		 i;

	if (mandoc == NULL) {
		fprintf(stderr, "service: mandoc not installed: man page lint "
		    "skipped\n");
		SKIP("mandoc not installed");
	}
	for (i = 0; i < 4; i++)
		snprintf(p[i], sizeof(p[i]), "%s/%s", h_root(), pages[i]);
	{
		char	*argv[] = { (char *)mandoc, "-Tlint", "-W", "warning",
		    p[0], p[1], p[2], p[3], NULL };

		cr_assert_eq(run(argv, &r, 30000), 0, "%s%s", r.out, r.err);
		cr_assert_str_eq(r.err, "");
		h_run_free(&r);
	}
}

Test(service, installed_demo_runs_outside_the_tree)
{
	char		 demo[700];
	char		*argv[] = { "/bin/sh", demo, NULL };
	struct h_run	 r;

	make_install();
	snprintf(demo, sizeof(demo), "%s/usr/share/doc/p2pshare/demo.sh", dir);
	cr_assert_eq(chdir("/"), 0);
	cr_assert_eq(run(argv, &r, 110000), 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "identical: carol's copy is verified") != NULL,
	    "%s", r.out);
	h_run_free(&r);
}
