/* Changes larger than one etcd request: written first in parts under
 * PREFIX/spill/, committed as a reference, read back by every applier. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/util.h"
#include "trackerd/crc32.h"
#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"
#include "trackerd/etcd_spill.h"

#define SPILL_PART	(900u * 1000u)	/* bytes of one part: one put, under
					 * etcd's 1.5 MiB once in base64 */
#define SPILL_MAX_PARTS	100		/* 90 MB: past any journal line */

int
spill_wanted(size_t len)
{
	return len >= SPILL_MIN;
}

void
spill_dir(const char *prefix, const char *tag, char *out, size_t len)
{
	snprintf(out, len, "%s/spill/%s/", prefix, tag);
}

static void
part_key(const char *dir, size_t i, char *out, size_t len)
{
	snprintf(out, len, "%s%06zu", dir, i);
}

/* One part, on one endpoint after another until end; 0 or -1 (err). */
static int
put_part(struct etcd *h, const char *key, const char *p, size_t n,
    uint64_t end, char *err, size_t errlen)
{
	json_object	*txn, *ops, *resp;
	uint64_t	 now;
	int64_t		 rev;
	int		 amb, rc;

	while ((now = mono_ms()) < end) {
		txn = json_object_new_object();
		ops = json_object_new_array();
		json_object_array_add(ops, ej_put(key, p, n));
		json_object_object_add(txn, "success", ops);
		if (etcd_post(h, "/v3/kv/txn", txn, &resp, (int)(end - now),
		    &amb, err, errlen) == 0) {
			rc = ej_parse_txn(resp, &rev, NULL, 0, err, errlen);
			json_object_put(resp);
			if (rc != -1)
				return 0;
		}
		etcd_next(h);	/* a put is the same put when sent twice */
	}
	return -1;
}

int
spill_write(struct etcd *h, const char *dir, const char *body, size_t len,
    uint64_t end, char *err, size_t errlen)
{
	char	key[400];
	size_t	i, off, n;

	for (i = 0, off = 0; off < len; i++, off += n) {
		n = len - off < SPILL_PART ? len - off : SPILL_PART;
		part_key(dir, i, key, sizeof(key));
		if (put_part(h, key, body + off, n, end, err, errlen) == -1)
			return -1;
	}
	return 0;
}

size_t
spill_ref(char *out, const char *dir, const char *body, size_t len)
{
	int	n;

	n = snprintf(out, SPILL_REF_MAX, "@spill %s %zu %08" PRIx32, dir, len,
	    crc32_update(0, body, len));
	return n < 0 ? 0 : n >= SPILL_REF_MAX ? SPILL_REF_MAX - 1 : (size_t)n;
}

json_object *
spill_compare(const char *dir)
{
	char	key[400];

	part_key(dir, 0, key, sizeof(key));
	return ej_compare_mod(key, "GREATER", 0);
}

int
spill_is_ref(const char *body, size_t len)
{
	return len > 7 && len < SPILL_REF_MAX && memcmp(body, "@spill ", 7) == 0;
}

/* One part at rev: appended to out; -1 if missing or an error. */
static int
get_part(struct etcd *h, const char *key, int64_t rev, int ms,
    struct buf *out, char *err, size_t errlen)
{
	struct ereply	 r;
	json_object	*resp;
	int		 amb, rc = -1;

	if (etcd_post(h, "/v3/kv/range", ej_range(key, NULL, rev, 0, 0, 0, 0),
	    &resp, ms, &amb, err, errlen) == -1)
		return -1;
	if (ej_parse_range(resp, &r) == -1)
		snprintf(err, errlen, "%s", r.error);
	else if (r.nkvs != 1)
		snprintf(err, errlen, "part %s is missing", key);
	else if (buf_append(out, r.kvs[0].value, r.kvs[0].vlen) == -1)
		snprintf(err, errlen, "part %s: out of memory", key);
	else
		rc = 0;
	ereply_free(&r);
	json_object_put(resp);
	return rc;
}

char *
spill_read(struct etcd *h, const char *ref, size_t reflen, int64_t rev,
    int ms, size_t *outlen, char *err, size_t errlen)
{
	char		 text[SPILL_REF_MAX], dir[SPILL_REF_MAX], key[400];
	struct buf	 b;
	size_t		 len, i;
	uint32_t	 crc;

	if (!spill_is_ref(ref, reflen)) {
		snprintf(err, errlen, "not a reference");
		return NULL;
	}
	memcpy(text, ref, reflen);
	text[reflen] = '\0';
	if (sscanf(text, "@spill %300s %zu %" SCNx32, dir, &len, &crc) != 3 ||
	    len == 0 || len / SPILL_PART >= SPILL_MAX_PARTS) {
		snprintf(err, errlen, "malformed reference");
		return NULL;
	}
	buf_init(&b, len + 1);
	for (i = 0; b.len < len; i++) {
		part_key(dir, i, key, sizeof(key));
		if (i >= SPILL_MAX_PARTS ||
		    get_part(h, key, rev, ms, &b, err, errlen) == -1) {
			buf_free(&b);
			return NULL;
		}
	}
	if (b.len != len || crc32_update(0, b.data, len) != crc ||
	    buf_append(&b, "", 1) == -1) {
		snprintf(err, errlen, "the parts under %s are not whole", dir);
		buf_free(&b);
		return NULL;
	}
	*outlen = len;
	return b.data;
}
