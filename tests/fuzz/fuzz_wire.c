/* libFuzzer harness for peerd's peer-facing parsers: the wire protocol in
 * both directions, the seed client's GET_PIECE line, the tracker's
 * download_file answer and the resume files.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"
#include "peerd/resume.h"
#include "peerd/tproto.h"
#include "peerd/wire.h"

static void
fuzz_stream(const uint8_t *p, size_t n, enum wire_dir dir)
{
	struct wire_msg	m;
	size_t		off = 0;
	int		r;

	while (off < n && (r = wire_parse(p + off, n - off, dir, &m)) > 0) {
		if (m.payload != NULL && m.len > 0 &&
		    (m.payload < p || m.payload + m.len > p + n))
			abort();
		off += (size_t)r;
		if (m.type == WIRE_PIECE)
			off += m.len < n - off ? m.len : n - off;
	}
}

static void
fuzz_text(const uint8_t *data, size_t n)
{
	struct resume_meta	 meta;
	struct tfile		 file;
	struct endpoint		 eps[8];
	char			*s, name[NAME_MAX_LEN + 1];
	uint8_t			 bits[64];
	uint32_t		 idx;
	int			 np;

	if ((s = malloc(n + 1)) == NULL)
		return;
	memcpy(s, data, n);
	s[n] = '\0';
	(void)wire_parse_get_piece(s, name, &idx);
	(void)resume_have_parse(s, 500, bits);
	if (resume_meta_parse(s, &meta) == 0)
		free(meta.piece_sha1);
	memcpy(s, data, n);
	s[n] = '\0';
	if (tproto_file_text(s, &file, eps, 8, &np) == 0)
		free(file.piece_sha1);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_stream(data, n, WIRE_TO_SERVER);
	fuzz_stream(data, n, WIRE_TO_CLIENT);
	fuzz_text(data, n);
	return 0;
}
