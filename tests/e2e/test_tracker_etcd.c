/* trackerd -J end to end on a real three-member etcd cluster: one history
 * across trackers, races with one winner, failover, a tracker built from
 * etcd alone, the leader killed under load, etcd down and back, snapshots. */
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>

#include "tests/e2e/etcd_e2e.h"

static void
setup(void)
{
	ec_init();
	et_init();
}

static void
teardown(void)
{
	ec_fini();
}

TestSuite(tracker_etcd, .init = setup, .fini = teardown, .timeout = 120);

static void
start_trackers(int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(et_start(i), 0, "tracker %d did not start (%s)",
		    i + 1, ET.log[i]);
}

static char *
rq_session(int fd, const char *user, const char *tok, const char *req)
{
	return rq(fd, "session %s %s %s", user, tok, req);
}

/* Each tracker publishes its ticket key through etcd at start: either
 * tracker lists both keys, so a seeder can check a ticket from either. */
Test(tracker_etcd, ticket_keys_of_every_tracker)
{
	char	*r[2];
	int	 i, fd;

	start_trackers(2);
	for (i = 0; i < 2; i++) {
		int	n = 0, tries;

		fd = et_conn(i);
		for (tries = 0; tries < 50; tries++) {
			r[i] = rq(fd, "keys");
			cr_assert(strncmp(r[i], "OK", 2) == 0, "%s", r[i]);
			n = reply_count(r[i]);
			if (n == 2)
				break;
			free(r[i]);
			usleep(100 * 1000);
		}
		cr_assert_eq(n, 2, "tracker %d lists %d keys", i + 1, n);
		close(fd);
	}
	cr_assert_str_eq(r[0], r[1]);
	free(r[0]);
	free(r[1]);
}

/* A change made on one tracker is seen on the other, and a session that
 * moves to the other tracker (a new connection) reads its own writes at
 * once, every time. */
Test(tracker_etcd, cross_tracker_read_after_write)
{
	char		 tok[32], *r;
	int		 a, i, stale = 0;

	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user alice pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "alice", "pw"));
	for (i = 0; i < 40; i++) {
		int b;

		OK(a, "create_group g%d", i);
		b = et_conn(1);
		r = rq_session(b, "alice", tok, "list_groups");
		stale += reply_count(r) != i + 1;
		free(r);
		close(b);
	}
	cr_assert_eq(stale, 0, "%d of 40 reads on the other tracker missed "
	    "the session's own acknowledged change", stale);
	close(a);
}

/* Send line (with '\n') on fd without waiting for the reply. */
static void
send_line(int fd, const char *line)
{
	char	buf[512];
	int	n = snprintf(buf, sizeof(buf), "%s\n", line);

	cr_assert_eq(send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
}

/* One change sent with its id to both trackers at once (peerd's failover
 * from a tracker that was only slow): both answer it as done, it is
 * applied once; and once undone, a late copy changes nothing. */
Test(tracker_etcd, request_id_applied_once_across_trackers)
{
	char		 tok[32], line[256], *r;
	int		 a, b, i, k;

	start_trackers(2);
	a = et_conn(0);
	b = et_conn(1);
	OK(a, "create_user alice pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "alice", "pw"));
	for (i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "session alice %s rid "
		    "%032x create_group g%d", tok, i + 1, i);
		send_line(a, line);
		send_line(b, line);
		cr_assert_not_null(r = h_read_reply(a));
		cr_assert_str_eq(r, "OK group_created\nEND_OF_REPLY\n");
		free(r);
		cr_assert_not_null(r = h_read_reply(b));
		cr_assert_str_eq(r, "OK group_created\nEND_OF_REPLY\n");
		free(r);
	}
	/* undone, then the same request again on the other tracker */
	OK(a, "session alice %s leave_group g0", tok);
	r = rq(b, "session alice %s rid %032x create_group g0", tok, 1);
	cr_assert_str_eq(r, "OK group_created\nEND_OF_REPLY\n");
	free(r);
	/* b's connection may answer before it applied the leave: wait for
	 * it (a g0 made again would stay) */
	for (i = 0; i < 2; i++) {
		for (k = 0; k < 100; k++) {
			r = rq(i ? b : a, "session alice %s list_groups", tok);
			if (reply_count(r) == 19 || k == 99)
				break;
			free(r);
			trk_sleep_ms(50);
		}
		cr_assert_eq(reply_count(r), 19, "tracker %d: %s", i + 1, r);
		cr_assert(!has_line(r, "g0"), "%s", r);
		free(r);
	}
	close(a);
	close(b);
}

/* With -o reads=linearizable, a read on any connection sees every change
 * acknowledged before it was sent. */
Test(tracker_etcd, linearizable_reads)
{
	const char	*tok;
	int		 owner, b, i, stale = 0;
	char		*r, jtok[32];

	et_opt("-o");
	et_opt("reads=linearizable");
	start_trackers(2);
	owner = et_conn(1);
	trk_user(owner, "owner", "pw");
	OK(owner, "create_group club");
	b = et_conn(0);
	OK(b, "create_user joiner pw");
	tok = trk_login(b, "joiner", "pw");
	snprintf(jtok, sizeof(jtok), "%s", tok);
	for (i = 0; i < 50; i++) {
		OK(b, "session joiner %s join_group club", jtok);
		r = rq(owner, "list_requests club");
		stale += !has_line(strchr(r, '\n') + 1, "joiner");
		free(r);
		OK(owner, "reject_request club joiner");
	}
	cr_assert_eq(stale, 0, "%d of 50 reads missed a change acknowledged "
	    "by the other tracker", stale);
	close(b);
	close(owner);
}

/* The same create sent to both trackers at once: exactly one OK, and the
 * other gets the refusal one tracker would give. */
static void
race(int fa, int fb, const char *la, const char *lb, const char *reason,
    int *wins)
{
	char	*ra, *rb;
	int	 oka, okb;

	cr_assert_eq(send(fa, la, strlen(la), MSG_NOSIGNAL), (ssize_t)strlen(la));
	cr_assert_eq(send(fb, lb, strlen(lb), MSG_NOSIGNAL), (ssize_t)strlen(lb));
	ra = h_read_reply(fa);
	rb = h_read_reply(fb);
	cr_assert(ra != NULL && rb != NULL);
	oka = strncmp(ra, "OK", 2) == 0;
	okb = strncmp(rb, "OK", 2) == 0;
	cr_assert_eq(oka + okb, 1, "%s: %s / %s", la, ra, rb);
	cr_assert(is_err_reply(oka ? rb : ra, reason), "%s: loser got %s", la,
	    oka ? rb : ra);
	*wins += oka;
	free(ra);
	free(rb);
}

Test(tracker_etcd, racing_creates_one_winner)
{
	char	la[8192], lb[8192], *u, tok[32], btok[32], *r;
	int	a, b, c, i, wins = 0, awon;

	start_trackers(2);
	a = et_conn(0);
	b = et_conn(1);
	/* 30 races on two connections: one of them loses many in a row,
	 * and each loss is a request of its own, not a retry of the last */
	for (i = 0; i < 30; i++) {
		snprintf(la, sizeof(la), "create_user u%d pw\n", i);
		race(a, b, la, la, "user_exists", &wins);
	}
	OK(a, "create_user ann pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "ann", "pw"));
	OK(b, "create_user bob pw");
	snprintf(btok, sizeof(btok), "%s", trk_login(b, "bob", "pw"));
	for (i = 0; i < 20; i++) {
		snprintf(la, sizeof(la), "create_group grp%d\n", i);
		race(a, b, la, la, "group_exists", &wins);
	}
	/* ann and bob upload other content under one name at once */
	OK(a, "create_group shared");
	/* bob's old connection may not see ann's group yet (another
	 * session's change); a new connection waits until it does */
	c = et_conn(1);
	OK(c, "session bob %s join_group shared", btok);
	close(c);
	c = et_conn(0);		/* a new connection sees bob's request */
	OK(c, "session ann %s accept_request shared bob", tok);
	close(c);
	/* ann's change, not bob's: bob's old connection may lag a moment */
	for (long end = trk_now_ms() + 3000;;) {
		r = rq(b, "list_files shared");
		i = strncmp(r, "OK", 2) == 0;
		free(r);
		if (i)
			break;
		cr_assert_lt(trk_now_ms(), end, "bob never became a member");
		trk_sleep_ms(5);
	}
	for (i = 0; i < 10; i++) {
		u = upload_line("shared", "same.bin", 1000, "127.0.0.1",
		    7000 + i, 100 + i);
		snprintf(la, sizeof(la), "%s\n", u);
		free(u);
		u = upload_line("shared", "same.bin", 1000, "127.0.0.1",
		    7100 + i, 200 + i);
		snprintf(lb, sizeof(lb), "%s\n", u);
		free(u);
		awon = wins;
		race(a, b, la, lb, "file_conflict", &wins);
		awon = wins > awon;
		/* the winner stops sharing: the name is free again */
		OK(awon ? a : b, "stop_share shared same.bin 127.0.0.1 %d",
		    awon ? 7000 + i : 7100 + i);
		r = rq(awon ? a : b, "list_files shared");
		cr_assert_eq(reply_count(r), 0, "%s", r);
		free(r);
	}
	/* the owner accepts one request through both trackers at once (new
	 * connections: each first waits until its tracker is up to date) */
	close(b);
	for (i = 1; i <= 10; i++) {
		c = et_conn(i % 2);
		r = rq(c, "login u%d pw", i);
		free(r);
		OK(c, "join_group shared");
		close(c);
		c = et_conn(0);
		snprintf(la, sizeof(la), "session ann %s accept_request shared "
		    "u%d\n", tok, i);
		b = et_conn(1);
		race(c, b, la, la, "no_such_request", &wins);
		close(c);
		close(b);
	}
	close(a);
}

/* Many writers on both workers of both trackers at once: each worker
 * applies the transactions it committed itself as soon as the revisions
 * before them are applied, the rest come through the watch. Both
 * trackers end with the groups in one order (list_groups lists them in
 * the order they were applied): one history, nothing applied out of
 * revision order or twice. */
Test(tracker_etcd, concurrent_writers_one_order_on_both)
{
	enum { CONNS = 16, ROUNDS = 25, DEPTH = 1 };	/* h_read_reply
							 * reads one at a time */
	char	 line[64], *r, *list[2];
	int	 c[CONNS], i, k, d, t;

	start_trackers(2);
	for (k = 0; k < CONNS; k++) {
		c[k] = et_conn(k % 2);
		snprintf(line, sizeof(line), "cw%d", k);
		OK(c[k], "create_user %s pw", line);
		trk_login(c[k], line, "pw");
	}
	for (i = 0; i < ROUNDS; i++) {
		for (k = 0; k < CONNS; k++)
			for (d = 0; d < DEPTH; d++) {
				snprintf(line, sizeof(line),
				    "create_group c%d_%d_%d\n", k, i, d);
				cr_assert_eq(send(c[k], line, strlen(line),
				    MSG_NOSIGNAL), (ssize_t)strlen(line));
			}
		for (k = 0; k < CONNS; k++)
			for (d = 0; d < DEPTH; d++) {
				r = h_read_reply(c[k]);
				cr_assert(r != NULL && strncmp(r, "OK", 2) == 0,
				    "c%d_%d_%d: %s", k, i, d, r ? r : "none");
				free(r);
			}
	}
	for (k = 0; k < CONNS; k++)
		close(c[k]);
	for (t = 0; t < 2; t++) {
		i = et_conn(t);	/* a new connection: up to date first */
		trk_login(i, "cw0", "pw");
		list[t] = rq(i, "list_groups");
		close(i);
		cr_assert_eq(reply_count(list[t]), CONNS * ROUNDS * DEPTH,
		    "tracker %d: %s", t + 1, list[t]);
	}
	cr_assert_str_eq(list[0], list[1]);
	free(list[0]);
	free(list[1]);
}

/* A batch holds many requests in one transaction: when one of them loses
 * a race, the others in the batch still commit (they go out again). */
Test(tracker_etcd, a_lost_race_refuses_only_its_request)
{
	char	 line[64], *r;
	int	 c[8], x, y, i, k, wins = 0;

	start_trackers(2);
	x = et_conn(0);
	OK(x, "create_user ola pw");
	trk_login(x, "ola", "pw");
	y = et_conn(1);
	trk_login(y, "ola", "pw");
	for (k = 0; k < 8; k++) {
		c[k] = et_conn(0);
		trk_login(c[k], "ola", "pw");
	}
	for (i = 0; i < 20; i++) {
		for (k = 0; k < 8; k++) {
			snprintf(line, sizeof(line), "create_group b%d_%d\n", i,
			    k);
			cr_assert_eq(send(c[k], line, strlen(line), MSG_NOSIGNAL),
			    (ssize_t)strlen(line));
		}
		snprintf(line, sizeof(line), "create_group hot%d\n", i);
		race(x, y, line, line, "group_exists", &wins);
		for (k = 0; k < 8; k++) {
			r = h_read_reply(c[k]);
			cr_assert(r != NULL && strncmp(r, "OK", 2) == 0,
			    "b%d_%d: %s", i, k, r ? r : "no reply");
			free(r);
		}
	}
	for (k = 0; k < 8; k++)
		close(c[k]);
	close(x);
	close(y);
}

/* peerd's failover: a session opened on one tracker goes on on the other
 * with the same token after the first one dies. */
Test(tracker_etcd, session_failover_across_trackers)
{
	char	tok[32], *r;
	int	a, b;

	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user sam pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "sam", "pw"));
	OK(a, "create_group crew");
	upload_ok(a, "crew", "notes.txt", 1234, 7001, 11);
	close(a);
	cr_assert_eq(h_stop(&ET.p[0], SIGKILL, 3000), 128 + SIGKILL);
	ET.p[0].pid = 0;
	b = et_conn(1);
	r = rq_session(b, "sam", tok, "list_files crew");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	cr_assert(strstr(r, "\nnotes.txt 1234 ") != NULL, "%s", r);
	free(r);
	OK(b, "session sam %s create_group crew2", tok);
	close(b);
}

/* A tracker started in an empty directory comes up with the whole state
 * from etcd alone. */
/*
 * A session that fails over never reads older than what it saw: tracker
 * 2's journal process (its watch) is stopped, so its state stays behind;
 * a change acknowledged by tracker 1 must still be in the first answer
 * tracker 2 gives the session on its new connection, which waits until
 * tracker 2 applied everything etcd held when it arrived.
 */
Test(tracker_etcd, failover_never_reads_older)
{
	struct pollfd	 pfd;
	char		 tok[32], line[160], *r;
	pid_t		 jp;
	int		 a, b, n;

	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user ria pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "ria", "pw"));
	b = et_conn(1);		/* tracker 2 knows the session now */
	r = rq_session(b, "ria", tok, "list_groups");
	cr_assert_eq(reply_count(r), 0, "%s", r);
	free(r);
	close(b);
	cr_assert_eq(et_children(1, "journal", &jp, 1), 1);
	cr_assert_eq(kill(jp, SIGSTOP), 0);
	OK(a, "session ria %s create_group seen_on_1", tok);
	b = et_conn(1);		/* its workers still answer */
	n = snprintf(line, sizeof(line), "session ria %s list_groups\n", tok);
	cr_assert_eq(write(b, line, (size_t)n), n);
	pfd = (struct pollfd){ .fd = b, .events = POLLIN };
	n = poll(&pfd, 1, 300);
	kill(jp, SIGCONT);
	cr_assert_eq(n, 0, "tracker 2 answered from a state older than the "
	    "session saw");
	r = h_read_reply(b);
	cr_assert_not_null(r);
	cr_assert(has_line(strchr(r, '\n') + 1, "seen_on_1"), "%s", r);
	free(r);
	close(a);
	close(b);
}

Test(tracker_etcd, fresh_tracker_from_etcd_alone)
{
	char	tok[32], *r;
	int	a, c;

	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user dora pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "dora", "pw"));
	OK(a, "create_group g");
	upload_ok(a, "g", "f.bin", 3 << 20, 7002, 5);
	cr_assert_eq(et_start(2), 0, "tracker 3 did not start");
	c = et_conn(2);
	r = rq_session(c, "dora", tok, "list_files g");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	trk_login(c, "dora", "pw");
	ERR(c, "user_exists", "create_user dora x");
	close(a);
	close(c);
}

/* ---- the leader killed while both trackers write ---- */

struct writer {
	int		 tracker;
	volatile int	*stop;
	int		 acked[4096];
	int		 nacked;
	long		 max_gap_ms;
};

/* A connection to the writer's tracker, logged in; -1 if none (a login
 * refused too: it is a change, and a tracker restarting its processes
 * may answer it unavailable). */
static int
writer_conn(const struct writer *w)
{
	char	*r;
	int	 fd = h_connect(ET.port[w->tracker]), ok;

	if (fd < 0)
		return -1;
	r = h_request(fd, w->tracker ? "login lw2 pw" : "login lw1 pw");
	ok = r != NULL && strncmp(r, "OK", 2) == 0;
	free(r);
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Create groups until stopped; a connection that drops (its worker
 * killed) is opened again, a few dozen times, 100 ms apart. */
static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	char		 line[64], *r;
	long		 last = trk_now_ms(), now;
	int		 fd = writer_conn(w), i, again = 0;

	if (fd < 0)
		return NULL;
	for (i = 0; !*w->stop && w->nacked < 4096; i++) {
		snprintf(line, sizeof(line), "create_group w%d_%d", w->tracker,
		    i);
		if (fd < 0 || (r = h_request(fd, line)) == NULL) {
			if (fd >= 0)
				close(fd);
			if (++again > 50)
				return NULL;
			if ((fd = writer_conn(w)) < 0)
				trk_sleep_ms(100);
			continue;
		}
		now = trk_now_ms();
		if (strncmp(r, "OK", 2) == 0) {
			w->acked[w->nacked++] = i;
			if (now - last > w->max_gap_ms)
				w->max_gap_ms = now - last;
			last = now;
		}
		free(r);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Users lw1 and lw2, then a writer thread on each tracker. */
static void
writers_start(struct writer w[2], pthread_t tid[2], volatile int *stop)
{
	int	a, i;

	a = et_conn(0);
	OK(a, "create_user lw1 pw");
	OK(a, "create_user lw2 pw");
	close(a);
	memset(w, 0, 2 * sizeof(*w));
	for (i = 0; i < 2; i++) {
		w[i].tracker = i;
		w[i].stop = stop;
		pthread_create(&tid[i], NULL, writer_main, &w[i]);
	}
}

static void
writers_stop(pthread_t tid[2], volatile int *stop)
{
	*stop = 1;
	pthread_join(tid[0], NULL);
	pthread_join(tid[1], NULL);
}

/* Every group the writers were answered OK for is on both trackers; with
 * only, nothing else is listed either. */
static void
acked_on_both(const struct writer w[2], int only)
{
	int	 a, t, i, k;
	char	*r, name[64];

	for (t = 0; t < 2; t++) {
		a = et_conn(t);
		trk_login(a, "lw1", "pw");
		r = rq(a, "list_groups");
		if (only)
			cr_assert_eq(reply_count(r), w[0].nacked + w[1].nacked,
			    "tracker %d: %d + %d acknowledged, listed: %s",
			    t + 1, w[0].nacked, w[1].nacked, r);
		for (i = 0; i < 2; i++)
			for (k = 0; k < w[i].nacked; k++) {
				snprintf(name, sizeof(name), "w%d_%d", i,
				    w[i].acked[k]);
				cr_assert(has_line(strchr(r, '\n') + 1, name),
				    "tracker %d lost acknowledged %s", t + 1,
				    name);
			}
		free(r);
		close(a);
	}
}

Test(tracker_etcd, leader_killed_under_write_load)
{
	struct writer	 w[2];
	pthread_t	 tid[2];
	volatile int	 stop = 0;
	int		 leader, a;

	et_opt("-o");	/* room for what both write (1,024 filled up) */
	et_opt("groups=8192,members=16384,user_groups=8192");
	start_trackers(2);
	writers_start(w, tid, &stop);
	trk_sleep_ms(700);
	leader = ec_leader();
	cr_assert_geq(leader, 0, "no etcd leader");
	ec_stop(leader, SIGKILL);
	trk_sleep_ms(2000);
	writers_stop(tid, &stop);
	cr_log_info("acknowledged %d + %d; longest pause %ld / %ld ms",
	    w[0].nacked, w[1].nacked, w[0].max_gap_ms, w[1].max_gap_ms);
	cr_assert_gt(w[0].nacked + w[1].nacked, 20);
	acked_on_both(w, 0);
	/* writes go on after the election */
	a = et_conn(1);
	trk_login(a, "lw2", "pw");
	OK(a, "create_group after_election");
	close(a);
}

/* A worker killed while it writes, perhaps halfway through handing a
 * request to the journal process: that one drops the link and commits
 * the rest, the master starts another worker, which links anew, and
 * writes on that tracker go on; every acknowledged change is on both
 * trackers. */
Test(tracker_etcd, workers_killed_under_write_load)
{
	struct writer	 w[2];
	pthread_t	 tid[2];
	volatile int	 stop = 0;
	pid_t		 kids[8];
	int		 round, n, k, a, before;

	et_opt("-o");
	et_opt("groups=8192,members=16384,user_groups=8192");
	start_trackers(2);
	writers_start(w, tid, &stop);
	for (round = 0; round < 3; round++) {
		trk_sleep_ms(400);
		n = et_children(0, "worker", kids, 8);
		cr_assert_gt(n, 0, "no workers");
		for (k = 0; k < n; k++)
			kill(kids[k], SIGKILL);
	}
	before = w[0].nacked;
	trk_sleep_ms(1500);
	/* the master restarts a worker that died young after a growing
	 * delay (100, then 200 ms), and the new one rebuilds from etcd:
	 * slow under the sanitizers, so wait on, bounded, for its first
	 * acknowledged write */
	for (k = 0; k < 85 && __atomic_load_n(&w[0].nacked,
	    __ATOMIC_RELAXED) == before; k++)
		trk_sleep_ms(100);
	writers_stop(tid, &stop);
	cr_log_info("acknowledged %d + %d (%d on tracker 1 after the last "
	    "kill)", w[0].nacked, w[1].nacked, w[0].nacked - before);
	cr_assert_gt(w[0].nacked, before, "tracker 1 wrote nothing after "
	    "its workers were killed");
	acked_on_both(w, 0);
	a = et_conn(0);
	trk_login(a, "lw1", "pw");
	OK(a, "create_group after_kills");
	close(a);
}

/* The journal process killed while both trackers write: its workers'
 * requests in flight are answered unavailable, the master starts another,
 * the workers (the same ones) link to it, and writes go on; every
 * acknowledged change is on both trackers. */
Test(tracker_etcd, journal_process_killed_under_write_load)
{
	struct writer	 w[2];
	pthread_t	 tid[2];
	volatile int	 stop = 0;
	pid_t		 jp, again, workers[8], after[8];
	int		 n, k, a, before;

	start_trackers(2);
	writers_start(w, tid, &stop);
	trk_sleep_ms(400);
	n = et_children(0, "worker", workers, 8);
	cr_assert_eq(et_children(0, "journal", &jp, 1), 1);
	cr_assert_eq(kill(jp, SIGKILL), 0);
	trk_sleep_ms(100);
	before = w[0].nacked;
	/* bounded: the new process loads nothing (the region is the
	 * master's), only connects to etcd */
	for (k = 0; k < 100 && __atomic_load_n(&w[0].nacked,
	    __ATOMIC_RELAXED) == before; k++)
		trk_sleep_ms(100);
	writers_stop(tid, &stop);
	cr_log_info("acknowledged %d + %d (%d on tracker 1 after the kill)",
	    w[0].nacked, w[1].nacked, w[0].nacked - before);
	cr_assert_gt(w[0].nacked, before, "tracker 1 wrote nothing after its "
	    "journal process was killed");
	cr_assert_eq(et_children(0, "journal", &again, 1), 1);
	cr_assert_neq(again, jp);
	cr_assert_eq(et_children(0, "worker", after, 8), n);
	for (k = 0; k < n; k++)
		cr_assert_eq(after[k], workers[k], "a worker was restarted");
	acked_on_both(w, 0);
	a = et_conn(0);
	trk_login(a, "lw1", "pw");
	OK(a, "create_group after_kill");
	close(a);
}

/* Both trackers create groups as fast as they can until the table is
 * full: a change etcd committed but that found no room when its turn came
 * (the two validated against the same free slot) is refused, never
 * answered OK; every group answered OK is on both trackers, and the
 * table holds exactly those. */
Test(tracker_etcd, racing_for_the_last_slots)
{
	struct writer	 w[2];
	pthread_t	 tid[2];
	volatile int	 stop = 0;

	et_opt("-o");
	et_opt("groups=48");
	start_trackers(2);
	writers_start(w, tid, &stop);
	trk_sleep_ms(1500);
	writers_stop(tid, &stop);
	cr_log_info("acknowledged %d + %d", w[0].nacked, w[1].nacked);
	cr_assert_geq(w[0].nacked + w[1].nacked, 48, "acknowledged %d + %d",
	    w[0].nacked, w[1].nacked);
	acked_on_both(w, 1);
}

/* Every member down: changes refused within about 2 s, reads answered;
 * members back: changes accepted again with nothing done by hand. */
Test(tracker_etcd, etcd_down_and_back)
{
	char	tok[32], *r;
	long	t0, t;
	int	a, i;

	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user eve pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "eve", "pw"));
	OK(a, "create_group before");
	/* tracker 2 has it too (its own connection waits until it does) */
	i = et_conn(1);
	r = rq_session(i, "eve", tok, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	close(i);
	for (i = 0; i < EC_MEMBERS; i++)
		ec_stop(i, SIGTERM);
	t0 = trk_now_ms();
	ERR(a, "unavailable", "create_group during");
	t = trk_now_ms() - t0;
	cr_log_info("a change with etcd down was refused after %ld ms", t);
	cr_assert_lt(t, 2500, "refusal took %ld ms", t);
	t0 = trk_now_ms();
	r = rq(a, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	cr_assert_lt(trk_now_ms() - t0, 500, "a read waited for etcd");
	/* a new connection (a probe) is answered promptly too */
	close(a);
	a = et_conn(1);
	t0 = trk_now_ms();
	r = rq_session(a, "eve", tok, "list_groups");
	cr_assert_eq(reply_count(r), 1, "%s", r);
	free(r);
	cr_assert_lt(trk_now_ms() - t0, 1000, "a read waited for etcd");
	for (i = 0; i < EC_MEMBERS; i++)
		cr_assert_eq(ec_start(i), 0);
	for (i = 0; i < EC_MEMBERS; i++)
		cr_assert_eq(ec_wait_ready(i, 20000), 0);
	t0 = trk_now_ms();
	for (;;) {
		r = rq_session(a, "eve", tok, "create_group after");
		i = strncmp(r, "OK", 2) == 0;
		free(r);
		if (i)
			break;
		cr_assert_lt(trk_now_ms() - t0, 10000, "changes still refused");
		trk_sleep_ms(100);
	}
	r = rq_session(a, "eve", tok, "list_groups");
	cr_assert_eq(reply_count(r), 2, "%s", r);
	cr_assert(!has_line(strchr(r, '\n') + 1, "during"), "%s", r);
	free(r);
	close(a);
}

/* Wait up to ms until the first two trackers' logs (either may write
 * one) have reported n whole snapshots: written, the changes they cover
 * deleted and etcd compacted. */
static void
wait_snapshots(int n, long ms)
{
	for (long end = trk_now_ms() + ms;;) {
		int	 seen = 0;

		for (int i = 0; i < 2; i++) {
			char	*log = h_read_file(ET.log[i], NULL), *p = log;

			while (p != NULL &&
			    (p = strstr(p, "deleted and compacted\n")) != NULL) {
				seen++;
				p++;
			}
			free(log);
		}
		if (seen >= n)
			return;
		cr_assert_lt(trk_now_ms(), end, "%d of %d snapshots", seen, n);
		trk_sleep_ms(50);
	}
}

/* Snapshots delete the covered changes and compact etcd; a tracker that
 * was down meanwhile loads the snapshot and the later changes. */
Test(tracker_etcd, restart_after_snapshot_and_compaction)
{
	char	tok[32], gtok[32], *r;
	int64_t	early;
	int	a, b, i;

	et_opt("-o");
	et_opt("snapshot=25");
	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user fay pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "fay", "pw"));
	cr_assert_eq(h_stop(&ET.p[1], SIGTERM, 8000), 0);
	/* one entity changed many times: gus's request to join s0 */
	OK(a, "create_user gus pw");
	snprintf(gtok, sizeof(gtok), "%s", trk_login(a, "gus", "pw"));
	OK(a, "session fay %s create_group s0", tok);
	for (i = 0; i < 5; i++) {
		OK(a, "session gus %s join_group s0", gtok);
		OK(a, "session fay %s reject_request s0 gus", tok);
	}
	/* ... one key, rewritten by each of them; each change in a record */
	cr_assert_eq(ec_count("g/r/s0/gus/"), 1);
	cr_assert_gt(ec_count_upto("e/-/", 0, &early), 0);
	for (i = 1; i < 60; i++)
		OK(a, "create_group s%d", i);
	wait_snapshots(1, 10000);	/* tracker 2 is down: tracker 1's */
	/* the snapshot covers them: the records are deleted, the entities'
	 * keys stay (their compares) */
	cr_assert_eq(ec_count("g/r/s0/gus/"), 1);
	cr_assert_eq(ec_count_upto("e/-/", early, NULL), 0);
	cr_assert_eq(ec_count("g/g/s1/"), 1);
	for (i = 60; i < 65; i++)
		OK(a, "create_group s%d", i);
	cr_assert_eq(et_start(1), 0, "tracker 2 did not restart");
	b = et_conn(1);
	r = rq_session(b, "fay", tok, "list_groups");
	cr_assert_eq(reply_count(r), 65, "%.200s", r);
	free(r);
	OK(b, "session fay %s create_group from_b", tok);
	close(a);
	a = et_conn(0);		/* the same session, back on tracker 1 */
	r = rq_session(a, "fay", tok, "list_groups");
	cr_assert(has_line(strchr(r, '\n') + 1, "from_b"), "%.200s", r);
	free(r);
	close(a);
	close(b);
}

/* The largest file (64 GiB: an upload_file line of 5.4 MB, more than one
 * etcd request holds) is committed through parts written first: the
 * other tracker has it, a snapshot holds it, a tracker started after the
 * parts were deleted loads it from the snapshot. */
Test(tracker_etcd, largest_file_across_trackers)
{
	char	tok[32], *ra, *rb, *rc;
	int	a, b, c, i;

	et_opt("-o");
	et_opt("snapshot=10,hashes=262144,user_hashes=262144");
	start_trackers(2);
	a = et_conn(0);
	OK(a, "create_user hal pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(a, "hal", "pw"));
	OK(a, "create_group big");
	upload_ok(a, "big", "huge.iso", 64ULL << 30, 7003, 9);
	cr_assert_gt(ec_count("spill/"), 0, "no parts written");
	ra = rq(a, "download_file big huge.iso");
	cr_assert(strncmp(ra, "OK 68719476736 ", 15) == 0 &&
	    strlen(ra) > 5000000, "%.100s", ra);
	b = et_conn(1);
	rb = rq_session(b, "hal", tok, "download_file big huge.iso");
	cr_assert_str_eq(rb, ra);
	/* two snapshots: the second deletes the parts the first covers */
	for (i = 0; i < 12; i++)
		OK(a, "create_group a%d", i);
	wait_snapshots(1, 15000);
	for (i = 0; i < 12; i++)
		OK(a, "create_group b%d", i);
	wait_snapshots(2, 15000);
	cr_assert_eq(ec_count("spill/"), 0, "parts left after two snapshots");
	cr_assert_eq(et_start(2), 0, "tracker 3 did not start");
	c = et_conn(2);
	rc = rq_session(c, "hal", tok, "download_file big huge.iso");
	cr_assert_str_eq(rc, ra);
	free(ra);
	free(rb);
	free(rc);
	close(a);
	close(b);
	close(c);
}

/* Bad -J arguments are usage errors (one line, exit 64); an etcd nobody
 * answers on makes the start fail (exit 1) instead of hanging. No cluster
 * needed. */
Test(tracker_etcd_usage, bad_urls_and_no_etcd, .timeout = 60)
{
	const char	*bad[] = { "http://127.0.0.1:2379/p",
	    "etcd://127.0.0.1:2379", "etcd://127.0.0.1:2379/", "etcd:///p",
	    "etcd://localhost:2379/p", "etcd://127.0.0.1:2379/a b" };
	struct h_run	 r;
	char		*dir = h_tmpdir(), info[600], url[128];
	char		*argv[10] = { "trackerd/trackerd", "-f", "-J", NULL,
	    info, "1", NULL };
	long		 t0;

	snprintf(info, sizeof(info), "%s/ti.txt", dir);
	snprintf(url, sizeof(url), "127.0.0.1:%u\n", h_free_port());
	h_write_file(info, url);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[3] = (char *)bad[i];
		h_run(&r, argv, NULL, 5000);
		cr_assert_eq(r.status, 64, "%s: %d %s", bad[i], r.status, r.err);
		cr_assert(strncmp(r.err, "trackerd: ", 10) == 0 &&
		    strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		    "%s: %s", bad[i], r.err);
		h_run_free(&r);
	}
	/* nothing listens there */
	snprintf(url, sizeof(url), "etcd://127.0.0.1:%u/p", h_free_port());
	argv[3] = url;
	t0 = trk_now_ms();
	h_run(&r, argv, NULL, 30000);
	cr_assert_eq(r.status, 1, "%d %s", r.status, r.err);
	cr_assert(strstr(r.err, "did not answer") != NULL, "%s", r.err);
	cr_assert_lt(trk_now_ms() - t0, 20000);
	h_run_free(&r);
	unlink(info);
	rmdir(dir);
}
