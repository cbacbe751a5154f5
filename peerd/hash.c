/* upload_file's hashing off the event loop: the whole-file SHA-1 and the
 * 512 KiB piece SHA-1s. On CPUs with the SHA instructions both come from
 * one pass (sha1ni.c) while a second thread reads the next pieces; else
 * one thread computes each digest, both reading the file, on two cores. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"
#include "peerd/sha1ni.h"

#define HASH_CHUNK	(128u * 1024)		/* divides PIECE_SIZE */
#define HASH_SPLIT_MIN	(8ull * 1024 * 1024)	/* smaller: one thread */
#define HASH_AHEAD	4			/* pieces read ahead */

/* Pieces read by one thread for the shared pass on another. */
struct hash_ring {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	uint8_t		*buf[HASH_AHEAD];
	uint64_t	 read, hashed;	/* pieces */
	int		 err;		/* the reader's, or ECANCELED */
};

struct hash_job {
	char			 path[PATH_MAX];
	hash_cb			*cb;
	void			*arg;
	int			 fd;
	struct hash_result	 res;		/* copied out for the callback */
	int			 piece_error;
	struct hash_ring	 ring;
};

/* Read exactly n bytes at off (short file: EIO). */
static int
read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
	ssize_t	r;
	size_t	got = 0;

	while (got < n) {
		r = pread(fd, p + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Walk the file in chunks small enough to stay in the core's cache
 * between the copy and the digest; whole != NULL feeds the file digest,
 * pieces != NULL computes piece digests. Returns 0 or an errno. */
static int
hash_range(int fd, uint64_t size, SHA_CTX *whole, uint8_t (*pieces)[SHA1_LEN])
{
	SHA_CTX		 pc;
	uint8_t		*buf;
	uint64_t	 off;
	size_t		 n;
	int		 err = 0;

	if ((buf = malloc(HASH_CHUNK)) == NULL)
		return ENOMEM;
	for (off = 0; off < size; off += n) {
		n = size - off < HASH_CHUNK ? (size_t)(size - off) : HASH_CHUNK;
		if (read_at(fd, buf, n, off) == -1) {
			err = errno;
			break;
		}
		if (whole != NULL)
			SHA1_Update(whole, buf, n);
		if (pieces == NULL)
			continue;
		if (off % PIECE_SIZE == 0)
			SHA1_Init(&pc);
		SHA1_Update(&pc, buf, n);
		if ((off + n) % PIECE_SIZE == 0 || off + n == size)
			SHA1_Final(pieces[off / PIECE_SIZE], &pc);
	}
	free(buf);
	return err;
}

static void *
piece_thread(void *v)
{
	struct hash_job	*j = v;

	posix_fadvise(j->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	j->piece_error = hash_range(j->fd, j->res.size, NULL, j->res.piece_sha1);
	return NULL;
}

static void
deliver(void *v)
{
	struct hash_job		*j = v;
	struct hash_result	*r;
	hash_cb			*cb;
	void			*arg;

	/* The callback owns the result: the struct and its piece hashes. */
	if ((r = malloc(sizeof(*r))) == NULL) {
		log_warnx("hash %s: out of memory", j->path);
		free(j->res.piece_sha1);
		free(j);
		return;
	}
	*r = j->res;
	cb = j->cb;
	arg = j->arg;
	free(j);
	cb(arg, r);
}

/* Wait until *count reaches want, or a thread failed; its error, or 0. */
static int
ring_wait(struct hash_ring *r, const uint64_t *count, uint64_t want)
{
	int	err;

	pthread_mutex_lock(&r->mtx);
	while (r->err == 0 && *count < want)
		pthread_cond_wait(&r->cond, &r->mtx);
	err = r->err;
	pthread_mutex_unlock(&r->mtx);
	return err;
}

/* One more in *count, or (err != 0) the ring fails with err. */
static void
ring_post(struct hash_ring *r, uint64_t *count, int err)
{
	pthread_mutex_lock(&r->mtx);
	if (err == 0)
		(*count)++;
	else if (r->err == 0)
		r->err = err;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
}

/* The reader: pieces into the ring, at most HASH_AHEAD before the pass. */
static void *
ring_reader(void *v)
{
	struct hash_job		*j = v;
	struct hash_ring	*r = &j->ring;
	uint64_t		 i;
	int			 err = 0;

	for (i = 0; i < j->res.npieces && err == 0; i++) {
		if (ring_wait(r, &r->hashed,
		    i >= HASH_AHEAD ? i + 1 - HASH_AHEAD : 0) != 0)
			break;
		if (read_at(j->fd, r->buf[i % HASH_AHEAD],
		    piece_len(j->res.size, i), i * PIECE_SIZE) == -1)
			err = errno;
		ring_post(r, &r->read, err);
	}
	return NULL;
}

/* The shared pass over the pieces the reader hands over. */
static int
ring_hash(struct hash_job *j)
{
	struct hash_ring	*r = &j->ring;
	struct sha1_stream	 s;
	uint64_t		 i;
	int			 err = 0;

	sha1_stream_init(&s, 1);
	for (i = 0; i < j->res.npieces && err == 0; i++) {
		if ((err = ring_wait(r, &r->read, i + 1)) != 0)
			break;
		sha1_stream_update_digest(&s, r->buf[i % HASH_AHEAD],
		    piece_len(j->res.size, i), j->res.piece_sha1[i]);
		ring_post(r, &r->hashed, 0);
	}
	sha1_stream_final(&s, j->res.sha1);
	return err;
}

/* Both digests from one pass over each piece (a piece's own costs about a
 * tenth of the whole-file digest's time on top of it), the file read on
 * a second thread meanwhile. */
static int
hash_shared(struct hash_job *j)
{
	struct hash_ring	*r = &j->ring;
	pthread_t		 t;
	int			 i, err = ENOMEM;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < HASH_AHEAD; i++)
		if ((r->buf[i] = malloc(PIECE_SIZE)) == NULL)
			goto out;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((err = pthread_create(&t, NULL, ring_reader, j)) == 0) {
		err = ring_hash(j);
		ring_post(r, NULL, ECANCELED);	/* the reader stops, if not done */
		pthread_join(t, NULL);
	}
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->cond);
out:
	for (i = 0; i < HASH_AHEAD; i++)
		free(r->buf[i]);
	return err;
}

static int
hash_both(struct hash_job *j)
{
	SHA_CTX		whole;
	pthread_t	t;
	int		err, split = j->res.size >= HASH_SPLIT_MIN;

	if (split && sha1_stream_shared())
		return hash_shared(j);
	SHA1_Init(&whole);
	if (split && pthread_create(&t, NULL, piece_thread, j) != 0)
		split = 0;
	err = hash_range(j->fd, j->res.size, &whole,
	    split ? NULL : j->res.piece_sha1);
	if (split) {
		pthread_join(t, NULL);
		if (err == 0)
			err = j->piece_error;
	}
	SHA1_Final(j->res.sha1, &whole);
	return err;
}

static int
hash_job_run(struct hash_job *j)
{
	struct stat	st, st2;

	if ((j->fd = open(j->path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno;
	if (fstat(j->fd, &st) == -1)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	j->res.size = (uint64_t)st.st_size;
	j->res.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	j->res.npieces = (uint32_t)pieces_count(j->res.size);
	j->res.piece_sha1 = calloc(j->res.npieces ? j->res.npieces : 1,
	    SHA1_LEN);
	if (j->res.piece_sha1 == NULL)
		return ENOMEM;
	if ((errno = hash_both(j)) != 0)
		return errno;
	/* A file written to while we read it has no single hash. */
	if (fstat(j->fd, &st2) == -1)
		return errno;
	if (st2.st_size != st.st_size ||
	    st2.st_mtim.tv_sec != st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
		return EAGAIN;
	return 0;
}

static void *
hash_thread(void *v)
{
	struct hash_job	*j = v;

	j->fd = -1;
	j->res.error = hash_job_run(j);
	if (j->fd != -1)
		close(j->fd);
	if (j->res.error != 0) {
		free(j->res.piece_sha1);
		j->res.piece_sha1 = NULL;
	}
	if (ev_post(deliver, j) == -1)
		log_warn("hash %s: cannot post the result", j->path);
	return NULL;
}

int
hash_file_async(const char *path, hash_cb *cb, void *arg)
{
	struct hash_job	*j;
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 r;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	if (strlcpy(j->path, path, sizeof(j->path)) >= sizeof(j->path)) {
		free(j);
		errno = ENAMETOOLONG;
		return -1;
	}
	j->cb = cb;
	j->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, hash_thread, j);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		free(j);
		errno = r;
		return -1;
	}
	return 0;
}
