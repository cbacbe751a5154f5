/* Journal replay benchmark: writes a 1M-line sync_log.txt of realistic
 * changes into a temporary directory and times tracker_create on it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "tests/bench/bench_util.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"

#define NUSERS	100000
#define RUNS	3

static FILE	*out;
static uint64_t	 seq;

static void
emit(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void
emit(const char *fmt, ...)
{
	char	body[512], line[600];
	va_list	ap;
	int	n;
	size_t	len;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	seq++;
	len = journal_format_line(line, sizeof(line), seq, 1 + (int)(seq & 1),
	    body, (size_t)n);
	fwrite(line, 1, len, out);
}

static void
token(int i, char out16[17])
{
	snprintf(out16, 17, "T%015d", i);
}

static void
write_journal(const char *path)
{
	char	tok[17];
	int	i;

	if ((out = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < NUSERS; i++)
		emit("user user%d 1 600000 000102030405060708090a0b0c0d0e0f "
		    "f6115f97857e4a81f7fa22900b202f438049d0302b6c6158a66f2297"
		    "ace5fd6e", i);
	for (i = 0; i < NUSERS; i++) {
		token(i, tok);
		emit("login user%d %s %d", i, tok, 1700000000 + i);
	}
	for (i = 0; i < NUSERS; i++) {
		emit("group group%d user%d", i, i);
		emit("join_req group%d user%d", i, (i + 1) % NUSERS);
		emit("join_req group%d user%d", i, (i + 2) % NUSERS);
		emit("accept group%d user%d", i, (i + 1) % NUSERS);
	}
	for (i = 0; i < 2 * NUSERS; i++) {
		token(i / 2, tok);
		emit("file group%d file%d.bin 1000000 "
		    "0123456789abcdef0123456789abcdef%08x 2 "
		    "00112233445566778899aabbccddeeff%08x "
		    "ffeeddccbbaa99887766554433221100%08x 127.0.0.1 %d %s",
		    i / 2, i, i, i, i, 1024 + i % 60000, tok);
		token(i / 2, tok);
		emit("touch %s %d", tok, 1700001000 + i);
	}
	fclose(out);
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(void)
{
	struct tracker_config	 cfg;
	struct tracker		*t;
	char			 dir[] = "/tmp/p2p-replay-XXXXXX", path[64], err[512];
	char			 cmd[128];
	double			 times[RUNS], t0;
	int			 i;

	log_init("journal_replay", 1, 0);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/sync_log.txt", dir);
	write_journal(path);
	config_defaults(&cfg);
	cfg.journal_path = path;
	cfg.tracker_no = 1;
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "/p2p-bench-%d",
	    (int)getpid());
	for (i = 0; i < RUNS; i++) {
		t0 = bench_now_s();
		if ((t = tracker_create(&cfg, err, sizeof(err))) == NULL) {
			fprintf(stderr, "tracker_create: %s\n", err);
			return 1;
		}
		times[i] = bench_now_s() - t0;
		if (t->hdr->last_seq != seq || t->hdr->t[T_FILE].used !=
		    2 * NUSERS) {
			fprintf(stderr, "replay incomplete: %llu of %llu\n",
			    (unsigned long long)t->hdr->last_seq,
			    (unsigned long long)seq);
			return 1;
		}
		tracker_destroy(t);
	}
	qsort(times, RUNS, sizeof(times[0]), cmp);
	printf("journal replay: %llu lines in %.3f s (median of %d; goal "
	    "<= 2 s)\n", (unsigned long long)seq, times[RUNS / 2], RUNS);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
