/* Helpers the benchmark programs share: the monotonic clock and TCP
 * sockets (loopback listeners, plain and non-blocking connections). */
#ifndef TESTS_BENCH_BENCH_UTIL_H
#define TESTS_BENCH_BENCH_UTIL_H

#include <stdint.h>

#include "ipc/net.h"

/* The monotonic clock in microseconds, and in seconds. */
uint64_t bench_now_us(void);
double	 bench_now_s(void);

/* A TCP socket bound to a free port on 127.0.0.1 (in *port), listening
 * when backlog > 0; -1 on error. */
int	 bench_loopback_listen(int backlog, uint16_t *port);
/* A blocking TCP connection to 127.0.0.1:port; -1 on error. */
int	 bench_loopback_connect(uint16_t port);
/* A TCP_NODELAY connection to ep; non-blocking with nonblock, and then
 * possibly still in progress. -1 on error (errno). */
int	 bench_connect(const struct endpoint *ep, int nonblock);
/* Send line ('\n' appended) to the tracker on the blocking fd and read
 * its whole reply, through END_OF_REPLY, into a static buffer (1 MiB;
 * overwritten by the next call); NULL on error. */
char	*bench_request(int fd, const char *line);

#endif
