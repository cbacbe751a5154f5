/* Small helpers every program uses, written once: the monotonic clock,
 * sending on a non-blocking socket until it blocks, bounded small-file
 * reads and atomic file writes. */
#ifndef IPC_UTIL_H
#define IPC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ipc/proto.h"

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t	mono_ms(void);
/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_timedwait
 * on a CLOCK_MONOTONIC condition and pthread_mutex_clocklock. */
void		mono_deadline(struct timespec *, uint64_t ms);

/*
 * Send from p on a non-blocking socket until everything is sent or the
 * socket would block (EINTR retried, MSG_NOSIGNAL added to flags).
 * Returns the bytes sent (0 when blocked at once), or -1 when the
 * connection failed.
 */
ssize_t		send_until_blocked(int fd, const void *p, size_t n, int flags);
/* The same for the unsent bytes of b, consumed as they go; wipe zeroes
 * them first (a line that held a password). 1 all sent, 0 blocked, -1. */
int		buf_send(int fd, struct buf *b, int wipe);

/*
 * A regular file of at most max bytes (not through a symlink), read whole
 * and NUL-terminated; *len (if not NULL) its length. NULL with errno set
 * when absent, unreadable, not a regular file (EINVAL) or too big (EFBIG).
 */
char		*read_small_file(const char *path, size_t max, size_t *len);

/* Write data to path atomically (temp file, fsync, rename, fsync of the
 * directory); the temporary file is private (0600). 0, or -1 (logged). */
int		write_file_atomic(const char *path, const void *, size_t);

#endif
