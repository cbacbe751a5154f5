/* Unit tests for the resume files (peerd/resume): round trips, and torn,
 * inconsistent or hostile files refused as a whole. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/bitfield.h"
#include "peerd/resume.h"

static void
sample(struct resume_meta *m, uint64_t size)
{
	uint32_t	i;

	memset(m, 0, sizeof(*m));
	strlcpy(m->group, "g1", sizeof(m->group));
	strlcpy(m->name, "big.iso", sizeof(m->name));
	strlcpy(m->dest, "/tmp/some dir/big.iso", sizeof(m->dest));
	m->size = size;
	memset(m->sha1, 0x5a, SHA1_LEN);
	m->npieces = (uint32_t)pieces_count(size);
	m->piece_sha1 = calloc(m->npieces + 1, SHA1_LEN);
	for (i = 0; i < m->npieces; i++)
		memset(m->piece_sha1[i], (int)i, SHA1_LEN);
}

static char *
format(const struct resume_meta *m)
{
	struct buf	b;

	buf_init(&b, 1 << 20);
	cr_assert_eq(resume_meta_format(m, &b), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	return b.data;
}

Test(resume, meta_roundtrip)
{
	struct resume_meta	m, r;
	char			*text;

	sample(&m, 3 * PIECE_SIZE + 5);
	text = format(&m);
	cr_assert_eq(resume_meta_parse(text, &r), 0);
	cr_assert_str_eq(r.group, "g1");
	cr_assert_str_eq(r.name, "big.iso");
	cr_assert_str_eq(r.dest, "/tmp/some dir/big.iso");
	cr_assert_eq(r.size, m.size);
	cr_assert_eq(r.npieces, 4);
	cr_assert_arr_eq(r.sha1, m.sha1, SHA1_LEN);
	cr_assert_arr_eq(r.piece_sha1, m.piece_sha1, 4 * SHA1_LEN);
	free(r.piece_sha1);
	free(m.piece_sha1);
	free(text);
}

Test(resume, empty_file)
{
	struct resume_meta	m, r;
	char			*text;

	sample(&m, 0);
	text = format(&m);
	cr_assert_eq(resume_meta_parse(text, &r), 0);
	cr_assert_eq(r.npieces, 0);
	free(r.piece_sha1);
	free(m.piece_sha1);
	free(text);
}

Test(resume, meta_refuses_damage)
{
	struct resume_meta	m, r;
	char			*text, *copy;
	size_t			len, cut;

	sample(&m, 2 * PIECE_SIZE);
	text = format(&m);
	len = strlen(text);
	/* Every truncation is refused. */
	for (cut = 0; cut < len; cut++) {
		copy = strndup(text, cut);
		cr_assert_eq(resume_meta_parse(copy, &r), -1, "cut=%zu", cut);
		free(copy);
	}
	/* Inconsistent piece count, bad names, relative dest, bad hex. */
	static const char *edits[][2] = {
		{ "pieces 2", "pieces 3" },
		{ "group g1", "group ../x" },
		{ "dest /tmp", "dest tmp" },
		{ "sha1 5a", "sha1 zz" },
		{ "size 1048576", "size -1" },
		{ "end\n", "end\nextra\n" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char	*at, buf[4096];

		at = strstr(text, edits[i][0]);
		cr_assert_not_null(at, "edit %zu", i);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - text), text,
		    edits[i][1], at + strlen(edits[i][0]));
		cr_assert_eq(resume_meta_parse(buf, &r), -1, "edit %zu", i);
	}
	free(m.piece_sha1);
	free(text);
}

Test(resume, have_roundtrip)
{
	uint8_t		bits[3] = { 0xa5, 0x0f, 0xc0 }, out[3];
	struct buf	b;

	buf_init(&b, 4096);
	cr_assert_eq(resume_have_format(bits, 18, &b), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	cr_assert_str_eq(b.data, "p2pshare-have 1 18 a50fc0\n");
	cr_assert_eq(resume_have_parse(b.data, 18, out), 0);
	cr_assert_arr_eq(out, bits, 3);
	/* Made for another piece count, torn, or with bits past the end. */
	cr_assert_eq(resume_have_parse(b.data, 17, out), -1);
	cr_assert_eq(resume_have_parse("p2pshare-have 1 18 a50fc0", 18, out), -1);
	cr_assert_eq(resume_have_parse("p2pshare-have 1 18 a50fe0\n", 18, out), -1);
	cr_assert_eq(resume_have_parse("p2pshare-have 1 18 a50f\n", 18, out), -1);
	cr_assert_eq(resume_have_parse("garbage\n", 18, out), -1);
	buf_free(&b);
}

Test(resume, state_roundtrip_and_refusals)
{
	struct resume_state	st, back;
	struct buf		b;
	char			text[1024];

	memset(&st, 0, sizeof(st));
	st.status = RS_FAILED;
	st.seq = 42;
	strlcpy(st.reason, "write /d/f.part: No space\nleft", sizeof(st.reason));
	buf_init(&b, 4096);
	cr_assert_eq(resume_state_format(&st, &b), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	strlcpy(text, b.data, sizeof(text));
	cr_assert_eq(resume_state_parse(b.data, &back), 0);
	cr_assert_eq(back.status, RS_FAILED);
	cr_assert_eq(back.seq, 42);
	cr_assert_str_eq(back.reason, "write /d/f.part: No space?left");
	buf_free(&b);
	text[strlen(text) - 4] = '\0';		/* torn: no "end" */
	cr_assert_eq(resume_state_parse(text, &back), -1);
	strlcpy(text, "p2pshare-state 1\nstatus dancing\nseq 1\nreason \nend\n",
	    sizeof(text));
	cr_assert_eq(resume_state_parse(text, &back), -1);
	strlcpy(text, "p2pshare-state 1\nstatus paused\nseq x\nreason \nend\n",
	    sizeof(text));
	cr_assert_eq(resume_state_parse(text, &back), -1);
	strlcpy(text, "p2pshare-state 1\nstatus kept\nseq 7\nreason \nend\n",
	    sizeof(text));
	cr_assert_eq(resume_state_parse(text, &back), 0);
	cr_assert_eq(back.status, RS_KEPT);
}

Test(resume, history_roundtrip_and_refusals)
{
	struct history_entry	h, back;
	struct buf		b;
	char			line[PATH_MAX + 512];

	memset(&h, 0, sizeof(h));
	h.failed = 1;
	strlcpy(h.group, "g", sizeof(h.group));
	strlcpy(h.name, "f.bin", sizeof(h.name));
	strlcpy(h.dest, "/tmp/a dir/f.bin", sizeof(h.dest));
	h.size = 1234;
	h.when = 1700000000;
	strlcpy(h.reason, "bad\ttab", sizeof(h.reason));
	buf_init(&b, 4096);
	cr_assert_eq(history_format(&h, &b), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	cr_assert_eq(b.data[strlen(b.data) - 1], '\n');
	b.data[strlen(b.data) - 1] = '\0';
	cr_assert_eq(history_parse(b.data, &back), 0);
	cr_assert_eq(back.failed, 1);
	cr_assert_str_eq(back.dest, "/tmp/a dir/f.bin");
	cr_assert_str_eq(back.reason, "bad?tab");
	cr_assert_eq(back.size, 1234);
	buf_free(&b);
	strlcpy(line, "complete\tg\t../x\t/d/x\t1\t2\t", sizeof(line));
	cr_assert_eq(history_parse(line, &back), -1);
	strlcpy(line, "complete\tg\tx\td/x\t1\t2\t", sizeof(line));
	cr_assert_eq(history_parse(line, &back), -1);
	strlcpy(line, "done\tg\tx\t/d/x\t1\t2\t", sizeof(line));
	cr_assert_eq(history_parse(line, &back), -1);
	strlcpy(line, "complete\tg\tx\t/d/x\t1\t2", sizeof(line));
	cr_assert_eq(history_parse(line, &back), -1);
	strlcpy(line, "complete\tg\tx\t/d/x\t1\t2\t", sizeof(line));
	cr_assert_eq(history_parse(line, &back), 0);
}
