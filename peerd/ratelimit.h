/* Token buckets for the total upload and download rate of this peerd:
 * callers take what the bucket allows and, when it is empty, stop polling
 * the socket and come back after rl_delay_ms (never sleeping the loop). */
#ifndef PEERD_RATELIMIT_H
#define PEERD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct rlimit {
	uint64_t	rate;		/* bytes per second; 0: unlimited */
	uint64_t	burst;		/* bucket size */
	double		tokens;
	uint64_t	last_ms;	/* tokens last refilled */
	uint64_t	total;		/* bytes counted, for the rate shown */
	uint64_t	meas_ms, meas_total;
	uint64_t	measured;	/* bytes/s over the last second or so */
};

extern struct rlimit	rl_up, rl_down;

void		rl_set(struct rlimit *, uint64_t rate, uint64_t now_ms);
/* Bytes that may go now, at most want (want itself when unlimited). */
size_t		rl_allow(struct rlimit *, size_t want, uint64_t now_ms);
/* n bytes went (at most what rl_allow gave). */
void		rl_used(struct rlimit *, size_t n, uint64_t now_ms);
/* Milliseconds until a useful amount of tokens is there (>= 1). */
uint64_t	rl_delay_ms(const struct rlimit *);
/* The rate measured (bytes/s), limited or not. */
uint64_t	rl_measured(struct rlimit *, uint64_t now_ms);

#endif
