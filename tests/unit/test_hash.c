/* Unit tests for peerd/hash.c: hash_file_async gives the same whole-file
 * and piece digests as the reference single pass (ipc hash_fd), for sizes
 * around piece boundaries and on both sides of the two-thread threshold. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/pieces.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"

struct peerd_config conf;

static struct hash_result	*got;

static void
done(void *arg, struct hash_result *r)
{
	(void)arg;
	got = r;
	ev_stop();
}

static void
check_size(uint64_t size)
{
	char		 path[] = "/tmp/p2p-hash-XXXXXX";
	uint8_t		*data, whole[SHA1_LEN], (*pieces)[SHA1_LEN];
	uint64_t	 i, n = pieces_count(size);
	int		 fd;

	cr_assert((fd = mkstemp(path)) != -1);
	data = malloc(size + 1);
	for (i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	cr_assert_eq(write(fd, data, size), (ssize_t)size);
	pieces = calloc(n + 1, SHA1_LEN);
	cr_assert_eq(hash_fd(fd, size, whole, pieces), 0);
	got = NULL;
	cr_assert_eq(hash_file_async(path, done, NULL), 0);
	cr_assert_eq(ev_run(), 0);
	cr_assert_not_null(got);
	cr_assert_eq(got->error, 0, "size %llu", (unsigned long long)size);
	cr_assert_eq(got->size, size);
	cr_assert_eq(got->npieces, n);
	cr_assert_arr_eq(got->sha1, whole, SHA1_LEN);
	if (n > 0)
		cr_assert_arr_eq(got->piece_sha1, pieces, n * SHA1_LEN,
		    "size %llu", (unsigned long long)size);
	free(got->piece_sha1);
	free(got);
	free(pieces);
	free(data);
	close(fd);
	unlink(path);
}

Test(hash, matches_reference)
{
	static const uint64_t sizes[] = {
		0, 1, 64, PIECE_SIZE - 1, PIECE_SIZE, PIECE_SIZE + 1,
		3 * PIECE_SIZE + 777, 8u << 20, (9u << 20) + 5,
	};
	size_t	i;

	cr_assert_eq(ev_init(), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_size(sizes[i]);
}

Test(hash, missing_and_not_regular)
{
	cr_assert_eq(ev_init(), 0);
	got = NULL;
	cr_assert_eq(hash_file_async("/nonexistent/p2p-file", done, NULL), 0);
	cr_assert_eq(ev_run(), 0);
	cr_assert_eq(got->error, ENOENT);
	cr_assert_null(got->piece_sha1);
	free(got);
	got = NULL;
	cr_assert_eq(hash_file_async("/tmp", done, NULL), 0);
	cr_assert_eq(ev_run(), 0);
	cr_assert_eq(got->error, EINVAL);
	free(got);
}
