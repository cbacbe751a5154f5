/* Unit tests for the peer protocol parser (peerd/wire): golden messages in
 * both directions, partial input, and malformed headers that must close. */
#include <criterion/criterion.h>
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/wire.h"

static int
parse(const uint8_t *p, size_t n, enum wire_dir d, struct wire_msg *m)
{
	return wire_parse(p, n, d, m);
}

Test(wire, hello_roundtrip)
{
	uint8_t		b[WIRE_HDR_LEN + SHA1_LEN];
	struct wire_msg	m;
	size_t		k;

	wire_hdr(b, WIRE_HELLO, 0, SHA1_LEN);
	memset(b + WIRE_HDR_LEN, 0xab, SHA1_LEN);
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_SERVER, &m), (int)sizeof(b));
	cr_assert_eq(m.type, WIRE_HELLO);
	cr_assert_eq(m.payload, b + WIRE_HDR_LEN);
	for (k = 0; k < sizeof(b); k++)
		cr_assert_eq(parse(b, k, WIRE_TO_SERVER, &m), 0, "k=%zu", k);
	/* HELLO is never sent to a client. */
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_CLIENT, &m), -1);
}

Test(wire, golden_bytes)
{
	static const uint8_t req[] = { 5, 0, 0, 1, 2, 0, 0, 0, 0 };
	static const uint8_t piece[] = { 7, 0, 0, 0, 3, 0, 8, 0, 0 };
	uint8_t		 b[WIRE_HDR_LEN];
	struct wire_msg	 m;

	wire_hdr(b, WIRE_REQUEST, 258, 0);
	cr_assert_arr_eq(b, req, sizeof(req));
	cr_assert_eq(parse(req, sizeof(req), WIRE_TO_SERVER, &m), WIRE_HDR_LEN);
	cr_assert_eq(m.type, WIRE_REQUEST);
	cr_assert_eq(m.a, 258);
	cr_assert_eq(parse(piece, sizeof(piece), WIRE_TO_CLIENT, &m),
	    WIRE_HDR_LEN);
	cr_assert_eq(m.type, WIRE_PIECE);
	cr_assert_eq(m.a, 3);
	cr_assert_eq(m.len, 512 * 1024);
	cr_assert_null(m.payload);
}

Test(wire, bitfield)
{
	uint8_t		b[WIRE_HDR_LEN + 2];
	struct wire_msg	m;

	wire_hdr(b, WIRE_BITFIELD, 11, 2);
	b[WIRE_HDR_LEN] = 0xff;
	b[WIRE_HDR_LEN + 1] = 0xe0;
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_CLIENT, &m), (int)sizeof(b));
	cr_assert_eq(m.a, 11);
	/* A bit past the last piece: refused. */
	b[WIRE_HDR_LEN + 1] = 0xf0;
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_CLIENT, &m), -1);
	/* Length must match the piece count. */
	wire_hdr(b, WIRE_BITFIELD, 17, 2);
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_CLIENT, &m), -1);
	wire_hdr(b, WIRE_BITFIELD, 0, 0);
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_CLIENT, &m), -1);
}

struct bad { uint8_t type; uint32_t a, len; int dir; };

static const struct bad bads[] = {
	{ 0, 0, 0, WIRE_TO_SERVER },
	{ 9, 0, 0, WIRE_TO_SERVER },
	{ 255, 0, 0, WIRE_TO_CLIENT },
	{ WIRE_HELLO, 0, 19, WIRE_TO_SERVER },
	{ WIRE_HELLO, 1, 20, WIRE_TO_SERVER },
	{ WIRE_REQUEST, 0, 1, WIRE_TO_SERVER },
	{ WIRE_REQUEST, WIRE_MAX_PIECES, 0, WIRE_TO_SERVER },
	{ WIRE_REQUEST, 0, 0, WIRE_TO_CLIENT },
	{ WIRE_CANCEL, 0, 4, WIRE_TO_SERVER },
	{ WIRE_PIECE, 0, 0, WIRE_TO_CLIENT },
	{ WIRE_PIECE, 0, 512 * 1024 + 1, WIRE_TO_CLIENT },
	{ WIRE_PIECE, 0, 100, WIRE_TO_SERVER },
	{ WIRE_ERROR, 0, 0, WIRE_TO_CLIENT },
	{ WIRE_ERROR, 0, WIRE_MAX_ERROR + 1, WIRE_TO_CLIENT },
	{ WIRE_HAVE, 0, 1, WIRE_TO_CLIENT },
	{ WIRE_REJECT, 0xffffffffu, 0, WIRE_TO_CLIENT },
	{ WIRE_BITFIELD, WIRE_MAX_PIECES + 1, WIRE_MAX_PIECES / 8 + 1,
	    WIRE_TO_CLIENT },
};

Test(wire, malformed_headers)
{
	uint8_t		b[WIRE_HDR_LEN];
	struct wire_msg	m;
	size_t		i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		wire_hdr(b, bads[i].type, bads[i].a, bads[i].len);
		cr_assert_eq(parse(b, sizeof(b), (enum wire_dir)bads[i].dir, &m),
		    -1, "case %zu", i);
	}
}

Test(wire, pipelined)
{
	uint8_t		b[3 * WIRE_HDR_LEN];
	struct wire_msg	m;
	size_t		off = 0;
	int		r, k = 0;

	wire_hdr(b, WIRE_REQUEST, 1, 0);
	wire_hdr(b + 9, WIRE_CANCEL, 1, 0);
	wire_hdr(b + 18, WIRE_REQUEST, 2, 0);
	while ((r = parse(b + off, sizeof(b) - off, WIRE_TO_SERVER, &m)) > 0) {
		off += (size_t)r;
		k++;
	}
	cr_assert_eq(r, 0);
	cr_assert_eq(k, 3);
	cr_assert_eq(m.a, 2);
}

struct gp { char line[96]; int ok; char name[72]; uint32_t index; };

static const struct gp gps[] = {
	{ "GET_PIECE movie.mkv 0", 0, "movie.mkv", 0 },
	{ "GET_PIECE a 17\r", 0, "a", 17 },
	{ "GET_PIECE a-b_c.d 524287", 0, "a-b_c.d", 524287 },
	{ "GET_PIECE a 524288", -1, "", 0 },
	{ "GET_PIECE .hidden 1", -1, "", 0 },
	{ "GET_PIECE ../etc/passwd 1", -1, "", 0 },
	{ "GET_PIECE a/b 1", -1, "", 0 },
	{ "GET_PIECE a -1", -1, "", 0 },
	{ "GET_PIECE a 1 2", -1, "", 0 },
	{ "GET_PIECE a", -1, "", 0 },
	{ "GET_PIECE  a 1", -1, "", 0 },
	{ "get_piece a 1", -1, "", 0 },
	{ "GET_PIECE a 99999999999999999999999", -1, "", 0 },
	{ "GET_PIECE a ", -1, "", 0 },
};

Test(wire, get_piece_lines)
{
	char		name[NAME_MAX_LEN + 1];
	uint32_t	idx;
	size_t		i;

	for (i = 0; i < sizeof(gps) / sizeof(gps[0]); i++) {
		int r = wire_parse_get_piece(gps[i].line, name, &idx);
		cr_assert_eq(r, gps[i].ok, "line '%s'", gps[i].line);
		if (r == 0) {
			cr_assert_str_eq(name, gps[i].name);
			cr_assert_eq(idx, gps[i].index);
		}
	}
}

Test(wire, hello_with_ticket_bounded)
{
	uint8_t		b[WIRE_HDR_LEN + WIRE_MAX_HELLO + 1];
	struct wire_msg	m;

	memset(b, 0, sizeof(b));
	wire_hdr(b, WIRE_HELLO, 0, WIRE_MAX_HELLO);
	cr_assert_eq(parse(b, WIRE_HDR_LEN + WIRE_MAX_HELLO, WIRE_TO_SERVER,
	    &m), WIRE_HDR_LEN + WIRE_MAX_HELLO);
	cr_assert_eq(m.len, SHA1_LEN + TICKET_MAX_BIN);
	wire_hdr(b, WIRE_HELLO, 0, WIRE_MAX_HELLO + 1);
	cr_assert_eq(parse(b, sizeof(b), WIRE_TO_SERVER, &m), -1,
	    "longer than the largest ticket");
}
