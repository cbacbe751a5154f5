/* peerd: the per-user peer daemon. Options, directories, one-instance
 * locks, detaching, signals, and the start of every module. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include "ipc/ctl.h"
#include "ipc/log.h"
#include "ipc/util.h"
#include "ipc/notify.h"
#include "ipc/version.h"
#include "peerd/check.h"
#include "peerd/ev.h"
#include "peerd/offer.h"
#include "peerd/peerd.h"
#include "peerd/ratelimit.h"

struct peerd_config	 conf;
static struct pidfh	*pfh;
static int		 lockfd = -1;
static int		 check_only;		/* -n */
static char		 info_path[PATH_MAX];	/* absolute, for SIGHUP */

static void __attribute__((noreturn))
usage(FILE *fp, int code)
{
	fprintf(fp, "usage: peerd [-fghnvV] [-C ca_file | -P pin] [-S socket] "
	    "[-d state_dir] [-p pidfile]\n"
	    "             [-Q max_active] [-U upload_rate] [-D download_rate] "
	    "[-a address]\n"
	    "             IP:PORT tracker_info.txt\n");
	exit(code);
}

/* A rate or count option: digits with an optional k, M, G. */
static uint64_t
amount(const char *opt, const char *s, uint64_t max)
{
	uint64_t	v;

	if (ctl_parse_amount(s, &v) == -1 || v > max)
		errx(EX_USAGE, "-%s %s: expected a number (k, M, G allowed)",
		    opt, s);
	return v;
}

/* mkdir -p with mode 0700 for every directory created. */
static int
mkdirs(const char *path)
{
	char	tmp[PATH_MAX], *p;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static void
default_state_dir(char *out, size_t len)
{
	const char	*home = getenv("HOME");
	struct passwd	*pw;

	if ((home == NULL || home[0] != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	snprintf(out, len, "%s/.p2pshare", home ? home : "");
}

static void
parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ NULL,		0,		NULL,	0 }
	};
	char		 err[512];
	const char	*why;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "fghnvVC:P:S:d:p:Q:U:D:a:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout, 0);
		case 'V':
			version_print("peerd");
			exit(0);
		case 'n':
			check_only = 1;
			break;
		case 'a':
			if (ipaddr_parse(optarg, &conf.advertise) == -1 ||
			    ipaddr_is_any(&conf.advertise))
				errx(EX_USAGE, "-a %s: expected an IPv4 or "
				    "IPv6 address (not 0.0.0.0 or ::)", optarg);
			conf.advertise_set = 1;
			break;
		case 'Q':
			conf.max_active = (int)amount("Q", optarg, 10000);
			break;
		case 'U':
			conf.upload_rate = amount("U", optarg, UINT64_MAX);
			break;
		case 'D':
			conf.download_rate = amount("D", optarg, UINT64_MAX);
			break;
		case 'f':
			conf.foreground = 1;
			break;
		case 'g':
			conf.serve_get_piece = 1;
			break;
		case 'C':
			conf.tls_ca = optarg;
			break;
		case 'P':
			if (tls_parse_pin(optarg, conf.tls_pin) == -1)
				errx(EX_USAGE, "-P: expected the SHA-256 of the "
				    "tracker's public key, 64 hex digits");
			conf.tls_pinned = 1;
			break;
		case 'v':
			conf.verbose++;
			break;
		case 'S':
			if (strlcpy(conf.socket_path, optarg,
			    sizeof(conf.socket_path)) >= sizeof(conf.socket_path))
				errx(1, "socket path too long");
			break;
		case 'd':
			if (strlcpy(conf.state_dir, optarg,
			    sizeof(conf.state_dir)) >= sizeof(conf.state_dir))
				errx(1, "state directory path too long");
			break;
		case 'p':
			conf.pidfile = optarg;
			break;
		default:
			usage(stderr, EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage(stderr, EX_USAGE);
	if (endpoint_parse_why(argv[0], &conf.self, &why) == -1)
		errx(EX_USAGE, "%s: %s", argv[0], why);
	if ((conf.ntrackers = tracker_info_load(argv[1], conf.trackers,
	    MAX_TRACKERS, err, sizeof(err))) == -1)
		errx(1, "%s", err);
	if (realpath(argv[1], info_path) == NULL)
		errx(1, "%s: %s", argv[1], strerror(errno));
	if (conf.socket_path[0] == '\0' &&
	    ctl_default_socket(conf.socket_path, sizeof(conf.socket_path)) == -1)
		errx(1, "default socket path too long");
	if (conf.state_dir[0] == '\0')
		default_state_dir(conf.state_dir, sizeof(conf.state_dir));
}

/* Directories (0700), then one peerd per state directory (flock). */
static void
prepare_dirs(void)
{
	char	sockdir[PATH_MAX], lock[PATH_MAX + 8], *slash;

	strlcpy(sockdir, conf.socket_path, sizeof(sockdir));
	if ((slash = strrchr(sockdir, '/')) != NULL && slash != sockdir) {
		*slash = '\0';
		if (mkdirs(sockdir) == -1)
			err(1, "mkdir %s", sockdir);
	}
	if (mkdirs(conf.state_dir) == -1)
		err(1, "mkdir %s", conf.state_dir);
	snprintf(lock, sizeof(lock), "%s/lock", conf.state_dir);
	if ((lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		err(1, "open %s", lock);
	if (flock(lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			errx(1, "peerd already running (state directory %s)",
			    conf.state_dir);
		err(1, "flock %s", lock);
	}
}

/* Absolute paths: the daemon runs in /. */
static void
absolute_paths(void)
{
	static char	ca[PATH_MAX];
	char		real[PATH_MAX], dir[PATH_MAX], *slash;

	/* read after detaching (and on SIGHUP), from "/" */
	if (conf.tls_ca != NULL) {
		if (realpath(conf.tls_ca, ca) == NULL)
			err(1, "%s", conf.tls_ca);
		conf.tls_ca = ca;
	}
	if (realpath(conf.state_dir, real) == NULL)
		err(1, "%s", conf.state_dir);
	strlcpy(conf.state_dir, real, sizeof(conf.state_dir));
	if (conf.socket_path[0] == '/')
		return;
	strlcpy(dir, conf.socket_path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (realpath(slash ? dir : ".", real) == NULL)
		err(1, "%s", conf.socket_path);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", real, slash ?
	    slash + 1 : conf.socket_path) >= sizeof(conf.socket_path))
		errx(1, "socket path too long");
	strlcpy(conf.socket_path, dir, sizeof(conf.socket_path));
}

/* Whatever way peerd exits, its pidfile goes (a failed start left an empty
 * one behind); daemon(3)'s parent leaves through _exit, keeping it. */
static void
remove_pidfile(void)
{
	if (pfh != NULL)
		pidfile_remove(pfh);
	pfh = NULL;
}

static void
open_pidfile(void)
{
	pid_t	other;

	if (conf.pidfile == NULL)
		return;
	if ((pfh = pidfile_open(conf.pidfile, 0600, &other)) == NULL) {
		if (errno == EEXIST)
			errx(1, "peerd already running (pid %d, pidfile %s)",
			    (int)other, conf.pidfile);
		err(1, "pidfile %s", conf.pidfile);
	}
	atexit(remove_pidfile);
}

/*
 * SIGHUP: a changed tracker_info.txt takes effect from the next
 * connection to a tracker (the session is valid on every tracker); the
 * connection in use is kept. Slots past the new list's end repeat its
 * first tracker, so a failover index taken from the old list stays valid.
 * A file that does not load changes nothing.
 */
static void
reload_trackers(void)
{
	struct endpoint	list[MAX_TRACKERS];
	char		err[512];
	int		n, i;

	n = tracker_info_load(info_path, list, MAX_TRACKERS, err, sizeof(err));
	if (n == -1) {
		log_warnx("SIGHUP: %s; keeping the %d tracker%s in use", err,
		    conf.ntrackers, conf.ntrackers == 1 ? "" : "s");
		return;
	}
	for (i = 0; i < MAX_TRACKERS; i++)
		conf.trackers[i] = list[i < n ? i : 0];
	conf.ntrackers = n;
	log_info("SIGHUP: %d tracker%s from %s", n, n == 1 ? "" : "s",
	    info_path);
}

static void
on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo	si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			notify_reloading();
			log_reopen();
			log_info("SIGHUP: log reopened");
			reload_trackers();
			notify_ready("serving");
			break;
		case SIGTERM:
		case SIGINT:
			notify_stopping();
			log_info("%s: shutting down",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			ev_stop();
			break;
		}
	}
}

/* Block the signals we take through a signalfd: before any thread
 * exists, so every thread inherits the mask. */
static int
block_signals(sigset_t *set)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	return sigprocmask(SIG_BLOCK, set, NULL);
}

/* After daemon(): a signalfd polled by epoll waits on the signal queue of
 * the process that registered it, so the child must make its own. */
static int
watch_signals(const sigset_t *set)
{
	int	fd;

	if ((fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	return ev_add(fd, EPOLLIN, on_signal, NULL);
}

/* A session began: tell the tracker of our shares and of the pieces of
 * our downloads. */
static void
session_started(void)
{
	announce_session_started();
	download_announce();
	keyring_refresh();
}

static void
shutdown_all(void)
{
	download_shutdown();
	serve_shutdown();
	store_save_stats();
	control_shutdown();
	tracker_shutdown();
	remove_pidfile();
	log_info("stopped");
}

int
main(int argc, char *argv[], char *envp[])
{
	sigset_t	sigs;

	closefrom(3);		/* no inherited descriptor outlives our parent */
	setproctitle_init(argc, argv, envp);
	parse_args(argc, argv);
	if (check_only)
		exit(config_check() == 0 ? 0 : 1);
	umask(0022 | umask(0));		/* nothing we create is writable by others;
					 * a download gets 0644 less the user's umask */
	prepare_dirs();
	absolute_paths();
	open_pidfile();
	log_init("peerd", 1, LOG_DAEMON);
	log_setverbose(conf.verbose);
	if (block_signals(&sigs) == -1 || ev_init() == -1)
		err(1, "event loop");
	rl_set(&rl_up, conf.upload_rate, ev_now_ms());
	rl_set(&rl_down, conf.download_rate, ev_now_ms());
	if (store_init() == -1)
		errx(1, "cannot load shares from %s", conf.state_dir);
	if (control_init() == -1)
		exit(1);
	if (serve_init() == -1) {
		control_shutdown();
		errx(1, "cannot listen for peers on %s", conf.self.text);
	}
	if (!conf.foreground) {
		if (daemon(0, 0) == -1) {
			control_shutdown();
			err(1, "daemon");
		}
		log_init("peerd", 0, LOG_DAEMON);
	}
	if (watch_signals(&sigs) == -1)
		fatal("signalfd");
	if (pfh != NULL)
		pidfile_write(pfh);
	setproctitle("%s", conf.self.text);
	tracker_on_session(session_started);
	store_on_changed(announce_changed);
	offer_on_piece(serve_have);
	serve_on_upload(store_count_upload);
	if (tracker_init() == -1 || download_init() == -1) {
		shutdown_all();
		fatalx("initialisation failed");
	}
	log_info("listening for peers on %s, control socket %s, %d tracker%s",
	    conf.self.text, conf.socket_path, conf.ntrackers,
	    conf.ntrackers == 1 ? "" : "s");
	if (notify_ready("serving") == -1)
		log_warn("NOTIFY_SOCKET");
	if (ev_run() == -1)
		log_warn("event loop");
	shutdown_all();
	return 0;
}
