/* The JSON of etcd's v3 gateway as plain data: transactions, ranges and
 * watch messages built and parsed here, without I/O, so they are unit-tested. */
#ifndef TRACKERD_ETCD_CODEC_H
#define TRACKERD_ETCD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ETCD_MAX_OPS		128		/* etcd's --max-txn-ops default */
#define ETCD_MAX_BATCH_BYTES	(1000u * 1000u)	/* raw bodies per txn: base64
						 * keeps it under 1.5 MiB */
#define ETCD_MAX_GUARDS		4		/* entity keys of one change */

/* One key-value from a range reply or a watch event (decoded bytes). */
struct ekv {
	char		*key;		/* NUL-terminated */
	size_t		 keylen;
	char		*value;		/* NUL-terminated */
	size_t		 vlen;
	int64_t		 mod_rev;
	int		 deleted;	/* a watch DELETE event */
};

/* A range reply or a watch message, decoded. */
struct ereply {
	int64_t		 revision;	/* header.revision */
	struct ekv	*kvs;
	size_t		 nkvs;
	int		 more;		/* range: more keys past the limit */
	int		 created;	/* watch: the create confirmation */
	int		 canceled;	/* watch: canceled (see compact_rev) */
	int64_t		 compact_rev;	/* watch: compacted away below this */
	char		 error[160];	/* an etcd error, "" if none */
};
void	ereply_free(struct ereply *);

/* base64 of etcd's JSON (standard alphabet, padded). */
char	*b64_encode(const void *, size_t);
int	 b64_decode(const char *, size_t, char **out, size_t *outlen);

/* Key helpers: the JSON string of a key, and the end of a prefix range. */
json_object *ej_bytes(const void *, size_t);
json_object *ej_str(const char *);
json_object *ej_i64(int64_t);
char	*prefix_end(const char *prefix);	/* malloc'd */

/* Requests. */
json_object *ej_put(const char *key, const void *val, size_t vlen);
/* Delete key, or the range [key, end) if end is not NULL. */
json_object *ej_delete(const char *key, const char *end);
json_object *ej_range(const char *key, const char *end, int64_t rev,
	    int64_t min_mod, int64_t max_mod, int64_t limit, int keys_only);
/* Compare the key's mod_revision: result "LESS", "EQUAL", ... rev; the
 * range form compares every key of [key, end). */
json_object *ej_compare_mod(const char *key, const char *result, int64_t rev);
json_object *ej_compare_mod_range(const char *key, const char *end,
	    const char *result, int64_t rev);
/* Compare: the key does not exist. */
json_object *ej_compare_absent(const char *key);
json_object *ej_watch_create(const char *key, const char *end,
	    int64_t start_rev);

/*
 * The entities a change body (the journal's "op args...") touches, which
 * two trackers could race on: each a key under prefix/g/ ending in '/'
 * ("prefix/g/g/g1/"), which every transaction writing it rewrites. *nw
 * written ones first, then read ones; returns the total (0 for a change
 * on no entity: sessions), each malloc'd into keys[]. -1 for a body that
 * is not a change.
 */
int	change_guards(const char *prefix, const char *body, size_t len,
	    char *keys[ETCD_MAX_GUARDS], int *nw);

/* The compare guarding an entity (a key from change_guards): it did not
 * change after revision base. And the look at it after a refusal: a
 * range op that finds it if it changed after base, as it was at revision
 * rev (0: now). */
json_object *ej_guard_compare(const char *ent, int64_t base);
json_object *ej_guard_changed(const char *ent, int64_t base, int64_t rev);

/* A transaction reply: header revision and, per nested transaction, 1 if
 * it succeeded. 0; 1 if the outer compares failed; -1 if malformed or an
 * etcd error (err set). */
int	ej_parse_txn(json_object *, int64_t *revision, int *ok, int n,
	    char *err, size_t errlen);
/* A transaction reply of ranges (keys only): found[i] is 1 if the i-th
 * range matched a key. 0 or -1 (err). */
int	ej_parse_found(json_object *, int *found, int n, char *err,
	    size_t errlen);
/* A range reply or a watch message ({"result": ...}). 0 or -1 (err in r). */
int	ej_parse_range(json_object *, struct ereply *);
int	ej_parse_watch(json_object *, struct ereply *);
/* An error reply ({"error": ..., "code": N} or a message): 1 and its text
 * in err if it is one, else 0. */
int	ej_error(json_object *, char *err, size_t errlen);

#endif
