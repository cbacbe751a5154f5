/* Shared fixture of trackerd's unit tests: a real tracker (shm region and
 * journal) in a temporary directory, and a one-call request helper. */
#ifndef TESTS_UNIT_TRACKER_FIXTURE_H
#define TESTS_UNIT_TRACKER_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/pieces.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/state.h"

static char			fx_dir[256];
static char			fx_journal[300];
static struct tracker_config	fx_cfg;
static int			fx_shm_n;

static __attribute__((unused)) void
fx_config(struct tracker_config *cfg, int tracker_no)
{
	config_defaults(cfg);
	cfg->journal_path = fx_journal;
	cfg->tracker_no = tracker_no;
	cfg->kdf_iterations = 1000;
	cfg->max_users = 64;
	cfg->max_groups = 64;
	cfg->max_members = 256;
	cfg->max_requests = 64;
	cfg->max_sessions = 64;
	cfg->max_files = 256;
	cfg->max_seeders = 512;
	cfg->max_hashes = 1u << 16;
	/* no quotas below the tables: the tests of quotas set them */
	cfg->signups = 0;
	cfg->quota_files = cfg->max_seeders;
	cfg->quota_hashes = cfg->max_hashes;
	cfg->quota_groups = cfg->max_groups;
	cfg->quota_requests = cfg->max_requests;
	cfg->quota_sessions = cfg->max_sessions;
	snprintf(cfg->shm_name, sizeof(cfg->shm_name), "/p2p-unit-%d-%d",
	    (int)getpid(), fx_shm_n++);
}

/* The tracker code logs (replays, compactions) to stderr: into a file in
 * the test's directory, so that the run's output is Criterion's alone. */
static __attribute__((unused)) void
fx_quiet_log(void)
{
	char	path[300];
	int	fd;

	snprintf(path, sizeof(path), "%s/log", fx_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static __attribute__((unused)) void
fx_setup_dir(void)
{
	char	tmpl[] = "/tmp/p2p-unit-XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(fx_dir, sizeof(fx_dir), "%s", tmpl);
	snprintf(fx_journal, sizeof(fx_journal), "%s/sync_log.txt", fx_dir);
	fx_config(&fx_cfg, 1);
	fx_quiet_log();
}

static __attribute__((unused)) void
fx_remove_dir(void)
{
	char	cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx_dir);
}

static __attribute__((unused)) struct tracker *
fx_open(const struct tracker_config *cfg)
{
	char		 err[512];
	struct tracker	*t;

	t = tracker_create(cfg, err, sizeof(err));
	cr_assert_not_null(t, "tracker_create: %s", err);
	return t;
}

static __attribute__((unused)) void
fx_client(struct client *c, const char *ip)
{
	memset(c, 0, sizeof(*c));
	ipaddr_parse(ip, &c->peer);
}

/* Execute one request line as the worker would; returns the whole reply
 * in a static buffer (valid until the next call). */
static __attribute__((unused)) char *
fx_req_seq(struct tracker *t, struct client *c, const char *line,
    uint64_t *seq)
{
	static char	 reply[1 << 20];
	struct kdf_job	*job = NULL;
	struct buf	 out;
	char		*copy = strdup(line);
	uint64_t	 dseq = 0;

	buf_init(&out, 64u << 20);
	if (cmd_execute(t, c, copy, strlen(copy), &out, &job, &dseq) ==
	    CMD_NEED_KDF) {
		cr_assert_eq(out.len, 0, "a KDF request wrote a reply early");
		kdf_job_run(job);
		cmd_finish(t, c, job, &out, &dseq);
	}
	free(copy);
	cr_assert_geq(out.len, 13);
	cr_assert(memcmp(out.data + out.len - 13, "END_OF_REPLY\n", 13) == 0,
	    "reply not framed: %.*s", (int)out.len, out.data);
	snprintf(reply, sizeof(reply), "%.*s", (int)out.len, out.data);
	buf_free(&out);
	if (seq != NULL)
		*seq = dseq;
	return reply;
}

static __attribute__((unused)) char *
fx_req(struct tracker *t, struct client *c, const char *line)
{
	return fx_req_seq(t, c, line, NULL);
}

/* Assert the reply starts with want. */
#define fx_expect(t, c, line, want) do {				\
	char *r_ = fx_req((t), (c), (line));				\
	cr_assert(strncmp(r_, (want), strlen(want)) == 0,		\
	    "%s -> %s (wanted %s)", (line), r_, (want));		\
} while (0)

/* Log c in as user (creating it if asked); returns the token. */
static __attribute__((unused)) const char *
fx_login(struct tracker *t, struct client *c, const char *user, int create)
{
	char	line[256], *r;

	if (create) {
		snprintf(line, sizeof(line), "create_user %s pw-%s", user, user);
		fx_expect(t, c, line, "OK user_created\n");
	}
	snprintf(line, sizeof(line), "login %s pw-%s", user, user);
	r = fx_req(t, c, line);
	cr_assert(strncmp(r, "OK login_success ", 17) == 0, "%s", r);
	cr_assert_eq(strlen(c->token), TOKEN_LEN);
	cr_assert(strncmp(r + 17, c->token, TOKEN_LEN) == 0);
	return c->token;
}

/* An upload_file line for a size with made-up hashes derived from seed. */
static __attribute__((unused)) char *
fx_upload_line(const char *group, const char *name, uint64_t size,
    const char *ip, int port, int seed)
{
	uint64_t	 n = pieces_count(size), i;
	size_t		 cap = 256 + (n + 1) * 41;
	char		*l = malloc(cap), *p;
	int		 k;

	p = l + snprintf(l, cap, "upload_file %s %s %llu %s %d ", group, name,
	    (unsigned long long)size, ip, port);
	for (k = 0; k < 40; k++)
		*p++ = "0123456789abcdef"[(seed + k) & 15];
	p += sprintf(p, " %llu", (unsigned long long)n);
	for (i = 0; i < n; i++) {
		*p++ = ' ';
		for (k = 0; k < 40; k++)
			*p++ = "0123456789abcdef"[(seed * 7 + i + k) & 15];
	}
	*p = '\0';
	return l;
}

#endif
