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

static const uint8_t	v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0xff, 0xff };

int
ipaddr_is_v4(const struct ipaddr *ip)
{
	return memcmp(ip->a, v4_prefix, sizeof(v4_prefix)) == 0;
}

uint32_t
ipaddr_v4(const struct ipaddr *ip)
{
	uint32_t	v = 0;

	if (ipaddr_is_v4(ip))
		memcpy(&v, ip->a + 12, 4);
	return v;
}

int
ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
	return memcmp(a->a, b->a, sizeof(a->a)) == 0;
}

int
ipaddr_is_any(const struct ipaddr *ip)
{
	static const uint8_t	zero[16];

	return memcmp(ip->a, zero, 16) == 0 || (ipaddr_is_v4(ip) &&
	    memcmp(ip->a + 12, zero, 4) == 0);
}

static void
ipaddr_set_v4(struct ipaddr *ip, const struct in_addr *in)
{
	memcpy(ip->a, v4_prefix, sizeof(v4_prefix));
	memcpy(ip->a + 12, &in->s_addr, 4);
}

int
ipaddr_parse(const char *s, struct ipaddr *ip)
{
	struct in_addr	in;

	if (inet_pton(AF_INET, s, &in) == 1) {
		ipaddr_set_v4(ip, &in);
		return 0;
	}
	if (strchr(s, ':') != NULL && inet_pton(AF_INET6, s, ip->a) == 1)
		return 0;
	return -1;
}

const char *
ipaddr_text(const struct ipaddr *ip, char out[IP_TEXT_LEN])
{
	if (ipaddr_is_v4(ip))
		return inet_ntop(AF_INET, ip->a + 12, out, IP_TEXT_LEN);
	return inet_ntop(AF_INET6, ip->a, out, IP_TEXT_LEN);
}

int
ipaddr_from_sa(const struct sockaddr *sa, struct ipaddr *ip)
{
	if (sa->sa_family == AF_INET) {
		ipaddr_set_v4(ip, &((const struct sockaddr_in *)sa)->sin_addr);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(ip->a, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
		return 0;
	}
	return -1;
}

void
ip_port_text(const struct ipaddr *ip, uint16_t port, char out[EP_TEXT_LEN])
{
	char	text[IP_TEXT_LEN];

	ipaddr_text(ip, text);
	snprintf(out, EP_TEXT_LEN, ipaddr_is_v4(ip) ? "%s:%u" : "[%s]:%u",
	    text, port);
}

void
endpoint_set(struct endpoint *ep, const struct ipaddr *ip, uint16_t port)
{
	int	tls = ep->tls;

	memset(ep, 0, sizeof(*ep));
	ep->tls = tls;
	if (ipaddr_is_v4(ip)) {
		ep->sin.sin_family = AF_INET;
		ep->sin.sin_port = htons(port);
		memcpy(&ep->sin.sin_addr, ip->a + 12, 4);
	} else {
		ep->sin6.sin6_family = AF_INET6;
		ep->sin6.sin6_port = htons(port);
		memcpy(&ep->sin6.sin6_addr, ip->a, 16);
	}
	ip_port_text(ip, port, ep->text);
}

void
endpoint_ip(const struct endpoint *ep, struct ipaddr *ip)
{
	if (ipaddr_from_sa(&ep->sa, ip) == -1)
		memset(ip, 0, sizeof(*ip));
}

uint16_t
endpoint_port(const struct endpoint *ep)
{
	return ntohs(ep->sa.sa_family == AF_INET6 ? ep->sin6.sin6_port :
	    ep->sin.sin_port);
}

socklen_t
endpoint_len(const struct endpoint *ep)
{
	return ep->sa.sa_family == AF_INET6 ? sizeof(ep->sin6) :
	    sizeof(ep->sin);
}

int
endpoint_family(const struct endpoint *ep)
{
	return ep->sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET;
}

int
endpoint_is_any(const struct endpoint *ep)
{
	if (ep->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&ep->sin6.sin6_addr);
	return ep->sin.sin_addr.s_addr == htonl(INADDR_ANY);
}

int
endpoint_eq(const struct endpoint *a, const struct endpoint *b)
{
	struct ipaddr	x, y;

	endpoint_ip(a, &x);
	endpoint_ip(b, &y);
	return ipaddr_eq(&x, &y) && endpoint_port(a) == endpoint_port(b);
}

/* Split "IP:PORT", "IP PORT", "[V6]:PORT", "[V6] PORT" or "V6 PORT" into
 * the address text (ip, at most iplen - 1) and the port text. */
static const char *
split_address(const char *s, char *ip, size_t iplen, const char **port)
{
	const char	*sep, *from = s;
	size_t		 n;

	if (*s == '[') {
		if ((sep = strchr(s, ']')) == NULL)
			return "no ']' after an IPv6 address";
		from = s + 1;
		n = (size_t)(sep - from);
		sep++;
		if (*sep != ':' && *sep != ' ' && *sep != '\t')
			return "expected :PORT after ']'";
	} else if ((sep = strpbrk(s, " \t")) != NULL) {
		n = (size_t)(sep - s);
	} else if ((sep = strchr(s, ':')) == NULL) {
		return "expected IP:PORT or IP PORT";
	} else if (strchr(sep + 1, ':') != NULL) {
		return "an IPv6 address goes in brackets, as [::1]:7001";
	} else
		n = (size_t)(sep - s);
	if (n == 0 || n >= iplen)
		return "expected IP:PORT or IP PORT";
	memcpy(ip, from, n);
	ip[n] = '\0';
	if (*sep == ':')
		sep++;
	while (*sep == ' ' || *sep == '\t')
		sep++;
	*port = sep;
	return NULL;
}

int
endpoint_parse_why(const char *s, struct endpoint *ep, const char **why)
{
	char		 text[IP_TEXT_LEN];
	const char	*port, *err;
	struct ipaddr	 ip;
	uint16_t	 p;

	if ((err = split_address(s, text, sizeof(text), &port)) == NULL) {
		if (ipaddr_parse(text, &ip) == -1)
			err = "not an IPv4 or IPv6 address";
		else if (s[0] == '[' && strchr(text, ':') == NULL)
			err = "brackets are for IPv6 addresses";
		else if (parse_port(port, &p) == -1)
			err = "the port is a number from 1 to 65535";
	}
	if (why != NULL)
		*why = err;
	if (err != NULL)
		return -1;
	ep->tls = 0;
	endpoint_set(ep, &ip, p);
	return 0;
}

int
endpoint_parse(const char *s, struct endpoint *ep)
{
	return endpoint_parse_why(s, ep, NULL);
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
	FILE		*fp;
	char		*line = NULL, *s;
	const char	*why;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 n = 0, lineno = 0, tls;

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
		if (endpoint_parse_why(s, &out[n], &why) == -1) {
			snprintf(err, errlen, "%s:%d: expected IP:PORT, "
			    "[IPv6]:PORT or IP PORT (or tls://IP:PORT): %s",
			    path, lineno, why);
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

	fd = socket(endpoint_family(ep), SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, &ep->sa, endpoint_len(ep)) == -1 ||
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

	fd = socket(endpoint_family(ep), SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	r = connect(fd, &ep->sa, endpoint_len(ep));
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
