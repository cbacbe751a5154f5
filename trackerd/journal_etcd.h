/* The journal on an etcd cluster (-J): what journal.c hands over to it
 * when the tracker's history lives in etcd instead of sync_log.txt. */
#ifndef TRACKERD_JOURNAL_ETCD_H
#define TRACKERD_JOURNAL_ETCD_H

#include <stddef.h>
#include <stdint.h>

struct tracker;

/* Master: load the state from etcd (snapshot + later changes at one
 * revision). Worker: its own connections and threads. 0 or -1 (err). */
int	jetcd_create(struct tracker *, char *err, size_t errlen);
int	jetcd_attach(struct tracker *, char *err, size_t errlen);
void	jetcd_free(struct tracker *);

/* The write path: validation under meta, changes staged for the
 * committer (not applied: the watch applies them in revision order). */
int	jetcd_begin(struct tracker *);
uint64_t jetcd_stage(struct tracker *, const char *body, size_t len);
void	jetcd_end(struct tracker *);
/* Master: commit one change now, outside the workers' batches. */
int	jetcd_publish(struct tracker *, const char *body);
/* Wait (bounded) until every change etcd holds now is applied here. */
int	jetcd_catch_up(struct tracker *);
/* The journal process: start the watch and the committer (first call),
 * write snapshots when due. */
void	jetcd_poll(struct tracker *);

#endif
