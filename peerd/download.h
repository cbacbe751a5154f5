/* The download engine's own header: a download (download.c), its
 * connections to seeders (seeder.c) and its piece checks (verify.c). */
#ifndef PEERD_DOWNLOAD_H
#define PEERD_DOWNLOAD_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/sha.h>

#include "ipc/net.h"
#include "peerd/peerd.h"
#include "peerd/resume.h"
#include "peerd/sched.h"
#include "peerd/sha1mb.h"
#include "peerd/sha1ni.h"
#include "peerd/wire.h"

#define DL_MAX_KNOWN	64		/* seeders remembered per download */
#define DL_MAX_PEERS	8		/* connections per download */
#define DL_DEPTH	12		/* requests in flight per connection */
#define DL_GP_CONNS	2		/* GET_PIECE connections per seed client */
#define DL_CONNECT_MS	5000
#define DL_STALL_MS	8000		/* no byte while requests are out */
#define DL_TICK_MS	500
#define DL_REFRESH_MS	10000
#define DL_SAVE_MS	200
#define DL_STALLED_MS	20000		/* no verified piece: "stalled" */
#define DL_NO_SEEDER_MS	20000		/* every seeder bad this long: failed */
#define DL_PIECE_MS	30000		/* one piece's bytes (drips are cut) */
#define DL_BACKOFF_MAX_MS 60000		/* retry delay after failures, at most */
#define DL_MAX_FAILS	5		/* failed connections before a ban */
#define DL_BAN_MS	300000
#define DL_MAX_BAD	3		/* bad pieces before a seeder is dropped */
#define DL_BAD_KEPT	8		/* failed pieces named in the reason */
#define DL_RETRY_MS	3000
#define DL_OUT_MAX	(WIRE_MAX_MSG + 4096)	/* our BITFIELD fits */
#define DL_HASHERS	2		/* piece hashing threads (one hashes
					 * while the other writes) */
#define DL_BATCH_MS	5		/* a hasher waits for a full batch */
#define DL_PARK		12		/* pieces waiting for the digest */
/* With the SHA instructions the digest checks the pieces it is about to
 * reach itself (verify.c): the hashers leave it those of the next
 * DL_SHARE_AHEAD for DL_SHARE_MS, while no more than DL_SHARE_QUEUE wait. */
#define DL_SHARE_QUEUE	20
#define DL_SHARE_AHEAD	(2 * DL_SHARE_QUEUE)
#define DL_SHARE_MS	50
/* Piece buffers: whatever is parked and queued, the connections still
 * have theirs, so that the piece the digest waits for can come in. */
#define DL_POOL		(DL_MAX_PEERS + DL_PARK + DL_SHARE_QUEUE)
#define PIECE_ALIGN	4096		/* of piece buffers (O_DIRECT) */

struct dl;

/*
 * The lifecycle of a download; every change goes through dl_enter(),
 * which keeps the state the control socket shows (enum dl_state) in step.
 * FETCHING -> FINISHING -> COMPLETE, and any of the first two -> FAILED.
 */
enum dl_phase {
	DLP_FETCHING,		/* seeders asked, pieces verified as they come */
	DLP_FINISHING,		/* every piece in: whole-file check, rename */
	DLP_COMPLETE,		/* in place and a share */
	DLP_FAILED,		/* stopped; info.error says why */
	DLP_QUEUED,		/* waits for a slot (conf.max_active) */
	DLP_PAUSED		/* by the user, or by logout (auto_paused) */
};

struct known {
	struct endpoint	 ep;
	int		 fallback;	/* speaks only GET_PIECE */
	int		 banned;	/* sent bad data or failed repeatedly */
	int		 bad;
	int		 fails;		/* connections failed in a row */
	uint64_t	 ban_until;	/* 0: for good (bad data) */
	int		 nconn;
	uint64_t	 retry_at;
};

enum pstate {
	P_CONNECTING, P_MAGIC, P_HDR, P_PAYLOAD, P_PIECE, P_WAITBUF, P_GP
};

/* A received piece on its way through the hashing thread. */
struct pbuf {
	struct dl	*dl;
	struct known	*k;		/* who sent it */
	uint32_t	 idx, len;
	int		 ok;		/* 1 verified and stored, 0 bad, -1 write
					 * error (errno in err) */
	int		 checked;	/* verified by the digest: to store */
	uint64_t	 queued;	/* mono_ms() when queued for a check */
	int		 err;
	uint32_t	 run;		/* the dl's run it was queued in */
	uint8_t		*data;		/* PIECE_SIZE bytes */
	struct pbuf	*next;
};

struct preq {
	uint32_t	 idx;
	int		 cancelled;
};

struct session {
	struct dl	*dl;
	struct known	*k;
	int		 fd;
	enum pstate	 st;
	uint64_t	 since, last;
	uint64_t	 piece_since;	/* the current piece's first byte */
	uint64_t	 rl_timer;	/* rate limit: reading resumes then */
	uint8_t		*has, *req;
	int		 counted;	/* has is in the scheduler's counts */
	uint8_t		 out[DL_OUT_MAX];
	size_t		 outlen;
	uint8_t		 hdr[WIRE_MAGIC_LEN + WIRE_HDR_LEN];
	size_t		 hgot;
	uint8_t		*pay;
	size_t		 paygot;
	struct wire_msg	 msg;
	uint8_t		*piece;		/* GET_PIECE fallback only */
	struct pbuf	*cur;		/* piece being received */
	int		 cur_live;	/* its request was not cancelled */
	uint32_t	 pidx, plen, pgot;
	struct preq	 q[DL_DEPTH];
	unsigned	 qn;
	struct session	*next;
};

struct waiter {
	dl_done_cb	*cb;
	void		*arg;
	struct waiter	*next;
};

/* The whole-file SHA-1, computed by a helper thread in piece order from
 * the received buffers (parked until their turn), else from the file. */
struct whole {
	pthread_t	 thr;
	int		 started;
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	uint32_t	 ready;		/* pieces verified from the front */
	struct sha1_stream ctx;		/* fed pieces 0..next-1 */
	uint32_t	 next;		/* hashers read it unlocked */
	int		 shared;	/* it takes unchecked pieces from the
					 * hashers' queue (and they may read it
					 * unlocked) */
	struct pbuf	*parked;	/* verified, ahead of next, in memory */
	int		 nparked;
	void		(*done)(void *);	/* on the loop: a parked buffer back */
	uint32_t	 hot;		/* pieces fed from memory, not re-read */
	uint32_t	 cached;	/* re-read from the page cache */
	int		 stop;
	int		 result;	/* 1 match, 0 mismatch, -1 I/O error */
	pthread_cond_t	 lagcond;	/* hashers wait for the digest */
	int		 lagwait;	/* hashers waiting */
	int		 nolag;		/* ... or do not (it ended, they stop) */
};

/* The download's ticket (dlticket.c): shown to seeders in HELLO. */
struct dl_ticket {
	uint8_t		 bin[TICKET_MAX_BIN];
	size_t		 len;		/* 0: none yet */
	uint64_t	 expires;	/* unix time */
	int		 asking;
	int		 refused;	/* the tracker gave none: go without */
	uint64_t	 asked_ms;
};

struct dl {
	struct dl_info	 info;
	struct dl_ticket tk;
	struct resume_meta meta;
	char		 part[PATH_MAX];
	char		 state_meta[PATH_MAX], state_have[PATH_MAX];
	int		 fd;
	int		 dfd;		/* the same, O_DIRECT, or -1 */
	struct sched	 s;
	struct known	 known[DL_MAX_KNOWN];
	int		 nknown;
	uint32_t	 bad[DL_BAD_KEPT];	/* pieces that failed their hash */
	int		 nbad;
	struct session	*peers;
	int		 npeers;
	struct waiter	*waiters;
	struct whole	 w;
	/* Pieces are hashed and stored off the loop by DL_HASHERS threads. */
	struct pbuf	*pool;		/* idle buffers */
	int		 npool;		/* buffers allocated */
	pthread_t	 ph_thr[DL_HASHERS];
	int		 ph_started, ph_stop;	/* threads running */
	pthread_mutex_t	 ph_mtx;
	pthread_cond_t	 ph_cond;
	struct pbuf	*ph_head, *ph_tail;
	unsigned	 ph_n;		/* pieces queued */
	int		 ph_lanes;	/* sha1mb_lanes(): 1, no batches */
	void		(*ph_done)(void *);	/* on the loop, per piece */
	enum dl_phase	 phase;
	uint32_t	 run;		/* runs started (pause and resume) */
	char		 state_file[PATH_MAX];
	uint64_t	 seq;		/* start order (queue) */
	int		 auto_paused;	/* by logout: the next login resumes */
	uint64_t	 last_progress;	/* a piece verified */
	char		 last_why[160];	/* the last seeder's failure */
	int		 announced, announcing;
	int		 dirty;
	int		 refreshing;
	int		 tracker_ok;	/* last refresh got an answer */
	uint64_t	 last_refresh, last_save, last_live;
	uint64_t	 rate_at, rate_bytes;
	uint64_t	 started_ms;	/* this run, for the log */
	uint64_t	 started_bytes;	/* bytes_done when this run began */
	uint64_t	 tick;
	int		 refs;		/* tracker callbacks outstanding */
	int		 zombie;	/* unlinked; freed when refs drops to 0 */
	struct dl	*next;
};

/* ---- download.c: the registry and the lifecycle of a download ---- */

/* A verified piece: store it, offer it, record it. -1 if the download
 * ended (finished or failed). */
int	dl_piece_verified(struct dl *, uint32_t, const uint8_t *, uint32_t);
/* Open connections to known seeders we are not connected to. */
void	dl_connect_more(struct dl *);
/* A peer of the file heard of through another one (peer exchange). */
void	dl_learn_peer(struct dl *, const struct endpoint *);
/* A tracker callback for d returned: 1 if d is gone (do nothing more). */
int	dl_unref(struct dl *);

/* ---- seeder.c: one connection to a seeder (the mirror of serve.c) ---- */

void	seeder_connect(struct dl *, struct known *);
/* Close the connection, giving its requests back; why (may be NULL) is
 * logged. */
void	seeder_drop(struct session *, const char *why);
/* Tell every connection's seeder we have piece idx now. */
void	seeder_have(struct dl *, uint32_t idx);
/* Timeouts of every connection of d, and requests topped up. */
void	seeder_check_all(struct dl *);
/* Piece idx arrived from from (NULL: verified): cancel it elsewhere. */
void	seeder_cancel_elsewhere(struct dl *, struct session *from, uint32_t);
/* Piece idx from k failed its hash: ask someone else; drop k when it
 * keeps doing that. */
void	seeder_piece_bad(struct dl *, struct known *, uint32_t);
/* When every known seeder was dropped for bad data: 1 and why in out
 * ("pieces 12, 40 failed verification from every seeder"); else 0. */
int	seeder_all_bad(const struct dl *, char *out, size_t outlen);
/* A piece buffer is free again: a connection waiting for one goes on. */
void	seeder_buffer_release(struct dl *, struct pbuf *);

/* ---- dlticket.c: the download's ticket, fetched and renewed ---- */

/* Ask the tracker for a ticket when none is held or it expires soon. */
void	dlticket_tick(struct dl *);
/* 1 when seeders may be asked: a ticket is held (or the tracker gives
 * none, for seed-client seeders that need none). */
int	dlticket_ready(const struct dl *);
/* A seeder refused the ticket: ask for a new one (rate-limited). */
void	dlticket_refused(struct dl *);

/* ---- verify.c: piece and whole-file SHA-1, their threads and buffers ---- */

int	verify_piece(const struct dl *, uint32_t, const uint8_t *, uint32_t);
/* Write a verified piece at its place in the .part file. 0, or -1. */
int	verify_store(struct dl *, uint32_t, const uint8_t *, uint32_t);
/* An empty file still has a whole-file SHA-1 to check: 1 if it matches. */
int	verify_empty(const struct dl *);
/* done runs on the loop for each buffer parked, once digested. */
int	verify_whole_start(struct dl *, void (*done)(void *));
/* A verified piece's buffer, before it is recorded: 1 if the digest
 * keeps it (until done), 0 if it is the caller's still. A buffer it gives
 * up for it is put in *evicted, for the caller to release. */
int	verify_whole_park(struct dl *, struct pbuf *, struct pbuf **evicted);
void	verify_whole_advance(struct dl *);	/* the verified prefix grew */
/* Pieces not yet fed to the whole-file digest. */
uint32_t verify_whole_left(struct dl *);
/* Stop (or, when all pieces are ready, finish) the whole-file thread:
 * 1 match, 0 mismatch, -1 error. */
int	verify_whole_join(struct dl *, int stop);
struct pbuf *verify_buf_get(struct dl *);
void	verify_buf_put(struct dl *, struct pbuf *);
void	verify_buf_free(struct pbuf *);
/* The piece hashing thread, which also stores the pieces that verify:
 * done runs on the loop thread for each piece queued, with its pbuf (ok
 * set). */
int	verify_hasher_start(struct dl *, void (*done)(void *));
void	verify_hasher_queue(struct dl *, struct pbuf *);
void	verify_hasher_stop(struct dl *);	/* also frees the buffers */

#endif
