/* trackerd -J: the journal process, forked by the master before the
 * workers, where the etcd journal's threads run. */
#ifndef TRACKERD_JOURNAL_PROC_H
#define TRACKERD_JOURNAL_PROC_H

struct tracker;

/* The process's life: the journal's threads and snapshots until SIGTERM
 * or the master's death. Never returns. */
void	journal_proc_main(struct tracker *) __attribute__((noreturn));

#endif
