/* Journal lines (format, CRC, parse, torn detection), replay and repair,
 * two trackers sharing one journal, compaction and crash repair. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>

#include "tests/unit/tracker_fixture.h"
#include "trackerd/crc32.h"

static void
setup(void)
{
	fx_setup_dir();
}

static void
teardown(void)
{
	fx_remove_dir();
}

TestSuite(journal, .init = setup, .fini = teardown);

static void
append(const char *text)
{
	FILE	*f = fopen(fx_journal, "a");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void
append_line(uint64_t seq, int no, const char *body)
{
	char	line[4096];
	size_t	n;

	n = journal_format_line(line, sizeof(line), seq, no, body, strlen(body));
	cr_assert_gt(n, 0);
	line[n] = '\0';
	append(line);
}

static char *
slurp(void)
{
	static char	buf[1 << 20];
	FILE		*f = fopen(fx_journal, "r");
	size_t		 n;

	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static off_t
jsize(void)
{
	struct stat	st;

	cr_assert_eq(stat(fx_journal, &st), 0);
	return st.st_size;
}

Test(journal, crc32_vectors)
{
	cr_assert_eq(crc32_update(0, "123456789", 9), 0xcbf43926u);
	cr_assert_eq(crc32_update(0, "", 0), 0);
	cr_assert_eq(crc32_update(0, "a", 1), 0xe8b7be43u);
	/* incremental equals one shot */
	cr_assert_eq(crc32_update(crc32_update(0, "12345", 5), "6789", 4),
	    0xcbf43926u);
}

Test(journal, format_and_parse)
{
	char		 line[256];
	const char	*body;
	size_t		 n, blen;
	uint64_t	 seq;
	int		 no;

	n = journal_format_line(line, sizeof(line), 42, 2, "group g alice", 13);
	cr_assert_eq(n, strlen("42 2 group g alice *12345678\n"));
	cr_assert_eq(line[n - 1], '\n');
	cr_assert(strncmp(line, "42 2 group g alice *", 20) == 0, "%s", line);
	cr_assert_eq(journal_parse_line(line, n - 1, &seq, &no, &body, &blen), 0);
	cr_assert_eq(seq, 42);
	cr_assert_eq(no, 2);
	cr_assert_eq(blen, 13);
	cr_assert(memcmp(body, "group g alice", 13) == 0);
	cr_assert_eq(journal_format_line(line, 20, 42, 2, "group g alice", 13),
	    0, "overflow not detected");
}

Test(journal, parse_rejects)
{
	char		 line[256];
	const char	*body;
	size_t		 n, blen;
	uint64_t	 seq;
	int		 no, i;
	const char	*bad[] = { "", "1 1 x", "1 1 user *", "1 1 user *1234567",
	    "1 1 user *123456789", "1 1 user x1234567", "1 1 user *1234567g" };

	n = journal_format_line(line, sizeof(line), 7, 1, "logout ABC", 10) - 1;
	for (i = 0; i < (int)n; i++) {
		/* flipping any byte is caught */
		line[i] ^= 0x01;
		cr_assert_neq(journal_parse_line(line, n, &seq, &no, &body,
		    &blen), 0, "flip at %d not caught", i);
		line[i] ^= 0x01;
	}
	cr_assert_eq(journal_parse_line(line, n, &seq, &no, &body, &blen), 0);
	cr_assert_neq(journal_parse_line(line, n - 1, &seq, &no, &body, &blen),
	    0, "torn line accepted");
	line[n - 3] = line[n - 3] == '0' ? '1' : '0';
	cr_assert_eq(journal_parse_line(line, n, &seq, &no, &body, &blen), -1);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++)
		cr_assert_eq(journal_parse_line(bad[i], strlen(bad[i]), &seq,
		    &no, &body, &blen), -2, "accepted %s", bad[i]);
	/* checksummed but malformed headers */
	n = journal_format_line(line, sizeof(line), 7, 1, "x", 1);
	memcpy(line, "x", 1);
	cr_assert_neq(journal_parse_line(line, n - 1, &seq, &no, &body, &blen),
	    0);
}

static void
body_checked(const char *text)
{
	char		 line[512];
	const char	*body;
	size_t		 n, blen;
	uint64_t	 seq;
	int		 no;
	uint32_t	 crc;

	/* tracker number 0 and 17 are out of range, even with a good CRC */
	n = (size_t)snprintf(line, sizeof(line), "%s", text);
	crc = crc32_update(0, line, n);
	snprintf(line + n, sizeof(line) - n, " *%08x", crc);
	cr_assert_eq(journal_parse_line(line, strlen(line), &seq, &no, &body,
	    &blen), -2, "accepted %s", text);
}

Test(journal, parse_rejects_bad_headers)
{
	body_checked("1 0 logout x");
	body_checked("1 17 logout x");
	body_checked("-1 1 logout x");
	body_checked("1 1 ");
	body_checked("1 1");
	body_checked("99999999999999999999999 1 logout x");
}

Test(journal, replay_and_torn_tail)
{
	struct tracker	*t;
	struct client	 c;
	off_t		 good;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user alice pw-alice", "OK user_created");
	fx_login(t, &c, "alice", 0);
	fx_expect(t, &c, "create_group g", "OK group_created");
	tracker_destroy(t);
	good = jsize();
	append("4 1 user tornuser 1 1000 0011");	/* cut mid-line */
	t = fx_open(&fx_cfg);
	cr_assert_eq(jsize(), good, "torn tail not truncated");
	cr_assert_eq(t->hdr->last_seq, 3);
	fx_expect(t, &c, "list_groups", "OK 1\ng alice\n");
	fx_expect(t, &c, "create_user tornuser pw", "OK user_created");
	tracker_destroy(t);
	/* a complete last line with a bad checksum goes the same way */
	good = jsize();
	append("5 1 group zz alice *00000000\n");
	t = fx_open(&fx_cfg);
	cr_assert_eq(jsize(), good);
	fx_expect(t, &c, "list_groups", "OK 1\n");
	tracker_destroy(t);
}

Test(journal, two_bad_lines_at_the_end_are_corruption_not_a_torn_tail)
{
	struct tracker	*t;
	char		 err[512];
	off_t		 before;

	t = fx_open(&fx_cfg);
	tracker_destroy(t);
	/* a wrong file named as the journal must be refused, never truncated */
	append("garbage line\nmore garbage\n");
	before = jsize();
	t = tracker_create(&fx_cfg, err, sizeof(err));
	cr_assert_null(t, "two bad lines were taken for a torn tail");
	cr_assert(strstr(err, ":1:") != NULL, "message names no line: %s", err);
	cr_assert_eq(jsize(), before, "the journal was changed");
	/* a bad complete line followed by half a line: also corruption */
	cr_assert_eq(truncate(fx_journal, 0), 0);
	append("garbage line\nhalf a li");
	t = tracker_create(&fx_cfg, err, sizeof(err));
	cr_assert_null(t, "a bad line before a torn tail was dropped");
}

Test(journal, corruption_in_the_middle_refuses_to_start)
{
	struct tracker	*t;
	char		 err[512];
	char		*j;
	off_t		 before;

	append_line(1, 1, "user alice 1 1000 00112233445566778899aabbccddeeff "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	append("2 1 group g alice *deadbeef\n");
	append_line(3, 1, "group h alice");
	before = jsize();
	t = tracker_create(&fx_cfg, err, sizeof(err));
	cr_assert_null(t);
	cr_assert_not_null(strstr(err, "sync_log.txt:2: bad checksum"), "%s", err);
	cr_assert_not_null(strstr(err, "truncate it at line 2"), "%s", err);
	cr_assert_eq(jsize(), before, "a corrupt journal was modified");
	/* nothing left behind */
	t = tracker_attach(&fx_cfg, err, sizeof(err));
	cr_assert_null(t, "shm object left behind");
	/* garbage in the middle, also refused */
	j = slurp();
	cr_assert_not_null(strstr(j, "deadbeef"));
}

Test(journal, unknown_or_unfit_changes_are_skipped)
{
	struct tracker	*t;
	struct client	 c;

	/* PBKDF2-HMAC-SHA256("correct-horse", 00..0f, 1000) */
	append_line(1, 2, "user alice 1 1000 000102030405060708090a0b0c0d0e0f "
	    "f6115f97857e4a81f7fa22900b202f438049d0302b6c6158a66f2297ace5fd6e");
	append_line(2, 2, "frobnicate x y");
	append_line(3, 2, "group g nobody");
	append_line(4, 2, "group g alice");
	t = fx_open(&fx_cfg);
	cr_assert_eq(t->hdr->last_seq, 4);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "login alice correct-horse", "OK login_success");
	fx_expect(t, &c, "list_groups", "OK 1\ng alice\n");
	tracker_destroy(t);
}

Test(journal, two_trackers_share_one_journal)
{
	struct tracker_config	cfg2;
	struct tracker		*a, *b;
	struct client		 ca, cb;
	char			 line[128], *j;

	a = fx_open(&fx_cfg);
	fx_config(&cfg2, 2);
	b = fx_open(&cfg2);
	fx_client(&ca, "127.0.0.1");
	fx_client(&cb, "127.0.0.1");
	fx_expect(a, &ca, "create_user alice pw-alice", "OK user_created");
	/* b applies a's line before validating its own change */
	fx_expect(b, &cb, "create_user alice other", "ERR user_exists");
	fx_expect(b, &cb, "create_user bob pw-bob", "OK user_created");
	fx_expect(a, &ca, "create_user bob x", "ERR user_exists");
	fx_login(a, &ca, "alice", 0);
	/* a session opened on a works on b at once (b catches up) */
	snprintf(line, sizeof(line), "session alice %s create_group g",
	    ca.token);
	fx_expect(b, &cb, line, "OK group_created");
	fx_expect(a, &ca, "create_group g", "ERR group_exists");
	/* a read on a sees b's change after a poll */
	journal_poll(a);
	fx_expect(a, &ca, "list_groups", "OK 1\ng alice\n");
	j = slurp();
	cr_assert(strncmp(j, "1 1 user alice ", 15) == 0, "%s", j);
	cr_assert_not_null(strstr(j, "\n2 2 user bob "), "%s", j);
	cr_assert_not_null(strstr(j, "\n3 1 login alice "), "%s", j);
	cr_assert_not_null(strstr(j, "\n4 2 group g alice *"), "%s", j);
	cr_assert_eq(a->hdr->last_seq, 4);
	cr_assert_eq(b->hdr->last_seq, 4);
	tracker_destroy(b);
	tracker_destroy(a);
}

Test(journal, poll_applies_other_trackers_lines)
{
	struct tracker	*t;
	struct client	 c;
	int		 wfd;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user alice pw-alice", "OK user_created");
	fx_login(t, &c, "alice", 0);
	wfd = journal_watch_fd(t);
	cr_assert_geq(wfd, 0);
	append_line(3, 2, "group other alice");
	journal_poll(t);
	fx_expect(t, &c, "list_groups", "OK 1\nother alice\n");
	/* a half-written line of the other tracker is not applied yet */
	append("4 2 group half alice");
	journal_poll(t);
	fx_expect(t, &c, "list_groups", "OK 1\n");
	tracker_destroy(t);
}

Test(journal, dead_writers_torn_line_is_cut_before_appending)
{
	struct tracker	*t;
	struct client	 c;
	char		 err[512];

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user alice pw-alice", "OK user_created");
	append("2 2 user half");
	fx_expect(t, &c, "create_user bob pw-bob", "OK user_created");
	cr_assert_null(strstr(slurp(), "half"));
	tracker_destroy(t);
	t = tracker_create(&fx_cfg, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_assert_eq(t->hdr->last_seq, 2);
	tracker_destroy(t);
}

static void
churn(struct tracker *t, struct client *c, int rounds)
{
	char	*l;
	int	 i;

	fx_expect(t, c, "create_user alice pw-alice", "OK user_created");
	fx_expect(t, c, "create_user bob pw-bob", "OK user_created");
	for (i = 0; i < rounds; i++) {
		fx_login(t, c, "bob", 0);
		fx_expect(t, c, "logout", "OK logout_success");
	}
	fx_login(t, c, "bob", 0);
	fx_expect(t, c, "create_group g", "OK group_created");
	fx_login(t, c, "alice", 0);
	fx_expect(t, c, "join_group g", "OK request_sent");
	fx_expect(t, c, "create_group h", "OK group_created");
	l = fx_upload_line("h", "big", 3 << 20, "127.0.0.1", 7001, 5);
	for (i = 0; i < rounds; i++) {
		fx_expect(t, c, l, "OK file_uploaded");
		fx_expect(t, c, "stop_share h big 127.0.0.1 7001",
		    "OK share_stopped");
	}
	fx_expect(t, c, l, "OK file_uploaded");
	free(l);
}

Test(journal, compaction_keeps_the_live_state)
{
	struct tracker_config	cfg2;
	struct tracker		*a, *b;
	struct client		 ca, cb;
	char			*before, line[128];
	off_t			 big;
	uint64_t		 seq;

	a = fx_open(&fx_cfg);
	fx_config(&cfg2, 2);
	b = fx_open(&cfg2);
	fx_client(&ca, "127.0.0.1");
	fx_client(&cb, "127.0.0.1");
	churn(a, &ca, 30);
	before = strdup(fx_req(a, &ca, "download_file h big"));
	big = jsize();
	seq = a->hdr->last_seq;
	cr_assert_eq(journal_compact(a), 0, "%s", a->err);
	cr_assert_lt(jsize(), big / 5, "%lld -> %lld", (long long)big,
	    (long long)jsize());
	cr_assert_eq(a->hdr->last_seq, seq);
	fx_expect(a, &ca, "download_file h big", before);
	fx_expect(a, &ca, "list_groups", "OK 2\ng bob\nh alice\n");
	/* b notices the new file; alice's session still works there */
	snprintf(line, sizeof(line), "session alice %s download_file h big",
	    ca.token);
	journal_poll(b);
	fx_expect(b, &cb, line, before);
	fx_expect(b, &cb, "create_group k", "OK group_created");
	/* a read on a sees b's acknowledged change at once (no poll) */
	fx_expect(a, &ca, "list_groups", "OK 3\n");
	journal_poll(a);
	fx_expect(a, &ca, "list_groups", "OK 3\n");
	cr_assert_eq(b->hdr->last_seq, seq + 1);
	tracker_destroy(b);
	tracker_destroy(a);
	/* and a restart replays the compacted journal to the same state */
	a = fx_open(&fx_cfg);
	fx_client(&ca, "127.0.0.1");
	fx_expect(a, &ca, line, before);
	fx_expect(a, &ca, "list_requests g", "ERR not_owner");
	fx_expect(a, &ca, "list_groups", "OK 3\ng bob\nh alice\nk alice\n");
	tracker_destroy(a);
	free(before);
}

Test(journal, concurrent_creates_on_two_trackers)
{
	struct tracker_config	cfg2;
	struct tracker		*a, *b;
	pid_t			 pid[2];
	int			 k, st, wins = 0;
	char			*j, *p, name[32];

	a = fx_open(&fx_cfg);
	fx_config(&cfg2, 2);
	b = fx_open(&cfg2);
	fx_cfg.kdf_iterations = cfg2.kdf_iterations = 1;
	for (k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			char		 err[256], line[64];
			struct tracker	*t;
			struct client	 c;
			int		 i;

			t = tracker_attach(k ? &cfg2 : &fx_cfg, err,
			    sizeof(err));
			if (t == NULL)
				_exit(2);
			fx_client(&c, "127.0.0.1");
			for (i = 0; i < 40; i++) {
				snprintf(line, sizeof(line),
				    "create_user u%d pw%d", i, k);
				fx_req(t, &c, line);
			}
			tracker_detach(t);
			_exit(0);
		}
	}
	for (k = 0; k < 2; k++) {
		cr_assert_eq(waitpid(pid[k], &st, 0), pid[k]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	j = slurp();
	for (k = 0; k < 40; k++) {
		snprintf(name, sizeof(name), " user u%d ", k);
		wins = 0;
		for (p = j; (p = strstr(p, name)) != NULL; p++)
			wins++;
		cr_assert_eq(wins, 1, "u%d created %d times", k, wins);
	}
	tracker_destroy(b);
	tracker_destroy(a);
}

Test(journal, dead_lock_owner_is_repaired_from_the_journal)
{
	struct pw_record	 pw = { .algo = 1, .iterations = 1 };
	struct tracker		*t;
	struct client		 c;
	pid_t			 pid;
	int			 st;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user alice pw-alice", "OK user_created");
	if ((pid = fork()) == 0) {
		char		 err[256];
		struct tracker	*w = tracker_attach(&fx_cfg, err, sizeof(err));

		if (w == NULL || state_lock_meta(w) == -1)
			_exit(2);
		/* a half-done change, never journaled, then death */
		state_add_user_locked(w, "ghost", &pw, 0);
		state_lock_bucket(w, 5);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(t->hdr->rebuilds, 0);
	tracker_worker_died(t, pid);
	cr_assert_eq(t->hdr->rebuilds, 1);
	fx_expect(t, &c, "create_user ghost pw", "OK user_created");
	fx_expect(t, &c, "create_user alice x", "ERR user_exists");
	/* the bucket it held is usable again */
	state_lock_bucket(t, 5);
	state_unlock_bucket(t, 5);
	tracker_destroy(t);
}

Test(journal, dead_bucket_holder_is_repaired_for_readers)
{
	struct tracker	*t;
	struct client	 c;
	char		*l;
	pid_t		 pid;
	int		 st, b;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_login(t, &c, "alice", 1);
	fx_expect(t, &c, "create_group g", "OK group_created");
	l = fx_upload_line("g", "f", 10, "127.0.0.1", 7001, 1);
	fx_expect(t, &c, l, "OK file_uploaded");
	free(l);
	state_lock_meta(t);
	b = (int)state_file_bucket(t, state_find_group_locked(t, "g"), "f");
	state_unlock_meta(t);
	if ((pid = fork()) == 0) {
		char		 err[256];
		struct tracker	*w = tracker_attach(&fx_cfg, err, sizeof(err));

		if (w == NULL)
			_exit(2);
		state_lock_bucket(w, (uint32_t)b);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* download_file reads under that bucket only */
	fx_expect(t, &c, "download_file g f", "OK 10 ");
	cr_assert_eq(t->hdr->rebuilds, 1);
	fx_expect(t, &c, "download_file g f", "OK 10 ");
	tracker_destroy(t);
}

Test(journal, poll_compacts_when_mostly_dead)
{
	struct tracker	*t;
	struct client	 c;
	off_t		 big;

	fx_cfg.compact_bytes = 4096;
	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	cr_assert_geq(journal_watch_fd(t), 0);
	churn(t, &c, 20);
	big = jsize();
	cr_assert_gt(big, 4096);
	journal_poll(t);
	cr_assert_lt(jsize(), big / 4, "not compacted: %lld", (long long)jsize());
	/* small and live: no second compaction */
	big = jsize();
	journal_poll(t);
	cr_assert_eq(jsize(), big);
	fx_expect(t, &c, "list_groups", "OK 2\n");
	tracker_destroy(t);
}

Test(journal, everysec_policy_syncs_in_poll)
{
	struct tracker	*t;
	struct client	 c;
	uint64_t	 seq = 1;

	fx_cfg.sync = SYNC_EVERYSEC;
	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_req_seq(t, &c, "create_user alice pw-alice", &seq);
	cr_assert_eq(seq, 0, "everysec replies need not wait");
	cr_assert_eq(journal_durable_seq(t), 0);
	journal_poll(t);
	cr_assert_eq(journal_durable_seq(t), 1);
	tracker_destroy(t);
}

Test(journal, compaction_releases_a_lock_shared_with_children)
{
	struct tracker_config	cfg2;
	struct tracker		*a, *b;
	struct client		 ca, cb;
	pid_t			 pid;
	int			 st;

	a = fx_open(&fx_cfg);
	fx_config(&cfg2, 2);
	b = fx_open(&cfg2);
	fx_client(&ca, "127.0.0.1");
	fx_client(&cb, "127.0.0.1");
	churn(a, &ca, 3);
	/* a forked worker inherits a's journal descriptor */
	if ((pid = fork()) == 0) {
		alarm(20);
		pause();
		_exit(0);
	}
	cr_assert_eq(journal_compact(a), 0, "%s", a->err);
	alarm(5);	/* a leaked flock would block b forever */
	fx_expect(b, &cb, "create_user carol pw", "OK user_created");
	journal_poll(a);
	fx_expect(a, &ca, "create_user carol pw", "ERR user_exists");
	alarm(0);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	tracker_destroy(b);
	tracker_destroy(a);
}

Test(journal, a_deleted_journal_never_empties_the_state)
{
	struct tracker	*t;
	struct client	 c;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_login(t, &c, "alice", 1);
	fx_expect(t, &c, "create_group g", "OK group_created");
	cr_assert_eq(unlink(fx_journal), 0);
	fx_expect(t, &c, "create_group h", "OK group_created");
	t->hdr->dirty = 1;	/* force a repair from the journal */
	fx_expect(t, &c, "list_groups", "OK 2\ng alice\nh alice\n");
	cr_assert_eq(t->hdr->rebuilds, 1);
	journal_poll(t);
	fx_expect(t, &c, "list_groups", "OK 2\n");
	tracker_destroy(t);
}

Test(journal, repair_never_waits_for_a_live_holder)
{
	struct tracker	*t;
	struct client	 c;
	pid_t		 pid;
	int		 st, p[2];
	char		 ch;

	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	fx_expect(t, &c, "create_user alice pw-alice", "OK user_created");
	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		char		 err[256];
		struct tracker	*w = tracker_attach(&fx_cfg, err, sizeof(err));

		if (w == NULL || state_lock_meta(w) == -1)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		alarm(20);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(p[0], &ch, 1), 1);
	alarm(5);
	tracker_worker_died(t, 12345);	/* another worker: must not block */
	alarm(0);
	cr_assert_eq(t->hdr->rebuilds, 0);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	tracker_worker_died(t, pid);
	cr_assert_eq(t->hdr->rebuilds, 1);
	fx_expect(t, &c, "create_user alice x", "ERR user_exists");
	close(p[0]);
	close(p[1]);
	tracker_destroy(t);
}

Test(journal, compaction_while_another_process_writes)
{
	struct tracker	*t;
	struct client	 c;
	pid_t		 pid;
	int		 st, i;

	fx_cfg.kdf_iterations = 1;
	t = fx_open(&fx_cfg);
	fx_client(&c, "127.0.0.1");
	churn(t, &c, 5);
	if ((pid = fork()) == 0) {
		char		 err[256], line[64];
		struct tracker	*w = tracker_attach(&fx_cfg, err, sizeof(err));
		struct client	 wc;

		if (w == NULL)
			_exit(2);
		fx_client(&wc, "127.0.0.1");
		alarm(20);
		for (i = 0; i < 60; i++) {
			snprintf(line, sizeof(line), "create_user w%d pw", i);
			char *r = fx_req(w, &wc, line);

			if (strncmp(r, "OK ", 3) != 0) {
				fprintf(stderr, "%s -> %s", line, r);
				_exit(3);
			}
		}
		tracker_detach(w);
		_exit(0);
	}
	alarm(20);	/* a lock-order slip deadlocks here */
	for (i = 0; i < 40; i++)
		cr_assert_eq(journal_compact(t), 0, "%s", t->err);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	alarm(0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer: %d", st);
	fx_expect(t, &c, "create_user w59 x", "ERR user_exists");
	tracker_destroy(t);
	t = fx_open(&fx_cfg);
	fx_expect(t, &c, "create_user w0 x", "ERR user_exists");
	fx_expect(t, &c, "create_user w60 pw", "OK user_created");
	tracker_destroy(t);
}
