/* The tracker protocol on peerd's side, pure: every request line peerd
 * sends is formatted here and every reply is parsed here, once. */
#ifndef PEERD_TPROTO_H
#define PEERD_TPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/net.h"
#include "ipc/proto.h"
#include "ipc/ticket.h"

enum treply_kind {
	TREPLY_OK,		/* "OK ..." */
	TREPLY_ERR,		/* "ERR <reason> <text>", or anything not OK */
	TREPLY_NONE		/* no tracker answered in time */
};

/* A reply, typed. The pointers point into the reply text. */
struct treply {
	enum treply_kind kind;
	char		 reason[64];	/* ERR: the reason word, or "" */
	char		 text[901];	/* ERR: the text after it, or "" */
	const char	*ok;		/* OK: everything after "OK" (all lines) */
	size_t		 oklen;
};

/* What download_file answers. */
struct tfile {
	uint64_t	 size;
	uint8_t		 sha1[SHA1_LEN];
	uint32_t	 npieces;
	uint8_t		(*piece_sha1)[SHA1_LEN];	/* malloc'd */
};

/* Parse reply (len bytes, the lines before END_OF_REPLY) into r. */
void	tproto_parse(const char *reply, size_t len, struct treply *r);
/* r for "no tracker reachable". */
void	tproto_none(struct treply *r);
int	tproto_is(const struct treply *r, const char *reason);
/* The refusal for the user: the text, else the reason word. */
const char *tproto_message(const struct treply *r);
/* "OK login_success <token>": the token (at most toklen - 1); 0 or -1. */
int	tproto_login_token(const struct treply *r, char *tok, size_t toklen);
/* List answers ("OK <count>" then one line per row): fn for each row's
 * words (at most maxw; more are left joined in the last). */
int	tproto_rows(const struct treply *r, int maxw,
	    void (*fn)(void *arg, char **w, int n), void *arg);
/*
 * download_file's answer "OK <size> <sha1> <n> <h1>..<hn> <m> <ip:port>..."
 * (spaces or newlines between words): fills f (piece_sha1 malloc'd) and
 * up to maxpeers endpoints (more are ignored). 0, or -1 if malformed or
 * n != pieces_count(size). The text-taking form is for tests and fuzzing
 * (text modified in place).
 */
int	tproto_file(const struct treply *r, struct tfile *f,
	    struct endpoint *peers, int maxpeers, int *npeers);
int	tproto_file_text(char *text, struct tfile *f,
	    struct endpoint *peers, int maxpeers, int *npeers);

/* Requests (no '\n'); each 0 or -1 (too long, out of memory). */
int	tproto_words(struct buf *, const char *cmd, char *const argv[],
	    int argc);
int	tproto_login(struct buf *, const char *user, const char *password);
/* peerd's form of a request, "[session <user> <token>] [rid <id>] line"
 * (user NULL: no session; rid NULL: no id). The id, the same on every
 * attempt, lets a tracker answer a change sent again without applying it
 * twice; the seed client's form has neither prefix. */
#define TPROTO_RID_LEN	32	/* hex digits */
int	tproto_request(struct buf *, const char *user, const char *token,
	    const char *rid, const char *line);
/* 1 if the request line changes the tracker's state (else a read). */
int	tproto_changes(const char *line);
/* A fresh random request id. */
void	tproto_new_rid(char rid[TPROTO_RID_LEN + 1]);
int	tproto_upload(struct buf *, const char *group, const char *name,
	    uint64_t size, const struct endpoint *self,
	    const uint8_t sha1[SHA1_LEN], uint32_t n,
	    uint8_t (*pieces)[SHA1_LEN]);
int	tproto_stop_share(struct buf *, const char *group, const char *name,
	    const struct endpoint *self);
int	tproto_download(struct buf *, const char *group, const char *name);
int	tproto_ticket_req(struct buf *, const char *group, const char *name);

/* "OK <ticket hex> <expiry>": the binary ticket (well-formed, its expiry
 * the one stated) into bin, its length and expiry. 0 or -1. */
int	tproto_ticket(const struct treply *r, uint8_t bin[TICKET_MAX_BIN],
	    size_t *len, uint64_t *expires);
/* "OK <n>" then "<keyid hex> <public key hex>" lines: up to max keys, each
 * id checked against its key. 0, or -1 if any row is malformed. */
int	tproto_keys(const struct treply *r, struct ticket_key *keys,
	    size_t max, size_t *n);
/* peerd's own forms: a download registered as a partial seeder, and the
 * seeders of a file with the partial ones (the plain forms are the seed
 * client's: complete seeders only). */
int	tproto_upload_partial(struct buf *, const char *group,
	    const char *name, uint64_t size, const struct endpoint *self,
	    const uint8_t sha1[SHA1_LEN], uint32_t n,
	    uint8_t (*pieces)[SHA1_LEN]);
int	tproto_download_partial(struct buf *, const char *group,
	    const char *name);

#endif
