/* trackerd's master process: options, tracker_info.txt, pidfile, the
 * listening socket, the shared state, and supervision of the workers. */
#include <libutil.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/net.h"
#include "ipc/notify.h"
#include "ipc/proto.h"
#include "ipc/util.h"
#include "ipc/version.h"
#include "trackerd/check.h"
#include "trackerd/commands.h"
#include "ipc/tls.h"
#include "trackerd/journal.h"
#include "trackerd/journal_proc.h"
#include "trackerd/keys.h"
#include "trackerd/config.h"
#include "trackerd/etcd.h"
#include "trackerd/worker.h"

#define EX_USAGE_CODE	64
#define MAX_WORKERS	64
#define POLL_MS		50	/* journal_poll fallback period */
#define POLL_MIN_MS	5	/* and no more often than this */
#define STOP_WAIT_MS	5000	/* SIGTERM to workers, then SIGKILL */
#define BACKOFF_MAX_MS	5000

struct worker_slot {
	pid_t		pid;		/* 0: not running */
	int		exiting;	/* SIGTERM sent */
	uint64_t	started_ms;
	uint64_t	respawn_ms;	/* when to start it again */
	uint64_t	backoff_ms;	/* grows while it dies young */
};

static volatile sig_atomic_t	sig_term, sig_hup, sig_chld;
/* long options without a letter */
enum {
	OPT_ETCD_CACERT = 256,
	OPT_ETCD_CERT,
	OPT_ETCD_KEY
};

static struct worker_slot	slots[MAX_WORKERS];
static struct worker_slot	jproc;			/* -J */
static struct tracker_config	cfg;
static struct tracker		*tracker;
static struct pidfh		*pfh;
static int			 listen_fds[MAX_WORKERS];
static int			 port_fd = -1;		/* claims the port */
static int			 idle_seconds = WORKER_IDLE_SECONDS;
static int			 check_only;		/* -n */

static void __attribute__((noreturn))
usage(FILE *fp, int code)
{
	fprintf(fp, "usage: trackerd [-fhnvV] [-w workers] "
	    "[-l sync_log | -J etcd[s]://HOST:PORT[,...]/PREFIX] "
	    "[-p pidfile] [-k kdf_iterations] [-t lease_seconds] "
	    "[-s always|everysec|no] [-i idle_seconds] [-o option=value,...] "
	    "[-C cert_file -K key_file] [--etcd-cacert file] "
	    "[--etcd-cert file --etcd-key file] tracker_info.txt tracker_no\n");
	exit(code);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "trackerd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EX_USAGE_CODE);
}

static uint64_t
num_arg(const char *what, const char *s, uint64_t min, uint64_t max)
{
	uint64_t	v;

	if (parse_u64(s, min, max, &v) == -1)
		usage_error("%s: expected a number from %llu to %llu, got \"%s\"",
		    what, (unsigned long long)min, (unsigned long long)max, s);
	return v;
}

static void
parse_sync(const char *s)
{
	if (strcmp(s, "always") == 0)
		cfg.sync = SYNC_ALWAYS;
	else if (strcmp(s, "everysec") == 0)
		cfg.sync = SYNC_EVERYSEC;
	else if (strcmp(s, "no") == 0)
		cfg.sync = SYNC_NO;
	else
		usage_error("-s: expected always, everysec or no, got \"%s\"", s);
}

static void
parse_reads(const char *s)
{
	if (strcmp(s, "session") == 0)
		cfg.reads = READS_SESSION;
	else if (strcmp(s, "linearizable") == 0)
		cfg.reads = READS_LINEARIZABLE;
	else
		usage_error("-o reads: expected session or linearizable, got "
		    "\"%s\"", s);
}

static void
parse_etcd(const char *url)
{
	char	err[256];

	if (etcd_parse_url(url, &cfg.etcd, err, sizeof(err)) == -1)
		usage_error("%s", err);
}

/* -o user_files=N,...,signups=N,signup_window=SECONDS. */
static void
parse_quota(int k, const char *val)
{
	switch (k) {
	/* 0: the default share of the table */
	case 10: cfg.quota_files = num_arg("user_files", val, 0, UINT32_MAX);
		break;
	case 11: cfg.quota_hashes = num_arg("user_hashes", val, 0,
		    UINT64_MAX / 64); break;
	case 12: cfg.quota_groups = num_arg("user_groups", val, 0,
		    UINT32_MAX); break;
	case 13: cfg.quota_requests = num_arg("user_requests", val, 0,
		    UINT32_MAX); break;
	case 14: cfg.signups = num_arg("signups", val, 0, UINT32_MAX); break;
	case 15: cfg.signup_window = num_arg("signup_window", val, 1,
		    366u * 86400); break;
	case 16: cfg.quota_sessions = num_arg("user_sessions", val, 0,
		    UINT32_MAX); break;
	}
}

/* -o users=N,groups=N,...: the capacities the region is sized from, and
 * the per-user quotas within them. */
static void
parse_capacities(char *opts)
{
	static char	*const keys[] = { "users", "groups", "members",
	    "requests", "sessions", "files", "seeders", "hashes", "maxsize",
	    "compact", "user_files", "user_hashes", "user_groups",
	    "user_requests", "signups", "signup_window", "user_sessions",
	    "reads", "snapshot", "ticket_lifetime", NULL };
	char		*val, *orig;
	int		 k;

	while (*opts != '\0') {
		orig = opts;
		k = getsubopt(&opts, keys, &val);
		if (k == -1)
			usage_error("-o: unknown option \"%s\"", orig);
		if (val == NULL)
			usage_error("-o: %s needs a value", keys[k]);
		switch (k) {
		case 0: cfg.max_users = num_arg("users", val, 1, UINT32_MAX); break;
		case 1: cfg.max_groups = num_arg("groups", val, 1, UINT32_MAX); break;
		case 2: cfg.max_members = num_arg("members", val, 1, UINT32_MAX); break;
		case 3: cfg.max_requests = num_arg("requests", val, 1, UINT32_MAX); break;
		case 4: cfg.max_sessions = num_arg("sessions", val, 1, UINT32_MAX); break;
		case 5: cfg.max_files = num_arg("files", val, 1, UINT32_MAX); break;
		case 6: cfg.max_seeders = num_arg("seeders", val, 1, UINT32_MAX); break;
		case 7: cfg.max_hashes = num_arg("hashes", val, 1, UINT64_MAX / 64); break;
		case 8: cfg.max_file_size = num_arg("maxsize", val, 1,
		    (uint64_t)1 << 50); break;
		case 9: cfg.compact_bytes = num_arg("compact", val, 0,
		    UINT64_MAX / 2); break;
		case 17: parse_reads(val); break;
		case 18: cfg.snapshot_lines = num_arg("snapshot", val, 0,
		    UINT64_MAX / 2); break;
		case 19: cfg.ticket_lifetime = (uint32_t)num_arg(
		    "ticket_lifetime", val, 1, 86400); break;
		default: parse_quota(k, val); break;
		}
	}
}

/* Paths are opened again after daemon(3) changed to "/": make them
 * absolute now. Returns a malloc'd copy (setproctitle reuses argv). */
static const char *
absolute(const char *path)
{
	char	cwd[PATH_MAX], *out;

	if (path == NULL)
		return NULL;
	if (path[0] == '/')
		cwd[0] = '\0';
	else if (getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, "trackerd: getcwd: %s\n", strerror(errno));
		exit(1);
	}
	if (asprintf(&out, "%s%s%s", cwd, cwd[0] ? "/" : "", path) == -1) {
		fprintf(stderr, "trackerd: out of memory\n");
		exit(1);
	}
	return out;
}

static int
default_workers(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		return 2;
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* --etcd-cacert, --etcd-cert, --etcd-key: checked, and absolute (libcurl
 * opens them again for every connection, after daemon(3)). */
static void
open_etcd_tls(void)
{
	char	err[512];

	cfg.etcd.cacert = absolute(cfg.etcd.cacert);
	cfg.etcd.cert = absolute(cfg.etcd.cert);
	cfg.etcd.key = absolute(cfg.etcd.key);
	if (etcd_check_tls(&cfg.etcd, err, sizeof(err)) == -1) {
		fprintf(stderr, "trackerd: %s\n", err);
		exit(1);
	}
}

/* -C and -K: the TLS context, before detaching (relative paths). */
static void
open_tls(void)
{
	char	err[512];

	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
		usage_error("-C and -K go together");
	if (cfg.tls_cert == NULL)
		return;
	if ((cfg.tls = tls_server_ctx(cfg.tls_cert, cfg.tls_key, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "trackerd: TLS: %s\n", err);
		exit(1);
	}
}

static void
parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ "etcd-cacert", required_argument, NULL, OPT_ETCD_CACERT },
		{ "etcd-cert",	required_argument, NULL, OPT_ETCD_CERT },
		{ "etcd-key",	required_argument, NULL, OPT_ETCD_KEY },
		{ NULL,		0,		NULL,	0 }
	};
	struct etcd_target	etcd_tls = { 0 };	/* -J may come after */
	char			err[256];
	int			ch, n;

	config_defaults(&cfg);
	cfg.journal_path = "sync_log.txt";
	cfg.workers = default_workers();
	opterr = 0;	/* one line of our own instead */
	while ((ch = getopt_long(argc, argv, "fhnvVw:l:J:p:k:t:s:i:o:C:K:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': version_print("trackerd"); exit(0);
		case 'n': check_only = 1; break;
		case 'f': cfg.foreground = 1; break;
		case 'v': cfg.verbose++; break;
		case 'w': cfg.workers = (int)num_arg("-w", optarg, 1,
		    MAX_WORKERS); break;
		case 'l': cfg.journal_path = optarg; break;
		case 'J': parse_etcd(optarg); break;
		case 'p': cfg.pidfile = optarg; break;
		case 'k': cfg.kdf_iterations = (uint32_t)num_arg("-k", optarg,
		    1, 100000000); break;
		case 't': cfg.lease_seconds = (uint32_t)num_arg("-t", optarg,
		    1, 86400 * 365); break;
		case 's': parse_sync(optarg); break;
		case 'i': idle_seconds = (int)num_arg("-i", optarg, 1,
		    86400); break;
		case 'o': parse_capacities(optarg); break;
		case 'C': cfg.tls_cert = optarg; break;
		case 'K': cfg.tls_key = optarg; break;
		case OPT_ETCD_CACERT: etcd_tls.cacert = optarg; break;
		case OPT_ETCD_CERT: etcd_tls.cert = optarg; break;
		case OPT_ETCD_KEY: etcd_tls.key = optarg; break;
		default:
			if (optopt >= OPT_ETCD_CACERT)	/* long, no argument */
				usage_error("option %s needs an argument",
				    argv[optind - 1]);
			if (optopt && strchr("wlJpktsioCK", optopt) != NULL)
				usage_error("option -%c needs an argument",
				    optopt);
			if (optopt == 0)	/* a long one */
				usage_error("unknown option %s (see trackerd(8))",
				    argv[optind - 1]);
			usage_error("unknown option -%c (see trackerd(8))",
			    optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage(stderr, EX_USAGE_CODE);
	cfg.info_path = absolute(argv[0]);
	cfg.tracker_no = (int)num_arg("tracker_no", argv[1], 1, MAX_TRACKERS);
	n = tracker_info_load(cfg.info_path, cfg.trackers, MAX_TRACKERS, err,
	    sizeof(err));
	if (n == -1) {
		fprintf(stderr, "trackerd: %s\n", err);
		exit(1);
	}
	cfg.ntrackers = n;
	if (cfg.tracker_no > n)
		usage_error("tracker_no %d: %s lists only %d tracker%s",
		    cfg.tracker_no, cfg.info_path, n, n == 1 ? "" : "s");
	cfg.self = cfg.trackers[cfg.tracker_no - 1];
	open_tls();
	cfg.etcd.cacert = etcd_tls.cacert;
	cfg.etcd.cert = etcd_tls.cert;
	cfg.etcd.key = etcd_tls.key;
	open_etcd_tls();
	cfg.journal_path = absolute(cfg.journal_path);
	cfg.pidfile = absolute(cfg.pidfile);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "/p2pshare-trackerd-%u",
	    (unsigned)endpoint_port(&cfg.self));
}

static void
open_pidfile(void)
{
	pid_t	other = 0;

	if (cfg.pidfile == NULL)
		return;
	pfh = pidfile_open(cfg.pidfile, 0644, &other);
	if (pfh != NULL)
		return;
	if (errno == EEXIST)
		fprintf(stderr, "trackerd: already running, pid %d (pidfile %s)\n",
		    (int)other, cfg.pidfile);
	else
		fprintf(stderr, "trackerd: pidfile %s: %s\n", cfg.pidfile,
		    strerror(errno));
	exit(1);
}

/*
 * One listening socket per worker slot, all bound with SO_REUSEPORT: the
 * kernel spreads connections evenly over the workers (a shared socket
 * with EPOLLEXCLUSIVE lets one busy worker take nearly all of them).
 * Because SO_REUSEPORT would also let a second trackerd bind the port,
 * the port is claimed first with an abstract Unix socket named after it.
 */
static int
claim_port(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	len = (socklen_t)snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "p2pshare-trackerd-%s", cfg.self.text);
	len += (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1);
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Is the port free for an ordinary socket? (SO_REUSEPORT sockets would
 * share it with another process's, e.g. one bound to 0.0.0.0.) */
static int
probe_port(void)
{
	int	fd, on = 1, rc;

	fd = socket(endpoint_family(&cfg.self), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	rc = bind(fd, &cfg.self.sa, endpoint_len(&cfg.self));
	on = errno;
	close(fd);
	errno = on;
	return rc;
}

static int
reuseport_listen(void)
{
	int	fd, on = 1, secs = 1;

	fd = socket(endpoint_family(&cfg.self), SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    bind(fd, &cfg.self.sa, endpoint_len(&cfg.self)) == -1 ||
	    listen(fd, 4096) == -1) {
		on = errno;
		close(fd);
		errno = on;
		return -1;
	}
	/* wake a worker only once the request has arrived */
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
	return fd;
}

static void __attribute__((noreturn))
listen_failed(void)
{
	if (errno == EADDRINUSE)
		fprintf(stderr, "trackerd: %s: address already in use "
		    "(another trackerd running?)\n", cfg.self.text);
	else
		fprintf(stderr, "trackerd: listen on %s: %s\n", cfg.self.text,
		    strerror(errno));
	if (pfh != NULL)
		pidfile_remove(pfh);
	exit(1);
}

static void
open_listener(void)
{
	struct rlimit	rl;
	int		i;

	/* many clients: take every descriptor we are allowed */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((port_fd = claim_port()) == -1 || probe_port() == -1)
		listen_failed();
	for (i = 0; i < cfg.workers; i++)
		if ((listen_fds[i] = reuseport_listen()) == -1)
			listen_failed();
}

static void
open_state(void)
{
	char	err[512] = "";

	/* etcds://: a certificate that does not verify is said once, here */
	if (etcd_verify_members(&cfg.etcd, err, sizeof(err)) == -1)
		goto fail;
	tracker = tracker_create(&cfg, err, sizeof(err));
	if (tracker != NULL && keys_init(tracker) == 0)
		return;
	if (tracker != NULL)
		snprintf(err, sizeof(err), "ticket key: %s", tracker->err);
fail:
	fprintf(stderr, "trackerd: %s\n", err[0] ? err : "cannot create state");
	if (pfh != NULL)
		pidfile_remove(pfh);
	exit(1);
}

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		sig_term = 1;
		break;
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGCHLD:
		sig_chld = 1;
		break;
	}
}

/* Blocked from the start (a SIGTERM while the journal is replayed waits,
 * then stops the tracker cleanly) and, later, except inside ppoll, so no
 * flag is set unseen. */
static void
block_signals(sigset_t *blocked)
{
	sigemptyset(blocked);
	sigaddset(blocked, SIGTERM);
	sigaddset(blocked, SIGINT);
	sigaddset(blocked, SIGHUP);
	sigaddset(blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, blocked, NULL);
}

static void
install_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A new child's start: the master's signal handling undone, and no
 * descriptor of the master's but the listening socket of slot (-1:
 * none). */
static void
child_init(int slot)
{
	sigset_t	none;
	int		k;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (pfh != NULL)
		pidfile_close(pfh);
	close(port_fd);
	for (k = 0; k < cfg.workers; k++)
		if (k != slot)
			close(listen_fds[k]);
}

static void
spawn_worker(int i)
{
	struct worker_slot	*w = &slots[i];
	pid_t			 pid;

	pid = fork();
	if (pid == -1) {
		log_warn("fork worker %d", i + 1);
		w->respawn_ms = mono_ms() + 1000;
		return;
	}
	if (pid == 0) {
		child_init(i);
		worker_main(&cfg, listen_fds[i], i + 1, idle_seconds);
	}
	w->pid = pid;
	w->exiting = 0;
	w->started_ms = mono_ms();
	log_debug("worker %d started, pid %d", i + 1, (int)pid);
}

/*
 * -J: the journal process, started before the workers, and again if it
 * dies (each worker then links to the new one). The master itself runs
 * no thread: a fork copies only the thread that calls it, and a lock
 * another thread held (in libc, json-c, curl or OpenSSL) would stay held
 * forever in the new worker.
 */
static void
spawn_journal(void)
{
	pid_t	pid;

	pid = fork();
	if (pid == -1) {
		log_warn("fork the journal process");
		jproc.respawn_ms = mono_ms() + 1000;
		return;
	}
	if (pid == 0) {
		child_init(-1);
		journal_proc_main(tracker);
	}
	jproc.pid = pid;
	jproc.exiting = 0;
	jproc.started_ms = mono_ms();
	log_debug("journal process started, pid %d", (int)pid);
}

static void
log_death(const char *what, pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s (pid %d) exited", what, (int)pid);
	else if (WIFEXITED(status))
		log_warnx("%s (pid %d) exited with status %d", what, (int)pid,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d (%s)%s", what,
		    (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
}

/* A child that dies within a second of its start is restarted after a
 * growing delay, so a crash loop does not eat the machine. */
static void
schedule_respawn(struct worker_slot *w)
{
	uint64_t	now = mono_ms();

	if (now - w->started_ms < 1000)
		w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 100;
	else
		w->backoff_ms = 0;
	if (w->backoff_ms > BACKOFF_MAX_MS)
		w->backoff_ms = BACKOFF_MAX_MS;
	w->respawn_ms = now + w->backoff_ms;
}

/* The slot of child pid, named in what; NULL if none. */
static struct worker_slot *
slot_of(pid_t pid, char *what, size_t len)
{
	int	i;

	if (pid == jproc.pid) {
		snprintf(what, len, "journal process");
		return &jproc;
	}
	for (i = 0; i < cfg.workers; i++)
		if (slots[i].pid == pid) {
			snprintf(what, len, "worker %d", i + 1);
			return &slots[i];
		}
	return NULL;
}

static void
reap_workers(void)
{
	struct worker_slot	*w;
	char			 what[32];
	pid_t			 pid;
	int			 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = slot_of(pid, what, sizeof(what))) == NULL)
			continue;
		if (!w->exiting)
			log_death(what, pid, status);
		tracker_worker_died(tracker, (int)pid);
		w->pid = 0;
		if (!w->exiting)
			schedule_respawn(w);
	}
}

static void
respawn_due(void)
{
	uint64_t	now = mono_ms();
	int		i;

	if (cfg.etcd.n > 0 && jproc.pid == 0 && !jproc.exiting &&
	    now >= jproc.respawn_ms)
		spawn_journal();
	for (i = 0; i < cfg.workers; i++)
		if (slots[i].pid == 0 && now >= slots[i].respawn_ms)
			spawn_worker(i);
}

static void
signal_slots(struct worker_slot *s, int n, int sig)
{
	int	i;

	for (i = 0; i < n; i++)
		if (s[i].pid > 0)
			kill(s[i].pid, sig);
}

static int
slots_left(const struct worker_slot *s, int n)
{
	int	i, left = 0;

	for (i = 0; i < n; i++)
		if (s[i].pid > 0)
			left++;
	return left;
}

/* Stop the n children of s, what they are: SIGTERM, then SIGKILL to those
 * still running after STOP_WAIT_MS. */
static void
stop_slots(struct worker_slot *s, int n, const char *what)
{
	uint64_t	deadline = mono_ms() + STOP_WAIT_MS;
	struct timespec	ts = { 0, 10 * 1000000L };
	int		i;

	for (i = 0; i < n; i++)
		s[i].exiting = 1;
	signal_slots(s, n, SIGTERM);
	while (slots_left(s, n) > 0 && mono_ms() < deadline) {
		reap_workers();
		if (slots_left(s, n) > 0)
			nanosleep(&ts, NULL);
	}
	if (slots_left(s, n) == 0)
		return;
	log_warnx("%d %s still running after %d ms: SIGKILL",
	    slots_left(s, n), what, STOP_WAIT_MS);
	signal_slots(s, n, SIGKILL);
	for (i = 0; i < n; i++)
		if (s[i].pid > 0) {
			waitpid(s[i].pid, NULL, 0);
			s[i].pid = 0;
		}
}

static int
next_timeout(void)
{
	uint64_t	now = mono_ms(), t = now + POLL_MS;
	int		i;

	for (i = 0; i < cfg.workers; i++)
		if (slots[i].pid == 0 && slots[i].respawn_ms < t)
			t = slots[i].respawn_ms;
	if (cfg.etcd.n > 0 && jproc.pid == 0 && jproc.respawn_ms < t)
		t = jproc.respawn_ms;
	return t <= now ? 0 : (int)(t - now);
}

static void
master_loop(const sigset_t *blocked)
{
	struct pollfd	pfd;
	struct timespec	ts;
	sigset_t	open;
	uint64_t	last_poll = 0;
	int		ms, n, nfds;

	sigemptyset(&open);
	pfd.fd = journal_watch_fd(tracker);
	pfd.events = POLLIN;
	while (!sig_term) {
		/* Every append wakes the watch: look at most every
		 * POLL_MIN_MS, so a busy journal costs the master little. */
		nfds = pfd.fd >= 0 && mono_ms() - last_poll >= POLL_MIN_MS;
		ms = nfds ? next_timeout() : POLL_MIN_MS;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		n = ppoll(&pfd, nfds, &ts, &open);
		if (n == -1 && errno != EINTR)
			log_warn("ppoll");
		if (sig_chld) {
			sig_chld = 0;
			reap_workers();
		}
		if (sig_hup) {
			sig_hup = 0;
			notify_reloading();
			log_reopen();
			log_info("SIGHUP: logs reopened");
			signal_slots(slots, cfg.workers, SIGHUP);
			signal_slots(&jproc, 1, SIGHUP);
			notify_ready("serving");
		}
		if (sig_term)
			break;
		if (mono_ms() - last_poll >= POLL_MIN_MS) {
			journal_poll(tracker);
			last_poll = mono_ms();
		}
		respawn_due();
	}
	(void)blocked;
}

int
main(int argc, char *argv[], char *envp[])
{
	sigset_t	blocked;
	int		i;

	closefrom(3);		/* no inherited descriptor outlives our parent */
	/* before getopt permutes argv */
	setproctitle_init(argc, argv, envp);
	parse_args(argc, argv);
	if (check_only)
		exit(config_check(&cfg) == 0 ? 0 : 1);
	block_signals(&blocked);
	open_pidfile();
	open_listener();
	/* a daemon logs to syslog from here on; start-up errors still
	 * reach stderr through the err strings */
	log_init("trackerd", cfg.foreground, LOG_DAEMON);
	log_setverbose(cfg.verbose);
	log_setrole("master");
	open_state();
	if (!cfg.foreground && daemon(0, 0) == -1) {
		fprintf(stderr, "trackerd: daemon: %s\n", strerror(errno));
		exit(1);
	}
	if (pfh != NULL && pidfile_write(pfh) == -1)
		log_warn("pidfile_write %s", cfg.pidfile);
	setproctitle("master");
	if (worker_shared_init() == -1)
		fatal("mmap");
	install_signals();
	log_info("listening on %s (tracker %d of %d), %d workers, journal %s%s%s",
	    cfg.self.text, cfg.tracker_no, cfg.ntrackers, cfg.workers,
	    cfg.etcd.n > 0 ? "etcd " : cfg.journal_path,
	    cfg.etcd.n > 0 ? cfg.etcd.endpoints[0] : "",
	    cfg.etcd.n > 0 ? cfg.etcd.prefix : "");
	if (cfg.etcd.n > 0)
		spawn_journal();
	for (i = 0; i < cfg.workers; i++)
		spawn_worker(i);
	/* listening, and the journal replayed: clients can be served */
	if (notify_ready("serving") == -1)
		log_warn("NOTIFY_SOCKET");
	master_loop(&blocked);
	notify_stopping();
	log_info("shutting down");
	stop_slots(slots, cfg.workers, "worker(s)");
	/* after the workers: their last requests may still need it */
	stop_slots(&jproc, 1, "journal process");
	tracker_destroy(tracker);
	for (i = 0; i < cfg.workers; i++)
		close(listen_fds[i]);
	close(port_fd);
	if (pfh != NULL)
		pidfile_remove(pfh);
	log_info("stopped");
	return 0;
}
