/* etcd snapshots: the live state in chunks under PREFIX/snap/, switched in
 * by one compare, then the changes it covers deleted and etcd compacted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/log.h"
#include "ipc/proto.h"
#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"
#include "trackerd/journal.h"
#include "trackerd/snapshot.h"

#define CHUNK_BYTES	(900u * 1000u)	/* one put, under etcd's 1.5 MiB */
#define SNAP_MS		5000
#define MAX_CHUNKS	100000

struct chunks {
	struct buf	*v;
	size_t		 n;
};

static int
new_chunk(struct chunks *c)
{
	struct buf	*nv;

	if (c->n == MAX_CHUNKS ||
	    (nv = realloc(c->v, (c->n + 1) * sizeof(*nv))) == NULL)
		return -1;
	c->v = nv;
	buf_init(&c->v[c->n++], CHUNK_BYTES);
	return 0;
}

/* A line goes whole into one chunk when it fits one, else on from chunk
 * to chunk (the loader reads the chunks as one stream of lines). */
static int
add_body(void *arg, const char *body, size_t len)
{
	struct chunks	*c = arg;
	struct buf	*b;
	size_t		 n;

	if ((c->n == 0 || c->v[c->n - 1].len + len + 1 > CHUNK_BYTES) &&
	    new_chunk(c) == -1)
		return -1;
	while (len > 0) {
		b = &c->v[c->n - 1];
		if (b->len == CHUNK_BYTES && new_chunk(c) == -1)
			return -1;
		b = &c->v[c->n - 1];
		n = CHUNK_BYTES - b->len < len ? CHUNK_BYTES - b->len : len;
		if (buf_append(b, body, n) == -1)
			return -1;
		body += n;
		len -= n;
	}
	b = &c->v[c->n - 1];
	if (b->len == CHUNK_BYTES && new_chunk(c) == -1)
		return -1;
	return buf_append(&c->v[c->n - 1], "\n", 1);
}

static void
chunks_free(struct chunks *c)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		buf_free(&c->v[i]);
	free(c->v);
}

/* POST a request and check it for an etcd error; 0 or -1. */
static int
call(struct etcd *h, const char *path, json_object *req, json_object **out)
{
	json_object	*resp;
	char		 err[200];
	int		 amb;

	if (etcd_post(h, path, req, &resp, SNAP_MS, &amb, err,
	    sizeof(err)) == -1) {
		log_warnx("etcd snapshot: %s: %s", path, err);
		return -1;
	}
	if (out != NULL)
		*out = resp;
	else
		json_object_put(resp);
	return 0;
}

static json_object *
txn_of(json_object *cmp, json_object *ops)
{
	json_object	*t = json_object_new_object();

	if (cmp != NULL)
		json_object_object_add(t, "compare", cmp);
	json_object_object_add(t, "success", ops);
	return t;
}

/* The pointer's value and mod_revision (0 if none). */
static int
read_ptr(struct etcd *h, const char *key, int64_t *mod, char *val,
    size_t vlen)
{
	struct ereply	 r;
	json_object	*resp;

	if (call(h, "/v3/kv/range", ej_range(key, NULL, 0, 0, 0, 0, 0),
	    &resp) == -1)
		return -1;
	if (ej_parse_range(resp, &r) == -1) {
		json_object_put(resp);
		return -1;
	}
	*mod = r.nkvs > 0 ? r.kvs[0].mod_rev : 0;
	snprintf(val, vlen, "%s", r.nkvs > 0 ? r.kvs[0].value : "");
	ereply_free(&r);
	json_object_put(resp);
	return 0;
}

static int
put_chunks(struct etcd *h, const char *dir, struct chunks *c)
{
	json_object	*ops;
	char		 key[256];
	size_t		 i;

	for (i = 0; i < c->n; i++) {
		snprintf(key, sizeof(key), "%s%06zu", dir, i);
		ops = json_object_new_array();
		json_object_array_add(ops, ej_put(key, c->v[i].data,
		    c->v[i].len));
		if (call(h, "/v3/kv/txn", txn_of(NULL, ops), NULL) == -1)
			return -1;
	}
	return 0;
}

/* Switch the pointer if nobody else did since we read it: 1 switched,
 * 0 another tracker did, -1 etcd failed. */
static int
switch_ptr(struct etcd *h, const char *key, int64_t old_mod,
    const char *val)
{
	json_object	*cmp = json_object_new_array(), *ops, *resp, *ok;
	char		 err[200];
	int		 rc;

	json_object_array_add(cmp, ej_compare_mod(key, "EQUAL", old_mod));
	ops = json_object_new_array();
	json_object_array_add(ops, ej_put(key, val, strlen(val)));
	if (call(h, "/v3/kv/txn", txn_of(cmp, ops), &resp) == -1)
		return -1;
	if (ej_error(resp, err, sizeof(err)))
		rc = -1;
	else
		rc = json_object_object_get_ex(resp, "succeeded", &ok) &&
		    json_object_get_boolean(ok);
	json_object_put(resp);
	return rc;
}

static int
delete_range(struct etcd *h, const char *dir)
{
	json_object	*ops = json_object_new_array();
	char		*end = prefix_end(dir);
	int		 rc;

	json_object_array_add(ops, ej_delete(dir, end));
	rc = call(h, "/v3/kv/txn", txn_of(NULL, ops), NULL);
	free(end);
	return rc;
}

/* Deletes gathered into transactions of up to 127. */
struct dels {
	json_object	*ops;
	int		 n;
};

/* Send the deletes gathered so far; 0 or -1. */
static int
del_flush(struct etcd *h, struct dels *d)
{
	json_object	*ops = d->ops;

	d->ops = NULL;
	d->n = 0;
	return ops == NULL ? 0 : call(h, "/v3/kv/txn", txn_of(NULL, ops), NULL);
}

static int
del_key(struct etcd *h, struct dels *d, const char *key)
{
	if (d->ops == NULL)
		d->ops = json_object_new_array();
	json_object_array_add(d->ops, ej_delete(key, NULL));
	return ++d->n < ETCD_MAX_OPS - 1 ? 0 : del_flush(h, d);
}

/* Delete the keys under dir at or below revision rev (old fences). */
static int
delete_covered(struct etcd *h, const char *dir, int64_t rev)
{
	struct ereply	 r;
	struct dels	 d = { NULL, 0 };
	json_object	*resp;
	char		*end = prefix_end(dir);
	size_t		 i;
	int		 rc = 0, more = 1;

	while (rc == 0 && more) {
		if (call(h, "/v3/kv/range", ej_range(dir, end, 0, 0, rev,
		    ETCD_MAX_OPS - 1, 1), &resp) == -1 ||
		    ej_parse_range(resp, &r) == -1) {
			rc = -1;
			break;
		}
		json_object_put(resp);
		more = r.more && r.nkvs > 0;
		for (i = 0; rc == 0 && i < r.nkvs; i++)
			rc = del_key(h, &d, r.kvs[i].key);
		if (rc == 0)
			rc = del_flush(h, &d);
		ereply_free(&r);
	}
	json_object_put(d.ops);
	free(end);
	return rc;
}

/* The entity a change key is stored under: its length up to the last
 * '/' (the key ends in the batch id and index). */
static size_t
entity_len(const struct ekv *e)
{
	const char	*s = strrchr(e->key, '/');

	return s != NULL ? (size_t)(s - e->key) + 1 : 0;
}

/*
 * Of one entity's keys (kv[0..n), key order), delete those the snapshot
 * at rev covers, but keep the newest ones: a compare on the entity must
 * still see its last change. Under anon (the records of changes) all of
 * them are deleted.
 */
static int
prune_entity(struct etcd *h, struct dels *d, const struct ekv *kv,
    size_t n, int64_t rev, int anon)
{
	int64_t	top = 0;
	size_t	i;
	int	rc = 0;

	for (i = 0; i < n; i++)
		if (kv[i].mod_rev > top)
			top = kv[i].mod_rev;
	for (i = 0; rc == 0 && i < n; i++)
		if (kv[i].mod_rev <= rev && (anon || kv[i].mod_rev < top))
			rc = del_key(h, d, kv[i].key);
	return rc;
}

/*
 * The records a snapshot at rev covers, under prefix/e/, page by page
 * (an entity's keys may straddle two pages: the last entity of a page
 * is looked at again with the next).
 */
static int
prune_changes(struct etcd *h, const char *ent, const char *anon,
    int64_t rev)
{
	struct ereply	 r;
	struct dels	 d = { NULL, 0 };
	json_object	*resp;
	char		*end = prefix_end(ent), *from = strdup(ent);
	size_t		 i, k, el;
	int		 rc = 0, more = 1;

	while (rc == 0 && more && from != NULL) {
		if (call(h, "/v3/kv/range", ej_range(from, end, 0, 0, 0, 1024,
		    1), &resp) == -1 || ej_parse_range(resp, &r) == -1) {
			rc = -1;
			break;
		}
		json_object_put(resp);
		more = r.more && r.nkvs > 0;
		for (i = 0; rc == 0 && i < r.nkvs; i = k) {
			el = entity_len(&r.kvs[i]);
			for (k = i + 1; k < r.nkvs && entity_len(&r.kvs[k]) == el &&
			    strncmp(r.kvs[k].key, r.kvs[i].key, el) == 0; k++)
				;
			if (more && k == r.nkvs && i > 0) {
				/* the next page starts at this entity */
				free(from);
				from = strndup(r.kvs[i].key, el);
				break;
			}
			rc = prune_entity(h, &d, &r.kvs[i], k - i, rev,
			    strncmp(r.kvs[i].key, anon, strlen(anon)) == 0);
		}
		if (rc == 0 && more && i >= r.nkvs) {
			free(from);
			if (asprintf(&from, "%s\x01", r.kvs[r.nkvs - 1].key) == -1)
				from = NULL;
		}
		ereply_free(&r);
	}
	if (rc == 0)
		rc = del_flush(h, &d);
	json_object_put(d.ops);
	free(from);
	free(end);
	return rc;
}

static int
dump(struct tracker *t, struct chunks *c, int64_t *rev)
{
	int	rc;

	if (state_lock_meta(t) == -1)
		return -1;
	*rev = __atomic_load_n(&t->hdr->applied_rev, __ATOMIC_ACQUIRE);
	rc = journal_dump_locked(t, add_body, c);
	state_unlock_meta(t);
	return rc;
}

int
snapshot_write(struct tracker *t, struct etcd *h)
{
	const char	*p = t->cfg.etcd.prefix;
	struct chunks	 c = { NULL, 0 };
	char		 ptr[200], old[256], dir[200], val[256], ent[200];
	char		 anon[200];
	char		 olddir[200] = "";
	int64_t		 mod, rev, oldrev;
	int		 rc = -1;

	snprintf(ptr, sizeof(ptr), "%s/snapshot", p);
	snprintf(ent, sizeof(ent), "%s/e/", p);
	snprintf(anon, sizeof(anon), "%s/e/-/", p);
	if (read_ptr(h, ptr, &mod, old, sizeof(old)) == -1)
		return -1;
	if (old[0] != '\0' && sscanf(old, "%" SCNd64 " %190s", &oldrev,
	    olddir) != 2)
		olddir[0] = '\0';
	if (olddir[0] != '\0' && oldrev > __atomic_load_n(&t->hdr->snap_rev,
	    __ATOMIC_ACQUIRE)) {
		/* Another tracker wrote one since: count from there. */
		__atomic_store_n(&t->hdr->snap_rev, oldrev, __ATOMIC_RELEASE);
		__atomic_store_n(&t->hdr->since_snap, 0, __ATOMIC_RELEASE);
		return 0;
	}
	if (dump(t, &c, &rev) == -1)
		goto done;
	snprintf(dir, sizeof(dir), "%s/snap/%016" PRIx64 "-%02d/", p, rev,
	    t->cfg.tracker_no);
	snprintf(val, sizeof(val), "%" PRId64 " %s", rev, dir);
	if (put_chunks(h, dir, &c) == -1)
		goto done;
	if ((rc = switch_ptr(h, ptr, mod, val)) != 1) {
		delete_range(h, dir);	/* another tracker's won */
		rc = -1;
		goto done;
	}
	__atomic_store_n(&t->hdr->snap_rev, rev, __ATOMIC_RELEASE);
	__atomic_store_n(&t->hdr->since_snap, 0, __ATOMIC_RELEASE);
	if (olddir[0] != '\0')
		delete_range(h, olddir);
	rc = prune_changes(h, ent, anon, rev);
	snprintf(dir, sizeof(dir), "%s/fence/", p);
	if (rc == 0)
		rc = delete_covered(h, dir, rev);
	/* Parts of spilled changes (etcd_spill.h) older than the snapshot
	 * before this one: their change is in a snapshot by now, or never
	 * commits (it commits only while its parts exist). Newer parts may
	 * belong to a change still on its way. */
	snprintf(dir, sizeof(dir), "%s/spill/", p);
	if (rc == 0 && olddir[0] != '\0')
		rc = delete_covered(h, dir, oldrev);
	if (rc == 0) {
		json_object *req = json_object_new_object();

		json_object_object_add(req, "revision", ej_i64(rev));
		rc = call(h, "/v3/kv/compaction", req, NULL);
	}
	log_info("etcd: snapshot at revision %" PRId64 " (%zu chunk%s), older "
	    "changes deleted and compacted%s", rev, c.n, c.n == 1 ? "" : "s",
	    rc == 0 ? "" : " (partly: will retry)");
done:
	chunks_free(&c);
	return rc;
}

void
snapshot_due(struct tracker *t, struct etcd *h)
{
	static time_t	last_try;
	time_t		now = time(NULL);

	if (t->cfg.snapshot_lines == 0 || now == last_try ||
	    __atomic_load_n(&t->hdr->since_snap, __ATOMIC_ACQUIRE) <
	    t->cfg.snapshot_lines)
		return;
	last_try = now;
	snapshot_write(t, h);
}
