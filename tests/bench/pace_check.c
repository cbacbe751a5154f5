/* Accuracy check of the pacing shim: sends BYTES over a loopback TCP socket
 * in non-blocking mode with one call (send, write, writev or sendmsg). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench_util.h"

#define CHECK_BUF	(256 * 1024)

enum method { M_SEND, M_WRITE, M_WRITEV, M_SENDMSG };

static char	buf[CHECK_BUF];

/* The receiving child: read until EOF, exit 0 if exactly want bytes. */
static void
sink(uint16_t port, unsigned long long want)
{
	unsigned long long	got = 0;
	ssize_t			r;
	int			s;

	if ((s = bench_loopback_connect(port)) == -1)
		_exit(2);
	while ((r = recv(s, buf, sizeof(buf), 0)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			_exit(2);
		got += (unsigned long long)r;
	}
	_exit(got == want ? 0 : 1);
}

/* One call of the chosen kind, split over two iovecs where it takes any. */
static ssize_t
push(int fd, enum method m, size_t n)
{
	struct iovec	iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
	struct msghdr	mh;

	switch (m) {
	case M_SEND:
		return send(fd, buf, n, MSG_NOSIGNAL);
	case M_WRITE:
		return write(fd, buf, n);
	case M_WRITEV:
		return writev(fd, iov, 2);
	case M_SENDMSG:
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
		return sendmsg(fd, &mh, MSG_NOSIGNAL);
	}
	return -1;
}

/* Send want bytes on non-blocking fd, waiting in poll when it is full. */
static int
pump(int fd, enum method m, unsigned long long want)
{
	struct pollfd	pfd = { fd, POLLOUT, 0 };
	size_t		n;
	ssize_t		w;

	while (want > 0) {
		n = want < sizeof(buf) ? (size_t)want : sizeof(buf);
		w = push(fd, m, n);
		if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (poll(&pfd, 1, 10000) <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		want -= (unsigned long long)w;
	}
	return 0;
}

static int
run(enum method m, unsigned long long want)
{
	uint16_t	port;
	pid_t		kid;
	double		t0;
	int		l, c, st;

	if ((l = bench_loopback_listen(1, &port)) == -1)
		return 1;
	if ((kid = fork()) == -1)
		return 1;
	if (kid == 0)
		sink(port, want);
	if ((c = accept(l, NULL, NULL)) == -1 ||
	    fcntl(c, F_SETFL, O_NONBLOCK) == -1)
		return 1;
	t0 = bench_now_s();
	if (pump(c, m, want) == -1)
		return 1;
	close(c);
	if (waitpid(kid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return 1;
	printf("%.3f\n", bench_now_s() - t0);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char	*names[] = { "send", "write", "writev",
	    "sendmsg" };
	unsigned long long	 want;
	char			*end;
	int			 m;

	if (argc == 3) {
		want = strtoull(argv[2], &end, 10);
		for (m = 0; m < 4 && *end == '\0'; m++)
			if (strcmp(argv[1], names[m]) == 0)
				return run((enum method)m, want);
	}
	fprintf(stderr, "usage: pace_check send|write|writev|sendmsg BYTES\n");
	return 64;
}
