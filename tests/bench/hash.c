/* Benchmark helper for run_hash.sh: hashes a file the way upload_file does
 * (hash_file_async on peerd's loop), or with -p checks its pieces from
 * memory the way a download does (sha1mb, and in the whole-file digest's
 * pass) and one by one with libcrypto. */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/log.h"
#include "tests/bench/bench_util.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"
#include "peerd/sha1mb.h"
#include "peerd/sha1ni.h"
#include "ipc/pieces.h"
#include "ipc/util.h"

struct peerd_config conf;

static double	t0;
static int		rc = 1;

static void
done(void *arg, struct hash_result *r)
{
	double	t1 = bench_now_s();
	char	hex[SHA1_HEX_LEN + 1];

	(void)arg;
	if (r->error == 0) {
		sha1_to_hex(r->sha1, hex);
		printf("%.3f %s %u\n", t1 - t0, hex, r->npieces);
		rc = 0;
	} else
		fprintf(stderr, "hash: error %d\n", r->error);
	ev_stop();
}

/*
 * -p: the seconds to check every whole piece in memory with sha1mb (all
 * of them in one call: it takes them SHA1MB_LANES at a time), then with
 * libcrypto one piece at a time, and the lanes used; then the whole-file
 * digest fed piece by piece (sha1ni's stream) alone, and fed with each
 * piece's own digest from the same pass, and whether that pass is shared
 * (the SHA instructions). Every set of digests must agree.
 */
static int
pieces(const char *path)
{
	const uint8_t	**data = NULL;
	uint8_t		(*mb)[SHA1_LEN] = NULL, (*one)[SHA1_LEN] = NULL, *file;
	uint8_t		  alone[SHA1_LEN], both[SHA1_LEN];
	struct sha1_stream s;
	size_t		  len, n, i;
	double		  start, mid, end, whole, shared;
	int		  status = 1;

	if ((file = (uint8_t *)read_small_file(path, SIZE_MAX, &len)) == NULL) {
		perror(path);
		return 1;
	}
	n = len / PIECE_SIZE;
	if (n == 0 || (data = calloc(n, sizeof(*data))) == NULL ||
	    (mb = calloc(n, SHA1_LEN)) == NULL ||
	    (one = calloc(n, SHA1_LEN)) == NULL) {
		fprintf(stderr, "hash: %s: no whole piece, or no memory\n",
		    path);
		goto done;
	}
	for (i = 0; i < n; i++)
		data[i] = file + i * PIECE_SIZE;
	start = bench_now_s();
	sha1mb(data, n, PIECE_SIZE, mb);
	mid = bench_now_s();
	for (i = 0; i < n; i++)
		SHA1(data[i], PIECE_SIZE, one[i]);
	end = bench_now_s();
	if (memcmp(mb, one, n * SHA1_LEN) != 0) {
		fprintf(stderr, "hash: sha1mb and libcrypto differ\n");
		goto done;
	}
	whole = bench_now_s();
	sha1_stream_init(&s, 1);
	for (i = 0; i < n; i++)
		sha1_stream_update(&s, data[i], PIECE_SIZE);
	sha1_stream_final(&s, alone);
	shared = bench_now_s();
	sha1_stream_init(&s, 1);
	for (i = 0; i < n; i++)
		sha1_stream_update_digest(&s, data[i], PIECE_SIZE, mb[i]);
	sha1_stream_final(&s, both);
	end = bench_now_s();
	if (memcmp(mb, one, n * SHA1_LEN) != 0 ||
	    memcmp(alone, both, SHA1_LEN) != 0) {
		fprintf(stderr, "hash: the shared pass differs\n");
		goto done;
	}
	printf("%.3f %.3f %d %.3f %.3f %d\n", mid - start, whole - mid,
	    sha1mb_lanes(), shared - whole, end - shared, sha1_stream_shared());
	status = 0;
done:
	free(data);
	free(mb);
	free(one);
	free(file);
	return status;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "-p") == 0)
		return pieces(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: hash [-p] FILE\n");
		return 64;
	}
	log_init("hash", 1, 0);
	if (ev_init() == -1)
		return 1;
	t0 = bench_now_s();
	if (hash_file_async(argv[1], done, NULL) == -1)
		return 1;
	ev_run();
	return rc;
}
