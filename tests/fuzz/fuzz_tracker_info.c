/* libFuzzer harness for tracker_info.txt (ipc/net.c): the file loader and
 * the IP:PORT parser both programs use on it.
 *
 * Besides surviving any bytes, the loader must never list more trackers
 * than the file has lines that are neither blank nor a comment (a long
 * comment once split into a second, live line), and every endpoint it
 * returns must read back as itself.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/net.h"

static char	fi_path[64];

static void
fi_cleanup(void)
{
	unlink(fi_path);
}

static void
fi_init(void)
{
	int	fd;

	snprintf(fi_path, sizeof(fi_path), "/dev/shm/p2p-fuzz-info-%d",
	    (int)getpid());
	if ((fd = open(fi_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	close(fd);
	atexit(fi_cleanup);
}

/* Lines that could name a tracker: not blank, not starting with '#'. */
static int
live_lines(const uint8_t *p, size_t n)
{
	size_t	i = 0;
	int	live = 0, seen = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			seen = 0;
			continue;
		}
		if (seen || p[i] == ' ' || p[i] == '\t' || p[i] == '\r')
			continue;
		seen = 1;
		if (p[i] != '#' && p[i] != '\0')
			live++;
	}
	return live;
}

static void
check_endpoint(const struct endpoint *ep)
{
	struct endpoint	again;

	if (ep->text[0] == '\0' || memchr(ep->text, '\0',
	    sizeof(ep->text)) == NULL)
		abort();
	if (endpoint_parse(ep->text, &again) == -1 ||
	    !endpoint_eq(&again, ep) ||
	    endpoint_family(&again) != endpoint_family(ep))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct endpoint	 eps[MAX_TRACKERS];
	char		 err[512], *s;
	int		 fd, n, i;

	if (fi_path[0] == '\0')
		fi_init();
	if ((fd = open(fi_path, O_WRONLY | O_TRUNC)) == -1 ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	err[0] = '\0';
	n = tracker_info_load(fi_path, eps, MAX_TRACKERS, err, sizeof(err));
	if (n == -1 && err[0] == '\0')
		abort();	/* a refusal says why */
	if (n != -1 && (n < 1 || n > MAX_TRACKERS ||
	    n > live_lines(data, size)))
		abort();
	for (i = 0; i < n; i++)
		check_endpoint(&eps[i]);
	/* The word parser alone, on the whole input. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (endpoint_parse(s, &eps[0]) == 0)
		check_endpoint(&eps[0]);
	free(s);
	return 0;
}
