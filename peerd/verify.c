/* Checking what a download receives: each piece's SHA-1 on a hashing
 * thread or, in the same pass, on the whole-file SHA-1's thread; the
 * piece buffers. */
#include <sys/uio.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/ev.h"
#include "peerd/download.h"

/*
 * The whole-file digest takes the pieces in order. A verified piece ahead
 * of it waits in memory ("parked", handed over by the loop) until its
 * turn, so that each byte is read once; a piece that could not wait is
 * read back from the .part file. The loop parks a piece before it moves
 * the verified front past it: a piece below the front and not parked is
 * on disk.
 *
 * With the SHA instructions ("shared"), the digest also takes its next
 * piece unchecked from the hashers' queue and gets the piece's own SHA-1
 * from the same pass (sha1ni.c): both for little more than the cost of
 * one. A good piece goes back to the queue's head, checked, for a hasher
 * to store (the digest must not wait for the disk); a bad one goes to the
 * loop, and the digest is taken back to before it. The hashers leave the
 * digest the pieces it is about to reach (ph_mine).
 *
 * Locks: w.mtx before ph_mtx, never the other way round.
 */

/* Under w.mtx: take piece i out of the parked list. */
static struct pbuf *
park_take(struct dl *d, uint32_t i)
{
	struct pbuf	**pp, *b;

	for (pp = &d->w.parked; (b = *pp) != NULL; pp = &b->next)
		if (b->idx == i) {
			*pp = b->next;
			d->w.nparked--;
			return b;
		}
	return NULL;
}

/* Under ph_mtx: take b out of the hashers' queue. */
static void
ph_remove(struct dl *d, struct pbuf *b)
{
	struct pbuf	**pp, *prev = NULL;

	for (pp = &d->ph_head; *pp != b; prev = *pp, pp = &prev->next)
		;
	if ((*pp = b->next) == NULL)
		d->ph_tail = prev;
	d->ph_n--;
}

/* Under w.mtx: take piece i, not yet checked, out of the hashers' queue. */
static struct pbuf *
queue_take(struct dl *d, uint32_t i)
{
	struct pbuf	*b;

	if (!d->w.shared)
		return NULL;
	pthread_mutex_lock(&d->ph_mtx);
	for (b = d->ph_head; b != NULL; b = b->next)
		if (b->idx == i && !b->checked) {
			ph_remove(d, b);
			break;
		}
	pthread_mutex_unlock(&d->ph_mtx);
	return b;
}

/* Wait until piece next can be fed: *bp is its buffer if it was parked,
 * or if it was taken unchecked from the queue (*unchecked set); else it
 * is read back. Returns next, n when everything is fed, or -1 when
 * stopped. */
static int64_t
whole_wait(struct dl *d, uint32_t n, struct pbuf **bp, int *unchecked)
{
	int64_t	i;

	*bp = NULL;
	*unchecked = 0;
	pthread_mutex_lock(&d->w.mtx);
	for (;;) {
		if (d->w.stop) {
			i = -1;
			break;
		}
		i = d->w.next;
		if (d->w.next >= n || (*bp = park_take(d, d->w.next)) != NULL ||
		    d->w.next < d->w.ready)
			break;
		if ((*bp = queue_take(d, d->w.next)) != NULL) {
			*unchecked = 1;
			break;
		}
		pthread_cond_wait(&d->w.cond, &d->w.mtx);
	}
	pthread_mutex_unlock(&d->w.mtx);
	return i;
}

/* Under w.mtx: pieces verified in order that the digest has not taken. */
static int64_t
whole_lag(const struct dl *d)
{
	return (int64_t)d->w.ready - (int64_t)d->w.next;
}

static void
whole_fed(struct dl *d)
{
	pthread_mutex_lock(&d->w.mtx);
	__atomic_store_n(&d->w.next, d->w.next + 1, __ATOMIC_RELAXED);
	if (d->w.lagwait > 0 && whole_lag(d) <= DL_PARK)
		pthread_cond_broadcast(&d->w.lagcond);
	pthread_mutex_unlock(&d->w.mtx);
}

/* Hashers wait no more for the digest (it ended, or they stop). */
static void
whole_nolag(struct dl *d)
{
	pthread_mutex_lock(&d->w.mtx);
	d->w.nolag = 1;
	pthread_cond_broadcast(&d->w.lagcond);
	pthread_mutex_unlock(&d->w.mtx);
}

/*
 * On a hashing thread: wait while the digest is more than DL_PARK pieces
 * behind the verified front. Under a CPU it shares, the digest would
 * otherwise fall behind for good and read every piece back from the
 * disk; this way the buffers held up slow the receiving down instead.
 */
static void
whole_keep_up(struct dl *d)
{
	if (!d->w.started)
		return;
	pthread_mutex_lock(&d->w.mtx);
	while (!d->w.nolag && whole_lag(d) > DL_PARK) {
		d->w.lagwait++;
		pthread_cond_wait(&d->w.lagcond, &d->w.mtx);
		d->w.lagwait--;
	}
	pthread_mutex_unlock(&d->w.mtx);
}

/* Read len bytes at off into buf from fd, flags as preadv2(2): 0, or -1
 * (errno EAGAIN: with RWF_NOWAIT, not all of it is in the page cache). */
static int
read_piece(int fd, uint8_t *buf, size_t want, size_t len, off_t off,
    int flags)
{
	struct iovec	iov = { buf, want };
	ssize_t		r;

	while ((r = preadv2(fd, &iov, 1, off, flags)) == -1 && errno == EINTR)
		;
	if (r >= 0 && r < (ssize_t)len) {	/* the last piece: short */
		errno = flags & RWF_NOWAIT ? EAGAIN : EIO;
		return -1;
	}
	return r == -1 ? -1 : 0;
}

/* Piece i read back from the .part file into buf (PIECE_SIZE bytes,
 * aligned): from the page cache when it is all there (d->w.cached counts
 * those), else from the disk straight where pieces are written there, or
 * through the page cache. 0, or -1. */
static int
whole_reread(struct dl *d, uint32_t i, uint8_t *buf, uint32_t len)
{
	off_t	off = (off_t)((uint64_t)i * PIECE_SIZE);
	size_t	want = (len + PIECE_ALIGN - 1) / PIECE_ALIGN * PIECE_ALIGN;

	if (read_piece(d->fd, buf, len, len, off, RWF_NOWAIT) == 0) {
		d->w.cached++;	/* only this thread writes it */
		return 0;
	}
	if (errno != EAGAIN && errno != EOPNOTSUPP)
		return -1;
	if (d->dfd != -1 &&
	    read_piece(d->dfd, buf, want, len, off, 0) == 0)
		return 0;
	if (d->dfd != -1 && errno != EINVAL)
		return -1;
	return read_piece(d->fd, buf, len, len, off, 0);
}

/*
 * Write a verified piece into the .part file: straight to the disk when
 * the file allows it and the buffer and length are whole pages (no page
 * cache to fill: the copy and the memory it takes are most of a
 * download's cost), else through the page cache. 0, or -1 with errno.
 */
int
verify_store(struct dl *d, uint32_t idx, const uint8_t *data, uint32_t len)
{
	off_t	 off = (off_t)((uint64_t)idx * PIECE_SIZE);
	size_t	 done = 0;
	ssize_t	 w;
	int	 fd = d->fd;

	if (d->dfd != -1 && len % PIECE_ALIGN == 0 &&
	    (uintptr_t)data % PIECE_ALIGN == 0)
		fd = d->dfd;
	while (done < len) {
		w = pwrite(fd, data + done, len - done, off + (off_t)done);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EINVAL && fd != d->fd) {
			fd = d->fd;	/* refused after all */
			continue;
		}
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

static int	verify_digest(const struct dl *, uint32_t,
		    const uint8_t[SHA1_LEN]);
static void	ph_post(struct dl *, struct pbuf *);
static void	ph_store(struct dl *, struct pbuf *);

/*
 * A piece taken unchecked from the queue: fed, and checked in the same
 * pass. 1 when good: it goes back to the queue's head for a hasher to
 * store it, or is stored here when the hashers stop. 0 when bad: the
 * digest is as before it, and the loop hears of it.
 */
static int
whole_check(struct dl *d, struct pbuf *b)
{
	struct sha1_stream	before = d->w.ctx;
	uint8_t			md[SHA1_LEN];

	sha1_stream_update_digest(&d->w.ctx, b->data, b->len, md);
	if (!(b->ok = verify_digest(d, b->idx, md))) {
		d->w.ctx = before;
		ph_post(d, b);
		return 0;
	}
	b->checked = 1;
	pthread_mutex_lock(&d->w.mtx);
	if (d->w.shared) {
		pthread_mutex_lock(&d->ph_mtx);
		if ((b->next = d->ph_head) == NULL)
			d->ph_tail = b;
		d->ph_head = b;
		d->ph_n++;
		pthread_cond_signal(&d->ph_cond);
		pthread_mutex_unlock(&d->ph_mtx);
		b = NULL;
	}
	pthread_mutex_unlock(&d->w.mtx);
	if (b != NULL) {
		ph_store(d, b);
		ph_post(d, b);
	}
	return 1;
}

/* The digest no longer takes pieces from the queue: what the hashers
 * left it is theirs. Under w.mtx. */
static void
whole_unshare(struct dl *d)
{
	if (!d->w.shared)
		return;
	__atomic_store_n(&d->w.shared, 0, __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->ph_mtx);
	pthread_cond_broadcast(&d->ph_cond);
	pthread_mutex_unlock(&d->ph_mtx);
}

static void *
whole_main(void *v)
{
	struct dl	*d = v;
	struct pbuf	*b;
	uint8_t		*buf = NULL, out[SHA1_LEN];
	uint32_t	 n = d->meta.npieces, len;
	int64_t		 i;
	int		 result = -1, unchecked;

	while ((i = whole_wait(d, n, &b, &unchecked)) >= 0 && i < n) {
		len = piece_len(d->meta.size, (uint64_t)i);
		if (unchecked) {
			if (!whole_check(d, b))
				continue;	/* wait for it again */
			d->w.hot++;
		} else if (b != NULL) {
			sha1_stream_update(&d->w.ctx, b->data, len);
			d->w.hot++;	/* only this thread writes it */
			if (ev_post(d->w.done, b) == -1)
				log_warnx("download %s: lost a buffer",
				    d->info.name);
		} else {
			if (buf == NULL && posix_memalign((void **)&buf,
			    PIECE_ALIGN, PIECE_SIZE) != 0) {
				buf = NULL;
				goto done;
			}
			if (whole_reread(d, (uint32_t)i, buf, len) == -1)
				goto done;
			sha1_stream_update(&d->w.ctx, buf, len);
		}
		whole_fed(d);
	}
	if (i < 0)
		goto done;
	sha1_stream_final(&d->w.ctx, out);
	result = CRYPTO_memcmp(out, d->meta.sha1, SHA1_LEN) == 0;
done:
	free(buf);
	pthread_mutex_lock(&d->w.mtx);
	d->w.result = result;
	whole_unshare(d);
	pthread_mutex_unlock(&d->w.mtx);
	whole_nolag(d);
	return NULL;
}

int
verify_whole_start(struct dl *d, void (*done)(void *))
{
	pthread_mutex_init(&d->w.mtx, NULL);
	pthread_cond_init(&d->w.cond, NULL);
	pthread_cond_init(&d->w.lagcond, NULL);
	d->w.nolag = 0;
	d->w.lagwait = 0;
	d->w.done = done;
	d->w.ready = d->s.front;
	d->w.next = 0;
	d->w.parked = NULL;
	d->w.nparked = 0;
	d->w.stop = 0;
	d->w.hot = 0;
	d->w.cached = 0;
	d->w.shared = 0;	/* until the hashers run */
	sha1_stream_init(&d->w.ctx, 1);
	d->w.result = -2;
	if (pthread_create(&d->w.thr, NULL, whole_main, d) != 0)
		return -1;
	d->w.started = 1;
	return 0;
}

void
verify_whole_advance(struct dl *d)
{
	pthread_mutex_lock(&d->w.mtx);
	d->w.ready = d->s.front;
	pthread_cond_signal(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
}

/*
 * On the loop, a verified piece not yet recorded: keep it for the digest
 * (1: the digest hands the buffer back through done), or 0: the caller
 * keeps it. At most DL_PARK wait, so that parking never takes the
 * buffers the connections need to go on; when they are taken, the one
 * due last goes back (*evicted, to be released) for this one if it is
 * due sooner: that one will be read back.
 */
int
verify_whole_park(struct dl *d, struct pbuf *b, struct pbuf **evicted)
{
	struct pbuf	**pp, **last = NULL;
	int		  parked = 0;

	*evicted = NULL;
	if (!d->w.started)
		return 0;
	pthread_mutex_lock(&d->w.mtx);
	if (b->idx < d->w.next)
		goto out;
	if (d->w.nparked == DL_PARK) {
		for (pp = &d->w.parked; *pp != NULL; pp = &(*pp)->next)
			if (last == NULL || (*pp)->idx > (*last)->idx)
				last = pp;
		if ((*last)->idx < b->idx)
			goto out;
		*evicted = *last;
		*last = (*last)->next;
		d->w.nparked--;
		d->refs--;
	}
	b->next = d->w.parked;
	d->w.parked = b;
	d->w.nparked++;
	d->refs++;	/* done will run for it */
	parked = 1;
	pthread_cond_signal(&d->w.cond);
out:
	pthread_mutex_unlock(&d->w.mtx);
	return parked;
}

/* Stop (or, when all pieces are ready, finish) the thread; its result.
 * Buffers still parked are freed. */
int
verify_whole_join(struct dl *d, int stop)
{
	struct pbuf	*b;

	if (!d->w.started)
		return -1;
	pthread_mutex_lock(&d->w.mtx);
	if (stop)
		d->w.stop = 1;
	pthread_cond_signal(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
	pthread_join(d->w.thr, NULL);
	while ((b = d->w.parked) != NULL) {
		d->w.parked = b->next;
		verify_buf_free(b);
		d->refs--;
	}
	d->w.nparked = 0;
	d->w.started = 0;
	pthread_mutex_destroy(&d->w.mtx);
	pthread_cond_destroy(&d->w.cond);
	pthread_cond_destroy(&d->w.lagcond);
	return d->w.result;
}

/* The one comparison of a piece's digest with the tracker's SHA-1 (the
 * hashing threads' batches, the whole-file digest's shared pass, and
 * verify_piece). */
static int
verify_digest(const struct dl *d, uint32_t idx, const uint8_t md[SHA1_LEN])
{
	return CRYPTO_memcmp(md, d->meta.piece_sha1[idx], SHA1_LEN) == 0;
}

/* A piece checked on its own (GET_PIECE answers, pieces recovered from a
 * .part file). */
int
verify_piece(const struct dl *d, uint32_t idx, const uint8_t *data,
    uint32_t len)
{
	uint8_t	md[SHA1_LEN];

	SHA1(data, len, md);
	return verify_digest(d, idx, md);
}

struct pbuf *
verify_buf_get(struct dl *d)
{
	struct pbuf	*b;

	if ((b = d->pool) != NULL) {
		d->pool = b->next;
		return b;
	}
	if (d->npool >= DL_POOL || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	/* page-aligned: the piece may be written with O_DIRECT */
	if (posix_memalign((void **)&b->data, PIECE_ALIGN, PIECE_SIZE) != 0) {
		free(b);
		return NULL;
	}
	b->dl = d;
	d->npool++;
	return b;
}

void
verify_buf_free(struct pbuf *b)
{
	free(b->data);
	free(b);
}

void
verify_buf_put(struct dl *d, struct pbuf *b)
{
	b->next = d->pool;
	d->pool = b;
}

/*
 * Under ph_mtx: may a hasher take queued piece b now? A checked one, to
 * store it, yes. An unchecked one of the next DL_SHARE_AHEAD pieces is
 * left to a sharing digest for DL_SHARE_MS: long enough for the digest to
 * reach it at speed, not so long that a piece the digest waits for and
 * may never get (its only seeder sends it corrupt) holds the rest up.
 */
static int
ph_mine(const struct dl *d, const struct pbuf *b, uint64_t now)
{
	uint32_t	next;

	if (b->checked || !__atomic_load_n(&d->w.shared, __ATOMIC_RELAXED) ||
	    now >= b->queued + DL_SHARE_MS)
		return 1;
	next = __atomic_load_n(&d->w.next, __ATOMIC_RELAXED);
	return b->idx < next || b->idx - next >= DL_SHARE_AHEAD;
}

/* Under ph_mtx: when the first piece left to the digest becomes the
 * hashers' (0: none is). */
static uint64_t
ph_expiry(const struct dl *d, uint64_t now)
{
	const struct pbuf	*b;
	uint64_t		 at = 0;

	for (b = d->ph_head; b != NULL; b = b->next)
		if (!ph_mine(d, b, now) && (at == 0 || b->queued < at))
			at = b->queued;
	return at == 0 ? 0 : at + DL_SHARE_MS;
}

/*
 * Under ph_mtx: of the pieces left to the digest, the one due last (of
 * length len, any when 0). While more than DL_SHARE_QUEUE wait, hashers
 * take those: the digest may be waiting for a piece that cannot be
 * received before buffers free up, and those it needs first stay.
 */
static struct pbuf *
ph_farthest(const struct dl *d, uint32_t len, uint64_t now)
{
	struct pbuf	*b, *far = NULL;

	if (d->ph_n <= DL_SHARE_QUEUE)
		return NULL;
	for (b = d->ph_head; b != NULL; b = b->next)
		if (!ph_mine(d, b, now) && (len == 0 || b->len == len) &&
		    (far == NULL || b->idx > far->idx))
			far = b;
	return far;
}

/* Under ph_mtx: how many queued pieces a hasher may take now. */
static unsigned
ph_count(const struct dl *d, uint64_t now)
{
	const struct pbuf	*b;
	unsigned		 mine = 0, over;

	for (b = d->ph_head; b != NULL; b = b->next)
		mine += ph_mine(d, b, now);
	if (d->ph_n <= DL_SHARE_QUEUE)
		return mine;
	over = d->ph_n - DL_SHARE_QUEUE;
	return mine + (over < d->ph_n - mine ? over : d->ph_n - mine);
}

/* Under ph_mtx: take up to max pieces of one kind (checked, or of one
 * length), a hasher's own first in queue order, then ph_farthest's. */
static unsigned
ph_unlink(struct dl *d, struct pbuf **batch, unsigned max, uint64_t now)
{
	struct pbuf	*b, *nb;
	unsigned	 n = 0;

	for (b = d->ph_head; b != NULL && n < max; b = nb) {
		nb = b->next;
		if (!ph_mine(d, b, now) || (n > 0 &&
		    (b->len != batch[0]->len || b->checked != batch[0]->checked)))
			continue;
		ph_remove(d, b);
		batch[n++] = b;
	}
	if (n > 0 && batch[0]->checked)
		return n;
	while (n < max &&
	    (b = ph_farthest(d, n > 0 ? batch[0]->len : 0, now)) != NULL) {
		ph_remove(d, b);
		batch[n++] = b;
	}
	return n;
}

/*
 * Under ph_mtx: the next pieces for this hasher, 0 when stopping: one
 * checked piece to store, or at most SHA1MB_LANES to check, of one
 * length, in queue order. Pieces are hashed side by side (sha1mb.c), so
 * a hasher waits up to DL_BATCH_MS for a full batch to gather: a fast
 * download fills one in about that time, and a slow one, whose pieces
 * then go one by one, does not need the speed.
 */
static unsigned
ph_take(struct dl *d, struct pbuf **batch)
{
	struct timespec	 until;
	uint64_t	 now, full_by = 0, wake;
	unsigned	 n;

	for (;;) {
		if (d->ph_stop)
			return 0;
		now = mono_ms();
		if (d->ph_head != NULL && d->ph_head->checked)
			return ph_unlink(d, batch, 1, now);
		if ((n = ph_count(d, now)) == 0)
			full_by = 0;
		else if (full_by == 0)
			full_by = now + DL_BATCH_MS;
		if ((n >= SHA1MB_LANES || (n > 0 && (d->ph_lanes == 1 ||
		    now >= full_by))) &&
		    (n = ph_unlink(d, batch, SHA1MB_LANES, now)) > 0)
			return n;
		wake = ph_expiry(d, now);
		if (full_by != 0 && (wake == 0 || full_by < wake))
			wake = full_by;
		if (wake == 0) {
			pthread_cond_wait(&d->ph_cond, &d->ph_mtx);
			continue;
		}
		mono_deadline(&until, wake > now ? wake - now : 0);
		pthread_cond_timedwait(&d->ph_cond, &d->ph_mtx, &until);
	}
}

/* A piece checked (b->ok set): stored when good. */
static void
ph_store(struct dl *d, struct pbuf *b)
{
	if (b->ok && verify_store(d, b->idx, b->data, b->len) == -1) {
		b->ok = -1;
		b->err = errno;
	}
}

/* A piece done with: back to the loop. */
static void
ph_post(struct dl *d, struct pbuf *b)
{
	if (ev_post(d->ph_done, b) == -1)
		log_warnx("download %s: lost piece %u", d->info.name, b->idx);
}

static void *
ph_main(void *v)
{
	struct dl	*d = v;
	struct pbuf	*batch[SHA1MB_LANES];
	const uint8_t	*data[SHA1MB_LANES];
	uint8_t		 md[SHA1MB_LANES][SHA1_LEN];
	unsigned	 i, n;

	for (;;) {
		pthread_mutex_lock(&d->ph_mtx);
		n = ph_take(d, batch);
		pthread_mutex_unlock(&d->ph_mtx);
		if (n == 0)
			return NULL;
		if (!batch[0]->checked) {
			for (i = 0; i < n; i++)
				data[i] = batch[i]->data;
			sha1mb(data, n, batch[0]->len, md);
			for (i = 0; i < n; i++)
				batch[i]->ok = verify_digest(d, batch[i]->idx,
				    md[i]);
		}
		for (i = 0; i < n; i++) {
			ph_store(d, batch[i]);
			whole_keep_up(d);
			ph_post(d, batch[i]);
		}
	}
}

int
verify_hasher_start(struct dl *d, void (*done)(void *))
{
	pthread_condattr_t	ca;

	d->ph_done = done;
	d->ph_stop = 0;		/* a paused download starts it again */
	d->ph_n = 0;
	d->ph_lanes = sha1mb_lanes();
	pthread_mutex_init(&d->ph_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->ph_cond, &ca);
	pthread_condattr_destroy(&ca);
	for (d->ph_started = 0; d->ph_started < DL_HASHERS; d->ph_started++)
		if (pthread_create(&d->ph_thr[d->ph_started], NULL, ph_main,
		    d) != 0)
			break;
	if (d->ph_started == 0)
		return -1;
	if (d->w.started) {	/* the digest may use the queue now */
		pthread_mutex_lock(&d->w.mtx);
		__atomic_store_n(&d->w.shared, d->w.ctx.ni &&
		    d->w.result == -2, __ATOMIC_RELAXED);
		pthread_cond_signal(&d->w.cond);
		pthread_mutex_unlock(&d->w.mtx);
	}
	return 0;
}

void
verify_hasher_queue(struct dl *d, struct pbuf *b)
{
	d->refs++;		/* ph_done will run for it */
	b->run = d->run;
	b->next = NULL;
	b->checked = 0;
	b->queued = mono_ms();
	pthread_mutex_lock(&d->ph_mtx);
	if (d->ph_tail != NULL)
		d->ph_tail->next = b;
	else
		d->ph_head = b;
	d->ph_tail = b;
	d->ph_n++;
	pthread_cond_signal(&d->ph_cond);
	pthread_mutex_unlock(&d->ph_mtx);
	/* the digest's next piece: it may be waiting for it (after the
	 * queue's lock, so that it finds the piece when woken) */
	if (__atomic_load_n(&d->w.shared, __ATOMIC_RELAXED) &&
	    b->idx == __atomic_load_n(&d->w.next, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&d->w.mtx);
		pthread_cond_signal(&d->w.cond);
		pthread_mutex_unlock(&d->w.mtx);
	}
}

/* Stop the thread; free queued and idle buffers. */
void
verify_hasher_stop(struct dl *d)
{
	struct pbuf	*b;

	if (d->ph_started) {
		if (d->w.started) {
			/* the digest takes from the queue no more */
			pthread_mutex_lock(&d->w.mtx);
			whole_unshare(d);
			pthread_mutex_unlock(&d->w.mtx);
			whole_nolag(d);
		}
		pthread_mutex_lock(&d->ph_mtx);
		d->ph_stop = 1;
		pthread_cond_broadcast(&d->ph_cond);
		pthread_mutex_unlock(&d->ph_mtx);
		while (d->ph_started > 0)
			pthread_join(d->ph_thr[--d->ph_started], NULL);
		while ((b = d->ph_head) != NULL) {
			d->ph_head = b->next;
			verify_buf_free(b);
			d->refs--;
		}
		d->ph_tail = NULL;
		d->ph_n = 0;
		pthread_mutex_destroy(&d->ph_mtx);
		pthread_cond_destroy(&d->ph_cond);
	}
	while ((b = d->pool) != NULL) {
		d->pool = b->next;
		verify_buf_free(b);
	}
	d->npool = 0;
}

/* A file of no piece still has a whole-file SHA-1 to check. */
int
verify_empty(const struct dl *d)
{
	uint8_t	md[SHA1_LEN];

	SHA1((const unsigned char *)"", 0, md);
	return CRYPTO_memcmp(md, d->meta.sha1, SHA1_LEN) == 0;
}

uint32_t
verify_whole_left(struct dl *d)
{
	uint32_t	left;

	if (!d->w.started)
		return 0;
	pthread_mutex_lock(&d->w.mtx);
	left = d->meta.npieces - d->w.next;
	pthread_mutex_unlock(&d->w.mtx);
	return left;
}
