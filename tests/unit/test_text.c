/* Cleaning text from the network (ipc/text.c) on golden inputs: escape
 * sequences, C1 controls and broken UTF-8 replaced, printable text kept. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "ipc/text.h"

struct text_case {
	char	in[64];
	char	out[64];
};

static struct text_case cases[] = {
	{ "not a member of g", "not a member of g" },
	{ "\x1b[31mred\x1b[0m", "?[31mred?[0m" },
	{ "title\x1b]0;owned\x07", "title?]0;owned?" },
	{ "two\nlines\r", "two?lines?" },
	{ "tab\there", "tab?here" },
	{ "del\x7f", "del?" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	{ "c1 csi \xc2\x9b" "31m", "c1 csi ??31m" },
	{ "raw csi \x9b" "31m", "raw csi ?31m" },
	{ "overlong \xc0\xaf", "overlong ??" },
	{ "surrogate \xed\xa0\x80", "surrogate ???" },
	{ "cut \xe2\x82", "cut ??" },
	{ "past max \xf4\x90\x80\x80", "past max ????" },
	{ "nbsp \xc2\xa0.", "nbsp \xc2\xa0." },
};

ParameterizedTestParameters(text, golden)
{
	return cr_make_param_array(struct text_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct text_case *c, text, golden)
{
	char	buf[64];

	strcpy(buf, c->in);
	cr_assert_str_eq(text_clean(buf), c->out, "input %s", c->out);
}

Test(text, copy_stops_at_nul_and_bound)
{
	char	out[8];

	cr_assert_str_eq(text_clean_copy("ab\x1b" "c\0zz", 6, out, sizeof(out)),
	    "ab?c");
	cr_assert_str_eq(text_clean_copy("0123456789", 10, out, sizeof(out)),
	    "0123456");
	/* a sequence cut by the bound is replaced, not left half printed */
	cr_assert_str_eq(text_clean_copy("abcdef\xc3\xa9", 8, out, sizeof(out)),
	    "abcdef?");
}
