/* The tracker protocol on peerd's side: replies parsed once into typed
 * results, download_file's answer, and the request lines. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/tproto.h"

static struct treply
parse(const char *text)
{
	struct treply	r;

	tproto_parse(text, strlen(text), &r);
	return r;
}

Test(tproto, kinds)
{
	struct treply	r;

	r = parse("OK");
	cr_assert_eq(r.kind, TREPLY_OK);
	cr_assert_eq(r.oklen, 0);
	r = parse("OK 2\ng1 alice\ng2 bob");
	cr_assert_eq(r.kind, TREPLY_OK);
	cr_assert_eq(strncmp(r.ok, "2\ng1", 4), 0);
	r = parse("OKAY");
	cr_assert_eq(r.kind, TREPLY_ERR);
	r = parse("ERR not_member not a member of g");
	cr_assert_eq(r.kind, TREPLY_ERR);
	cr_assert_str_eq(r.reason, "not_member");
	cr_assert_str_eq(r.text, "not a member of g");
	cr_assert_str_eq(tproto_message(&r), "not a member of g");
	cr_assert(tproto_is(&r, "not_member"));
	cr_assert_not(tproto_is(&r, "not_owner"));
	r = parse("ERR invalid_session");
	cr_assert(tproto_is(&r, "invalid_session"));
	cr_assert_str_eq(tproto_message(&r), "invalid_session");
	r = parse("ERR bad_request   two\nlines");
	cr_assert_str_eq(r.text, "two");
	r = parse("");
	cr_assert_eq(r.kind, TREPLY_ERR);
	cr_assert_str_eq(tproto_message(&r), "refused by the tracker");
	tproto_none(&r);
	cr_assert_eq(r.kind, TREPLY_NONE);
	cr_assert_str_eq(tproto_message(&r), "no tracker reachable");
}

Test(tproto, bounded_text)
{
	char		 long_reply[4096];
	struct treply	 r;

	memset(long_reply, 'x', sizeof(long_reply));
	memcpy(long_reply, "ERR ", 4);
	long_reply[200] = ' ';
	long_reply[sizeof(long_reply) - 1] = '\0';
	r = parse(long_reply);
	cr_assert_eq(strlen(r.reason), sizeof(r.reason) - 1);
	cr_assert_eq(strlen(r.text), sizeof(r.text) - 1);
}

Test(tproto, login_token)
{
	struct treply	r;
	char		tok[32];

	r = parse("OK login_success abcdefgh12345678");
	cr_assert_eq(tproto_login_token(&r, tok, sizeof(tok)), 0);
	cr_assert_str_eq(tok, "abcdefgh12345678");
	r = parse("OK created");
	cr_assert_eq(tproto_login_token(&r, tok, sizeof(tok)), -1);
	r = parse("OK login_success 0123456789abcdef0123456789abcdef01");
	cr_assert_eq(tproto_login_token(&r, tok, sizeof(tok)), -1);
	r = parse("ERR bad_password wrong");
	cr_assert_eq(tproto_login_token(&r, tok, sizeof(tok)), -1);
}

static void
count_row(void *arg, char **w, int n)
{
	char	*out = arg;

	strcat(out, w[0]);
	strcat(out, n == 2 ? "=" : "!");
	if (n == 2)
		strcat(out, w[1]);
	strcat(out, ";");
}

Test(tproto, rows)
{
	struct treply	r;
	char		out[256] = "";

	r = parse("OK 2\ng1 alice\ng2 bob");
	cr_assert_eq(tproto_rows(&r, 2, count_row, out), 0);
	cr_assert_str_eq(out, "g1=alice;g2=bob;");
	r = parse("ERR not_owner no");
	cr_assert_eq(tproto_rows(&r, 2, count_row, out), -1);
}

Test(tproto, requests)
{
	struct endpoint	self;
	struct buf	b;
	uint8_t		sha1[SHA1_LEN], pieces[2][SHA1_LEN];
	char		*argv[] = { "g", "alice" };

	cr_assert_eq(endpoint_parse("127.0.0.9:7001", &self), 0);
	memset(sha1, 0xab, sizeof(sha1));
	memset(pieces, 0x01, sizeof(pieces));
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_upload(&b, "g", "f", 10, &self, sha1, 2, pieces), 0);
	cr_assert_str_eq(buf_head(&b), "upload_file g f 10 127.0.0.9 7001 "
	    "abababababababababababababababababababab 2 "
	    "0101010101010101010101010101010101010101 "
	    "0101010101010101010101010101010101010101");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_stop_share(&b, "g", "f", &self), 0);
	cr_assert_str_eq(buf_head(&b), "stop_share g f 127.0.0.9 7001");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_words(&b, "accept_request", argv, 2), 0);
	cr_assert_str_eq(buf_head(&b), "accept_request g alice");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_download(&b, "g", "f"), 0);
	cr_assert_str_eq(buf_head(&b), "download_file g f");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_download_partial(&b, "g", "f"), 0);
	cr_assert_str_eq(buf_head(&b), "download_file g f partial");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(tproto_upload_partial(&b, "g", "f", 10, &self, sha1, 2,
	    pieces), 0);
	cr_assert_not_null(strstr(buf_head(&b), " 2 0101010101010101010101010"
	    "101010101010101 0101010101010101010101010101010101010101 partial"));
	buf_free(&b);
	buf_init(&b, 16);
	cr_assert_eq(tproto_download(&b, "group", "a-long-file-name"), -1);
	buf_free(&b);
}

Test(tproto, file_answer)
{
	struct tfile		m;
	struct endpoint		eps[4];
	int			n;
	char			reply[1024];
	const char		*h = "0123456789abcdef0123456789abcdef01234567";

	snprintf(reply, sizeof(reply), "OK %u %s 2 %s\n%s 3 127.0.0.1:7001 "
	    "127.0.0.2:7002 10.0.0.1:9", PIECE_SIZE + 1, h, h, h);
	memset(&m, 0, sizeof(m));
	cr_assert_eq(tproto_file_text(reply, &m, eps, 2, &n), 0);
	cr_assert_eq(m.size, PIECE_SIZE + 1);
	cr_assert_eq(m.npieces, 2);
	cr_assert_eq(m.piece_sha1[1][19], 0x67);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(eps[1].text, "127.0.0.2:7002");
	free(m.piece_sha1);

	snprintf(reply, sizeof(reply), "OK 0 %s 0 0", h);
	cr_assert_eq(tproto_file_text(reply, &m, eps, 4, &n), 0);
	cr_assert_eq(n, 0);
	free(m.piece_sha1);

	/* peerd's form: IPv6 seeders in brackets */
	snprintf(reply, sizeof(reply), "OK 1 %s 1 %s 2 [::1]:7001 "
	    "127.0.0.1:7002", h, h);
	cr_assert_eq(tproto_file_text(reply, &m, eps, 4, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(eps[0].text, "[::1]:7001");
	cr_assert_eq(endpoint_family(&eps[0]), AF_INET6);
	cr_assert_eq(endpoint_port(&eps[0]), 7001);
	free(m.piece_sha1);
	snprintf(reply, sizeof(reply), "OK 1 %s 1 %s 1 ::1:7001", h, h);
	cr_assert_eq(tproto_file_text(reply, &m, eps, 4, &n), -1);
}

Test(tproto, file_answer_malformed)
{
	static const char *bad[] = {
		"",
		"ERR no_such_file nope",
		"OK 10 0123456789abcdef0123456789abcdef01234567 2 "
		    "0123456789abcdef0123456789abcdef01234567 "
		    "0123456789abcdef0123456789abcdef01234567 0",
		"OK 10 0123456789abcdef0123456789abcdef01234567 1 "
		    "0123456789abcdef0123456789abcdef01234567 2 127.0.0.1:1",
		"OK 10 0123456789abcdef0123456789abcdef01234567 1 "
		    "0123456789abcdef0123456789abcdef01234567 1 127.0.0.1:99999",
		"OK 10 0123456789abcdef0123456789abcdef01234567 1 "
		    "0123456789abcdef0123456789abcdef0123456 0",
		"OK 10 0123456789abcdef0123456789abcdef01234567 1 "
		    "0123456789abcdef0123456789abcdef01234567 0 extra",
		"OK -10 0123456789abcdef0123456789abcdef01234567 1",
	};
	struct tfile		m;
	struct endpoint		eps[4];
	int			n;
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = strdup(bad[i]);
		cr_assert_eq(tproto_file_text(copy, &m, eps, 4, &n), -1,
		    "case %zu", i);
		cr_assert_null(m.piece_sha1);
		free(copy);
	}
}

Test(tproto, ticket_answer)
{
	/* the ipc/ticket.c golden vector, expiry 1700000000 */
	static const char hex[] =
	    "0121fe31dfa154a261000000006553f10011111111111111111111111111111111"
	    "1111111105616c696365047465616d87eb88492fb5e45a9107dd9e5d7e1324b1"
	    "669f4b34cd4453a467a6e1411200ee61faa7c0b08914cee945db4cce8a29003a"
	    "fb0c477311b583874dde27b693e40a";
	char		 text[512];
	uint8_t		 bin[TICKET_MAX_BIN];
	size_t		 len;
	uint64_t	 exp;
	struct treply	 r;

	snprintf(text, sizeof(text), "OK %s 1700000000", hex);
	tproto_parse(text, strlen(text), &r);
	cr_assert_eq(tproto_ticket(&r, bin, &len, &exp), 0);
	cr_assert_eq(len, 112);
	cr_assert_eq(exp, 1700000000);
	snprintf(text, sizeof(text), "OK %s 1700000001", hex);
	tproto_parse(text, strlen(text), &r);
	cr_assert_eq(tproto_ticket(&r, bin, &len, &exp), -1, "stated expiry");
	snprintf(text, sizeof(text), "OK %.222s 1700000000", hex);
	tproto_parse(text, strlen(text), &r);
	cr_assert_eq(tproto_ticket(&r, bin, &len, &exp), -1, "truncated");
	tproto_parse("OK zz 1", 7, &r);
	cr_assert_eq(tproto_ticket(&r, bin, &len, &exp), -1);
	tproto_parse("ERR not_member x", 16, &r);
	cr_assert_eq(tproto_ticket(&r, bin, &len, &exp), -1);
}

Test(tproto, keys_answer)
{
	/* RFC 8032 test 1 public key and its id */
	static const char good[] = "OK 1\n21fe31dfa154a261 "
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
	static const char badid[] = "OK 1\n21fe31dfa154a262 "
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
	struct ticket_key	k[4];
	struct treply		r;
	size_t			n = 99;

	tproto_parse(good, strlen(good), &r);
	cr_assert_eq(tproto_keys(&r, k, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(k[0].pub[0], 0xd7);
	tproto_parse(badid, strlen(badid), &r);
	cr_assert_eq(tproto_keys(&r, k, 4, &n), -1, "id not the key's");
	tproto_parse("OK 0", 4, &r);
	cr_assert_eq(tproto_keys(&r, k, 4, &n), 0);
	cr_assert_eq(n, 0);
	tproto_parse("OK 1\nabc def", 12, &r);
	cr_assert_eq(tproto_keys(&r, k, 4, &n), -1);
}

/* peerd's form of a request: session and id prefixes, each optional; the
 * seed client's form (neither) is the bare line. */
Test(tproto, request_forms_and_ids)
{
	struct buf	b;
	char		rid[TPROTO_RID_LEN + 1], rid2[TPROTO_RID_LEN + 1];

	buf_init(&b, 4096);
	cr_assert_eq(tproto_request(&b, NULL, NULL, NULL, "list_groups"), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	cr_assert_str_eq(buf_head(&b), "list_groups");
	b.len = b.off = 0;
	cr_assert_eq(tproto_request(&b, "alice", "TOKEN", "00ff",
	    "create_group g"), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	cr_assert_str_eq(buf_head(&b), "session alice TOKEN rid 00ff "
	    "create_group g");
	b.len = b.off = 0;
	cr_assert_eq(tproto_request(&b, NULL, NULL, "00ff",
	    "create_user bob pw"), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	cr_assert_str_eq(buf_head(&b), "rid 00ff create_user bob pw");
	buf_free(&b);
	tproto_new_rid(rid);
	tproto_new_rid(rid2);
	cr_assert_eq(strlen(rid), TPROTO_RID_LEN);
	cr_assert_eq(strspn(rid, "0123456789abcdef"), TPROTO_RID_LEN);
	cr_assert_str_neq(rid, rid2);
	cr_assert_eq(tproto_changes("list_groups"), 0);
	cr_assert_eq(tproto_changes("download_file g f partial"), 0);
	cr_assert_eq(tproto_changes("touch"), 0);
	cr_assert_eq(tproto_changes("keys"), 0);
	cr_assert_eq(tproto_changes("list_filesx g"), 1);
	cr_assert_eq(tproto_changes("create_group g"), 1);
	cr_assert_eq(tproto_changes("upload_file g f 1"), 1);
	cr_assert_eq(tproto_changes("logout"), 1);
}
