/* Tickets: a tracker's signed statement that a user is a member of a group
 * and may fetch one file (by SHA-1) until a time. Pure, Ed25519 (libcrypto).
 *
 * Binary form (also sent in a peer HELLO; hex-encoded in tracker replies):
 *   version (1 byte, 1) | key id (8) | expiry (8, big endian unix time) |
 *   file SHA-1 (20) | user length (1) | user | group length (1) | group |
 *   Ed25519 signature (64) over every byte before it.
 * A key id is the first 8 bytes of SHA-256 of the 32-byte public key.
 */
#ifndef IPC_TICKET_H
#define IPC_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ipc/names.h"
#include "ipc/proto.h"

#define TICKET_VERSION		1
#define TICKET_KEYID_LEN	8
#define TICKET_PUB_LEN		32
#define TICKET_SIG_LEN		64
#define TICKET_MIN_BIN		(1 + TICKET_KEYID_LEN + 8 + SHA1_LEN + 1 + 1 + \
				 1 + 1 + TICKET_SIG_LEN)
#define TICKET_MAX_BIN		(1 + TICKET_KEYID_LEN + 8 + SHA1_LEN + \
				 2 * (1 + NAME_MAX_LEN) + TICKET_SIG_LEN)
#define TICKET_MAX_HEX		(2 * TICKET_MAX_BIN)
#define TICKET_SKEW		60	/* seconds of clock difference allowed */

struct ticket {
	uint8_t		keyid[TICKET_KEYID_LEN];
	uint64_t	expires;		/* unix time */
	uint8_t		sha1[SHA1_LEN];
	char		user[NAME_MAX_LEN + 1];
	char		group[NAME_MAX_LEN + 1];
};

struct ticket_key {
	uint8_t		keyid[TICKET_KEYID_LEN];
	uint8_t		pub[TICKET_PUB_LEN];
};

enum ticket_verdict {
	TICKET_OK,
	TICKET_MALFORMED,
	TICKET_UNKNOWN_KEY,	/* signed by a key we do not know (yet) */
	TICKET_FORGED,		/* the signature does not hold */
	TICKET_EXPIRED,
	TICKET_WRONG_FILE,
	TICKET_WRONG_GROUP
};

/* A new Ed25519 key pair; its public half in pub. NULL on failure. */
EVP_PKEY	*ticket_keygen(uint8_t pub[TICKET_PUB_LEN]);
void		 ticket_keyid(const uint8_t pub[TICKET_PUB_LEN],
		    uint8_t id[TICKET_KEYID_LEN]);
/* Encode and sign t (t->keyid must be the key's id) into out; returns the
 * length, or 0 (bad names, out too small, libcrypto failure). */
size_t		 ticket_sign(const struct ticket *t, EVP_PKEY *key,
		    uint8_t *out, size_t outlen);
/* Strict parse of the binary form, without checking the signature:
 * 0, or -1 if p[0..n) is not exactly one well-formed ticket. */
int		 ticket_decode(const uint8_t *p, size_t n, struct ticket *t);
/* 1 if the signature over p[0..n) holds for pub (n a decoded ticket). */
int		 ticket_signed_by(const uint8_t *p, size_t n,
		    const uint8_t pub[TICKET_PUB_LEN]);
/*
 * Everything a seeder checks: well-formed, signed by one of keys, for
 * this file and group, not expired at now (TICKET_SKEW allowed). t, if
 * not NULL, gets the decoded ticket (for the log) when it parses.
 */
enum ticket_verdict ticket_check(const uint8_t *p, size_t n,
		    const struct ticket_key *keys, size_t nkeys,
		    const uint8_t sha1[SHA1_LEN], const char *group,
		    uint64_t now, struct ticket *t);
const char	*ticket_verdict_text(enum ticket_verdict);
/* 1 if a ticket expiring at expires is no longer good at now (unix
 * times; TICKET_SKEW allowed), as ticket_check judges it. */
int		 ticket_expired(uint64_t expires, uint64_t now);

#endif
