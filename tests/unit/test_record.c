/* The record codec shared by the share and resume files and the tracker's
 * download_file answer: lines, words, fields, piece hash lists. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/record.h"

Test(record, lines_and_fields)
{
	char	 text[] = "group g\nuser \npath /x\ntorn";
	char	*p = text, *l;

	l = rec_line(&p);
	cr_assert_str_eq(rec_field(l, "group"), "g");
	l = rec_line(&p);
	cr_assert_str_eq(rec_field(l, "user"), "");
	l = rec_line(&p);
	cr_assert_null(rec_field(l, "pat"));
	cr_assert_null(rec_field(l, "paths"));
	cr_assert_null(rec_line(&p), "a last line without newline is torn");
	cr_assert_null(rec_field(NULL, "x"));
}

Test(record, words)
{
	char	 text[] = "  OK\r\n 10  abc\n";
	char	*p = text;

	cr_assert_str_eq(rec_word(&p), "OK");
	cr_assert_str_eq(rec_word(&p), "10");
	cr_assert_str_eq(rec_word(&p), "abc");
	cr_assert_null(rec_word(&p));
}

Test(record, hashes_roundtrip)
{
	uint8_t		 h[3][SHA1_LEN], (*back)[SHA1_LEN] = NULL;
	struct buf	 b;
	char		*text, *p;

	memset(h, 0, sizeof(h));
	h[0][0] = 0x01;
	h[2][19] = 0xfe;
	buf_init(&b, 1 << 16);
	cr_assert_eq(rec_put_hashes(&b, h, 3, NULL), 0);
	cr_assert_eq(buf_avail(&b), 3 * (SHA1_HEX_LEN + 1));
	text = strndup(buf_head(&b), buf_avail(&b));
	p = text;
	cr_assert_eq(rec_get_hashes(&p, 3, &back, rec_line), 0);
	cr_assert_eq(memcmp(back, h, sizeof(h)), 0);
	cr_assert_str_eq(p, "");
	free(back);
	free(text);
	buf_free(&b);

	buf_init(&b, 1 << 16);
	cr_assert_eq(rec_put_hashes(&b, h, 2, " "), 0);
	cr_assert_eq(buf_avail(&b), 2 * (SHA1_HEX_LEN + 1));
	cr_assert_eq(buf_head(&b)[0], ' ');
	text = strndup(buf_head(&b), buf_avail(&b));
	p = text;
	cr_assert_eq(rec_get_hashes(&p, 3, &back, rec_word), -1,
	    "one hash missing");
	free(back);
	free(text);
	buf_free(&b);

	buf_init(&b, 8);
	cr_assert_eq(rec_put_hashes(&b, h, 1, NULL), -1, "over the cap");
	buf_free(&b);
}
