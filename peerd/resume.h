/* The files that let a download survive a restart, in state_dir/downloads:
 * GROUP@FILE.meta (what is fetched, where, and the tracker's hashes; written
 * once), GROUP@FILE.have (the verified pieces; rewritten as pieces arrive),
 * GROUP@FILE.state (running, paused, failed or cancelled-but-kept, and the
 * start order); and state_dir/history (finished and failed downloads).
 * Format and parse only: pure, unit-tested. */
#ifndef PEERD_RESUME_H
#define PEERD_RESUME_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/names.h"
#include "ipc/net.h"
#include "ipc/proto.h"

struct resume_meta {
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 dest[PATH_MAX];	/* absolute DEST_DIR/FILE */
	uint64_t	 size;
	uint8_t		 sha1[SHA1_LEN];
	uint32_t	 npieces;
	uint8_t		(*piece_sha1)[SHA1_LEN];	/* malloc'd by parse */
};

/* Append the text form to out; 0 or -1. */
int	resume_meta_format(const struct resume_meta *, struct buf *out);
/* Parse text (NUL-terminated, modified in place). On success fills m
 * (piece_sha1 malloc'd, owned by the caller) and returns 0; -1 on any
 * malformed, inconsistent or truncated input. */
int	resume_meta_parse(char *text, struct resume_meta *m);
int	resume_have_format(const uint8_t *bits, uint32_t n, struct buf *out);
/* Fills bits (bf_bytes(n)) from text made for n pieces; 0 or -1. */
int	resume_have_parse(const char *text, uint32_t n, uint8_t *bits);

enum resume_status {
	RS_RUNNING,		/* fetching or queued */
	RS_PAUSED,
	RS_FAILED,
	RS_KEPT			/* cancelled, progress kept for a later start */
};

struct resume_state {
	enum resume_status status;
	uint64_t	 seq;		/* start order, for the queue */
	char		 reason[256];	/* when failed: one line */
};

int	resume_state_format(const struct resume_state *, struct buf *out);
int	resume_state_parse(char *text, struct resume_state *);

/* One finished or failed download remembered across restarts. */
struct history_entry {
	int		 failed;
	char		 group[NAME_MAX_LEN + 1];
	char		 name[NAME_MAX_LEN + 1];
	char		 dest[PATH_MAX];
	uint64_t	 size;
	uint64_t	 when;		/* seconds since the epoch */
	char		 reason[256];
};

int	history_format(const struct history_entry *, struct buf *out);
/* Parse one line (no '\n'), modified in place; 0 or -1. */
int	history_parse(char *line, struct history_entry *);

#endif
