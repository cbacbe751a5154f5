/* Small helpers every program uses, written once: the monotonic clock,
 * sending on a non-blocking socket until it blocks, bounded small-file
 * reads and atomic file writes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/net.h"
#include "ipc/util.h"

uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
mono_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

ssize_t
send_until_blocked(int fd, const void *p, size_t n, int flags)
{
	const char	*c = p;
	size_t		 off = 0;
	ssize_t		 w;

	while (off < n) {
		w = send(fd, c + off, n - off, flags | MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return (ssize_t)off;
}

int
buf_send(int fd, struct buf *b, int wipe)
{
	ssize_t	n;

	if ((n = send_until_blocked(fd, buf_head(b), buf_avail(b), 0)) == -1)
		return -1;
	if (wipe)
		explicit_bzero(buf_head(b), (size_t)n);
	buf_consume(b, (size_t)n);
	return buf_avail(b) == 0;
}

char *
read_small_file(const char *path, size_t max, size_t *len)
{
	struct stat	 st;
	char		*text = NULL;
	ssize_t		 r;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		errno = EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	do
		r = pread(fd, text, (size_t)st.st_size, 0);
	while (r == -1 && errno == EINTR);
	if (r != st.st_size) {
		if (r >= 0)
			errno = EIO;
		goto fail;
	}
	text[r] = '\0';
	if (len != NULL)
		*len = (size_t)r;
	close(fd);
	return text;
fail:
	saved = errno;
	free(text);
	close(fd);
	errno = saved;
	return NULL;
}

int
write_file_atomic(const char *path, const void *data, size_t len)
{
	char	tmp[PATH_MAX + 32], dname[PATH_MAX], *slash;
	int	fd, dfd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1) {
		log_warn("open %s", tmp);
		return -1;
	}
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		log_warn("write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", tmp);
		unlink(tmp);
		return -1;
	}
	strlcpy(dname, path, sizeof(dname));
	if ((slash = strrchr(dname, '/')) != NULL)
		*(slash == dname ? slash + 1 : slash) = '\0';
	if ((dfd = open(slash ? dname : ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
