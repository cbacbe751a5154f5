/* What peerd's modules offer each other: the daemon's settings, shares
 * (store.c), the tracker client (tracker.c, tproto.h), announcing
 * (announce.c), downloads (download.c), the piece server (serve.c, offer.h) and the
 * control socket (control.c). */
#ifndef PEERD_PEERD_H
#define PEERD_PEERD_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/names.h"
#include "ipc/net.h"
#include "ipc/proto.h"
#include "ipc/ticket.h"
#include "ipc/tls.h"
#include "peerd/tproto.h"

struct peerd_config {
	struct endpoint	 self;			/* IP:PORT listened on */
	struct ipaddr	 advertise;		/* -a: told to the tracker */
	int		 advertise_set;
	struct endpoint	 trackers[MAX_TRACKERS];
	int		 ntrackers;
	char		 socket_path[PATH_MAX];	/* -S */
	char		 state_dir[PATH_MAX];	/* -d */
	const char	*pidfile;		/* -p */
	int		 foreground;		/* -f */
	int		 verbose;		/* -v */
	int		 max_active;		/* -Q: downloads at once (0: any) */
	uint64_t	 upload_rate;		/* -U: bytes/s (0: unlimited) */
	uint64_t	 download_rate;		/* -D */
	/* -g: answer the seed client's GET_PIECE, which proves nothing:
	 * anyone who knows a shared file's name can fetch it */
	int		 serve_get_piece;
	/* TLS to trackers marked so: -C CA file, else -P pinned key */
	const char	*tls_ca;
	int		 tls_pinned;
	uint8_t		 tls_pin[TLS_PIN_LEN];
};
extern struct peerd_config conf;

/* ---- store.c: shares that survive a restart (state_dir/shares) ---- */

struct share {
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 path[PATH_MAX];	/* absolute */
	uint64_t	 size;
	int64_t		 mtime_ns;		/* of the file when hashed */
	uint8_t		 sha1[SHA1_LEN];
	uint32_t	 npieces;
	uint8_t		(*piece_sha1)[SHA1_LEN];
	int		 fd;			/* O_RDONLY for sendfile, or -1 */
	/* registered with the tracker in this session (announce.c) */
	int		 announced;
	/* who shared it ("": not known, announced for any user) */
	char		 user[NAME_MAX_LEN + 1];
	int		 stale;			/* changed on disk: withdrawn */
	uint64_t	 uploaded;		/* bytes sent to peers */
	uint64_t	 peers_served;		/* connections that got bytes */
	struct share	*next;
};

int		 store_init(void);		/* load state_dir/shares */
/* Called once when a share's file is found changed on disk (it is no
 * longer served); peerd.c wires it. */
void		 store_on_changed(void (*fn)(struct share *));
struct share	*store_shares(void);		/* list head */
/* Add or replace (same group+name) and persist; takes ownership of the
 * piece hash array. Returns the share or NULL. */
struct share	*store_add_share(const struct share *);
int		 store_remove_share(const char *group, const char *name);
struct share	*store_find_share(const char *group, const char *name);
/* Lookups for the piece server: by whole-file SHA-1 in group (NULL: any),
 * or by name (the seed client's GET_PIECE; NULL when the name is shared
 * in two groups with different contents). Both check the file has not
 * changed on disk (size, mtime) and return NULL (after logging) if it has. */
struct share	*store_share_by_hash(const uint8_t sha1[SHA1_LEN],
		    const char *group);
struct share	*store_share_by_name(const char *name);
/* Count bytes sent of a share (by hash, or by name when sha1 is NULL);
 * first: a new peer. store_save_stats keeps the counters in
 * state_dir/share_stats (at shutdown); store_init reads them back. */
void		 store_count_upload(const uint8_t *sha1, const char *name,
		    uint64_t bytes, int first);
void		 store_save_stats(void);
/* 1 if the share's file no longer matches (size, mtime) or is gone. */
int		 store_share_changed(struct share *);

/* ---- tracker.c: one persistent tracker connection with failover ---- */

/*
 * Reply callback: the reply parsed once (tproto.h): OK, ERR with its
 * reason and text, or NONE if no tracker could be reached within the
 * bounded wait. r and what it points to live for the call only.
 */
typedef void	tracker_cb(void *arg, const struct treply *r);

int		 tracker_init(void);
/* Queue a request line (no "\n"). Sent with the session prefix when
 * logged in; retried on the next tracker if the connection breaks. */
int		 tracker_send(const char *line, tracker_cb *, void *arg);
int		 tracker_logged_in(void);
/* The local address of the last tracker connection; -1 if none yet. */
int		 tracker_local_addr(struct ipaddr *);
const char	*tracker_user(void);
/* login/logout: like tracker_send, and they keep (or drop) the session
 * and the credentials (in memory only) used to log in again on failover. */
int		 tracker_login(const char *user, const char *password,
		    tracker_cb *, void *arg);
int		 tracker_logout(tracker_cb *, void *arg);
void		 tracker_shutdown(void);
/* Called when a session begins (login, a login again after failover, a
 * saved session the tracker still knows); peerd.c wires it. */
void		 tracker_on_session(void (*fn)(void));

/* ---- download.c: background verified multi-seeder downloads ---- */

enum dl_state { DL_RUNNING, DL_COMPLETE, DL_FAILED, DL_PAUSED, DL_QUEUED };

struct dl_info {			/* a snapshot for show_downloads / wait */
	enum dl_state	 state;
	int		 stalled;		/* running, no progress: error says why */
	uint32_t	 seeders;		/* connections delivering */
	uint64_t	 finished_at;		/* seconds since the epoch */
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 dest[PATH_MAX];	/* DEST_DIR/FILE */
	uint64_t	 bytes_done, bytes_total;
	uint32_t	 pieces_done, pieces_total;
	uint64_t	 bytes_per_second;
	char		 error[256];		/* when failed */
};

enum dl_start {
	DL_STARTED,
	DL_REFUSED,		/* err says why */
	DL_NO_TRACKER		/* no tracker could be asked */
};
typedef void	dl_start_cb(void *arg, enum dl_start, const char *err);
typedef void	dl_done_cb(void *arg, const struct dl_info *);

int		 download_init(void);		/* resume unfinished downloads */
/* Ask the tracker for FILE and start the download; cb reports whether it
 * started (err: a one-line reason, e.g. the tracker's refusal). */
void		 download_start(const char *group, const char *name,
		    const char *destdir, dl_start_cb *, void *arg);
/* Call fn for each download, in start order. */
void		 download_foreach(void (*fn)(void *arg, const struct dl_info *),
		    void *arg);
/* Notify cb once when group/name completes or fails (at once if it has);
 * returns -1 if there is no such download. */
int		 download_wait(const char *group, const char *name,
		    dl_done_cb *, void *arg);
/* Forget the waits registered with cb and arg (their client is gone);
 * returns how many there were. */
int		 download_unwait(dl_done_cb *, void *arg);
void		 download_shutdown(void);	/* persist progress */
/*
 * Control of one download; 0, or -1 with a one-line reason in err.
 * cancel stops it and deletes FILE.part and its resume state (keep: both
 * stay, and download_file later resumes from them); a finished or failed
 * one is dropped from the list. pause closes its connections and keeps
 * its pieces, across restarts too; resume queues it again (a failed one
 * too).
 */
int		 download_cancel(const char *group, const char *name, int keep,
		    char *err, size_t errlen);
int		 download_pause(const char *group, const char *name,
		    char *err, size_t errlen);
int		 download_resume(const char *group, const char *name,
		    char *err, size_t errlen);
/* A snapshot of one download; -1 if there is none. */
int		 download_get(const char *group, const char *name,
		    struct dl_info *);
/* Forget finished downloads (failed ones keep their progress: cancel
 * them to drop it); returns how many went. */
int		 download_clear_history(void);
/* conf.max_active changed: start what the queue allows. */
void		 download_queue_changed(void);
/* The session ended (logout): pause every download; the next session
 * resumes the ones paused this way. */
void		 download_pause_all(void);
/* The user left group: its downloads stop (progress kept). */
void		 download_stop_group(const char *group);
/* Re-register as seeder of partially downloaded files (after login). */
void		 download_announce(void);

/* ---- serve.c: the piece server on conf.self ---- */

int		 serve_init(void);
/* Tell connected downloaders that piece i of sha1 became available (the
 * offer table's hook, wired by peerd.c). */
void		 serve_have(const uint8_t sha1[SHA1_LEN], uint32_t i);
/* Bytes of a file sent to a peer (sha1, or NULL and the name for the
 * seed client's GET_PIECE); first: the first bytes this connection got.
 * peerd.c wires it to the store's counters. */
typedef void	serve_upload_fn(const uint8_t *sha1, const char *name,
		    uint64_t bytes, int first);
void		 serve_on_upload(serve_upload_fn *);
void		 serve_shutdown(void);

/* ---- keyring.c: the trackers' public keys, to check tickets ---- */

/* Ask the tracker for its keys again (at most once per KEYRING_MIN_MS). */
void		 keyring_refresh(void);
/* Check a ticket shown in a HELLO for sha1: signature by a known key, not
 * expired, this file. t gets the decoded ticket (its group, to find the
 * share in). An unknown key asks the tracker for its keys. */
enum ticket_verdict keyring_check(const uint8_t *p, size_t n,
		    const uint8_t sha1[SHA1_LEN], struct ticket *t);

/* ---- hashing off the loop (hash.c) ---- */

struct hash_result {
	int		 error;			/* 0 or errno */
	uint64_t	 size;
	int64_t		 mtime_ns;
	uint8_t		 sha1[SHA1_LEN];
	uint32_t	 npieces;
	uint8_t		(*piece_sha1)[SHA1_LEN];	/* malloc'd */
};
typedef void	hash_cb(void *arg, struct hash_result *);
/* Hash path on a helper thread; cb runs on the loop thread and owns the
 * result (free its piece_sha1, then the struct). */
int		 hash_file_async(const char *path, hash_cb *, void *arg);

/* ---- control.c: the Unix socket sharectl talks to ---- */

int		 control_init(void);	/* refuses a live socket */
void		 control_shutdown(void);	/* unlink the socket */

/* ---- announce.c: what the tracker has been told of our shares ---- */

/* A session began (login, or a new login after failover): announce our
 * shares again. */
void		 announce_session_started(void);
/* s was registered with the tracker in this session. */
void		 announce_registered(struct share *s);
void		 announce_completed(struct share *s);
void		 announce_logged_out(void);
/* The store's hook: s changed on disk; withdraw it from the tracker. */
void		 announce_changed(struct share *s);
/* The address other peers reach us at, as told to the tracker: -a, else
 * the listening address, or when that is 0.0.0.0 the local address of the
 * tracker connection (which the tracker checks against). */
const struct endpoint *peer_advertised(void);

#endif
