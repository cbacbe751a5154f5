/* Tickets: encode, sign, strictly decode and check the tracker's signed
 * statement of group membership for one file (Ed25519 through libcrypto). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ipc/ticket.h"

static void
put64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

EVP_PKEY *
ticket_keygen(uint8_t pub[TICKET_PUB_LEN])
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*key = NULL;
	size_t		 len = TICKET_PUB_LEN;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (key != NULL && (EVP_PKEY_get_raw_public_key(key, pub, &len) <= 0 ||
	    len != TICKET_PUB_LEN)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

void
ticket_keyid(const uint8_t pub[TICKET_PUB_LEN], uint8_t id[TICKET_KEYID_LEN])
{
	uint8_t	md[SHA256_DIGEST_LENGTH];

	SHA256(pub, TICKET_PUB_LEN, md);
	memcpy(id, md, TICKET_KEYID_LEN);
}

/* The signed part of t into out; its length, or 0. */
static size_t
encode_body(const struct ticket *t, uint8_t *out, size_t outlen)
{
	size_t	ul = strlen(t->user), gl = strlen(t->group), n;

	if (!name_valid(t->user) || !name_valid(t->group))
		return 0;
	n = 1 + TICKET_KEYID_LEN + 8 + SHA1_LEN + 1 + ul + 1 + gl;
	if (n + TICKET_SIG_LEN > outlen)
		return 0;
	out[0] = TICKET_VERSION;
	memcpy(out + 1, t->keyid, TICKET_KEYID_LEN);
	put64(out + 1 + TICKET_KEYID_LEN, t->expires);
	memcpy(out + 1 + TICKET_KEYID_LEN + 8, t->sha1, SHA1_LEN);
	n = 1 + TICKET_KEYID_LEN + 8 + SHA1_LEN;
	out[n++] = (uint8_t)ul;
	memcpy(out + n, t->user, ul);
	n += ul;
	out[n++] = (uint8_t)gl;
	memcpy(out + n, t->group, gl);
	return n + gl;
}

size_t
ticket_sign(const struct ticket *t, EVP_PKEY *key, uint8_t *out,
    size_t outlen)
{
	EVP_MD_CTX	*md;
	size_t		 n, siglen = TICKET_SIG_LEN;
	int		 ok;

	if ((n = encode_body(t, out, outlen)) == 0)
		return 0;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestSignInit(md, NULL, NULL, NULL, key) > 0 &&
	    EVP_DigestSign(md, out + n, &siglen, out, n) > 0 &&
	    siglen == TICKET_SIG_LEN;
	EVP_MD_CTX_free(md);
	return ok ? n + TICKET_SIG_LEN : 0;
}

/* A length-prefixed name at p[*off], bounded by end. */
static int
get_name(const uint8_t *p, size_t end, size_t *off, char out[NAME_MAX_LEN + 1])
{
	size_t	len;

	if (*off >= end)
		return -1;
	len = p[(*off)++];
	if (len < 1 || len > NAME_MAX_LEN || len > end - *off)
		return -1;
	memcpy(out, p + *off, len);
	out[len] = '\0';
	*off += len;
	return strlen(out) == len && name_valid(out) ? 0 : -1;
}

int
ticket_decode(const uint8_t *p, size_t n, struct ticket *t)
{
	size_t	off, end;

	if (n < TICKET_MIN_BIN || n > TICKET_MAX_BIN || p[0] != TICKET_VERSION)
		return -1;
	end = n - TICKET_SIG_LEN;
	memcpy(t->keyid, p + 1, TICKET_KEYID_LEN);
	t->expires = get64(p + 1 + TICKET_KEYID_LEN);
	memcpy(t->sha1, p + 1 + TICKET_KEYID_LEN + 8, SHA1_LEN);
	off = 1 + TICKET_KEYID_LEN + 8 + SHA1_LEN;
	if (get_name(p, end, &off, t->user) == -1 ||
	    get_name(p, end, &off, t->group) == -1)
		return -1;
	return off == end ? 0 : -1;
}

int
ticket_signed_by(const uint8_t *p, size_t n, const uint8_t pub[TICKET_PUB_LEN])
{
	EVP_PKEY	*key;
	EVP_MD_CTX	*md;
	int		 ok = 0;

	if (n < TICKET_MIN_BIN)
		return 0;
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    TICKET_PUB_LEN);
	if (key == NULL)
		return 0;
	if ((md = EVP_MD_CTX_new()) != NULL) {
		ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) > 0 &&
		    EVP_DigestVerify(md, p + n - TICKET_SIG_LEN, TICKET_SIG_LEN,
		    p, n - TICKET_SIG_LEN) == 1;
		EVP_MD_CTX_free(md);
	}
	EVP_PKEY_free(key);
	return ok;
}

enum ticket_verdict
ticket_check(const uint8_t *p, size_t n, const struct ticket_key *keys,
    size_t nkeys, const uint8_t sha1[SHA1_LEN], const char *group,
    uint64_t now, struct ticket *out)
{
	struct ticket	 t;
	size_t		 i;

	if (ticket_decode(p, n, &t) == -1)
		return TICKET_MALFORMED;
	if (out != NULL)
		*out = t;
	for (i = 0; i < nkeys; i++)
		if (memcmp(keys[i].keyid, t.keyid, TICKET_KEYID_LEN) == 0)
			break;
	if (i == nkeys)
		return TICKET_UNKNOWN_KEY;
	if (!ticket_signed_by(p, n, keys[i].pub))
		return TICKET_FORGED;
	if (ticket_expired(t.expires, now))
		return TICKET_EXPIRED;
	if (CRYPTO_memcmp(t.sha1, sha1, SHA1_LEN) != 0)
		return TICKET_WRONG_FILE;
	if (strcmp(t.group, group) != 0)
		return TICKET_WRONG_GROUP;
	return TICKET_OK;
}

int
ticket_expired(uint64_t expires, uint64_t now)
{
	return expires + TICKET_SKEW < now;
}

const char *
ticket_verdict_text(enum ticket_verdict v)
{
	switch (v) {
	case TICKET_OK:
		return "ticket accepted";
	case TICKET_MALFORMED:
		return "ticket malformed";
	case TICKET_UNKNOWN_KEY:
		return "ticket signed by an unknown key";
	case TICKET_FORGED:
		return "ticket signature invalid";
	case TICKET_EXPIRED:
		return "ticket expired";
	case TICKET_WRONG_FILE:
		return "ticket is for another file";
	case TICKET_WRONG_GROUP:
		return "ticket is for another group";
	}
	return "ticket refused";
}
