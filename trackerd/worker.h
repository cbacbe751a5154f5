/* The seam between trackerd's master (trackerd.c) and its preforked
 * workers (worker.c): what a worker needs to start serving. */
#ifndef TRACKERD_WORKER_H
#define TRACKERD_WORKER_H

#include "trackerd/config.h"

#define WORKER_IDLE_SECONDS	300	/* idle connections are closed */
#define WORKER_KDF_THREADS	2	/* PBKDF2 off the event loop */

/* Master, before forking: memory the workers share (one sync at a
 * time). 0 or -1. */
int	worker_shared_init(void);

/*
 * Run worker number slot (1-based) in a freshly forked child: attach to
 * the shared state, accept on listen_fd (this slot's own SO_REUSEPORT
 * socket) and serve until SIGTERM or the master's death. Never returns; the process exits 0 on a clean stop.
 */
void	worker_main(const struct tracker_config *, int listen_fd, int slot,
	    int idle_seconds) __attribute__((noreturn));

#endif
