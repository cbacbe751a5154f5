/* The protocol between p2pshare peers (piece server <-> downloader), its
 * encoder and its one parser. Pure: no I/O, unit-tested and fuzzed.
 *
 * A connection opens with WIRE_MAGIC from each side. The downloader then
 * sends HELLO naming the file by its 20-byte SHA-1 followed by the ticket
 * the tracker issued for it (ipc/ticket.h, binary form); the server checks
 * the ticket and answers BITFIELD (piece count, then which pieces it can
 * serve) or ERROR and closes. After that the downloader sends REQUEST(index) messages, any
 * number in flight, and CANCEL(index) for ones it no longer wants; the
 * server answers each REQUEST, in order, with PIECE(index, length)
 * followed by exactly length raw bytes, or REJECT(index), and pushes
 * HAVE(index) when it gains a verified piece.
 *
 * Every message is a 9-byte header: type (1 byte), a (4 bytes, big
 * endian: piece index or count), len (4 bytes, big endian: payload
 * length), then len payload bytes. PIECE's payload is the piece data.
 *
 * A connection whose first line is "GET_PIECE <name> <index>\n" is the
 * seed client's form instead: raw piece bytes, then close.
 */
#ifndef PEERD_WIRE_H
#define PEERD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/names.h"
#include "ipc/proto.h"
#include "ipc/ticket.h"

#define WIRE_MAGIC		"P2PSHR1\n"
#define WIRE_MAGIC_LEN		8
#define WIRE_HDR_LEN		9
#define WIRE_MAX_PIECES		(1u << 19)	/* 256 GiB of 512 KiB pieces */
#define WIRE_MAX_ERROR		256
#define WIRE_MAX_HELLO		(SHA1_LEN + TICKET_MAX_BIN)
#define WIRE_MAX_MSG		(WIRE_HDR_LEN + WIRE_MAX_PIECES / 8)

enum wire_type {
	WIRE_HELLO = 1,		/* c->s: payload sha1[20] ticket[] */
	WIRE_BITFIELD,		/* s->c: a = pieces, payload bitfield */
	WIRE_ERROR,		/* s->c: payload text, then close */
	WIRE_HAVE,		/* s->c: a = index */
	WIRE_REQUEST,		/* c->s: a = index */
	WIRE_CANCEL,		/* c->s: a = index */
	WIRE_PIECE,		/* s->c: a = index, len bytes follow */
	WIRE_REJECT,		/* s->c: a = index */
};

enum wire_dir { WIRE_TO_SERVER, WIRE_TO_CLIENT };

struct wire_msg {
	enum wire_type	 type;
	uint32_t	 a;
	uint32_t	 len;
	const uint8_t	*payload;	/* into the input; NULL for PIECE */
};

/*
 * Parse one message from p[0..n). Returns the bytes consumed (header and
 * payload; for PIECE the header only, the caller then reads m->len data
 * bytes), 0 if more input is needed, or -1 if the bytes are not a valid
 * message in that direction (the caller closes the connection).
 */
int	wire_parse(const uint8_t *p, size_t n, enum wire_dir, struct wire_msg *m);
/* Write a header into out[WIRE_HDR_LEN]. */
void	wire_hdr(uint8_t *out, enum wire_type, uint32_t a, uint32_t len);
/*
 * Parse the seed client's request line (without '\n', NUL-terminated,
 * a trailing '\r' allowed): "GET_PIECE <name> <index>". Returns 0, or -1.
 */
int	wire_parse_get_piece(const char *line, char name[NAME_MAX_LEN + 1],
	    uint32_t *index);

#endif
