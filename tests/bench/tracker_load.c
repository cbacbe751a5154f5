/* Load generator for trackerd (make bench): persistent pipelined or
 * connection-per-request clients, compared with a do-nothing responder. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/net.h"
#include "ipc/proto.h"
#include "tests/bench/bench_util.h"

#define MAX_CONNS	1024
#define MAX_DEPTH	64
#define HIST_US		200000		/* latency histogram: 1 us bins */
#define NFILES		20
#define GROUP		"benchg"
#define OWNER		"bench_owner"
#define PASSWORD	"bench-pw"

enum mode { M_READ, M_LIST, M_WRITE, M_CPR };

struct opts {
	enum mode	mode;
	int		conns, depth, seconds, runs, threads;
	int		responder;	/* also measure the responder */
	struct endpoint	ep;
};

struct conn {
	int		 fd;
	int		 id;
	char		 rbuf[1 << 16];
	size_t		 rlen, scan;
	uint64_t	 sent_at[MAX_DEPTH];
	unsigned	 head, inflight;
	uint64_t	 seq;		/* requests issued on this conn */
	int		 connecting;
};

struct thread {
	pthread_t	 tid;
	struct opts	*o;
	struct conn	*conns;
	int		 nconns, first;
	uint64_t	 done, errors;
	uint32_t	*hist;
	volatile int	*stop;
	const struct endpoint *ep;
};

static char	owner_token[32];
static char	writer_token[MAX_CONNS][32];
static int	run_no;

static void
fake_hex(unsigned seed, char out[41])
{
	uint32_t	x = seed * 2654435761u + 7;

	for (int i = 0; i < 40; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = "0123456789abcdef"[x & 15];
	}
	out[40] = '\0';
}

/* ---- blocking setup client ---- */

static char *
request(int fd, const char *line)
{
	char	*r;

	if ((r = bench_request(fd, line)) == NULL) {
		fprintf(stderr, "tracker_load: no reply to %s\n", line);
		exit(1);
	}
	return r;
}

static void
login(int fd, const char *user, char tok[32])
{
	char	line[256], *r;

	snprintf(line, sizeof(line), "create_user %s %s", user, PASSWORD);
	request(fd, line);
	snprintf(line, sizeof(line), "login %s %s", user, PASSWORD);
	r = request(fd, line);
	if (strncmp(r, "OK login_success ", 17) != 0) {
		fprintf(stderr, "tracker_load: login %s: %s", user, r);
		exit(1);
	}
	snprintf(tok, 32, "%.16s", r + 17);
}

static void
upload_line(char *out, size_t n, const char *name, unsigned port,
    unsigned seed)
{
	char	sha[41], h[41];

	fake_hex(seed, sha);
	fake_hex(seed + 1, h);
	snprintf(out, n, "upload_file " GROUP " %s 1000 127.0.0.1 %u %s 1 %s",
	    name, port, sha, h);
}

/* Users, the group and its 20 files; writers for the write mix. */
static void
setup(struct opts *o)
{
	char	line[512], name[64], tok[32];
	int	fd, w, i;

	/* the tracker may still be starting */
	for (i = 0; i < 100 && (fd = tcp_connect(&o->ep, 3000)) == -1; i++)
		usleep(50000);
	if (fd == -1) {
		fprintf(stderr, "tracker_load: connect %s: %s\n", o->ep.text,
		    strerror(errno));
		exit(1);
	}
	login(fd, OWNER, owner_token);
	request(fd, "create_group " GROUP);
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "file%02d.bin", i);
		upload_line(line, sizeof(line), name, 6881, 100 + i);
		request(fd, line);
	}
	if (o->mode == M_WRITE)
		for (i = 0; i < o->conns; i++) {
			snprintf(name, sizeof(name), "bench_w%d", i);
			snprintf(line, sizeof(line), "session %s %s "
			    "accept_request " GROUP " %s", OWNER, owner_token,
			    name);
			w = tcp_connect(&o->ep, 3000);
			login(w, name, tok);
			snprintf(writer_token[i], 32, "%s", tok);
			request(w, "join_group " GROUP);
			request(fd, line);
			close(w);
		}
	close(fd);
}

/* Read until n replies have arrived on fd. */
static void
drain_replies(int fd, int n)
{
	char	buf[65536 + 16];
	size_t	keep = 0;
	ssize_t	k;
	char	*p, *end;

	while (n > 0) {
		k = recv(fd, buf + keep, sizeof(buf) - 16 - keep, 0);
		if (k <= 0) {
			fprintf(stderr, "tracker_load: setup connection lost\n");
			exit(1);
		}
		end = buf + keep + k;
		for (p = buf; (p = memmem(p, (size_t)(end - p),
		    "END_OF_REPLY\n", 13)) != NULL; p += 13)
			n--;
		keep = end - buf < 12 ? (size_t)(end - buf) : 12;
		memmove(buf, end - keep, keep);
	}
}

/* Groups the writers will ask to join in this run: made by the owner,
 * pipelined. */
static void
setup_join_groups(struct opts *o, int per_conn)
{
	char	*batch, *p;
	int	 fd, i, k;

	fd = tcp_connect(&o->ep, 3000);
	batch = malloc((size_t)per_conn * 96 + 64);
	for (i = 0; i < o->conns; i++) {
		p = batch;
		for (k = 0; k < per_conn; k++)
			p += sprintf(p, "session %s %s create_group j%d_%d_%d\n",
			    OWNER, owner_token, run_no, i, k);
		write_all(fd, batch, (size_t)(p - batch));
		drain_replies(fd, per_conn);
	}
	free(batch);
	close(fd);
}

/* ---- the load ---- */

static int
make_request(struct opts *o, struct conn *c, char *out, size_t n)
{
	char		pre[96], name[64];
	uint64_t	k = c->seq++;
	int		port = 10000 + c->id, len;

	if (o->mode != M_WRITE) {
		snprintf(pre, sizeof(pre), "session %s %s ", OWNER, owner_token);
		if (o->mode == M_LIST)	/* list_files of the 20-file group only */
			return snprintf(out, n, "%slist_files " GROUP "\n", pre);
		switch (k % 3) {
		case 0:
			return snprintf(out, n, "%slist_groups\n", pre);
		case 1:
			return snprintf(out, n, "%slist_files " GROUP "\n", pre);
		default:
			return snprintf(out, n, "%sdownload_file " GROUP
			    " file%02d.bin\n", pre, (int)((k / 3) % NFILES));
		}
	}
	len = snprintf(out, n, "session bench_w%d %s ", c->id,
	    writer_token[c->id]);
	out += len;
	n -= (size_t)len;
	switch (k % 3) {
	case 0:
		snprintf(name, sizeof(name), "w%d_%d_%llu.bin", run_no, c->id,
		    (unsigned long long)(k / 3));
		upload_line(out, n, name, (unsigned)port, (unsigned)k);
		strcat(out, "\n");
		return len + (int)strlen(out);
	case 1:
		return len + snprintf(out, n, "stop_share " GROUP
		    " w%d_%d_%llu.bin 127.0.0.1 %d\n", run_no, c->id,
		    (unsigned long long)(k / 3), port);
	default:
		return len + snprintf(out, n, "join_group j%d_%d_%llu\n",
		    run_no, c->id, (unsigned long long)(k / 3));
	}
}

static int
conn_open(struct thread *t, struct conn *c, int ep)
{
	struct epoll_event	ev;

	if ((c->fd = bench_connect(t->ep, 1)) == -1)
		return -1;
	c->rlen = c->scan = 0;
	c->head = c->inflight = 0;
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	c->connecting = 1;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
record(struct thread *t, uint64_t sent)
{
	uint64_t	us = bench_now_us() - sent;

	t->hist[us < HIST_US ? us : HIST_US - 1]++;
	t->done++;
}

static int
send_requests(struct thread *t, struct conn *c, int want)
{
	char	buf[MAX_DEPTH * 256];
	size_t	len = 0;
	int	i;

	for (i = 0; i < want; i++) {
		c->sent_at[(c->head + c->inflight) % MAX_DEPTH] = bench_now_us();
		c->inflight++;
		len += (size_t)make_request(t->o, c, buf + len,
		    sizeof(buf) - len);
	}
	return write_all(c->fd, buf, len);
}

/* Count complete replies in the read buffer; returns how many. */
static int
take_replies(struct thread *t, struct conn *c)
{
	char	*p, *start = c->rbuf, *e;
	int	 n = 0;

	for (;;) {
		e = memmem(start, c->rlen - (size_t)(start - c->rbuf),
		    "END_OF_REPLY\n", 13);
		if (e == NULL)
			break;
		if (strncmp(start, "ERR", 3) == 0)
			t->errors++;
		p = e + 13;
		record(t, c->sent_at[c->head]);
		c->head = (c->head + 1) % MAX_DEPTH;
		c->inflight--;
		start = p;
		n++;
	}
	c->rlen -= (size_t)(start - c->rbuf);
	memmove(c->rbuf, start, c->rlen);
	return n;
}

static void
on_event(struct thread *t, struct conn *c, int ep, uint32_t events)
{
	struct epoll_event	ev;
	ssize_t			n;
	int			got;

	if (c->connecting) {
		if (events & (EPOLLERR | EPOLLHUP))
			goto reconnect;
		c->connecting = 0;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		send_requests(t, c, t->o->mode == M_CPR ? 1 : t->o->depth);
		return;
	}
	n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
	if (n <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		goto reconnect;
	}
	c->rlen += (size_t)n;
	got = take_replies(t, c);
	if (got == 0)
		return;
	if (t->o->mode == M_CPR) {
		/* close with RST: a hundred thousand TIME_WAITs would use
		 * up the ephemeral ports within a run */
		struct linger lg = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		goto reconnect;
	}
	if (!*t->stop)
		send_requests(t, c, got);
	return;
reconnect:
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (!*t->stop && conn_open(t, c, ep) == -1)
		c->fd = -1;
}

static void *
thread_main(void *arg)
{
	struct thread		*t = arg;
	struct epoll_event	 evs[256];
	int			 ep = epoll_create1(0), i, n;

	for (i = 0; i < t->nconns; i++) {
		t->conns[i].id = t->first + i;
		if (conn_open(t, &t->conns[i], ep) == -1) {
			fprintf(stderr, "tracker_load: connect: %s\n",
			    strerror(errno));
			exit(1);
		}
	}
	while (!*t->stop) {
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++)
			on_event(t, evs[i].data.ptr, ep, evs[i].events);
	}
	for (i = 0; i < t->nconns; i++)
		if (t->conns[i].fd >= 0)
			close(t->conns[i].fd);
	close(ep);
	return NULL;
}

struct result {
	double	rps, p50_ms, p99_ms;
	double	err_ratio;
	double	busy;		/* share of the machine's CPU time in use */
};

/* The machine's CPU time so far, all of it and the part not idle (nor
 * waiting for I/O), in clock ticks, from /proc/stat; 0 if unknown. */
static void
cpu_ticks(uint64_t *busy, uint64_t *total)
{
	unsigned long long	v[8] = { 0 };
	FILE			*f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

static double
percentile(const uint32_t *h, uint64_t total, double q)
{
	uint64_t	want = (uint64_t)(q * (double)total), acc = 0;

	for (int i = 0; i < HIST_US; i++) {
		acc += h[i];
		if (acc > want)
			return i / 1000.0;
	}
	return HIST_US / 1000.0;
}

static struct result
run_load(struct opts *o, const struct endpoint *ep)
{
	struct thread	*th = calloc((size_t)o->threads, sizeof(*th));
	struct conn	*conns = calloc((size_t)o->conns, sizeof(*conns));
	uint32_t	*hist = calloc(HIST_US, sizeof(uint32_t));
	volatile int	 stop = 0;
	uint64_t	 done = 0, errors = 0, t0, t1, warm, b0, c0, b1, c1;
	struct result	 r;
	int		 i, per = o->conns / o->threads;

	for (i = 0; i < o->threads; i++) {
		th[i].o = o;
		th[i].ep = ep;
		th[i].stop = &stop;
		th[i].first = i * per;
		th[i].conns = conns + i * per;
		th[i].nconns = i == o->threads - 1 ? o->conns - i * per : per;
		th[i].hist = calloc(HIST_US, sizeof(uint32_t));
		pthread_create(&th[i].tid, NULL, thread_main, &th[i]);
	}
	/* half a second of warm-up is not counted */
	usleep(500000);
	warm = 0;
	for (i = 0; i < o->threads; i++) {
		warm += __atomic_load_n(&th[i].done, __ATOMIC_RELAXED);
	}
	t0 = bench_now_us();
	cpu_ticks(&b0, &c0);
	for (i = 0; i < o->threads; i++) {
		memset(th[i].hist, 0, HIST_US * sizeof(uint32_t));
		__atomic_store_n(&th[i].done, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&th[i].errors, 0, __ATOMIC_RELAXED);
	}
	(void)warm;
	usleep((useconds_t)o->seconds * 1000000);
	cpu_ticks(&b1, &c1);
	stop = 1;
	t1 = bench_now_us();
	for (i = 0; i < o->threads; i++) {
		pthread_join(th[i].tid, NULL);
		done += th[i].done;
		errors += th[i].errors;
		for (int k = 0; k < HIST_US; k++)
			hist[k] += th[i].hist[k];
		free(th[i].hist);
	}
	r.rps = (double)done * 1e6 / (double)(t1 - t0);
	r.p50_ms = percentile(hist, done, 0.50);
	r.p99_ms = percentile(hist, done, 0.99);
	r.err_ratio = done ? (double)errors / (double)done : 0;
	r.busy = c1 > c0 ? (double)(b1 - b0) / (double)(c1 - c0) : 0;
	free(hist);
	free(conns);
	free(th);
	return r;
}

/* ---- the do-nothing responder ---- */

struct canned {
	char	cmd[32];
	char	*reply;
	size_t	 len;
};

static struct canned	canned[3];
static int		ncanned;

/* Ask trackerd once for each kind of request in the mix and keep its
 * reply: the responder answers with the same bytes. */
static void
learn_replies(struct opts *o)
{
	static const char *const reqs[] = { "list_groups",
	    "list_files " GROUP, "download_file " GROUP " file00.bin" };
	char	line[256], *r;
	int	fd = tcp_connect(&o->ep, 3000);

	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "session %s %s %s", OWNER,
		    owner_token, reqs[i]);
		r = request(fd, line);
		snprintf(canned[i].cmd, sizeof(canned[i].cmd), "%.*s",
		    (int)strcspn(reqs[i], " "), reqs[i]);
		canned[i].reply = strdup(r);
		canned[i].len = strlen(r);
	}
	ncanned = 3;
	close(fd);
}

static const struct canned *
canned_for(const char *line)
{
	const char	*w = line;

	if (strncmp(w, "session ", 8) == 0)
		for (int k = 0; k < 3 && w; k++)
			if ((w = strchr(w, ' ')) != NULL)
				w++;
	for (int i = 0; w && i < ncanned; i++)
		if (strncmp(w, canned[i].cmd, strlen(canned[i].cmd)) == 0)
			return &canned[i];
	return &canned[0];
}

struct rconn {
	int		fd;
	struct buf	in, out;
};

static void
responder_serve(struct rconn *c)
{
	const struct canned	*k;
	char			*line;
	size_t			 len;
	ssize_t			 n;

	for (;;) {
		buf_reserve(&c->in, 16384);
		n = recv(c->fd, c->in.data + c->in.len, 16384, 0);
		if (n <= 0) {
			if (n == -1 && errno == EAGAIN)
				break;
			close(c->fd);
			c->fd = -1;
			return;
		}
		c->in.len += (size_t)n;
		while (buf_getline(&c->in, 1 << 16, &line, &len) == 1) {
			k = canned_for(line);
			buf_append(&c->out, k->reply, k->len);
		}
		if (n < 16384)
			break;
	}
	if (buf_avail(&c->out) > 0) {
		n = send(c->fd, buf_head(&c->out), buf_avail(&c->out),
		    MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&c->out, (size_t)n);
	}
}

static void __attribute__((noreturn))
responder_main(int lfd)
{
	struct epoll_event	ev, evs[256];
	struct rconn		*c;
	int			ep = epoll_create1(0), n, i, fd, on = 1;

	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &on, sizeof(on));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					buf_init(&c->in, 1 << 20);
					buf_init(&c->out, 64 << 20);
					ev.events = EPOLLIN | EPOLLET;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					responder_serve(c);
				}
				continue;
			}
			c = evs[i].data.ptr;
			responder_serve(c);
			if (c->fd == -1) {
				buf_free(&c->in);
				buf_free(&c->out);
				free(c);
			}
		}
	}
}

/* Two responder processes on a free port, like trackerd's two workers. */
static int
responder_start(struct endpoint *ep, pid_t pids[2])
{
	socklen_t	len = sizeof(ep->sin);
	int		lfd;

	endpoint_parse("127.0.0.1:1", ep);
	ep->sin.sin_port = 0;
	if ((lfd = tcp_listen(ep, 4096)) == -1)
		return -1;
	getsockname(lfd, (struct sockaddr *)&ep->sin, &len);
	for (int i = 0; i < 2; i++)
		if ((pids[i] = fork()) == 0)
			responder_main(lfd);
	close(lfd);
	return 0;
}

/* ---- main ---- */

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The run of median throughput among n. */
static struct result
median_result(const struct result *r, int n)
{
	double	v[9];
	int	i;

	for (i = 0; i < n; i++)
		v[i] = r[i].rps;
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	for (i = 0; i < n; i++)
		if (r[i].rps == v[n / 2])
			break;
	return r[i < n ? i : 0];
}

/*
 * o->runs runs against trackerd and, with rep, as many against the
 * responder, taking turns so that both meet the same load from the rest
 * of the machine; the median of each.
 */
static void
measure(struct opts *o, const struct endpoint *rep, struct result *tr,
    struct result *rr)
{
	struct result	t[9] = { { 0, 0, 0, 0, 0 } };
	struct result	r[9] = { { 0, 0, 0, 0, 0 } };
	int		n = o->runs > 9 ? 9 : o->runs;

	for (int i = 0; i < n; i++) {
		if (o->mode == M_WRITE) {
			run_no++;
			setup_join_groups(o, 25000 * (o->seconds + 1) / o->conns + 20);
		}
		t[i] = run_load(o, &o->ep);
		if (rep != NULL)
			r[i] = run_load(o, rep);
	}
	*tr = median_result(t, n);
	if (rep != NULL)
		*rr = median_result(r, n);
}

static const char *
mode_name(enum mode m)
{
	return m == M_READ ? "reads" : m == M_LIST ? "list_files" :
	    m == M_WRITE ? "writes" : "conn-per-request";
}

static int
num(const char *s, int min, int max)
{
	uint64_t	v;

	if (parse_u64(s, (uint64_t)min, (uint64_t)max, &v) == -1) {
		fprintf(stderr, "tracker_load: bad number %s\n", s);
		exit(64);
	}
	return (int)v;
}

/* For run_tracker.sh: a loopback port nobody listens on right now. */
static int
print_free_port(void)
{
	struct endpoint	ep;
	socklen_t	len = sizeof(ep.sin);
	int		fd;

	endpoint_parse("127.0.0.1:1", &ep);
	ep.sin.sin_port = 0;
	if ((fd = tcp_listen(&ep, 1)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ep.sin, &len) == -1)
		return 1;
	printf("%u\n", ntohs(ep.sin.sin_port));
	close(fd);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tracker_load -P | [-R] [-m read|list|write|cpr] "
	    "[-c conns] [-d depth] [-s seconds] [-n runs] [-T threads] "
	    "IP:PORT\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	struct opts	o = { M_READ, 64, 1, 3, 3, 2, 0, { .tls = 0 } };
	struct result	tr, rr = { 0, 0, 0, 0, 0 };
	struct endpoint	rep;
	pid_t		rp[2] = { -1, -1 };
	int		ch;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "PRm:c:d:s:n:T:")) != -1) {
		switch (ch) {
		case 'P': return print_free_port();
		case 'R': o.responder = 1; break;
		case 'm':
			o.mode = strcmp(optarg, "write") == 0 ? M_WRITE :
			    strcmp(optarg, "cpr") == 0 ? M_CPR :
			    strcmp(optarg, "list") == 0 ? M_LIST : M_READ;
			break;
		case 'c': o.conns = num(optarg, 1, MAX_CONNS); break;
		case 'd': o.depth = num(optarg, 1, MAX_DEPTH); break;
		case 's': o.seconds = num(optarg, 1, 600); break;
		case 'n': o.runs = num(optarg, 1, 9); break;
		case 'T': o.threads = num(optarg, 1, 64); break;
		default: usage();
		}
	}
	if (optind + 1 != argc || endpoint_parse(argv[optind], &o.ep) == -1)
		usage();
	if (o.conns < 1 || o.conns > MAX_CONNS || o.depth < 1 ||
	    o.depth > MAX_DEPTH || o.threads < 1 || o.threads > o.conns ||
	    o.seconds < 1 || o.runs < 1)
		usage();
	run_no = (int)(getpid() % 100000) * 10;	/* fresh names each time */
	setup(&o);
	if (o.responder) {
		learn_replies(&o);
		if (responder_start(&rep, rp) == -1) {
			perror("responder");
			return 1;
		}
	}
	measure(&o, o.responder ? &rep : NULL, &tr, &rr);
	printf("%-17s c=%-3d d=%-2d trackerd  %8.0f req/s  p50 %6.3f ms  "
	    "p99 %6.3f ms  errors %.1f%%  CPU busy %.0f%%\n", mode_name(o.mode),
	    o.conns, o.depth, tr.rps, tr.p50_ms, tr.p99_ms, tr.err_ratio * 100,
	    tr.busy * 100);
	if (o.responder) {
		kill(rp[0], SIGTERM);
		kill(rp[1], SIGTERM);
		waitpid(rp[0], NULL, 0);
		waitpid(rp[1], NULL, 0);
		printf("%-17s c=%-3d d=%-2d responder %8.0f req/s  p50 %6.3f ms  "
		    "p99 %6.3f ms                CPU busy %.0f%%\n",
		    mode_name(o.mode), o.conns, o.depth, rr.rps, rr.p50_ms,
		    rr.p99_ms, rr.busy * 100);
		printf("%-17s c=%-3d d=%-2d ratio trackerd/responder %.2f\n",
		    mode_name(o.mode), o.conns, o.depth, tr.rps / rr.rps);
	}
	fflush(stdout);
	return 0;
}
