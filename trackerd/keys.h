/* Ticket signing on the tracker: this tracker's Ed25519 key (in memory
 * only), the journaled public keys of every tracker, and tickets. */
#ifndef TRACKERD_KEYS_H
#define TRACKERD_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/proto.h"
#include "ipc/ticket.h"
#include "trackerd/state.h"

/* Master, before the workers start: a new key pair, its public half
 * journaled ("key <tracker_no> <keyid> <pub>"). 0, or -1 (t->err). */
int	keys_init(struct tracker *);
/* The journal's "key" line (argv[0] == "key"); meta held. 0 or -1. */
int	keys_apply_locked(struct tracker *, char **argv, int argc);
/* The journal line body for slot k of tracker no (1-based) into out, for
 * compaction; 0, or -1 if that slot is empty. */
int	keys_line_locked(struct tracker *, int no, int k, struct buf *out);
/* Known public keys (meta held): up to max into keys; returns the count. */
size_t	keys_known_locked(struct tracker *, struct ticket_key *keys,
	    size_t max);
/* Sign a ticket for user/group/sha1 expiring at expires, hex-encoded into
 * hex[TICKET_MAX_HEX + 1]. 0, or -1 (no key: not the master's child). */
int	keys_ticket_hex(const char *user, const char *group,
	    const uint8_t sha1[SHA1_LEN], uint64_t expires, char *hex);

#endif
