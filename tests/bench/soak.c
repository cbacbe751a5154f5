/* Soak load for trackerd (tests/bench/soak.sh): active clients at a steady
 * pace plus held idle connections, with latency, RSS and fds per interval.
 *
 * soak [-a active] [-i idle] [-r per_client_rate_ms] [-s seconds]
 *      [-t interval] -p trackerd_pid IP:PORT
 *
 * Each active client is its own user owning a group with one file; it
 * sends one request at a time, every rate_ms: reads (list_files,
 * download_file, list_groups) and journaled writes (stop_share then
 * upload_file again). Idle connections send nothing; one the tracker
 * closes is opened again (counted). Every interval one line: requests/s,
 * errors, p50/p99/max latency of the reads in that interval and p99 of the
 * writes (which wait for fdatasync), trackerd's RSS (master and workers)
 * and descriptors, open idle connections. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc/net.h"
#include "tests/bench/bench_util.h"

#define PASSWORD	"soak-pw"
#define HIST_MAX_US	2000000		/* 1 us bins up to 2 s, then clamped */
#define REPLY_MAX	(1u << 20)

struct client {
	int		 fd;
	int		 id;		/* >= 0 active, -1 idle */
	int		 step;
	uint64_t	 sent_at, next_at;
	char		*buf;
	size_t		 len;
};

static struct {
	int		 active, idle, rate_ms, seconds, interval;
	pid_t		 pid;
	struct endpoint	 ep;
} O = { .active = 1000, .idle = 10000, .rate_ms = 1000, .seconds = 300,
    .interval = 30 };

/* latency histograms of this interval: reads, and journaled writes
 * (held until fdatasync) */
struct hist {
	uint32_t	*bin;
	uint64_t	 n;
};
static struct hist	 h_read, h_write;
static uint64_t		 n_done, n_err, n_reopen;
static int	 ep_fd, idle_open;

static void
die(const char *what)
{
	fprintf(stderr, "soak: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- blocking setup ---- */

static char *
request(int fd, const char *line)
{
	char	*r;

	if ((r = bench_request(fd, line)) == NULL)
		die(line);
	return r;
}

static void
hexof(unsigned seed, char out[41])
{
	uint32_t	x = seed * 2654435761u + 12345;
	int		i;

	for (i = 0; i < 40; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = "0123456789abcdef"[x & 15];
	}
	out[40] = '\0';
}

/* The upload_file line of client id's one-piece file. */
static void
upload_line(int id, char *out, size_t n)
{
	char	sha[41], piece[41];

	hexof((unsigned)id * 2 + 1, sha);
	hexof((unsigned)id * 2 + 2, piece);
	snprintf(out, n, "upload_file s%d f%d.bin 1000 127.0.0.1 %d %s 1 %s",
	    id, id, 20000 + id % 40000, sha, piece);
}

/* A connection to the tracker; with nonblock the connect may still be
 * in progress (idle connections: a mass reconnect must not stall the
 * active clients' measurements). */
static int
connect_to(int nonblock)
{
	int	fd;

	if ((fd = bench_connect(&O.ep, nonblock)) == -1)
		die("connect");
	return fd;
}

static void
setup_active(struct client *c, int id)
{
	char	line[512], *r;

	c->fd = connect_to(0);
	c->id = id;
	snprintf(line, sizeof(line), "create_user soak%d %s", id, PASSWORD);
	request(c->fd, line);
	snprintf(line, sizeof(line), "login soak%d %s", id, PASSWORD);
	if (strncmp(r = request(c->fd, line), "OK login_success", 16) != 0) {
		fprintf(stderr, "soak: %s: %s", line, r);
		exit(1);
	}
	snprintf(line, sizeof(line), "create_group s%d", id);
	request(c->fd, line);
	upload_line(id, line, sizeof(line));
	request(c->fd, line);
	if ((c->buf = malloc(REPLY_MAX)) == NULL)
		die("malloc");
	c->next_at = bench_now_us() + (uint64_t)(rand() % O.rate_ms) * 1000;
}

static void
watch(struct client *c, uint32_t events)
{
	struct epoll_event	ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
open_idle(struct client *c)
{
	c->fd = connect_to(1);
	c->id = -1;
	watch(c, EPOLLIN | EPOLLRDHUP);
	idle_open++;
}

/* ---- the steady load ---- */

static void
next_request(struct client *c, char *out, size_t n)
{
	switch (c->step++ % 10) {
	case 0: case 3: case 8:
		snprintf(out, n, "list_files s%d", c->id);
		break;
	case 1: case 4: case 7:
		snprintf(out, n, "download_file s%d f%d.bin", c->id, c->id);
		break;
	case 2:
		snprintf(out, n, "list_groups");
		break;
	case 5:
		snprintf(out, n, "stop_share s%d f%d.bin 127.0.0.1 %d", c->id,
		    c->id, 20000 + c->id % 40000);
		break;
	case 6:
		upload_line(c->id, out, n);
		break;
	default:
		snprintf(out, n, "list_requests s%d", c->id);
	}
}

static void
send_next(struct client *c, uint64_t now)
{
	char	line[512];
	size_t	n;

	next_request(c, line, sizeof(line) - 1);
	n = strlen(line);
	line[n++] = '\n';
	c->sent_at = now;
	c->len = 0;
	if (write_all(c->fd, line, n) == -1)
		die("send");
}

static int
is_write(int step)
{
	return step % 10 == 5 || step % 10 == 6;
}

static void
record(struct hist *h, uint64_t us)
{
	h->bin[us < HIST_MAX_US ? us : HIST_MAX_US - 1]++;
	h->n++;
}

static void
on_active(struct client *c)
{
	ssize_t	 n;
	char	*e;

	while ((n = recv(c->fd, c->buf + c->len, REPLY_MAX - 1 - c->len,
	    MSG_DONTWAIT)) > 0) {
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		fprintf(stderr, "soak: active client %d lost its connection\n",
		    c->id);
		exit(1);
	}
	if (c->sent_at == 0 || (e = strstr(c->buf, "END_OF_REPLY\n")) == NULL)
		return;
	/* step was advanced when the request was sent */
	record(is_write(c->step - 1) ? &h_write : &h_read,
	    bench_now_us() - c->sent_at);
	n_done++;
	if (strncmp(c->buf, "OK", 2) != 0)
		n_err++;
	c->sent_at = 0;
	c->next_at += (uint64_t)O.rate_ms * 1000;
	if (c->next_at + (uint64_t)O.rate_ms * 1000 < bench_now_us())
		c->next_at = bench_now_us();	/* fell behind: no burst to catch up */
}

static void
on_idle(struct client *c, uint32_t events)
{
	char	b[256];

	if (!(events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) &&
	    recv(c->fd, b, sizeof(b), MSG_DONTWAIT) == -1 && errno == EAGAIN)
		return;
	/* closed by the tracker (idle timeout) or refused: open another */
	close(c->fd);
	idle_open--;
	n_reopen++;
	open_idle(c);
}

/* ---- sampling ---- */

static double
percentile_ms(const struct hist *h, double q)
{
	uint64_t	want = (uint64_t)(q * (double)h->n), acc = 0;
	uint32_t	i;

	if (h->n == 0)
		return 0;	/* none in this interval */
	for (i = 0; i < HIST_MAX_US; i++)
		if ((acc += h->bin[i]) > want)
			return i / 1000.0;
	return HIST_MAX_US / 1000.0;
}

static double
max_ms(const struct hist *h)
{
	uint32_t	i;

	for (i = HIST_MAX_US; i-- > 0; )
		if (h->bin[i])
			return i / 1000.0;
	return 0;
}

/*
 * RSS (kB) of pid, split into its private anonymous pages and its shared
 * memory pages (trackerd's state object, touched once and then resident in
 * every process that maps it), and its open descriptors.
 */
struct usage {
	long	rss, anon, shm, fds;
};

static void
proc_usage(pid_t pid, struct usage *u)
{
	char	 path[64], line[256];
	FILE	*fp;
	DIR	*d;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "VmRSS:", 6) == 0)
				u->rss += strtol(line + 6, NULL, 10);
			else if (strncmp(line, "RssAnon:", 8) == 0)
				u->anon += strtol(line + 8, NULL, 10);
			else if (strncmp(line, "RssShmem:", 9) == 0)
				u->shm += strtol(line + 9, NULL, 10);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) != NULL) {
		while (readdir(d) != NULL)
			u->fds++;
		u->fds -= 2;
		closedir(d);
	}
}

/* trackerd's master and its workers (children of the master). */
static void
tracker_usage(struct usage *u)
{
	struct dirent	*de;
	char		 path[300], buf[512], *p;
	FILE		*fp;
	DIR		*d;
	int		 ppid;

	memset(u, 0, sizeof(*u));
	proc_usage(O.pid, u);
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == O.pid)
			proc_usage(atoi(de->d_name), u);
		fclose(fp);
	}
	closedir(d);
}

static void
report(uint64_t t0, uint64_t from, uint64_t done0)
{
	uint64_t	now = bench_now_us();
	struct usage	u;

	tracker_usage(&u);
	printf("%6.0f s  %6.0f req/s  err %llu  p50 %6.2f ms  p99 %6.2f ms  "
	    "max %7.2f ms  writes p99 %6.2f ms  rss %6.1f MiB  anon %6.1f MiB  "
	    "shm %6.1f MiB  fds %5ld  idle %5d  reopened %llu\n",
	    (double)(now - t0) / 1e6,
	    (double)(n_done - done0) * 1e6 / (double)(now - from),
	    (unsigned long long)n_err, percentile_ms(&h_read, 0.50),
	    percentile_ms(&h_read, 0.99), max_ms(&h_read),
	    percentile_ms(&h_write, 0.99), u.rss / 1024.0, u.anon / 1024.0,
	    u.shm / 1024.0, u.fds, idle_open,
	    (unsigned long long)n_reopen);
	fflush(stdout);
	memset(h_read.bin, 0, HIST_MAX_US * sizeof(*h_read.bin));
	memset(h_write.bin, 0, HIST_MAX_US * sizeof(*h_write.bin));
	h_read.n = h_write.n = 0;
}

static void
loop(struct client *act)
{
	struct epoll_event	 evs[256];
	uint64_t		 t0 = bench_now_us(), end, last = t0, now, done0 = 0;
	int			 i, n;

	end = t0 + (uint64_t)O.seconds * 1000000;
	while ((now = bench_now_us()) < end) {
		for (i = 0; i < O.active; i++)
			if (act[i].sent_at == 0 && act[i].next_at <= now)
				send_next(&act[i], now);
		n = epoll_wait(ep_fd, evs, 256, 1);
		for (i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->id >= 0)
				on_active(c);
			else
				on_idle(c, evs[i].events);
		}
		if (now - last >= (uint64_t)O.interval * 1000000) {
			report(t0, last, done0);
			last = now;
			done0 = n_done;
		}
	}
	report(t0, last, done0);
}

static int
num(const char *s, int min, int max)
{
	char	*e;
	long	 v = strtol(s, &e, 10);

	if (*s == '\0' || *e != '\0' || v < min || v > max) {
		fprintf(stderr, "soak: bad number %s\n", s);
		exit(64);
	}
	return (int)v;
}

int
main(int argc, char *argv[])
{
	struct client	*act, *idl;
	struct rlimit	 rl;
	int		 ch, i;

	while ((ch = getopt(argc, argv, "a:i:r:s:t:p:")) != -1) {
		switch (ch) {
		case 'a': O.active = num(optarg, 1, 100000); break;
		case 'i': O.idle = num(optarg, 0, 1000000); break;
		case 'r': O.rate_ms = num(optarg, 1, 600000); break;
		case 's': O.seconds = num(optarg, 1, 86400); break;
		case 't': O.interval = num(optarg, 1, 3600); break;
		case 'p': O.pid = num(optarg, 1, 1 << 30); break;
		default:
			fprintf(stderr, "usage: soak [-a active] [-i idle] "
			    "[-r rate_ms] [-s seconds] [-t interval] "
			    "-p trackerd_pid IP:PORT\n");
			return 64;
		}
	}
	if (optind + 1 != argc || O.pid == 0 ||
	    endpoint_parse(argv[optind], &O.ep) == -1)
		return 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	h_read.bin = calloc(HIST_MAX_US, sizeof(*h_read.bin));
	h_write.bin = calloc(HIST_MAX_US, sizeof(*h_write.bin));
	if (h_read.bin == NULL || h_write.bin == NULL ||
	    (act = calloc((size_t)O.active, sizeof(*act))) == NULL ||
	    (idl = calloc((size_t)O.idle + 1, sizeof(*idl))) == NULL ||
	    (ep_fd = epoll_create1(0)) == -1)
		die("setup");
	for (i = 0; i < O.active; i++)
		setup_active(&act[i], i);
	for (i = 0; i < O.active; i++)
		watch(&act[i], EPOLLIN | EPOLLRDHUP);
	for (i = 0; i < O.idle; i++)
		open_idle(&idl[i]);
	printf("soak: %d active clients (one request each every %d ms), "
	    "%d idle connections, %d s\n", O.active, O.rate_ms, O.idle,
	    O.seconds);
	loop(act);
	return 0;
}
