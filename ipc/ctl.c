/* The control protocol shared by sharectl and peerd: the command table,
 * argument validation, and the one parser of request and reply lines. */
#include <sys/stat.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/ctl.h"
#include "ipc/names.h"

#define U	CTL_ARG_USER
#define G	CTL_ARG_GROUP
#define F	CTL_ARG_FILE
#define PW	CTL_ARG_PASSWORD
#define PA	CTL_ARG_PATH
#define K	CTL_ARG_KEEP
#define LN	CTL_ARG_LIMIT
#define LV	CTL_ARG_AMOUNT

static const struct ctl_cmd cmds[] = {
	{ "create_user",	2, { U, PW },	0, 0, "USER PASSWORD", 0 },
	{ "login",		2, { U, PW },	0, 0, "USER PASSWORD", 0 },
	{ "logout",		0, { 0 },	1, 0, "", 0 },
	{ "create_group",	1, { G },	1, 0, "GROUP", 0 },
	{ "join_group",		1, { G },	1, 0, "GROUP", 0 },
	{ "leave_group",	1, { G },	1, 0, "GROUP", 0 },
	{ "list_requests",	1, { G },	1, 1, "GROUP", 0 },
	{ "accept_request",	2, { G, U },	1, 0, "GROUP USER", 0 },
	{ "reject_request",	2, { G, U },	1, 0, "GROUP USER", 0 },
	{ "list_groups",	0, { 0 },	1, 1, "", 0 },
	{ "list_files",		1, { G },	1, 1, "GROUP", 0 },
	{ "upload_file",	2, { PA, G },	1, 0, "PATH GROUP", 0 },
	{ "download_file",	3, { G, F, PA },	1, 0, "GROUP FILE DEST_DIR", 0 },
	{ "show_downloads",	0, { 0 },	0, 1, "", 0 },
	{ "stop_share",		2, { G, F },	1, 0, "GROUP FILE", 0 },
	{ "wait",		2, { G, F },	0, 0, "GROUP FILE", 0 },
	{ "show_download",	2, { G, F },	0, 0, "GROUP FILE", 0 },
	{ "cancel_download",	2, { G, F, K },	0, 0, "GROUP FILE [keep]", 1 },
	{ "pause_download",	2, { G, F },	0, 0, "GROUP FILE", 0 },
	{ "resume_download",	2, { G, F },	0, 0, "GROUP FILE", 0 },
	{ "show_history",	0, { 0 },	0, 1, "", 0 },
	{ "clear_history",	0, { 0 },	0, 0, "", 0 },
	{ "show_shares",	0, { 0 },	0, 1, "", 0 },
	{ "show_limits",	0, { 0 },	0, 0, "", 0 },
	{ "set_limit",		2, { LN, LV },	0, 0,
	    "upload_rate|download_rate|max_active VALUE", 0 },
};

const struct ctl_cmd *
ctl_cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

const struct ctl_cmd *
ctl_cmd_at(int i)
{
	if (i < 0 || (size_t)i >= sizeof(cmds) / sizeof(cmds[0]))
		return NULL;
	return &cmds[i];
}

static int
path_valid(const char *s, int relpath_ok)
{
	const unsigned char *p;

	if (*s == '\0' || strlen(s) >= 4096)
		return 0;
	if (!relpath_ok && *s != '/')
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* The base name of an uploaded file must be a valid name too. */
static int
upload_base_valid(const char *path)
{
	const char	*b = strrchr(path, '/');

	return name_valid(b ? b + 1 : path);
}

static int
arg_valid(enum ctl_argtype t, const char *s, int relpath_ok)
{
	switch (t) {
	case CTL_ARG_USER:
	case CTL_ARG_GROUP:
	case CTL_ARG_FILE:
		return name_valid(s);
	case CTL_ARG_PASSWORD:
		return password_valid(s);
	case CTL_ARG_PATH:
		return path_valid(s, relpath_ok);
	case CTL_ARG_KEEP:
		return strcmp(s, "keep") == 0;
	case CTL_ARG_LIMIT:
		return strcmp(s, "upload_rate") == 0 ||
		    strcmp(s, "download_rate") == 0 ||
		    strcmp(s, "max_active") == 0;
	case CTL_ARG_AMOUNT:
		return ctl_parse_amount(s, NULL) == 0;
	}
	return 0;
}

/* "0", "512", "10M", "1.5M" is not allowed: digits and one of k, M, G
 * (powers of 1000, as rates are quoted). */
int
ctl_parse_amount(const char *s, uint64_t *out)
{
	char		 num[24];
	size_t		 n = strlen(s);
	uint64_t	 v, mul = 1;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K':
		mul = 1000;
		break;
	case 'm': case 'M':
		mul = 1000000;
		break;
	case 'g': case 'G':
		mul = 1000000000;
		break;
	}
	if (mul != 1)
		num[n - 1] = '\0';
	if (parse_u64(num, 0, UINT64_MAX / mul, &v) == -1)
		return -1;
	if (out != NULL)
		*out = v * mul;
	return 0;
}

static const char *
arg_what(enum ctl_argtype t)
{
	switch (t) {
	case CTL_ARG_USER:
		return "user name";
	case CTL_ARG_GROUP:
		return "group name";
	case CTL_ARG_FILE:
		return "file name";
	case CTL_ARG_PASSWORD:
		return "password";
	case CTL_ARG_PATH:
		return "path";
	case CTL_ARG_KEEP:
		return "option (only 'keep')";
	case CTL_ARG_LIMIT:
		return "limit (upload_rate, download_rate or max_active)";
	case CTL_ARG_AMOUNT:
		return "amount (digits, optionally k, M or G)";
	}
	return "argument";
}

int
ctl_validate(const struct ctl_cmd *c, int argc, char *const argv[],
    int relpath_ok, char *err, size_t errlen)
{
	int	i;

	if (argc < c->argc || argc > c->argc + c->optional) {
		snprintf(err, errlen, "usage: %s%s%s", c->name,
		    c->usage[0] ? " " : "", c->usage);
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (arg_valid(c->args[i], argv[i], relpath_ok))
			continue;
		if (c->args[i] == CTL_ARG_PASSWORD)
			snprintf(err, errlen, "bad password: 1 to %d printable "
			    "characters without spaces", PASSWORD_MAX_LEN);
		else if (c->args[i] == CTL_ARG_PATH)
			snprintf(err, errlen, "bad path");
		else if (c->args[i] >= CTL_ARG_KEEP)
			snprintf(err, errlen, "bad %s '%.64s'",
			    arg_what(c->args[i]), argv[i]);
		else
			snprintf(err, errlen, "bad %s '%.64s': 1 to %d of "
			    "[A-Za-z0-9._-], not starting with '.'",
			    arg_what(c->args[i]), argv[i], NAME_MAX_LEN);
		return -1;
	}
	if (strcmp(c->name, "upload_file") == 0 && !upload_base_valid(argv[0])) {
		snprintf(err, errlen, "bad file name: the base name of PATH "
		    "must be 1 to %d of [A-Za-z0-9._-], not starting with '.'",
		    NAME_MAX_LEN);
		return -1;
	}
	return 0;
}

static int
unescape(char *s)
{
	char	*w = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\':
			*w++ = '\\';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'n':
			*w++ = '\n';
			break;
		default:
			return -1;
		}
	}
	*w = '\0';
	return 0;
}

int
ctl_split(char *line, char **fields, int maxfields)
{
	int	 n = 0;
	char	*p = line, *tab;

	for (;;) {
		if (n == maxfields)
			return -1;
		fields[n] = p;
		if ((tab = strchr(p, '\t')) != NULL)
			*tab = '\0';
		if (unescape(fields[n]) == -1)
			return -1;
		n++;
		if (tab == NULL)
			return n;
		p = tab + 1;
	}
}

int
ctl_put_field(struct buf *b, const char *field, int first)
{
	const char	*p;
	char		 esc[2] = { '\\', 0 };

	if (!first && buf_append(b, "\t", 1) == -1)
		return -1;
	for (p = field; *p; p++) {
		switch (*p) {
		case '\\':
			esc[1] = '\\';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		default:
			if (buf_append(b, p, 1) == -1)
				return -1;
			continue;
		}
		if (buf_append(b, esc, 2) == -1)
			return -1;
	}
	return 0;
}

int
ctl_parse_request(char *line, struct ctl_request *r, char *err, size_t errlen)
{
	char	*f[CTL_MAX_ARGS + 2];
	int	 n, i;

	memset(r, 0, sizeof(*r));
	if (strlen(line) > CTL_MAX_LINE ||
	    (n = ctl_split(line, f, CTL_MAX_ARGS + 2)) == -1) {
		snprintf(err, errlen, "malformed request");
		return CTL_USAGE;
	}
	if ((r->cmd = ctl_cmd_find(f[0])) == NULL) {
		snprintf(err, errlen, "unknown command '%.64s'", f[0]);
		return CTL_USAGE;
	}
	if (n - 1 > CTL_MAX_ARGS) {
		snprintf(err, errlen, "too many arguments");
		return CTL_USAGE;
	}
	r->argc = n - 1;
	for (i = 0; i < r->argc; i++)
		r->argv[i] = f[i + 1];
	if (ctl_validate(r->cmd, r->argc, r->argv, 0, err, errlen) == -1)
		return CTL_USAGE;
	return 0;
}

int
ctl_format_request(struct buf *b, int argc, char *const argv[])
{
	int	i;

	for (i = 0; i < argc; i++)
		if (ctl_put_field(b, argv[i], i == 0) == -1)
			return -1;
	return buf_append(b, "\n", 1);
}

static int
parse_status(char **f, int n, struct ctl_reply *r)
{
	uint64_t	code;

	if (n != 3 || parse_u64(f[1], 0, 255, &code) == -1)
		return -1;
	r->kind = CTL_STATUS;
	r->code = (int)code;
	r->message = f[2];
	return 0;
}

int
ctl_parse_reply(char *line, struct ctl_reply *r)
{
	char	*f[CTL_MAX_FIELDS + 1], *eq;
	int	 n, i;

	memset(r, 0, sizeof(*r));
	if ((n = ctl_split(line, f, CTL_MAX_FIELDS + 1)) == -1)
		return -1;
	if (strcmp(f[0], "S") == 0)
		return parse_status(f, n, r);
	if (strcmp(f[0], "R") == 0)
		r->kind = CTL_RECORD;
	else if (strcmp(f[0], "P") == 0)
		r->kind = CTL_PROGRESS;
	else
		return -1;
	for (i = 1; i < n; i++) {
		if ((eq = strchr(f[i], '=')) == NULL || eq == f[i])
			return -1;
		*eq = '\0';
		r->key[r->nfields] = f[i];
		r->value[r->nfields++] = eq + 1;
	}
	return 0;
}

const char *
ctl_get(const struct ctl_reply *r, const char *key)
{
	int	i;

	for (i = 0; i < r->nfields; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->value[i];
	return NULL;
}

int
ctl_put_record(struct buf *b, char kind, const char *const kv[])
{
	char	k[2] = { kind, 0 };
	int	i;

	if (buf_append(b, k, 1) == -1)
		return -1;
	for (i = 0; kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
		if (i / 2 >= CTL_MAX_FIELDS)
			return -1;
		if (buf_append(b, "\t", 1) == -1 ||
		    ctl_put_field(b, kv[i], 1) == -1 ||
		    buf_append(b, "=", 1) == -1 ||
		    ctl_put_field(b, kv[i + 1], 1) == -1)
			return -1;
	}
	return buf_append(b, "\n", 1);
}

int
ctl_put_status(struct buf *b, int code, const char *message)
{
	if (buf_printf(b, "S\t%d\t", code) == -1 ||
	    ctl_put_field(b, message, 1) == -1)
		return -1;
	return buf_append(b, "\n", 1);
}

/* The home directory: $HOME when absolute, else the password file's. */
static const char *
home_dir(void)
{
	const char	*home = getenv("HOME");
	struct passwd	*pw;

	if ((home == NULL || home[0] != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || strcmp(home, "/") == 0)
		home = "";
	return home;
}

int
ctl_default_socket(char *out, size_t outlen)
{
	const char	*env = getenv(CTL_SOCKET_ENV);
	const char	*xdg = getenv("XDG_RUNTIME_DIR");
	char		 run[64];
	struct stat	 st;
	int		 n;

	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
	if (env != NULL && env[0] != '\0')
		n = snprintf(out, outlen, "%s", env);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/p2pshare/peerd.sock", xdg);
	else if (stat(run, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == getuid())
		n = snprintf(out, outlen, "%s/p2pshare/peerd.sock", run);
	else
		n = snprintf(out, outlen, "%s/.p2pshare/peerd.sock",
		    home_dir());
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
