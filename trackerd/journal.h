/* The journal, sync_log.txt: one checksummed text line per change, shared
 * by the trackers on a host, replayed at start, compacted when mostly dead. */
#ifndef TRACKERD_JOURNAL_H
#define TRACKERD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "trackerd/config.h"
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
 * A change made by a request that carried an id (peerd's) is prefixed
 * "rid <id, 32 hex> <k> ", k counting the request's changes from 0; a
 * request whose id was applied before is skipped whole (reqid.c), and
 * "rid <id> 0" alone only notes an id (compaction). Lines without the
 * prefix, as older trackers wrote them, read as before.
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
/* Master, at start: one change of its own (the ticket key), durable in
 * the file or committed in etcd before it returns 0; -1 (t->err). */
int	journal_publish(struct tracker *, const char *body);
/* Apply the other tracker's pending lines now (flock LOCK_SH + meta). */
int	journal_catch_up(struct tracker *);
/* Before a read: apply what any tracker acknowledged and this one has not
 * (file journal: one load from the shared "<journal>.seq" page, a catch-up
 * only when behind; etcd: the worker's probes do this). 0 or -1. */
int	journal_read_barrier(struct tracker *);
/* Every live record as change bodies (users, sessions, then each group
 * with its members, requests and files), each passed to emit; meta held.
 * 0, or -1 if emit failed. Compaction and etcd snapshots write these. */
int	journal_dump_locked(struct tracker *,
	    int (*emit)(void *, const char *body, size_t len), void *arg);
/* Rewrite the journal as the live state (temporary file, fsync, rename,
 * fsync of the directory). 0 or -1. */
int	journal_compact(struct tracker *);

/*
 * Lifetime of the shared state (state.c + journal.c):
 * tracker_create: master, before forking: remove a stale shm object,
 *   create and size the region, replay the journal into it. -1 with a
 *   one-line message in err on failure (e.g. corruption mid-journal).
 * tracker_attach: each worker after fork (own journal fd, own flock
 *   description); the master keeps the handle from tracker_create.
 * tracker_destroy: master at shutdown: unmap and shm_unlink.
 */
struct tracker *tracker_create(const struct tracker_config *, char *err,
		    size_t errlen);
struct tracker *tracker_attach(const struct tracker_config *, char *err,
		    size_t errlen);
void		tracker_detach(struct tracker *);
void		tracker_destroy(struct tracker *);

/*
 * Journal duties the processes run:
 * journal_watch_fd: an inotify fd (non-blocking) that becomes readable
 *   when the journal changes; the master polls it (and calls
 *   journal_poll at least every 50 ms as a fallback).
 * journal_poll: apply lines the other tracker appended, notice a
 *   compacted (replaced) journal, compact when worthwhile. Master only;
 *   nothing to do with -J.
 * journal_serve: with -J, the journal process's round: its threads (the
 *   watch, the committer of the workers' changes) started the first time,
 *   snapshots when due.
 * journal_sync: fdatasync the journal and return the highest sequence
 *   number now durable (a worker's sync thread calls it: group commit).
 * journal_durable_seq: the highest sequence number known durable.
 * journal_dropped: 1 if change seq was cut from the journal because
 *   fdatasync failed (-s always): its request is refused, not answered.
 */
int		journal_watch_fd(struct tracker *);
void		journal_poll(struct tracker *);
void		journal_serve(struct tracker *);
uint64_t	journal_sync(struct tracker *);
uint64_t	journal_durable_seq(struct tracker *);
int		journal_dropped(struct tracker *, uint64_t seq);

/* The master calls this if a worker died: repair any lock it held
 * (also done lazily on EOWNERDEAD by whoever takes the lock next). */
void		tracker_worker_died(struct tracker *, int pid);

/*
 * With -J the changes of a request are committed to etcd while the worker
 * serves other connections: after cmd_execute or cmd_finish,
 * journal_submit_staged hands the request's changes to a committer thread
 * (1; its reply must wait) or says there were none (0). journal_probe asks
 * for a read barrier (every change etcd holds now applied here). The
 * results come back through journal_done when journal_event_fd is
 * readable. The file journal has none of this (event fd -1).
 */
enum jresult {
	JR_DONE,		/* committed and applied here (or probe passed) */
	JR_CONFLICT,		/* another change came first: validate again */
	JR_UNAVAILABLE		/* etcd did not commit it in time */
};
int	journal_submit_staged(struct tracker *, void *cookie);
int	journal_probe(struct tracker *, void *cookie);
int	journal_event_fd(struct tracker *);
int	journal_done(struct tracker *, void **cookie, enum jresult *);

#endif
