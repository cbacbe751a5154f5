/* The journal on an etcd cluster (-J): group commit of guarded changes
 * (the journal process commits the requests of every worker together), a
 * watch applying every change in revision order, loads and read
 * barriers. */
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/proto.h"
#include "ipc/util.h"
#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"
#include "trackerd/etcd_link.h"
#include "trackerd/etcd_spill.h"
#include "trackerd/journal.h"
#include "trackerd/journal_etcd.h"
#include "trackerd/snapshot.h"

#define COMMIT_MS	1800	/* a change is answered within this */
#define FENCE_MS	500	/* of which kept for an unknown outcome */
#define ATTEMPT_MS	400	/* then the transaction goes to another member */
#define ATTEMPT_MIN_MS	150	/* ... or sooner: 4 times the usual commit
				 * time, so that a member left behind by a
				 * dead leader holds a batch less long */
#define PROBE_MS	400	/* a read barrier waits at most this */
#define DOWN_MS		1000	/* after a failed probe, reads skip them */
#define APPLY_WAIT_MS	2000	/* committed: wait this long to see it */
#define LOAD_MS		10000	/* at start, etcd may take this to answer */
#define GATHER_MS	5	/* once a txn is answered, wait this long (at
				 * most a usual commit time) for the requests
				 * it answered to come back, so that a
				 * tracker's clients share one txn */
#define LINK_GRACE_MS	2000	/* a worker answers what the journal
				 * process did not by the deadline and
				 * this */
#define SENT_BUCKETS	256
#define EXPIRY_MS	250	/* how often a worker looks for them */
#define FLUSH_RETRY_MS	10	/* answers a worker could not take yet */
#define RELINK_MS	100	/* a worker's new link, if it cannot yet */
#define PAGE_KEYS	256	/* keys per range page */
#define BATCH_CHANGES	9999	/* changes of one txn: a 4-digit index */
#define REQ_MAX_PUTS	(ETCD_MAX_OPS - 8)	/* one request's, so that it
						 * fits a txn with the head */
#define RECORD_PUTS(spills)	(2 * (spills) + 1)	/* a txn's records, at
						 * most: a spilled change
						 * alone between runs */

enum jkind { JQ_COMMIT, JQ_PROBE };

/* One request's changes (or one read barrier), answered as one. */
struct jreq {
	struct jreq	 *next;
	enum jkind	  kind;
	void		 *cookie;
	char		 *bodies;	/* each ends in '\n' */
	char		 *rkey;		/* where its first change went */
	size_t		  blen;
	size_t		  ilen;		/* bytes in its txn (spilled: less) */
	int		  nspill;	/* its spilled bodies */
	int		  n;
	char		**guards;	/* written ones first */
	int		  nguards, nwritten;
	int64_t		  base;		/* the revision it was validated at */
	int64_t		  wait_rev;	/* answered once applied here */
	uint64_t	  deadline;	/* ms: answer by then */
	enum jresult	  result;
	uint64_t	  id;		/* the worker's, on the link */
	struct mlink	 *link;		/* the worker it came from */
};

struct jqueue {
	struct jreq	*head, *tail;
};

/* The journal process: a worker's link, and the answers not sent to it
 * yet. */
struct mlink {
	struct mlink	*next;
	struct jetcd	*j;
	int		 fd, refs;
	pthread_mutex_t	 mu;
	struct buf	 out;
};

/* A transaction of the journal process's, committed at rev: its changes,
 * applied here as soon as every revision before it is. */
struct owntxn {
	struct owntxn	*next;
	int64_t		 rev;
	uint64_t	 deadline;	/* ms: left to the watch after it */
	size_t		 len;
	char		 bodies[];	/* each ends in '\n' */
};

struct jetcd {
	struct tracker	*t;
	char		 ent[160], ent_end[160], head[160], anon[160];
	struct etcd	*sync;		/* loads, catch-ups, snapshots */
	pthread_mutex_t	 sync_mu;

	/* journal process: the watch, snapshots (its loop's own connection:
	 * taking meta while holding sync_mu would invert rebuild_locked's
	 * order) */
	struct etcd	*watch, *snap, *lag;
	uint64_t	 lag_check;	/* ms: the next look at the head */
	int64_t		 lag_applied;	/* applied then, if behind the head */
	int		 lagging;	/* the stream stalled: next endpoint */
	pthread_t	 watch_tid;
	int		 watching;
	volatile int	 stop;
	int		 reload;

	/* worker: the request being validated */
	struct buf	 stage;
	size_t		 stage_inline;	/* what its txn carries of it */
	int		 nstaged, nputs, nspill;
	int64_t		 base;

	/* worker: its requests to the journal process (commitq, then sent until
	 * answered), the probe thread and the apply waiter */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv_commit, cv_probe, cv_wait;
	struct jqueue	 commitq, probeq, waitq, doneq;
	int		 nqueued;	/* in commitq */
	int		 efd;
	int		 lfd;		/* the link to the journal process */
	int		 link_down, writing;
	uint64_t	 next_id;
	struct jreq	*sent[SENT_BUCKETS];
	uint64_t	 down_until;	/* ms: etcd did not answer a probe */
	int		 started;

	/* journal process: the committer, for the requests of every worker
	 * (one txn in flight per tracker: those arriving meanwhile gather
	 * into the next, and etcd spends most per txn, not per change) */
	pthread_mutex_t	 links_mu;
	struct mlink	*links;
	uint32_t	 commit_ms8;	/* a txn's usual time, ms x 8 (EWMA) */
	uint32_t	 batches;
	int		 arrived;	/* requests since the last answer */
	int		 answered;	/* by the last txn committed */
	uint64_t	 answered_at;	/* ms */

	/* journal process: the region as its committer applies to it (lock
	 * flags of their own; a region left dirty is for others to
	 * repair) */
	struct tracker	 at;
	struct owntxn	*own;		/* by revision, not applied yet */
};

static void
q_push(struct jqueue *q, struct jreq *r)
{
	r->next = NULL;
	if (q->tail != NULL)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
}

static struct jreq *
q_pop(struct jqueue *q)
{
	struct jreq	*r = q->head;

	if (r != NULL && (q->head = r->next) == NULL)
		q->tail = NULL;
	return r;
}

static void
jreq_free(struct jreq *r)
{
	int	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nguards; i++)
		free(r->guards[i]);
	free(r->guards);
	free(r->rkey);
	if (r->bodies != NULL)
		explicit_bzero(r->bodies, r->blen);
	free(r->bodies);
	free(r);
}

/* ---- applying, shared by the watch and the loads ---- */

static int64_t
applied_rev(struct tracker *t)
{
	return __atomic_load_n(&t->hdr->applied_rev, __ATOMIC_ACQUIRE);
}

/* Tell every process waiting for a revision to look again. */
static void
applied_wake(struct tracker *t, int64_t rev)
{
	__atomic_store_n(&t->hdr->applied_rev, rev, __ATOMIC_RELEASE);
	__atomic_add_fetch(&t->hdr->applied_gen, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &t->hdr->applied_gen, FUTEX_WAKE, INT_MAX, NULL,
	    NULL, 0);
}

static void
applied_wait(struct tracker *t, uint32_t gen, int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	syscall(SYS_futex, &t->hdr->applied_gen, FUTEX_WAIT, gen, &ts, NULL,
	    0);
}

/* FNV-1a of a change body: how a waiting request knows its own. */
static uint64_t
body_hash(const char *p, size_t len)
{
	uint64_t	h = 14695981039346656037ULL;

	while (len-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

/* Remember a committed change that did not apply; meta held. */
static void
failed_record(struct tracker *t, const char *body, size_t len, int64_t rev)
{
	struct failed_apply	*f;

	f = &t->hdr->failed[t->hdr->failed_next++ % STATE_FAILED];
	f->hash = body_hash(body, len);
	__atomic_store_n(&f->rev, rev, __ATOMIC_RELEASE);
}

/* 1 if a change of r, committed at r->wait_rev, did not apply here. */
static int
failed_here(struct tracker *t, const struct jreq *r)
{
	const char	*p, *nl;
	uint64_t	 h;
	int		 i;

	if (r->kind != JQ_COMMIT || r->bodies == NULL)
		return 0;
	for (p = r->bodies; (nl = memchr(p, '\n', r->blen -
	    (size_t)(p - r->bodies))) != NULL; p = nl + 1) {
		h = body_hash(p, (size_t)(nl - p));
		for (i = 0; i < STATE_FAILED; i++)
			if (__atomic_load_n(&t->hdr->failed[i].rev,
			    __ATOMIC_ACQUIRE) == r->wait_rev &&
			    t->hdr->failed[i].hash == h)
				return 1;
	}
	return 0;
}

/* Apply one change body (a copy: apply splits it in place); meta held. */
static void
apply_one(struct tracker *t, const char *body, size_t len, int64_t rev)
{
	char	*copy;

	if ((copy = malloc(len + 1)) == NULL) {
		log_warnx("etcd: out of memory applying revision %" PRId64, rev);
		return;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	if (journal_apply_body(t, copy, len, (uint64_t)rev) == -1) {
		log_warnx("etcd: change at revision %" PRId64 " does not apply;"
		    " skipped", rev);
		failed_record(t, body, len, rev);
	}
	explicit_bzero(copy, len);
	free(copy);
	t->hdr->since_snap++;
}

/* Apply every '\n'-separated body of a record or a snapshot chunk; meta
 * held. */
static void
apply_lines(struct tracker *t, const char *p, size_t len, int64_t rev)
{
	const char	*end = p + len, *nl;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p)
			apply_one(t, p, (size_t)(nl - p), rev);
		p = nl + 1;
	}
}

/* A record of changes (not the head). */
static int
is_change(struct jetcd *j, const struct ekv *e)
{
	return !e->deleted && e->vlen > 0 &&
	    strncmp(e->key, j->ent, strlen(j->ent)) == 0 &&
	    strcmp(e->key, j->head) != 0;
}

/* ---- loading at one revision ---- */

/* Every key of [key, end) at revision rev (0: now), page by page; *rev is
 * set to the revision read. Each page goes to fn. 0 or -1. */
static int
range_all(struct jetcd *j, struct etcd *h, const char *key, const char *end,
    int64_t *rev, int64_t min_mod, int64_t max_mod, int keys_only,
    int (*fn)(struct jetcd *, struct ereply *, void *), void *arg)
{
	struct ereply	 r;
	json_object	*resp;
	char		*from = strdup(key), err[200];
	int		 amb, rc = -1;

	while (from != NULL) {
		if (etcd_post(h, "/v3/kv/range", ej_range(from, end, *rev,
		    min_mod, max_mod, PAGE_KEYS, keys_only), &resp, LOAD_MS,
		    &amb, err, sizeof(err)) == -1) {
			log_warnx("etcd: range %s: %s", from, err);
			break;
		}
		if (ej_parse_range(resp, &r) == -1) {
			log_warnx("etcd: range %s: %s", from, r.error);
			json_object_put(resp);
			ereply_free(&r);
			break;
		}
		json_object_put(resp);
		if (*rev == 0)
			*rev = r.revision;	/* the next pages read at it */
		free(from);
		from = NULL;
		if (r.more && r.nkvs > 0 &&
		    asprintf(&from, "%s\x01", r.kvs[r.nkvs - 1].key) == -1)
			from = NULL;
		rc = fn(j, &r, arg);
		ereply_free(&r);
		if (rc == -1 || from == NULL)
			break;
		rc = -1;
	}
	free(from);
	return rc;
}

struct changes {
	struct ekv	*v;
	size_t		 n, cap;
};

static int
collect(struct jetcd *j, struct ereply *r, void *arg)
{
	struct changes	*c = arg;
	struct ekv	*nv;
	size_t		 i;

	for (i = 0; i < r->nkvs; i++) {
		if (!is_change(j, &r->kvs[i]))
			continue;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1024;
			if ((nv = realloc(c->v, c->cap * sizeof(*nv))) == NULL)
				return -1;
			c->v = nv;
		}
		c->v[c->n++] = r->kvs[i];	/* takes the strings */
		r->kvs[i].key = r->kvs[i].value = NULL;
	}
	return 0;
}

/* The index of a change in its transaction: its key's last 4 digits. */
static int
change_index(const struct ekv *e)
{
	return e->keylen >= 4 ? atoi(e->key + e->keylen - 4) : 0;
}

/* Revision order; inside one transaction, the order of its puts. */
static int
cmp_change(const void *a, const void *b)
{
	const struct ekv	*x = a, *y = b;

	if (x->mod_rev != y->mod_rev)
		return x->mod_rev < y->mod_rev ? -1 : 1;
	return change_index(x) - change_index(y);
}

/* A snapshot's chunks, read in key order as one stream of lines: a line
 * longer than a chunk goes on in the next ones. */
struct snapread {
	int64_t		srev;
	struct buf	carry;		/* a line begun in an earlier chunk */
};

static int
apply_chunk(struct jetcd *j, struct ereply *r, void *arg)
{
	struct snapread	*sr = arg;
	const char	*p, *end, *nl;
	size_t		 i;

	for (i = 0; i < r->nkvs; i++) {
		p = r->kvs[i].value;
		end = p + r->kvs[i].vlen;
		if (sr->carry.len > 0) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			if (buf_append(&sr->carry, p, (size_t)(nl - p)) == -1)
				return -1;
			if (nl == end)
				continue;
			apply_lines(j->t, sr->carry.data, sr->carry.len,
			    sr->srev);
			sr->carry.len = 0;
			p = nl + 1;
		}
		for (nl = end; nl > p && nl[-1] != '\n'; nl--)
			;
		apply_lines(j->t, p, (size_t)(nl - p), sr->srev);
		if (nl < end && buf_append(&sr->carry, nl,
		    (size_t)(end - nl)) == -1)
			return -1;
	}
	return 0;
}

/* A change committed as a reference to its parts (etcd_spill.h): the
 * body read back in its place, as it was at revision rev. 0, or -1 if it
 * cannot be read now. */
static int
unspill(struct etcd *h, struct ekv *e, int64_t rev, int ms)
{
	char	*body, err[200];
	size_t	 len;

	if (!spill_is_ref(e->value, e->vlen))
		return 0;
	if ((body = spill_read(h, e->value, e->vlen, rev, ms, &len, err,
	    sizeof(err))) == NULL) {
		log_warnx("etcd: the change at revision %" PRId64 ": %s",
		    e->mod_rev, err);
		return -1;
	}
	free(e->value);
	e->value = body;
	e->vlen = len;
	return 0;
}

/* The snapshot pointer: "<revision> <chunk key prefix>"; 0 if none. */
static int
read_snapshot_ptr(struct jetcd *j, struct etcd *h, int64_t *rev,
    int64_t *srev, char chunks[200])
{
	struct ereply	 r;
	json_object	*resp;
	char		 key[200], err[200];
	int		 amb, rc = -1;

	snprintf(key, sizeof(key), "%s/snapshot", j->t->cfg.etcd.prefix);
	if (etcd_post(h, "/v3/kv/range", ej_range(key, NULL, 0, 0, 0, 0, 0),
	    &resp, LOAD_MS, &amb, err, sizeof(err)) == -1) {
		log_warnx("etcd: %s", err);
		return -1;
	}
	if (ej_parse_range(resp, &r) == 0) {
		*rev = r.revision;
		*srev = 0;
		chunks[0] = '\0';
		rc = 0;
		if (r.nkvs == 1 && sscanf(r.kvs[0].value, "%" SCNd64 " %190s",
		    srev, chunks) != 2)
			rc = -1;
	} else
		log_warnx("etcd: snapshot pointer: %s", r.error);
	ereply_free(&r);
	json_object_put(resp);
	return rc;
}

/*
 * The whole state at one revision R: the latest snapshot, then every
 * change after it, read at R; the watch goes on from R + 1. Meta and
 * every bucket held.
 */
static int
load_locked(struct jetcd *j, struct etcd *h)
{
	struct tracker	*t = j->t;
	struct changes	 c = { NULL, 0, 0 };
	char		 chunks[200], *cend;
	int64_t		 rev, srev;
	size_t		 i;
	int		 rc = -1;

	if (read_snapshot_ptr(j, h, &rev, &srev, chunks) == -1)
		return -1;
	state_reset_locked(t);
	t->hdr->since_snap = 0;
	if (chunks[0] != '\0') {
		struct snapread	sr = { srev, { 0 } };

		buf_init(&sr.carry, JOURNAL_MAX_LINE);
		cend = prefix_end(chunks);
		rc = range_all(j, h, chunks, cend, &rev, 0, 0, 0, apply_chunk,
		    &sr);
		free(cend);
		if (rc == 0 && sr.carry.len > 0)
			apply_lines(t, sr.carry.data, sr.carry.len, srev);
		buf_free(&sr.carry);
		if (rc == -1)
			return -1;
		t->hdr->since_snap = 0;
	}
	if (range_all(j, h, j->ent, j->ent_end, &rev, srev + 1, 0, 0,
	    collect, &c) == 0) {
		for (i = 0; i < c.n; i++)
			if (unspill(h, &c.v[i], rev, LOAD_MS) == -1)
				goto done;
		if (c.n > 0)
			qsort(c.v, c.n, sizeof(*c.v), cmp_change);
		for (i = 0; i < c.n; i++)
			apply_lines(t, c.v[i].value, c.v[i].vlen,
			    c.v[i].mod_rev);
		t->hdr->snap_rev = srev;
		applied_wake(t, rev);
		rc = 0;
	}
done:
	for (i = 0; i < c.n; i++) {
		free(c.v[i].key);
		free(c.v[i].value);
	}
	free(c.v);
	return rc;
}

/* The region's rebuild callback: meta and every bucket held. */
static int
rebuild_locked(struct tracker *t)
{
	struct jetcd	*j = t->etcd;
	int		 rc;

	pthread_mutex_lock(&j->sync_mu);
	rc = load_locked(j, j->sync);
	pthread_mutex_unlock(&j->sync_mu);
	if (rc == 0)
		log_info("etcd: state loaded at revision %" PRId64 " (snapshot "
		    "%" PRId64 ", %" PRIu64 " changes after it)",
		    applied_rev(t), t->hdr->snap_rev, t->hdr->since_snap);
	return rc;
}

/* ---- the watch (journal process) ---- */

/* Apply a watch message's changes; -1 if a spilled one could not be read
 * (nothing applied: the state is loaded again). */
static int
apply_events(struct jetcd *j, struct ereply *r)
{
	struct tracker	*t = j->t;
	int64_t		 done, top;
	size_t		 i;

	for (i = 0; i < r->nkvs; i++)
		if (is_change(j, &r->kvs[i]) &&
		    r->kvs[i].mod_rev > applied_rev(t) &&
		    unspill(j->lag, &r->kvs[i], r->kvs[i].mod_rev, LOAD_MS) == -1)
			return -1;
	if (state_lock_meta(t) == -1)
		return 0;
	done = top = applied_rev(t);
	for (i = 0; i < r->nkvs; i++) {
		struct ekv *e = &r->kvs[i];

		if (e->mod_rev <= done)
			continue;	/* already in a load */
		if (is_change(j, e))
			apply_lines(t, e->value, e->vlen, e->mod_rev);
		if (e->mod_rev > top)
			top = e->mod_rev;
	}
	if (top > done)
		applied_wake(t, top);
	state_unlock_meta(t);
	return 0;
}

static int64_t	probe_head(struct jetcd *, struct etcd *, int);

/*
 * Does the watch stream lag? Every 250 ms the head's revision is read: a
 * head ahead of the applied revision twice in a row, nothing applied in
 * between, is a member that stopped streaming (one left behind by a dead
 * leader, one catching up after a restart). 1 to move on.
 */
static int
watch_stalled(struct jetcd *j)
{
	uint64_t	now = mono_ms();
	int64_t		head, done = applied_rev(j->t);

	if (now < j->lag_check)
		return 0;
	j->lag_check = now + 250;
	if ((head = probe_head(j, j->lag, 200)) <= done) {
		j->lag_applied = -1;
		return 0;
	}
	if (j->lag_applied != done) {
		j->lag_applied = done;
		return 0;
	}
	j->lag_applied = -1;
	j->lagging = 1;
	return 1;
}

static int
on_watch_msg(void *arg, json_object *o)
{
	struct jetcd	*j = arg;
	struct ereply	 r;
	int		 stop = 0;

	if (o == NULL)
		return j->stop || watch_stalled(j);
	if (ej_parse_watch(o, &r) == -1) {
		log_warnx("etcd: watch: %s", r.error);
		stop = 1;
	} else if (r.canceled) {
		if (r.compact_rev > 0) {
			log_warnx("etcd: changes after revision %" PRId64
			    " were compacted away (now %" PRId64 "): "
			    "loading the latest snapshot", applied_rev(j->t),
			    r.compact_rev);
			j->reload = 1;
		}
		stop = 1;
	} else if (r.nkvs > 0 && apply_events(j, &r) == -1) {
		j->reload = 1;
		stop = 1;
	}
	ereply_free(&r);
	return stop || j->stop;
}

static void
reload(struct jetcd *j)
{
	struct tracker	*t = j->t;
	int		 rc;

	if (state_lock_meta(t) == -1)
		return;
	state_lock_all_buckets(t);
	rc = rebuild_locked(t);
	state_unlock_all_buckets(t);
	state_unlock_meta(t);
	if (rc == 0)
		j->reload = 0;
}

static void *
watch_thread(void *arg)
{
	struct jetcd	*j = arg;
	struct timespec	 ts = { 0, 100 * 1000000L };
	char		 err[256];
	int		 rc;

	while (!j->stop) {
		if (j->reload) {
			reload(j);
			if (j->reload) {
				nanosleep(&ts, NULL);
				continue;
			}
		}
		rc = etcd_watch(j->watch, ej_watch_create(j->ent, j->ent_end,
		    applied_rev(j->t) + 1), on_watch_msg, j, &j->stop, err,
		    sizeof(err));
		if (j->lagging) {
			j->lagging = 0;
			snprintf(err, sizeof(err), "watch on %s stalled behind "
			    "the head", etcd_endpoint(j->watch));
			rc = -1;
		}
		if (rc == -1) {
			log_warnx("etcd: %s; resuming from revision %" PRId64
			    " on the next endpoint", err, applied_rev(j->t) + 1);
			etcd_next(j->watch);
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- staging (a worker's event loop, meta held) ---- */

/* The bytes a change of len bytes takes in a txn: itself and its '\n', or
 * the reference to its parts when it is spilled. */
static size_t
txn_bytes(size_t len)
{
	return spill_wanted(len) ? SPILL_REF_MAX : len + 1;
}

int
jetcd_begin(struct tracker *t)
{
	if (state_lock_meta(t) == -1) {
		snprintf(t->err, sizeof(t->err), "state repair failed");
		return -1;
	}
	return 0;
}

uint64_t
jetcd_stage(struct tracker *t, const char *body, size_t len)
{
	struct jetcd	*j = t->etcd;
	char		*keys[ETCD_MAX_GUARDS];
	size_t		 cost;
	int		 n, nw;

	/* One request is one nested transaction: at most 128 operations,
	 * its puts among them (one per entity it writes). */
	if ((n = change_guards(t->cfg.etcd.prefix, body, len, keys, &nw)) == -1) {
		snprintf(t->err, sizeof(t->err), "change not known to etcd");
		return 0;
	}
	while (n > 0)
		free(keys[--n]);
	cost = txn_bytes(len);
	if (cost > ETCD_MAX_BATCH_BYTES - j->stage_inline ||
	    len > JOURNAL_MAX_LINE || j->nputs + nw + RECORD_PUTS(j->nspill +
	    spill_wanted(len)) > REQ_MAX_PUTS || memchr(body, '\n', len) != NULL) {
		snprintf(t->err, sizeof(t->err), "change too large for etcd");
		return 0;
	}
	j->nputs += nw;
	if (j->nstaged == 0)
		j->base = applied_rev(t);
	if (buf_append(&j->stage, body, len) == -1 ||
	    buf_append(&j->stage, "\n", 1) == -1) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return 0;
	}
	j->stage_inline += cost;
	j->nspill += spill_wanted(len);
	j->nstaged++;
	return 1;
}

void
jetcd_end(struct tracker *t)
{
	state_unlock_meta(t);
}

/* ---- guards of a request ---- */

static int
add_guard(struct jreq *r, char *key, int written)
{
	char	**ng;
	int	  i;

	for (i = 0; i < r->nguards; i++)
		if (strcmp(r->guards[i], key) == 0) {
			free(key);
			if (written && i >= r->nwritten) {
				/* read before, written now: move it up */
				key = r->guards[i];
				r->guards[i] = r->guards[r->nwritten];
				r->guards[r->nwritten++] = key;
			}
			return 0;
		}
	if ((ng = realloc(r->guards, (size_t)(r->nguards + 1) *
	    sizeof(*ng))) == NULL) {
		free(key);
		return -1;
	}
	r->guards = ng;
	r->guards[r->nguards++] = key;
	if (written) {
		r->guards[r->nguards - 1] = r->guards[r->nwritten];
		r->guards[r->nwritten++] = key;
	}
	return 0;
}

static int
request_guards(struct jetcd *j, struct jreq *r)
{
	char		*keys[ETCD_MAX_GUARDS];
	const char	*p = r->bodies, *nl;
	int		 n, nw, i;

	for (; (nl = memchr(p, '\n', r->blen - (size_t)(p - r->bodies)));
	    p = nl + 1) {
		if ((n = change_guards(j->t->cfg.etcd.prefix, p,
		    (size_t)(nl - p), keys, &nw)) == -1)
			return -1;
		for (i = 0; i < n; i++)
			if (add_guard(r, keys[i], i < nw) == -1) {
				while (++i < n)
					free(keys[i]);
				return -1;
			}
	}
	return 0;
}

/* ---- the worker's side ---- */


static void
done_push(struct jetcd *j, struct jreq *r, enum jresult res)
{
	r->result = res;
	q_push(&j->doneq, r);
	eventfd_write(j->efd, 1);
}

/* Committed, refused or probed at wait_rev: answer once applied here. */
/* The answer of a request whose revision is applied here: done, unless
 * its change found no room when applied (then validated again). */
static enum jresult
applied_result(struct jetcd *j, const struct jreq *r)
{
	if (r->result == JR_DONE && failed_here(j->t, r))
		return JR_CONFLICT;
	return r->result;
}

static void
wait_push(struct jetcd *j, struct jreq *r, enum jresult res, int64_t rev)
{
	r->result = res;
	r->wait_rev = rev;
	r->deadline = mono_ms() + APPLY_WAIT_MS;
	if (rev <= applied_rev(j->t))
		done_push(j, r, applied_result(j, r));
	else {
		q_push(&j->waitq, r);
		pthread_cond_signal(&j->cv_wait);
	}
}

int
journal_submit_staged(struct tracker *t, void *cookie)
{
	struct jetcd	*j = t->etcd;
	struct jreq	*r;

	if (j == NULL || j->nstaged == 0)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->bodies = malloc(j->stage.len)) == NULL)
		goto fail;
	r->kind = JQ_COMMIT;
	r->cookie = cookie;
	memcpy(r->bodies, j->stage.data, j->stage.len);
	r->blen = j->stage.len;
	r->base = j->base;
	r->deadline = mono_ms() + COMMIT_MS;
	explicit_bzero(j->stage.data, j->stage.len);
	j->stage.len = j->stage.off = j->stage_inline = 0;
	j->nstaged = j->nputs = j->nspill = 0;
	pthread_mutex_lock(&j->mu);
	r->id = ++j->next_id;
	if (j->link_down)
		done_push(j, r, JR_UNAVAILABLE);
	else {
		q_push(&j->commitq, r);
		j->nqueued++;
		pthread_cond_signal(&j->cv_commit);
	}
	pthread_mutex_unlock(&j->mu);
	return 1;
fail:
	j->stage.len = j->stage.off = j->stage_inline = 0;
	j->nstaged = j->nputs = j->nspill = 0;
	log_warnx("etcd: cannot queue a change: out of memory");
	if (r == NULL)
		return -1;
	r->cookie = cookie;
	pthread_mutex_lock(&j->mu);
	done_push(j, r, JR_UNAVAILABLE);
	pthread_mutex_unlock(&j->mu);
	return 1;
}

int
journal_probe(struct tracker *t, void *cookie)
{
	struct jetcd	*j = t->etcd;
	struct jreq	*r;

	/* etcd unreachable just now: reads go on from the state at hand */
	if (j == NULL || __atomic_load_n(&j->down_until, __ATOMIC_RELAXED) >
	    mono_ms() || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->kind = JQ_PROBE;
	r->cookie = cookie;
	r->deadline = mono_ms() + PROBE_MS;
	pthread_mutex_lock(&j->mu);
	q_push(&j->probeq, r);
	pthread_cond_signal(&j->cv_probe);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

int
journal_event_fd(struct tracker *t)
{
	return t->etcd != NULL ? t->etcd->efd : -1;
}

int
journal_done(struct tracker *t, void **cookie, enum jresult *res)
{
	struct jetcd	*j = t->etcd;
	struct jreq	*r;
	eventfd_t	 v;

	if (j == NULL)
		return 0;
	pthread_mutex_lock(&j->mu);
	if ((r = q_pop(&j->doneq)) == NULL)
		eventfd_read(j->efd, &v);
	pthread_mutex_unlock(&j->mu);
	if (r == NULL)
		return 0;
	*cookie = r->cookie;
	*res = r->result;
	jreq_free(r);
	return 1;
}

/* ---- a worker's link: its requests to the journal process, the answers
 * back ---- */

static void
sent_put(struct jetcd *j, struct jreq *r)
{
	struct jreq	**b = &j->sent[r->id % SENT_BUCKETS];

	r->next = *b;
	*b = r;
}

static struct jreq *
sent_take(struct jetcd *j, uint64_t id)
{
	struct jreq	**p, *r;

	for (p = &j->sent[id % SENT_BUCKETS]; (r = *p) != NULL; p = &r->next)
		if (r->id == id) {
			*p = r->next;
			return r;
		}
	return NULL;
}

/* Answer unavailable what the journal process did not answer in time, or
 * at all once the link is down (mu held; never while the forwarder
 * writes: its requests' bodies are in the write). */
static void
sent_expire(struct jetcd *j)
{
	struct jreq	**p, *r;
	uint64_t	  now = mono_ms();
	int		  i, n = 0;

	if (j->writing)
		return;
	for (i = 0; i < SENT_BUCKETS; i++)
		for (p = &j->sent[i]; (r = *p) != NULL; )
			if (j->link_down ||
			    r->deadline + LINK_GRACE_MS <= now) {
				*p = r->next;
				done_push(j, r, JR_UNAVAILABLE);
				n++;
			} else
				p = &r->next;
	if (n > 0 && !j->link_down)
		log_warnx("etcd: %d request(s) not answered by the journal "
		    "process in time", n);
}

/* Answer unavailable every request not handed over yet (mu held). */
static void
commitq_fail(struct jetcd *j)
{
	struct jreq	*r;

	while ((r = q_pop(&j->commitq)) != NULL)
		done_push(j, r, JR_UNAVAILABLE);
	j->nqueued = 0;
}

static void
link_down(struct jetcd *j, const char *why)
{
	if (!j->link_down)
		log_warnx("etcd: the link to the journal process failed: %s",
		    why);
	j->link_down = 1;
	commitq_fail(j);
	sent_expire(j);
}

/* Write the queued requests to the journal process, all at once (mu held,
 * dropped while writing). 0 or -1 (the link failed). */
static int
forward(struct jetcd *j)
{
	struct link_req	*hdr;
	struct iovec	*iov;
	struct jreq	*r;
	int		 i, n = j->nqueued, rc, fd;

	hdr = calloc((size_t)n, sizeof(*hdr));
	iov = calloc((size_t)n * 2, sizeof(*iov));
	if (hdr == NULL || iov == NULL) {
		free(hdr);
		free(iov);
		log_warnx("etcd: out of memory handing requests to the "
		    "journal process");
		commitq_fail(j);
		return 0;
	}
	for (i = 0; i < n && (r = q_pop(&j->commitq)) != NULL; i++) {
		hdr[i].id = r->id;
		hdr[i].base = r->base;
		hdr[i].deadline = r->deadline;
		hdr[i].blen = r->blen;
		iov[2 * i].iov_base = &hdr[i];
		iov[2 * i].iov_len = sizeof(hdr[i]);
		iov[2 * i + 1].iov_base = r->bodies;
		iov[2 * i + 1].iov_len = r->blen;
		sent_put(j, r);
	}
	j->nqueued = 0;
	j->writing = 1;		/* lfd stays, the bodies too */
	fd = j->lfd;
	pthread_mutex_unlock(&j->mu);
	rc = link_writev(fd, iov, 2 * i);
	pthread_mutex_lock(&j->mu);
	j->writing = 0;
	free(hdr);
	free(iov);
	return rc;
}

static void *
forward_thread(void *arg)
{
	struct jetcd	*j = arg;
	char		 why[100];

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (j->commitq.head == NULL)
			pthread_cond_wait(&j->cv_commit, &j->mu);
		if (forward(j) == -1) {
			snprintf(why, sizeof(why), "%s", strerror(errno));
			link_down(j, why);
		}
	}
	return NULL;
}

/* Hand one answer from the journal process to the request it is for (mu
 * held). */
static void
link_answered(struct jetcd *j, const struct link_answer *a)
{
	struct jreq	*r;
	enum jresult	 res;

	if ((r = sent_take(j, a->id)) == NULL)
		return;		/* expired already */
	res = a->result == JR_DONE || a->result == JR_CONFLICT ?
	    (enum jresult)a->result : JR_UNAVAILABLE;
	if (a->rev > 0)
		wait_push(j, r, res, a->rev);
	else
		done_push(j, r, res);
}

/* Read the journal process's answers until the link ends, looking for
 * requests unanswered in time as it goes; then answer those left
 * unavailable. */
static void
answers_read(struct jetcd *j)
{
	struct link_answer	 a[64];
	struct pollfd		 pfd = { .fd = j->lfd, .events = POLLIN };
	uint64_t		 next_expiry = 0;
	size_t			 have = 0, k;
	ssize_t			 n = 0;

	for (;;) {
		if (poll(&pfd, 1, EXPIRY_MS) == 1) {
			n = read(j->lfd, (char *)a + have, sizeof(a) - have);
			if (n == 0 || (n == -1 && errno != EINTR &&
			    errno != EAGAIN))
				break;
			have += n > 0 ? (size_t)n : 0;
		}
		pthread_mutex_lock(&j->mu);
		for (k = 0; (k + 1) * sizeof(a[0]) <= have; k++)
			link_answered(j, &a[k]);
		if (mono_ms() >= next_expiry) {
			sent_expire(j);
			next_expiry = mono_ms() + EXPIRY_MS;
		}
		pthread_mutex_unlock(&j->mu);
		have -= k * sizeof(a[0]);
		memmove(a, (char *)a + k * sizeof(a[0]), have);
	}
	pthread_mutex_lock(&j->mu);
	link_down(j, n == 0 ? "the journal process closed it" :
	    strerror(errno));
	pthread_mutex_unlock(&j->mu);
}

/* The journal process is gone (the master starts another): a new link,
 * which the next one takes up. The old one is closed once no write is
 * under way on it (a write to a closed peer fails at once). */
static void
relink(struct jetcd *j)
{
	struct timespec	ts = { 0, RELINK_MS * 1000000L };
	int		fd;

	while ((fd = link_connect()) == -1) {
		log_warn("etcd: a link to the journal process");
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&j->mu);
	while (j->writing) {
		pthread_mutex_unlock(&j->mu);
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&j->mu);
	}
	sent_expire(j);		/* those the write in progress held back */
	close(j->lfd);
	j->lfd = fd;
	j->link_down = 0;
	pthread_mutex_unlock(&j->mu);
	log_info("etcd: a new link made, for the next journal process");
}

static void *
answer_thread(void *arg)
{
	struct jetcd	*j = arg;

	for (;;) {
		answers_read(j);
		relink(j);
	}
	return NULL;
}

/* ---- the journal process: a worker's link ---- */

static void
mlink_put(struct mlink *lk)
{
	if (__atomic_sub_fetch(&lk->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	buf_free(&lk->out);
	pthread_mutex_destroy(&lk->mu);
	free(lk);
}

/* Answer r to the worker it came from (sent by links_flush), and free it. */
static void
reply_push(struct jreq *r, enum jresult res, int64_t rev)
{
	struct mlink		*lk = r->link;
	struct link_answer	 a;

	memset(&a, 0, sizeof(a));
	a.id = r->id;
	a.rev = rev;
	a.result = (int32_t)res;
	pthread_mutex_lock(&lk->mu);
	if (lk->fd != -1 && buf_append(&lk->out, &a, sizeof(a)) == -1)
		log_warnx("etcd: a worker's answers are not read: dropped one");
	pthread_mutex_unlock(&lk->mu);
	r->link = NULL;
	mlink_put(lk);
	jreq_free(r);
}

/* Send every worker the answers kept for it, as far as its socket takes
 * them now (a stopped worker holds up no one). 1 if some are left. */
static int
links_flush(struct jetcd *j)
{
	struct mlink	*lk;
	ssize_t		 n;
	int		 left = 0;

	pthread_mutex_lock(&j->links_mu);
	for (lk = j->links; lk != NULL; lk = lk->next) {
		pthread_mutex_lock(&lk->mu);
		if (lk->fd != -1 && buf_avail(&lk->out) > 0 &&
		    (n = send_until_blocked(lk->fd, buf_head(&lk->out),
		    buf_avail(&lk->out), MSG_DONTWAIT)) > 0) {
			buf_consume(&lk->out, (size_t)n);
			buf_compact(&lk->out);
		}
		left |= lk->fd != -1 && buf_avail(&lk->out) > 0;
		pthread_mutex_unlock(&lk->mu);
	}
	pthread_mutex_unlock(&j->links_mu);
	return left;
}

/* A request as the journal process commits it, from its header and
 * bodies: its changes counted and sized again here, and its guards. NULL
 * if malformed. */
static struct jreq *
link_request(struct jetcd *j, const struct link_req *h, char *bodies)
{
	struct jreq	*r;
	const char	*p, *nl, *end = bodies + h->blen;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->kind = JQ_COMMIT;
	r->bodies = bodies;
	r->blen = h->blen;
	r->id = h->id;
	r->base = h->base;
	r->deadline = h->deadline;
	for (p = bodies; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl == p || r->n == BATCH_CHANGES)
			goto bad;
		r->n++;
		r->nspill += spill_wanted((size_t)(nl - p));
		r->ilen += txn_bytes((size_t)(nl - p));
	}
	if (r->n == 0 || r->ilen > ETCD_MAX_BATCH_BYTES ||
	    request_guards(j, r) == -1 || r->nguards > REQ_MAX_PUTS ||
	    r->nwritten + RECORD_PUTS(r->nspill) > REQ_MAX_PUTS)
		goto bad;
	return r;
bad:
	r->bodies = NULL;
	jreq_free(r);
	return NULL;
}

/* Read one request from the link: 1 queued, 0 the worker is gone (end of
 * stream, or reset: a killed worker leaves answers unread), -1
 * malformed. */
static int
link_take_request(struct jetcd *j, struct mlink *lk)
{
	struct link_req	 h;
	struct jreq	*r;
	char		*bodies;

	if (link_read(lk->fd, &h, sizeof(h)) != 1)
		return 0;
	if (h.blen == 0 || h.blen > JOURNAL_MAX_LINE + ETCD_MAX_BATCH_BYTES ||
	    (bodies = malloc(h.blen)) == NULL)
		return -1;
	if (link_read(lk->fd, bodies, h.blen) != 1) {
		free(bodies);
		return 0;
	}
	if ((r = link_request(j, &h, bodies)) == NULL) {
		explicit_bzero(bodies, h.blen);
		free(bodies);
		return -1;
	}
	r->link = lk;
	__atomic_add_fetch(&lk->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&j->mu);
	q_push(&j->commitq, r);
	j->nqueued++;
	j->arrived++;
	pthread_cond_signal(&j->cv_commit);
	pthread_mutex_unlock(&j->mu);
	return 1;
}

static void *
link_thread(void *arg)
{
	struct mlink	 *lk = arg, **p;
	struct jetcd	 *j = lk->j;
	int		  rc;

	while ((rc = link_take_request(j, lk)) == 1)
		;
	if (rc == -1)
		log_warnx("etcd: a worker's request is malformed or too large "
		    "for memory: its link is closed");
	pthread_mutex_lock(&j->links_mu);
	for (p = &j->links; *p != NULL; p = &(*p)->next)
		if (*p == lk) {
			*p = lk->next;
			break;
		}
	pthread_mutex_unlock(&j->links_mu);
	pthread_mutex_lock(&lk->mu);
	close(lk->fd);
	lk->fd = -1;
	pthread_mutex_unlock(&lk->mu);
	mlink_put(lk);
	return NULL;
}

static void *
accept_thread(void *arg)
{
	struct jetcd	*j = arg;
	struct mlink	*lk;
	pthread_t	 tid;
	int		 fd;

	for (;;) {
		if ((fd = link_accept()) == -1) {
			log_warn("etcd: the workers' links");
			return NULL;
		}
		if ((lk = calloc(1, sizeof(*lk))) == NULL) {
			close(fd);
			continue;
		}
		lk->j = j;
		lk->fd = fd;
		lk->refs = 1;
		pthread_mutex_init(&lk->mu, NULL);
		buf_init(&lk->out, 1u << 20);
		pthread_mutex_lock(&j->links_mu);
		lk->next = j->links;
		j->links = lk;
		pthread_mutex_unlock(&j->links_mu);
		if (pthread_create(&tid, NULL, link_thread, lk) != 0)
			fatalx("etcd: pthread_create");
		pthread_detach(tid);
	}
}

/* ---- committers: many requests per transaction ---- */


struct batch {
	struct jreq	*r[ETCD_MAX_OPS];
	int		 n, changes;
	int		 puts, cmps;	/* of its requests */
	int		 spills;	/* compares on spilled parts */
	size_t		 bytes;
	char		 id[40];	/* "NN-pid-batch-": its keys end in it + index */
};

/* Does r touch a guard key already in the batch? (etcd evaluates every
 * compare of a transaction before its puts: two changes on one key in
 * one transaction would both pass.) */
static int
batch_clash(const struct batch *b, const struct jreq *r)
{
	int	i, k, m;

	for (i = 0; i < b->n; i++)
		for (k = 0; k < r->nguards; k++)
			for (m = 0; m < b->r[i]->nguards; m++)
				if ((k < r->nwritten || m < b->r[i]->nwritten) &&
				    strcmp(r->guards[k], b->r[i]->guards[m]) == 0)
					return 1;
	return 0;
}

/* The commit queue is now the list keep (mu held). */
static void
commitq_keep(struct jetcd *j, struct jreq *keep)
{
	struct jreq	*r;

	j->commitq.head = keep;
	j->commitq.tail = NULL;
	j->nqueued = 0;
	for (r = keep; r != NULL; r = r->next) {
		j->commitq.tail = r;
		j->nqueued++;
	}
}

/* Take what fits from the queue (mu held), oldest first; a request that
 * clashes waits for the next batch. Those past their deadline fail. */
static void
batch_fill(struct jetcd *j, struct batch *b)
{
	struct jreq	*r, *keep = NULL, **kt = &keep, *next;
	uint64_t	 now = mono_ms();

	b->n = b->changes = b->puts = b->cmps = b->spills = 0;
	b->bytes = 0;
	for (r = j->commitq.head; r != NULL; r = next) {
		next = r->next;
		if (r->deadline <= now) {
			reply_push(r, JR_UNAVAILABLE, 0);
			continue;
		}
		if (b->puts + r->nwritten + RECORD_PUTS(b->spills + r->nspill) >
		    ETCD_MAX_OPS - 1 ||
		    b->cmps + b->spills + r->nguards + r->nspill >
		    ETCD_MAX_OPS - 2 ||
		    b->changes + r->n > BATCH_CHANGES ||
		    b->bytes + r->ilen > ETCD_MAX_BATCH_BYTES ||
		    batch_clash(b, r)) {
			*kt = r;
			kt = &r->next;
			continue;
		}
		b->r[b->n++] = r;
		b->bytes += r->ilen;
		b->changes += r->n;
		b->puts += r->nwritten;	/* a put marks each */
		b->cmps += r->nguards;
		b->spills += r->nspill;
	}
	*kt = NULL;
	commitq_keep(j, keep);
	snprintf(b->id, sizeof(b->id), "%02d-%08x-%08x-",
	    j->t->cfg.tracker_no, (unsigned)getpid(), ++j->batches);
}

/* The batch's fence: once it exists, the batch can no longer commit. */
static void
fence_key(struct jetcd *j, const struct batch *b, char *out, size_t len)
{
	snprintf(out, len, "%s/fence/%s", j->t->cfg.etcd.prefix, b->id);
}

/* The key of the record whose first change is at index op of the batch. */
#define KEY_MAX	300
static void
record_key(struct jetcd *j, const struct batch *b, int op, char out[KEY_MAX])
{
	snprintf(out, KEY_MAX, "%s%s%04d", j->anon, b->id, op);
}

/* Where the parts of the spilled body at index op of the batch go. */
static void
batch_spill_dir(struct jetcd *j, const struct batch *b, int op, char *out,
    size_t len)
{
	char	tag[64];

	snprintf(tag, sizeof(tag), "%s%04d", b->id, op);
	spill_dir(j->t->cfg.etcd.prefix, tag, out, len);
}

/*
 * A transaction's records: its changes in order, one journal line each,
 * as few puts under anon as possible (one watch event for a run of them,
 * not one per change); a spilled change alone, as a reference to its
 * parts, whose presence a compare requires.
 */
struct records {
	char	*run;		/* the bodies of the run being gathered */
	size_t	 len, cap;
	int	 first;		/* the run's first change (-1: none yet) */
};

/* The run gathered so far as one put, under its first change's index. */
static void
records_flush(struct jetcd *j, const struct batch *b, struct records *rc,
    json_object *ops)
{
	char	key[KEY_MAX];

	if (rc->first == -1)
		return;
	record_key(j, b, rc->first, key);
	json_object_array_add(ops, ej_put(key, rc->run, rc->len));
	rc->len = 0;
	rc->first = -1;
}

/* One body at index op into the records. Returns the index its record
 * is keyed by. */
static int
body_puts(struct jetcd *j, const struct batch *b, struct records *rc,
    const char *body, size_t len, int op, json_object *ops, json_object *cmp)
{
	char	key[KEY_MAX], dir[300], ref[SPILL_REF_MAX];

	if (spill_wanted(len)) {
		records_flush(j, b, rc, ops);
		record_key(j, b, op, key);
		batch_spill_dir(j, b, op, dir, sizeof(dir));
		json_object_array_add(ops, ej_put(key, ref,
		    spill_ref(ref, dir, body, len)));
		json_object_array_add(cmp, spill_compare(dir));
		return op;
	}
	if (rc->first == -1)
		rc->first = op;
	memcpy(rc->run + rc->len, body, len);
	rc->run[rc->len + len] = '\n';
	rc->len += len + 1;
	return rc->first;
}

/* A request's puts into ok and its compares into cmp: its changes into
 * the records, an empty put on each entity it writes (outside the
 * watched range; no two requests of a batch write one), a compare on
 * each it depends on. *op counts the batch's changes. */
static void
request_ops(struct jetcd *j, struct batch *b, struct records *rc,
    struct jreq *r, int *op, json_object *ok, json_object *cmp)
{
	const char	*p, *nl;
	char		 key[KEY_MAX];
	int		 k, rec;

	free(r->rkey);
	r->rkey = NULL;
	for (k = 0, p = r->bodies; k < r->n; k++, p = nl + 1) {
		nl = memchr(p, '\n', r->blen - (size_t)(p - r->bodies));
		rec = body_puts(j, b, rc, p, (size_t)(nl - p), (*op)++, ok,
		    cmp);
		if (k == 0) {	/* where its first change went */
			record_key(j, b, rec, key);
			r->rkey = strdup(key);
		}
	}
	for (k = 0; k < r->nwritten; k++)
		json_object_array_add(ok, ej_put(r->guards[k], "", 0));
	for (k = 0; k < r->nguards; k++)
		json_object_array_add(cmp, ej_guard_compare(r->guards[k],
		    r->base));
}

/*
 * The batch as one flat transaction: every request's compares, then its
 * records and the puts that mark the entities written (a nested
 * transaction per request costs etcd about half as much again per
 * change). No failure branch: etcd decodes and replicates one with every
 * transaction, and it cost a third of the throughput; when a compare
 * fails, batch_looks asks afterwards. The outer compares make a copy that
 * arrives late harmless: the batch commits once (its first record's key
 * is new) and not after its fence. NULL if out of memory.
 */
static json_object *
batch_txn(struct jetcd *j, struct batch *b)
{
	json_object	*txn, *cmp, *ok;
	struct records	 rc = { NULL, 0, 0, -1 };
	char		 key[300];
	int		 i, op = 0;

	for (i = 0; i < b->n; i++)
		rc.cap += b->r[i]->blen;	/* every body and its '\n' */
	if ((rc.run = malloc(rc.cap)) == NULL)
		return NULL;
	txn = json_object_new_object();
	cmp = json_object_new_array();
	ok = json_object_new_array();
	fence_key(j, b, key, sizeof(key));
	json_object_array_add(cmp, ej_compare_absent(key));
	for (i = 0; i < b->n; i++)
		request_ops(j, b, &rc, b->r[i], &op, ok, cmp);
	records_flush(j, b, &rc, ok);
	explicit_bzero(rc.run, rc.cap);
	free(rc.run);
	if (b->r[0]->rkey != NULL)
		json_object_array_add(cmp, ej_compare_absent(b->r[0]->rkey));
	/* The head key's revision tells a read barrier what to wait for. */
	json_object_array_add(ok, ej_put(j->head, "", 0));
	json_object_object_add(txn, "compare", cmp);
	json_object_object_add(txn, "success", ok);
	return txn;
}

/*
 * The batch was refused at revision rev: what its compares saw then,
 * read at rev (later snapshots delete changes): whether its first
 * change's key exists (a copy sent before committed), then, per compare,
 * whether a key under the entity changed after the request's base.
 */
static json_object *
batch_looks(struct jetcd *j, struct batch *b, int64_t rev)
{
	json_object	*txn = json_object_new_object();
	json_object	*ops = json_object_new_array();
	json_object	*look = json_object_new_object();
	char		 key[300];
	int		 i, k;

	fence_key(j, b, key, sizeof(key));	/* out of memory: finds none */
	json_object_object_add(look, "request_range", ej_range(
	    b->r[0]->rkey != NULL ? b->r[0]->rkey : key, NULL, rev, 0, 0, 0,
	    1));
	json_object_array_add(ops, look);
	for (i = 0; i < b->n; i++)
		for (k = 0; k < b->r[i]->nguards; k++)
			json_object_array_add(ops, ej_guard_changed(
			    b->r[i]->guards[k], b->r[i]->base, rev));
	json_object_object_add(txn, "success", ops);
	return txn;
}

/* Put the batch's fence; 0 once etcd confirmed it. */
static int
batch_fence(struct jetcd *j, struct etcd *h, struct batch *b, uint64_t end)
{
	json_object	*txn, *ops, *resp;
	char		 key[300], err[200];
	uint64_t	 now = mono_ms();
	int		 amb;

	if (now + 20 >= end)
		return -1;
	fence_key(j, b, key, sizeof(key));
	txn = json_object_new_object();
	ops = json_object_new_array();
	json_object_array_add(ops, ej_put(key, "", 0));
	json_object_object_add(txn, "success", ops);
	if (etcd_post(h, "/v3/kv/txn", txn, &resp, (int)(end - now), &amb,
	    err, sizeof(err)) == -1)
		return -1;
	json_object_put(resp);
	return 0;
}

/* After the fence: the requests whose first change's key exists
 * committed, the others were refused by their compares; none, it never
 * committed. 1 answered, 0 nothing committed, -1 unknown. */
static int
batch_lookup(struct jetcd *j, struct etcd *h, struct batch *b,
    uint64_t end)
{
	json_object	*txn, *ops, *op, *resp;
	char		 err[200];
	uint64_t	 now = mono_ms();
	int64_t		 rev;
	int		 found[ETCD_MAX_OPS], amb, i, any = 0, rc;

	if (now + 20 >= end)
		return -1;
	txn = json_object_new_object();
	ops = json_object_new_array();
	for (i = 0; i < b->n; i++) {
		op = json_object_new_object();
		json_object_object_add(op, "request_range", ej_range(
		    b->r[i]->rkey != NULL ? b->r[i]->rkey : j->head, NULL, 0, 0,
		    0, 0, 1));
		json_object_array_add(ops, op);
	}
	json_object_object_add(txn, "success", ops);
	if (etcd_post(h, "/v3/kv/txn", txn, &resp, (int)(end - now), &amb,
	    err, sizeof(err)) == -1)
		return -1;
	rc = ej_parse_found(resp, found, b->n, err, sizeof(err));
	rev = 0;
	if (rc == 0)
		ej_parse_txn(resp, &rev, NULL, 0, err, sizeof(err));
	json_object_put(resp);
	if (rc == -1)
		return -1;
	for (i = 0; i < b->n; i++)
		any |= found[i] && b->r[i]->rkey != NULL;
	if (!any)
		return 0;
	for (i = 0; i < b->n; i++)
		reply_push(b->r[i], found[i] && b->r[i]->rkey != NULL ?
		    JR_DONE : JR_CONFLICT, rev);
	return 1;
}

/* ---- the journal process's own transactions, applied without the watch
 * ---- */

static struct owntxn *
own_new(const struct batch *b, int64_t rev)
{
	struct owntxn	*o;
	size_t		 len = 0;
	int		 i;

	for (i = 0; i < b->n; i++)
		len += b->r[i]->blen;
	if ((o = malloc(sizeof(*o) + len)) == NULL)
		return NULL;
	o->next = NULL;
	o->rev = rev;
	o->deadline = mono_ms() + APPLY_WAIT_MS;
	o->len = 0;
	for (i = 0; i < b->n; i++) {
		memcpy(o->bodies + o->len, b->r[i]->bodies, b->r[i]->blen);
		o->len += b->r[i]->blen;
	}
	return o;
}

static void
own_free(struct owntxn *o)
{
	explicit_bzero(o->bodies, o->len);
	free(o);
}

/*
 * The journal process's transaction o committed at o->rev: once every
 * revision before it is applied, its changes are applied here, in the
 * order of its puts, as the watch would apply them (the watch then skips
 * them). The answer need not wait for the watch. 1 if o->rev is applied
 * now, 0 while an earlier revision is missing.
 */
static int
own_apply(struct jetcd *j, const struct owntxn *o)
{
	struct tracker	*t = &j->at;
	int64_t		 done;

	if ((done = applied_rev(t)) != o->rev - 1)
		return done >= o->rev;
	if (state_lock_meta(t) == -1)
		return 0;
	if ((done = applied_rev(t)) == o->rev - 1) {
		apply_lines(t, o->bodies, o->len, o->rev);
		applied_wake(t, o->rev);
		done = o->rev;
	}
	state_unlock_meta(t);
	return done >= o->rev;
}

/* Keep o, by revision, until the revisions before it are applied (mu
 * held). */
static void
own_defer(struct jetcd *j, struct owntxn *o)
{
	struct owntxn	**p = &j->own;

	while (*p != NULL && (*p)->rev < o->rev)
		p = &(*p)->next;
	o->next = *p;
	*p = o;
}

/* The own thread (mu held): apply the kept transaction that is next, forget
 * those applied by the watch or kept too long (the watch applies them). */
static void
own_due(struct jetcd *j)
{
	struct owntxn	*o;
	uint64_t	 now = mono_ms();

	while ((o = j->own) != NULL) {
		if (o->rev > applied_rev(j->t) + 1 && o->deadline > now)
			break;
		j->own = o->next;
		if (o->rev == applied_rev(j->t) + 1 && o->deadline > now) {
			pthread_mutex_unlock(&j->mu);
			own_apply(j, o);
			pthread_mutex_lock(&j->mu);
		}
		own_free(o);
	}
}

static void
batch_answer(struct jetcd *j, struct batch *b, int64_t rev)
{
	struct owntxn	*o = own_new(b, rev);
	int		 i;

	if (o != NULL && own_apply(j, o)) {
		own_free(o);
		o = NULL;
	}
	pthread_mutex_lock(&j->mu);
	if (o != NULL) {
		own_defer(j, o);
		pthread_cond_signal(&j->cv_wait);
	}
	j->answered = b->n;
	j->arrived = 0;
	j->answered_at = mono_ms();
	pthread_mutex_unlock(&j->mu);
	for (i = 0; i < b->n; i++)
		reply_push(b->r[i], JR_DONE, rev);
}

/*
 * The batch was refused: found[0] says whether its first change exists
 * (a copy committed first: 2), then one look per compare. A request one
 * of whose entities changed after its base is validated again (once the
 * change is applied here); the others go back to the head of the queue.
 * 0, or -1 if nothing changed (it was fenced).
 */
static int
batch_refused(struct jetcd *j, struct batch *b, const int *found,
    int64_t rev)
{
	struct jreq	*again = NULL, *last = NULL;
	int		 changed[ETCD_MAX_OPS], i, k, f = 1, conflicts = 0;

	if (found[0])
		return 2;
	for (i = 0; i < b->n; i++) {
		for (k = 0, changed[i] = 0; k < b->r[i]->nguards; k++)
			changed[i] |= found[f++];
		conflicts += changed[i];
	}
	if (conflicts == 0)
		return -1;
	pthread_mutex_lock(&j->mu);
	for (i = 0; i < b->n; i++) {
		if (changed[i]) {
			reply_push(b->r[i], JR_CONFLICT, rev);
			continue;
		}
		if (last != NULL)
			last->next = b->r[i];
		else
			again = b->r[i];
		last = b->r[i];
		j->nqueued++;
	}
	if (again != NULL) {
		last->next = j->commitq.head;
		if (j->commitq.head == NULL)
			j->commitq.tail = last;
		j->commitq.head = again;
	}
	pthread_mutex_unlock(&j->mu);
	return 0;
}

static void
batch_fail(struct batch *b, const char *why)
{
	int	i;

	log_warnx("etcd: %d request(s) not committed: %s", b->n, why);
	for (i = 0; i < b->n; i++)
		reply_push(b->r[i], JR_UNAVAILABLE, 0);
}

/* A txn answered after ms: the usual time moves 1/8 of the way to it. */
static void
commit_time(struct jetcd *j, uint64_t ms)
{
	uint32_t	old = __atomic_load_n(&j->commit_ms8, __ATOMIC_RELAXED);
	uint64_t	v = ms > 10000 ? 80000 : ms * 8;

	__atomic_store_n(&j->commit_ms8, (uint32_t)((old * 7 + v) / 8),
	    __ATOMIC_RELAXED);
}

/* How long one member gets to answer a txn. */
static int
attempt_ms(struct jetcd *j)
{
	uint32_t	ms = __atomic_load_n(&j->commit_ms8, __ATOMIC_RELAXED) / 2;

	return ms < ATTEMPT_MIN_MS ? ATTEMPT_MIN_MS : ms > ATTEMPT_MS ?
	    ATTEMPT_MS : (int)ms;
}

/* Send the batch once, within ms. 0 answered; 1 no answer after sending
 * (the outcome is unknown); 2 a copy sent before committed first; -1
 * refused (no member reachable, or etcd said no). */
static int
batch_send(struct jetcd *j, struct etcd *h, struct batch *b, int ms,
    char *err, size_t errlen)
{
	json_object	*txn, *resp;
	int64_t		 rev;
	uint64_t	 t0 = mono_ms();
	int		 found[ETCD_MAX_OPS], amb, rc;

	if ((txn = batch_txn(j, b)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (etcd_post(h, "/v3/kv/txn", txn, &resp, ms, &amb, err,
	    errlen) == -1)
		return amb ? 1 : -1;
	commit_time(j, mono_ms() - t0);
	rc = ej_parse_txn(resp, &rev, NULL, 0, err, errlen);
	json_object_put(resp);
	if (rc == 0)
		batch_answer(j, b, rev);
	if (rc != 1)
		return rc;
	/* refused: why, asked at the revision it was refused at; no answer
	 * to that is an unknown outcome (sent again, or fenced) */
	if (etcd_post(h, "/v3/kv/txn", batch_looks(j, b, rev), &resp, ms,
	    &amb, err, errlen) == -1)
		return 1;
	rc = ej_parse_found(resp, found, 1 + b->cmps, err, errlen);
	json_object_put(resp);
	if (rc == -1)
		return 1;
	if ((rc = batch_refused(j, b, found, rev)) == -1)
		snprintf(err, errlen, "the batch was fenced");
	return rc;
}

/*
 * Send the batch, answering by the deadline of its oldest request. A
 * member that does not answer within attempt_ms() (a dead leader, an
 * election) is left for another; a copy that still arrives commits
 * nothing (the outer compares). When the outcome is unknown at the end,
 * fence the batch and look: what is not committed then never will be,
 * so an ERR unavailable is not followed by the change.
 */


/* Put the parts of the batch's spilled bodies, in the order body_puts
 * numbers them, before its first send; 0 or -1 (err). */
static int
batch_spill(struct jetcd *j, struct etcd *h, struct batch *b, uint64_t end,
    char *err, size_t errlen)
{
	const char	*p, *nl;
	char		 dir[300];
	int		 i, k, op = 0;

	for (i = 0; i < b->n; i++)
		for (k = 0, p = b->r[i]->bodies; k < b->r[i]->n;
		    k++, p = nl + 1, op++) {
			nl = memchr(p, '\n', b->r[i]->blen -
			    (size_t)(p - b->r[i]->bodies));
			if (!spill_wanted((size_t)(nl - p)))
				continue;
			batch_spill_dir(j, b, op, dir, sizeof(dir));
			if (spill_write(h, dir, p, (size_t)(nl - p), end, err,
			    errlen) == -1)
				return -1;
		}
	return 0;
}

static void
batch_commit(struct jetcd *j, struct etcd *h, struct batch *b)
{
	uint64_t	 now = mono_ms(), end = UINT64_MAX, send_end;
	int		 i, rc, unknown = 0, ams = attempt_ms(j);
	char		 err[200] = "no time left";

	for (i = 0; i < b->n; i++)
		if (b->r[i]->deadline < end)
			end = b->r[i]->deadline;
	send_end = end > now + FENCE_MS ? end - FENCE_MS : now;
	if (batch_spill(j, h, b, send_end, err, sizeof(err)) == -1) {
		batch_fail(b, err);
		return;
	}
	while ((now = mono_ms()) + 50 < send_end) {
		rc = batch_send(j, h, b, (int)(send_end - now < (uint64_t)ams ?
		    send_end - now : (uint64_t)ams), err, sizeof(err));
		if (rc == 0)
			return;
		if (rc == -1)
			break;
		unknown = 1;
		if (rc == 2)
			break;
		etcd_next(h);
	}
	if (unknown) {
		if (batch_fence(j, h, b, end) == 0) {
			if (batch_lookup(j, h, b, end) == 1)
				return;
		} else
			log_warnx("etcd: a batch of %d request(s) could not be "
			    "fenced: it may still be applied", b->n);
	}
	batch_fail(b, err);
}

/*
 * Master, at start: commit one change outside the workers' batches (the
 * tracker's ticket key). Its log key is new, so a copy that arrives twice
 * commits once; each endpoint is tried in turn within COMMIT_MS. 0 once
 * etcd committed it (the watch applies it), -1 otherwise (t->err).
 */
int
jetcd_publish(struct tracker *t, const char *body)
{
	struct jetcd	*j = t->etcd;
	struct etcd	*h;
	json_object	*txn, *cmp, *ok, *resp;
	char		 key[300], err[200] = "no endpoint answered";
	uint64_t	 end = mono_ms() + COMMIT_MS;
	int64_t		 rev;
	int		 amb, rc = -1;

	if ((h = etcd_new(&t->cfg.etcd)) == NULL)
		return -1;
	snprintf(key, sizeof(key), "%s%02d-%08x-%08x-p0000", j->anon,
	    t->cfg.tracker_no, (unsigned)getpid(), (unsigned)mono_ms());
	while (rc != 0 && mono_ms() < end) {
		txn = json_object_new_object();
		cmp = json_object_new_array();
		ok = json_object_new_array();
		json_object_array_add(cmp, ej_compare_absent(key));
		json_object_array_add(ok, ej_put(key, body, strlen(body)));
		json_object_array_add(ok, ej_put(j->head, "", 0));
		json_object_object_add(txn, "compare", cmp);
		json_object_object_add(txn, "success", ok);
		if (etcd_post(h, "/v3/kv/txn", txn, &resp, ATTEMPT_MS, &amb,
		    err, sizeof(err)) == -1) {
			etcd_next(h);
			continue;
		}
		/* succeeded, or not because an earlier copy committed */
		if (ej_parse_txn(resp, &rev, NULL, 0, err, sizeof(err)) != -1)
			rc = 0;
		json_object_put(resp);
	}
	etcd_free(h);
	if (rc == -1)
		snprintf(t->err, sizeof(t->err), "etcd: %s", err);
	return rc;
}

/*
 * Before a txn (mu held): the requests the last one answered come back
 * at once under load, each from a client that waited for it. Let them
 * join this one, bounded by GATHER_MS and a usual commit time: a
 * tracker's clients then share one txn instead of alternating in two,
 * and etcd, whose cost is mostly per txn, commits more per second.
 */
static void
batch_gather(struct jetcd *j)
{
	struct timespec	ts;
	uint64_t	ms, due, now;

	ms = __atomic_load_n(&j->commit_ms8, __ATOMIC_RELAXED) / 8;
	due = j->answered_at + (ms < GATHER_MS ? ms : GATHER_MS);
	while (j->arrived < j->answered && (now = mono_ms()) < due) {
		mono_deadline(&ts, due - now);
		pthread_cond_timedwait(&j->cv_commit, &j->mu, &ts);
	}
}

static void *
committer_thread(void *arg)
{
	struct jetcd	*j = arg;
	struct etcd	*h = etcd_new(&j->t->cfg.etcd);
	struct batch	 b;
	struct timespec	 ts;
	int		 left;

	if (h == NULL)
		fatalx("etcd: cannot start a committer");
	pthread_mutex_lock(&j->mu);
	for (;;) {
		pthread_mutex_unlock(&j->mu);
		left = links_flush(j);
		pthread_mutex_lock(&j->mu);
		if (j->commitq.head == NULL && left) {
			/* a worker's socket was full: try again soon */
			mono_deadline(&ts, FLUSH_RETRY_MS);
			pthread_cond_timedwait(&j->cv_commit, &j->mu, &ts);
			continue;
		}
		while (j->commitq.head == NULL)
			pthread_cond_wait(&j->cv_commit, &j->mu);
		batch_gather(j);
		batch_fill(j, &b);
		if (b.n == 0)
			continue;
		pthread_mutex_unlock(&j->mu);
		batch_commit(j, h, &b);
		pthread_mutex_lock(&j->mu);
	}
	return NULL;
}

/* ---- read barriers: one probe for every read waiting ---- */

/* The revision of the latest transaction that committed changes (the
 * head key's); 0 if there is none, -1 if etcd did not answer. */
static int64_t
probe_head(struct jetcd *j, struct etcd *h, int ms)
{
	struct ereply	 r;
	json_object	*resp;
	char		 err[200];
	int64_t		 rev = -1;
	int		 amb;

	if (etcd_post(h, "/v3/kv/range", ej_range(j->head, NULL, 0, 0, 0, 0, 1),
	    &resp, ms, &amb, err, sizeof(err)) == -1)
		return -1;
	if (ej_parse_range(resp, &r) == 0)
		rev = r.nkvs > 0 ? r.kvs[0].mod_rev : 0;
	ereply_free(&r);
	json_object_put(resp);
	return rev;
}

static void *
probe_thread(void *arg)
{
	struct jetcd	*j = arg;
	struct etcd	*h = etcd_new(&j->t->cfg.etcd);
	struct jqueue	 q;
	struct jreq	*r;
	int64_t		 rev;

	if (h == NULL)
		fatalx("etcd: cannot start the probe thread");
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (j->probeq.head == NULL)
			pthread_cond_wait(&j->cv_probe, &j->mu);
		q = j->probeq;
		j->probeq.head = j->probeq.tail = NULL;
		pthread_mutex_unlock(&j->mu);
		/* etcd down: reads go on from the state at hand */
		if ((rev = probe_head(j, h, PROBE_MS)) == -1)
			__atomic_store_n(&j->down_until, mono_ms() + DOWN_MS,
			    __ATOMIC_RELAXED);
		pthread_mutex_lock(&j->mu);
		while ((r = q_pop(&q)) != NULL)
			wait_push(j, r, JR_DONE, rev > 0 ? rev : 0);
	}
	return NULL;
}

/* ---- answering once applied ---- */

static void *
waiter_thread(void *arg)
{
	struct jetcd	*j = arg;
	struct jreq	*r, *keep, **kt, *next;
	uint32_t	 gen;
	uint64_t	 now;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (j->waitq.head == NULL)
			pthread_cond_wait(&j->cv_wait, &j->mu);
		gen = __atomic_load_n(&j->t->hdr->applied_gen, __ATOMIC_ACQUIRE);
		now = mono_ms();
		keep = NULL;
		kt = &keep;
		for (r = j->waitq.head; r != NULL; r = next) {
			next = r->next;
			if (r->wait_rev <= applied_rev(j->t))
				done_push(j, r, applied_result(j, r));
			else if (r->deadline <= now) {
				log_warnx("etcd: revision %" PRId64 " not applied "
				    "after %d ms (applied %" PRId64 ")",
				    r->wait_rev, APPLY_WAIT_MS, applied_rev(j->t));
				done_push(j, r, r->result == JR_CONFLICT ?
				    JR_UNAVAILABLE : r->result);
			} else {
				*kt = r;
				kt = &r->next;
			}
		}
		*kt = NULL;
		j->waitq.head = keep;
		j->waitq.tail = NULL;
		for (r = keep; r != NULL; r = r->next)
			j->waitq.tail = r;
		if (keep == NULL)
			continue;
		pthread_mutex_unlock(&j->mu);
		applied_wait(j->t, gen, 100);
		pthread_mutex_lock(&j->mu);
	}
	return NULL;
}

/* The journal process: apply its committed transactions as soon as their
 * turn comes. */
static void *
own_thread(void *arg)
{
	struct jetcd	*j = arg;
	uint32_t	 gen;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (j->own == NULL)
			pthread_cond_wait(&j->cv_wait, &j->mu);
		gen = __atomic_load_n(&j->t->hdr->applied_gen, __ATOMIC_ACQUIRE);
		own_due(j);
		if (j->own == NULL)
			continue;
		pthread_mutex_unlock(&j->mu);
		applied_wait(j->t, gen, 100);
		pthread_mutex_lock(&j->mu);
	}
	return NULL;
}

/* ---- lifetime ---- */

static struct jetcd *
jetcd_new(struct tracker *t)
{
	struct jetcd	*j;
	const char	*p = t->cfg.etcd.prefix;
	pthread_condattr_t ca;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->t = t;
	j->efd = j->lfd = -1;
	snprintf(j->ent, sizeof(j->ent), "%s/e/", p);
	snprintf(j->ent_end, sizeof(j->ent_end), "%s/e0", p);
	snprintf(j->head, sizeof(j->head), "%s/e/^head", p);
	snprintf(j->anon, sizeof(j->anon), "%s/e/-/", p);
	pthread_mutex_init(&j->sync_mu, NULL);
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->links_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv_commit, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&j->cv_probe, NULL);
	pthread_cond_init(&j->cv_wait, NULL);
	buf_init(&j->stage, JOURNAL_MAX_LINE + ETCD_MAX_BATCH_BYTES);
	if ((j->sync = etcd_new(&t->cfg.etcd)) == NULL) {
		free(j);
		return NULL;
	}
	t->etcd = j;
	t->rebuild = rebuild_locked;
	return j;
}

int
jetcd_create(struct tracker *t, char *err, size_t errlen)
{
	uint64_t	end = mono_ms() + LOAD_MS;
	struct timespec	ts = { 0, 200 * 1000000L };
	int		rc;

	etcd_init();
	if (jetcd_new(t) == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		return -1;
	}
	if (link_listen() == -1) {
		snprintf(err, errlen, "etcd: the workers' links: %s",
		    strerror(errno));
		return -1;
	}
	do {
		state_lock_meta(t);
		state_lock_all_buckets(t);
		rc = rebuild_locked(t);
		state_unlock_all_buckets(t);
		state_unlock_meta(t);
	} while (rc == -1 && mono_ms() < end && nanosleep(&ts, NULL) == 0);
	if (rc == -1)
		snprintf(err, errlen, "etcd at %s did not answer: cannot load "
		    "the state", t->cfg.etcd.endpoints[0]);
	return rc;
}

static void
start_thread(void *(*fn)(void *), struct jetcd *j)
{
	pthread_t	tid;

	if (pthread_create(&tid, NULL, fn, j) != 0)
		fatalx("etcd: pthread_create");
	pthread_detach(tid);
}

int
jetcd_attach(struct tracker *t, char *err, size_t errlen)
{
	struct jetcd	*j;

	if ((j = jetcd_new(t)) == NULL ||
	    (j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (j->lfd = link_connect()) == -1) {
		snprintf(err, errlen, "etcd: cannot reach the journal "
		    "process: %s", strerror(errno));
		return -1;
	}
	start_thread(forward_thread, j);
	start_thread(answer_thread, j);
	start_thread(probe_thread, j);
	start_thread(waiter_thread, j);
	j->started = 1;
	return 0;
}

/* The journal process's first round: the committer of every worker's
 * requests. */
static void
start_committer(struct jetcd *j)
{
	j->at = *j->t;
	j->at.meta_held = j->at.buckets_held = 0;
	j->at.rebuild = NULL;
	j->at.lcache = NULL;
	start_thread(committer_thread, j);
	start_thread(own_thread, j);
	start_thread(accept_thread, j);
}

/* A journal whose threads run is kept until the process exits: they may
 * be inside a request to an etcd that does not answer. Held here, it stays
 * reachable, not a leak. */
static struct jetcd	*jetcd_kept;

void
jetcd_free(struct tracker *t)
{
	struct jetcd	*j = t->etcd;

	if (j == NULL)
		return;
	j->stop = 1;
	if (j->started || j->watching) {
		jetcd_kept = j;
		return;
	}
	etcd_free(j->sync);
	buf_free(&j->stage);
	free(j);
	t->etcd = NULL;
}

int
jetcd_catch_up(struct tracker *t)
{
	struct jetcd	*j = t->etcd;
	uint64_t	 end = mono_ms() + PROBE_MS;
	int64_t		 rev;
	uint32_t	 gen;

	pthread_mutex_lock(&j->sync_mu);
	rev = probe_head(j, j->sync, PROBE_MS);
	pthread_mutex_unlock(&j->sync_mu);
	while (rev > applied_rev(t) && mono_ms() < end) {
		gen = __atomic_load_n(&t->hdr->applied_gen, __ATOMIC_ACQUIRE);
		if (rev > applied_rev(t))
			applied_wait(t, gen, 20);
	}
	return 0;
}

void
jetcd_poll(struct tracker *t)
{
	struct jetcd	*j = t->etcd;

	if (!j->watching) {
		/* the first round, in the journal process: the locks it takes
		 * are its own, and so are its connections (the master's stay
		 * the master's, untouched) */
		t->pid = getpid();
		if ((j->sync = etcd_new(&t->cfg.etcd)) == NULL ||
		    (j->watch = etcd_new(&t->cfg.etcd)) == NULL ||
		    (j->snap = etcd_new(&t->cfg.etcd)) == NULL ||
		    (j->lag = etcd_new(&t->cfg.etcd)) == NULL)
			fatalx("etcd: cannot start the watch");
		if (pthread_create(&j->watch_tid, NULL, watch_thread, j) != 0)
			fatalx("etcd: pthread_create");
		pthread_detach(j->watch_tid);
		j->watching = 1;
		start_committer(j);
	}
	snapshot_due(t, j->snap);
}
