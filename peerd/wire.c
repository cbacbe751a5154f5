/* The peer protocol's encoder and its single parser: every byte a peer
 * sends us becomes a typed message here or closes the connection. */
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/bitfield.h"
#include "peerd/wire.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
wire_hdr(uint8_t *out, enum wire_type t, uint32_t a, uint32_t len)
{
	out[0] = (uint8_t)t;
	put32(out + 1, a);
	put32(out + 5, len);
}

/* Is a header of this type, a and len well-formed in this direction? */
static int
hdr_valid(enum wire_dir dir, enum wire_type t, uint32_t a, uint32_t len)
{
	switch (t) {
	case WIRE_HELLO:
		return dir == WIRE_TO_SERVER && a == 0 && len >= SHA1_LEN &&
		    len <= WIRE_MAX_HELLO;
	case WIRE_REQUEST:
	case WIRE_CANCEL:
		return dir == WIRE_TO_SERVER && a < WIRE_MAX_PIECES && len == 0;
	case WIRE_BITFIELD:
		return dir == WIRE_TO_CLIENT && a >= 1 &&
		    a <= WIRE_MAX_PIECES && len == bf_bytes(a);
	case WIRE_ERROR:
		return dir == WIRE_TO_CLIENT && a == 0 && len >= 1 &&
		    len <= WIRE_MAX_ERROR;
	case WIRE_HAVE:
	case WIRE_REJECT:
		return dir == WIRE_TO_CLIENT && a < WIRE_MAX_PIECES && len == 0;
	case WIRE_PIECE:
		return dir == WIRE_TO_CLIENT && a < WIRE_MAX_PIECES &&
		    len >= 1 && len <= PIECE_SIZE;
	}
	return 0;
}

int
wire_parse(const uint8_t *p, size_t n, enum wire_dir dir, struct wire_msg *m)
{
	enum wire_type	t;
	uint32_t	a, len;

	if (n < 1)
		return 0;
	t = (enum wire_type)p[0];
	if (t < WIRE_HELLO || t > WIRE_REJECT)
		return -1;
	if (n < WIRE_HDR_LEN)
		return 0;
	a = get32(p + 1);
	len = get32(p + 5);
	if (!hdr_valid(dir, t, a, len))
		return -1;
	m->type = t;
	m->a = a;
	m->len = len;
	m->payload = NULL;
	if (t == WIRE_PIECE)
		return WIRE_HDR_LEN;
	if (n - WIRE_HDR_LEN < len)
		return 0;
	if (len > 0)
		m->payload = p + WIRE_HDR_LEN;
	if (t == WIRE_BITFIELD && !bf_tail_clear(m->payload, a))
		return -1;
	return (int)(WIRE_HDR_LEN + len);
}

int
wire_parse_get_piece(const char *line, char name[NAME_MAX_LEN + 1],
    uint32_t *index)
{
	const char	*p, *sp;
	char		 num[16];
	size_t		 n;
	uint64_t	 v;

	if (strncmp(line, "GET_PIECE ", 10) != 0)
		return -1;
	p = line + 10;
	if ((sp = strchr(p, ' ')) == NULL || (n = (size_t)(sp - p)) == 0 ||
	    n > NAME_MAX_LEN)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	if (!name_valid(name))
		return -1;
	p = sp + 1;
	n = strlen(p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (parse_u64(num, 0, WIRE_MAX_PIECES - 1, &v) == -1)
		return -1;
	*index = (uint32_t)v;
	return 0;
}
