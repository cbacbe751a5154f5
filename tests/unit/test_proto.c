/* ipc/proto.c on golden inputs: the bounded line reader (partial, CRLF,
 * over-long, pipelined), the word splitter, strict numbers and hex. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include "ipc/proto.h"

static void
feed(struct buf *b, const char *s)
{
	cr_assert_eq(buf_append(b, s, strlen(s)), 0);
}

Test(proto, getline_partial_then_complete)
{
	struct buf	 b;
	char		*line;
	size_t		 len;

	buf_init(&b, 1 << 16);
	feed(&b, "list_gr");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 0);
	feed(&b, "oups\r\nlogin a b\npart");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_str_eq(line, "list_groups");
	cr_assert_eq(len, 11);
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_str_eq(line, "login a b");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 0);
	feed(&b, "\n\n\r\n");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_str_eq(line, "part");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_eq(len, 0, "empty line");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_eq(len, 0, "CRLF-only line");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 0);
	cr_assert_eq(buf_avail(&b), 0);
	buf_free(&b);
}

Test(proto, getline_bare_cr_is_data)
{
	struct buf	 b;
	char		*line;
	size_t		 len;

	buf_init(&b, 1 << 16);
	feed(&b, "a\rb\n");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_eq(len, 3);
	cr_assert(memcmp(line, "a\rb", 3) == 0);
	buf_free(&b);
}

Test(proto, getline_over_long)
{
	struct buf	 b;
	char		*line, big[5000];
	size_t		 len;

	buf_init(&b, 1 << 16);
	memset(big, 'x', sizeof(big));
	/* exactly the limit is fine, one more is not */
	cr_assert_eq(buf_append(&b, big, 4096), 0);
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 0);
	feed(&b, "\n");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), 1);
	cr_assert_eq(len, 4096);
	cr_assert_eq(buf_append(&b, big, 4097), 0);
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), -1, "no newline yet");
	buf_free(&b);
	buf_init(&b, 1 << 16);
	cr_assert_eq(buf_append(&b, big, 4097), 0);
	feed(&b, "\n");
	cr_assert_eq(buf_getline(&b, 4096, &line, &len), -1, "complete");
	buf_free(&b);
}

Test(proto, buf_hard_cap)
{
	struct buf	b;
	char		data[100] = { 0 };

	buf_init(&b, 64);
	cr_assert_eq(buf_append(&b, data, 64), 0);
	errno = 0;
	cr_assert_eq(buf_append(&b, data, 1), -1);
	cr_assert_eq(errno, ENOBUFS);
	buf_consume(&b, 10);
	cr_assert_eq(buf_append(&b, data, 10), 0, "consumed space not reused");
	cr_assert_eq(buf_printf(&b, "x"), -1);
	buf_free(&b);
	buf_init(&b, 1 << 20);
	cr_assert_eq(buf_printf(&b, "%s %d", "OK", 42), 0);
	cr_assert_eq(b.len, 5);
	cr_assert(memcmp(b.data, "OK 42", 5) == 0);
	buf_free(&b);
}

Test(proto, split)
{
	char	 s1[] = "  upload_file  g   f ", s2[] = "", s3[] = "a b c d",
		 s4[] = "one";
	char	*v[3];

	cr_assert_eq(proto_split(s1, v, 3), 3);
	cr_assert_str_eq(v[0], "upload_file");
	cr_assert_str_eq(v[1], "g");
	cr_assert_str_eq(v[2], "f");
	cr_assert_eq(proto_split(s2, v, 3), 0);
	cr_assert_eq(proto_split(s3, v, 3), -1, "too many words");
	cr_assert_eq(proto_split(s4, v, 3), 1);
	cr_assert_str_eq(v[0], "one");
}

struct num_case {
	char		text[32];
	uint64_t	min, max;
	int		ok;
	uint64_t	value;
};

static struct num_case num_cases[] = {
	{ "0", 0, 10, 1, 0 },
	{ "10", 0, 10, 1, 10 },
	{ "11", 0, 10, 0, 0 },
	{ "5", 6, 10, 0, 0 },
	{ "", 0, 10, 0, 0 },
	{ "-1", 0, 10, 0, 0 },
	{ "+1", 0, 10, 0, 0 },
	{ " 1", 0, 10, 0, 0 },
	{ "1 ", 0, 10, 0, 0 },
	{ "1e3", 0, 10000, 0, 0 },
	{ "0x10", 0, 100, 0, 0 },
	{ "007", 0, 10, 1, 7 },
	{ "18446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, 0, 0 },
	{ "99999999999999999999999", 0, UINT64_MAX, 0, 0 },
	{ "000000000000000000001", 0, 10, 0, 0 },	/* over 20 digits */
};

ParameterizedTestParameters(proto, parse_u64)
{
	return cr_make_param_array(struct num_case, num_cases,
	    sizeof(num_cases) / sizeof(num_cases[0]));
}

ParameterizedTest(struct num_case *c, proto, parse_u64)
{
	uint64_t	v = 12345;
	int		rc = parse_u64(c->text, c->min, c->max, &v);

	cr_assert_eq(rc == 0, c->ok, "'%s'", c->text);
	if (c->ok)
		cr_assert_eq(v, c->value, "'%s'", c->text);
	else
		cr_assert_eq(v, 12345, "'%s' changed the output", c->text);
}

Test(proto, ports)
{
	uint16_t	p;

	cr_assert_eq(parse_port("1", &p), 0);
	cr_assert_eq(p, 1);
	cr_assert_eq(parse_port("65535", &p), 0);
	cr_assert_eq(p, 65535);
	cr_assert_eq(parse_port("0", &p), -1);
	cr_assert_eq(parse_port("65536", &p), -1);
	cr_assert_eq(parse_port("80a", &p), -1);
}

Test(proto, hex)
{
	uint8_t	sha[SHA1_LEN], out[4];
	char	hex[SHA1_HEX_LEN + 1];

	cr_assert_eq(hex_to_sha1("0123456789ABCDEFabcdef0123456789abcdef01",
	    sha), 0);
	sha1_to_hex(sha, hex);
	cr_assert_str_eq(hex, "0123456789abcdefabcdef0123456789abcdef01");
	cr_assert_eq(hex_to_sha1("0123456789abcdefabcdef0123456789abcdef0",
	    sha), -1, "39 digits");
	cr_assert_eq(hex_to_sha1("0123456789abcdefabcdef0123456789abcdef012",
	    sha), -1, "41 digits");
	cr_assert_eq(hex_to_sha1("0123456789abcdefabcdef0123456789abcdef0g",
	    sha), -1, "non-hex");
	cr_assert_eq(hex_to_sha1("", sha), -1);
	cr_assert_eq(hex_decode("00ff7A", out, sizeof(out)), 3);
	cr_assert(out[0] == 0 && out[1] == 0xff && out[2] == 0x7a);
	cr_assert_eq(hex_decode("abc", out, sizeof(out)), -1, "odd length");
	cr_assert_eq(hex_decode("0011223344", out, sizeof(out)), -1,
	    "overflow");
	cr_assert_eq(hex_decode(" 1", out, sizeof(out)), -1);
	hex_encode((const uint8_t *)"\x01\xab", 2, hex);
	cr_assert_str_eq(hex, "01ab");
}
