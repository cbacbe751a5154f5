/* The tracker's state in one POSIX shared-memory region: fixed-size,
 * pointer-free records linked by 32-bit indexes, hash indexes, robust locks. */
#ifndef TRACKERD_STATE_H
#define TRACKERD_STATE_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/names.h"
#include "ipc/net.h"
#include "ipc/proto.h"
#include "trackerd/config.h"
#include "trackerd/password.h"

#define STATE_MAGIC		0x70327073747261ull	/* "p2pstra" */
#define STATE_VERSION		3
#define STATE_FAILED		64	/* failed applies remembered (etcd) */
#define STATE_NBUCKETS		64
#define TOKEN_LEN		SESSION_TOKEN_LEN
#define NIL			0	/* index 0 is never a record */
#define STATE_SIGNUPS		65536	/* recent account creations kept */
#define STATE_RIDS		16384	/* ids of recent requests kept */
#define STATE_RID_BUCKETS	4096
#define RID_LEN			16	/* bytes; 32 hex digits on the wire */

/*
 * LOCK ORDER (the one place it is written down):
 *
 *   journal flock (per process fd)  ->  meta  ->  bucket[i] ascending
 *
 * meta guards users, groups, memberships, join requests, sessions, the
 * record allocators and every group's lists. bucket[i] guards the file
 * records and seeders whose (group, name) hash falls in bucket i. Every
 * change takes meta and then the bucket(s) it touches, so a holder of meta
 * alone may read files too; download_file reads a file under its bucket
 * only. Never wait for meta while holding a bucket; never wait for the
 * flock while holding meta.
 *
 * Crash repair: a worker that dies holding meta (EOWNERDEAD) may have left
 * a change half applied; every change is applied only after its journal
 * line is written, so the next owner rebuilds the whole region from the
 * journal (the tracker's rebuild callback) and nothing acknowledged is
 * lost. A dead bucket holder sets hdr->dirty, which forces the same
 * rebuild.
 */

enum table_id {
	T_USER, T_GROUP, T_MEMBER, T_REQUEST, T_SESSION, T_FILE, T_SEEDER,
	T_NTABLES
};

struct link {
	uint32_t	prev, next;
};

struct list {
	uint32_t	head, tail, count;
};

struct table_desc {
	uint64_t	off;		/* records, from the region start */
	uint64_t	hoff;		/* hash heads (uint32_t), 0 if none */
	uint32_t	recsize;
	uint32_t	cap;		/* usable records: indexes 1..cap */
	uint32_t	hmask;		/* hash heads - 1 (power of two) */
	uint32_t	used;
	uint32_t	free_head;
	uint32_t	hiwater;	/* highest index ever handed out */
};

/* Every record starts with these two words. */
struct rec_head {
	uint32_t	used;
	uint32_t	hnext;		/* hash chain; free list when unused */
};

/*
 * What a user holds of the shared tables, for the per-user quotas. Derived:
 * kept up to date by the changes below, so a replay of the journal
 * recomputes it and nothing of it is journaled.
 */
struct user_usage {
	uint32_t	shares;		/* seeder records */
	uint32_t	groups;		/* groups owned */
	uint32_t	requests;	/* pending join requests */
	uint32_t	sessions;	/* sessions open */
	uint64_t	hashes;		/* piece hashes of the files shared,
					 * once per share */
};

struct user_rec {
	struct rec_head	h;
	char		name[NAME_MAX_LEN + 1];
	struct pw_record pw;
	uint64_t	seq;		/* journal seq that created it */
	struct user_usage use;
	struct ipaddr	created_ip;	/* source address and */
	uint64_t	created;	/* unix time of create_user; 0: unknown */
};

/* An account creation, for the limit per source address and time. */
struct signup {
	struct ipaddr	ip;
	uint32_t	user;
	uint64_t	when;
};

struct group_rec {
	struct rec_head	h;
	char		name[NAME_MAX_LEN + 1];
	uint32_t	owner;		/* user index; always members.head's */
	struct link	all;		/* hdr->groups */
	struct list	members;	/* member_rec, oldest first */
	struct list	requests;	/* request_rec, oldest first */
	struct list	files;		/* file_rec */
	uint64_t	gen;		/* changes with every change to the group
					 * or to its files' seeders; unique over
					 * the region's life (hdr->gen_next) */
};

struct member_rec {			/* also used for join requests */
	struct rec_head	h;
	uint32_t	group, user;
	uint64_t	seq;
	struct link	glink;
};

struct session_rec {
	struct rec_head	h;
	char		token[TOKEN_LEN + 1];
	uint32_t	user;
	uint64_t	last_touch;	/* unix time; atomic access */
	uint64_t	journaled_touch; /* time in the last login/touch line */
	struct list	seeders;	/* seeder_rec via slink */
};

struct file_rec {
	struct rec_head	h;
	uint32_t	group;
	char		name[NAME_MAX_LEN + 1];
	uint64_t	size;
	uint8_t		sha1[SHA1_LEN];
	char		sha1_hex[SHA1_HEX_LEN];	/* the same, for replies */
	uint32_t	npieces;
	uint64_t	hash_off;	/* first piece hash in the arena */
	struct list	seeders;	/* seeder_rec via flink */
	struct link	glink;		/* group's files */
};

struct seeder_rec {
	struct rec_head	h;
	uint32_t	file, user, session;
	struct ipaddr	ip;
	uint16_t	port;		/* host order */
	uint8_t		partial;	/* a peerd still downloading it */
	struct link	flink;		/* file's seeders */
	struct link	slink;		/* session's seeders */
};

/*
 * The ids of the latest requests that changed something (reqid.c): a
 * request sent again with its id, to this tracker or another, is answered
 * without being applied twice. A ring, oldest overwritten first, with a
 * hash index; derived from the journal's "rid" prefixes, refilled on
 * replay. skipping: the changes of a request are being skipped, dup its
 * id: a request applied twice (etcd), or one whose first change did not
 * apply (its later changes rest on it). pending: the first change of the
 * request cur is being applied; its id is kept only if it applies.
 */
struct rid_table {
	uint64_t	total;				/* ids ever added */
	uint32_t	head[STATE_RID_BUCKETS];	/* slot + 1; 0: none */
	uint32_t	next[STATE_RIDS];		/* slot + 1; 0: none */
	uint8_t		id[STATE_RIDS][RID_LEN];
	uint8_t		dup[RID_LEN], cur[RID_LEN];
	uint32_t	skipping, pending;
};

/* A tracker's public key: [0] its newest, [1] the one before (tickets it
 * signed before a restart stay good until they expire). */
#define KEYS_PER_TRACKER	2
struct tracker_pubkey {
	uint32_t	used;
	uint8_t		keyid[8];
	uint8_t		pub[32];
};

struct state_hdr {
	uint64_t	magic;
	uint32_t	version;
	uint32_t	nbuckets;
	uint64_t	size;
	uint64_t	hash_seed;	/* random, keys every hash index */
	struct table_desc t[T_NTABLES];
	/*
	 * Piece hashes live in a bump-allocated arena: a deleted file's hashes
	 * are not reused until the region is rebuilt (restart, crash repair,
	 * or the compaction that rewrites the journal and rebuilds).
	 */
	uint64_t	arena_off;
	uint64_t	arena_cap;	/* in hashes */
	uint64_t	arena_used;
	struct list	groups;		/* every group, creation order */
	/* Generations of groups (under meta; never reset, so a group rebuilt
	 * or created at a reused index never shows an old generation). */
	uint64_t	gen_next;
	/* Latest time a cached list counted seeders active or lapsed: a
	 * session lapsed before it that comes back changes those lists. */
	uint64_t	activity_seen;

	pthread_mutex_t	meta;
	pthread_mutex_t	bucket[STATE_NBUCKETS];
	uint32_t	dirty;		/* rebuild before use (under meta) */
	int32_t		meta_owner;	/* pid holding meta, for the log */
	int32_t		bucket_owner[STATE_NBUCKETS];
	int32_t		repair_pid;	/* pid whose death caused the last
					 * repair, for the log */

	/* Journal position of this region (under meta). */
	uint64_t	last_seq;	/* highest seq applied */
	uint64_t	applied_off;	/* bytes of the journal applied */
	uint64_t	journal_dev, journal_ino; /* the file applied_off is in */
	uint64_t	file_lines;	/* lines in that file */
	/* Group commit (atomic, no lock). */
	uint64_t	written_seq;	/* highest seq this tracker wrote */
	uint64_t	durable_seq;	/* highest seq known fdatasync'ed */
	uint64_t	rebuilds;	/* count of crash repairs, for tests */
	/* Changes cut from the journal after a failed fdatasync (atomic):
	 * their held replies become refusals. Seqs are never reused. */
	uint64_t	dropped_lo, dropped_hi;
	char		journal_path[PATH_MAX];	/* absolute */

	/* etcd backend (written under meta, read atomically). */
	int64_t		applied_rev;	/* every change up to it is applied */
	uint32_t	applied_gen;	/* futex word: bumped at each apply */
	uint32_t	pad_;
	int64_t		snap_rev;	/* the snapshot the region started from */
	uint64_t	since_snap;	/* changes applied after it */
	/* Changes etcd committed that did not apply here (a table full by
	 * the time their turn came: two trackers validated against the
	 * same free slot), the latest STATE_FAILED kept: a request waiting
	 * for its change finds it here and is validated again instead of
	 * being answered OK. Under meta; read by the waiter without it. */
	struct failed_apply {
		int64_t		rev;
		uint64_t	hash;	/* of the change body */
	}		failed[STATE_FAILED];
	uint32_t	failed_next;
	/* The latest account creations, oldest overwritten first (under
	 * meta; derived from the journal's user lines, refilled on replay). */
	uint64_t	signups_total;
	struct signup	signup[STATE_SIGNUPS];

	/* Trackers' ticket-signing public keys (keys.c), under meta. */
	struct tracker_pubkey keys[MAX_TRACKERS][KEYS_PER_TRACKER];
	/* Request ids applied lately (reqid.c), under meta. */
	struct rid_table rids;
};

struct listcache;

/* One process's handle on the region and on the journal. */
struct tracker {
	struct tracker_config cfg;
	struct state_hdr *hdr;
	size_t		 maplen;
	int		 master;	/* created (not attached) the region */
	int32_t		 pid;		/* getpid() at create/attach */
	int		 jfd;		/* journal, O_RDWR|O_APPEND */
	uint64_t	 jfd_dev, jfd_ino; /* jfd's file, 0 until known */
	int		 sync_fd;	/* journal, used by journal_sync only */
	pthread_mutex_t	 sync_mu;	/* journal_sync may run on two threads */
	int		 watch_fd;	/* inotify, master only */
	int		 buckets_held;	/* rebuild holds every bucket */
	int		 meta_held;	/* this process holds meta */
	uint64_t	 last_sync;	/* everysec: time of the last sync */
	uint64_t	 watched_ino;	/* journal inode watch_fd watches */
	char		 err[256];	/* last internal error, for replies */
	/* Set by the region's owner (the journal code): rebuild the region
	 * from the history, called with meta and every bucket held; 0 or
	 * -1. Without it a dirty region cannot be repaired. */
	int		(*rebuild)(struct tracker *);
	/* The file journal's end, shared by every tracker on it through a
	 * small mapped file beside it: the highest seq written (journal.c). */
	uint64_t	*jend;
	/* The etcd backend of this process, NULL for the file journal. */
	struct jetcd	*etcd;
	struct listcache *lcache;	/* this process's ready list_files
					 * replies (listcache.c) */
};

/* Region lifetime (state.c). */
size_t	state_region_size(const struct tracker_config *);
int	state_map(struct tracker *, int create, char *err, size_t errlen);
void	state_unmap(struct tracker *);
void	state_reset_locked(struct tracker *);

/* Locks. state_lock_meta repairs (rebuilds from the journal) when the
 * previous owner died or the region is dirty; -1 if the repair failed. */
int	state_lock_meta(struct tracker *);
void	state_unlock_meta(struct tracker *);
/* The same repair without waiting: does nothing while a live process
 * holds meta (the master uses it when a worker dies). */
int	state_repair(struct tracker *);
void	state_lock_bucket(struct tracker *, uint32_t b);
void	state_unlock_bucket(struct tracker *, uint32_t b);
void	state_lock_all_buckets(struct tracker *);
void	state_unlock_all_buckets(struct tracker *);

/* Record access. */
void	*state_rec(struct tracker *, enum table_id, uint32_t idx);
#define USER(t, i)	((struct user_rec *)state_rec((t), T_USER, (i)))
#define GROUP(t, i)	((struct group_rec *)state_rec((t), T_GROUP, (i)))
#define MEMBER(t, i)	((struct member_rec *)state_rec((t), T_MEMBER, (i)))
#define REQUEST(t, i)	((struct member_rec *)state_rec((t), T_REQUEST, (i)))
#define SESSION(t, i)	((struct session_rec *)state_rec((t), T_SESSION, (i)))
#define FILEREC(t, i)	((struct file_rec *)state_rec((t), T_FILE, (i)))
#define SEEDER(t, i)	((struct seeder_rec *)state_rec((t), T_SEEDER, (i)))
uint32_t state_free_count(struct tracker *, enum table_id);
uint8_t	*state_piece_hash(struct tracker *, uint64_t hash_off, uint32_t i);
uint32_t state_file_bucket(struct tracker *, uint32_t group, const char *name);

/* Lookups (meta held; files: meta or the file's bucket held). 0 if none. */
uint32_t state_find_user_locked(struct tracker *, const char *name);
uint32_t state_find_group_locked(struct tracker *, const char *name);
uint32_t state_find_member_locked(struct tracker *, uint32_t g, uint32_t u);
uint32_t state_find_request_locked(struct tracker *, uint32_t g, uint32_t u);
uint32_t state_find_session_locked(struct tracker *, const char *token);
uint32_t state_find_file_locked(struct tracker *, uint32_t g,
	    const char *name);
uint32_t state_find_seeder_locked(struct tracker *, uint32_t f,
	    const struct ipaddr *ip, uint16_t port);
/* 1 if the seeder's session touched within the lease. */
int	state_seeder_active(struct tracker *, uint32_t s, uint64_t now);
uint32_t state_file_active_seeders(struct tracker *, uint32_t f,
	    uint64_t now);
/* The same count; *until is lowered to the last second at which every
 * seeder counted is still active. */
uint32_t state_file_active_until(struct tracker *, uint32_t f, uint64_t now,
	    uint64_t *until);
/* Extend session si's lease to when (meta held). A session that had
 * lapsed before activity_seen changes the generation of its seeders'
 * groups, since a cached list counted it out. */
void	state_session_touch_locked(struct tracker *, uint32_t si,
	    uint64_t when);

/*
 * Changes (meta held; they take the buckets they need). Each returns 0,
 * or -1 and changes nothing (a full table, a missing record): callers
 * validate first, so -1 means a journal line that does not fit.
 */
int	state_add_user_locked(struct tracker *, const char *name,
	    const struct pw_record *, uint64_t seq);
int	state_add_session_locked(struct tracker *, const char *user,
	    const char *token, uint64_t when);
int	state_del_session_locked(struct tracker *, const char *token);
int	state_touch_session_locked(struct tracker *, const char *token,
	    uint64_t when, int journaled);
int	state_add_group_locked(struct tracker *, const char *name,
	    const char *owner, uint64_t seq);
int	state_add_request_locked(struct tracker *, const char *group,
	    const char *user, uint64_t seq);
int	state_del_request_locked(struct tracker *, const char *group,
	    const char *user);
int	state_add_member_locked(struct tracker *, const char *group,
	    const char *user, uint64_t seq, int from_request);
int	state_leave_locked(struct tracker *, const char *group,
	    const char *user);
/* A new file always comes with its first seeder. */
int	state_add_file_locked(struct tracker *, const char *group,
	    const char *name, uint64_t size, const uint8_t sha1[SHA1_LEN],
	    uint32_t npieces, const uint8_t (*hashes)[SHA1_LEN],
	    const struct ipaddr *ip, uint16_t port, const char *token);
/* A seeder added (or its session and partial flag updated). */
int	state_add_seeder_locked(struct tracker *, const char *group,
	    const char *name, const struct ipaddr *ip, uint16_t port,
	    const char *token, int partial);
int	state_del_seeder_locked(struct tracker *, const char *group,
	    const char *name, const struct ipaddr *ip, uint16_t port);

/* Record where and when user name was created (after its
 * state_add_user_locked; the journal's user line carries them). */
int	state_note_signup_locked(struct tracker *, const char *name,
	    const struct ipaddr *ip, uint64_t when);
/* Accounts created from ip at or after since. */
uint32_t state_signups_since_locked(struct tracker *,
	    const struct ipaddr *ip, uint64_t since);

/* Request ids (reqid.c), meta held. reqid_parse: 32 hex digits, 0 or
 * -1. reqid_seen_locked: 1 if id was applied lately. reqid_apply_locked:
 * the "rid <id> <k>" prefix of a change body (argv at "rid"): 1 if the
 * change is one of a request applied before (skip it), else 0 with *argv
 * and *argc past the prefix; -1 malformed. reqid_done_locked: after the
 * change, its result rc (0 applied): the id of a first change (k 0) is
 * kept only if it applied, else the request's later changes are skipped.
 * reqid_dump_locked: each id kept, oldest first, as "rid <id> 0". */
int	reqid_parse(const char *hex, uint8_t id[RID_LEN]);
int	reqid_seen_locked(struct tracker *, const uint8_t id[RID_LEN]);
int	reqid_apply_locked(struct tracker *, char ***argv, int *argc);
void	reqid_done_locked(struct tracker *, int rc);
int	reqid_dump_locked(struct tracker *,
	    int (*emit)(void *, const char *body, size_t len), void *arg);

/* Live records and request ids: the lines of a compacted journal, for
 * compaction heuristics. */
uint64_t state_live_count(struct tracker *);

#endif
