/* Logging for the daemons, after OpenBSD's log.c: stderr in the foreground,
 * syslog once detached, every line tagged with the process role. */
#ifndef IPC_LOG_H
#define IPC_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int foreground, int facility);
void	log_setrole(const char *role);	/* "master", "worker 2", ... */
void	log_setverbose(int verbose);
int	log_debugging(void);		/* would log_debug() print? */
void	log_reopen(void);		/* on SIGHUP */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
