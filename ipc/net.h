/* Socket helpers shared by the programs: addresses, tracker_info.txt,
 * listening and connecting sockets, non-blocking I/O helpers. */
#ifndef IPC_NET_H
#define IPC_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_TRACKERS	16

struct endpoint {
	struct sockaddr_in	sin;		/* IPv4, network order */
	char			text[32];	/* "a.b.c.d:port" */
	int			tls;		/* tracker_info.txt: over TLS */
};

/* "IP:PORT" or "IP PORT" (IPv4 dotted quad). 0 or -1. */
int	endpoint_parse(const char *, struct endpoint *);
/*
 * Read tracker_info.txt: one endpoint per line, blank lines and '#'
 * comments ignored; "tls://IP:PORT" or a last word "tls" marks a tracker
 * to be reached over TLS (ep->tls). Returns the number read (>= 1), or -1 with a message
 * in err (naming the file and line).
 */
int	tracker_info_load(const char *path, struct endpoint *out, int max,
	    char *err, size_t errlen);

int	set_nonblock(int fd);
int	set_cloexec(int fd);
/* Listening TCP socket on ep (SO_REUSEADDR, non-blocking); -1 on error. */
int	tcp_listen(const struct endpoint *ep, int backlog);
/* Connect with a timeout in ms; returns a blocking fd or -1 (errno). */
int	tcp_connect(const struct endpoint *ep, int timeout_ms);
/* Write everything (blocking fd, EINTR retried, MSG_NOSIGNAL). */
int	write_all(int fd, const void *, size_t);

#endif
