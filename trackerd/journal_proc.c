/* trackerd -J: the journal process. The master forks it before the
 * workers; it runs the etcd journal's threads (the watch, the committer of
 * every worker's changes) and writes the snapshots, so that the master
 * stays single-threaded: a fork copies only the thread that calls it, and
 * a lock another thread held at that moment (in libc, json-c, curl or
 * OpenSSL) would stay held forever in the new worker. */
#include <sys/prctl.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/util.h"
#include "trackerd/journal.h"
#include "trackerd/journal_proc.h"

#define SERVE_POLL_MS	50	/* snapshots looked at this often */

void
journal_proc_main(struct tracker *t)
{
	struct signalfd_siginfo	si;
	struct pollfd		pfd;
	sigset_t		set;
	pid_t			master = getppid();

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	log_setrole("journal");
	setproctitle("journal");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_SETMASK, &set, NULL);	/* its threads inherit it */
	if ((pfd.fd = signalfd(-1, &set, SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	pfd.events = POLLIN;
	for (;;) {
		journal_serve(t);
		if (poll(&pfd, 1, SERVE_POLL_MS) == 1 &&
		    read(pfd.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				log_reopen();
			else
				break;
		}
		if (getppid() != master)	/* gone, its SIGTERM lost */
			break;
	}
	/* Its threads may be inside a request to etcd: what they committed
	 * the watch of every tracker applies; what they did not, the
	 * workers' requests time out and answer unavailable. */
	_exit(0);
}
