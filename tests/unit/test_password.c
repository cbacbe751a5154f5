/* Password records: PBKDF2-HMAC-SHA256 against known vectors (computed
 * independently), verification, bad parameters and fresh salts. */
#include <criterion/criterion.h>
#include <string.h>

#include "ipc/proto.h"
#include "trackerd/password.h"

struct vector {
	char		password[132];
	uint8_t		salt_first;	/* salt = salt_first, +step, ... */
	uint8_t		salt_step;
	uint32_t	iterations;
	char		hash_hex[65];
};

static struct vector vectors[] = {
	{ "correct-horse", 0, 1, 1000,
	  "f6115f97857e4a81f7fa22900b202f438049d0302b6c6158a66f2297ace5fd6e" },
	{ "p", 0xff, 0, 1,
	  "4c610e02dc17d5bd8525595ac818a0d1e576ae4b665caee445f5d52dbd4733f5" },
	{ "", 16, 1, 2, "" },	/* 128 'x', filled in below */
};

static void
record(const struct vector *v, struct pw_record *r)
{
	int	i;

	memset(r, 0, sizeof(*r));
	r->algo = PW_ALGO_PBKDF2_SHA256;
	r->iterations = v->iterations;
	for (i = 0; i < PW_SALT_LEN; i++)
		r->salt[i] = (uint8_t)(v->salt_first + i * v->salt_step);
}

Test(password, known_vectors)
{
	struct pw_record	r;
	char			hex[2 * PW_HASH_LEN + 1];
	size_t			i;

	memset(vectors[2].password, 'x', 128);
	vectors[2].password[128] = '\0';
	strcpy(vectors[2].hash_hex,
	    "046cafccc0c00a74470fa89a6d639f4cb3895327c9a9d6bd20806f4687dfe2a7");
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		record(&vectors[i], &r);
		cr_assert_eq(pw_derive(&r, vectors[i].password,
		    strlen(vectors[i].password)), 0);
		hex_encode(r.hash, PW_HASH_LEN, hex);
		cr_assert_str_eq(hex, vectors[i].hash_hex, "vector %zu", i);
		cr_assert(pw_verify(&r, vectors[i].password,
		    strlen(vectors[i].password)));
	}
}

Test(password, wrong_password_and_tampered_record)
{
	struct pw_record	r;

	record(&vectors[0], &r);
	cr_assert_eq(pw_derive(&r, "correct-horse", 13), 0);
	cr_assert(pw_verify(&r, "correct-horse", 13));
	cr_assert_not(pw_verify(&r, "correct-horsf", 13));
	cr_assert_not(pw_verify(&r, "correct-hors", 12));
	cr_assert_not(pw_verify(&r, "", 0));
	r.salt[0] ^= 1;
	cr_assert_not(pw_verify(&r, "correct-horse", 13), "salt ignored");
	r.salt[0] ^= 1;
	r.iterations++;
	cr_assert_not(pw_verify(&r, "correct-horse", 13), "cost ignored");
}

Test(password, bad_parameters)
{
	struct pw_record	r;

	record(&vectors[0], &r);
	r.algo = 2;
	cr_assert_eq(pw_derive(&r, "a", 1), -1);
	cr_assert_not(pw_verify(&r, "a", 1));
	r.algo = PW_ALGO_PBKDF2_SHA256;
	r.iterations = 0;
	cr_assert_eq(pw_derive(&r, "a", 1), -1);
	r.iterations = PW_MAX_ITERATIONS + 1;
	cr_assert_eq(pw_derive(&r, "a", 1), -1);
}

Test(password, salts_are_fresh)
{
	uint8_t	a[PW_SALT_LEN], b[PW_SALT_LEN], zero[PW_SALT_LEN] = { 0 };

	pw_new_salt(a);
	pw_new_salt(b);
	cr_assert(memcmp(a, b, PW_SALT_LEN) != 0);
	cr_assert(memcmp(a, zero, PW_SALT_LEN) != 0);
}
