/* Background downloads: tracker lookup, parallel seeder connections,
 * rarest-first pipelined requests, per-piece SHA-1, .part file, resume
 * state, whole-file check, rename into place and becoming a seeder. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/bitfield.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"
#include "peerd/resume.h"
#include "peerd/sched.h"
#include "peerd/wire.h"

#define DL_MAX_KNOWN	64		/* seeders remembered per download */
#define DL_MAX_PEERS	8		/* connections per download */
#define DL_DEPTH	12		/* requests in flight per connection */
#define DL_GP_CONNS	2		/* GET_PIECE connections per seed client */
#define DL_CONNECT_MS	5000
#define DL_STALL_MS	8000		/* no byte while requests are out */
#define DL_TICK_MS	500
#define DL_REFRESH_MS	10000
#define DL_SAVE_MS	200
#define DL_NO_SEEDER_MS	20000
#define DL_MAX_BAD	3		/* bad pieces before a seeder is dropped */
#define DL_RETRY_MS	3000
#define DL_OUT_MAX	4096
#define DL_POOL		(DL_MAX_PEERS + 8)	/* piece buffers per download */

struct dl;

struct known {
	struct endpoint	 ep;
	int		 fallback;	/* speaks only GET_PIECE */
	int		 banned;	/* sent bad data repeatedly */
	int		 bad;
	int		 nconn;
	uint64_t	 retry_at;
};

enum pstate {
	P_CONNECTING, P_MAGIC, P_HDR, P_PAYLOAD, P_PIECE, P_WAITBUF, P_GP
};

/* A received piece on its way through the hashing thread. */
struct pbuf {
	struct dl	*dl;
	struct known	*k;		/* who sent it */
	uint32_t	 idx, len;
	int		 ok;		/* its SHA-1 matched */
	uint8_t		*data;		/* PIECE_SIZE bytes */
	struct pbuf	*next;
};

struct preq {
	uint32_t	 idx;
	int		 cancelled;
};

struct peer {
	struct dl	*dl;
	struct known	*k;
	int		 fd;
	enum pstate	 st;
	uint64_t	 since, last;
	uint8_t		*has, *req;
	int		 counted;	/* has is in the scheduler's counts */
	uint8_t		 out[DL_OUT_MAX];
	size_t		 outlen;
	uint8_t		 hdr[WIRE_MAGIC_LEN + WIRE_HDR_LEN];
	size_t		 hgot;
	uint8_t		*pay;
	size_t		 paygot;
	struct wire_msg	 msg;
	uint8_t		*piece;		/* GET_PIECE fallback only */
	struct pbuf	*cur;		/* piece being received */
	int		 cur_live;	/* its request was not cancelled */
	uint32_t	 pidx, plen, pgot;
	struct preq	 q[DL_DEPTH];
	unsigned	 qn;
	struct peer	*next;
};

struct waiter {
	dl_done_cb	*cb;
	void		*arg;
	struct waiter	*next;
};

/* The whole-file SHA-1, computed by a helper thread that follows the
 * verified prefix of the .part file while the pieces are still cached. */
struct whole {
	pthread_t	 thr;
	int		 started;
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	uint32_t	 ready;		/* pieces verified from the front */
	SHA_CTX		 ctx;		/* fed pieces 0..next-1 */
	uint32_t	 next;
	int		 busy;		/* someone is feeding piece next */
	uint32_t	 hot;		/* pieces fed straight from the hasher */
	int		 stop;
	int		 result;	/* 1 match, 0 mismatch, -1 I/O error */
};

struct dl {
	struct dl_info	 info;
	struct resume_meta meta;
	char		 part[PATH_MAX];
	char		 state_meta[PATH_MAX], state_have[PATH_MAX];
	int		 fd;
	struct sched	 s;
	struct known	 known[DL_MAX_KNOWN];
	int		 nknown;
	struct peer	*peers;
	int		 npeers;
	struct waiter	*waiters;
	struct whole	 w;
	/* Pieces are hashed off the loop by one thread per download. */
	struct pbuf	*pool;		/* idle buffers */
	int		 npool;		/* buffers allocated */
	pthread_t	 ph_thr;
	int		 ph_started, ph_stop;
	pthread_mutex_t	 ph_mtx;
	pthread_cond_t	 ph_cond;
	struct pbuf	*ph_head, *ph_tail;
	int		 finishing;
	int		 announced, announcing;
	int		 dirty;
	int		 refreshing;
	int		 tracker_ok;	/* last refresh got an answer */
	uint64_t	 last_refresh, last_save, last_live;
	uint64_t	 rate_at, rate_bytes;
	uint64_t	 started_ms;	/* this run, for the log */
	uint64_t	 started_bytes;	/* bytes_done when this run began */
	uint64_t	 tick;
	int		 refs;		/* tracker callbacks outstanding */
	int		 zombie;	/* unlinked; freed when refs drops to 0 */
	struct dl	*next;
};

struct start_req {
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 dest[PATH_MAX];
	dl_start_cb	*cb;
	void		*arg;
};

static struct dl	*dls;
static uint64_t		 rng_seed = 0x243f6a8885a308d3ull;

static void	peer_event(int, uint32_t, void *);
static void	peer_drop(struct peer *, const char *);
static void	dl_tick(void *);
static void	dl_fail(struct dl *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	fill_requests(struct peer *);
static void	dl_refresh(struct dl *);
static void	connect_more(struct dl *);
static void	dl_free(struct dl *);
static int	piece_verified(struct dl *, uint32_t, const uint8_t *, uint32_t);
static void	piece_bad(struct dl *, struct known *, uint32_t);
static int	dl_unref(struct dl *);

/* ---- small helpers ---- */

static struct dl *
dl_find(const char *group, const char *name)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		if (strcmp(d->info.group, group) == 0 &&
		    strcmp(d->info.name, name) == 0)
			return d;
	return NULL;
}

static struct dl *
dl_by_hash(const uint8_t sha1[SHA1_LEN])
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		if (d->info.state == DL_RUNNING && d->fd != -1 &&
		    memcmp(d->meta.sha1, sha1, SHA1_LEN) == 0)
			return d;
	return NULL;
}

/* A running download writing to dest (two groups may share a file name). */
static struct dl *
dl_by_dest(const char *dest)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		if (d->info.state == DL_RUNNING &&
		    strcmp(d->info.dest, dest) == 0)
			return d;
	return NULL;
}

static int
is_self(const struct endpoint *ep)
{
	return ep->sin.sin_addr.s_addr == conf.self.sin.sin_addr.s_addr &&
	    ep->sin.sin_port == conf.self.sin.sin_port;
}

static void
known_add(struct dl *d, const struct endpoint *ep)
{
	int	i;

	if (is_self(ep))
		return;
	for (i = 0; i < d->nknown; i++)
		if (memcmp(&d->known[i].ep.sin, &ep->sin, sizeof(ep->sin)) == 0)
			return;
	if (d->nknown == DL_MAX_KNOWN)
		return;
	memset(&d->known[d->nknown], 0, sizeof(d->known[0]));
	d->known[d->nknown++].ep = *ep;
}

static int
state_paths(struct dl *d)
{
	int	n1, n2;

	n1 = snprintf(d->state_meta, sizeof(d->state_meta),
	    "%s/downloads/%s@%s.meta", conf.state_dir, d->info.group,
	    d->info.name);
	n2 = snprintf(d->state_have, sizeof(d->state_have),
	    "%s/downloads/%s@%s.have", conf.state_dir, d->info.group,
	    d->info.name);
	if (n1 < 0 || (size_t)n1 >= sizeof(d->state_meta) || n2 < 0 ||
	    (size_t)n2 >= sizeof(d->state_have))
		return -1;
	n1 = snprintf(d->part, sizeof(d->part), "%s.part", d->info.dest);
	return n1 < 0 || (size_t)n1 >= sizeof(d->part) ? -1 : 0;
}

/* ---- the whole-file hash thread ---- */

/*
 * Feed piece i to the whole-file digest if it is the next one and nobody
 * else is at it. Called by the piece hashing thread with a piece still in
 * its buffer (no re-read), and by the whole-file thread, which reads the
 * pieces that arrived out of order back from the .part file. 1 if fed.
 */
static int
whole_feed(struct dl *d, uint32_t i, const uint8_t *data, uint32_t len)
{
	pthread_mutex_lock(&d->w.mtx);
	if (d->w.busy || d->w.next != i) {
		pthread_mutex_unlock(&d->w.mtx);
		return 0;
	}
	d->w.busy = 1;
	pthread_mutex_unlock(&d->w.mtx);
	SHA1_Update(&d->w.ctx, data, len);
	pthread_mutex_lock(&d->w.mtx);
	d->w.next++;
	d->w.busy = 0;
	pthread_cond_broadcast(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
	return 1;
}

/* Wait until piece next is written but not yet fed (returns its index),
 * or everything is fed (n), or we are stopped (-1). */
static int64_t
whole_wait(struct dl *d, uint32_t n)
{
	int64_t	i;

	pthread_mutex_lock(&d->w.mtx);
	while (!d->w.stop && d->w.next < n &&
	    (d->w.busy || d->w.next >= d->w.ready))
		pthread_cond_wait(&d->w.cond, &d->w.mtx);
	i = d->w.stop ? -1 : (int64_t)d->w.next;
	pthread_mutex_unlock(&d->w.mtx);
	return i;
}

static void *
whole_main(void *v)
{
	struct dl	*d = v;
	uint8_t		*buf, out[SHA1_LEN];
	uint32_t	 n = d->meta.npieces, len;
	int64_t		 i;
	ssize_t		 r;
	int		 result = -1;

	if ((buf = malloc(PIECE_SIZE)) == NULL)
		goto done;
	while ((i = whole_wait(d, n)) >= 0 && i < n) {
		len = piece_len(d->meta.size, (uint64_t)i);
		r = pread(d->fd, buf, len, (off_t)((uint64_t)i * PIECE_SIZE));
		if (r == -1 && errno == EINTR)
			continue;
		if (r != (ssize_t)len)
			goto done;
		whole_feed(d, (uint32_t)i, buf, len);
	}
	if (i < 0)
		goto done;
	SHA1_Final(out, &d->w.ctx);
	result = CRYPTO_memcmp(out, d->meta.sha1, SHA1_LEN) == 0;
done:
	free(buf);
	pthread_mutex_lock(&d->w.mtx);
	d->w.result = result;
	pthread_mutex_unlock(&d->w.mtx);
	return NULL;
}

static int
whole_start(struct dl *d)
{
	pthread_mutex_init(&d->w.mtx, NULL);
	pthread_cond_init(&d->w.cond, NULL);
	d->w.ready = d->s.front;
	d->w.next = 0;
	d->w.busy = 0;
	d->w.stop = 0;
	d->w.hot = 0;
	SHA1_Init(&d->w.ctx);
	d->w.result = -2;
	if (pthread_create(&d->w.thr, NULL, whole_main, d) != 0)
		return -1;
	d->w.started = 1;
	return 0;
}

static void
whole_advance(struct dl *d)
{
	pthread_mutex_lock(&d->w.mtx);
	d->w.ready = d->s.front;
	pthread_cond_signal(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
}

/* Stop (or, when all pieces are ready, finish) the thread; its result. */
static int
whole_join(struct dl *d, int stop)
{
	if (!d->w.started)
		return -1;
	pthread_mutex_lock(&d->w.mtx);
	if (stop)
		d->w.stop = 1;
	pthread_cond_signal(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
	pthread_join(d->w.thr, NULL);
	d->w.started = 0;
	pthread_mutex_destroy(&d->w.mtx);
	pthread_cond_destroy(&d->w.cond);
	return d->w.result;
}

/* ---- piece buffers and the piece hashing thread ---- */

/* The one check of a piece against the tracker's SHA-1 (hash thread,
 * GET_PIECE answers, pieces recovered from a .part file). */
static int
piece_hash_ok(const struct dl *d, uint32_t idx, const uint8_t *data,
    uint32_t len)
{
	uint8_t	md[SHA1_LEN];

	SHA1(data, len, md);
	return CRYPTO_memcmp(md, d->meta.piece_sha1[idx], SHA1_LEN) == 0;
}

static struct pbuf *
pool_get(struct dl *d)
{
	struct pbuf	*b;

	if ((b = d->pool) != NULL) {
		d->pool = b->next;
		return b;
	}
	if (d->npool >= DL_POOL || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->data = malloc(PIECE_SIZE)) == NULL) {
		free(b);
		return NULL;
	}
	b->dl = d;
	d->npool++;
	return b;
}

static void
pbuf_free(struct pbuf *b)
{
	free(b->data);
	free(b);
}

/* Return a buffer and hand it to a peer that waits for one. */
static void
pool_put(struct dl *d, struct pbuf *b)
{
	struct peer	*p;

	b->next = d->pool;
	d->pool = b;
	for (p = d->peers; p != NULL; p = p->next) {
		if (p->st != P_WAITBUF)
			continue;
		if ((p->cur = pool_get(d)) == NULL)
			return;
		p->st = P_PIECE;
		p->last = ev_now_ms();
		ev_mod(p->fd, EPOLLIN | (p->outlen > 0 ? EPOLLOUT : 0));
	}
}

/* On the loop thread: a piece came back from the hashing thread. */
static void
hashed_cb(void *arg)
{
	struct pbuf	*b = arg;
	struct dl	*d = b->dl;

	if (d->info.state != DL_RUNNING || d->fd == -1) {
		pbuf_free(b);
		dl_unref(d);
		return;
	}
	sched_released(&d->s, b->idx);
	if (b->ok)
		piece_verified(d, b->idx, b->data, b->len);
	else
		piece_bad(d, b->k, b->idx);
	if (d->info.state == DL_RUNNING && d->fd != -1)
		pool_put(d, b);
	else
		pbuf_free(b);
	dl_unref(d);
}

static void *
ph_main(void *v)
{
	struct dl	*d = v;
	struct pbuf	*b;

	for (;;) {
		pthread_mutex_lock(&d->ph_mtx);
		while (d->ph_head == NULL && !d->ph_stop)
			pthread_cond_wait(&d->ph_cond, &d->ph_mtx);
		if (d->ph_stop) {
			pthread_mutex_unlock(&d->ph_mtx);
			return NULL;
		}
		b = d->ph_head;
		if ((d->ph_head = b->next) == NULL)
			d->ph_tail = NULL;
		pthread_mutex_unlock(&d->ph_mtx);
		b->ok = piece_hash_ok(d, b->idx, b->data, b->len);
		/* In order? Then the whole-file digest takes it while hot. */
		if (b->ok && whole_feed(d, b->idx, b->data, b->len))
			d->w.hot++;	/* only this thread writes it */
		if (ev_post(hashed_cb, b) == -1)
			log_warnx("download %s: lost piece %u", d->info.name,
			    b->idx);
	}
}

static int
ph_start(struct dl *d)
{
	pthread_mutex_init(&d->ph_mtx, NULL);
	pthread_cond_init(&d->ph_cond, NULL);
	if (pthread_create(&d->ph_thr, NULL, ph_main, d) != 0)
		return -1;
	d->ph_started = 1;
	return 0;
}

static void
ph_queue(struct dl *d, struct pbuf *b)
{
	d->refs++;		/* hashed_cb will run for it */
	b->next = NULL;
	pthread_mutex_lock(&d->ph_mtx);
	if (d->ph_tail != NULL)
		d->ph_tail->next = b;
	else
		d->ph_head = b;
	d->ph_tail = b;
	pthread_cond_signal(&d->ph_cond);
	pthread_mutex_unlock(&d->ph_mtx);
}

/* Stop the thread; free queued and idle buffers. */
static void
ph_stop(struct dl *d)
{
	struct pbuf	*b;

	if (d->ph_started) {
		pthread_mutex_lock(&d->ph_mtx);
		d->ph_stop = 1;
		pthread_cond_signal(&d->ph_cond);
		pthread_mutex_unlock(&d->ph_mtx);
		pthread_join(d->ph_thr, NULL);
		d->ph_started = 0;
		while ((b = d->ph_head) != NULL) {
			d->ph_head = b->next;
			pbuf_free(b);
			d->refs--;
		}
		d->ph_tail = NULL;
		pthread_mutex_destroy(&d->ph_mtx);
		pthread_cond_destroy(&d->ph_cond);
	}
	while ((b = d->pool) != NULL) {
		d->pool = b->next;
		pbuf_free(b);
	}
	d->npool = 0;
}

/* ---- resume state ---- */

static int
save_meta(struct dl *d)
{
	struct buf	b;
	int		r = -1;

	buf_init(&b, (size_t)64 << 20);
	if (resume_meta_format(&d->meta, &b) == 0)
		r = store_write_atomic(d->state_meta, buf_head(&b),
		    buf_avail(&b));
	buf_free(&b);
	return r;
}

static void
save_have(struct dl *d)
{
	struct buf	b;

	buf_init(&b, (size_t)1 << 20);
	if (resume_have_format(d->s.have, d->s.n, &b) == 0 &&
	    store_write_atomic(d->state_have, buf_head(&b),
	    buf_avail(&b)) == 0) {
		d->dirty = 0;
		d->last_save = ev_now_ms();
	} else
		log_warn("download %s: cannot save progress", d->info.name);
	buf_free(&b);
}

static void
drop_state(struct dl *d)
{
	unlink(d->state_have);
	unlink(d->state_meta);
}

/* ---- ending a download ---- */

static void
notify(struct dl *d)
{
	struct waiter	*w, *next;

	/* detached first: download_unwait must not walk freed waiters */
	w = d->waiters;
	d->waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		w->cb(w->arg, &d->info);
		free(w);
	}
}

/* Release connections, the thread, timers and the .part descriptor. */
static void
dl_stop(struct dl *d)
{
	while (d->peers != NULL)
		peer_drop(d->peers, NULL);
	ph_stop(d);
	if (d->w.started)
		whole_join(d, 1);
	ev_timer_cancel(d->tick);
	d->tick = 0;
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	d->info.bytes_per_second = 0;
}

static void
dl_fail(struct dl *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->info.state != DL_RUNNING)
		return;
	va_start(ap, fmt);
	vsnprintf(d->info.error, sizeof(d->info.error), fmt, ap);
	va_end(ap);
	log_warnx("download %s/%s failed: %s", d->info.group, d->info.name,
	    d->info.error);
	d->info.state = DL_FAILED;
	dl_stop(d);
	unlink(d->part);
	drop_state(d);
	notify(d);
}

static int
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) == -1)
		return -1;
	return unlink(from);
}

/* Make the finished file a complete share (store takes the hashes). */
static void
become_seeder(struct dl *d)
{
	struct share	 sh;
	struct stat	 st;

	memset(&sh, 0, sizeof(sh));
	strlcpy(sh.group, d->info.group, sizeof(sh.group));
	strlcpy(sh.name, d->info.name, sizeof(sh.name));
	strlcpy(sh.path, d->info.dest, sizeof(sh.path));
	sh.size = d->meta.size;
	if (stat(d->info.dest, &st) == 0)
		sh.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec;
	memcpy(sh.sha1, d->meta.sha1, SHA1_LEN);
	sh.npieces = d->meta.npieces;
	sh.fd = -1;
	sh.announced = d->announced;
	if ((sh.piece_sha1 = malloc(d->meta.npieces ?
	    (size_t)d->meta.npieces * SHA1_LEN : 1)) == NULL ||
	    (memcpy(sh.piece_sha1, d->meta.piece_sha1,
	    (size_t)d->meta.npieces * SHA1_LEN), 0) ||
	    store_add_share(&sh) == NULL) {
		free(sh.piece_sha1);
		log_warnx("download %s: cannot add it to the shares",
		    d->info.name);
	}
}

/* A file of no piece still has a whole-file SHA-1 to check. */
static int
empty_matches(const struct dl *d)
{
	uint8_t	md[SHA1_LEN];

	SHA1((const unsigned char *)"", 0, md);
	return CRYPTO_memcmp(md, d->meta.sha1, SHA1_LEN) == 0;
}

static void
dl_finish(struct dl *d)
{
	uint64_t	t, el;
	uint32_t	left = 0;
	int		r;

	t = ev_now_ms();
	if (d->w.started) {
		pthread_mutex_lock(&d->w.mtx);
		left = d->meta.npieces - d->w.next;
		pthread_mutex_unlock(&d->w.mtx);
	}
	/* The piece thread may still hash an endgame duplicate: stop it
	 * before the whole-file digest and its mutex go away. */
	ph_stop(d);
	r = d->meta.npieces == 0 ? empty_matches(d) : whole_join(d, 0);
	t = ev_now_ms() - t;
	d->finishing = 0;
	if (r != 1) {
		dl_fail(d, r == 0 ? "whole-file SHA-1 mismatch" :
		    "cannot read back %s", d->part);
		return;
	}
	if (rename_noreplace(d->part, d->info.dest) == -1) {
		dl_fail(d, "rename to %s: %s", d->info.dest, strerror(errno));
		return;
	}
	dl_stop(d);
	drop_state(d);
	d->info.state = DL_COMPLETE;
	d->info.bytes_done = d->info.bytes_total;
	d->info.pieces_done = d->info.pieces_total;
	el = ev_now_ms() - d->started_ms;
	/* a finished download shows the average rate of its last run */
	d->info.bytes_per_second = (d->info.bytes_total - d->started_bytes) *
	    1000 / (el > 0 ? el : 1);
	log_info("download %s/%s complete: %s (%llu ms, %llu ms of it on the "
	    "final hash of %u pieces; %u of %u hashed once in memory)",
	    d->info.group, d->info.name, d->info.dest, (unsigned long long)el,
	    (unsigned long long)t, left, d->w.hot, d->meta.npieces);
	become_seeder(d);
	notify(d);
}

/* ---- registering as a seeder of what we have ---- */

static void
announced_cb(void *arg, int status, const char *reply, size_t len)
{
	struct dl	*d = arg;

	if (dl_unref(d))
		return;
	d->announcing = 0;
	if (status == 0 && strncmp(reply, "OK", 2) == 0)
		d->announced = 1;
	else
		log_debug("download %s: upload_file: %s", d->info.name,
		    status == 0 ? reply : "no tracker");
}

static void
dl_announce(struct dl *d)
{
	struct buf	b;
	char		hex[SHA1_HEX_LEN + 1], ip[INET_ADDRSTRLEN];
	uint32_t	i;

	if (d->announcing || d->info.state != DL_RUNNING || d->s.ndone == 0 ||
	    !tracker_logged_in())
		return;
	buf_init(&b, (size_t)d->meta.npieces * 41 + 1024);
	inet_ntop(AF_INET, &conf.self.sin.sin_addr, ip, sizeof(ip));
	sha1_to_hex(d->meta.sha1, hex);
	if (buf_printf(&b, "upload_file %s %s %llu %s %u %s %u", d->info.group,
	    d->info.name, (unsigned long long)d->meta.size, ip,
	    ntohs(conf.self.sin.sin_port), hex, d->meta.npieces) == -1)
		goto out;
	for (i = 0; i < d->meta.npieces; i++) {
		sha1_to_hex(d->meta.piece_sha1[i], hex);
		if (buf_printf(&b, " %s", hex) == -1)
			goto out;
	}
	if (buf_append(&b, "", 1) == -1)
		goto out;
	if (tracker_send(buf_head(&b), announced_cb, d) == 0) {
		d->refs++;
		d->announcing = 1;
	}
out:
	buf_free(&b);
}

/* ---- piece arrival ---- */

static void
cancel_elsewhere(struct dl *d, struct peer *from, uint32_t idx)
{
	struct peer	*p;
	unsigned	 k;

	for (p = d->peers; p != NULL; p = p->next) {
		if (p == from || p->st == P_GP)
			continue;
		for (k = 0; k < p->qn; k++) {
			if (p->q[k].idx != idx || p->q[k].cancelled)
				continue;
			p->q[k].cancelled = 1;
			bf_clear(p->req, idx);
			sched_released(&d->s, idx);
			if (p->outlen + WIRE_HDR_LEN <= sizeof(p->out)) {
				wire_hdr(p->out + p->outlen, WIRE_CANCEL, idx, 0);
				p->outlen += WIRE_HDR_LEN;
			}
		}
	}
}

static int
write_piece(struct dl *d, const uint8_t *data, uint32_t len, uint32_t idx)
{
	size_t	off = 0;
	ssize_t	w;

	while (off < len) {
		w = pwrite(d->fd, data + off, len - off,
		    (off_t)((uint64_t)idx * PIECE_SIZE + off));
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* Piece idx from k failed its hash: ask someone else; drop k when it
 * keeps doing that. */
static void
piece_bad(struct dl *d, struct known *k, uint32_t idx)
{
	struct peer	*p, *next;

	log_warnx("download %s: piece %u from %s failed its hash",
	    d->info.name, idx, k->ep.text);
	k->bad++;
	for (p = d->peers; p != NULL; p = next) {
		next = p->next;
		if (p->k != k)
			continue;
		if (k->bad >= DL_MAX_BAD) {
			k->banned = 1;
			peer_drop(p, "sent bad pieces");
			continue;
		}
		/* This peer "no longer has" it, so another one is asked. */
		if (p->has != NULL && bf_test(p->has, idx)) {
			bf_clear(p->has, idx);
			if (p->counted)
				sched_peer_lost(&d->s, idx);
		}
	}
	if (k->bad >= DL_MAX_BAD)
		k->banned = 1;
}

/* A piece's bytes arrived on the loop (GET_PIECE): verify and store.
 * 0, or -1 if p was dropped or the download ended. */
static int
piece_arrived(struct peer *p, uint32_t idx, const uint8_t *data, uint32_t len)
{
	struct dl	*d = p->dl;
	struct known	*k = p->k;

	if (bf_test(d->s.have, idx))
		return 0;		/* an endgame duplicate */
	if (!piece_hash_ok(d, idx, data, len)) {
		piece_bad(d, k, idx);
		return k->banned ? -1 : 0;
	}
	return piece_verified(d, idx, data, len);
}

/* A verified piece: store it, offer it, record it. -1 if the download
 * ended (finished or failed). */
static int
piece_verified(struct dl *d, uint32_t idx, const uint8_t *data, uint32_t len)
{
	uint32_t	front;

	if (bf_test(d->s.have, idx))
		return 0;
	if (write_piece(d, data, len, idx) == -1) {
		dl_fail(d, "write %s: %s", d->part, strerror(errno));
		return -1;
	}
	front = d->s.front;
	sched_verified(&d->s, idx);
	d->info.pieces_done = d->s.ndone;
	d->info.bytes_done += len;
	d->last_live = ev_now_ms();
	d->dirty++;
	if (d->s.front != front)
		whole_advance(d);
	if (ev_now_ms() - d->last_save >= DL_SAVE_MS)
		save_have(d);
	cancel_elsewhere(d, NULL, idx);
	serve_have(d->meta.sha1, idx);
	if (!d->announced)
		dl_announce(d);
	if (sched_complete(&d->s) && !d->finishing) {
		d->finishing = 1;
		dl_finish(d);
		return -1;
	}
	return 0;
}

/* ---- peer connections ---- */

static void
peer_drop(struct peer *p, const char *why)
{
	struct dl	*d = p->dl;
	struct peer	**pp;
	unsigned	 k;

	if (why != NULL)
		log_info("download %s: dropping %s: %s", d->info.name,
		    p->k->ep.text, why);
	for (pp = &d->peers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	d->npeers--;
	p->k->nconn--;
	if ((p->st == P_PIECE || p->st == P_WAITBUF) && p->cur_live)
		sched_released(&d->s, p->pidx);
	if (p->cur != NULL)
		pool_put(d, p->cur);
	for (k = 0; k < p->qn; k++)
		if (!p->q[k].cancelled)
			sched_released(&d->s, p->q[k].idx);
	if (p->counted)
		sched_peer_bits(&d->s, p->has, -1);
	if (p->fd != -1) {
		ev_del(p->fd);
		close(p->fd);
	}
	free(p->has);
	free(p->req);
	free(p->pay);
	free(p->piece);
	free(p);
}

/* Drop p and keep the seeder out for a while (1 if dropped). */
static int
peer_fail(struct peer *p, const char *why)
{
	p->k->retry_at = ev_now_ms() + DL_RETRY_MS;
	peer_drop(p, why);
	return 1;
}

static int
peer_flush(struct peer *p)
{
	ssize_t	w;

	if (p->outlen > 0) {
		if ((w = send_until_blocked(p->fd, p->out, p->outlen, 0)) == -1)
			return -1;
		memmove(p->out, p->out + w, p->outlen - (size_t)w);
		p->outlen -= (size_t)w;
	}
	ev_mod(p->fd, (p->st == P_WAITBUF ? 0 : EPOLLIN) |
	    (p->outlen > 0 ? EPOLLOUT : 0));
	return 0;
}

static void
fill_requests(struct peer *p)
{
	struct dl	*d = p->dl;
	int64_t		 i;

	if (p->st == P_GP || p->st == P_CONNECTING || p->st == P_MAGIC ||
	    p->has == NULL || !p->counted)
		return;
	while (p->qn < DL_DEPTH && p->outlen + WIRE_HDR_LEN <= sizeof(p->out)) {
		if ((i = sched_pick(&d->s, p->has, p->req)) < 0)
			break;
		sched_requested(&d->s, (uint32_t)i);
		bf_set(p->req, (uint32_t)i);
		p->q[p->qn].idx = (uint32_t)i;
		p->q[p->qn++].cancelled = 0;
		wire_hdr(p->out + p->outlen, WIRE_REQUEST, (uint32_t)i, 0);
		p->outlen += WIRE_HDR_LEN;
	}
}

/* Match an answer for idx against the request queue (answers come in
 * request order; cancelled requests may be skipped). 1 if it was ours
 * and not cancelled, 0 if cancelled, -1 on a protocol error. */
static int
take_request(struct peer *p, uint32_t idx)
{
	unsigned	k, j;
	int		live;

	for (k = 0; k < p->qn; k++) {
		if (p->q[k].idx == idx)
			break;
		if (!p->q[k].cancelled)
			return -1;
	}
	if (k == p->qn)
		return -1;
	live = !p->q[k].cancelled;
	if (live)
		bf_clear(p->req, idx);	/* still in flight until hashed */
	for (j = 0; j + k + 1 < p->qn; j++)
		p->q[j] = p->q[j + k + 1];
	p->qn -= k + 1;
	return live;
}

static int
got_bitfield(struct peer *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;

	if (m->a != d->meta.npieces || !bf_tail_clear(m->payload, m->a))
		return -1;
	if ((p->has = bf_new(m->a)) == NULL || (p->req = bf_new(m->a)) == NULL)
		return -1;
	memcpy(p->has, m->payload, bf_bytes(m->a));
	sched_peer_bits(&d->s, p->has, 1);
	p->counted = 1;
	d->last_live = ev_now_ms();
	return 0;
}

/* A peer's text made safe for the log: no newline or control byte. */
static const char *
printable(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[i] = '\0';
	return out;
}

/* A complete non-PIECE message; 0, or -1 to drop the peer. */
static int
got_message(struct peer *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;
	char		 text[WIRE_MAX_ERROR + 1];
	int		 r;

	if (p->has == NULL && m->type != WIRE_BITFIELD &&
	    m->type != WIRE_ERROR)
		return -1;
	switch (m->type) {
	case WIRE_BITFIELD:
		return p->has != NULL ? -1 : got_bitfield(p, m);
	case WIRE_ERROR:
		log_info("download %s: %s: %s", d->info.name, p->k->ep.text,
		    printable(m->payload, m->len, text, sizeof(text)));
		return -1;
	case WIRE_HAVE:
		if (m->a >= d->meta.npieces)
			return -1;
		if (!bf_test(p->has, m->a)) {
			bf_set(p->has, m->a);
			sched_peer_have(&d->s, m->a);
		}
		return 0;
	case WIRE_REJECT:
		if ((r = take_request(p, m->a)) == -1)
			return -1;
		if (r == 1)
			sched_released(&d->s, m->a);
		if (bf_test(p->has, m->a)) {
			bf_clear(p->has, m->a);
			sched_peer_lost(&d->s, m->a);
		}
		return 0;
	default:
		return -1;
	}
}

/* Read into a fixed target; returns bytes, 0 on EAGAIN, -1 closed/error. */
static ssize_t
peer_recv(struct peer *p, void *dst, size_t n)
{
	ssize_t	r;

	do
		r = recv(p->fd, dst, n, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1 && errno == EAGAIN)
		return 0;
	if (r <= 0)
		return -1;
	p->last = ev_now_ms();
	return r;
}

static int
start_piece_data(struct peer *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;
	int		 r;

	if (m->a >= d->meta.npieces ||
	    m->len != piece_len(d->meta.size, m->a))
		return -1;
	if ((r = take_request(p, m->a)) == -1)
		return -1;
	p->cur_live = r;
	p->pidx = m->a;
	p->plen = m->len;
	p->pgot = 0;
	if ((p->cur = pool_get(d)) == NULL) {
		/* Every buffer is being hashed: stop reading for now. */
		p->st = P_WAITBUF;
		ev_mod(p->fd, p->outlen > 0 ? EPOLLOUT : 0);
		return 1;
	}
	p->st = P_PIECE;
	return 0;
}

/* All bytes of the current piece are in: hash it off the loop (or drop
 * it if nobody wants it any more). */
static void
piece_received(struct peer *p)
{
	struct dl	*d = p->dl;
	struct pbuf	*b = p->cur;

	p->cur = NULL;
	p->st = P_HDR;
	if (!p->cur_live || bf_test(d->s.have, p->pidx)) {
		if (p->cur_live)
			sched_released(&d->s, p->pidx);
		pool_put(d, b);
		return;
	}
	b->k = p->k;
	b->idx = p->pidx;
	b->len = p->plen;
	ph_queue(d, b);
}

static int
step_magic(struct peer *p)
{
	ssize_t	r;

	r = peer_recv(p, p->hdr + p->hgot, WIRE_MAGIC_LEN - p->hgot);
	if (r <= 0)
		return (int)r;
	p->hgot += (size_t)r;
	if (memcmp(p->hdr, WIRE_MAGIC, p->hgot) != 0)
		return -2;	/* not our protocol */
	if (p->hgot == WIRE_MAGIC_LEN) {
		p->hgot = 0;
		p->st = P_HDR;
	}
	return 1;
}

static int
step_header(struct peer *p)
{
	struct wire_msg	m;
	ssize_t		r;
	int		rc;

	r = peer_recv(p, p->hdr + p->hgot, WIRE_HDR_LEN - p->hgot);
	if (r <= 0)
		return (int)r;
	p->hgot += (size_t)r;
	if ((rc = wire_parse(p->hdr, p->hgot, WIRE_TO_CLIENT, &m)) == -1)
		return -1;
	if (rc == 0 && p->hgot < WIRE_HDR_LEN)
		return 1;
	p->hgot = 0;
	if (m.type == WIRE_PIECE) {
		if ((rc = start_piece_data(p, &m)) == -1)
			return -1;
		return rc == 1 ? 0 : 1;
	}
	if (rc > 0)	/* header-only message */
		return got_message(p, &m) == -1 ? -1 : 1;
	p->msg = m;
	if ((p->pay = malloc(m.len)) == NULL)
		return -1;
	p->paygot = 0;
	p->st = P_PAYLOAD;
	return 1;
}

static int
step_payload(struct peer *p)
{
	ssize_t	r;
	int	rc;

	r = peer_recv(p, p->pay + p->paygot, p->msg.len - p->paygot);
	if (r <= 0)
		return (int)r;
	if ((p->paygot += (size_t)r) < p->msg.len)
		return 1;
	p->msg.payload = p->pay;
	rc = got_message(p, &p->msg);
	free(p->pay);
	p->pay = NULL;
	p->st = P_HDR;
	return rc == -1 ? -1 : 1;
}

static int
step_piece(struct peer *p)
{
	ssize_t	r;

	r = peer_recv(p, p->cur->data + p->pgot, p->plen - p->pgot);
	if (r <= 0)
		return (int)r;
	if ((p->pgot += (uint32_t)r) < p->plen)
		return 1;
	piece_received(p);
	return 1;
}

/* One step of the receive state machine: 1 progress, 0 wait, -1 drop,
 * -2 the peer does not speak our protocol. */
static int
peer_step(struct peer *p)
{
	switch (p->st) {
	case P_MAGIC:
		return step_magic(p);
	case P_HDR:
		return step_header(p);
	case P_PAYLOAD:
		return step_payload(p);
	case P_PIECE:
		return step_piece(p);
	case P_WAITBUF:
		return 0;
	default:
		return -1;
	}
}

static void
peer_readable(struct peer *p)
{
	struct dl	*d = p->dl;
	int		 k, r = 0, was_magic;

	for (k = 0; k < 64; k++) {
		was_magic = p->st == P_MAGIC;
		if ((r = peer_step(p)) <= 0)
			break;
	}
	if (r == -2 || (r == -1 && was_magic && p->hgot == 0)) {
		/* No magic back: a seed client. Use GET_PIECE with it. */
		log_info("download %s: %s does not speak p2pshare, using "
		    "GET_PIECE", d->info.name, p->k->ep.text);
		p->k->fallback = 1;
		peer_drop(p, NULL);
		connect_more(d);
		return;
	}
	if (r == -1) {
		peer_fail(p, "connection lost or protocol error");
		return;
	}
	fill_requests(p);
	if (peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

/* ---- GET_PIECE fallback: one piece per connection ---- */

static void
gp_readable(struct peer *p)
{
	struct dl	*d = p->dl;
	ssize_t		r;
	uint32_t	idx = p->pidx;
	uint8_t		extra;

	for (;;) {
		if (p->pgot < p->plen) {
			r = peer_recv(p, p->piece + p->pgot, p->plen - p->pgot);
			if (r == 0)
				return;
			if (r < 0)
				break;
			p->pgot += (uint32_t)r;
			continue;
		}
		r = peer_recv(p, &extra, 1);
		if (r == 0)
			return;
		if (r > 0) {
			p->pgot = 0;	/* more than a piece: wrong */
			break;
		}
		break;
	}
	if (p->pgot != p->plen) {
		peer_fail(p, "GET_PIECE answer short or long");
		return;
	}
	p->qn = 0;
	sched_released(&d->s, idx);
	if (piece_arrived(p, idx, p->piece, p->plen) == -1)
		return;
	peer_drop(p, NULL);
	if (d->info.state == DL_RUNNING)
		connect_more(d);	/* next piece at once */
}

static int
gp_start(struct peer *p)
{
	struct dl	*d = p->dl;
	int64_t		 i;
	int		 n;

	if ((i = sched_pick(&d->s, p->has, NULL)) < 0)
		return -1;
	if ((p->piece = malloc(PIECE_SIZE)) == NULL)
		return -1;
	p->pidx = (uint32_t)i;
	p->plen = piece_len(d->meta.size, p->pidx);
	p->pgot = 0;
	sched_requested(&d->s, p->pidx);
	p->q[0].idx = p->pidx;
	p->q[0].cancelled = 0;
	p->qn = 1;
	n = snprintf((char *)p->out, sizeof(p->out), "GET_PIECE %s %u\n",
	    d->info.name, p->pidx);
	p->outlen = (size_t)n;
	p->st = P_GP;
	return 0;
}

/* ---- connecting ---- */

static void
peer_connected(struct peer *p)
{
	struct dl	*d = p->dl;
	int		 err = 0, sz = 4 << 20;
	socklen_t	 len = sizeof(err);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		errno = err;
		peer_fail(p, strerror(err));
		return;
	}
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	p->last = ev_now_ms();
	if (p->k->fallback) {
		if (gp_start(p) == -1) {
			peer_drop(p, NULL);
			return;
		}
	} else {
		memcpy(p->out, WIRE_MAGIC, WIRE_MAGIC_LEN);
		wire_hdr(p->out + WIRE_MAGIC_LEN, WIRE_HELLO, 0, SHA1_LEN);
		memcpy(p->out + WIRE_MAGIC_LEN + WIRE_HDR_LEN, d->meta.sha1,
		    SHA1_LEN);
		p->outlen = WIRE_MAGIC_LEN + WIRE_HDR_LEN + SHA1_LEN;
		p->st = P_MAGIC;
	}
	if (peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

static void
peer_event(int fd, uint32_t events, void *arg)
{
	struct peer	*p = arg;

	if (p->st == P_CONNECTING) {
		peer_connected(p);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (p->st == P_GP)
			gp_readable(p);
		else
			peer_readable(p);
		return;
	}
	if ((events & EPOLLOUT) && peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

static void
peer_connect(struct dl *d, struct known *k)
{
	struct peer	*p;
	int		 r;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->dl = d;
	p->k = k;
	p->since = p->last = ev_now_ms();
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd == -1)
		goto fail;
	r = connect(p->fd, (const struct sockaddr *)&k->ep.sin,
	    sizeof(k->ep.sin));
	if (r == -1 && errno != EINPROGRESS)
		goto fail;
	if (ev_add(p->fd, EPOLLOUT, peer_event, p) == -1)
		goto fail;
	if (k->fallback) {
		/* Seed clients say nothing of what they have: assume all. */
		if ((p->has = bf_new(d->meta.npieces)) == NULL)
			goto fail;
		bf_fill(p->has, d->meta.npieces);
	}
	p->st = P_CONNECTING;
	p->next = d->peers;
	d->peers = p;
	d->npeers++;
	k->nconn++;
	return;
fail:
	k->retry_at = ev_now_ms() + DL_RETRY_MS;
	if (p->fd != -1)
		close(p->fd);
	free(p->has);
	free(p);
}

/* Open connections to seeders we are not connected to. */
static void
connect_more(struct dl *d)
{
	uint64_t	now = ev_now_ms();
	struct known	*k;
	int		i, start, limit;

	start = d->nknown ? (int)(rng_seed++ % (uint64_t)d->nknown) : 0;
	for (i = 0; i < d->nknown && d->npeers < DL_MAX_PEERS; i++) {
		k = &d->known[(start + i) % d->nknown];
		limit = k->fallback ? DL_GP_CONNS : 1;
		if (k->banned || k->nconn >= limit || k->retry_at > now)
			continue;
		peer_connect(d, k);
	}
}

/* ---- the periodic tick ---- */

static void
check_peers(struct dl *d)
{
	struct peer	*p, *next;
	uint64_t	 now = ev_now_ms();

	for (p = d->peers; p != NULL; p = next) {
		next = p->next;
		if (p->st == P_CONNECTING || p->st == P_MAGIC) {
			if (now - p->since > DL_CONNECT_MS)
				peer_fail(p, "handshake timeout");
			continue;
		}
		if (p->st == P_WAITBUF)
			p->last = now;	/* our wait, not the peer's */
		else if ((p->qn > 0 || p->st == P_PIECE ||
		    p->st == P_PAYLOAD) && now - p->last > DL_STALL_MS) {
			peer_fail(p, "stalled");
			continue;
		}
		fill_requests(p);
		if (p->st != P_GP && peer_flush(p) == -1)
			peer_fail(p, "write failed");
	}
}

static void
update_rate(struct dl *d)
{
	uint64_t	now = ev_now_ms(), dt = now - d->rate_at;

	if (dt < 1000)
		return;
	d->info.bytes_per_second = (d->info.bytes_done - d->rate_bytes) *
	    1000 / dt;
	d->rate_at = now;
	d->rate_bytes = d->info.bytes_done;
}

static void
dl_tick(void *arg)
{
	struct dl	*d = arg;
	uint64_t	 now = ev_now_ms();
	struct peer	*p;
	int		 live = 0;

	d->tick = 0;
	if (d->info.state != DL_RUNNING)
		return;
	check_peers(d);
	if (d->info.state != DL_RUNNING)
		return;
	for (p = d->peers; p != NULL; p = p->next)
		live += p->counted || p->st == P_GP;
	if (live > 0)
		d->last_live = now;
	connect_more(d);
	if (now - d->last_refresh >= DL_REFRESH_MS ||
	    (d->npeers == 0 && now - d->last_refresh >= DL_RETRY_MS))
		dl_refresh(d);
	if (d->dirty && now - d->last_save >= DL_SAVE_MS)
		save_have(d);
	update_rate(d);
	if (d->tracker_ok && now - d->last_live > DL_NO_SEEDER_MS) {
		dl_fail(d, "no seeder could be reached");
		return;
	}
	d->tick = ev_timer(DL_TICK_MS, dl_tick, d);
}

/* ---- tracker refresh ---- */

static void
refresh_cb(void *arg, int status, const char *reply, size_t len)
{
	struct dl		*d = arg;
	struct resume_meta	 m;
	struct endpoint		 eps[DL_MAX_KNOWN];
	char			*copy;
	int			 n, i;

	if (dl_unref(d))
		return;
	d->refreshing = 0;
	if (d->info.state != DL_RUNNING || status != 0)
		return;
	if ((copy = strndup(reply, len)) == NULL)
		return;
	memset(&m, 0, sizeof(m));
	if (resume_parse_tracker(copy, &m, eps, DL_MAX_KNOWN, &n) == 0 &&
	    memcmp(m.sha1, d->meta.sha1, SHA1_LEN) == 0) {
		d->tracker_ok = 1;
		for (i = 0; i < n; i++)
			known_add(d, &eps[i]);
	} else if (strncmp(reply, "ERR no_such", 11) == 0)
		d->tracker_ok = 1;	/* nobody seeds it any more */
	free(m.piece_sha1);
	free(copy);
	connect_more(d);
}

static void
dl_refresh(struct dl *d)
{
	char	line[256];

	d->last_refresh = ev_now_ms();
	if (!d->announced)
		dl_announce(d);
	if (d->refreshing || !tracker_logged_in())
		return;
	snprintf(line, sizeof(line), "download_file %s %s", d->info.group,
	    d->info.name);
	if (tracker_send(line, refresh_cb, d) == 0) {
		d->refs++;
		d->refreshing = 1;
	}
}

/* ---- creating downloads ---- */

static struct dl *
dl_new(const char *group, const char *name, const char *dest)
{
	struct dl	*d, **pp;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->fd = -1;
	d->info.state = DL_RUNNING;
	strlcpy(d->info.group, group, sizeof(d->info.group));
	strlcpy(d->info.name, name, sizeof(d->info.name));
	strlcpy(d->info.dest, dest, sizeof(d->info.dest));
	if (state_paths(d) == -1) {
		free(d);
		return NULL;
	}
	for (pp = &dls; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = d;
	return d;
}

static void
dl_free(struct dl *d)
{
	free(d->meta.piece_sha1);
	sched_free(&d->s);
	free(d);
}

/* Forget d; freed now, or by the last tracker callback that refers to it. */
static void
dl_unlink(struct dl *d)
{
	struct dl	**pp;

	for (pp = &dls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->refs > 0)
		d->zombie = 1;
	else
		dl_free(d);
}

/* A tracker callback for d returned: 1 if d is gone (do nothing more). */
static int
dl_unref(struct dl *d)
{
	if (--d->refs == 0 && d->zombie) {
		dl_free(d);
		return 1;
	}
	return d->zombie;
}

/* Start the engine on a download whose meta, fd and have bits are set. */
static int
dl_run(struct dl *d, const uint8_t *have)
{
	rng_seed = rng_seed * 6364136223846793005ull + (uint64_t)ev_now_ms();
	if (sched_init(&d->s, d->meta.npieces, have, rng_seed) == -1)
		return -1;
	d->info.bytes_total = d->meta.size;
	d->info.pieces_total = d->meta.npieces;
	d->info.pieces_done = d->s.ndone;
	d->info.bytes_done = (uint64_t)d->s.ndone * PIECE_SIZE;
	if (d->s.ndone > 0 && bf_test(d->s.have, d->s.n - 1))
		d->info.bytes_done -= PIECE_SIZE - piece_len(d->meta.size,
		    d->s.n - 1);
	d->rate_at = d->last_live = d->last_save = d->started_ms = ev_now_ms();
	d->rate_bytes = d->started_bytes = d->info.bytes_done;
	if (d->meta.npieces > 0 && (whole_start(d) == -1 || ph_start(d) == -1))
		return -1;
	if (sched_complete(&d->s)) {
		d->finishing = 1;
		dl_finish(d);
		return 0;
	}
	d->tick = ev_timer(DL_TICK_MS, dl_tick, d);
	return 0;
}

static int
dest_exists(const char *dest)
{
	struct stat	st;

	return lstat(dest, &st) == 0 || errno != ENOENT;
}

static int
open_part(struct dl *d, int create)
{
	int	fl = O_RDWR | O_CLOEXEC | O_NOFOLLOW |
	    (create ? O_CREAT | O_TRUNC : 0);

	if ((d->fd = open(d->part, fl, 0644)) == -1)
		return -1;
	if (ftruncate(d->fd, (off_t)d->meta.size) == -1) {
		close(d->fd);
		d->fd = -1;
		return -1;
	}
	return 0;
}

/* Build a download from the tracker's answer; NULL with err set if not. */
static struct dl *
dl_create(const struct start_req *sr, const char *reply, size_t len,
    char *err, size_t errlen)
{
	struct endpoint	 eps[DL_MAX_KNOWN];
	struct dl	*d;
	char		*copy;
	int		 n, i, r;

	if ((copy = strndup(reply, len)) == NULL ||
	    (d = dl_new(sr->group, sr->name, sr->dest)) == NULL) {
		free(copy);
		strlcpy(err, "out of memory", errlen);
		return NULL;
	}
	r = resume_parse_tracker(copy, &d->meta, eps, DL_MAX_KNOWN, &n);
	free(copy);
	if (r == -1) {
		strlcpy(err, "malformed answer from the tracker", errlen);
		goto fail;
	}
	strlcpy(d->meta.group, sr->group, sizeof(d->meta.group));
	strlcpy(d->meta.name, sr->name, sizeof(d->meta.name));
	strlcpy(d->meta.dest, sr->dest, sizeof(d->meta.dest));
	for (i = 0; i < n; i++)
		known_add(d, &eps[i]);
	if (d->nknown == 0 && d->meta.size > 0) {
		strlcpy(err, "no seeder has this file", errlen);
		goto fail;
	}
	if (open_part(d, 1) == -1) {
		snprintf(err, errlen, "%s: %s", d->part, strerror(errno));
		goto fail;
	}
	return d;
fail:
	dl_unlink(d);
	return NULL;
}

/* "<reason> <text>" of a tracker's ERR line: the text for the user (as
 * peerd's other commands report it), the reason word when there is none. */
static void
refusal_text(const char *p, char *out, size_t outlen)
{
	size_t	n = strcspn(p, " \n"), t;

	t = n;
	while (p[t] == ' ')
		t++;
	if (strcspn(p + t, "\n") == 0)
		t = 0;
	snprintf(out, outlen, "%.*s", (int)strcspn(p + t, "\n"), p + t);
}

/* 0 when dir is a directory; -1 with errno set otherwise. */
static int
check_dir(const char *dir)
{
	struct stat	st;

	if (stat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * The checks before a download starts, written once: when asked (with
 * destdir) and again when the tracker answered. 1 with the reason in err
 * if the download may not start.
 */
static int
start_refused(const char *group, const char *name, const char *destdir,
    const char *dest, char *err, size_t errlen)
{
	struct dl	*d;

	if ((d = dl_find(group, name)) != NULL && d->info.state == DL_RUNNING)
		snprintf(err, errlen, "already downloading");
	else if (destdir != NULL && check_dir(destdir) == -1)
		snprintf(err, errlen, "%.*s: %s", PATH_MAX, destdir,
		    strerror(errno));
	else if (dest_exists(dest))
		snprintf(err, errlen, "%s exists", dest);
	else if (dl_by_dest(dest) != NULL)
		snprintf(err, errlen, "already downloading to %s", dest);
	else
		return 0;
	return 1;
}

/* The tracker answered download_file: refuse, or start in the background. */
static void
start_reply(void *arg, int status, const char *reply, size_t len)
{
	struct start_req	*sr = arg;
	struct dl		*d;
	char			 err[PATH_MAX + 128];

	if (status != 0) {
		sr->cb(sr->arg, 0, "no tracker reachable");
		goto out;
	}
	if (strncmp(reply, "ERR ", 4) == 0) {
		refusal_text(reply + 4, err, sizeof(err));
		sr->cb(sr->arg, 0, err);
		goto out;
	}
	/* checked again: the tracker's answer took a while */
	if (start_refused(sr->group, sr->name, NULL, sr->dest, err,
	    sizeof(err))) {
		sr->cb(sr->arg, 0, err);
		goto out;
	}
	if ((d = dl_find(sr->group, sr->name)) != NULL)
		dl_unlink(d);	/* an earlier, finished attempt */
	if ((d = dl_create(sr, reply, len, err, sizeof(err))) == NULL) {
		sr->cb(sr->arg, 0, err);
		goto out;
	}
	if (save_meta(d) == -1)
		log_warnx("download %s: cannot save resume state", sr->name);
	d->tracker_ok = 1;
	d->last_refresh = ev_now_ms();
	if (dl_run(d, NULL) == -1) {
		sr->cb(sr->arg, 0, "cannot start the download");
		dl_stop(d);
		unlink(d->part);
		drop_state(d);
		dl_unlink(d);
		goto out;
	}
	log_info("download %s/%s started: %llu bytes, %d seeders", sr->group,
	    sr->name, (unsigned long long)d->meta.size, d->nknown);
	sr->cb(sr->arg, 1, NULL);
	if (d->info.state == DL_RUNNING)
		connect_more(d);
out:
	free(sr);
}


void
download_start(const char *group, const char *name, const char *destdir,
    dl_start_cb *cb, void *arg)
{
	struct start_req	*sr;
	char			 line[2 * PATH_MAX + 64];
	int			 n;

	if (!name_valid(group) || !name_valid(name) || destdir[0] != '/') {
		cb(arg, 0, "bad group, file or destination");
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL) {
		cb(arg, 0, "out of memory");
		return;
	}
	strlcpy(sr->group, group, sizeof(sr->group));
	strlcpy(sr->name, name, sizeof(sr->name));
	n = snprintf(sr->dest, sizeof(sr->dest), "%s%s%s", destdir,
	    destdir[strlen(destdir) - 1] == '/' ? "" : "/", name);
	if (n < 0 || (size_t)n + 5 >= sizeof(sr->dest)) {
		free(sr);
		cb(arg, 0, "destination path too long");
		return;
	}
	if (start_refused(group, name, destdir, sr->dest, line,
	    sizeof(line))) {
		free(sr);
		cb(arg, 0, line);
		return;
	}
	sr->cb = cb;
	sr->arg = arg;
	snprintf(line, sizeof(line), "download_file %s %s", group, name);
	if (tracker_send(line, start_reply, sr) == -1) {
		free(sr);
		cb(arg, 0, "no tracker reachable");
	}
}

/* ---- resuming at start ---- */

#define RESUME_MAX_FILE	(64u << 20)

/*
 * Pieces written after the last progress save (peerd killed): find the
 * ones with data in the .part file and keep those that hash right. Holes
 * are skipped without reading, so this costs little.
 */
static void
recover_pieces(struct dl *d, uint8_t *have)
{
	uint8_t		*buf;
	uint32_t	 i, len, found = 0;
	off_t		 off, data;

	if ((buf = malloc(PIECE_SIZE)) == NULL)
		return;
	for (i = 0; i < d->meta.npieces; i++) {
		if (bf_test(have, i))
			continue;
		off = (off_t)((uint64_t)i * PIECE_SIZE);
		len = piece_len(d->meta.size, i);
		data = lseek(d->fd, off, SEEK_DATA);
		if (data == -1 || data >= off + (off_t)len)
			continue;
		if (pread(d->fd, buf, len, off) != (ssize_t)len)
			continue;
		if (piece_hash_ok(d, i, buf, len)) {
			bf_set(have, i);
			found++;
		}
	}
	free(buf);
	if (found > 0)
		log_info("download %s: %u verified pieces recovered from %s",
		    d->info.name, found, d->part);
}

static void
resume_one(const char *metapath)
{
	struct resume_meta	 m;
	struct dl		*d;
	char			*text = NULL;
	uint8_t			*have = NULL;

	if ((text = read_small_file(metapath, RESUME_MAX_FILE, NULL)) == NULL ||
	    resume_meta_parse(text, &m) == -1) {
		log_warnx("%s: unreadable resume file, ignored", metapath);
		free(text);
		return;
	}
	free(text);
	text = NULL;
	if (dl_find(m.group, m.name) != NULL ||
	    (d = dl_new(m.group, m.name, m.dest)) == NULL) {
		free(m.piece_sha1);
		return;
	}
	d->meta = m;
	if ((have = bf_new(m.npieces)) == NULL)
		goto fail;
	if ((text = read_small_file(d->state_have, RESUME_MAX_FILE,
	    NULL)) != NULL && resume_have_parse(text, m.npieces, have) == -1)
		memset(have, 0, bf_bytes(m.npieces));
	free(text);
	if (dest_exists(d->info.dest)) {
		log_warnx("download %s: %s exists; not resumed", m.name,
		    d->info.dest);
		drop_state(d);
		goto fail;
	}
	if (open_part(d, 0) == -1) {
		memset(have, 0, bf_bytes(m.npieces));	/* .part lost */
		if (open_part(d, 1) == -1)
			goto fail;
	} else
		recover_pieces(d, have);
	if (dl_run(d, have) == -1)
		goto fail;
	log_info("download %s/%s resumed with %u of %u pieces", m.group,
	    m.name, d->s.ndone, d->s.n);
	free(have);
	return;
fail:
	free(have);
	dl_stop(d);
	dl_unlink(d);
}

int
download_init(void)
{
	char		 dir[PATH_MAX], path[PATH_MAX + 300];
	DIR		*dp;
	struct dirent	*de;
	size_t		 n;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/downloads",
	    conf.state_dir) >= sizeof(dir))
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if ((dp = opendir(dir)) == NULL) {
		log_warn("opendir %s", dir);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".meta") != 0 ||
		    de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		resume_one(path);
	}
	closedir(dp);
	return 0;
}

/* ---- queries from control.c and serve.c ---- */

void
download_foreach(void (*fn)(void *, const struct dl_info *), void *arg)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		fn(arg, &d->info);
}

int
download_wait(const char *group, const char *name, dl_done_cb *cb, void *arg)
{
	struct dl	*d;
	struct waiter	*w;

	if ((d = dl_find(group, name)) == NULL)
		return -1;
	if (d->info.state != DL_RUNNING) {
		cb(arg, &d->info);
		return 0;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->arg = arg;
	w->next = d->waiters;
	d->waiters = w;
	return 0;
}

int
download_unwait(dl_done_cb *cb, void *arg)
{
	struct dl	*d;
	struct waiter	**pp, *w;
	int		 n = 0;

	for (d = dls; d != NULL; d = d->next)
		for (pp = &d->waiters; (w = *pp) != NULL; ) {
			if (w->cb != cb || w->arg != arg) {
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			free(w);
			n++;
		}
	return n;
}

int
download_piece(const uint8_t sha1[SHA1_LEN], uint32_t i, int *fd,
    uint64_t *size)
{
	struct dl	*d;

	if ((d = dl_by_hash(sha1)) == NULL)
		return -1;
	if (i >= d->s.n || !bf_test(d->s.have, i))
		return 0;
	*fd = d->fd;
	*size = d->meta.size;
	return 1;
}

int
download_bitfield(const uint8_t sha1[SHA1_LEN], uint8_t *bits,
    size_t maxbytes)
{
	struct dl	*d;

	if ((d = dl_by_hash(sha1)) == NULL || d->s.n == 0 ||
	    bf_bytes(d->s.n) > maxbytes)
		return -1;
	memcpy(bits, d->s.have, bf_bytes(d->s.n));
	return (int)d->s.n;
}

void
download_announce(void)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next) {
		d->announced = 0;
		dl_announce(d);
	}
}

void
download_shutdown(void)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next) {
		if (d->info.state != DL_RUNNING)
			continue;
		save_have(d);
		dl_stop(d);
	}
}
