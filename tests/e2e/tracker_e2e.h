/* Shared fixture of the trackerd end-to-end tests: two real trackers on
 * free loopback ports over one journal in a temp dir, and wire helpers. */
#ifndef TESTS_E2E_TRACKER_E2E_H
#define TESTS_E2E_TRACKER_E2E_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/harness.h"

#define TRK_MAX		2
/* small capacities keep the region and startup small under ASan */
#define TRK_CAPS	"users=4096,groups=1024,members=8192,requests=4096," \
			"sessions=4096,files=4096,seeders=8192,hashes=65536," \
			"signups=0,user_files=8192,user_hashes=65536," \
			"user_groups=1024,user_requests=4096,user_sessions=4096"

struct trk {
	char		*dir;
	char		 info[512], journal[512], pidfile[TRK_MAX][512];
	char		 log[TRK_MAX][512];
	uint16_t	 port[TRK_MAX];
	struct h_proc	 p[TRK_MAX];
	char		 extra[16][64];	/* extra options for the next start */
	int		 nextra;
	const char	*bin;		/* trackerd binary, NULL: production */
};

static struct trk	T;

static inline long
trk_now_ms(void)
{
	return h_now_ms();
}

static inline void
trk_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline void
trk_init(void)
{
	char	buf[256];

	memset(&T, 0, sizeof(T));
	T.dir = h_tmpdir();
	T.port[0] = h_free_port();
	do
		T.port[1] = h_free_port();
	while (T.port[1] == T.port[0]);
	snprintf(T.info, sizeof(T.info), "%s/tracker_info.txt", T.dir);
	snprintf(T.journal, sizeof(T.journal), "%s/sync_log.txt", T.dir);
	for (int i = 0; i < TRK_MAX; i++) {
		snprintf(T.pidfile[i], sizeof(T.pidfile[i]), "%s/trackerd%d.pid",
		    T.dir, i + 1);
		snprintf(T.log[i], sizeof(T.log[i]), "%s/trackerd%d.log",
		    T.dir, i + 1);
	}
	snprintf(buf, sizeof(buf), "# two trackers\n127.0.0.1:%u\n\n"
	    "127.0.0.1 %u\n", T.port[0], T.port[1]);
	h_write_file(T.info, buf);
}

static inline void
trk_opt(const char *opt)
{
	snprintf(T.extra[T.nextra++], sizeof(T.extra[0]), "%s", opt);
}

/* Build trackerd's argv for tracker i into argv (static storage). */
static inline void
trk_argv(int i, char *argv[32])
{
	static char	no[16];
	int		n = 0;

	snprintf(no, sizeof(no), "%d", i + 1);
	argv[n++] = (char *)(T.bin != NULL ? T.bin : "trackerd/trackerd");
	argv[n++] = "-f";
	argv[n++] = "-k";
	argv[n++] = "1000";
	argv[n++] = "-w";
	argv[n++] = "2";
	argv[n++] = "-o";
	argv[n++] = TRK_CAPS;
	argv[n++] = "-l";
	argv[n++] = T.journal;
	argv[n++] = "-p";
	argv[n++] = T.pidfile[i];
	for (int k = 0; k < T.nextra; k++)
		argv[n++] = T.extra[k];
	argv[n++] = T.info;
	argv[n++] = no;
	argv[n] = NULL;
}

/* The trackerd built with -DTEST_HOOKS (test_hold_lock and the like),
 * for the tests that need them; every other test runs the production
 * binary. */
#define TRK_TEST_BIN	"tests/e2e/trackerd-test"

/* Start tracker i and wait until it accepts connections. */
static inline int
trk_start(int i)
{
	char	*argv[32];
	char	*env[] = { NULL };

	trk_argv(i, argv);
	if (h_spawn(&T.p[i], argv, env, T.log[i]) == -1)
		return -1;
	return h_wait_port(T.port[i], 10000);
}

static inline void
trk_start_both(void)
{
	cr_assert_eq(trk_start(0), 0, "tracker 1 did not start");
	cr_assert_eq(trk_start(1), 0, "tracker 2 did not start");
}

static inline int
trk_stop(int i)
{
	if (T.p[i].pid <= 0)
		return -1;
	return h_stop(&T.p[i], SIGTERM, 8000);
}

/* Stop what the test started (SIGTERM, so that a tracker removes its
 * shared memory; a stopped one is continued first), then remove what a
 * tracker killed on purpose left, and the test's directory. */
static inline void
trk_fini(void)
{
	for (int i = 0; i < TRK_MAX; i++) {
		if (T.p[i].pid > 0) {
			kill(T.p[i].pid, SIGCONT);
			h_stop(&T.p[i], SIGTERM, 8000);
		}
		if (T.port[i] != 0)
			h_tracker_shm_unlink(T.port[i]);
	}
	h_rmtree(T.dir);
}

/* ---- wire helpers ---- */

static inline int
trk_conn(int i)
{
	int	fd = h_connect(T.port[i]);

	cr_assert_geq(fd, 0, "connect to tracker %d: %s", i + 1,
	    strerror(errno));
	return fd;
}

static inline char * __attribute__((format(printf, 2, 3)))
rq(int fd, const char *fmt, ...)
{
	char	*line, *r;
	va_list	ap;

	va_start(ap, fmt);
	cr_assert_neq(vasprintf(&line, fmt, ap), -1);
	va_end(ap);
	r = h_request(fd, line);
	cr_assert_not_null(r, "no reply to \"%.80s\"", line);
	free(line);
	return r;
}

/* The reply is one "ERR <reason> <text>" line and END_OF_REPLY. */
static inline int
is_err_reply(const char *r, const char *reason)
{
	const char	*nl = strchr(r, '\n');
	size_t		 n;

	if (strncmp(r, "ERR ", 4) != 0 || nl == NULL ||
	    strcmp(nl + 1, "END_OF_REPLY\n") != 0)
		return 0;
	if (reason == NULL)
		return 1;
	n = strlen(reason);
	return strncmp(r + 4, reason, n) == 0 && (r[4 + n] == ' ' ||
	    r[4 + n] == '\n');
}

#define OK(fd, ...) do {						\
	char *r_ = rq((fd), __VA_ARGS__);				\
	cr_assert(strncmp(r_, "OK", 2) == 0, "expected OK, got: %s", r_); \
	free(r_);							\
} while (0)

#define ERR(fd, reason, ...) do {					\
	char *r_ = rq((fd), __VA_ARGS__);				\
	cr_assert(is_err_reply(r_, (reason)), "expected ERR %s, got: %s", \
	    (reason) ? (reason) : "", r_);				\
	free(r_);							\
} while (0)

/* Log in on fd; returns the session token (static storage). */
static inline const char *
trk_login(int fd, const char *user, const char *pw)
{
	static char	tok[64];
	char		*r = rq(fd, "login %s %s", user, pw);

	cr_assert(strncmp(r, "OK login_success ", 17) == 0,
	    "login %s: %s", user, r);
	cr_assert_eq(strcspn(r + 17, "\n"), 16, "token length: %s", r);
	snprintf(tok, sizeof(tok), "%.16s", r + 17);
	free(r);
	return tok;
}

static inline void
trk_user(int fd, const char *user, const char *pw)
{
	OK(fd, "create_user %s %s", user, pw);
	trk_login(fd, user, pw);
}

/* "OK <count>" as the first line: the count, or -1 if not OK. */
static inline long
reply_count(const char *r)
{
	if (strncmp(r, "OK ", 3) != 0)
		return -1;
	return strtol(r + 3, NULL, 10);
}

/* 1 if some line of reply r starts with word w followed by a space or
 * end of line. */
static inline int
has_line(const char *r, const char *w)
{
	size_t		 n = strlen(w);
	const char	*p = r;

	while (p && *p) {
		if (strncmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\n' ||
		    p[n] == '\t'))
			return 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* Poll request on tracker i until its reply contains line word (or not,
 * if present == 0), for at most ms. Returns elapsed ms or -1. */
static inline long
trk_poll_line(int fd, const char *request, const char *word, int present,
    int ms)
{
	long	start = trk_now_ms();
	char	*r;
	int	hit;

	for (;;) {
		r = h_request(fd, request);
		cr_assert_not_null(r, "no reply to %s", request);
		hit = has_line(r, word);
		free(r);
		if (hit == present)
			return trk_now_ms() - start;
		if (trk_now_ms() - start > ms)
			return -1;
		trk_sleep_ms(5);
	}
}

/* Read until n replies (END_OF_REPLY lines) have arrived, however they
 * were split; returns them concatenated (malloc'd). */
static inline char *
read_replies(int fd, int n)
{
	size_t	 len = 0, cap = 1 << 16;
	char	*buf = malloc(cap), *p;
	int	 seen = 0;
	ssize_t	 k;

	buf[0] = '\0';
	while (seen < n) {
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
		k = recv(fd, buf + len, cap - len - 1, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
		seen = 0;
		for (p = buf; (p = strstr(p, "END_OF_REPLY\n")) != NULL; p++)
			seen++;
	}
	return buf;
}

/* A deterministic 40-hex "hash" from a seed. */
static inline void
fake_sha1(unsigned seed, char out[41])
{
	uint32_t	x = seed * 2654435761u + 12345;

	for (int i = 0; i < 40; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = "0123456789abcdef"[x & 15];
	}
	out[40] = '\0';
}

/* upload_file line for a file of size bytes (pieces of 512 KiB). */
static inline char *
upload_line(const char *group, const char *name, uint64_t size,
    const char *ip, unsigned port, unsigned seed)
{
	uint64_t	n = (size + 524287) / 524288, i;
	size_t		cap = 256 + (size_t)n * 41;
	char		*s = malloc(cap), h[41];
	size_t		len;

	fake_sha1(seed, h);
	len = (size_t)snprintf(s, cap, "upload_file %s %s %llu %s %u %s %llu",
	    group, name, (unsigned long long)size, ip, port, h,
	    (unsigned long long)n);
	for (i = 0; i < n; i++) {
		fake_sha1(seed * 1000 + (unsigned)i + 1, h);
		len += (size_t)snprintf(s + len, cap - len, " %s", h);
	}
	return s;
}

static inline void
upload_ok(int fd, const char *group, const char *name, uint64_t size,
    unsigned port, unsigned seed)
{
	char	*l = upload_line(group, name, size, "127.0.0.1", port, seed);

	OK(fd, "%s", l);
	free(l);
}

/* Read a /proc file (their size reads as 0, so no fseek). */
static inline char *
proc_read(const char *path)
{
	FILE	*fp = fopen(path, "r");
	size_t	 len = 0, cap = 1 << 16, n;
	char	*s;

	if (fp == NULL)
		return NULL;
	s = malloc(cap);
	while ((n = fread(s + len, 1, cap - len - 1, fp)) > 0) {
		len += n;
		if (cap - len < 4096)
			s = realloc(s, cap *= 2);
	}
	s[len] = '\0';
	fclose(fp);
	return s;
}

/* Child processes of pid (from /proc/<pid>/task/<pid>/children). */
static inline int
child_pids(pid_t pid, pid_t *out, int max)
{
	char	 path[64];
	char	*s, *p, *e;
	int	 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((s = proc_read(path)) == NULL)
		return 0;
	for (p = s; n < max; p = e) {
		long v = strtol(p, &e, 10);
		if (e == p)
			break;
		out[n++] = (pid_t)v;
	}
	free(s);
	return n;
}

/*
 * The worker serving connection fd: the server-side socket of fd's TCP
 * connection, found in /proc/net/tcp, then among the workers' fds.
 */
static inline pid_t
worker_of(int fd, pid_t master)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			*tcp, *p, path[128], link[128], want[64];
	unsigned long		 inode = 0;
	unsigned		 lport, rport, sport;
	pid_t			 kids[64];
	int			 n, i;

	getsockname(fd, (struct sockaddr *)&sin, &len);
	lport = ntohs(sin.sin_port);
	len = sizeof(sin);
	getpeername(fd, (struct sockaddr *)&sin, &len);
	sport = ntohs(sin.sin_port);
	if ((tcp = proc_read("/proc/net/tcp")) == NULL)
		return -1;
	for (p = strchr(tcp, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		unsigned long	ino;
		char		la[64], ra[64];

		/* sl local rem st tx:rx tr:when retr uid timeout inode */
		if (sscanf(p + 1, "%*s %63s %63s %*s %*s %*s %*s %*s %*s %lu",
		    la, ra, &ino) != 3)
			continue;
		if (strchr(ra, ':') == NULL || strchr(la, ':') == NULL)
			continue;
		/* the tracker's end: from its port to ours (other tests on
		 * this host have sockets to our port number too) */
		rport = (unsigned)strtoul(strchr(ra, ':') + 1, NULL, 16);
		if (rport == lport && ino != 0 &&
		    (unsigned)strtoul(strchr(la, ':') + 1, NULL, 16) == sport) {
			inode = ino;
			break;
		}
	}
	free(tcp);
	if (inode == 0)
		return -1;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	n = child_pids(master, kids, 64);
	for (i = 0; i < n; i++) {
		DIR		*d;
		struct dirent	*de;

		snprintf(path, sizeof(path), "/proc/%d/fd", (int)kids[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			char fp[512];
			ssize_t k;

			snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
			k = readlink(fp, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			if (strcmp(link, want) == 0) {
				closedir(d);
				return kids[i];
			}
		}
		closedir(d);
	}
	return -1;
}

/* worker_of, waiting up to ms for a loaded tracker to accept fd. */
static inline pid_t
worker_of_wait(int fd, pid_t master, int ms)
{
	pid_t	pid;
	long	end = trk_now_ms() + ms;

	while ((pid = worker_of(fd, master)) <= 0 && trk_now_ms() < end)
		trk_sleep_ms(20);
	return pid;
}

/* 1 if pid runs (a zombie nobody reaped yet does not count). */
static inline int
pid_running(pid_t pid)
{
	char	 path[64], *st, *p;
	int	 zombie;

	if (kill(pid, 0) == -1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((st = proc_read(path)) == NULL)
		return 0;
	p = strrchr(st, ')');
	zombie = p != NULL && (p[2] == 'Z' || p[2] == 'X');
	free(st);
	return !zombie;
}

/* Wait (bounded) until none of pids is alive. */
static inline int
wait_gone(const pid_t *pids, int n, int ms)
{
	long	end = trk_now_ms() + ms;
	int	alive;

	do {
		alive = 0;
		for (int i = 0; i < n; i++)
			if (pid_running(pids[i]))
				alive = 1;
		if (!alive)
			return 0;
		trk_sleep_ms(10);
	} while (trk_now_ms() < end);
	return -1;
}

/* Count of lines in a file. */
static inline int
file_lines(const char *path)
{
	char	*s = h_read_file(path, NULL), *p;
	int	 n = 0;

	if (s == NULL)
		return -1;
	for (p = s; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	free(s);
	return n;
}

#endif
