/* trackerd under faults: fdatasync failing with EIO (an LD_PRELOAD shim in
 * the tracker this test starts), kill -9 during a journal compaction, SIGHUP
 * under load. */
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "tests/e2e/tracker_e2e.h"

static char	flag_path[600], shim_env[PATH_MAX + 32], flag_env[640];

static void
setup(void)
{
	trk_init();
	snprintf(flag_path, sizeof(flag_path), "%s/fsync-fails", T.dir);
}

TestSuite(faults, .init = setup, .fini = trk_fini, .timeout = 120);

/*
 * Tracker 1 with the fsync shim preloaded: fsync and fdatasync fail with
 * EIO while flag_path exists. Under ASan the sanitizer runtime must come
 * first among the loaded libraries; the shim only defines fsync and
 * fdatasync, which ASan does not intercept, so its check is turned off.
 */
static void
start_with_shim(void)
{
	char	*argv[32];
	char	*env[] = { shim_env, flag_env, "ASAN_OPTIONS=detect_leaks=0:"
	    "verify_asan_link_order=0", NULL };

	snprintf(shim_env, sizeof(shim_env), "LD_PRELOAD=%s/tests/e2e/"
	    "fault_fsync.so", h_root());
	snprintf(flag_env, sizeof(flag_env), "P2P_FAULT_FSYNC_FILE=%s",
	    flag_path);
	trk_argv(0, argv);
	cr_assert_eq(h_spawn(&T.p[0], argv, env, T.log[0]), 0);
	cr_assert_eq(h_wait_port(T.port[0], 10000), 0, "trackerd up");
}

static int
log_count(const char *needle)
{
	char		*text = h_read_file(T.log[0], NULL);
	const char	*p;
	int		 n = 0;

	for (p = text; p && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

static int
journal_has(const char *needle)
{
	char	*text = h_read_file(T.journal, NULL);
	int	 has = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return has;
}

Test(faults, fsync_eio_refuses_the_change_then_recovers)
{
	char	*r;
	int	 a, b;

	start_with_shim();
	a = trk_conn(0);
	b = trk_conn(0);
	trk_user(a, "alice", "pa");
	OK(a, "create_group team");

	h_write_file(flag_path, "");
	/* refused, saying so, promptly: no reply held for ever */
	r = rq(b, "create_user bob pb");
	cr_assert(is_err_reply(r, "internal"), "%s", r);
	cr_assert_not_null(strstr(r, "durable"), "%s", r);
	free(r);
	/* and not applied: neither visible nor in the journal */
	ERR(b, "invalid_credentials", "login bob pb");
	ERR(a, NULL, "create_group other");
	r = rq(a, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	cr_assert(!journal_has("user bob"), "a refused change is journaled");
	cr_assert(!journal_has("group other"), "a refused change is journaled");
	cr_assert_geq(log_count("not durable"), 1, "the log says nothing");
	/* reads go on while the disk fails */
	OK(a, "list_files team");

	unlink(flag_path);
	OK(b, "create_user bob pb");
	trk_login(b, "bob", "pb");
	OK(b, "join_group team");
	OK(a, "accept_request team bob");
	close(a);
	close(b);

	/* a restart (without the shim) holds every acknowledged change */
	cr_assert_eq(trk_stop(0), 0, "trackerd exit status");
	cr_assert_eq(trk_start(0), 0);
	a = trk_conn(0);
	trk_login(a, "alice", "pa");
	trk_login(a, "bob", "pb");
	OK(a, "list_files team");
	r = rq(a, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(has_line(r, "team"), "%s", r);
	free(r);
	close(a);
}

/*
 * Two trackers on one journal, only tracker 1's disk failing: tracker 2's
 * change, acknowledged after its own fdatasync, lies after tracker 1's
 * last durable line. Cutting tracker 1's lines would cut it too, so
 * tracker 1 holds its reply until fdatasync works, then acknowledges.
 */
Test(faults, fsync_eio_never_cuts_the_other_trackers_changes)
{
	struct pollfd	 pfd = { .events = POLLIN };
	const char	 line[] = "create_group held\n";
	char		*r;
	int		 a, b;

	start_with_shim();
	cr_assert_eq(trk_start(1), 0);
	a = trk_conn(0);
	b = trk_conn(1);
	trk_user(a, "alice", "pa");
	trk_user(b, "bob", "pb");

	h_write_file(flag_path, "");
	OK(b, "create_group other");		/* tracker 2 syncs fine */
	pfd.fd = a;
	cr_assert_eq(write(a, line, sizeof(line) - 1),
	    (ssize_t)sizeof(line) - 1);
	cr_assert_eq(poll(&pfd, 1, 1000), 0, "acknowledged without fsync");
	cr_assert_geq(log_count("another tracker appended"), 1);
	unlink(flag_path);
	r = h_read_reply(a);
	cr_assert(r != NULL && strncmp(r, "OK", 2) == 0, "%s", r ? r : "");
	free(r);
	close(a);
	close(b);

	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_stop(1), 0);
	cr_assert(journal_has("group other bob"), "an acknowledged change "
	    "was cut");
	cr_assert_eq(trk_start(0), 0);
	a = trk_conn(0);
	trk_login(a, "alice", "pa");
	r = rq(a, "list_groups");
	cr_assert(has_line(r, "other") && has_line(r, "held"), "%s", r);
	free(r);
	close(a);
}

/* ---- kill -9 during a compaction ---- */

static const char *
tmp_path(void)
{
	static char	path[600];

	snprintf(path, sizeof(path), "%s.tmp", T.journal);
	return path;
}

struct killer {
	pid_t		pgid;
	volatile int	stop;
	int		in_compaction;	/* the .tmp file outlived the kill */
	int		fired;
};

/* Wait for compaction to create sync_log.txt.tmp, then SIGKILL the whole
 * trackerd (master and workers share its process group). */
static void *
kill_on_compaction(void *arg)
{
	struct killer	*k = arg;
	struct pollfd	 pfd = { .events = POLLIN };
	char		 buf[4096], tmp[600];
	struct stat	 st;
	long		 deadline = trk_now_ms() + 60000;

	snprintf(tmp, sizeof(tmp), "%s.tmp", T.journal);
	if ((pfd.fd = inotify_init1(IN_NONBLOCK)) == -1 ||
	    inotify_add_watch(pfd.fd, T.dir, IN_CREATE | IN_MODIFY) == -1)
		return NULL;
	while (!k->stop && trk_now_ms() < deadline) {
		poll(&pfd, 1, 10);
		while (read(pfd.fd, buf, sizeof(buf)) > 0)
			;
		if (stat(tmp, &st) == 0) {
			kill(-k->pgid, SIGKILL);
			k->fired = 1;
			break;
		}
	}
	close(pfd.fd);
	if (k->fired) {
		trk_sleep_ms(200);	/* the workers die with the master */
		k->in_compaction = stat(tmp, &st) == 0;
	}
	return NULL;
}

/*
 * Changes until the tracker is killed: a join request and its rejection
 * (two lines that leave nothing live, so compaction soon pays), and every
 * 16th request a new group, whose acknowledgement is counted.
 */
static int
churn_until_killed(int a, int b, struct killer *k, int round)
{
	char	line[64], *r;
	int	acked = 0, i;

	for (i = 0; !k->fired && i < 100000; i++) {
		if (i % 16 == 0)
			snprintf(line, sizeof(line), "create_group r%dg%d",
			    round, i / 16);
		else
			snprintf(line, sizeof(line), i % 2 ?
			    "join_group base" : "reject_request base u");
		if ((r = h_request(i % 2 || i % 16 == 0 ? b : a, line)) ==
		    NULL)
			break;
		if (i % 16 == 0) {
			cr_assert(strncmp(r, "OK", 2) == 0, "%s: %s", line, r);
			acked = i / 16 + 1;
		}
		free(r);
	}
	k->stop = 1;
	return acked;
}

Test(faults, kill9_during_compaction_loses_no_acknowledged_change)
{
	struct killer	 k = { 0 };
	pthread_t	 tid;
	char		*r, name[64];
	int		 a, b, acked[8], round, hits = 0, i;

	/* compaction as soon as the file is mostly dead lines */
	trk_opt("-o");
	trk_opt("compact=4096");
	trk_opt("-s");
	trk_opt("everysec");
	cr_assert_eq(trk_start(0), 0);
	a = trk_conn(0);
	trk_user(a, "owner", "po");
	OK(a, "create_group base");
	/* three kills, each restart over the last one's leftovers; at least
	 * one must land inside a compaction (within 8 rounds) */
	for (round = 0; round < 8 && (round < 3 || hits == 0); round++) {
		if (round > 0) {
			cr_assert_eq(trk_start(0), 0, "restart %d", round);
			a = trk_conn(0);
			trk_login(a, "owner", "po");
		}
		b = trk_conn(0);
		if (round == 0)
			OK(b, "create_user u pu");
		trk_login(b, "u", "pu");
		/* a restart coped with the last round's leftover .tmp; now
		 * only a new compaction may create one */
		unlink(tmp_path());
		memset(&k, 0, sizeof(k));
		k.pgid = T.p[0].pid;
		cr_assert_eq(pthread_create(&tid, NULL, kill_on_compaction,
		    &k), 0);
		acked[round] = churn_until_killed(a, b, &k, round);
		pthread_join(tid, NULL);
		cr_assert(k.fired, "no compaction started in round %d", round);
		close(a);
		close(b);
		h_stop(&T.p[0], SIGKILL, 3000);	/* reaps it */
		h_tracker_shm_unlink(T.port[0]);
		hits += k.in_compaction;
	}
	cr_assert_geq(hits, 1, "no kill landed inside a compaction in %d "
	    "rounds", round);
	/* every acknowledged change of every round is there */
	cr_assert_eq(trk_start(0), 0);
	a = trk_conn(0);
	trk_login(a, "owner", "po");
	r = rq(a, "list_groups");
	for (int n = 0; n < round; n++)
		for (i = 0; i < acked[n]; i++) {
			snprintf(name, sizeof(name), "r%dg%d", n, i);
			cr_assert(has_line(r, name), "acknowledged group %s "
			    "lost", name);
		}
	free(r);
	close(a);
	cr_assert_eq(trk_stop(0), 0);
}

/* ---- SIGHUP under load ---- */

struct loader {
	int		id;
	volatile int	*stop;
	int		requests, failures;
};

static void *
load(void *arg)
{
	struct loader	*l = arg;
	char		 line[128], *r;
	int		 fd = h_connect(T.port[0]), i;

	if (fd == -1) {
		l->failures++;
		return NULL;
	}
	snprintf(line, sizeof(line), "create_user load%d pw", l->id);
	free(h_request(fd, line));
	snprintf(line, sizeof(line), "login load%d pw", l->id);
	free(h_request(fd, line));
	for (i = 0; !*l->stop; i++) {
		/* a group made and left (so deleted), and a read */
		if (i % 3 == 0)
			snprintf(line, sizeof(line), "create_group l%d", l->id);
		else if (i % 3 == 1)
			snprintf(line, sizeof(line), "leave_group l%d", l->id);
		else
			snprintf(line, sizeof(line), "list_groups");
		r = h_request(fd, line);
		l->requests++;
		if (r == NULL || strstr(r, "END_OF_REPLY\n") == NULL ||
		    strncmp(r, "OK", 2) != 0)
			l->failures++;
		free(r);
		if (r == NULL)
			break;
	}
	close(fd);
	return NULL;
}

Test(faults, sighup_under_load)
{
	struct loader	 l[6];
	pthread_t	 tid[6];
	volatile int	 stop = 0;
	int		 i, total = 0, hups = 0;

	cr_assert_eq(trk_start(0), 0);
	for (i = 0; i < 6; i++) {
		l[i] = (struct loader){ .id = i, .stop = &stop };
		cr_assert_eq(pthread_create(&tid[i], NULL, load, &l[i]), 0);
	}
	for (hups = 0; hups < 40; hups++) {
		trk_sleep_ms(50);
		cr_assert_eq(kill(T.p[0].pid, SIGHUP), 0);
	}
	trk_sleep_ms(200);
	stop = 1;
	for (i = 0; i < 6; i++) {
		pthread_join(tid[i], NULL);
		cr_assert_eq(l[i].failures, 0, "client %d: %d of %d requests "
		    "failed", i, l[i].failures, l[i].requests);
		total += l[i].requests;
	}
	cr_assert_gt(total, 100, "only %d requests under load", total);
	cr_assert(h_alive(T.p[0].pid), "trackerd died of SIGHUP");
	cr_assert_geq(log_count("SIGHUP"), 1, "SIGHUP not seen");
	cr_assert_eq(log_count("killed by signal"), 0, "a worker was killed");
	cr_assert_eq(log_count("exited with status"), 0, "a worker failed");
	cr_assert_eq(trk_stop(0), 0, "trackerd exit status after SIGHUPs");
}
