/* libFuzzer harness for the tracker's request handling: each input is a
 * batch of request lines run through cmd_execute on a real state, and each
 * line is also checked and applied as a journal line.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/state.h"

static struct tracker	*fz;
static char		 fz_dir[] = "/tmp/p2p-fuzz-XXXXXX";
static char		 fz_path[64];

static void
fz_cleanup(void)
{
	char	cmd[128];

	tracker_destroy(fz);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fz_dir);
}

static void
fz_init(void)
{
	struct tracker_config	cfg;
	char			err[512];

	log_init("fuzz_request", 1, 0);
	if (mkdtemp(fz_dir) == NULL)
		abort();
	snprintf(fz_path, sizeof(fz_path), "%s/sync_log.txt", fz_dir);
	config_defaults(&cfg);
	cfg.journal_path = fz_path;
	cfg.tracker_no = 1;
	cfg.kdf_iterations = 1;
	cfg.max_users = cfg.max_groups = cfg.max_sessions = 256;
	cfg.max_members = cfg.max_requests = cfg.max_files = 1024;
	cfg.max_seeders = 2048;
	cfg.max_hashes = 1u << 16;
	cfg.max_file_size = 1u << 30;
	cfg.sync = SYNC_NO;
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "/p2p-fuzz-%d",
	    (int)getpid());
	if ((fz = tracker_create(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	atexit(fz_cleanup);
}

static void
fz_line(struct client *c, const char *data, size_t len)
{
	struct kdf_job	*job;
	struct buf	 out;
	const char	*body;
	char		*line;
	size_t		 blen;
	uint64_t	 seq, dseq;
	int		 no;

	if ((line = malloc(len + 1)) == NULL)
		return;
	memcpy(line, data, len);
	line[len] = '\0';
	if (journal_parse_line(line, len, &seq, &no, &body, &blen) == 0 &&
	    state_lock_meta(fz) == 0) {
		char *b = strndup(body, blen);

		if (b != NULL)
			journal_apply_body(fz, b, blen, seq);
		free(b);
		state_unlock_meta(fz);
	}
	buf_init(&out, 64u << 20);
	if (cmd_execute(fz, c, line, len, &out, &job, &dseq) == CMD_NEED_KDF) {
		kdf_job_run(job);
		cmd_finish(fz, c, job, &out, &dseq);
	}
	if (out.len < 13 || memcmp(out.data + out.len - 13, "END_OF_REPLY\n",
	    13) != 0)
		abort();
	buf_free(&out);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client	 c = { .user = "" };
	const char	*p = (const char *)data, *end = p + size, *nl;

	ipaddr_parse("127.0.0.1", &c.peer);
	if (fz == NULL)
		fz_init();
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p && memchr(p, '\0', (size_t)(nl - p)) == NULL)
			fz_line(&c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	return 0;
}
