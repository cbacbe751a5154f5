/* The tracker's command layer: one call turns a request line into a
 * complete reply, reading and changing the shared state and journaling
 * every change. This is the seam between the network code (worker.c) and
 * the state (state.c, journal.c). */
#ifndef TRACKERD_COMMANDS_H
#define TRACKERD_COMMANDS_H

#include <stdint.h>

#include "ipc/names.h"
#include "ipc/net.h"
#include "ipc/proto.h"
#include "trackerd/config.h"

struct tracker;		/* one process's handle on the shared state + journal
			 * (state.h; created and attached by journal.c) */
struct kdf_job;		/* a password hash to compute off the event loop */

/* Authentication state of one client connection. */
struct client {
	struct ipaddr	peer;			/* source address */
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

#endif
