/* Unit tests of ipc/ticket.c: a golden vector (its signature checked
 * against the openssl CLI), the strict decoder and every verdict. */
#include <criterion/criterion.h>
#include <string.h>

#include "ipc/ticket.h"

/* RFC 8032 test 1 secret key. */
static const char sk_hex[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/* keyid 21fe31dfa154a261, expiry 1700000000, sha1 11..11, alice, team;
 * signature = openssl pkeyutl -sign -rawin over the bytes before it. */
static const char golden_hex[] =
    "0121fe31dfa154a261000000006553f100111111111111111111111111111111111111"
    "111105616c696365047465616d87eb88492fb5e45a9107dd9e5d7e1324b1669f4b34"
    "cd4453a467a6e1411200ee61faa7c0b08914cee945db4cce8a29003afb0c477311b5"
    "83874dde27b693e40a";

static EVP_PKEY		*key;
static struct ticket_key tk;
static uint8_t		 sha[SHA1_LEN];

static void
setup(void)
{
	uint8_t	sk[32];
	size_t	len = TICKET_PUB_LEN;

	cr_assert_eq(hex_decode(sk_hex, sk, sizeof(sk)), 32);
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
	cr_assert_not_null(key);
	cr_assert_eq(EVP_PKEY_get_raw_public_key(key, tk.pub, &len), 1);
	ticket_keyid(tk.pub, tk.keyid);
	memset(sha, 0x11, sizeof(sha));
}

static void
teardown(void)
{
	EVP_PKEY_free(key);
}

TestSuite(ticket, .init = setup, .fini = teardown);

static size_t
make(const char *user, const char *group, uint64_t expires, uint8_t *out)
{
	struct ticket	t;

	memset(&t, 0, sizeof(t));
	memcpy(t.keyid, tk.keyid, TICKET_KEYID_LEN);
	t.expires = expires;
	memcpy(t.sha1, sha, SHA1_LEN);
	strlcpy(t.user, user, sizeof(t.user));
	strlcpy(t.group, group, sizeof(t.group));
	return ticket_sign(&t, key, out, TICKET_MAX_BIN);
}

Test(ticket, golden_vector)
{
	uint8_t		out[TICKET_MAX_BIN];
	char		hex[TICKET_MAX_HEX + 1];
	size_t		n;
	struct ticket	t;

	n = make("alice", "team", 1700000000, out);
	cr_assert_eq(n, 112);
	hex_encode(out, n, hex);
	cr_assert_str_eq(hex, golden_hex);
	cr_assert_eq(ticket_decode(out, n, &t), 0);
	cr_assert_str_eq(t.user, "alice");
	cr_assert_str_eq(t.group, "team");
	cr_assert_eq(t.expires, 1700000000);
	cr_assert(ticket_signed_by(out, n, tk.pub));
}

Test(ticket, verdicts)
{
	uint8_t			out[TICKET_MAX_BIN], other[SHA1_LEN];
	struct ticket_key	wrong = tk;
	size_t			n;
	uint64_t		now = 1700000000;

	n = make("alice", "team", now + 600, out);
	cr_assert_eq(ticket_check(out, n, &tk, 1, sha, "team", now, NULL),
	    TICKET_OK);
	cr_assert_eq(ticket_check(out, n, &tk, 1, sha, "team",
	    now + 600 + TICKET_SKEW, NULL), TICKET_OK, "skew allowed");
	cr_assert_eq(ticket_check(out, n, &tk, 1, sha, "team",
	    now + 600 + TICKET_SKEW + 1, NULL), TICKET_EXPIRED);
	cr_assert_eq(ticket_check(out, n, &tk, 1, sha, "teams", now, NULL),
	    TICKET_WRONG_GROUP);
	memset(other, 0x22, sizeof(other));
	cr_assert_eq(ticket_check(out, n, &tk, 1, other, "team", now, NULL),
	    TICKET_WRONG_FILE);
	cr_assert_eq(ticket_check(out, n, NULL, 0, sha, "team", now, NULL),
	    TICKET_UNKNOWN_KEY);
	wrong.pub[0] ^= 1;	/* same id, other key: a forgery */
	cr_assert_eq(ticket_check(out, n, &wrong, 1, sha, "team", now, NULL),
	    TICKET_FORGED);
	out[20] ^= 0x40;	/* a bit of the file hash */
	cr_assert_eq(ticket_check(out, n, &tk, 1, sha, "team", now, NULL),
	    TICKET_FORGED);
}

Test(ticket, strict_decoder)
{
	uint8_t		out[TICKET_MAX_BIN + 1], copy[TICKET_MAX_BIN + 1];
	struct ticket	t;
	size_t		n, i;

	n = make("a", "g", 5, out);
	cr_assert_eq(n, TICKET_MIN_BIN);
	cr_assert_eq(ticket_decode(out, n, &t), 0);
	cr_assert_eq(ticket_decode(out, n - 1, &t), -1, "short");
	out[n] = 0;
	cr_assert_eq(ticket_decode(out, n + 1, &t), -1, "trailing byte");
	memcpy(copy, out, n);
	copy[0] = 2;
	cr_assert_eq(ticket_decode(copy, n, &t), -1, "version");
	memcpy(copy, out, n);
	copy[37] = 0;		/* user length 0 */
	cr_assert_eq(ticket_decode(copy, n, &t), -1);
	memcpy(copy, out, n);
	copy[38] = '/';		/* not a name */
	cr_assert_eq(ticket_decode(copy, n, &t), -1);
	memcpy(copy, out, n);
	copy[38] = '\0';	/* NUL inside a name */
	cr_assert_eq(ticket_decode(copy, n, &t), -1);
	memcpy(copy, out, n);
	copy[37] = 200;		/* beyond the buffer */
	cr_assert_eq(ticket_decode(copy, n, &t), -1);
	for (i = 0; i < n; i++)	/* every prefix is refused */
		cr_assert_eq(ticket_decode(out, i, &t), -1);
	n = make("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
	    5, out);
	cr_assert_eq(n, TICKET_MAX_BIN, "64-byte names fit");
	cr_assert_eq(ticket_decode(out, n, &t), 0);
	cr_assert_eq(make("bad/name", "g", 5, out), 0, "names are checked");
}

Test(ticket, fresh_keys_sign_and_verify)
{
	uint8_t		 pub[TICKET_PUB_LEN], out[TICKET_MAX_BIN];
	EVP_PKEY	*k;
	struct ticket	 t;
	size_t		 n;

	cr_assert_not_null(k = ticket_keygen(pub));
	memset(&t, 0, sizeof(t));
	ticket_keyid(pub, t.keyid);
	strcpy(t.user, "u");
	strcpy(t.group, "g");
	cr_assert_gt(n = ticket_sign(&t, k, out, sizeof(out)), 0);
	cr_assert(ticket_signed_by(out, n, pub));
	cr_assert_not(ticket_signed_by(out, n, tk.pub));
	cr_assert_eq(ticket_sign(&t, k, out, TICKET_MIN_BIN - 1), 0,
	    "bounded output");
	EVP_PKEY_free(k);
}
