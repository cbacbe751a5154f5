/* The download registry and each download's lifecycle: the tracker's
 * answer, the seeders known, .part file and resume state, the periodic
 * tick, pause, queue, cancel, the history of finished downloads, the
 * finish (whole-file check, rename) and becoming a seeder. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/bitfield.h"
#include "peerd/download.h"
#include "peerd/ev.h"
#include "peerd/offer.h"

#define RESUME_MAX_FILE	(64u << 20)
#define HISTORY_MAX	100		/* finished downloads remembered */

struct start_req {
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 dest[PATH_MAX];
	dl_start_cb	*cb;
	void		*arg;
};

static struct dl	*dls;
static uint64_t		 next_seq = 1;

static void	save_state(struct dl *);
static void	history_save(void);
static void	queue_run(void);

static void
dl_enter(struct dl *d, enum dl_phase phase)
{
	static const enum dl_state shown[] = {
		[DLP_FETCHING] = DL_RUNNING,
		[DLP_FINISHING] = DL_RUNNING,
		[DLP_COMPLETE] = DL_COMPLETE,
		[DLP_FAILED] = DL_FAILED,
		[DLP_QUEUED] = DL_QUEUED,
		[DLP_PAUSED] = DL_PAUSED,
	};

	d->phase = phase;
	d->info.state = shown[phase];
	d->info.stalled = 0;
	if (phase == DLP_COMPLETE || phase == DLP_FAILED)
		d->info.finished_at = (uint64_t)time(NULL);
	if (phase != DLP_FAILED)
		d->info.error[0] = '\0';
}

/* Fetching, or about to be: it holds (or will hold) connections. */
static int
dl_active(const struct dl *d)
{
	return d->phase == DLP_FETCHING || d->phase == DLP_FINISHING;
}

/* Not over yet: active, queued or paused. */
static int
dl_pending(const struct dl *d)
{
	return d->phase != DLP_COMPLETE && d->phase != DLP_FAILED;
}
static uint64_t		 rng_seed = 0x243f6a8885a308d3ull;

static void	dl_tick(void *);
static void	dl_fail(struct dl *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	dl_refresh(struct dl *);
static void	dl_free(struct dl *);
static int	dl_piece_stored(struct dl *, uint32_t, uint32_t);

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

/* A running download writing to dest (two groups may share a file name). */
static struct dl *
dl_by_dest(const char *dest)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		if (dl_pending(d) && strcmp(d->info.dest, dest) == 0)
			return d;
	return NULL;
}

static int
is_self(const struct endpoint *ep)
{
	const struct endpoint	*me = peer_advertised();

	return endpoint_eq(ep, me);
}

static void
known_add(struct dl *d, const struct endpoint *ep)
{
	int	i;

	if (is_self(ep))
		return;
	for (i = 0; i < d->nknown; i++)
		if (endpoint_eq(&d->known[i].ep, ep))
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
	n2 = snprintf(d->state_file, sizeof(d->state_file),
	    "%s/downloads/%s@%s.state", conf.state_dir, d->info.group,
	    d->info.name);
	if (n2 < 0 || (size_t)n2 >= sizeof(d->state_file))
		return -1;
	n1 = snprintf(d->part, sizeof(d->part), "%s.part", d->info.dest);
	return n1 < 0 || (size_t)n1 >= sizeof(d->part) ? -1 : 0;
}

/* A piece buffer is free: to the pool of a running download. */
static void
buffer_back(struct dl *d, struct pbuf *b)
{
	if (d->info.state == DL_RUNNING && d->fd != -1)
		seeder_buffer_release(d, b);
	else
		verify_buf_free(b);
}

/* On the loop thread: a piece came back from the hashing thread. */
static void
hashed_cb(void *arg)
{
	struct pbuf	*b = arg;
	struct pbuf	*evicted = NULL;
	struct dl	*d = b->dl;
	int		 parked = 0;

	/* a piece of a run that was paused since (the buffers are new) */
	if (d->info.state != DL_RUNNING || d->fd == -1 || b->run != d->run) {
		verify_buf_free(b);
		dl_unref(d);
		return;
	}
	sched_released(&d->s, b->idx);
	if (b->ok == 1) {
		b->k->fails = 0;	/* it delivers: no backoff */
		/* parked before the front moves past it (verify.c) */
		parked = !bf_test(d->s.have, b->idx) &&
		    verify_whole_park(d, b, &evicted);
		if (evicted != NULL)
			buffer_back(d, evicted);
		dl_piece_stored(d, b->idx, b->len);
	} else if (b->ok == -1) {
		errno = b->err;
		dl_fail(d, "write %s: %s", d->part, strerror(errno));
	} else
		seeder_piece_bad(d, b->k, b->idx);
	if (!parked)
		buffer_back(d, b);
	dl_unref(d);
}

/* On the loop thread: the whole-file digest is done with a parked piece. */
static void
digested_cb(void *arg)
{
	struct pbuf	*b = arg;
	struct dl	*d = b->dl;

	if (b->run == d->run)
		buffer_back(d, b);
	else
		verify_buf_free(b);
	dl_unref(d);
}

static int
save_meta(struct dl *d)
{
	struct buf	b;
	int		r = -1;

	buf_init(&b, (size_t)64 << 20);
	if (resume_meta_format(&d->meta, &b) == 0)
		r = write_file_atomic(d->state_meta, buf_head(&b),
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
	    write_file_atomic(d->state_have, buf_head(&b),
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
	unlink(d->state_file);
}

/* Record whether d runs, is paused, failed or was cancelled with its
 * progress kept, so a restart finds it as it was. */
static void
save_status(struct dl *d, enum resume_status status)
{
	struct resume_state	st;
	struct buf		b;

	memset(&st, 0, sizeof(st));
	st.status = status;
	st.seq = d->seq;
	if (status == RS_FAILED)
		strlcpy(st.reason, d->info.error, sizeof(st.reason));
	buf_init(&b, 1024);
	if (resume_state_format(&st, &b) == -1 ||
	    write_file_atomic(d->state_file, buf_head(&b), buf_avail(&b)) == -1)
		log_warnx("download %s: cannot save its state", d->info.name);
	buf_free(&b);
}

static void
save_state(struct dl *d)
{
	switch (d->phase) {
	case DLP_PAUSED:
		save_status(d, RS_PAUSED);
		break;
	case DLP_FAILED:
		save_status(d, RS_FAILED);
		break;
	default:
		save_status(d, RS_RUNNING);
	}
}

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
part_close(struct dl *d)
{
	if (d->fd != -1)
		close(d->fd);
	if (d->dfd != -1)
		close(d->dfd);
	d->fd = d->dfd = -1;
}

static void
dl_stop(struct dl *d)
{
	offer_withdraw(d);
	while (d->peers != NULL)
		seeder_drop(d->peers, NULL);
	verify_hasher_stop(d);
	if (d->w.started)
		verify_whole_join(d, 1);
	ev_timer_cancel(d->tick);
	d->tick = 0;
	part_close(d);
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
	log_warnx("download %s/%s failed: %s (verified pieces kept)",
	    d->info.group, d->info.name, d->info.error);
	if (d->dirty)
		save_have(d);
	dl_enter(d, DLP_FAILED);
	dl_stop(d);
	save_state(d);
	notify(d);
	history_save();
	queue_run();
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
	struct share	 sh, *added;
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
	if (tracker_logged_in())
		strlcpy(sh.user, tracker_user(), sizeof(sh.user));
	if ((sh.piece_sha1 = malloc(d->meta.npieces ?
	    (size_t)d->meta.npieces * SHA1_LEN : 1)) == NULL ||
	    (memcpy(sh.piece_sha1, d->meta.piece_sha1,
	    (size_t)d->meta.npieces * SHA1_LEN), 0) ||
	    (added = store_add_share(&sh)) == NULL) {
		free(sh.piece_sha1);
		log_warnx("download %s: cannot add it to the shares",
		    d->info.name);
		return;
	}
	announce_completed(added);
}

static void
dl_finish(struct dl *d)
{
	uint64_t	t, el;
	uint32_t	left = 0;
	int		r;

	t = ev_now_ms();
	left = verify_whole_left(d);
	/* The piece thread may still hash an endgame duplicate: stop it
	 * before the whole-file digest and its mutex go away. */
	verify_hasher_stop(d);
	r = d->meta.npieces == 0 ? verify_empty(d) : verify_whole_join(d, 0);
	t = ev_now_ms() - t;
	if (r != 1) {
		dl_fail(d, r == 0 ? "whole-file SHA-1 mismatch" :
		    "cannot read back %s", d->part);
		if (r == 0) {	/* every piece checked, the whole not: none kept */
			unlink(d->part);
			drop_state(d);
		}
		return;
	}
	if (rename_noreplace(d->part, d->info.dest) == -1) {
		dl_fail(d, "rename to %s: %s", d->info.dest, strerror(errno));
		return;
	}
	dl_stop(d);
	drop_state(d);
	dl_enter(d, DLP_COMPLETE);
	d->info.stalled = 0;
	d->info.bytes_done = d->info.bytes_total;
	d->info.pieces_done = d->info.pieces_total;
	el = ev_now_ms() - d->started_ms;
	/* a finished download shows the average rate of its last run */
	d->info.bytes_per_second = (d->info.bytes_total - d->started_bytes) *
	    1000 / (el > 0 ? el : 1);
	log_info("download %s/%s complete: %s (%llu ms, %llu ms of it on the "
	    "final hash of %u pieces; %u of %u hashed once in memory, %u read "
	    "back from the page cache)", d->info.group, d->info.name,
	    d->info.dest, (unsigned long long)el, (unsigned long long)t, left,
	    d->w.hot, d->meta.npieces, d->w.cached);
	become_seeder(d);
	notify(d);
	history_save();
	queue_run();
}

static void
announced_cb(void *arg, const struct treply *r)
{
	struct dl	*d = arg;

	if (dl_unref(d))
		return;
	d->announcing = 0;
	if (r->kind == TREPLY_OK)
		d->announced = 1;
	else
		log_debug("download %s: upload_file: %s", d->info.name,
		    tproto_message(r));
}

static void
dl_announce(struct dl *d)
{
	struct buf	b;

	if (d->announcing || d->info.state != DL_RUNNING || d->s.ndone == 0 ||
	    !tracker_logged_in())
		return;
	buf_init(&b, (size_t)d->meta.npieces * 41 + 1024);
	if (tproto_upload_partial(&b, d->info.group, d->info.name,
	    d->meta.size, peer_advertised(), d->meta.sha1, d->meta.npieces,
	    d->meta.piece_sha1) == -1)
		goto out;
	if (tracker_send(buf_head(&b), announced_cb, d) == 0) {
		d->refs++;
		d->announcing = 1;
	}
out:
	buf_free(&b);
}

/* A verified piece: store it, then as dl_piece_stored. */
int
dl_piece_verified(struct dl *d, uint32_t idx, const uint8_t *data, uint32_t len)
{
	if (bf_test(d->s.have, idx))
		return 0;
	if (verify_store(d, idx, data, len) == -1) {
		dl_fail(d, "write %s: %s", d->part, strerror(errno));
		return -1;
	}
	return dl_piece_stored(d, idx, len);
}

/* A verified piece is in the .part file: offer it, record it. -1 if the
 * download ended (finished or failed). */
static int
dl_piece_stored(struct dl *d, uint32_t idx, uint32_t len)
{
	uint32_t	front;

	if (bf_test(d->s.have, idx))
		return 0;
	front = d->s.front;
	sched_verified(&d->s, idx);
	d->info.pieces_done = d->s.ndone;
	d->info.bytes_done += len;
	d->last_live = d->last_progress = ev_now_ms();
	d->info.stalled = 0;
	d->dirty++;
	if (d->s.front != front)
		verify_whole_advance(d);
	if (ev_now_ms() - d->last_save >= DL_SAVE_MS)
		save_have(d);
	seeder_cancel_elsewhere(d, NULL, idx);
	seeder_have(d, idx);
	offer_piece(d, idx);
	if (!d->announced)
		dl_announce(d);
	if (sched_complete(&d->s) && d->phase == DLP_FETCHING) {
		dl_enter(d, DLP_FINISHING);
		dl_finish(d);
		return -1;
	}
	return 0;
}

/* Open connections to seeders we are not connected to. */
void
dl_connect_more(struct dl *d)
{
	uint64_t	now = ev_now_ms();
	struct known	*k;
	int		i, start, limit;

	dlticket_tick(d);
	start = d->nknown ? (int)(rng_seed++ % (uint64_t)d->nknown) : 0;
	for (i = 0; i < d->nknown && d->npeers < DL_MAX_PEERS; i++) {
		k = &d->known[(start + i) % d->nknown];
		limit = k->fallback ? DL_GP_CONNS : 1;
		if (k->banned && k->ban_until != 0 && now >= k->ban_until) {
			/* a ban for failures lapses; one more failure
			 * brings it back */
			k->banned = 0;
			k->fails = DL_MAX_FAILS - 1;
		}
		if (k->banned || k->nconn >= limit || k->retry_at > now ||
		    (!k->fallback && !dlticket_ready(d)))
			continue;
		seeder_connect(d, k);
	}
}

void
dl_learn_peer(struct dl *d, const struct endpoint *ep)
{
	known_add(d, ep);
	dl_connect_more(d);
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

/* Why nothing arrives, in one line. */
static void
stall_reason(struct dl *d, uint64_t now, char *out, size_t outlen)
{
	const char	*last = d->last_why[0] ? d->last_why : "none";
	int		 i, banned = 0;

	for (i = 0; i < d->nknown; i++)
		banned += d->known[i].banned;
	if (d->nknown == 0)
		snprintf(out, outlen, "no seeder is known%s",
		    d->tracker_ok ? " (the tracker lists none)" :
		    " (no tracker answers)");
	else if (banned == d->nknown)
		snprintf(out, outlen, "every seeder is banned (last failure: "
		    "%s)", last);
	else if (now - d->last_live > DL_STALLED_MS)
		snprintf(out, outlen, "no seeder could be reached (last "
		    "failure: %s)", last);
	else
		snprintf(out, outlen, "no verified piece for %llu s (last "
		    "failure: %s)", (unsigned long long)((now -
		    d->last_progress) / 1000), last);
}

/*
 * No verified piece for a while: say so (show_downloads, show_download,
 * and waits end with exit 1) but keep trying, at the backed-off rate of
 * the seeders' retries and the tracker refresh.
 */
static void
dl_stall(struct dl *d, uint64_t now)
{
	stall_reason(d, now, d->info.error, sizeof(d->info.error));
	d->info.stalled = 1;
	log_warnx("download %s/%s stalled: %s", d->info.group, d->info.name,
	    d->info.error);
	notify(d);
}

static void
dl_tick(void *arg)
{
	struct dl	*d = arg;
	uint64_t	 now = ev_now_ms();
	struct session	*p;
	char		 why[sizeof(d->info.error)];
	int		 live = 0;

	d->tick = 0;
	if (d->info.state != DL_RUNNING)
		return;
	seeder_check_all(d);
	if (d->info.state != DL_RUNNING)
		return;
	for (p = d->peers; p != NULL; p = p->next)
		live += p->counted || p->st == P_GP;
	d->info.seeders = (uint32_t)live;
	if (live > 0)
		d->last_live = now;
	dl_connect_more(d);
	if (now - d->last_refresh >= DL_REFRESH_MS ||
	    (d->npeers == 0 && now - d->last_refresh >= DL_RETRY_MS))
		dl_refresh(d);
	if (d->dirty && now - d->last_save >= DL_SAVE_MS)
		save_have(d);
	update_rate(d);
	/* every seeder proven bad: fail and say which pieces (the
	 * verified ones are kept); otherwise stalled, still trying */
	if (d->tracker_ok && now - d->last_live > DL_NO_SEEDER_MS &&
	    seeder_all_bad(d, why, sizeof(why))) {
		dl_fail(d, "%s", why);
		return;
	}
	if (!d->info.stalled && now - d->last_progress > DL_STALLED_MS)
		dl_stall(d, now);
	d->tick = ev_timer(DL_TICK_MS, dl_tick, d);
}

static void
refresh_cb(void *arg, const struct treply *r)
{
	struct dl		*d = arg;
	struct tfile		 f;
	struct endpoint		 eps[DL_MAX_KNOWN];
	int			 n, i;

	if (dl_unref(d))
		return;
	d->refreshing = 0;
	if (d->info.state != DL_RUNNING || r->kind == TREPLY_NONE)
		return;
	if (tproto_file(r, &f, eps, DL_MAX_KNOWN, &n) == 0 &&
	    memcmp(f.sha1, d->meta.sha1, SHA1_LEN) == 0) {
		d->tracker_ok = 1;
		for (i = 0; i < n; i++)
			known_add(d, &eps[i]);
	} else if (tproto_is(r, "no_such_file") ||
	    tproto_is(r, "no_such_group"))
		d->tracker_ok = 1;	/* nobody seeds it any more */
	free(f.piece_sha1);
	dl_connect_more(d);
}

static void
dl_refresh(struct dl *d)
{
	struct buf	b;

	d->last_refresh = ev_now_ms();
	if (!d->announced)
		dl_announce(d);
	if (d->refreshing || !tracker_logged_in())
		return;
	buf_init(&b, 256);
	if (tproto_download_partial(&b, d->info.group, d->info.name) == 0 &&
	    tracker_send(buf_head(&b), refresh_cb, d) == 0) {
		d->refs++;
		d->refreshing = 1;
	}
	buf_free(&b);
}

static struct dl *
dl_new(const char *group, const char *name, const char *dest)
{
	struct dl	*d, **pp;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->fd = d->dfd = -1;
	dl_enter(d, DLP_QUEUED);	/* until dl_activate */
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
	offer_withdraw(d);
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

int
dl_unref(struct dl *d)
{
	if (--d->refs == 0 && d->zombie) {
		dl_free(d);
		return 1;
	}
	return d->zombie;
}

/* pieces_done and bytes_done from a bitfield of verified pieces. */
static void
set_progress(struct dl *d, const uint8_t *have)
{
	uint32_t	i;

	d->info.bytes_total = d->meta.size;
	d->info.pieces_total = d->meta.npieces;
	d->info.pieces_done = 0;
	d->info.bytes_done = 0;
	for (i = 0; have != NULL && i < d->meta.npieces; i++)
		if (bf_test(have, i)) {
			d->info.pieces_done++;
			d->info.bytes_done += piece_len(d->meta.size, i);
		}
}

/* Start the engine on a download whose meta, fd and have bits are set. */
static int
dl_run(struct dl *d, const uint8_t *have)
{
	rng_seed = rng_seed * 6364136223846793005ull + (uint64_t)ev_now_ms();
	sched_free(&d->s);		/* a paused one had one */
	d->run++;
	if (sched_init(&d->s, d->meta.npieces, have, rng_seed) == -1 ||
	    offer_partial(d, d->meta.sha1, d->info.group, d->meta.size,
	    d->s.n, d->s.have, d->fd) == -1)
		return -1;
	set_progress(d, d->s.have);
	d->rate_at = d->last_live = d->last_save = d->started_ms =
	    d->last_progress = ev_now_ms();
	d->rate_bytes = d->started_bytes = d->info.bytes_done;
	if (d->meta.npieces > 0 && (verify_whole_start(d, digested_cb) == -1 ||
	    verify_hasher_start(d, hashed_cb) == -1))
		return -1;
	if (sched_complete(&d->s)) {
		dl_enter(d, DLP_FINISHING);
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

/*
 * FILE.part at exactly its whole size, its blocks reserved where the file
 * system can (a disk too full shows now, not halfway through). Pieces
 * then overwrite reserved blocks: written straight to the disk they need
 * no allocation each, which ext4 would do one write at a time under the
 * file's lock, the digest and the hashers waiting behind it. 0, or -1.
 */
static int
part_allocate(int fd, uint64_t size)
{
	if (size > 0 && fallocate(fd, 0, 0, (off_t)size) == -1 &&
	    errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL &&
	    errno != EINTR)
		return -1;		/* ENOSPC, EDQUOT, EFBIG, EIO */
	return ftruncate(fd, (off_t)size);	/* never longer either */
}

/* Open FILE.part: an existing one (ours), or a new one that must not
 * exist yet (O_EXCL: nothing planted there is ever truncated). */
static int
open_part(struct dl *d, int create)
{
	int	fl = O_RDWR | O_CLOEXEC | O_NOFOLLOW |
	    (create ? O_CREAT | O_EXCL : 0);
	int	saved;

	if ((d->fd = open(d->part, fl, 0644)) == -1)
		return -1;
	if (part_allocate(d->fd, d->meta.size) == -1) {
		saved = errno;
		if (create)		/* ours, and empty */
			unlink(d->part);
		part_close(d);
		errno = saved;
		return -1;
	}
	/* Received pieces go to the disk straight from their buffers (no
	 * page cache to fill); -1 where the file system does not allow it. */
	d->dfd = open(d->part, O_RDWR | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);
	return 0;
}

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
		if (verify_piece(d, i, buf, len)) {
			bf_set(have, i);
			found++;
		}
	}
	free(buf);
	if (found > 0)
		log_info("download %s: %u verified pieces recovered from %s",
		    d->info.name, found, d->part);
}

/* The saved bitfield of d (all clear if absent or unreadable); NULL when
 * out of memory. */
static uint8_t *
load_have(struct dl *d)
{
	uint8_t	*have;
	char	*text;

	if ((have = bf_new(d->meta.npieces)) == NULL)
		return NULL;
	if ((text = read_small_file(d->state_have, RESUME_MAX_FILE,
	    NULL)) != NULL && resume_have_parse(text, d->meta.npieces,
	    have) == -1)
		memset(have, 0, bf_bytes(d->meta.npieces));
	free(text);
	return have;
}

/* Number of downloads fetching. */
static int
n_active(void)
{
	struct dl	*d;
	int		 n = 0;

	for (d = dls; d != NULL; d = d->next)
		n += dl_active(d);
	return n;
}

static int
slot_free(void)
{
	return conf.max_active <= 0 || n_active() < conf.max_active;
}

/*
 * Fetch d (new, queued, paused or failed): open its .part (ours: its
 * resume state says so), take the pieces verified so far and go. -1 with
 * d failed (the reason in its error) if it cannot.
 */
static int
dl_activate(struct dl *d)
{
	uint8_t	*have;

	if ((have = load_have(d)) == NULL) {
		snprintf(d->info.error, sizeof(d->info.error), "out of memory");
		goto fail;
	}
	set_progress(d, have);	/* what a failure here shows */
	if (open_part(d, 0) == -1) {
		if (errno != ENOENT || open_part(d, 1) == -1) {
			snprintf(d->info.error, sizeof(d->info.error),
			    "%.200s: %s", d->part, strerror(errno));
			goto fail;
		}
		memset(have, 0, bf_bytes(d->meta.npieces));	/* .part lost */
	} else
		recover_pieces(d, have);
	dl_enter(d, DLP_FETCHING);
	d->auto_paused = 0;
	if (dl_run(d, have) == -1) {
		snprintf(d->info.error, sizeof(d->info.error),
		    "cannot start the download");
		goto fail;
	}
	free(have);
	if (d->s.ndone > 0)
		log_info("download %s/%s resumed with %u of %u pieces",
		    d->info.group, d->info.name, d->s.ndone, d->s.n);
	if (d->phase == DLP_FETCHING) {
		save_state(d);
		d->last_refresh = 0;	/* ask for seeders at the next tick */
		dl_connect_more(d);
	}
	return 0;
fail:
	free(have);
	part_close(d);
	dl_enter(d, DLP_FAILED);
	log_warnx("download %s/%s failed: %s", d->info.group, d->info.name,
	    d->info.error);
	save_state(d);
	notify(d);
	return -1;
}

/* Start queued downloads, in order, while there are free slots. */
static void
queue_run(void)
{
	static int	 running, again;
	struct dl	*d;

	if (running) {
		again = 1;
		return;
	}
	running = 1;
	do {
		again = 0;
		for (d = dls; d != NULL && slot_free(); d = d->next)
			if (d->phase == DLP_QUEUED) {
				(void)dl_activate(d);
				again = 1;
				break;
			}
	} while (again);
	running = 0;
}

/* Read a resume meta file; 0, or -1 if absent or unreadable. */
static int
meta_read(const char *path, struct resume_meta *m)
{
	char	*text;
	int	 r;

	if ((text = read_small_file(path, RESUME_MAX_FILE, NULL)) == NULL)
		return -1;
	r = resume_meta_parse(text, m);
	free(text);
	return r;
}

/*
 * Whose is an existing FILE.part? 1: this download's, same content; 2:
 * this download's, but the tracker's file changed since; 0: not ours (no
 * resume state of this group and file names that destination).
 */
static int
part_owner(struct dl *d)
{
	struct resume_meta	m;
	int			r = 0;

	if (meta_read(d->state_meta, &m) == -1)
		return 0;
	if (strcmp(m.dest, d->info.dest) == 0)
		r = memcmp(m.sha1, d->meta.sha1, SHA1_LEN) == 0 &&
		    m.size == d->meta.size ? 1 : 2;
	free(m.piece_sha1);
	return r;
}

/* FILE.part before a start: ours is kept, ours of an older content is
 * restarted, anybody else's is refused. 0, or -1 with err set. */
static int
claim_part(struct dl *d, char *err, size_t errlen)
{
	struct stat	st;

	if (lstat(d->part, &st) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", d->part,
			    strerror(errno));
			return -1;
		}
		unlink(d->state_have);		/* no pieces without it */
		return 0;
	}
	switch (S_ISREG(st.st_mode) ? part_owner(d) : 0) {
	case 1:
		return 0;
	case 2:
		log_info("download %s: %s holds an older content, restarted",
		    d->info.name, d->part);
		unlink(d->part);
		unlink(d->state_have);
		return 0;
	}
	snprintf(err, errlen, "%s exists and is not this download's own "
	    "(move it away or download elsewhere)", d->part);
	return -1;
}

/* Build a download from the tracker's answer; NULL with err set if not. */
static struct dl *
dl_create(const struct start_req *sr, const struct treply *r, char *err,
    size_t errlen)
{
	struct endpoint	 eps[DL_MAX_KNOWN];
	struct tfile	 f;
	struct dl	*d;
	int		 n, i;

	if ((d = dl_new(sr->group, sr->name, sr->dest)) == NULL) {
		strlcpy(err, "out of memory", errlen);
		return NULL;
	}
	if (tproto_file(r, &f, eps, DL_MAX_KNOWN, &n) == -1) {
		strlcpy(err, "malformed answer from the tracker", errlen);
		goto fail;
	}
	d->meta.size = f.size;
	memcpy(d->meta.sha1, f.sha1, SHA1_LEN);
	d->meta.npieces = f.npieces;
	d->meta.piece_sha1 = f.piece_sha1;
	strlcpy(d->meta.group, sr->group, sizeof(d->meta.group));
	strlcpy(d->meta.name, sr->name, sizeof(d->meta.name));
	strlcpy(d->meta.dest, sr->dest, sizeof(d->meta.dest));
	for (i = 0; i < n; i++)
		known_add(d, &eps[i]);
	if (d->nknown == 0 && d->meta.size > 0) {
		strlcpy(err, "no seeder has this file", errlen);
		goto fail;
	}
	if (claim_part(d, err, errlen) == -1)
		goto fail;
	return d;
fail:
	dl_unlink(d);
	return NULL;
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

	if ((d = dl_find(group, name)) != NULL && d->phase == DLP_PAUSED)
		snprintf(err, errlen, "paused (sharectl resume_download %s %s)",
		    group, name);
	else if (d != NULL && dl_pending(d))
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

/* The tracker answered download_file: refuse, or start in the background
 * (or queue it behind conf.max_active others). */
static void
start_reply(void *arg, const struct treply *r)
{
	struct start_req	*sr = arg;
	struct dl		*d;
	char			 err[PATH_MAX + 128];

	if (r->kind != TREPLY_OK) {
		sr->cb(sr->arg, r->kind == TREPLY_NONE ? DL_NO_TRACKER :
		    DL_REFUSED, tproto_message(r));
		goto out;
	}
	/* checked again: the tracker's answer took a while */
	if (start_refused(sr->group, sr->name, NULL, sr->dest, err,
	    sizeof(err))) {
		sr->cb(sr->arg, DL_REFUSED, err);
		goto out;
	}
	if ((d = dl_find(sr->group, sr->name)) != NULL)
		dl_unlink(d);	/* an earlier, finished attempt */
	if ((d = dl_create(sr, r, err, sizeof(err))) == NULL) {
		sr->cb(sr->arg, DL_REFUSED, err);
		goto out;
	}
	if (save_meta(d) == -1)
		log_warnx("download %s: cannot save resume state", sr->name);
	d->seq = next_seq++;
	d->tracker_ok = 1;
	d->last_refresh = ev_now_ms();
	log_info("download %s/%s started: %llu bytes, %d seeders", sr->group,
	    sr->name, (unsigned long long)d->meta.size, d->nknown);
	if (slot_free())
		(void)dl_activate(d);
	else {
		dl_enter(d, DLP_QUEUED);
		set_progress(d, NULL);
		save_state(d);
	}
	sr->cb(sr->arg, DL_STARTED, NULL);
	history_save();
out:
	free(sr);
}

void
download_start(const char *group, const char *name, const char *destdir,
    dl_start_cb *cb, void *arg)
{
	struct start_req	*sr;
	struct buf		 b;
	char			 line[2 * PATH_MAX + 64];
	int			 n;

	if (!name_valid(group) || !name_valid(name) || destdir[0] != '/') {
		cb(arg, DL_REFUSED, "bad group, file or destination");
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL) {
		cb(arg, DL_REFUSED, "out of memory");
		return;
	}
	strlcpy(sr->group, group, sizeof(sr->group));
	strlcpy(sr->name, name, sizeof(sr->name));
	n = snprintf(sr->dest, sizeof(sr->dest), "%s%s%s", destdir,
	    destdir[strlen(destdir) - 1] == '/' ? "" : "/", name);
	if (n < 0 || (size_t)n + 5 >= sizeof(sr->dest)) {
		free(sr);
		cb(arg, DL_REFUSED, "destination path too long");
		return;
	}
	if (start_refused(group, name, destdir, sr->dest, line,
	    sizeof(line))) {
		free(sr);
		cb(arg, DL_REFUSED, line);
		return;
	}
	sr->cb = cb;
	sr->arg = arg;
	buf_init(&b, 256);
	if (tproto_download_partial(&b, group, name) == -1 ||
	    tracker_send(buf_head(&b), start_reply, sr) == -1) {
		free(sr);
		cb(arg, DL_NO_TRACKER, "no tracker reachable");
	}
	buf_free(&b);
}

/* ---- restart: downloads in progress, then the history ---- */

static int
state_read(const char *path, struct resume_state *st)
{
	char	*text;
	int	 r;

	memset(st, 0, sizeof(*st));
	if ((text = read_small_file(path, 4096, NULL)) == NULL)
		return errno == ENOENT ? 0 : -1;	/* older peerd: running */
	r = resume_state_parse(text, st);
	free(text);
	return r;
}

/* A download found in state_dir as it was left: queued to run again,
 * paused, or failed (listed, its progress kept). */
static void
resume_one(const char *metapath)
{
	struct resume_meta	 m;
	struct resume_state	 st;
	struct dl		*d;
	uint8_t			*have;

	if (meta_read(metapath, &m) == -1) {
		log_warnx("%s: unreadable resume file, ignored", metapath);
		return;
	}
	if (dl_find(m.group, m.name) != NULL ||
	    (d = dl_new(m.group, m.name, m.dest)) == NULL) {
		free(m.piece_sha1);
		return;
	}
	d->meta = m;
	if (state_read(d->state_file, &st) == -1 || st.status == RS_KEPT) {
		dl_unlink(d);		/* kept for a later download_file */
		return;
	}
	d->seq = st.seq;
	if (next_seq <= st.seq)
		next_seq = st.seq + 1;
	if (st.status == RS_RUNNING && dest_exists(d->info.dest)) {
		log_warnx("download %s: %s exists; not resumed", m.name,
		    d->info.dest);
		drop_state(d);
		dl_unlink(d);
		return;
	}
	have = load_have(d);
	set_progress(d, have);
	free(have);
	if (st.status == RS_FAILED) {
		dl_enter(d, DLP_FAILED);
		strlcpy(d->info.error, st.reason, sizeof(d->info.error));
	} else
		dl_enter(d, st.status == RS_PAUSED ? DLP_PAUSED : DLP_QUEUED);
	log_info("download %s/%s found %s with %u of %u pieces", m.group,
	    m.name, st.status == RS_PAUSED ? "paused" : st.status ==
	    RS_FAILED ? "failed" : "unfinished", d->info.pieces_done,
	    m.npieces);
}

static char *
history_path(char *out, size_t outlen)
{
	if ((size_t)snprintf(out, outlen, "%s/history", conf.state_dir) >=
	    outlen)
		return NULL;
	return out;
}

static void
history_add(const struct history_entry *h)
{
	struct dl	*d;

	if (dl_find(h->group, h->name) != NULL ||
	    (d = dl_new(h->group, h->name, h->dest)) == NULL)
		return;
	dl_enter(d, h->failed ? DLP_FAILED : DLP_COMPLETE);
	d->info.finished_at = h->when;
	d->info.bytes_total = h->size;
	d->info.bytes_done = h->failed ? 0 : h->size;
	strlcpy(d->info.error, h->reason, sizeof(d->info.error));
}

static void
history_load(void)
{
	struct history_entry	 h;
	char			 path[PATH_MAX], *text, *p, *nl;

	if (history_path(path, sizeof(path)) == NULL ||
	    (text = read_small_file(path, RESUME_MAX_FILE, NULL)) == NULL)
		return;
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;		/* a torn last line */
		*nl = '\0';
		if (history_parse(p, &h) == 0)
			history_add(&h);
		else
			log_warnx("%s: a malformed line skipped", path);
	}
	free(text);
}

/* Keep at most HISTORY_MAX finished downloads: the oldest go first. */
static void
history_trim(void)
{
	struct dl	*d, *next;
	int		 n = 0;

	for (d = dls; d != NULL; d = d->next)
		n += !dl_pending(d);
	for (d = dls; d != NULL && n > HISTORY_MAX; d = next) {
		next = d->next;
		if (dl_pending(d) || d->waiters != NULL)
			continue;
		dl_unlink(d);
		n--;
	}
}

static void
history_save(void)
{
	struct history_entry	 h;
	struct dl		*d;
	struct buf		 b;
	char			 path[PATH_MAX];

	history_trim();
	if (history_path(path, sizeof(path)) == NULL)
		return;
	buf_init(&b, (size_t)HISTORY_MAX * (PATH_MAX + 512));
	for (d = dls; d != NULL; d = d->next) {
		if (dl_pending(d))
			continue;
		memset(&h, 0, sizeof(h));
		h.failed = d->phase == DLP_FAILED;
		strlcpy(h.group, d->info.group, sizeof(h.group));
		strlcpy(h.name, d->info.name, sizeof(h.name));
		strlcpy(h.dest, d->info.dest, sizeof(h.dest));
		strlcpy(h.reason, d->info.error, sizeof(h.reason));
		h.size = d->info.bytes_total;
		h.when = d->info.finished_at;
		if (history_format(&h, &b) == -1)
			log_warnx("history: %s not recorded", d->info.name);
	}
	if (write_file_atomic(path, buf_head(&b), buf_avail(&b)) == -1)
		log_warnx("cannot save the download history");
	buf_free(&b);
}

/* Start order: the queue's order, kept across restarts. */
static void
sort_by_seq(void)
{
	struct dl	*sorted = NULL, *d, **pp;

	while ((d = dls) != NULL) {
		dls = d->next;
		for (pp = &sorted; *pp != NULL && (*pp)->seq <= d->seq;
		    pp = &(*pp)->next)
			;
		d->next = *pp;
		*pp = d;
	}
	dls = sorted;
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
	history_load();
	sort_by_seq();
	queue_run();
	return 0;
}

/* ---- the control socket's view ---- */

void
download_foreach(void (*fn)(void *, const struct dl_info *), void *arg)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next)
		fn(arg, &d->info);
}

int
download_get(const char *group, const char *name, struct dl_info *out)
{
	struct dl	*d;

	if ((d = dl_find(group, name)) == NULL)
		return -1;
	*out = d->info;
	return 0;
}

int
download_wait(const char *group, const char *name, dl_done_cb *cb, void *arg)
{
	struct dl	*d;
	struct waiter	*w;

	if ((d = dl_find(group, name)) == NULL)
		return -1;
	if (!dl_pending(d) || d->info.stalled) {
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

/* ---- control of one download ---- */

static struct dl *
dl_lookup(const char *group, const char *name, char *err, size_t errlen)
{
	struct dl	*d;

	if ((d = dl_find(group, name)) == NULL)
		snprintf(err, errlen, "no download of %s in group %s", name,
		    group);
	return d;
}

/* Stop fetching d: its pieces saved, its connections closed. */
static void
dl_hold(struct dl *d, enum dl_phase phase)
{
	if (dl_active(d)) {
		if (d->s.have != NULL)
			save_have(d);
		dl_stop(d);
	}
	dl_enter(d, phase);
	set_progress(d, d->s.have);
}

int
download_pause(const char *group, const char *name, char *err,
    size_t errlen)
{
	struct dl	*d;

	if ((d = dl_lookup(group, name, err, errlen)) == NULL)
		return -1;
	if (!dl_pending(d)) {
		snprintf(err, errlen, "%s is %s", name, d->phase ==
		    DLP_COMPLETE ? "complete" : "failed (download_file again "
		    "resumes it)");
		return -1;
	}
	d->auto_paused = 0;
	if (d->phase == DLP_PAUSED)
		return 0;
	dl_hold(d, DLP_PAUSED);
	save_state(d);
	log_info("download %s/%s paused", group, name);
	queue_run();
	return 0;
}

int
download_resume(const char *group, const char *name, char *err,
    size_t errlen)
{
	struct dl	*d;

	if ((d = dl_lookup(group, name, err, errlen)) == NULL)
		return -1;
	if (d->phase == DLP_COMPLETE ||
	    (d->phase == DLP_FAILED && d->meta.piece_sha1 == NULL)) {
		snprintf(err, errlen, "%s is %s", name, d->phase ==
		    DLP_COMPLETE ? "complete" : "failed (download_file again "
		    "resumes it)");
		return -1;
	}
	if (d->phase != DLP_PAUSED && d->phase != DLP_FAILED)
		return 0;		/* running or queued already */
	if (d->phase == DLP_FAILED && dest_exists(d->info.dest)) {
		snprintf(err, errlen, "%s exists", d->info.dest);
		return -1;
	}
	dl_enter(d, DLP_QUEUED);
	save_state(d);
	log_info("download %s/%s resumed", group, name);
	queue_run();
	history_save();
	return 0;
}

int
download_cancel(const char *group, const char *name, int keep, char *err,
    size_t errlen)
{
	struct dl	*d;

	if ((d = dl_lookup(group, name, err, errlen)) == NULL)
		return -1;
	if (d->phase != DLP_COMPLETE) {
		if (dl_active(d) && keep && d->s.have != NULL)
			save_have(d);
		if (dl_active(d))
			dl_stop(d);
		if (keep && d->meta.piece_sha1 != NULL)
			save_status(d, RS_KEPT);
		else if (d->meta.piece_sha1 != NULL || dl_pending(d)) {
			unlink(d->part);
			drop_state(d);
		}
		log_info("download %s/%s cancelled%s", group, name,
		    keep ? ", progress kept" : "");
	}
	if (dl_pending(d)) {
		dl_enter(d, DLP_FAILED);
		strlcpy(d->info.error, "cancelled", sizeof(d->info.error));
		notify(d);
	}
	dl_unlink(d);
	history_save();
	queue_run();
	return 0;
}

int
download_clear_history(void)
{
	struct dl	*d, *next;
	int		 n = 0;

	for (d = dls; d != NULL; d = next) {
		next = d->next;
		if (d->phase != DLP_COMPLETE && !(d->phase == DLP_FAILED &&
		    d->meta.piece_sha1 == NULL))
			continue;
		dl_unlink(d);
		n++;
	}
	history_save();
	return n;
}

void
download_queue_changed(void)
{
	queue_run();
}

void
download_pause_all(void)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next) {
		if (d->phase != DLP_FETCHING && d->phase != DLP_QUEUED)
			continue;
		dl_hold(d, DLP_PAUSED);
		d->auto_paused = 1;
		save_state(d);
		log_info("download %s/%s paused by logout", d->info.group,
		    d->info.name);
	}
}

void
download_stop_group(const char *group)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next) {
		if (!dl_pending(d) || strcmp(d->info.group, group) != 0)
			continue;
		dl_hold(d, DLP_FAILED);
		snprintf(d->info.error, sizeof(d->info.error), "left group %s",
		    group);
		save_state(d);
		notify(d);
		log_info("download %s/%s stopped: left the group", group,
		    d->info.name);
	}
	history_save();
	queue_run();
}

/* A session began: downloads paused by a logout go on, and the tracker
 * hears again of the pieces we have. */
void
download_announce(void)
{
	struct dl	*d;
	int		 resumed = 0;

	for (d = dls; d != NULL; d = d->next) {
		d->announced = 0;
		if (d->phase == DLP_PAUSED && d->auto_paused) {
			dl_enter(d, DLP_QUEUED);
			save_state(d);
			resumed = 1;
		}
		dl_announce(d);
	}
	if (resumed)
		queue_run();
}

void
download_shutdown(void)
{
	struct dl	*d;

	for (d = dls; d != NULL; d = d->next) {
		if (!dl_active(d))
			continue;
		save_have(d);
		dl_stop(d);
	}
}
