/* The journal, sync_log.txt: one checksummed text line per change, shared
 * by the trackers on a host, replayed at start, compacted when mostly dead. */
#ifndef TRACKERD_JOURNAL_H
#define TRACKERD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "trackerd/state.h"

/*
 * A line: "<seq> <tracker_no> <op> <args...> *<crc32, 8 hex>\n", the CRC
 * over every byte before " *". Ops and their arguments:
 *   user <name> <algo> <iterations> <salt hex> <hash hex> [<ip> <time>]
 *   login <user> <token> <time>      logout <token>    touch <token> <time>
 *   group <name> <owner>             member <group> <user>   (compaction)
 *   join_req <group> <user>          accept <group> <user>
 *   reject <group> <user>            leave <group> <user>
 *   file <group> <name> <size> <sha1> <n> <h1>..<hn> <ip> <port> <token>
 *   seed <group> <name> <ip> <port> <token>
 *   unseed <group> <name> <ip> <port>
 *   key <tracker_no> <keyid hex> <Ed25519 public key hex>   (keys.c)
 * A file is registered with its first seeder and removed with its last.
 */
#define JOURNAL_CRC_SUFFIX	10	/* " *xxxxxxxx" */
#define JOURNAL_MAX_LINE	(64u << 20)

/* Format a complete line (with '\n') into out; returns its length, or 0
 * if out is too small. */
size_t	journal_format_line(char *out, size_t outlen, uint64_t seq,
	    int tracker_no, const char *body, size_t bodylen);
/*
 * Check one line (without its '\n'): syntax and checksum. On success
 * returns 0 and sets seq, tracker_no and the body (op and arguments) as a
 * pointer into line and its length; -1 on a bad checksum, -2 on bad syntax.
 */
int	journal_parse_line(const char *line, size_t len, uint64_t *seq,
	    int *tracker_no, const char **body, size_t *bodylen);
/* Apply one body (modified in place) to the state; meta held. 0, or -1
 * if the change is malformed or does not fit the state. */
int	journal_apply_body(struct tracker *, char *body, size_t len,
	    uint64_t seq);

/*
 * The write path of one change:
 *   journal_begin: flock(LOCK_EX) the journal, reopen it if it was
 *     replaced, take meta, apply the other tracker's new lines. -1 with
 *     t->err set (meta not held) on failure.
 *   journal_commit: one write() of the line "<last seq + 1> <no> body",
 *     then apply it; returns the seq, or 0 (t->err set, nothing changed).
 *   journal_end: unlock meta, then the flock.
 */
int	journal_begin(struct tracker *);
uint64_t journal_commit(struct tracker *, const char *body, size_t len);
void	journal_end(struct tracker *);
/* Apply the other tracker's pending lines now (flock LOCK_SH + meta). */
int	journal_catch_up(struct tracker *);
/* Rewrite the journal as the live state (temporary file, fsync, rename,
 * fsync of the directory). 0 or -1. */
int	journal_compact(struct tracker *);

#endif
