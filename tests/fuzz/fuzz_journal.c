/* libFuzzer harness for the journal: each input line is checked as written,
 * signed again if its checksum fails, replayed, compacted and replayed again.
 *
 * The checksum would reject nearly every mutated line before the apply
 * path sees it, so the harness signs such a line itself (its seq and
 * checksum replaced, journal_format_line) instead of the production code
 * growing a switch to skip the check. An
 * input that does not end in '\n' leaves its last line unsigned: a torn
 * append. Replay must succeed or refuse cleanly; a compacted journal must
 * replay to as many live records as the state it was written from.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/state.h"

#define FJ_MAX_LINES	256

/* tmpfs: compaction syncs the file and its directory on every input */
static char			 fj_dir[] = "/dev/shm/p2p-fuzz-journal-XXXXXX";
static char			 fj_path[96];
static struct tracker_config	 fj_cfg;

static void
fj_cleanup(void)
{
	char	tmp[112];

	unlink(fj_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", fj_path);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s.seq", fj_path);	/* the read barrier's page */
	unlink(tmp);
	rmdir(fj_dir);
}

static void
fj_init(void)
{
	log_init("fuzz_journal", 1, 0);
	log_setverbose(0);
	if (mkdtemp(fj_dir) == NULL)
		abort();
	snprintf(fj_path, sizeof(fj_path), "%s/sync_log.txt", fj_dir);
	config_defaults(&fj_cfg);
	fj_cfg.journal_path = fj_path;
	fj_cfg.tracker_no = 1;
	fj_cfg.kdf_iterations = 1;
	fj_cfg.max_users = fj_cfg.max_groups = fj_cfg.max_sessions = 64;
	fj_cfg.max_members = fj_cfg.max_requests = fj_cfg.max_files = 128;
	fj_cfg.max_seeders = 256;
	fj_cfg.max_hashes = 4096;
	fj_cfg.max_file_size = 1u << 30;
	fj_cfg.sync = SYNC_NO;
	snprintf(fj_cfg.shm_name, sizeof(fj_cfg.shm_name), "/p2p-fuzzj-%d",
	    (int)getpid());
	atexit(fj_cleanup);
}

/* The parser on the line as it came: any bytes, any checksum. 0 if the
 * line holds. */
static int
check_raw(const char *line, size_t len)
{
	const char	*body;
	size_t		 blen;
	uint64_t	 seq;
	int		 no;

	if (journal_parse_line(line, len, &seq, &no, &body, &blen) != 0)
		return -1;
	if (body < line || body + blen > line + len)
		abort();
	return 0;
}

/* Sign body as change seq and append it; the signed line must parse back
 * to the same body. */
static void
write_signed(int fd, const char *body, size_t len, uint64_t seq)
{
	const char	*b;
	char		*line;
	size_t		 cap = len + 64, n, blen;
	uint64_t	 s;
	int		 no;

	if ((line = malloc(cap)) == NULL)
		abort();
	if ((n = journal_format_line(line, cap, seq, 1, body, len)) == 0)
		abort();
	if (journal_parse_line(line, n - 1, &s, &no, &b, &blen) == 0 &&
	    (s != seq || no != 1 || blen != len || memcmp(b, body, len) != 0))
		abort();
	if (write(fd, line, n) != (ssize_t)n)
		abort();
	free(line);
}

/* A line's body: without a leading "<seq> <no> " and a trailing checksum,
 * so a mutated journal line is signed again as the change it names. */
static const char *
body_of(const char *p, size_t len, size_t *blen)
{
	const char	*end = p + len, *q = p;
	int		 words;

	for (words = 0; words < 2; words++) {
		const char *w = q;

		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q == w || q == end || *q != ' ') {
			q = p;
			break;
		}
		q++;
	}
	if (end - q >= JOURNAL_CRC_SUFFIX &&
	    memcmp(end - JOURNAL_CRC_SUFFIX, " *", 2) == 0)
		end -= JOURNAL_CRC_SUFFIX;
	*blen = (size_t)(end - q);
	return q;
}

/* Write the input as a journal: lines whose checksum holds as they are,
 * the others signed again; returns 0, or -1 if there is no whole line. */
static int
write_journal(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl, *b;
	size_t		 len, blen;
	uint64_t	 seq = 0;
	int		 fd;

	if ((fd = open(fj_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	while (p < end && seq < FJ_MAX_LINES) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			/* torn tail: written as it came */
			if (write(fd, p, (size_t)(end - p)) < 0)
				abort();
			break;
		}
		len = (size_t)(nl - p);
		seq++;
		if (check_raw(p, len) == 0) {
			if (write(fd, p, len + 1) != (ssize_t)len + 1)
				abort();
		} else {
			b = body_of(p, len, &blen);
			write_signed(fd, b, blen, seq);
		}
		p = nl + 1;
	}
	close(fd);
	return seq > 0 ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tracker	*t;
	char		 err[512];
	uint64_t	 live;

	if (fj_path[0] == '\0')
		fj_init();
	if (write_journal(data, size) == -1)
		return 0;
	/* Replay: a refusal (corruption before the end) is a fine answer. */
	if ((t = tracker_create(&fj_cfg, err, sizeof(err))) == NULL)
		return 0;
	live = state_live_count(t);
	if (journal_compact(t) == -1)
		abort();
	tracker_destroy(t);
	/* What compaction wrote must replay, to the same live records. */
	if ((t = tracker_create(&fj_cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "compacted journal refused: %s\n", err);
		abort();
	}
	if (state_live_count(t) != live) {
		fprintf(stderr, "live records %llu before compaction, %llu "
		    "after\n", (unsigned long long)live,
		    (unsigned long long)state_live_count(t));
		abort();
	}
	tracker_destroy(t);
	return 0;
}
