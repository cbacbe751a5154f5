/* A trackerd worker: one epoll loop accepting on the shared socket and
 * serving many connections, PBKDF2 on a small thread pool, group commit. */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/proto.h"
#include "ipc/tls.h"
#include "ipc/util.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/worker.h"

#define READ_CHUNK	16384
#define OUT_HIGH	(256u * 1024u)	/* stop taking requests above this */
#define OUT_MAX		(128u << 20)	/* one huge list reply still fits */
#define MARKS_MAX	4096		/* replies waiting for durability */
#define EVENTS_MAX	256
#define STOP_GRACE_MS	2000
#define SYNC_RETRY_MS	200		/* after a failed fdatasync */
#define OFFER_US	500		/* offer the CPU at most this often */

enum src_kind { SRC_LISTEN, SRC_SIGNAL, SRC_KDF, SRC_SYNC, SRC_JOURNAL,
	SRC_CONN };

#define CONFLICT_RETRIES	8	/* etcd: validate again at most this */

struct src {
	enum src_kind	kind;
};

/* A reply that may not leave before journal sequence seq is durable;
 * start is its first byte, counted from the start of the connection. */
struct mark {
	uint64_t	start;
	uint64_t	seq;
};

struct conn {
	struct src	 src;
	int		 fd;
	struct client	 cl;
	struct buf	 in, out;
	uint64_t	 out_sent;	/* bytes sent so far */
	struct mark	*marks;		/* ring buffer */
	unsigned	 mhead, mlen, mcap;
	struct kdf_job	*job;		/* login/create_user in the pool */
	SSL		*tls;		/* a TLS client (first byte 0x16) */
	unsigned	 can_read:1, eof:1, close_after:1, dead:1,
			 waiting:1, skipping:1,	/* rest of a too-long line */
			 sniffed:1,	/* the first byte was looked at */
			 tls_ww:1,	/* TLS waits for writability */
			 committing:1,	/* etcd: the last reply waits for it */
			 probing:1,	/* etcd: a read barrier is running */
			 synced:1,	/* etcd: one barrier passed */
			 barrier:1;	/* etcd: may run one request */
	/* etcd: the request whose changes are being committed, to run
	 * again if another change came first, and where its reply starts */
	char		*line;
	size_t		 linelen, linecap;
	uint64_t	 reply_start;
	struct client	 cl_before;	/* its client state before it */
	int		 conflicts;
	uint64_t	 last_active;	/* ms */
	struct conn	*prev, *next;	/* every live connection */
	struct conn	*wprev, *wnext;	/* waiting for durability */
	struct conn	*grave;		/* freed at the end of the round */
};

struct kdf_task {
	struct conn	*c;
	struct kdf_job	*job;
	struct kdf_task	*next;
};

struct worker {
	struct tracker			*t;
	const struct tracker_config	*cfg;
	int				 slot, idle_ms;
	int				 ep, listen_fd, sig_fd, spare_fd;
	size_t				 max_line;	/* upload_file lines */
	struct src			 s_listen, s_sig, s_kdf, s_sync, s_journal;
	struct conn			 all;		/* list sentinel */
	struct conn			*waiting, *grave;
	int				 nconns, stopping;
	uint64_t			 now, stop_deadline, last_scan;
	uint64_t			 offered_us;	/* CPU last offered */

	/* KDF pool: tasks in, results out through kdf_efd */
	pthread_mutex_t			 kmu;
	pthread_cond_t			 kcv;
	struct kdf_task			*kq_head, *kq_tail, *kdone;
	int				 kdf_efd;

	/* group commit: the sync thread calls journal_sync on a kick */
	pthread_mutex_t			 smu;
	pthread_cond_t			 scv;
	int				 s_kick, s_quit, s_busy;
	uint64_t			 s_want, s_target;
	int				 sync_efd;
	pthread_t			 sync_tid;

	/* a read into a connection whose input buffer holds nothing lands
	 * here first: only bytes that arrived take memory */
	char				 scratch[READ_CHUNK];
	size_t				 released;	/* by this scan */

	/* for the log at exit (-v) */
	uint64_t			 st_requests, st_held, st_syncs,
					 st_waits, st_sync_us, st_accepts;
};

static struct worker	W;

/*
 * One fdatasync at a time for the whole tracker, in memory the master
 * shares with every worker: a worker whose lines were covered by
 * another's sync while it waited skips its own (group commit across
 * workers). Robust, since a worker may die in the middle.
 */
struct sync_shared {
	pthread_mutex_t	mu;
};
static struct sync_shared	*SS;

int
worker_shared_init(void)
{
	pthread_mutexattr_t	a;

	SS = mmap(NULL, sizeof(*SS), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (SS == MAP_FAILED)
		return -1;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&SS->mu, &a);
	pthread_mutexattr_destroy(&a);
	return 0;
}

static void
shared_sync(struct worker *w, uint64_t target)
{
	int	failed = 0;

	if (pthread_mutex_lock(&SS->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&SS->mu);
	if (journal_durable_seq(w->t) < target) {
		failed = journal_sync(w->t) < target &&
		    !journal_dropped(w->t, target);
		w->st_syncs++;
	}
	pthread_mutex_unlock(&SS->mu);
	if (failed)
		usleep(SYNC_RETRY_MS * 1000);	/* a failing disk: no spin */
}

static void	conn_service(struct worker *, struct conn *);
static void	conn_close(struct worker *, struct conn *);

static uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Between two rounds of events a worker offers its CPU (sched_yield), at
 * most once per OFFER_US. On a host with more runnable tasks than CPUs
 * (other workers, etcd, clients on the same machine), a busy worker would
 * otherwise keep its CPU until the scheduler's next tick, 4 ms at HZ=250,
 * while the requests on the connections of a worker waiting for a CPU
 * wait with it: most of the reads' p99 was that wait. With nothing else
 * runnable the call returns at once.
 */
static void
offer_cpu(struct worker *w)
{
	uint64_t	now = mono_us();

	if (now - w->offered_us < OFFER_US)
		return;
	sched_yield();
	w->offered_us = mono_us();
}

static void
efd_signal(int fd)
{
	uint64_t	one = 1;

	while (write(fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

static void
efd_drain(int fd)
{
	uint64_t	v;

	while (read(fd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
}

/* ---- the PBKDF2 pool ---- */

static void *
kdf_thread(void *arg)
{
	struct worker	*w = arg;
	struct kdf_task	*k;

	for (;;) {
		pthread_mutex_lock(&w->kmu);
		while (w->kq_head == NULL)
			pthread_cond_wait(&w->kcv, &w->kmu);
		k = w->kq_head;
		if ((w->kq_head = k->next) == NULL)
			w->kq_tail = NULL;
		pthread_mutex_unlock(&w->kmu);

		kdf_job_run(k->job);

		pthread_mutex_lock(&w->kmu);
		k->next = w->kdone;
		w->kdone = k;
		pthread_mutex_unlock(&w->kmu);
		efd_signal(w->kdf_efd);
	}
	return NULL;
}

static int
kdf_submit(struct worker *w, struct conn *c, struct kdf_job *job)
{
	struct kdf_task	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -1;
	k->c = c;
	k->job = job;
	pthread_mutex_lock(&w->kmu);
	if (w->kq_tail)
		w->kq_tail->next = k;
	else
		w->kq_head = k;
	w->kq_tail = k;
	pthread_cond_signal(&w->kcv);
	pthread_mutex_unlock(&w->kmu);
	return 0;
}

/* ---- group commit ---- */

static void *
sync_thread(void *arg)
{
	struct worker	*w = arg;
	uint64_t	 t0, target;

	pthread_mutex_lock(&w->smu);
	for (;;) {
		while (!w->s_kick && !w->s_quit)
			pthread_cond_wait(&w->scv, &w->smu);
		if (w->s_quit)
			break;
		w->s_kick = 0;
		target = w->s_target;
		pthread_mutex_unlock(&w->smu);
		t0 = mono_us();
		shared_sync(w, target);
		w->st_sync_us += mono_us() - t0;
		w->st_waits++;
		efd_signal(w->sync_efd);
		pthread_mutex_lock(&w->smu);
	}
	pthread_mutex_unlock(&w->smu);
	return NULL;
}

static void	release_durable(struct worker *);

/* Start a sync for the replies held back, unless one is running; if
 * another worker's sync already covered them, release them now. */
static void
sync_kick(struct worker *w)
{
	while (!w->s_busy && w->waiting != NULL &&
	    w->s_want <= journal_durable_seq(w->t))
		release_durable(w);
	if (w->s_busy || w->waiting == NULL)
		return;
	w->s_busy = 1;
	pthread_mutex_lock(&w->smu);
	w->s_kick = 1;
	w->s_target = w->s_want;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
}

static void
waiting_add(struct worker *w, struct conn *c)
{
	if (c->waiting)
		return;
	c->waiting = 1;
	c->wprev = NULL;
	c->wnext = w->waiting;
	if (w->waiting)
		w->waiting->wprev = c;
	w->waiting = c;
}

static void
waiting_del(struct worker *w, struct conn *c)
{
	if (!c->waiting)
		return;
	c->waiting = 0;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		w->waiting = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	c->wprev = c->wnext = NULL;
}

static int
marks_push(struct conn *c, uint64_t start, uint64_t seq)
{
	struct mark	*n;
	unsigned	 i, ncap;

	if (c->mlen == c->mcap) {
		ncap = c->mcap ? c->mcap * 2 : 8;
		if ((n = malloc(ncap * sizeof(*n))) == NULL)
			return -1;
		for (i = 0; i < c->mlen; i++)
			n[i] = c->marks[(c->mhead + i) % c->mcap];
		free(c->marks);
		c->marks = n;
		c->mcap = ncap;
		c->mhead = 0;
	}
	c->marks[(c->mhead + c->mlen) % c->mcap] = (struct mark){ start, seq };
	c->mlen++;
	return 0;
}

/*
 * The held reply at c's first mark answers a change that was cut from the
 * journal (fdatasync failed): put a refusal in its place, and move the
 * marks behind it by the difference. -1 if out of memory.
 */
static int
conn_refuse_held(struct conn *c)
{
	static const char	 end[] = PROTO_END "\n";
	struct buf		 tail;
	char			*p, *e;
	size_t			 at, oldlen;
	unsigned		 i;
	int			 delta, rc;

	at = (size_t)(c->marks[c->mhead].start - c->out_sent);
	p = buf_head(&c->out) + at;
	if ((e = memmem(p, buf_avail(&c->out) - at, end, sizeof(end) - 1)) ==
	    NULL)
		return -1;
	oldlen = (size_t)(e - p) + sizeof(end) - 1;
	buf_init(&tail, OUT_MAX);
	if (buf_append(&tail, p + oldlen, buf_avail(&c->out) - at - oldlen) ==
	    -1) {
		buf_free(&tail);
		return -1;
	}
	c->out.len = c->out.off + at;
	rc = buf_printf(&c->out, "ERR internal the change could not be made "
	    "durable (the journal's fdatasync failed) and was not applied\n"
	    PROTO_END "\n");
	if (rc == 0 && tail.len > 0)
		rc = buf_append(&c->out, tail.data, tail.len);
	delta = (int)(buf_avail(&c->out) - at - tail.len) - (int)oldlen;
	for (i = 1; i < c->mlen; i++)
		c->marks[(c->mhead + i) % c->mcap].start += delta;
	buf_free(&tail);
	return rc;
}

/* Let go of the marks whose changes are durable, refusing those whose
 * changes were cut; stop at the first still waiting. */
static void
marks_release(struct worker *w, struct conn *c, uint64_t durable)
{
	uint64_t	seq;
	int		cut;

	while (c->mlen > 0) {
		seq = c->marks[c->mhead].seq;
		cut = journal_dropped(w->t, seq);
		if (!cut && seq > durable)
			break;
		if (cut && conn_refuse_held(c) == -1) {
			/* no refusal to give: send nothing of it, hang up */
			c->out.len = c->out.off +
			    (size_t)(c->marks[c->mhead].start - c->out_sent);
			c->mlen = 0;
			c->close_after = 1;
			return;
		}
		c->mhead = (c->mhead + 1) % c->mcap;
		c->mlen--;
	}
}

/* A reply starting at byte start was appended; hold it back until seq
 * is durable. */
static void
conn_hold(struct worker *w, struct conn *c, uint64_t start, uint64_t seq)
{
	if (seq == 0 || seq <= journal_durable_seq(w->t))
		return;
	w->st_held++;
	if (marks_push(c, start, seq) == -1) {
		/* cannot track it: make it durable in place */
		journal_sync(w->t);
		return;
	}
	waiting_add(w, c);
	if (seq > w->s_want)
		w->s_want = seq;
}

/* Send the replies whose journal lines are durable now. */
static void
release_durable(struct worker *w)
{
	struct conn	*c, *next;
	uint64_t	 durable;

	durable = journal_durable_seq(w->t);
	for (c = w->waiting; c != NULL; c = next) {
		next = c->wnext;
		marks_release(w, c, durable);
		if (c->mlen == 0)
			waiting_del(w, c);
		conn_service(w, c);
	}
}

static void
sync_done(struct worker *w)
{
	efd_drain(w->sync_efd);
	w->s_busy = 0;
	release_durable(w);
	sync_kick(w);
}

/* ---- connections ---- */

static size_t
out_sendable(const struct conn *c)
{
	size_t	avail = buf_avail(&c->out);

	if (c->committing)
		return (size_t)(c->reply_start - c->out_sent);
	if (c->mlen == 0)
		return avail;
	return (size_t)(c->marks[c->mhead].start - c->out_sent);
}

/* Past nwords words of s[*i..n) and the spaces after them. */
static void
skip_words(const char *s, size_t n, size_t *i, int nwords)
{
	while (nwords-- > 0) {
		while (*i < n && s[*i] != ' ')
			(*i)++;
		while (*i < n && s[*i] == ' ')
			(*i)++;
	}
}

/* 1 if s[i..n) starts with word w and a space. */
static int
starts_with(const char *s, size_t n, size_t i, const char *w)
{
	size_t	len = strlen(w);

	return n - i > len && memcmp(s + i, w, len) == 0 && s[i + len] == ' ';
}

/* "[session USER TOKEN] [rid ID] upload_file ...": the only requests
 * allowed past PROTO_MAX_LINE. */
static int
is_upload(const char *s, size_t n)
{
	size_t	i = 0;

	if (starts_with(s, n, i, "session"))
		skip_words(s, n, &i, 3);
	if (starts_with(s, n, i, "rid"))
		skip_words(s, n, &i, 2);
	return starts_with(s, n, i, "upload_file");
}

/* One error for an over-long request; with skip, the line (the part still
 * buffered and the rest as it arrives) is discarded, then the connection
 * goes on with the next request. */
static void
conn_too_long(struct worker *w, struct conn *c, int skip)
{
	buf_printf(&c->out, "ERR too_long request longer than %d bytes\n"
	    PROTO_END "\n", PROTO_MAX_LINE);
	if (skip)
		c->skipping = 1;
	log_debug("connection %d: request too long", c->fd);
}

/* Drop input up to the end of the over-long line; 1 when it ended. */
static int
conn_skip(struct conn *c)
{
	char	*nl;

	nl = memchr(buf_head(&c->in), '\n', buf_avail(&c->in));
	if (nl == NULL) {
		c->in.off = c->in.len = 0;
		return 0;
	}
	c->in.off += (size_t)(nl - buf_head(&c->in)) + 1;
	c->skipping = 0;
	return 1;
}

/* etcd: keep the request (cmd_execute splits it in place) to run it again
 * if its changes lose a race; the file journal needs none of this. */
static void
conn_keep_line(struct worker *w, struct conn *c, const char *line, size_t len)
{
	char	*n;

	if (journal_event_fd(w->t) == -1)
		return;
	if (len + 1 > c->linecap) {
		if ((n = realloc(c->line, len + 1)) == NULL) {
			c->linelen = 0;
			return;
		}
		c->line = n;
		c->linecap = len + 1;
	}
	memcpy(c->line, line, len);
	c->line[len] = '\0';
	c->linelen = len;
}

/* etcd: the request is answered for good: its retries start again from
 * zero with the next one, and its copy (a password) is gone. */
static void
conn_request_done(struct conn *c)
{
	c->conflicts = 0;
	if (c->line != NULL)
		explicit_bzero(c->line, c->linecap);
}

/* etcd: the request's changes go to the committer; its reply (from
 * start) waits for them. */
static void
conn_commit(struct worker *w, struct conn *c, uint64_t start)
{
	if (journal_submit_staged(w->t, c) != 1) {
		conn_request_done(c);
		return;
	}
	c->committing = 1;
	c->reply_start = start;
}

static void
conn_execute(struct worker *w, struct conn *c, char *line, size_t len)
{
	struct kdf_job		*job = NULL;
	uint64_t		 start, seq = 0;
	enum cmd_status		 st;

	start = c->out_sent + buf_avail(&c->out);
	w->st_requests++;
	c->barrier = 0;
	c->cl_before = c->cl;
	conn_keep_line(w, c, line, len);
	st = cmd_execute(w->t, &c->cl, line, len, &c->out, &job, &seq);
	if (st == CMD_NEED_KDF) {
		if (kdf_submit(w, c, job) == -1) {
			kdf_job_free(job);
			buf_printf(&c->out, "ERR internal out of memory\n"
			    PROTO_END "\n");
			return;
		}
		c->job = job;
		return;
	}
	conn_hold(w, c, start, seq);
	conn_commit(w, c, start);
}

static int
conn_blocked(const struct conn *c)
{
	return c->job != NULL || c->committing || c->probing ||
	    c->close_after || c->dead ||
	    buf_avail(&c->out) >= OUT_HIGH || c->mlen >= MARKS_MAX;
}

/*
 * etcd: a connection's first request (a client that may come from another
 * tracker), and every request with -o reads=linearizable, waits until
 * this tracker has applied every change etcd holds: a client never reads
 * older than what it saw. 1 if the request must wait for the probe.
 */
static int
conn_needs_barrier(struct worker *w, struct conn *c)
{
	if (journal_event_fd(w->t) == -1 || c->barrier ||
	    (c->synced && w->cfg->reads != READS_LINEARIZABLE) ||
	    memchr(buf_head(&c->in), '\n', buf_avail(&c->in)) == NULL)
		return 0;
	if (journal_probe(w->t, c) == -1)
		return 0;
	c->probing = 1;
	return 1;
}

/* Answer every complete request already buffered, in order. */
static void
conn_process(struct worker *w, struct conn *c)
{
	char	*line;
	size_t	 len;
	int	 r;

	while (!conn_blocked(c) && buf_avail(&c->in) > 0) {
		if (c->skipping && !conn_skip(c))
			return;
		if (conn_needs_barrier(w, c))
			return;
		r = buf_getline(&c->in, w->max_line, &line, &len);
		if (r == 0) {
			if (buf_avail(&c->in) > PROTO_MAX_LINE &&
			    !is_upload(buf_head(&c->in), buf_avail(&c->in)))
				conn_too_long(w, c, 1);
			return;
		}
		if (r == -1) {
			conn_too_long(w, c, 1);
			continue;
		}
		if (len > PROTO_MAX_LINE && !is_upload(line, len))
			conn_too_long(w, c, 0);
		else if (len > 0)
			conn_execute(w, c, line, len);
	}
}

/* The first byte tells a TLS ClientHello from a request line (the seed
 * client speaks plain text on the same port): 1 known, 0 not yet, -1
 * out of memory. */
static int
conn_sniff(struct worker *w, struct conn *c)
{
	uint8_t	b;
	ssize_t	n;

	do
		n = recv(c->fd, &b, 1, MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	c->sniffed = 1;
	if (n == 1 && b == TLS_RECORD_BYTE && w->cfg->tls != NULL &&
	    (c->tls = tls_accept_new(w->cfg->tls, c->fd)) == NULL)
		return -1;
	return 1;
}

/* recv, or SSL_read: bytes, 0 at end of input, -1 (errno EAGAIN: not
 * now). */
static ssize_t
conn_recv(struct conn *c, void *p, size_t n)
{
	ssize_t	r;
	int	ww;

	if (c->tls == NULL) {
		do
			r = recv(c->fd, p, n, 0);
		while (r == -1 && errno == EINTR);
		return r;
	}
	r = tls_read(c->tls, p, n, &ww);
	c->tls_ww = ww;
	return r;
}

/*
 * Where the next recv goes, and how much: straight into the input buffer
 * when it holds part of a line, else into the worker's scratch (a request
 * then takes what it needs, and a connection with nothing to say takes
 * nothing: 10,000 idle ones would otherwise hold 16 KiB each from their
 * first read until they are quiet). NULL when the line is too long.
 */
static char *
read_target(struct worker *w, struct conn *c, size_t *want)
{
	*want = READ_CHUNK;
	if (buf_avail(&c->in) > PROTO_MAX_LINE)
		*want = 65536;
	buf_compact(&c->in);
	if (*want > c->in.max - c->in.len)
		*want = c->in.max - c->in.len;
	if (*want == 0)
		return NULL;
	if (buf_avail(&c->in) == 0) {
		if (*want > sizeof(w->scratch))
			*want = sizeof(w->scratch);
		return w->scratch;
	}
	if (buf_reserve(&c->in, *want) == -1)
		return NULL;
	return c->in.data + c->in.len;
}

/* One recv into the input buffer: >0 bytes read, 0 nothing more for
 * now, -1 the connection was closed. */
static int
conn_read(struct worker *w, struct conn *c)
{
	size_t	want;
	char	*to;
	ssize_t	n;

	if ((to = read_target(w, c, &want)) == NULL) {
		conn_too_long(w, c, 1);
		return 0;
	}
	if (!c->sniffed && (n = conn_sniff(w, c)) <= 0) {
		if (n == 0) {
			c->can_read = 0;
			return 0;
		}
		conn_close(w, c);
		return -1;
	}
	n = conn_recv(c, to, want);
	if (n > 0 && to == w->scratch &&
	    buf_append(&c->in, w->scratch, (size_t)n) == -1) {
		conn_close(w, c);	/* out of memory */
		return -1;
	}
	if (n > 0) {
		if (to != w->scratch)
			c->in.len += (size_t)n;
		c->last_active = w->now;
		/* drained: epoll says when more (TLS may hold a record) */
		if ((size_t)n < want && c->tls == NULL)
			c->can_read = 0;
		return (int)n;
	}
	c->can_read = 0;
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	conn_close(w, c);
	return -1;
}

static ssize_t
conn_send(struct conn *c, const void *p, size_t n)
{
	ssize_t	r;
	int	ww;

	if (c->tls == NULL)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	r = tls_write(c->tls, p, n, &ww);
	c->tls_ww = ww;
	return r;
}

static void
conn_flush(struct worker *w, struct conn *c)
{
	size_t	n = out_sendable(c);
	ssize_t	r;

	while (n > 0) {
		r = conn_send(c, buf_head(&c->out), n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			conn_close(w, c);
			return;
		}
		buf_consume(&c->out, (size_t)r);
		c->out_sent += (uint64_t)r;
		c->last_active = w->now;
		n -= (size_t)r;
	}
	if (buf_avail(&c->out) == 0 && c->out.cap > 4 * OUT_HIGH)
		buf_free(&c->out);	/* give back a huge reply's memory */
}

static int
conn_wants_input(const struct worker *w, const struct conn *c)
{
	return c->can_read && !c->eof && !w->stopping && !conn_blocked(c);
}

static void
conn_service(struct worker *w, struct conn *c)
{
	size_t	before;

	for (;;) {
		conn_process(w, c);
		if (c->dead)
			return;
		if (conn_wants_input(w, c)) {
			if (conn_read(w, c) > 0)
				continue;
			if (c->dead)
				return;
			if (!c->eof)
				continue;	/* can_read is now 0 */
		}
		before = buf_avail(&c->out);
		conn_flush(w, c);
		if (c->dead)
			return;
		/* throttled replies left: go on if the client took some */
		if (before >= OUT_HIGH && buf_avail(&c->out) < before &&
		    c->job == NULL)
			continue;
		break;
	}
	if ((c->eof || c->close_after || w->stopping) && c->job == NULL &&
	    buf_avail(&c->out) == 0 && (c->close_after || w->stopping ||
	    buf_avail(&c->in) == 0 ||
	    memchr(buf_head(&c->in), '\n', buf_avail(&c->in)) == NULL))
		conn_close(w, c);
}

static void
conn_close(struct worker *w, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	tls_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	waiting_del(w, c);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	w->nconns--;
	if (c->job == NULL && !c->committing && !c->probing) {
		c->grave = w->grave;
		w->grave = c;
	}
	/* else the KDF or journal completion buries it */
}

static void
conn_free(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->marks);
	if (c->line != NULL)
		explicit_bzero(c->line, c->linecap);
	free(c->line);
	free(c);
}

static void
bury(struct worker *w)
{
	struct conn	*c;

	while ((c = w->grave) != NULL) {
		w->grave = c->grave;
		w->released += sizeof(*c) + c->in.cap + c->out.cap;
		conn_free(c);
	}
}

static void
kdf_done(struct worker *w)
{
	struct kdf_task	*k, *list, *rev = NULL;
	struct conn	*c;
	uint64_t	 start, seq;

	efd_drain(w->kdf_efd);
	pthread_mutex_lock(&w->kmu);
	list = w->kdone;
	w->kdone = NULL;
	pthread_mutex_unlock(&w->kmu);
	while (list) {		/* oldest first */
		k = list;
		list = k->next;
		k->next = rev;
		rev = k;
	}
	while ((k = rev) != NULL) {
		rev = k->next;
		c = k->c;
		c->job = NULL;
		if (c->dead) {
			kdf_job_free(k->job);
			c->grave = w->grave;
			w->grave = c;
		} else {
			seq = 0;
			start = c->out_sent + buf_avail(&c->out);
			cmd_finish(w->t, &c->cl, k->job, &c->out, &seq);
			conn_hold(w, c, start, seq);
			conn_commit(w, c, start);
			conn_service(w, c);
		}
		free(k);
	}
}

/* etcd: drop the reply that was waiting for a commit. */
static void
conn_unreply(struct conn *c)
{
	c->out.len = c->out.off + (size_t)(c->reply_start - c->out_sent);
	c->committing = 0;
	c->cl = c->cl_before;	/* a login or logout that did not happen */
}

/* etcd: another change came first; the state now holds it, so the
 * request runs again and answers as it would have (OK or the refusal). */
static void
conn_conflict(struct worker *w, struct conn *c)
{
	char	*copy;

	conn_unreply(c);
	if (++c->conflicts > CONFLICT_RETRIES || c->linelen == 0 ||
	    (copy = strndup(c->line, c->linelen)) == NULL) {
		conn_request_done(c);
		buf_printf(&c->out, "ERR unavailable too many concurrent "
		    "changes, try again\n" PROTO_END "\n");
		return;
	}
	conn_execute(w, c, copy, c->linelen);
	explicit_bzero(copy, strlen(copy));
	free(copy);
}

static void
journal_result(struct worker *w, struct conn *c, enum jresult res)
{
	if (c->probing) {
		c->probing = 0;
		c->synced = c->barrier = 1;
	} else if (res == JR_DONE) {
		c->committing = 0;
		conn_request_done(c);
	} else if (res == JR_CONFLICT)
		conn_conflict(w, c);
	else {
		conn_unreply(c);
		conn_request_done(c);
		buf_printf(&c->out, "ERR unavailable the tracker's etcd cluster "
		    "did not commit the change; try again\n" PROTO_END "\n");
	}
}

static void
journal_results(struct worker *w)
{
	struct conn	*c;
	void		*cookie;
	enum jresult	 res;

	while (journal_done(w->t, &cookie, &res)) {
		c = cookie;
		if (c->dead) {
			c->probing = c->committing = 0;
			if (c->job == NULL) {
				c->grave = w->grave;
				w->grave = c;
			}
			continue;
		}
		journal_result(w, c, res);
		conn_service(w, c);
	}
}

static void
accept_one(struct worker *w, int fd, const struct sockaddr *sa)
{
	struct epoll_event	 ev;
	struct conn		*c;
	int			 on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	w->st_accepts++;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->src.kind = SRC_CONN;
	c->fd = fd;
	ipaddr_from_sa(sa, &c->cl.peer);
	buf_init(&c->in, w->max_line + 2);
	buf_init(&c->out, OUT_MAX);
	c->can_read = 1;
	c->last_active = w->now;
	c->next = w->all.next;
	c->prev = &w->all;
	w->all.next->prev = c;
	w->all.next = c;
	w->nconns++;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl add");
		conn_close(w, c);
		return;
	}
	conn_service(w, c);
}

/* Out of descriptors: accept with the spare one and drop the client,
 * rather than spin on a listening socket that stays readable. */
static void
accept_emfile(struct worker *w)
{
	static uint64_t	last_warn;
	int		fd;

	if (w->now - last_warn > 1000) {
		log_warnx("out of file descriptors (%d connections), "
		    "refusing clients", w->nconns);
		last_warn = w->now;
	}
	if (w->spare_fd >= 0) {
		close(w->spare_fd);
		if ((fd = accept(w->listen_fd, NULL, NULL)) >= 0)
			close(fd);
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
}

static void
accept_all(struct worker *w)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, i;

	for (i = 0; i < 256 && !w->stopping; i++) {
		len = sizeof(ss);
		fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(w, fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE)
			accept_emfile(w);
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept");
		return;
	}
}

static void
stop_accepting(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	w->stop_deadline = w->now + STOP_GRACE_MS;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, w->listen_fd, NULL);
	close(w->listen_fd);
	log_debug("stopping: %d connections left", w->nconns);
}

static void
on_signal_fd(struct worker *w)
{
	struct signalfd_siginfo	si;
	struct conn		*c, *next;

	while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_reopen();
			continue;
		}
		stop_accepting(w);
		for (c = w->all.next; c != &w->all; c = next) {
			next = c->next;
			conn_service(w, c);
		}
	}
}

/* A connection quiet for this long with nothing buffered gives its
 * buffers back: 10,000 idle clients would otherwise pin 16 KiB each. */
#define QUIET_MS	2000
/* Freed memory in the middle of the heap stays resident until trimmed.
 * malloc_trim stalls the loop (5 to 60 ms over a heap of 5,000
 * connections, more on a loaded host), so only a large release, such as
 * thousands of busy clients gone at once, is worth it. */
#define TRIM_BYTES	(16u << 20)

static void
conn_release_buffers(struct worker *w, struct conn *c)
{
	if (c->in.cap > 0 && buf_avail(&c->in) == 0) {
		w->released += c->in.cap;
		buf_free(&c->in);
	}
	if (c->out.cap > 0 && buf_avail(&c->out) == 0) {
		w->released += c->out.cap;
		buf_free(&c->out);
	}
}

/* Connections freed and buffers given back since the last trim add up to
 * TRIM_BYTES: hand the free pages back to the kernel (at most once a
 * scan). */
static void
trim_heap(struct worker *w)
{
	if (w->released < TRIM_BYTES)
		return;
	w->released = 0;
	malloc_trim(0);
}

/* Close connections idle for longer than the timeout, and free the
 * buffers of quiet ones (once a second). */
static void
scan_idle(struct worker *w)
{
	struct conn	*c, *next;

	if (w->now - w->last_scan < 1000 && !w->stopping)
		return;
	w->last_scan = w->now;
	trim_heap(w);
	for (c = w->all.next; c != &w->all; c = next) {
		next = c->next;
		if (c->job != NULL)
			continue;
		if (w->now - c->last_active > (uint64_t)w->idle_ms ||
		    w->stopping) {
			if (w->stopping ? buf_avail(&c->out) == 0 : 1)
				conn_close(w, c);
		} else if (w->now - c->last_active > QUIET_MS &&
		    !c->committing && !c->probing && c->tls == NULL)
			conn_release_buffers(w, c);
	}
}

static void
dispatch(struct worker *w, struct epoll_event *ev)
{
	struct src	*s = ev->data.ptr;
	struct conn	*c;

	switch (s->kind) {
	case SRC_LISTEN:
		accept_all(w);
		break;
	case SRC_SIGNAL:
		on_signal_fd(w);
		break;
	case SRC_KDF:
		kdf_done(w);
		break;
	case SRC_SYNC:
		sync_done(w);
		break;
	case SRC_JOURNAL:
		journal_results(w);
		break;
	case SRC_CONN:
		c = (struct conn *)s;
		if (c->dead)
			break;
		if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) ||
		    ((ev->events & EPOLLOUT) && c->tls_ww))
			c->can_read = 1;
		conn_service(w, c);
		break;
	}
}

static void
watch(struct worker *w, int fd, struct src *s, enum src_kind kind,
    uint32_t events)
{
	struct epoll_event	ev;

	s->kind = kind;
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("epoll_ctl add");
}

static void
start_threads(struct worker *w)
{
	pthread_t	tid;
	int		i;

	pthread_mutex_init(&w->kmu, NULL);
	pthread_cond_init(&w->kcv, NULL);
	pthread_mutex_init(&w->smu, NULL);
	pthread_cond_init(&w->scv, NULL);
	for (i = 0; i < WORKER_KDF_THREADS; i++) {
		if (pthread_create(&tid, NULL, kdf_thread, w) != 0)
			fatalx("pthread_create kdf");
		pthread_detach(tid);
	}
	if (pthread_create(&w->sync_tid, NULL, sync_thread, w) != 0)
		fatalx("pthread_create sync");
}

static void
worker_setup(struct worker *w, const struct tracker_config *cfg,
    int listen_fd, int slot, int idle_seconds)
{
	char		role[32], err[512] = "";
	sigset_t	set;

	w->cfg = cfg;
	w->slot = slot;
	w->idle_ms = idle_seconds * 1000;
	w->listen_fd = listen_fd;
	w->all.next = w->all.prev = &w->all;
	w->now = w->last_scan = mono_ms();
	w->max_line = (size_t)(pieces_count(cfg->max_file_size) + 1) * 41 + 512;
	if (w->max_line < PROTO_MAX_LINE)
		w->max_line = PROTO_MAX_LINE;
	snprintf(role, sizeof(role), "worker %d", slot);
	log_setrole(role);
	setproctitle("worker %d", slot);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);	/* threads inherit it */
	if ((w->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if ((w->t = tracker_attach(cfg, err, sizeof(err))) == NULL)
		fatalx("attach to shared state: %s", err);
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	w->kdf_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->sync_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->kdf_efd == -1 || w->sync_efd == -1)
		fatal("eventfd");
	w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	watch(w, listen_fd, &w->s_listen, SRC_LISTEN, EPOLLIN);
	watch(w, w->sig_fd, &w->s_sig, SRC_SIGNAL, EPOLLIN);
	watch(w, w->kdf_efd, &w->s_kdf, SRC_KDF, EPOLLIN);
	watch(w, w->sync_efd, &w->s_sync, SRC_SYNC, EPOLLIN);
	if (journal_event_fd(w->t) != -1)
		watch(w, journal_event_fd(w->t), &w->s_journal, SRC_JOURNAL,
		    EPOLLIN);
	start_threads(w);
}

static void __attribute__((noreturn))
worker_exit(struct worker *w)
{
	struct conn	*c, *next;

	for (c = w->all.next; c != &w->all; c = next) {
		next = c->next;
		conn_close(w, c);
	}
	bury(w);
	pthread_mutex_lock(&w->smu);
	w->s_quit = 1;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
	pthread_join(w->sync_tid, NULL);
	tracker_detach(w->t);
	log_debug("exiting: %llu connections, %llu requests, %llu replies "
	    "waited %llu times for durability (%.3f ms each), %llu syncs",
	    (unsigned long long)w->st_accepts,
	    (unsigned long long)w->st_requests,
	    (unsigned long long)w->st_held, (unsigned long long)w->st_waits,
	    w->st_waits ? w->st_sync_us / 1000.0 / w->st_waits : 0.0,
	    (unsigned long long)w->st_syncs);
	_exit(0);
}

void
worker_main(const struct tracker_config *cfg, int listen_fd, int slot,
    int idle_seconds)
{
	struct worker		*w = &W;
	struct epoll_event	 evs[EVENTS_MAX];
	pid_t			 master = getppid();
	int			 n, i;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	worker_setup(w, cfg, listen_fd, slot, idle_seconds);
	for (;;) {
		n = epoll_wait(w->ep, evs, EVENTS_MAX, w->stopping ? 50 : 1000);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		w->now = mono_ms();
		for (i = 0; i < n; i++)
			dispatch(w, &evs[i]);
		sync_kick(w);
		scan_idle(w);
		bury(w);
		if (n > 0)
			offer_cpu(w);
		if (getppid() != master)	/* gone, its SIGTERM lost */
			stop_accepting(w);
		if (w->stopping && (w->nconns == 0 || w->now >= w->stop_deadline))
			worker_exit(w);
	}
}
