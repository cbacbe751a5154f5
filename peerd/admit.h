/* Admission of peer connections to the piece server, pure: which
 * connection makes way for a new one when slots run out, and which has
 * outstayed its welcome (no handshake, nothing asked, nothing read).
 * Newcomers come in on probation (a few slots beyond the limits) and
 * push someone out only once their HELLO showed a valid ticket, so a
 * flood of forged or silent connections costs nobody a slot. */
#ifndef PEERD_ADMIT_H
#define PEERD_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#define ADMIT_MAX_CONNS		256
#define ADMIT_MAX_PER_IP	32
#define ADMIT_PROBATION		64	/* more while they say HELLO */
#define ADMIT_PROBATION_IP	8
#define ADMIT_HELLO_MS		3000	/* from accept to a valid HELLO */
#define ADMIT_GRACE_MS		1000	/* a handshake this young is not
					 * evicted: a flood of reconnects
					 * must not chase itself round */
#define ADMIT_IDLE_MS		60000	/* no request for this long */
#define ADMIT_STALL_MS		20000	/* data waiting, none read */

/* What the policy sees of one connection. */
struct admit_view {
	uint32_t	ip;		/* network order */
	int		ready;		/* sent a HELLO with a valid ticket */
	int		busy;		/* requests queued or data being sent */
	uint64_t	born;		/* ms: accepted */
	uint64_t	useful;		/* ms: last request (or accept) */
	uint64_t	progress;	/* ms: last byte the peer read */
};

/*
 * A new connection from ip arrives with v[0..n) open. Returns -1 if it
 * fits (on probation), or the index of the connection to close for it
 * (from the same address when that address is full): the oldest that has
 * not finished its handshake (if older than ADMIT_GRACE_MS), else the
 * ready one idle longest. -2 if none may go (every candidate is being
 * served or just arrived): refuse the newcomer.
 */
int		 admit_victim(const struct admit_view *v, size_t n, uint32_t ip,
		    uint64_t now);
/* v[self] just showed a valid ticket: the connection to close so the
 * limits hold again (by the same ranking), or -1 for none. */
int		 admit_ready_victim(const struct admit_view *v, size_t n,
		    size_t self, uint64_t now);
/* Why c must be closed at now, or NULL if it may stay. */
const char	*admit_expired(const struct admit_view *c, uint64_t now);

#endif
