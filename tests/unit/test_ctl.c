/* Unit tests of the control protocol (ipc/ctl.c): request parsing and
 * validation, field escaping, reply records and status lines. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "ipc/ctl.h"

struct req_case {
	char	line[256];
	int	code;		/* 0 or CTL_USAGE */
	int	argc;
	char	last[128];	/* last argument when code == 0 */
};

ParameterizedTestParameters(ctl, requests)
{
	static struct req_case cases[] = {
		{ "login\talice\ts3cret", 0, 2, "s3cret" },
		{ "create_user\tbob\tp@ss!word", 0, 2, "p@ss!word" },
		{ "logout", 0, 0, "" },
		{ "list_groups", 0, 0, "" },
		{ "show_downloads", 0, 0, "" },
		{ "upload_file\t/tmp/a.bin\tteam", 0, 2, "team" },
		{ "upload_file\t/tmp/dir with space/a.bin\tteam", 0, 2, "team" },
		{ "download_file\tteam\ta.bin\t/tmp", 0, 3, "/tmp" },
		{ "accept_request\tteam\tbob", 0, 2, "bob" },
		{ "wait\tteam\tx-1_2.tar.gz", 0, 2, "x-1_2.tar.gz" },
		{ "", CTL_USAGE, 0, "" },
		{ "nosuch", CTL_USAGE, 0, "" },
		{ "LOGIN\talice\tpw", CTL_USAGE, 0, "" },
		{ "login\talice", CTL_USAGE, 0, "" },
		{ "login\talice\tpw\textra", CTL_USAGE, 0, "" },
		{ "login\t.alice\tpw", CTL_USAGE, 0, "" },
		{ "login\tal ice\tpw", CTL_USAGE, 0, "" },
		{ "login\talice\tpw with space", CTL_USAGE, 0, "" },
		{ "login\talice\t", CTL_USAGE, 0, "" },
		{ "create_group\t", CTL_USAGE, 0, "" },
		{ "create_group\ta/b", CTL_USAGE, 0, "" },
		{ "logout\textra", CTL_USAGE, 0, "" },
		{ "upload_file\trelative.bin\tteam", CTL_USAGE, 0, "" },
		{ "upload_file\t/tmp/.hidden\tteam", CTL_USAGE, 0, "" },
		{ "upload_file\t/tmp/\tteam", CTL_USAGE, 0, "" },
		{ "download_file\tteam\ta.bin\trel", CTL_USAGE, 0, "" },
		{ "download_file\tteam\t../x\t/tmp", CTL_USAGE, 0, "" },
		{ "login\ta\\qb\tpw", CTL_USAGE, 0, "" },
		{ "login\ta\tb\tc\td\te\tf\tg", CTL_USAGE, 0, "" },
		{ "stop_share\tteam\ta\\nb", CTL_USAGE, 0, "" },
	};
	return cr_make_param_array(struct req_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct req_case *c, ctl, requests)
{
	struct ctl_request	r;
	char			line[256], err[256] = "";
	int			code;

	strcpy(line, c->line);
	code = ctl_parse_request(line, &r, err, sizeof(err));
	cr_assert_eq(code, c->code, "'%s': got %d (%s)", c->line, code, err);
	if (code != 0) {
		cr_assert(err[0] != '\0');
		return;
	}
	cr_assert_eq(r.argc, c->argc);
	if (r.argc > 0)
		cr_assert_str_eq(r.argv[r.argc - 1], c->last);
}

Test(ctl, long_names_refused)
{
	struct ctl_request	r;
	char			line[512], err[256];

	snprintf(line, sizeof(line), "create_group\t%065d", 1);
	cr_assert_eq(ctl_parse_request(line, &r, err, sizeof(err)), CTL_USAGE);
	snprintf(line, sizeof(line), "create_group\t%064d", 1);
	cr_assert_eq(ctl_parse_request(line, &r, err, sizeof(err)), 0);
}

Test(ctl, escape_roundtrip)
{
	struct buf	 b;
	char		*f[8], *line;
	const char	*in[] = { "a\tb", "c\\d", "e\nf", "", "plain" };
	int		 n, i;

	buf_init(&b, 4096);
	for (i = 0; i < 5; i++)
		cr_assert_eq(ctl_put_field(&b, in[i], i == 0), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	line = buf_head(&b);
	cr_assert_null(strchr(line, '\n'));
	n = ctl_split(line, f, 8);
	cr_assert_eq(n, 5);
	for (i = 0; i < 5; i++)
		cr_assert_str_eq(f[i], in[i]);
	buf_free(&b);
}

Test(ctl, split_limits)
{
	char	line[] = "a\tb\tc", bad[] = "a\\", *f[2];

	cr_assert_eq(ctl_split(line, f, 2), -1);
	cr_assert_eq(ctl_split(bad, f, 2), -1);
}

Test(ctl, format_request_then_parse)
{
	struct buf		 b;
	struct ctl_request	 r;
	char			*argv[] = { "upload_file", "/tmp/a\\b c/d.bin", "g" };
	char			 err[128], *nl;

	buf_init(&b, 4096);
	cr_assert_eq(ctl_format_request(&b, 3, argv), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	nl = strchr(buf_head(&b), '\n');
	cr_assert_not_null(nl);
	*nl = '\0';
	cr_assert_eq(ctl_parse_request(buf_head(&b), &r, err, sizeof(err)), 0);
	cr_assert_str_eq(r.argv[0], "/tmp/a\\b c/d.bin");
	buf_free(&b);
}

Test(ctl, records_and_status)
{
	struct buf		 b;
	struct ctl_reply	 r;
	const char		*kv[] = { "group", "team", "owner", "a=b\tc", NULL };
	char			*line, *nl;

	buf_init(&b, 4096);
	cr_assert_eq(ctl_put_record(&b, 'R', kv), 0);
	cr_assert_eq(ctl_put_status(&b, 1, "no such group: x\ty"), 0);
	cr_assert_eq(buf_append(&b, "", 1), 0);
	line = buf_head(&b);
	nl = strchr(line, '\n');
	*nl = '\0';
	cr_assert_eq(ctl_parse_reply(line, &r), 0);
	cr_assert_eq(r.kind, CTL_RECORD);
	cr_assert_eq(r.nfields, 2);
	cr_assert_str_eq(ctl_get(&r, "group"), "team");
	cr_assert_str_eq(ctl_get(&r, "owner"), "a=b\tc");
	cr_assert_null(ctl_get(&r, "nothing"));
	line = nl + 1;
	nl = strchr(line, '\n');
	*nl = '\0';
	cr_assert_eq(ctl_parse_reply(line, &r), 0);
	cr_assert_eq(r.kind, CTL_STATUS);
	cr_assert_eq(r.code, 1);
	cr_assert_str_eq(r.message, "no such group: x\ty");
	buf_free(&b);
}

struct bad_reply {
	char	line[64];
};

ParameterizedTestParameters(ctl, bad_replies)
{
	static struct bad_reply cases[] = {
		{ "" }, { "X\ta=b" }, { "R\tnovalue" }, { "R\t=v" },
		{ "S\t0" }, { "S\tx\tmsg" }, { "S\t256\tmsg" }, { "S\t-1\tmsg" },
		{ "S\t0\tm\textra" }, { "R\ta=\\x" }, { "r\ta=b" },
	};
	return cr_make_param_array(struct bad_reply, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_reply *c, ctl, bad_replies)
{
	struct ctl_reply	r;
	char			line[64];

	strcpy(line, c->line);
	cr_assert_eq(ctl_parse_reply(line, &r), -1, "'%s' accepted", c->line);
}

Test(ctl, progress_record)
{
	struct ctl_reply	r;
	char			line[] = "P\tbytes_done=10\tbytes_total=20";

	cr_assert_eq(ctl_parse_reply(line, &r), 0);
	cr_assert_eq(r.kind, CTL_PROGRESS);
	cr_assert_str_eq(ctl_get(&r, "bytes_total"), "20");
}

Test(ctl, table_complete)
{
	const char *names[] = { "create_user", "login", "logout",
	    "create_group", "join_group", "leave_group", "list_requests",
	    "accept_request", "reject_request", "list_groups", "list_files",
	    "upload_file", "download_file", "show_downloads", "stop_share",
	    "wait", "show_download", "cancel_download", "pause_download",
	    "resume_download", "show_history", "clear_history", "show_shares",
	    "show_limits", "set_limit" };
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_not_null(ctl_cmd_find(names[i]), "%s", names[i]);
	cr_assert_null(ctl_cmd_at(25));
}

Test(ctl, amounts)
{
	uint64_t	v;

	cr_assert_eq(ctl_parse_amount("0", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(ctl_parse_amount("512", &v), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(ctl_parse_amount("10M", &v), 0);
	cr_assert_eq(v, 10000000);
	cr_assert_eq(ctl_parse_amount("2k", &v), 0);
	cr_assert_eq(v, 2000);
	cr_assert_eq(ctl_parse_amount("1G", &v), 0);
	cr_assert_eq(v, 1000000000);
	cr_assert_eq(ctl_parse_amount("", &v), -1);
	cr_assert_eq(ctl_parse_amount("M", &v), -1);
	cr_assert_eq(ctl_parse_amount("1.5M", &v), -1);
	cr_assert_eq(ctl_parse_amount("-1", &v), -1);
	cr_assert_eq(ctl_parse_amount("10MB", &v), -1);
	cr_assert_eq(ctl_parse_amount("99999999999999999999", &v), -1);
	cr_assert_eq(ctl_parse_amount("18446744073709552G", &v), -1);
}

Test(ctl, socket_rule)
{
	char	path[256];

	setenv("P2PSHARE_SOCKET", "/x/p.sock", 1);
	setenv("XDG_RUNTIME_DIR", "/run/xdg", 1);
	cr_assert_eq(ctl_default_socket(path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/x/p.sock");
	unsetenv("P2PSHARE_SOCKET");
	cr_assert_eq(ctl_default_socket(path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/run/xdg/p2pshare/peerd.sock");
	unsetenv("XDG_RUNTIME_DIR");
	setenv("HOME", "/home/u", 1);
	cr_assert_eq(ctl_default_socket(path, sizeof(path)), 0);
	/* /run/user/UID when it exists, else the home directory */
	cr_assert(strcmp(path, "/home/u/.p2pshare/peerd.sock") == 0 ||
	    strncmp(path, "/run/user/", 10) == 0, "%s", path);
	cr_assert_eq(ctl_default_socket(path, 8), -1);
}
