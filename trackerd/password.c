/* PBKDF2-HMAC-SHA256 password records through libcrypto; hashes compared
 * with CRYPTO_memcmp so a wrong guess costs the same time as a right one. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "trackerd/password.h"

void
pw_new_salt(uint8_t salt[PW_SALT_LEN])
{
	arc4random_buf(salt, PW_SALT_LEN);
}

int
pw_derive(struct pw_record *rec, const char *password, size_t len)
{
	if (rec->algo != PW_ALGO_PBKDF2_SHA256 ||
	    rec->iterations < PW_MIN_ITERATIONS ||
	    rec->iterations > PW_MAX_ITERATIONS || len > INT32_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, rec->salt, PW_SALT_LEN,
	    (int)rec->iterations, EVP_sha256(), PW_HASH_LEN, rec->hash) != 1)
		return -1;
	return 0;
}

int
pw_verify(const struct pw_record *rec, const char *password, size_t len)
{
	struct pw_record	tmp;
	int			ok;

	tmp = *rec;
	if (pw_derive(&tmp, password, len) == -1)
		return 0;
	ok = CRYPTO_memcmp(tmp.hash, rec->hash, PW_HASH_LEN) == 0;
	explicit_bzero(&tmp, sizeof(tmp));
	return ok;
}
