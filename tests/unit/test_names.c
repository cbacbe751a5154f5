/* Name and password validation (ipc/names.c) on golden inputs: the
 * contract's character sets, lengths and the leading-dot rule. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "ipc/names.h"

struct name_case {
	char	text[140];
	int	name_ok;
	int	password_ok;
};

static struct name_case cases[] = {
	{ "alice", 1, 1 },
	{ "A-b_c.9", 1, 1 },
	{ "a.", 1, 1 },
	{ "-dash", 1, 1 },
	{ "", 0, 0 },
	{ ".hidden", 0, 1 },
	{ ".", 0, 1 },
	{ "..", 0, 1 },
	{ "a/b", 0, 1 },
	{ "../etc", 0, 1 },
	{ "a b", 0, 0 },
	{ "tab\there", 0, 0 },
	{ "new\nline", 0, 0 },
	{ "caf\xc3\xa9", 0, 0 },
	{ "p@ss!w0rd~", 0, 1 },
	{ "del\x7f", 0, 0 },
	{ "star*", 0, 1 },
};

ParameterizedTestParameters(names, golden)
{
	return cr_make_param_array(struct name_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *c, names, golden)
{
	cr_assert_eq(name_valid(c->text), c->name_ok, "name '%s'", c->text);
	cr_assert_eq(password_valid(c->text), c->password_ok, "password '%s'",
	    c->text);
}

Test(names, lengths)
{
	char	s[200];

	memset(s, 'a', sizeof(s));
	s[NAME_MAX_LEN] = '\0';
	cr_assert(name_valid(s), "64 bytes");
	s[NAME_MAX_LEN] = 'a';
	s[NAME_MAX_LEN + 1] = '\0';
	cr_assert_not(name_valid(s), "65 bytes");
	memset(s, 'a', sizeof(s));
	s[PASSWORD_MAX_LEN] = '\0';
	cr_assert(password_valid(s), "128 bytes");
	s[PASSWORD_MAX_LEN] = 'a';
	s[PASSWORD_MAX_LEN + 1] = '\0';
	cr_assert_not(password_valid(s), "129 bytes");
	cr_assert_not(name_valid(NULL));
	cr_assert_not(password_valid(NULL));
}

Test(names, session_tokens)
{
	cr_assert(session_token_valid("Ki7OjKsXH9vG9PC1"));
	cr_assert_not(session_token_valid("Ki7OjKsXH9vG9PC"), "15 characters");
	cr_assert_not(session_token_valid("Ki7OjKsXH9vG9PC12"), "17 characters");
	cr_assert_not(session_token_valid("Ki7OjKsXH9vG9PC-"), "not alphanumeric");
	cr_assert_not(session_token_valid(""));
}
