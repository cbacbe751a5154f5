/* ipc/log.c for the fuzz harnesses: warnings and notes are dropped (replay
 * logs on every input), fatal() prints and aborts so libFuzzer records it.
 * It defines every function of ipc/log.h, so log.o is never linked too. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipc/log.h"

void log_init(const char *p, int f, int fac) {}
void log_setrole(const char *r) {}
void log_setverbose(int v) {}
int log_debugging(void) { return 0; }
void log_reopen(void) {}
void log_warn(const char *fmt, ...) {}
void log_warnx(const char *fmt, ...) {}
void log_info(const char *fmt, ...) {}
void log_debug(const char *fmt, ...) {}

static void
vprint(const char *fmt, va_list ap)
{
	fputs("fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	abort();
}
