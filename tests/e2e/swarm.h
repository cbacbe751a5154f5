/* Shared fixture of the peerd end-to-end tests: two trackers and three
 * peerd on loopback in a temp dir, driven through sharectl only. */
#ifndef TESTS_E2E_SWARM_H
#define TESTS_E2E_SWARM_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/harness.h"

#define NTRK	2
#define NPEER	3
#define SW_CAPS	"users=4096,groups=1024,members=8192,requests=4096," \
		"sessions=4096,files=4096,seeders=8192,hashes=1048576," \
		"signups=0,user_files=8192,user_hashes=1048576,user_groups=1024," \
		"user_requests=4096,user_sessions=4096"

struct swarm {
	char		*dir;
	char		 info[PATH_MAX], journal[PATH_MAX];
	uint16_t	 tport[NTRK], pport[NPEER];
	struct h_proc	 trk[NTRK], peer[NPEER];
	char		 sock[NPEER][PATH_MAX], state[NPEER][PATH_MAX];
	char		 plog[NPEER][PATH_MAX];
};

static struct swarm	SW;

static inline void
sw_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline uint16_t
sw_port(void)
{
	static uint16_t	used[16];
	static int	nused;
	uint16_t	p;
	int		i, again;

	do {
		p = h_free_port();
		again = 0;
		for (i = 0; i < nused; i++)
			again |= used[i] == p;
	} while (again);
	if (nused < 16)
		used[nused++] = p;
	return p;
}

/* Spawn trackerd i (not waiting for it: its address may be IPv6). */
static inline void
sw_spawn_tracker(int i)
{
	char	 no[16], log[PATH_MAX + 32];
	char	*argv[] = { "trackerd/trackerd", "-f", "-k", "1000", "-w", "2",
	    "-o", SW_CAPS, "-l", SW.journal, SW.info, no, NULL };

	snprintf(no, sizeof(no), "%d", i + 1);
	snprintf(log, sizeof(log), "%s/trackerd%d.log", SW.dir, i + 1);
	cr_assert_eq(h_spawn_tied(&SW.trk[i], argv, NULL, log), 0);
}

static inline void
sw_start_tracker(int i)
{
	sw_spawn_tracker(i);
	cr_assert_eq(h_wait_port(SW.tport[i], 10000), 0, "trackerd %d up", i + 1);
}

/*
 * Spawn peerd i as "peerd -f OPT -S SOCK -d STATE HOST:PORT tracker_info"
 * with environment env (may be NULL), not waiting for it.
 */
static inline void
sw_spawn_peer(int i, const char *opt, const char *host, char *const env[])
{
	char	 self[64];
	char	*argv[] = { "peerd/peerd", "-f", (char *)opt, "-S", SW.sock[i],
	    "-d", SW.state[i], self, SW.info, NULL };

	snprintf(self, sizeof(self), "%s:%u", host, SW.pport[i]);
	unlink(SW.sock[i]);
	cr_assert_eq(h_spawn_tied(&SW.peer[i], argv, env, SW.plog[i]), 0);
}

/* Start peerd i (-v) on HOST with extra environment (NULL-terminated, up
 * to 6; may be NULL) and wait for its control socket. */
static inline void
sw_start_peer_at(int i, const char *host, char *const *extra)
{
	char	*env[8] = { "PEERD_TRACKER_WAIT_MS=3000", NULL };
	int	 k;

	for (k = 0; extra != NULL && extra[k] != NULL && k < 6; k++)
		env[k + 1] = extra[k];
	sw_spawn_peer(i, "-v", host, env);
	cr_assert_eq(h_wait_unix(SW.sock[i], 10000), 0, "peerd %d up", i);
}

static inline void
sw_start_peer_env(int i, char *const *extra)
{
	sw_start_peer_at(i, "127.0.0.1", extra);
}

static inline void
sw_start_peer(int i)
{
	sw_start_peer_env(i, NULL);
}

/* Peer i again, serving the seed client's GET_PIECE (-g), without the
 * test environment; not logged in. */
static inline void
sw_restart_peer_get_piece(int i)
{
	cr_assert_eq(h_stop(&SW.peer[i], SIGTERM, 5000), 0);
	sw_spawn_peer(i, "-g", "127.0.0.1", NULL);
	cr_assert_eq(h_wait_file(SW.sock[i], 10000), 0);
}

/* 1 if pid runs (a zombie nobody reaps does not count). */
static inline int
sw_running(pid_t pid)
{
	char	path[64], stat[512], *rp;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, stat, sizeof(stat) - 1);	/* /proc sizes read as 0 */
	close(fd);
	if (n <= 0)
		return 0;
	stat[n] = '\0';
	rp = strrchr(stat, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* SIGKILL a whole tracker: the master and its workers (its group). */
static inline void
sw_kill_tracker(int i)
{
	kill(-SW.trk[i].pid, SIGKILL);
	h_stop(&SW.trk[i], SIGKILL, 5000);
}

static inline void
sw_init(int ntrackers_up, int npeers_up)
{
	char	buf[256];
	int	i;

	memset(&SW, 0, sizeof(SW));
	SW.dir = h_tmpdir();
	for (i = 0; i < NTRK; i++)
		SW.tport[i] = sw_port();
	for (i = 0; i < NPEER; i++) {
		SW.pport[i] = sw_port();
		snprintf(SW.sock[i], sizeof(SW.sock[i]), "%s/peer%d.sock",
		    SW.dir, i);
		snprintf(SW.state[i], sizeof(SW.state[i]), "%s/state%d",
		    SW.dir, i);
		snprintf(SW.plog[i], sizeof(SW.plog[i]), "%s/peerd%d.log",
		    SW.dir, i);
	}
	snprintf(SW.info, sizeof(SW.info), "%s/tracker_info.txt", SW.dir);
	snprintf(SW.journal, sizeof(SW.journal), "%s/sync_log.txt", SW.dir);
	snprintf(buf, sizeof(buf), "127.0.0.1:%u\n127.0.0.1 %u\n", SW.tport[0],
	    SW.tport[1]);
	h_write_file(SW.info, buf);
	for (i = 0; i < ntrackers_up; i++)
		sw_start_tracker(i);
	for (i = 0; i < npeers_up; i++)
		sw_start_peer(i);
}

/* The plain fixture: both trackers and every peerd up. */
static inline void
sw_setup(void)
{
	sw_init(NTRK, NPEER);
}

/* SW.dir/NAME in path, made with mode; mkdir's result. */
static inline int
sw_subdir(char *path, size_t len, const char *name, mode_t mode)
{
	snprintf(path, len, "%s/%s", SW.dir, name);
	return mkdir(path, mode);
}

/* A helper child of the test (a throttler, an attacker, a fake seeder):
 * sig, bounded wait, reaped and forgotten (*pid = 0); none is harmless. */
static inline void
sw_stop_child(pid_t *pid, int sig)
{
	if (*pid > 0) {
		h_reap(*pid, sig, 5000);
		*pid = 0;
	}
}

/* Set in a helper child forked by sw_fork_child when SIGTERM arrives. */
static volatile sig_atomic_t	sw_child_stopping;

static inline void
sw_child_on_term(int sig)
{
	sw_child_stopping = 1;
}

/* fork() for a helper child that leaves its loop (sw_child_stopping) on
 * SIGTERM: *pid and fork's result. */
static inline pid_t
sw_fork_child(pid_t *pid)
{
	if ((*pid = fork()) == 0)
		signal(SIGTERM, sw_child_on_term);
	return *pid;
}

/* Continue every daemon a test stopped (SIGSTOP): each peerd, each
 * tracker's whole group. */
static inline void
sw_continue_all(void)
{
	int	i;

	for (i = 0; i < NPEER; i++)
		if (SW.peer[i].pid > 0)
			kill(SW.peer[i].pid, SIGCONT);
	for (i = 0; i < NTRK; i++)
		if (SW.trk[i].pid > 0)
			kill(-SW.trk[i].pid, SIGCONT);
}

static inline void
sw_fini(void)
{
	int	i;

	for (i = 0; i < NPEER; i++)
		if (SW.peer[i].pid > 0)
			h_stop(&SW.peer[i], SIGTERM, 5000);
	for (i = 0; i < NTRK; i++) {
		if (SW.trk[i].pid > 0)
			h_stop(&SW.trk[i], SIGTERM, 5000);
		if (SW.tport[i] != 0)
			h_tracker_shm_unlink(SW.tport[i]);
	}
	h_rmtree(SW.dir);
}

/*
 * Run "sharectl -S <peer i's socket> WORDS..." (words split on spaces)
 * and return its exit status; r keeps the output (h_run_free it), or
 * pass NULL. -j before the command: pass json = 1.
 */
static inline int
sc_v(struct h_run *r, int i, int json, const char *input, int ms,
    const char *fmt, va_list ap)
{
	struct h_run	 local;
	char		 line[PATH_MAX * 2], *argv[16], *p;
	int		 n = 0, st;

	vsnprintf(line, sizeof(line), fmt, ap);
	argv[n++] = "sharectl/sharectl";
	argv[n++] = "-S";
	argv[n++] = SW.sock[i];
	if (json)
		argv[n++] = "-j";
	for (p = strtok(line, " "); p && n < 15; p = strtok(NULL, " "))
		argv[n++] = p;
	argv[n] = NULL;
	if (r == NULL)
		r = &local;
	cr_assert_eq(h_run(r, argv, input, ms), 0, "sharectl %s timed out", fmt);
	st = r->status;
	if (r == &local)
		h_run_free(r);
	return st;
}

static inline int
sc(struct h_run *r, int i, const char *fmt, ...)
{
	va_list	ap;
	int	st;

	va_start(ap, fmt);
	st = sc_v(r, i, 0, NULL, 30000, fmt, ap);
	va_end(ap);
	return st;
}

static inline int
scj(struct h_run *r, int i, const char *fmt, ...)
{
	va_list	ap;
	int	st;

	va_start(ap, fmt);
	st = sc_v(r, i, 1, NULL, 30000, fmt, ap);
	va_end(ap);
	return st;
}

/* Expect exit status want; on mismatch show sharectl's stderr. */
#define SC(want, i, ...) do {						\
	struct h_run _r;						\
	int _st = sc(&_r, i, __VA_ARGS__);				\
	cr_assert_eq(_st, want, "peer %d: sharectl %s: exit %d, "	\
	    "stderr: %s", i, #__VA_ARGS__, _st, _r.err);		\
	h_run_free(&_r);						\
} while (0)

/* The usual cast: alice (peer 0) owns group g, bob (1) and carol (2)
 * are members; everyone logged in on their own peerd. */
static inline void
sw_users_and_group(void)
{
	SC(0, 0, "create_user alice pa");
	SC(0, 1, "create_user bob pb");
	SC(0, 2, "create_user carol pc");
	SC(0, 0, "login alice pa");
	SC(0, 1, "login bob pb");
	SC(0, 2, "login carol pc");
	SC(0, 0, "create_group g");
	SC(0, 1, "join_group g");
	SC(0, 2, "join_group g");
	SC(0, 0, "accept_request g bob");
	SC(0, 0, "accept_request g carol");
}

/* The fixture of the suites that download: every daemon up, the usual
 * cast (sw_users_and_group) and SW.dir/src and SW.dir/dl made. */
static inline void
sw_setup_sharing(char src[PATH_MAX], char dl[PATH_MAX])
{
	sw_init(NTRK, NPEER);
	sw_users_and_group();
	(void)sw_subdir(src, PATH_MAX, "src", 0700);
	(void)sw_subdir(dl, PATH_MAX, "dl", 0700);
}

/* The teardown of suites that stop daemons: continued first, so that
 * SIGTERM ends them. */
static inline void
sw_fini_stopped(void)
{
	sw_continue_all();
	sw_fini();
}

/* sharectl wait for g/FILE on peer i: expect exit status want. */
static inline void
wait_done(int i, const char *file, int want)
{
	struct h_run	r;

	cr_assert_eq(sc(&r, i, "wait g %s", file), want, "wait: %s", r.err);
	h_run_free(&r);
}

/* line in alice's session on the tracker connection fd, which is closed
 * after; the reply. */
static inline char *
sw_ask_as_alice(int fd, const char *line)
{
	char	*rep;

	rep = h_request(fd, "login alice pa");
	cr_assert(rep != NULL && strncmp(rep, "OK", 2) == 0, "%s", rep);
	free(rep);
	cr_assert_not_null(rep = h_request(fd, line));
	close(fd);
	return rep;
}

/* A random file SW.dir/NAME of size bytes (from seed), its path in path,
 * shared by peer i in group g. */
static inline void
sw_share_random(int i, char *path, size_t len, const char *name, size_t size,
    unsigned seed)
{
	snprintf(path, len, "%s/%s", SW.dir, name);
	h_random_file(path, size, seed);
	SC(0, i, "upload_file %s g", path);
}

/* Seeder count of FILE in list_files GROUP as seen by peer i; -1 if
 * not listed. */
static inline int
sw_seeders(int i, const char *group, const char *file)
{
	struct h_run	 r;
	char		 pat[128], *p, *tab;
	int		 n = -1;

	cr_assert_eq(sc(&r, i, "list_files %s", group), 0, "%s", r.err);
	snprintf(pat, sizeof(pat), "%s\t", file);
	for (p = r.out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, pat, strlen(pat)) != 0)
			continue;
		/* file size sha1 seeders */
		if ((tab = strrchr(p, '\t')) != NULL &&
		    (strchr(p, '\n') == NULL || tab < strchr(p, '\n')))
			n = atoi(tab + 1);
		break;
	}
	h_run_free(&r);
	return n;
}

/* Minimal JSON validator: 1 if s is exactly one JSON value (+ space). */
static const char *js_value(const char *s, int depth);

static inline const char *
js_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static inline const char *
js_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	while (*s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", s[i]) ||
					    s[i] == '\0')
						return NULL;
				s += 4;
			} else if (!strchr("\"\\/bfnrt", *s) || *s == '\0')
				return NULL;
		}
		s++;
	}
	return s + 1;
}

static inline const char *
js_value(const char *s, int depth)
{
	s = js_ws(s);
	if (depth > 32)
		return NULL;
	if (*s == '"')
		return js_string(s);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';
		s = js_ws(s + 1);
		if (*s == close)
			return s + 1;
		for (;;) {
			if (close == '}') {
				if ((s = js_string(js_ws(s))) == NULL)
					return NULL;
				s = js_ws(s);
				if (*s++ != ':')
					return NULL;
			}
			if ((s = js_value(s, depth + 1)) == NULL)
				return NULL;
			s = js_ws(s);
			if (*s == close)
				return s + 1;
			if (*s++ != ',')
				return NULL;
		}
	}
	if (*s == '-' || (*s >= '0' && *s <= '9')) {
		char *end;
		strtod(s, &end);
		return end == s ? NULL : end;
	}
	if (strncmp(s, "true", 4) == 0 || strncmp(s, "null", 4) == 0)
		return s + 4;
	if (strncmp(s, "false", 5) == 0)
		return s + 5;
	return NULL;
}

static inline int
json_valid(const char *s)
{
	const char	*e = js_value(s, 0);

	return e != NULL && *js_ws(e) == '\0';
}

#endif
