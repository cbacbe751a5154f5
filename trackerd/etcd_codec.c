/* The JSON of etcd's v3 gateway as plain data: transactions, ranges and
 * watch messages built and parsed here, without I/O, so they are unit-tested. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "trackerd/etcd_codec.h"

/* ---- base64 ---- */

char *
b64_encode(const void *p, size_t n)
{
	char	*out;

	if (n > (SIZE_MAX / 4) * 3 - 3 ||
	    (out = malloc(((n + 2) / 3) * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

int
b64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	char	*buf;
	int	 len, pad = 0;

	if (n % 4 != 0 || n > INT32_MAX || (buf = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	if ((len = EVP_DecodeBlock((unsigned char *)buf,
	    (const unsigned char *)s, (int)n)) == -1) {
		free(buf);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	len -= pad;
	buf[len] = '\0';
	*out = buf;
	*outlen = (size_t)len;
	return 0;
}

/* ---- building requests ---- */

json_object *
ej_bytes(const void *p, size_t n)
{
	char		*s = b64_encode(p, n);
	json_object	*o;

	if (s == NULL)
		return NULL;
	o = json_object_new_string(s);
	free(s);
	return o;
}

json_object *
ej_str(const char *s)
{
	return ej_bytes(s, strlen(s));
}

/* int64 fields travel as JSON strings. */
json_object *
ej_i64(int64_t v)
{
	char	buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_object_new_string(buf);
}

char *
prefix_end(const char *prefix)
{
	char	*end = strdup(prefix);
	size_t	 n = strlen(prefix);

	/* The prefixes here are printable ASCII: the last byte never
	 * overflows. */
	if (end != NULL && n > 0)
		end[n - 1]++;
	return end;
}

static json_object *
op(const char *kind, json_object *body)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, kind, body);
	return o;
}

json_object *
ej_put(const char *key, const void *val, size_t vlen)
{
	json_object	*p = json_object_new_object();

	json_object_object_add(p, "key", ej_str(key));
	json_object_object_add(p, "value", ej_bytes(val, vlen));
	return op("request_put", p);
}

json_object *
ej_delete(const char *key, const char *end)
{
	json_object	*p = json_object_new_object();

	json_object_object_add(p, "key", ej_str(key));
	if (end != NULL)
		json_object_object_add(p, "range_end", ej_str(end));
	return op("request_delete_range", p);
}

json_object *
ej_range(const char *key, const char *end, int64_t rev, int64_t min_mod,
    int64_t max_mod, int64_t limit, int keys_only)
{
	json_object	*r = json_object_new_object();

	json_object_object_add(r, "key", ej_str(key));
	if (end != NULL)
		json_object_object_add(r, "range_end", ej_str(end));
	if (rev > 0)
		json_object_object_add(r, "revision", ej_i64(rev));
	if (min_mod > 0)
		json_object_object_add(r, "min_mod_revision", ej_i64(min_mod));
	if (max_mod > 0)
		json_object_object_add(r, "max_mod_revision", ej_i64(max_mod));
	if (limit > 0)
		json_object_object_add(r, "limit", ej_i64(limit));
	if (keys_only)
		json_object_object_add(r, "keys_only",
		    json_object_new_boolean(1));
	return r;
}

json_object *
ej_compare_mod(const char *key, const char *result, int64_t rev)
{
	return ej_compare_mod_range(key, NULL, result, rev);
}

json_object *
ej_compare_mod_range(const char *key, const char *end, const char *result,
    int64_t rev)
{
	json_object	*c = json_object_new_object();

	json_object_object_add(c, "key", ej_str(key));
	json_object_object_add(c, "target", json_object_new_string("MOD"));
	json_object_object_add(c, "result", json_object_new_string(result));
	json_object_object_add(c, "mod_revision", ej_i64(rev));
	if (end != NULL)
		json_object_object_add(c, "range_end", ej_str(end));
	return c;
}

json_object *
ej_compare_absent(const char *key)
{
	json_object	*c = json_object_new_object();

	/* version 0, a default, is left out as etcd does */
	json_object_object_add(c, "key", ej_str(key));
	json_object_object_add(c, "target", json_object_new_string("VERSION"));
	json_object_object_add(c, "result", json_object_new_string("EQUAL"));
	return c;
}

json_object *
ej_watch_create(const char *key, const char *end, int64_t start_rev)
{
	json_object	*c = json_object_new_object();

	json_object_object_add(c, "key", ej_str(key));
	json_object_object_add(c, "range_end", ej_str(end));
	json_object_object_add(c, "start_revision", ej_i64(start_rev));
	return op("create_request", c);
}

json_object *
ej_guard_compare(const char *ent, int64_t base)
{
	return ej_compare_mod(ent, "LESS", base + 1);
}

json_object *
ej_guard_changed(const char *ent, int64_t base, int64_t rev)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "request_range", ej_range(ent, NULL, rev,
	    base + 1, 0, 1, 1));
	return o;
}

/* ---- guard keys ---- */

/* The i-th space-separated word of body (0-based) into out; -1 if absent
 * or too long. */
static int
word(const char *body, size_t len, int i, char *out, size_t outlen)
{
	const char	*p = body, *end = body + len, *w;

	for (;;) {
		while (p < end && *p == ' ')
			p++;
		w = p;
		while (p < end && *p != ' ')
			p++;
		if (w == p)
			return -1;
		if (i-- == 0)
			break;
	}
	if ((size_t)(p - w) >= outlen)
		return -1;
	memcpy(out, w, (size_t)(p - w));
	out[p - w] = '\0';
	return 0;
}

static int
add_key(char **keys, int *n, const char *prefix, const char *kind,
    const char *a, const char *b)
{
	if (asprintf(&keys[*n], "%s/g/%s/%s%s%s/", prefix, kind, a,
	    b ? "/" : "", b ? b : "") == -1)
		return -1;
	(*n)++;
	return 0;
}

/* The written guard keys of a change in a group (word a) on b. */
static int
group_change_keys(char **keys, int *n, const char *prefix, const char *op_,
    const char *a, const char *b)
{
	if (strcmp(op_, "join_req") == 0 || strcmp(op_, "reject") == 0)
		return add_key(keys, n, prefix, "r", a, b);
	if (strcmp(op_, "accept") == 0)
		return add_key(keys, n, prefix, "r", a, b) == -1 ? -1 :
		    add_key(keys, n, prefix, "m", a, b);
	if (strcmp(op_, "leave") == 0)
		return add_key(keys, n, prefix, "m", a, b) == -1 ? -1 :
		    add_key(keys, n, prefix, "g", a, NULL);
	if (strcmp(op_, "file") == 0 || strcmp(op_, "seed") == 0 ||
	    strcmp(op_, "unseed") == 0)
		return add_key(keys, n, prefix, "f", a, b);
	return -1;
}

/* Past a "rid <id> <k> " prefix (journal.h), to the change it marks:
 * 1 if there was one. */
static int
skip_rid(const char **body, size_t *len)
{
	const char	*p = *body, *end = *body + *len;
	int		 w;

	if (*len < 4 || memcmp(p, "rid ", 4) != 0)
		return 0;
	for (w = 0; w < 3; w++) {
		while (p < end && *p == ' ')
			p++;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	*len -= (size_t)(p - *body);
	*body = p;
	return 1;
}

int
change_guards(const char *prefix, const char *body, size_t len,
    char *keys[ETCD_MAX_GUARDS], int *nw)
{
	char	op_[16], a[80], b[80];
	int	n = 0, rc;

	*nw = 0;
	if (skip_rid(&body, &len) && len == 0)
		return 0;		/* an id alone guards nothing */
	if (word(body, len, 0, op_, sizeof(op_)) == -1)
		return -1;
	if (strcmp(op_, "login") == 0 || strcmp(op_, "logout") == 0 ||
	    strcmp(op_, "touch") == 0 || strcmp(op_, "member") == 0)
		return 0;
	if (word(body, len, 1, a, sizeof(a)) == -1)
		return -1;
	if (strcmp(op_, "user") == 0)
		rc = add_key(keys, &n, prefix, "u", a, NULL);
	else if (strcmp(op_, "group") == 0)
		rc = add_key(keys, &n, prefix, "g", a, NULL);
	else if (word(body, len, 2, b, sizeof(b)) == -1)
		rc = -1;
	else if ((rc = group_change_keys(keys, &n, prefix, op_, a, b)) == 0 &&
	    strcmp(op_, "leave") != 0) {
		/* A change inside a group also reads the group. */
		*nw = n;
		rc = add_key(keys, &n, prefix, "g", a, NULL);
		if (rc == 0)
			return n;
	}
	if (rc == -1) {
		while (n > 0)
			free(keys[--n]);
		*nw = 0;
		return -1;
	}
	*nw = n;
	return n;
}

/* ---- parsing replies ---- */

static int64_t
get_i64(json_object *o, const char *name)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, name, &v))
		return 0;	/* defaults are left out */
	return json_object_get_int64(v);
}

static int
get_bool(json_object *o, const char *name)
{
	json_object	*v;

	return json_object_object_get_ex(o, name, &v) &&
	    json_object_get_boolean(v);
}

int
ej_error(json_object *o, char *err, size_t errlen)
{
	json_object	*e, *m;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return 1;
	}
	if (!json_object_object_get_ex(o, "error", &e))
		return 0;
	if (json_object_is_type(e, json_type_object) &&
	    json_object_object_get_ex(e, "message", &m))
		e = m;
	else if (json_object_object_get_ex(o, "message", &m))
		e = m;
	snprintf(err, errlen, "%s", json_object_get_string(e));
	return 1;
}

static int64_t
header_rev(json_object *o)
{
	json_object	*h;

	if (!json_object_object_get_ex(o, "header", &h))
		return 0;
	return get_i64(h, "revision");
}

int
ej_parse_txn(json_object *o, int64_t *revision, int *ok, int n, char *err,
    size_t errlen)
{
	json_object	*rs, *r, *t;
	int		 i;

	if (ej_error(o, err, errlen))
		return -1;
	*revision = header_rev(o);
	if (!get_bool(o, "succeeded"))
		return 1;
	if (!json_object_object_get_ex(o, "responses", &rs) ||
	    !json_object_is_type(rs, json_type_array) ||
	    json_object_array_length(rs) < (size_t)n || *revision <= 0) {
		snprintf(err, errlen, "malformed txn reply");
		return -1;
	}
	for (i = 0; i < n; i++) {
		r = json_object_array_get_idx(rs, (size_t)i);
		if (!json_object_object_get_ex(r, "response_txn", &t)) {
			snprintf(err, errlen, "malformed txn reply");
			return -1;
		}
		ok[i] = get_bool(t, "succeeded");
	}
	return 0;
}

int
ej_parse_found(json_object *o, int *found, int n, char *err, size_t errlen)
{
	json_object	*rs, *r, *rr, *c;
	int		 i;

	if (ej_error(o, err, errlen))
		return -1;
	if (!json_object_object_get_ex(o, "responses", &rs) ||
	    !json_object_is_type(rs, json_type_array) ||
	    json_object_array_length(rs) != (size_t)n) {
		snprintf(err, errlen, "malformed txn reply");
		return -1;
	}
	for (i = 0; i < n; i++) {
		r = json_object_array_get_idx(rs, (size_t)i);
		if (!json_object_object_get_ex(r, "response_range", &rr)) {
			snprintf(err, errlen, "malformed txn reply");
			return -1;
		}
		/* not "count": etcd counts before the revision filters */
		found[i] = json_object_object_get_ex(rr, "kvs", &c) &&
		    json_object_is_type(c, json_type_array) &&
		    json_object_array_length(c) > 0;
	}
	return 0;
}

static int
decode_field(json_object *kv, const char *name, char **out, size_t *len)
{
	json_object	*v;
	const char	*s = "";

	if (json_object_object_get_ex(kv, name, &v))
		s = json_object_get_string(v);
	return b64_decode(s, strlen(s), out, len);
}

static int
parse_kv(json_object *kv, struct ekv *e)
{
	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(kv, json_type_object) ||
	    decode_field(kv, "key", &e->key, &e->keylen) == -1)
		return -1;
	if (decode_field(kv, "value", &e->value, &e->vlen) == -1) {
		free(e->key);
		e->key = NULL;
		return -1;
	}
	e->mod_rev = get_i64(kv, "mod_revision");
	return 0;
}

/* Decode an array of kvs (range) or events (watch: {type, kv}). */
static int
parse_kvs(json_object *arr, struct ereply *r, int events)
{
	json_object	*it, *kv, *ty;
	size_t		 i, n = json_object_array_length(arr);

	if (n == 0)
		return 0;
	if ((r->kvs = calloc(n, sizeof(*r->kvs))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(arr, i);
		kv = it;
		if (events && !json_object_object_get_ex(it, "kv", &kv))
			return -1;
		if (parse_kv(kv, &r->kvs[i]) == -1)
			return -1;
		r->nkvs++;
		if (events && json_object_object_get_ex(it, "type", &ty))
			r->kvs[i].deleted = strcmp(json_object_get_string(ty),
			    "DELETE") == 0;
	}
	return 0;
}

int
ej_parse_range(json_object *o, struct ereply *r)
{
	json_object	*kvs;

	memset(r, 0, sizeof(*r));
	if (ej_error(o, r->error, sizeof(r->error)))
		return -1;
	r->revision = header_rev(o);
	r->more = get_bool(o, "more");
	if (json_object_object_get_ex(o, "kvs", &kvs) &&
	    (!json_object_is_type(kvs, json_type_array) ||
	    parse_kvs(kvs, r, 0) == -1)) {
		snprintf(r->error, sizeof(r->error), "malformed range reply");
		return -1;
	}
	return 0;
}

int
ej_parse_watch(json_object *o, struct ereply *r)
{
	json_object	*res, *evs;

	memset(r, 0, sizeof(*r));
	if (ej_error(o, r->error, sizeof(r->error)))
		return -1;
	if (!json_object_object_get_ex(o, "result", &res)) {
		snprintf(r->error, sizeof(r->error), "malformed watch message");
		return -1;
	}
	r->revision = header_rev(res);
	r->created = get_bool(res, "created");
	r->canceled = get_bool(res, "canceled");
	r->compact_rev = get_i64(res, "compact_revision");
	if (json_object_object_get_ex(res, "events", &evs) &&
	    (!json_object_is_type(evs, json_type_array) ||
	    parse_kvs(evs, r, 1) == -1)) {
		snprintf(r->error, sizeof(r->error), "malformed watch event");
		return -1;
	}
	return 0;
}

void
ereply_free(struct ereply *r)
{
	size_t	i;

	for (i = 0; i < r->nkvs; i++) {
		free(r->kvs[i].key);
		free(r->kvs[i].value);
	}
	free(r->kvs);
	r->kvs = NULL;
	r->nkvs = 0;
}
