/* Benchmark helper for run_hash.sh: hashes a file the way upload_file does
 * (hash_file_async on peerd's loop) and prints the seconds it took. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ipc/log.h"
#include "tests/bench/bench_util.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"

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

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hash FILE\n");
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
