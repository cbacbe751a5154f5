/* The tracker's command layer: one call turns a request line into a
 * complete reply, reading and changing the shared state and journaling
 * every change. This is the seam between the network code (worker.c) and
 * the state (state.c, journal.c). */
#ifndef TRACKERD_COMMANDS_H
#define TRACKERD_COMMANDS_H

#include <stdint.h>

#include "ipc/names.h"
#include "ipc/proto.h"
#include "trackerd/config.h"

struct tracker;		/* one process's handle on the shared state + journal */
struct kdf_job;		/* a password hash to compute off the event loop */

/* Authentication state of one client connection. */
struct client {
	uint32_t	peer_ip;		/* source IPv4, network order */
	char		user[NAME_MAX_LEN + 1];	/* "" until login */
	char		token[17];		/* session token, "" until login */
};

enum cmd_status {
	CMD_REPLY,	/* out holds the whole reply, ending "END_OF_REPLY\n" */
	CMD_NEED_KDF	/* run kdf_job_run(*job) on another thread, then
			 * call cmd_finish() on the event loop */
};

/*
 * Execute one request line (already stripped of "\r\n", NUL-terminated,
 * may be modified in place). Appends the reply to out. *durable_seq is
 * set to the journal sequence number that must be durable before the
 * reply may be sent (0: send at once); see journal_durable_seq().
 */
enum cmd_status cmd_execute(struct tracker *, struct client *, char *line,
		    size_t len, struct buf *out, struct kdf_job **job,
		    uint64_t *durable_seq);
/* Pure CPU (PBKDF2); safe to call on any thread. */
void		kdf_job_run(struct kdf_job *);
/* Complete a request that needed a KDF; frees job; appends the reply. */
void		cmd_finish(struct tracker *, struct client *, struct kdf_job *,
		    struct buf *out, uint64_t *durable_seq);
/* Drop a job whose connection went away; frees job, changes nothing. */
void		kdf_job_free(struct kdf_job *);

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
 *   compacted (replaced) journal, compact when worthwhile. Master only.
 * journal_sync: fdatasync the journal and return the highest sequence
 *   number now durable (a worker's sync thread calls it: group commit).
 * journal_durable_seq: the highest sequence number known durable.
 * journal_dropped: 1 if change seq was cut from the journal because
 *   fdatasync failed (-s always): its request is refused, not answered.
 */
int		journal_watch_fd(struct tracker *);
void		journal_poll(struct tracker *);
uint64_t	journal_sync(struct tracker *);
uint64_t	journal_durable_seq(struct tracker *);
int		journal_dropped(struct tracker *, uint64_t seq);

/* The master calls this if a worker died: repair any lock it held
 * (also done lazily on EOWNERDEAD by whoever takes the lock next). */
void		tracker_worker_died(struct tracker *, int pid);

#endif
