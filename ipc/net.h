/* Socket helpers shared by the programs: addresses, tracker_info.txt,
 * listening and connecting sockets, non-blocking I/O helpers. */
#ifndef IPC_NET_H
#define IPC_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_TRACKERS	16
#define IP_TEXT_LEN	INET6_ADDRSTRLEN	/* an address as text, NUL */
#define EP_TEXT_LEN	(IP_TEXT_LEN + 8)	/* "[v6]:port" */

/* An IP address of either family, 16 bytes: IPv6, or IPv4 mapped
 * (::ffff:a.b.c.d), so that one comparison serves both. */
struct ipaddr {
	uint8_t		a[16];
};

/* A socket address of either family; sin (IPv4) and sin6 share sa. */
struct endpoint {
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	};
	char			text[EP_TEXT_LEN];	/* "a.b.c.d:port",
							 * "[v6]:port" */
	int			tls;		/* tracker_info.txt: over TLS */
};

/* A dotted quad or an IPv6 address (no brackets). 0 or -1. */
int	ipaddr_parse(const char *, struct ipaddr *);
/* Its text: a dotted quad for IPv4, else IPv6 (no brackets). */
const char *ipaddr_text(const struct ipaddr *, char out[IP_TEXT_LEN]);
int	ipaddr_is_v4(const struct ipaddr *);
int	ipaddr_eq(const struct ipaddr *, const struct ipaddr *);
/* 1 for 0.0.0.0 or :: */
int	ipaddr_is_any(const struct ipaddr *);
/* The address of a socket address of either family; -1 for another. */
int	ipaddr_from_sa(const struct sockaddr *, struct ipaddr *);
/* The first 4 bytes of an IPv4 address, network order; 0 for IPv6. */
uint32_t ipaddr_v4(const struct ipaddr *);

/*
 * "IP:PORT" or "IP PORT", IP a dotted quad, or an IPv6 address in
 * brackets ("[::1]:7001", "[::1] 7001"; also bare before a space:
 * "::1 7001"). 0, or -1 with *why (may be NULL) a one-line reason.
 */
int	endpoint_parse(const char *, struct endpoint *);
int	endpoint_parse_why(const char *, struct endpoint *, const char **why);
/* ep from an address and a port (host order), text included. */
void	endpoint_set(struct endpoint *, const struct ipaddr *, uint16_t port);
void	endpoint_ip(const struct endpoint *, struct ipaddr *);
uint16_t endpoint_port(const struct endpoint *);	/* host order */
socklen_t endpoint_len(const struct endpoint *);
int	endpoint_family(const struct endpoint *);
/* 1 for 0.0.0.0 or :: (listen on every address). */
int	endpoint_is_any(const struct endpoint *);
/* Same address and port. */
int	endpoint_eq(const struct endpoint *, const struct endpoint *);
/* "IP:PORT" text of ip and port, brackets around IPv6. */
void	ip_port_text(const struct ipaddr *, uint16_t port,
	    char out[EP_TEXT_LEN]);
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
