/* trackerd's settings: what the command line and tracker_info.txt say,
 * shared by the master, the workers and the state/journal code. */
#ifndef TRACKERD_CONFIG_H
#define TRACKERD_CONFIG_H

#include <stdint.h>

#include "ipc/net.h"

enum sync_policy {
	SYNC_ALWAYS,	/* fdatasync before every acknowledgement (group commit) */
	SYNC_EVERYSEC,	/* fdatasync at most once a second */
	SYNC_NO		/* leave it to the kernel */
};

#define ETCD_MAX_ENDPOINTS	8
#define TICKET_LIFETIME		600	/* seconds a download ticket is good
					 * for, by default */

/* -J etcd[s]://HOST:PORT[,...]/PREFIX: the cluster holding the history. */
struct etcd_target {
	char		 endpoints[ETCD_MAX_ENDPOINTS][96];	/* http[s]://h:p */
	int		 n;			/* 0: the file journal */
	char		 prefix[128];		/* "/PREFIX", no trailing / */
	int		 tls;			/* etcds://: https to every member */
	const char	*cacert;		/* --etcd-cacert: PEM CAs that
						 * vouch for the members (NULL:
						 * the system's) */
	const char	*cert, *key;		/* --etcd-cert, --etcd-key: our
						 * client certificate, or NULL */
};

enum read_level {
	READS_SESSION,	/* a connection never reads older than it saw */
	READS_LINEARIZABLE	/* every read sees every acknowledged change */
};

struct tracker_config {
	const char	*info_path;		/* tracker_info.txt */
	int		 tracker_no;		/* 1-based line in info_path */
	struct endpoint	 trackers[MAX_TRACKERS];
	int		 ntrackers;
	struct endpoint	 self;			/* trackers[tracker_no - 1] */

	const char	*journal_path;		/* -l, default "sync_log.txt" */
	const char	*pidfile;		/* -p, default none */
	int		 foreground;		/* -f */
	int		 workers;		/* -w, default ncpu, >= 2 */
	int		 verbose;		/* -v */

	/* capacities (-o users=,groups=,files=,members=,requests=,
	 * sessions=,seeders=,hashes=,maxsize=) */
	uint32_t	 max_users;		/* default 131072 */
	uint32_t	 max_groups;		/* default 131072 */
	uint32_t	 max_members;		/* memberships, default 1M */
	uint32_t	 max_requests;		/* join requests, default 262144 */
	uint32_t	 max_sessions;		/* default 131072 */
	uint32_t	 max_files;		/* default 1M */
	uint32_t	 max_seeders;		/* default 2M */
	uint64_t	 max_hashes;		/* piece hashes in the arena, default 16M */
	uint64_t	 max_file_size;		/* default 64 GiB */

	/*
	 * Per-user quotas (-o user_files=,user_hashes=,user_groups=,
	 * user_requests=,user_sessions=), 0 for the default, a share of the
	 * table (see config_quota); and account creations per source address within a
	 * window (-o signups=N,signup_window=SECONDS; signups=0: no limit).
	 */
	uint32_t	 quota_files;		/* shares a user holds */
	uint64_t	 quota_hashes;		/* piece hashes of those */
	uint32_t	 quota_groups;		/* groups a user owns */
	uint32_t	 quota_requests;	/* join requests pending */
	uint32_t	 quota_sessions;	/* sessions open */
	uint32_t	 signups;		/* default 10 */
	uint32_t	 signup_window;		/* default 3600 */
	uint32_t	 ticket_lifetime;	/* seconds a download ticket is
						 * good for (-o ticket_lifetime=) */

	uint32_t	 kdf_iterations;	/* -k, default 600000 */
	uint32_t	 lease_seconds;		/* -t, default 900 */
	enum sync_policy sync;			/* -s always|everysec|no */
	uint64_t	 compact_bytes;		/* compact a journal bigger than
						 * this that is mostly dead lines,
						 * default 64 MiB (-o compact=) */

	struct etcd_target etcd;		/* -J */
	enum read_level	 reads;			/* -o reads=session|linearizable */
	uint64_t	 snapshot_lines;	/* etcd: snapshot after this many
						 * changes, default 100000
						 * (-o snapshot=) */

	char		 shm_name[64];		/* "/p2pshare-trackerd-<port>" */

	/* TLS beside plain text on the same port: -C cert, -K key; the
	 * context is made by the master before the workers fork */
	const char	*tls_cert, *tls_key;
	struct ssl_ctx_st *tls;

};

enum quota { Q_FILES, Q_HASHES, Q_GROUPS, Q_REQUESTS, Q_SESSIONS };

/* Fill defaults (everything but the paths and tracker number). */
void	config_defaults(struct tracker_config *);
/* A per-user limit: the option's value, else its share of the table. */
uint64_t config_quota(const struct tracker_config *, enum quota);

#endif
