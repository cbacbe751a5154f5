/* Logging for the daemons: one implementation of warn/info/debug/fatal
 * writing to stderr (foreground) or syslog (daemon), tagged with the role.
 * In the foreground with stderr not a terminal (systemd's journal, a log
 * file), each line starts with its syslog level, "<4>", as journald and
 * sd-daemon(3) read it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/text.h"

static const char	*log_prog = "p2pshare";
static char		 log_role[32];
static int		 log_foreground = 1;
static int		 log_facility = LOG_DAEMON;
static int		 log_verbose;
static int		 log_levels;	/* "<N>" before each stderr line */

void
log_init(const char *progname, int foreground, int facility)
{
	log_prog = progname;
	log_foreground = foreground;
	log_facility = facility;
	log_levels = foreground && !isatty(STDERR_FILENO);
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, facility);
}

void
log_setrole(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role ? role : "");
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_debugging(void)
{
	return log_verbose > 0;
}

void
log_reopen(void)
{
	if (log_foreground)
		return;
	closelog();
	openlog(log_prog, LOG_PID | LOG_NDELAY, log_facility);
}

/* One write per line, so lines of the master and its workers sharing
 * stderr never interleave. */
static void
vlog_stderr(int pri, const char *msg, const char *suffix)
{
	char	line[1200], level[8] = "";

	if (log_levels)
		snprintf(level, sizeof(level), "<%d>", LOG_PRI(pri));
	snprintf(line, sizeof(line), "%s%s[%d]: %s%s%s%s%s\n", level, log_prog,
	    (int)getpid(), log_role, log_role[0] ? ": " : "", msg,
	    suffix ? ": " : "", suffix ? suffix : "");
	fputs(line, stderr);
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	msg[1024];
	int	saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Messages quote peers, trackers and clients: no forged lines, no
	 * terminal escapes. */
	text_clean(msg);
	if (log_foreground)
		vlog_stderr(pri, msg, suffix);
	else if (log_role[0])
		syslog(pri, "%s: %s%s%s", log_role, msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	else
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	char	buf[128];
	const char *err = strerror_r(errno, buf, sizeof(buf));

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	char	buf[128];
	const char *err = strerror_r(errno, buf, sizeof(buf));

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
