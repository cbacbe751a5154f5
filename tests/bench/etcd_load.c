/* Load generator for trackerd -J (run_etcd.sh): journaled changes through
 * two trackers at once, the one-put-per-transaction rate of the same etcd,
 * and the pause when the etcd leader dies. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc/net.h"
#include "ipc/proto.h"
#include "trackerd/etcd.h"
#include "tests/bench/bench_util.h"
#include "trackerd/etcd_codec.h"

#define MAX_CONNS	256
#define MAX_DEPTH	64

struct worker {
	pthread_t	 tid;
	struct endpoint	 ep;
	int		 id, depth;
	char		 user[32], tok[32];
	uint64_t	 done, refused;
	volatile int	*stop;
	/* -L: acknowledgement times after the kill */
	uint64_t	 last_ack, max_gap;
	volatile uint64_t *kill_at;
};

static void
die(const char *what)
{
	fprintf(stderr, "etcd_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Read until n replies arrived; counts the OK ones. */
static int
replies(int fd, int n, uint64_t *ok)
{
	static __thread char	buf[65536];
	static __thread size_t	keep;
	char			*p, *nl;
	ssize_t			 k;

	while (n > 0) {
		k = recv(fd, buf + keep, sizeof(buf) - keep - 1, 0);
		if (k <= 0)
			return -1;
		keep += (size_t)k;
		buf[keep] = '\0';
		p = buf;
		while ((nl = strstr(p, "END_OF_REPLY\n")) != NULL) {
			if (ok != NULL && strncmp(p, "OK", 2) == 0)
				(*ok)++;
			p = nl + 13;
			n--;
		}
		keep = (size_t)(buf + keep - p);
		memmove(buf, p, keep);
	}
	return 0;
}

static int
request(int fd, const char *line, char *reply, size_t rlen)
{
	char	buf[4096];
	size_t	len = 0;
	ssize_t	k;

	if (write_all(fd, line, strlen(line)) == -1)
		return -1;
	while (len < sizeof(buf) - 1) {
		if ((k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		if (strstr(buf, "END_OF_REPLY\n") != NULL)
			break;
	}
	snprintf(reply, rlen, "%s", buf);
	return 0;
}

static void
login(struct worker *w, int fd)
{
	char	line[128], r[4096];

	snprintf(line, sizeof(line), "create_user %s pw\n", w->user);
	if (request(fd, line, r, sizeof(r)) == -1 ||
	    strncmp(r, "OK", 2) != 0) {
		fprintf(stderr, "etcd_load: create_user %s: %s", w->user, r);
		exit(1);
	}
	snprintf(line, sizeof(line), "login %s pw\n", w->user);
	if (request(fd, line, r, sizeof(r)) == -1 ||
	    strncmp(r, "OK login_success ", 17) != 0) {
		fprintf(stderr, "etcd_load: login %s: %s", w->user, r);
		exit(1);
	}
	snprintf(w->tok, sizeof(w->tok), "%.16s", r + 17);
}

/* Keep depth create_group requests in flight; each is one journaled
 * change on its own key (no conflicts). */
static void *
writer(void *arg)
{
	struct worker	*w = arg;
	char		 batch[MAX_DEPTH * 96], *p;
	uint64_t	 k = 0, ok;
	int		 fd, i;

	if ((fd = tcp_connect(&w->ep, 3000)) == -1)
		die("connect");
	login(w, fd);
	while (!*w->stop) {
		p = batch;
		for (i = 0; i < w->depth; i++)
			p += sprintf(p, "create_group %s_%llu\n", w->user,
			    (unsigned long long)k++);
		if (write_all(fd, batch, (size_t)(p - batch)) == -1)
			die("send");
		ok = 0;
		if (replies(fd, w->depth, &ok) == -1)
			die("recv");
		w->done += ok;
		w->refused += (uint64_t)w->depth - ok;
		if (w->kill_at != NULL && ok > 0) {
			uint64_t t = bench_now_us();

			if (*w->kill_at != 0 && t > *w->kill_at &&
			    (w->last_ack < *w->kill_at ? t - *w->kill_at :
			    t - w->last_ack) > w->max_gap)
				w->max_gap = w->last_ack < *w->kill_at ?
				    t - *w->kill_at : t - w->last_ack;
			w->last_ack = t;
		}
	}
	close(fd);
	return NULL;
}

/* ---- the reference: one put per transaction, straight to etcd ---- */

struct raw {
	pthread_t		 tid;
	struct etcd_target	*tg;
	int			 id, puts;	/* puts per transaction */
	int			 guarded;	/* each put under an entity
						 * compared, as trackerd's;
						 * 2: and a failure branch
						 * looking at each (-gg) */
	uint64_t		 done;
	volatile int		*stop;
};

static void *
raw_writer(void *arg)
{
	struct raw	*r = arg;
	struct etcd	*h = etcd_new(r->tg);
	json_object	*txn, *ops, *cmp, *fail, *resp;
	char		 key[300], err[200];
	uint64_t	 k = 0;
	int		 amb, i;

	while (!*r->stop) {
		txn = json_object_new_object();
		ops = json_object_new_array();
		cmp = json_object_new_array();
		fail = json_object_new_array();
		for (i = 0; i < r->puts; i++) {
			snprintf(key, sizeof(key), "%s/bench/%d/%llu/",
			    r->tg->prefix, r->id, (unsigned long long)k++);
			if (r->guarded)
				json_object_array_add(cmp, ej_guard_compare(key,
				    1));
			if (r->guarded > 1)
				json_object_array_add(fail, ej_guard_changed(key,
				    1, 0));
			strlcat(key, "01-00001234-00000001-0000", sizeof(key));
			json_object_array_add(ops, ej_put(key,
			    "group g_1234_5678 u_1234", 24));
		}
		json_object_object_add(txn, "compare", cmp);
		json_object_object_add(txn, "success", ops);
		if (r->guarded > 1)
			json_object_object_add(txn, "failure", fail);
		else
			json_object_put(fail);
		if (etcd_post(h, "/v3/kv/txn", txn, &resp, 2000, &amb, err,
		    sizeof(err)) == 0) {
			json_object_put(resp);
			r->done += (uint64_t)r->puts;
		}
	}
	etcd_free(h);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: etcd_load -w [-c conns] [-d depth] [-s secs] "
	    "[-K pid] IP:PORT [IP:PORT]\n"
	    "       etcd_load -r [-g[g]] [-b puts] [-c clients] [-s secs] "
	    "etcd://H:P,.../PREFIX\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	static struct worker	w[MAX_CONNS];
	static struct raw	r[MAX_CONNS];
	struct etcd_target	tg;
	volatile int		stop = 0;
	volatile uint64_t	kill_at = 0;
	uint64_t		t0, total = 0, refused = 0, gap = 0;
	int			ch, conns = 32, depth = 8, secs = 3, raw = 0, i;
	int			kill_pid = 0, ntrk, puts = 1, guarded = 0;
	char			err[256];

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "wrgb:c:d:s:K:")) != -1) {
		switch (ch) {
		case 'g': guarded++; break;
		case 'w': raw = 0; break;
		case 'r': raw = 1; break;
		case 'b': puts = atoi(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		case 's': secs = atoi(optarg); break;
		case 'K': kill_pid = atoi(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || conns < 1 || conns > MAX_CONNS || depth < 1 ||
	    depth > MAX_DEPTH || secs < 1 || puts < 1 || puts > 128)
		usage();
	if (raw) {
		etcd_init();
		if (etcd_parse_url(argv[0], &tg, err, sizeof(err)) == -1) {
			fprintf(stderr, "etcd_load: %s\n", err);
			return 64;
		}
		for (i = 0; i < conns; i++) {
			r[i] = (struct raw){ .tg = &tg, .id = i, .puts = puts,
			    .guarded = guarded, .stop = &stop };
			pthread_create(&r[i].tid, NULL, raw_writer, &r[i]);
		}
		sleep((unsigned)secs);
		stop = 1;
		for (i = 0; i < conns; i++) {
			pthread_join(r[i].tid, NULL);
			total += r[i].done;
		}
		printf("%.0f\n", (double)total / secs);
		return 0;
	}
	ntrk = argc > 2 ? 2 : argc;
	for (i = 0; i < conns; i++) {
		if (endpoint_parse(argv[i % ntrk], &w[i].ep) == -1)
			usage();
		w[i].id = i;
		w[i].depth = depth;
		w[i].stop = &stop;
		w[i].kill_at = kill_pid ? &kill_at : NULL;
		snprintf(w[i].user, sizeof(w[i].user), "l%d_%d", (int)getpid(),
		    i);
		pthread_create(&w[i].tid, NULL, writer, &w[i]);
	}
	usleep(500000);		/* logins */
	for (i = 0; i < conns; i++)
		w[i].done = w[i].refused = 0;
	t0 = bench_now_us();
	if (kill_pid) {
		usleep((useconds_t)secs * 500000);
		kill_at = bench_now_us();
		kill(kill_pid, SIGKILL);
		usleep((useconds_t)secs * 500000);
	} else
		sleep((unsigned)secs);
	stop = 1;
	t0 = bench_now_us() - t0;
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].tid, NULL);
		total += w[i].done;
		refused += w[i].refused;
		if (w[i].max_gap > gap)
			gap = w[i].max_gap;
	}
	if (kill_pid)
		printf("%.0f %llu\n", (double)total * 1e6 / (double)t0,
		    (unsigned long long)gap / 1000);
	else
		printf("%.0f %llu\n", (double)total * 1e6 / (double)t0,
		    (unsigned long long)refused);
	return 0;
}
