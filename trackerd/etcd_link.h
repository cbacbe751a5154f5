/* The links between the workers and the committer in the journal process
 * (-J): each worker hands its staged requests to the journal process,
 * which commits those of every worker together, and hears each one's
 * answer back. */
#ifndef TRACKERD_ETCD_LINK_H
#define TRACKERD_ETCD_LINK_H

#include <stddef.h>
#include <stdint.h>

/* Worker to journal process: one request, then blen bytes of its change
 * bodies, each ending in '\n' (the journal process counts and sizes them
 * itself). */
struct link_req {
	uint64_t	id;		/* the worker's, echoed in the answer */
	int64_t		base;		/* the revision it was validated at */
	uint64_t	deadline;	/* CLOCK_MONOTONIC ms: answer by then */
	uint64_t	blen;
};

/* Journal process to worker: the answer to request id. */
struct link_answer {
	uint64_t	id;
	int64_t		rev;		/* > 0: answered once rev is applied */
	int32_t		result;		/* an enum jresult */
	uint32_t	pad;
};

/* Master, before the journal process and the workers start: where the
 * links will arrive (kept by the master, so that a journal process started
 * again takes those announced meanwhile). 0 or -1 (errno). */
int	link_listen(void);
/* Worker: a new link to the journal process; its own end, or -1
 * (errno). */
int	link_connect(void);
/* Journal process: wait for the next worker's link; its fd, or -1
 * (errno). */
int	link_accept(void);

/* Exactly len bytes, waiting as needed: 1, 0 at end of stream, -1. */
int	link_read(int fd, void *p, size_t len);
/* All of iov (advanced in place as it goes): 0 or -1 (errno). */
struct iovec;
int	link_writev(int fd, struct iovec *iov, int n);

#endif
