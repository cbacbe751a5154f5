/* The swarm benchmark's transfer ceiling: one file sent over one loopback
 * TCP connection (sendfile) into a new file (recv + write), no hashing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/bench/bench_util.h"

#define XFER_BUF	(512 * 1024)

/* Listen on a free port (printed on stdout), send path to one client. */
static int
sender(const char *path)
{
	struct stat	st;
	uint16_t	port;
	int		l, c, fd;
	off_t		off = 0;
	ssize_t		w;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return 1;
	if ((l = bench_loopback_listen(1, &port)) == -1)
		return 1;
	printf("%u\n", port);
	fflush(stdout);
	if ((c = accept(l, NULL, NULL)) == -1)
		return 1;
	while (off < st.st_size) {
		w = sendfile(c, fd, &off, (size_t)(st.st_size - off));
		if (w <= 0 && errno != EINTR)
			return 1;
	}
	close(c);
	return 0;
}

static int
receiver(int port, const char *path)
{
	char	*buf;
	int	 s, fd;
	ssize_t	 r;

	if ((buf = malloc(XFER_BUF)) == NULL)
		return 1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
		return 1;
	if ((s = bench_loopback_connect((uint16_t)port)) == -1)
		return 1;
	while ((r = recv(s, buf, XFER_BUF, 0)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || write(fd, buf, (size_t)r) != r)
			return 1;
	}
	close(fd);
	free(buf);
	return 0;
}

/* Print a TCP port on 127.0.0.1 that is free right now. */
static int
free_port(void)
{
	uint16_t	port;
	int		s;

	if ((s = bench_loopback_listen(0, &port)) == -1)
		return 1;
	printf("%u\n", port);
	close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*err = NULL;
	int		 port = 0;

	if (argc == 2 && strcmp(argv[1], "port") == 0)
		return free_port();
	if (argc == 4)
		port = (int)strtonum(argv[2], 1, 65535, &err);
	if (argc == 3 && strcmp(argv[1], "send") == 0)
		return sender(argv[2]);
	if (argc == 4 && err == NULL && strcmp(argv[1], "recv") == 0)
		return receiver(port, argv[3]);
	fprintf(stderr, "usage: xfer port | xfer send FILE | xfer recv PORT FILE\n");
	return 64;
}
