/* Checking what a download receives: each piece's SHA-1 on a hashing
 * thread, the whole-file SHA-1 on another, and their piece buffers. */
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

/* Wait until piece next can be fed: *bp is its buffer if it was parked
 * (else it is read back). Returns next, n when everything is fed, or -1
 * when stopped. */
static int64_t
whole_wait(struct dl *d, uint32_t n, struct pbuf **bp)
{
	int64_t	i;

	*bp = NULL;
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
	d->w.next++;
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

static void *
whole_main(void *v)
{
	struct dl	*d = v;
	struct pbuf	*b;
	uint8_t		*buf = NULL, out[SHA1_LEN];
	uint32_t	 n = d->meta.npieces, len;
	int64_t		 i;
	int		 result = -1;

	while ((i = whole_wait(d, n, &b)) >= 0 && i < n) {
		len = piece_len(d->meta.size, (uint64_t)i);
		if (b != NULL) {
			SHA1_Update(&d->w.ctx, b->data, len);
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
			SHA1_Update(&d->w.ctx, buf, len);
		}
		whole_fed(d);
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
	SHA1_Init(&d->w.ctx);
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
 * hashing threads, which digest pieces in batches, and verify_piece). */
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
 * Under ph_mtx: the next pieces to check, at most SHA1MB_LANES of one
 * length, in queue order; 0 when stopping. Pieces are hashed side by
 * side (sha1mb.c), so a hasher waits up to DL_BATCH_MS for a full batch
 * to gather: a fast download fills one in about that time, and a slow
 * one, whose pieces then go one by one, does not need the speed.
 */
static unsigned
ph_take(struct dl *d, struct pbuf **batch)
{
	struct timespec	 until;
	struct pbuf	*b;
	unsigned	 n = 0;
	uint32_t	 len;

	do {
		while (d->ph_head == NULL && !d->ph_stop)
			pthread_cond_wait(&d->ph_cond, &d->ph_mtx);
		if (d->ph_lanes > 1 && d->ph_n < SHA1MB_LANES) {
			mono_deadline(&until, DL_BATCH_MS);
			while (d->ph_n < SHA1MB_LANES && !d->ph_stop &&
			    pthread_cond_timedwait(&d->ph_cond, &d->ph_mtx,
			    &until) != ETIMEDOUT)
				;
		}
		if (d->ph_stop)
			return 0;
	} while (d->ph_head == NULL);	/* the other hasher took them */
	len = d->ph_head->len;
	while (n < SHA1MB_LANES && (b = d->ph_head) != NULL && b->len == len) {
		if ((d->ph_head = b->next) == NULL)
			d->ph_tail = NULL;
		d->ph_n--;
		batch[n++] = b;
	}
	return n;
}

/* A checked piece: stored when good, then back to the loop. */
static void
ph_finish(struct dl *d, struct pbuf *b, const uint8_t md[SHA1_LEN])
{
	b->ok = verify_digest(d, b->idx, md);
	if (b->ok && verify_store(d, b->idx, b->data, b->len) == -1) {
		b->ok = -1;
		b->err = errno;
	}
	whole_keep_up(d);
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
		for (i = 0; i < n; i++)
			data[i] = batch[i]->data;
		sha1mb(data, n, batch[0]->len, md);
		for (i = 0; i < n; i++)
			ph_finish(d, batch[i], md[i]);
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
			return d->ph_started > 0 ? 0 : -1;
	return 0;
}

void
verify_hasher_queue(struct dl *d, struct pbuf *b)
{
	d->refs++;		/* ph_done will run for it */
	b->run = d->run;
	b->next = NULL;
	pthread_mutex_lock(&d->ph_mtx);
	if (d->ph_tail != NULL)
		d->ph_tail->next = b;
	else
		d->ph_head = b;
	d->ph_tail = b;
	d->ph_n++;
	pthread_cond_signal(&d->ph_cond);
	pthread_mutex_unlock(&d->ph_mtx);
}

/* Stop the thread; free queued and idle buffers. */
void
verify_hasher_stop(struct dl *d)
{
	struct pbuf	*b;

	if (d->ph_started) {
		if (d->w.started)
			whole_nolag(d);
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
