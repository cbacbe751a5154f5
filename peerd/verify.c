/* Checking what a download receives: each piece's SHA-1 on a hashing
 * thread, the whole-file SHA-1 on another, and their piece buffers. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "peerd/ev.h"
#include "peerd/download.h"

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

int
verify_whole_start(struct dl *d)
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

void
verify_whole_advance(struct dl *d)
{
	pthread_mutex_lock(&d->w.mtx);
	d->w.ready = d->s.front;
	pthread_cond_signal(&d->w.cond);
	pthread_mutex_unlock(&d->w.mtx);
}

/* Stop (or, when all pieces are ready, finish) the thread; its result. */
int
verify_whole_join(struct dl *d, int stop)
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

/* The one check of a piece against the tracker's SHA-1 (hash thread,
 * GET_PIECE answers, pieces recovered from a .part file). */
int
verify_piece(const struct dl *d, uint32_t idx, const uint8_t *data,
    uint32_t len)
{
	uint8_t	md[SHA1_LEN];

	SHA1(data, len, md);
	return CRYPTO_memcmp(md, d->meta.piece_sha1[idx], SHA1_LEN) == 0;
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
	if ((b->data = malloc(PIECE_SIZE)) == NULL) {
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
		b->ok = verify_piece(d, b->idx, b->data, b->len);
		/* In order? Then the whole-file digest takes it while hot. */
		if (b->ok && whole_feed(d, b->idx, b->data, b->len))
			d->w.hot++;	/* only this thread writes it */
		if (ev_post(d->ph_done, b) == -1)
			log_warnx("download %s: lost piece %u", d->info.name,
			    b->idx);
	}
}

int
verify_hasher_start(struct dl *d, void (*done)(void *))
{
	d->ph_done = done;
	d->ph_stop = 0;		/* a paused download starts it again */
	pthread_mutex_init(&d->ph_mtx, NULL);
	pthread_cond_init(&d->ph_cond, NULL);
	if (pthread_create(&d->ph_thr, NULL, ph_main, d) != 0)
		return -1;
	d->ph_started = 1;
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
	pthread_cond_signal(&d->ph_cond);
	pthread_mutex_unlock(&d->ph_mtx);
}

/* Stop the thread; free queued and idle buffers. */
void
verify_hasher_stop(struct dl *d)
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
			verify_buf_free(b);
			d->refs--;
		}
		d->ph_tail = NULL;
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
