/* The JSON of etcd's v3 gateway: every request trackerd builds, every reply
 * and watch message it reads (golden text), guard keys, and the -J URL. */
#include <criterion/criterion.h>
#include <string.h>

#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"
#include "trackerd/etcd_spill.h"

/* The request as compact JSON text (frees o). */
static char *
js(json_object *o)
{
	char	*s = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

#define expect_json(o, want) do {					\
	char *s_ = js(o);						\
	cr_assert_str_eq(s_, (want));					\
	free(s_);							\
} while (0)

Test(etcd_codec, base64_round_trip)
{
	const char	*in[] = { "", "a", "ab", "abc", "user alice 1 2 ff",
	    "\x01\x02\xff" };
	char		*e, *d;
	size_t		 n;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		e = b64_encode(in[i], strlen(in[i]));
		cr_assert_eq(b64_decode(e, strlen(e), &d, &n), 0);
		cr_assert_eq(n, strlen(in[i]));
		cr_assert(memcmp(d, in[i], n) == 0);
		free(e);
		free(d);
	}
	e = b64_encode("abc", 3);
	cr_assert_str_eq(e, "YWJj");
	free(e);
	cr_assert_eq(b64_decode("YWJ", 3, &d, &n), -1, "unpadded accepted");
	cr_assert_eq(b64_decode("Y!Jj", 4, &d, &n), -1, "bad byte accepted");
}

Test(etcd_codec, requests)
{
	char	*end = prefix_end("/p/log/");

	cr_assert_str_eq(end, "/p/log0");
	free(end);
	expect_json(ej_put("/k", "v", 1),
	    "{\"request_put\":{\"key\":\"L2s=\",\"value\":\"dg==\"}}");
	expect_json(ej_delete("/k", NULL),
	    "{\"request_delete_range\":{\"key\":\"L2s=\"}}");
	expect_json(ej_delete("/a", "/b"), "{\"request_delete_range\":"
	    "{\"key\":\"L2E=\",\"range_end\":\"L2I=\"}}");
	expect_json(ej_range("/a", "/b", 7, 3, 5, 10, 1), "{\"key\":\"L2E=\","
	    "\"range_end\":\"L2I=\",\"revision\":\"7\",\"min_mod_revision\":"
	    "\"3\",\"max_mod_revision\":\"5\",\"limit\":\"10\","
	    "\"keys_only\":true}");
	expect_json(ej_range("/a", NULL, 0, 0, 0, 0, 0), "{\"key\":\"L2E=\"}");
	expect_json(ej_compare_mod("/u", "LESS", 42), "{\"key\":\"L3U=\","
	    "\"target\":\"MOD\",\"result\":\"LESS\",\"mod_revision\":\"42\"}");
	expect_json(ej_compare_mod_range("/u/", "/u0", "LESS", 42), "{\"key\":"
	    "\"L3Uv\",\"target\":\"MOD\",\"result\":\"LESS\",\"mod_revision\":"
	    "\"42\",\"range_end\":\"L3Uw\"}");
	expect_json(ej_compare_absent("/u"), "{\"key\":\"L3U=\",\"target\":"
	    "\"VERSION\",\"result\":\"EQUAL\"}");
	expect_json(ej_watch_create("/a", "/b", 9), "{\"create_request\":"
	    "{\"key\":\"L2E=\",\"range_end\":\"L2I=\",\"start_revision\":"
	    "\"9\"}}");
}

Test(etcd_codec, entity_guards)
{
	/* the entity's key did not change after revision 100 */
	expect_json(ej_guard_compare("/e/g1/", 100), "{\"key\":\"L2UvZzEv\","
	    "\"target\":\"MOD\",\"result\":\"LESS\",\"mod_revision\":"
	    "\"101\"}");
	/* the look after a refusal: it changed after 100 */
	expect_json(ej_guard_changed("/e/g1/", 100, 0), "{\"request_range\":"
	    "{\"key\":\"L2UvZzEv\",\"min_mod_revision\":\"101\","
	    "\"limit\":\"1\",\"keys_only\":true}}");
	/* ... as it was at revision 250 */
	expect_json(ej_guard_changed("/e/g1/", 100, 250), "{\"request_range\":"
	    "{\"key\":\"L2UvZzEv\",\"revision\":\"250\","
	    "\"min_mod_revision\":\"101\","
	    "\"limit\":\"1\",\"keys_only\":true}}");
}

Test(etcd_codec, found_replies)
{
	json_object	*o;
	int		 found[3];
	char		 err[128];

	/* keys-only ranges of a failure branch; "count" is etcd's before
	 * its revision filters, so only the keys tell */
	o = json_tokener_parse("{\"header\":{\"revision\":\"9\"},"
	    "\"responses\":["
	    "{\"response_range\":{\"header\":{},\"kvs\":[{\"key\":"
	    "\"L2E=\",\"mod_revision\":\"8\"}],\"count\":\"1\"}},"
	    "{\"response_range\":{\"header\":{},\"count\":\"3\"}},"
	    "{\"response_range\":{\"header\":{},\"kvs\":[{\"key\":"
	    "\"L2I=\"}],\"count\":\"2\"}}]}");
	cr_assert_eq(ej_parse_found(o, found, 3, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert(found[0] && !found[1] && found[2]);
	cr_assert_eq(ej_parse_found(o, found, 2, err, sizeof(err)), -1,
	    "a reply of another length accepted");
	json_object_put(o);
	o = json_tokener_parse("{\"header\":{},\"responses\":["
	    "{\"response_put\":{}}]}");
	cr_assert_eq(ej_parse_found(o, found, 1, err, sizeof(err)), -1);
	json_object_put(o);
}

static json_object *
parse(const char *s)
{
	json_object	*o = json_tokener_parse(s);

	cr_assert_not_null(o, "bad golden JSON: %s", s);
	return o;
}

Test(etcd_codec, txn_replies)
{
	json_object	*o;
	int64_t		 rev;
	int		 ok[3];
	char		 err[128];

	/* etcd leaves "succeeded": false out, as every default */
	o = parse("{\"header\":{\"revision\":\"12\"},\"succeeded\":true,"
	    "\"responses\":[{\"response_txn\":{\"header\":{},\"responses\":[]}},"
	    "{\"response_txn\":{\"header\":{},\"succeeded\":true}},"
	    "{\"response_put\":{\"header\":{}}}]}");
	cr_assert_eq(ej_parse_txn(o, &rev, ok, 2, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(rev, 12);
	cr_assert_eq(ok[0], 0);
	cr_assert_eq(ok[1], 1);
	json_object_put(o);
	/* the outer compares failed */
	o = parse("{\"header\":{\"revision\":\"13\"}}");
	cr_assert_eq(ej_parse_txn(o, &rev, ok, 2, err, sizeof(err)), 1);
	json_object_put(o);
	/* too few nested replies */
	o = parse("{\"header\":{\"revision\":\"13\"},\"succeeded\":true,"
	    "\"responses\":[]}");
	cr_assert_eq(ej_parse_txn(o, &rev, ok, 2, err, sizeof(err)), -1);
	json_object_put(o);
	/* an etcd error */
	o = parse("{\"error\":\"etcdserver: too many operations in txn "
	    "request\",\"code\":3,\"message\":\"etcdserver: too many "
	    "operations in txn request\"}");
	cr_assert_eq(ej_parse_txn(o, &rev, ok, 2, err, sizeof(err)), -1);
	cr_assert(strstr(err, "too many operations") != NULL, "%s", err);
	json_object_put(o);
}

Test(etcd_codec, range_reply)
{
	struct ereply	 r;
	json_object	*o;

	o = parse("{\"header\":{\"revision\":\"40\"},\"kvs\":["
	    "{\"key\":\"L2E=\",\"create_revision\":\"3\",\"mod_revision\":"
	    "\"5\",\"version\":\"1\",\"value\":\"dg==\"},"
	    "{\"key\":\"L2I=\",\"mod_revision\":\"7\"}],\"more\":true,"
	    "\"count\":\"9\"}");
	cr_assert_eq(ej_parse_range(o, &r), 0, "%s", r.error);
	cr_assert_eq(r.revision, 40);
	cr_assert_eq(r.nkvs, 2);
	cr_assert(r.more);
	cr_assert_str_eq(r.kvs[0].key, "/a");
	cr_assert_str_eq(r.kvs[0].value, "v");
	cr_assert_eq(r.kvs[0].mod_rev, 5);
	cr_assert_str_eq(r.kvs[1].value, "");	/* keys_only */
	ereply_free(&r);
	json_object_put(o);
	o = parse("{\"header\":{\"revision\":\"1\"}}");
	cr_assert_eq(ej_parse_range(o, &r), 0);
	cr_assert_eq(r.nkvs, 0);
	cr_assert_eq(r.more, 0);
	ereply_free(&r);
	json_object_put(o);
	o = parse("{\"header\":{},\"kvs\":[{\"key\":\"!!\"}]}");
	cr_assert_eq(ej_parse_range(o, &r), -1, "bad base64 accepted");
	ereply_free(&r);
	json_object_put(o);
}

Test(etcd_codec, watch_messages)
{
	struct ereply	 r;
	json_object	*o;

	o = parse("{\"result\":{\"header\":{\"revision\":\"3\"},"
	    "\"created\":true}}");
	cr_assert_eq(ej_parse_watch(o, &r), 0);
	cr_assert(r.created);
	cr_assert_eq(r.nkvs, 0);
	ereply_free(&r);
	json_object_put(o);
	o = parse("{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":["
	    "{\"kv\":{\"key\":\"L2E=\",\"mod_revision\":\"8\",\"value\":"
	    "\"dXNlciBh\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2I=\","
	    "\"mod_revision\":\"8\"}}]}}");
	cr_assert_eq(ej_parse_watch(o, &r), 0, "%s", r.error);
	cr_assert_eq(r.nkvs, 2);
	cr_assert_str_eq(r.kvs[0].value, "user a");
	cr_assert_eq(r.kvs[0].deleted, 0);
	cr_assert_eq(r.kvs[1].deleted, 1);
	cr_assert_eq(r.kvs[1].mod_rev, 8);
	ereply_free(&r);
	json_object_put(o);
	o = parse("{\"result\":{\"header\":{},\"canceled\":true,"
	    "\"compact_revision\":\"2\"}}");
	cr_assert_eq(ej_parse_watch(o, &r), 0);
	cr_assert(r.canceled);
	cr_assert_eq(r.compact_rev, 2);
	ereply_free(&r);
	json_object_put(o);
	o = parse("{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: "
	    "no leader\"}}");
	cr_assert_eq(ej_parse_watch(o, &r), -1);
	cr_assert_str_eq(r.error, "etcdserver: no leader");
	ereply_free(&r);
	json_object_put(o);
}

struct guard_case {
	char	body[128];
	int	n, nw;
	char	keys[4][48];
};

Test(etcd_codec, guards_of_each_change)
{
	static const struct guard_case cases[] = {
		{ "user alice 1 1000 00 00", 1, 1, { "/p/g/u/alice/" } },
		{ "group g alice", 1, 1, { "/p/g/g/g/" } },
		{ "join_req g bob", 2, 1, { "/p/g/r/g/bob/", "/p/g/g/g/" } },
		{ "reject g bob", 2, 1, { "/p/g/r/g/bob/", "/p/g/g/g/" } },
		{ "accept g bob", 3, 2, { "/p/g/r/g/bob/", "/p/g/m/g/bob/",
		    "/p/g/g/g/" } },
		{ "leave g bob", 2, 2, { "/p/g/m/g/bob/", "/p/g/g/g/" } },
		{ "file g f.bin 1 aa 1 bb 1.2.3.4 5 tok", 2, 1,
		    { "/p/g/f/g/f.bin/", "/p/g/g/g/" } },
		{ "seed g f.bin 1.2.3.4 5 tok", 2, 1,
		    { "/p/g/f/g/f.bin/", "/p/g/g/g/" } },
		{ "unseed g f.bin 1.2.3.4 5", 2, 1,
		    { "/p/g/f/g/f.bin/", "/p/g/g/g/" } },
		{ "login alice tok 5", 0, 0, { "" } },
		{ "logout tok", 0, 0, { "" } },
		{ "touch tok 5", 0, 0, { "" } },
		/* a request id's prefix: the guards of the change it marks */
		{ "rid 0123456789abcdef0123456789abcdef 1 group g alice", 1, 1,
		    { "/p/g/g/g/" } },
		{ "rid 0123456789abcdef0123456789abcdef 0", 0, 0, { "" } },
	};
	char	*keys[ETCD_MAX_GUARDS];
	int	 n, nw;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct guard_case *c = &cases[i];

		n = change_guards("/p", c->body, strlen(c->body), keys, &nw);
		cr_assert_eq(n, c->n, "%s: %d keys", c->body, n);
		cr_assert_eq(nw, c->nw, "%s: %d written", c->body, nw);
		for (int k = 0; k < n; k++) {
			cr_assert_str_eq(keys[k], c->keys[k], "%s", c->body);
			free(keys[k]);
		}
	}
	cr_assert_eq(change_guards("/p", "bogus x y", 9, keys, &nw), -1);
	cr_assert_eq(change_guards("/p", "accept g", 8, keys, &nw), -1);
	cr_assert_eq(change_guards("/p", "", 0, keys, &nw), -1);
}

Test(etcd_codec, the_J_url)
{
	struct etcd_target	tg;
	char			err[256];

	cr_assert_eq(etcd_parse_url("etcd://127.0.0.1:2379,10.0.0.2:2379/p2p/"
	    "prod", &tg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tg.n, 2);
	cr_assert_str_eq(tg.endpoints[0], "http://127.0.0.1:2379");
	cr_assert_str_eq(tg.endpoints[1], "http://10.0.0.2:2379");
	cr_assert_str_eq(tg.prefix, "/p2p/prod");
	cr_assert_eq(etcd_parse_url("http://127.0.0.1:2379/p", &tg, err,
	    sizeof(err)), -1);
	cr_assert_eq(etcd_parse_url("etcd://127.0.0.1:2379", &tg, err,
	    sizeof(err)), -1, "no prefix accepted");
	cr_assert_eq(etcd_parse_url("etcd://127.0.0.1:2379/", &tg, err,
	    sizeof(err)), -1, "empty prefix accepted");
	cr_assert_eq(etcd_parse_url("etcd://127.0.0.1:2379/a b", &tg, err,
	    sizeof(err)), -1);
	cr_assert_eq(etcd_parse_url("etcd://host:2379/p", &tg, err,
	    sizeof(err)), -1, "a name where an IP is expected");
	cr_assert_eq(etcd_parse_url("etcd:///p", &tg, err, sizeof(err)), -1);
	cr_assert_eq(tg.tls, 0);
}

/* etcds://: every endpoint over https; the TLS files only with it, the
 * client certificate and key together. */
Test(etcd_codec, the_J_url_over_https)
{
	struct etcd_target	tg;
	char			err[256];

	cr_assert_eq(etcd_parse_url("etcds://127.0.0.1:2379,10.0.0.2:2380/p",
	    &tg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tg.tls, 1);
	cr_assert_eq(tg.n, 2);
	cr_assert_str_eq(tg.endpoints[0], "https://127.0.0.1:2379");
	cr_assert_str_eq(tg.endpoints[1], "https://10.0.0.2:2380");
	cr_assert_eq(etcd_check_tls(&tg, err, sizeof(err)), 0, "%s", err);
	tg.cert = "/nonexistent.pem";
	cr_assert_eq(etcd_check_tls(&tg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--etcd-cert and --etcd-key go together");
	tg.cert = NULL;
	tg.cacert = "/nonexistent-ca.pem";
	cr_assert_eq(etcd_check_tls(&tg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent-ca.pem") != NULL, "%s", err);
	cr_assert_eq(etcd_parse_url("etcds:/127.0.0.1:2379/p", &tg, err,
	    sizeof(err)), -1);
	cr_assert_eq(etcd_parse_url("etcd://127.0.0.1:2379/p", &tg, err,
	    sizeof(err)), 0);
	tg.cacert = "/etc/ssl/certs/ca-certificates.crt";
	cr_assert_eq(etcd_check_tls(&tg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "need -J etcds://") != NULL, "%s", err);
}

/* A change too large for one request is committed as a reference to its
 * parts: its length and CRC name them whole; the compare wants part 0. */
Test(etcd_codec, spilled_change_reference)
{
	char	dir[200], ref[SPILL_REF_MAX];
	size_t	n;

	cr_assert(!spill_wanted(SPILL_MIN - 1));
	cr_assert(spill_wanted(SPILL_MIN));
	spill_dir("/p", "01-00001234-00000002-0003", dir, sizeof(dir));
	cr_assert_str_eq(dir, "/p/spill/01-00001234-00000002-0003/");
	n = spill_ref(ref, dir, "123456789", 9);
	cr_assert_str_eq(ref,
	    "@spill /p/spill/01-00001234-00000002-0003/ 9 cbf43926");
	cr_assert_eq(n, strlen(ref));
	cr_assert(spill_is_ref(ref, n));
	cr_assert(!spill_is_ref("file g f 9 x", 12));
	cr_assert(!spill_is_ref("@spill", 6));
	expect_json(spill_compare(dir), "{\"key\":\"L3Avc3BpbGwvMDEtMDAwMDEy"
	    "MzQtMDAwMDAwMDItMDAwMy8wMDAwMDA=\",\"target\":\"MOD\","
	    "\"result\":\"GREATER\",\"mod_revision\":\"0\"}");
}
