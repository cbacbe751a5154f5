/* Unit tests of sharectl's argument checks and path resolution
 * (sharectl/commands.c) and of its output formatting (TSV, JSON). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sharectl/sharectl.h"

struct args_case {
	char	words[5][80];
	int	n;
	int	code;
};

ParameterizedTestParameters(sharectl, args)
{
	static struct args_case cases[] = {
		{ { "login", "alice", "pw" }, 3, 0 },
		{ { "create_user", "a_b-c.d", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~" }, 3, 0 },
		{ { "logout" }, 1, 0 },
		{ { "list_groups" }, 1, 0 },
		{ { "show_downloads" }, 1, 0 },
		{ { "wait", "g", "f" }, 3, 0 },
		{ { "accept_request", "g", "u" }, 3, 0 },
		{ { "download_file", "g", "f", "/tmp" }, 4, 0 },
		{ { "download_file", "g", "f", "." }, 4, 0 },
		{ { "upload_file", "/tmp/new.bin", "g" }, 3, 0 },
		{ { "upload_file", "rel.bin", "g" }, 3, 0 },
		{ { "nosuch" }, 1, CTL_USAGE },
		{ { "Login", "a", "b" }, 3, CTL_USAGE },
		{ { "login", "alice" }, 2, CTL_USAGE },
		{ { "login", "alice", "pw", "x" }, 4, CTL_USAGE },
		{ { "login", "-alice", "pw" }, 3, 0 },
		{ { "login", ".alice", "pw" }, 3, CTL_USAGE },
		{ { "login", "al/ice", "pw" }, 3, CTL_USAGE },
		{ { "login", "alice", "p w" }, 3, CTL_USAGE },
		{ { "login", "alice", "" }, 3, CTL_USAGE },
		{ { "login", "", "pw" }, 3, CTL_USAGE },
		{ { "logout", "x" }, 2, CTL_USAGE },
		{ { "list_files" }, 1, CTL_USAGE },
		{ { "create_group", "g\303\251" }, 2, CTL_USAGE },
		{ { "upload_file", "/tmp/.hidden", "g" }, 3, CTL_USAGE },
		{ { "upload_file", "/tmp/", "g" }, 3, CTL_USAGE },
		{ { "upload_file", "/tmp/a b", "g" }, 3, CTL_USAGE },
		{ { "upload_file", "/no/such/dir/a", "g" }, 3, CTL_FAIL },
		{ { "download_file", "g", "f", "/no/such/dir" }, 4, CTL_FAIL },
		{ { "download_file", "g", "..", "/tmp" }, 4, CTL_USAGE },
		{ { "stop_share", "g" }, 2, CTL_USAGE },
	};
	return cr_make_param_array(struct args_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct args_case *c, sharectl, args)
{
	struct sc_call	 call;
	char		*argv[5], err[PATH_MAX + 256] = "";
	int		 i, code;

	for (i = 0; i < c->n; i++)
		argv[i] = c->words[i];
	code = sc_prepare(c->n, argv, &call, err, sizeof(err));
	cr_assert_eq(code, c->code, "%s: got %d (%s)", c->words[0], code, err);
	if (code != 0)
		cr_assert(err[0] != '\0');
	else
		for (i = 1; i < call.argc; i++)
			cr_assert(call.argv[i][0] != '\0');
}

Test(sharectl, relative_paths_made_absolute)
{
	struct sc_call	 call;
	char		 cwd[PATH_MAX], want[PATH_MAX + 16], err[256];
	char		*up[] = { "upload_file", "./x/../data.bin", "g" };
	char		*dl[] = { "download_file", "g", "f", "." };

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(sc_prepare(3, up, &call, err, sizeof(err)), CTL_FAIL,
	    "x/ does not exist");
	up[1] = "./data.bin";
	cr_assert_eq(sc_prepare(3, up, &call, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/data.bin", strcmp(cwd, "/") ? cwd : "");
	cr_assert_str_eq(call.argv[1], want);
	cr_assert_str_eq(call.argv[2], "g");
	cr_assert_eq(sc_prepare(4, dl, &call, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(call.argv[3], cwd);
}

Test(sharectl, usage_line)
{
	char	line[128];

	sc_usage_line(ctl_cmd_find("download_file"), line, sizeof(line));
	cr_assert_str_eq(line, "usage: sharectl download_file GROUP FILE DEST_DIR");
	sc_usage_line(ctl_cmd_find("logout"), line, sizeof(line));
	cr_assert_str_eq(line, "usage: sharectl logout");
}

static char *
render(const char *cmd, int json, const char *lines[], int ok)
{
	struct sc_output	 o;
	struct ctl_reply	 r;
	char			*mem = NULL, line[512];
	size_t			 memlen = 0;
	FILE			*fp = open_memstream(&mem, &memlen);
	int			 i;

	sc_output_begin(&o, sc_cmd_find(cmd), json, fp);
	for (i = 0; lines[i]; i++) {
		strcpy(line, lines[i]);
		cr_assert_eq(ctl_parse_reply(line, &r), 0);
		sc_output_record(&o, &r);
	}
	sc_output_end(&o, ok);
	fclose(fp);
	return mem;
}

Test(sharectl, tsv_download_lines)
{
	const char *lines[] = {
	    "R\tstate=downloading\tgroup=g\tfile=a.bin\tdestination=/t/a.bin"
	    "\tbytes_done=512\tbytes_total=2048",
	    "R\tstate=complete\tgroup=g\tfile=b\tbytes_done=7\tbytes_total=7",
	    "R\tstate=failed\tgroup=h\tfile=c\tbytes_done=0\tbytes_total=0"
	    "\terror=no seeder",
	    NULL };
	char	*s = render("show_downloads", 0, lines, 1);

	cr_assert_str_eq(s, "[D] [g] a.bin\t25\t512\t2048\n"
	    "[C] [g] b\t100\t7\t7\n[F] [h] c\t0\t0\t0\n");
	free(s);
}

Test(sharectl, json_list_and_object)
{
	const char *files[] = { "R\tfile=a\"b\tsize=10\tsha1=ab\tseeders=2",
	    "R\tfile=c\\\\d\tsize=x", NULL };
	const char *none[] = { NULL };
	const char *msg[] = { "R\tmessage=logged in\\tas\\nalice", NULL };
	char	*s;

	s = render("list_files", 1, files, 1);
	cr_assert_str_eq(s, "[{\"file\":\"a\\\"b\",\"size\":10,\"sha1\":\"ab\","
	    "\"seeders\":2},{\"file\":\"c\\\\d\",\"size\":\"x\"}]\n");
	free(s);
	s = render("list_groups", 1, none, 1);
	cr_assert_str_eq(s, "[]\n");
	free(s);
	s = render("list_groups", 1, none, 0);
	cr_assert_str_eq(s, "");
	free(s);
	s = render("login", 1, msg, 1);
	cr_assert_str_eq(s, "{\"message\":\"logged in\\tas\\nalice\"}\n");
	free(s);
	s = render("login", 0, msg, 1);
	cr_assert_str_eq(s, "logged in\tas\nalice\n");
	free(s);
}

Test(sharectl, percent)
{
	cr_assert_eq(sc_percent(0, 0, 0), 0);
	cr_assert_eq(sc_percent(0, 0, 1), 100);
	cr_assert_eq(sc_percent(1, 3, 0), 33);
	cr_assert_eq(sc_percent(3, 3, 0), 99);
	cr_assert_eq(sc_percent(1ull << 40, 1ull << 41, 0), 50);
}

Test(sharectl, optional_keep_argument)
{
	struct sc_call	 call;
	char		 err[256];
	char		*c2[] = { "cancel_download", "g", "f" };
	char		*c3[] = { "cancel_download", "g", "f", "keep" };
	char		*bad[] = { "cancel_download", "g", "f", "kept" };
	char		*four[] = { "cancel_download", "g", "f", "keep", "x" };
	char		*lim[] = { "set_limit", "download_rate", "10M" };
	char		*badlim[] = { "set_limit", "speed", "10M" };
	char		*badval[] = { "set_limit", "upload_rate", "1.5M" };

	cr_assert_eq(sc_prepare(3, c2, &call, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sc_prepare(4, c3, &call, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sc_prepare(4, bad, &call, err, sizeof(err)), CTL_USAGE);
	cr_assert_eq(sc_prepare(5, four, &call, err, sizeof(err)), CTL_USAGE);
	cr_assert_eq(sc_prepare(3, lim, &call, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sc_prepare(3, badlim, &call, err, sizeof(err)), CTL_USAGE);
	cr_assert_eq(sc_prepare(3, badval, &call, err, sizeof(err)), CTL_USAGE);
}

Test(sharectl, tsv_new_states_and_one_download)
{
	const char *lines[] = {
	    "R\tstate=paused\tgroup=g\tfile=p\tbytes_done=1\tbytes_total=4",
	    "R\tstate=queued\tgroup=g\tfile=q\tbytes_done=0\tbytes_total=4",
	    "R\tstate=stalled\tgroup=g\tfile=s\tbytes_done=0\tbytes_total=4"
	    "\terror=no seeder",
	    NULL };
	const char *one[] = {
	    "R\tstate=stalled\tgroup=g\tfile=s\tdestination=/d/s"
	    "\tbytes_done=1024\tbytes_total=4096\tpieces_done=1"
	    "\tpieces_total=4\tbytes_per_second=0\tseeders=0\teta_seconds="
	    "\terror=no seeder could be reached",
	    NULL };
	char	*s = render("show_downloads", 0, lines, 1);

	cr_assert_str_eq(s, "[P] [g] p\t25\t1\t4\n[Q] [g] q\t0\t0\t4\n"
	    "[D] [g] s\t0\t0\t4\n");
	free(s);
	s = render("show_download", 0, one, 1);
	cr_assert_str_eq(s, "stalled\tg\ts\t/d/s\t25\t1024\t4096\t1\t4\t0\t-\t0"
	    "\tno seeder could be reached\n");
	free(s);
	s = render("show_download", 1, one, 1);
	cr_assert(strstr(s, "\"seeders\":0") != NULL, "%s", s);
	cr_assert(strstr(s, "\"eta_seconds\":\"\"") != NULL, "%s", s);
	free(s);
}
