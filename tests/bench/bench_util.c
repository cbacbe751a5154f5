/* Helpers the benchmark programs share: the monotonic clock and TCP
 * sockets (loopback listeners, plain and non-blocking connections). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench_util.h"

#define REPLY_MAX	(1u << 20)

uint64_t
bench_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

double
bench_now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
loopback(struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
bench_loopback_listen(int backlog, uint16_t *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			s;

	loopback(&sin, 0);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (backlog > 0 && listen(s, backlog) == -1) ||
	    getsockname(s, (struct sockaddr *)&sin, &len) == -1)
		goto fail;
	*port = ntohs(sin.sin_port);
	return s;
fail:
	close(s);
	return -1;
}

int
bench_loopback_connect(uint16_t port)
{
	struct sockaddr_in	sin;
	int			s;

	loopback(&sin, port);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

int
bench_connect(const struct endpoint *ep, int nonblock)
{
	int	fd, one = 1, saved;

	if ((fd = socket(endpoint_family(ep), SOCK_STREAM |
	    (nonblock ? SOCK_NONBLOCK : 0), 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &ep->sa, endpoint_len(ep)) == -1 &&
	    !(nonblock && errno == EINPROGRESS)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

char *
bench_request(int fd, const char *line)
{
	static char	buf[REPLY_MAX];
	size_t		len = 0;
	ssize_t		n;
	char		*e;

	if (write_all(fd, line, strlen(line)) == -1 ||
	    write_all(fd, "\n", 1) == -1)
		return NULL;
	for (;;) {
		if ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
			return NULL;
		len += (size_t)n;
		buf[len] = '\0';
		if ((e = strstr(buf, "END_OF_REPLY\n")) != NULL &&
		    (e == buf || e[-1] == '\n'))
			return buf;
	}
}
