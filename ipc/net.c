/* Socket helpers: endpoint parsing, tracker_info.txt, listen/connect with
 * timeouts, and full writes that never raise SIGPIPE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/net.h"
#include "ipc/proto.h"

int
endpoint_parse(const char *s, struct endpoint *ep)
{
	char		 ip[INET_ADDRSTRLEN];
	const char	*sep;
	size_t		 n;
	uint16_t	 port;

	if ((sep = strchr(s, ':')) == NULL && (sep = strchr(s, ' ')) == NULL)
		return -1;
	n = (size_t)(sep - s);
	if (n == 0 || n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	while (*sep == ' ' || *sep == ':' || *sep == '\t')
		sep++;
	if (parse_port(sep, &port) == -1)
		return -1;
	memset(ep, 0, sizeof(*ep));
	ep->sin.sin_family = AF_INET;
	ep->sin.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &ep->sin.sin_addr) != 1)
		return -1;
	snprintf(ep->text, sizeof(ep->text), "%s:%u", ip, port);
	return 0;
}

/* A "tls://" prefix or a last word "tls": strip it, 1 if there was one. */
static int
tls_mark(char **s)
{
	size_t	n = strlen(*s);

	if (strncmp(*s, "tls://", 6) == 0) {
		*s += 6;
		return 1;
	}
	if (n > 4 && strcmp(*s + n - 3, "tls") == 0 &&
	    ((*s)[n - 4] == ' ' || (*s)[n - 4] == '\t')) {
		(*s)[n - 4] = '\0';
		while (n > 4 && ((*s)[n - 5] == ' ' || (*s)[n - 5] == '\t'))
			(*s)[--n - 4] = '\0';
		return 1;
	}
	return 0;
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	if ((e = strchr(s, '#')) != NULL)
		*e = '\0';
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A line longer than this is refused, not read in pieces: the tail of a
 * long comment would otherwise be parsed as a line of its own. */
#define INFO_MAX_LINE	1024

int
tracker_info_load(const char *path, struct endpoint *out, int max, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	*line = NULL, *s;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 n = 0, lineno = 0, tls;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (len > INFO_MAX_LINE) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes",
			    path, lineno, INFO_MAX_LINE);
			goto fail;
		}
		s = trim(line);
		if (*s == '\0')
			continue;
		if (n == max) {
			snprintf(err, errlen, "%s:%d: more than %d trackers",
			    path, lineno, max);
			goto fail;
		}
		tls = tls_mark(&s);
		if (endpoint_parse(s, &out[n]) == -1) {
			snprintf(err, errlen, "%s:%d: expected IP:PORT or IP PORT "
			    "(or tls://IP:PORT)", path, lineno);
			goto fail;
		}
		out[n++].tls = tls;
	}
	free(line);
	fclose(fp);
	if (n == 0) {
		snprintf(err, errlen, "%s: no tracker listed", path);
		return -1;
	}
	return n;
fail:
	free(line);
	fclose(fp);
	return -1;
}

int
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int	fl = fcntl(fd, F_GETFD);

	return fl == -1 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

int
tcp_listen(const struct endpoint *ep, int backlog)
{
	int	fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)&ep->sin, sizeof(ep->sin)) == -1 ||
	    listen(fd, backlog) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
tcp_connect(const struct endpoint *ep, int timeout_ms)
{
	struct pollfd	pfd;
	int		fd, r, soerr = 0, on = 1;
	socklen_t	len = sizeof(soerr);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	r = connect(fd, (const struct sockaddr *)&ep->sin, sizeof(ep->sin));
	if (r == -1 && errno != EINPROGRESS)
		goto fail;
	if (r == -1) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r == -1 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	r = errno;
	close(fd);
	errno = r;
	return -1;
}

int
write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		w = send(fd, c, n, MSG_NOSIGNAL);
		if (w == -1 && errno == ENOTSOCK)
			w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
