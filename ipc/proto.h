/* Framing and parsing shared by every program: a bounded line reader over a
 * socket buffer, a word splitter, strict number and hex parsing. */
#ifndef IPC_PROTO_H
#define IPC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_MAX_LINE		4096	/* requests other than upload_file */
#define PROTO_END		"END_OF_REPLY"
#define SHA1_LEN		20
#define SHA1_HEX_LEN		40

/*
 * A growable byte buffer with a hard cap. buf_reserve fails (-1, errno
 * ENOBUFS) rather than grow beyond the cap, so no peer can make us allocate
 * without bound.
 */
struct buf {
	char	*data;
	size_t	 len;	/* bytes held */
	size_t	 off;	/* bytes already consumed from the front */
	size_t	 cap;	/* allocated */
	size_t	 max;	/* hard limit on cap */
};

void	buf_init(struct buf *, size_t max);
void	buf_free(struct buf *);
int	buf_reserve(struct buf *, size_t more);
int	buf_append(struct buf *, const void *, size_t);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_consume(struct buf *, size_t);
void	buf_compact(struct buf *);
static inline char *buf_head(const struct buf *b) { return b->data + b->off; }
static inline size_t buf_avail(const struct buf *b) { return b->len - b->off; }

/*
 * buf_getline: find the next complete line in b. Returns 1 and sets *line
 * (NUL-terminated in place, '\r' and '\n' stripped) and *linelen; 0 if no
 * full line yet; -1 if the pending partial line is longer than maxline
 * (the caller answers an error and drops the connection).
 */
int	buf_getline(struct buf *b, size_t maxline, char **line, size_t *linelen);

/* Split line in place on runs of spaces; at most maxv words. Returns the
 * number of words, or -1 if there are more than maxv. */
int	proto_split(char *line, char **argv, int maxv);

/* Strict unsigned parse: decimal digits only, no sign, no spaces, within
 * [min, max]. Returns 0 and sets *out, or -1. */
int	parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a TCP port 1..65535. */
int	parse_port(const char *s, uint16_t *out);

/* 40 lower- or upper-case hex digits to 20 bytes; -1 on anything else. */
int	hex_to_sha1(const char *hex, uint8_t out[SHA1_LEN]);
/* 20 bytes to 40 lowercase hex digits plus NUL. */
void	sha1_to_hex(const uint8_t in[SHA1_LEN], char out[SHA1_HEX_LEN + 1]);
/* Generic hex encode/decode; decode returns bytes written or -1. */
void	hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);
ssize_t	hex_decode(const char *in, uint8_t *out, size_t outmax);

#endif
