/* libFuzzer harness for trackerd's decoding of etcd's v3 gateway JSON
 * (trackerd/etcd_codec.c): transaction, range and watch replies, error
 * replies, and the entity keys read from a change body.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "trackerd/etcd_codec.h"

#define NOPS	8

/* Every key and value decoded is as long as it says, NUL-terminated. */
static void
check_reply(const struct ereply *r)
{
	size_t	i;

	if (strnlen(r->error, sizeof(r->error)) == sizeof(r->error))
		abort();
	for (i = 0; i < r->nkvs; i++) {
		if (r->kvs[i].key == NULL || r->kvs[i].key[r->kvs[i].keylen])
			abort();
		if (r->kvs[i].value != NULL &&
		    r->kvs[i].value[r->kvs[i].vlen] != '\0')
			abort();
	}
}

static void
parse_all(json_object *o)
{
	struct ereply	r;
	int64_t		rev;
	int		ok[NOPS], found[NOPS];
	char		err[160];

	(void)ej_parse_txn(o, &rev, ok, NOPS, err, sizeof(err));
	(void)ej_parse_found(o, found, NOPS, err, sizeof(err));
	(void)ej_error(o, err, sizeof(err));
	if (strnlen(err, sizeof(err)) == sizeof(err))
		abort();
	memset(&r, 0, sizeof(r));
	if (ej_parse_range(o, &r) == 0)
		check_reply(&r);
	ereply_free(&r);
	memset(&r, 0, sizeof(r));
	if (ej_parse_watch(o, &r) == 0)
		check_reply(&r);
	ereply_free(&r);
}

static void
guards(const uint8_t *data, size_t n)
{
	char	*keys[ETCD_MAX_GUARDS];
	int	 k, nw;

	if ((k = change_guards("/p2p", (const char *)data, n, keys, &nw)) < 0)
		return;
	if (k > ETCD_MAX_GUARDS || nw < 0 || nw > k)
		abort();
	while (k-- > 0) {
		if (keys[k] == NULL || keys[k][strlen(keys[k]) - 1] != '/')
			abort();
		free(keys[k]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct json_tokener	*tok;
	json_object		*o;

	guards(data, n);
	if ((tok = json_tokener_new()) == NULL)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(n > 65536 ?
	    65536 : n));
	if (o != NULL) {
		parse_all(o);
		json_object_put(o);
	}
	json_tokener_free(tok);
	return 0;
}
