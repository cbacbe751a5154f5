/* Benchmark helper for run_hash.sh: hashes a file the way upload_file does
 * (hash_file_async on peerd's loop), or with -p checks its pieces from
 * memory the way a download does (sha1mb) and one by one with libcrypto. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/log.h"
#include "tests/bench/bench_util.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"
#include "peerd/sha1mb.h"
#include "ipc/pieces.h"

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

/* The whole file in memory; NULL on error. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	uint8_t	*p;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1 || (p = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/*
 * -p: the seconds to check every whole piece in memory with sha1mb in
 * batches of SHA1MB_LANES, then with libcrypto one piece at a time, and
 * the lanes used; the two sets of digests must agree.
 */
static int
pieces(const char *path)
{
	const uint8_t	 *data[SHA1MB_LANES];
	uint8_t		(*mb)[SHA1_LEN], (*one)[SHA1_LEN], *file;
	size_t		  len, n, i, j, k;
	double		  start, mid, end;

	if ((file = slurp(path, &len)) == NULL) {
		perror(path);
		return 1;
	}
	n = len / PIECE_SIZE;
	if (n == 0 || (mb = calloc(n, SHA1_LEN)) == NULL ||
	    (one = calloc(n, SHA1_LEN)) == NULL) {
		fprintf(stderr, "hash: %s: no whole piece, or no memory\n",
		    path);
		return 1;
	}
	start = bench_now_s();
	for (i = 0; i < n; i += k) {
		k = n - i < SHA1MB_LANES ? n - i : SHA1MB_LANES;
		for (j = 0; j < k; j++)
			data[j] = file + (i + j) * PIECE_SIZE;
		sha1mb(data, k, PIECE_SIZE, mb + i);
	}
	mid = bench_now_s();
	for (i = 0; i < n; i++)
		SHA1(file + i * PIECE_SIZE, PIECE_SIZE, one[i]);
	end = bench_now_s();
	if (memcmp(mb, one, n * SHA1_LEN) != 0) {
		fprintf(stderr, "hash: sha1mb and libcrypto differ\n");
		return 1;
	}
	printf("%.3f %.3f %d\n", mid - start, end - mid, sha1mb_lanes());
	free(mb);
	free(one);
	free(file);
	return 0;
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
