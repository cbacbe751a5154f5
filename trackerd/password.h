/* Password records: PBKDF2-HMAC-SHA256 with a per-user random salt; the
 * record keeps algorithm and iterations so the cost can be raised later. */
#ifndef TRACKERD_PASSWORD_H
#define TRACKERD_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define PW_ALGO_PBKDF2_SHA256	1
#define PW_SALT_LEN		16
#define PW_HASH_LEN		32
#define PW_MIN_ITERATIONS	1
#define PW_MAX_ITERATIONS	100000000u

struct pw_record {
	uint8_t		algo;
	uint32_t	iterations;
	uint8_t		salt[PW_SALT_LEN];
	uint8_t		hash[PW_HASH_LEN];
};

/* A fresh random salt (arc4random_buf). */
void	pw_new_salt(uint8_t salt[PW_SALT_LEN]);
/* Derive the hash of password into rec->hash from rec's algo, iterations
 * and salt. 0, or -1 (unknown algorithm, libcrypto failure). */
int	pw_derive(struct pw_record *rec, const char *password, size_t len);
/* 1 if password matches rec (constant-time comparison), else 0. */
int	pw_verify(const struct pw_record *rec, const char *password, size_t len);

#endif
