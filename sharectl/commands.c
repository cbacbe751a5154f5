/* sharectl's command table, argument checks (before anything is sent) and
 * the printers that turn peerd's records into TSV lines or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "sharectl/sharectl.h"

static void	print_values(FILE *, const struct ctl_reply *);
static void	print_download(FILE *, const struct ctl_reply *);
static void	print_status(FILE *, const struct ctl_reply *);
static void	print_keys(FILE *, const struct ctl_reply *);

/* Argument counts, types and whether a session is needed come from the
 * protocol table in ipc/ctl.c, which peerd checks against too. */
static struct sc_cmd commands[] = {
	{ "create_user",	print_values,	NULL },
	{ "login",		print_values,	NULL },
	{ "logout",		print_values,	NULL },
	{ "create_group",	print_values,	NULL },
	{ "join_group",		print_values,	NULL },
	{ "leave_group",	print_values,	NULL },
	{ "list_requests",	print_values,	NULL },
	{ "accept_request",	print_values,	NULL },
	{ "reject_request",	print_values,	NULL },
	{ "list_groups",	print_values,	NULL },
	{ "list_files",		print_values,	NULL },
	{ "upload_file",	print_values,	NULL },
	{ "download_file",	print_values,	NULL },
	{ "show_downloads",	print_download,	NULL },
	{ "stop_share",		print_values,	NULL },
	{ "wait",		print_download,	NULL },
	{ "show_download",	print_status,	NULL },
	{ "cancel_download",	print_values,	NULL },
	{ "pause_download",	print_values,	NULL },
	{ "resume_download",	print_values,	NULL },
	{ "show_history",	print_status,	NULL },
	{ "clear_history",	print_values,	NULL },
	{ "show_shares",	print_values,	NULL },
	{ "show_limits",	print_keys,	NULL },
	{ "set_limit",		print_values,	NULL },
};

const struct sc_cmd *
sc_cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		if (commands[i].proto == NULL)
			commands[i].proto = ctl_cmd_find(name);
		return commands[i].proto ? &commands[i] : NULL;
	}
	return NULL;
}

void
sc_usage_line(const struct ctl_cmd *c, char *out, size_t outlen)
{
	snprintf(out, outlen, "usage: sharectl %s%s%s", c->name,
	    c->usage[0] ? " " : "", c->usage);
}

/* Absolute form of p against the cwd, with its directory resolved and
 * its base name kept (the share is named after what the user typed). */
static int
resolve_upload(const char *p, char *out, size_t outlen)
{
	char	 dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(p, '/'), *base;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = p;
	} else if (slash == p) {
		snprintf(dir, sizeof(dir), "/");
		base = slash + 1;
	} else {
		if ((size_t)(slash - p) >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, p, (size_t)(slash - p));
		dir[slash - p] = '\0';
		base = slash + 1;
	}
	if (realpath(dir, real) == NULL)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s/%s", strcmp(real, "/") == 0 ?
	    "" : real, base) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
resolve_paths(struct sc_call *call, char *err, size_t errlen)
{
	const struct ctl_cmd	*c = call->cmd->proto;
	int			 i, r;

	for (i = 0; i < c->argc; i++) {
		if (c->args[i] != CTL_ARG_PATH)
			continue;
		if (strcmp(c->name, "upload_file") == 0)
			r = resolve_upload(call->argv[i + 1], call->paths[i],
			    PATH_MAX);
		else
			r = realpath(call->argv[i + 1], call->paths[i]) ?
			    0 : -1;
		if (r == -1) {
			snprintf(err, errlen, "%.1024s: %s", call->argv[i + 1],
			    strerror(errno));
			return CTL_FAIL;
		}
		call->argv[i + 1] = call->paths[i];
	}
	return 0;
}

int
sc_prepare(int argc, char *const argv[], struct sc_call *call, char *err,
    size_t errlen)
{
	char	usage[256], why[512];
	int	i;

	memset(call, 0, sizeof(*call));
	if (argc < 1 || (call->cmd = sc_cmd_find(argv[0])) == NULL) {
		snprintf(err, errlen, "unknown command '%.64s' (sharectl -h "
		    "lists them)", argc < 1 ? "" : argv[0]);
		return CTL_USAGE;
	}
	sc_usage_line(call->cmd->proto, usage, sizeof(usage));
	if (argc - 1 < call->cmd->proto->argc ||
	    argc - 1 > call->cmd->proto->argc + call->cmd->proto->optional) {
		snprintf(err, errlen, "%s", usage);
		return CTL_USAGE;
	}
	if (ctl_validate(call->cmd->proto, argc - 1, argv + 1, 1, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s (%s)", why, usage);
		return CTL_USAGE;
	}
	call->argc = argc;
	for (i = 0; i < argc; i++)
		call->argv[i] = argv[i];
	return resolve_paths(call, err, errlen);
}

unsigned
sc_percent(unsigned long long done, unsigned long long total, int complete)
{
	if (complete)
		return 100;
	if (total == 0)
		return 0;
	if (done >= total)
		return 99;	/* 100 only once verified and in place */
	return (unsigned)((long double)done * 100 / total);
}

static void
print_values(FILE *fp, const struct ctl_reply *r)
{
	int	i;

	for (i = 0; i < r->nfields; i++)
		fprintf(fp, "%s%s", i ? "\t" : "", r->value[i]);
	fputc('\n', fp);
}

static unsigned long long
num(const struct ctl_reply *r, const char *key)
{
	const char	*v = ctl_get(r, key);
	uint64_t	 n;

	if (v == NULL || parse_u64(v, 0, UINT64_MAX, &n) == -1)
		return 0;
	return n;
}

static void
print_download(FILE *fp, const struct ctl_reply *r)
{
	const char	*state = ctl_get(r, "state"), *g, *f, *tag = "D";

	if (state == NULL) {
		print_values(fp, r);
		return;
	}
	if (strcmp(state, "complete") == 0)
		tag = "C";
	else if (strcmp(state, "failed") == 0)
		tag = "F";
	else if (strcmp(state, "paused") == 0)
		tag = "P";
	else if (strcmp(state, "queued") == 0)
		tag = "Q";
	g = ctl_get(r, "group");
	f = ctl_get(r, "file");
	fprintf(fp, "[%s] [%s] %s\t%u\t%llu\t%llu\n", tag, g ? g : "",
	    f ? f : "", sc_percent(num(r, "bytes_done"), num(r, "bytes_total"),
	    *tag == 'C'), num(r, "bytes_done"), num(r, "bytes_total"));
}

/*
 * One download, one field per column: state, group, file, destination,
 * percent, bytes done, bytes total, pieces done, pieces total, bytes per
 * second, seconds left ("-" unknown), seeders connected, and the reason
 * of a failure or stall ("-" if none).
 */
static void
print_status(FILE *fp, const struct ctl_reply *r)
{
	const char	*state = ctl_get(r, "state"), *eta, *err;

	if (state == NULL) {
		print_values(fp, r);
		return;
	}
	eta = ctl_get(r, "eta_seconds");
	err = ctl_get(r, "error");
	fprintf(fp, "%s\t%s\t%s\t%s\t%u\t%llu\t%llu\t%llu\t%llu\t%llu\t%s"
	    "\t%llu\t%s\n", state, ctl_get(r, "group") ? ctl_get(r, "group") :
	    "", ctl_get(r, "file") ? ctl_get(r, "file") : "",
	    ctl_get(r, "destination") ? ctl_get(r, "destination") : "",
	    sc_percent(num(r, "bytes_done"), num(r, "bytes_total"),
	    strcmp(state, "complete") == 0), num(r, "bytes_done"),
	    num(r, "bytes_total"), num(r, "pieces_done"),
	    num(r, "pieces_total"), num(r, "bytes_per_second"),
	    eta != NULL && eta[0] != '\0' ? eta : "-", num(r, "seeders"),
	    err != NULL && err[0] != '\0' ? err : "-");
}

/* A settings record: one "key<TAB>value" line per field. */
static void
print_keys(FILE *fp, const struct ctl_reply *r)
{
	int	i;

	for (i = 0; i < r->nfields; i++)
		fprintf(fp, "%s\t%s\n", r->key[i], r->value[i]);
}

void
sc_json_string(FILE *fp, const char *s)
{
	const unsigned char *p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(fp, "\\u%04x", *p);
			else
				fputc(*p, fp);
		}
	}
	fputc('"', fp);
}

/* Fields printed as JSON numbers (when they are numbers). */
static int
numeric_key(const char *k)
{
	static const char *keys[] = { "size", "seeders", "bytes_done",
	    "bytes_total", "pieces_done", "pieces_total", "bytes_per_second",
	    "percent", "seeders", "eta_seconds", "finished_at", "uploaded",
	    "peers_served", "upload_rate", "download_rate", "max_active",
	    "upload_bytes_per_second", "download_bytes_per_second", "active",
	    "queued", NULL };
	int	i;

	for (i = 0; keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return 1;
	return 0;
}

static void
json_object(FILE *fp, const struct ctl_reply *r)
{
	uint64_t	n;
	int		i;

	fputc('{', fp);
	for (i = 0; i < r->nfields; i++) {
		if (i)
			fputc(',', fp);
		sc_json_string(fp, r->key[i]);
		fputc(':', fp);
		if (numeric_key(r->key[i]) &&
		    parse_u64(r->value[i], 0, UINT64_MAX, &n) == 0)
			fprintf(fp, "%llu", (unsigned long long)n);
		else
			sc_json_string(fp, r->value[i]);
	}
	fputc('}', fp);
}

void
sc_output_begin(struct sc_output *o, const struct sc_cmd *cmd, int json,
    FILE *fp)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->json = json;
	o->fp = fp;
}

/*
 * JSON is written as records arrive (so a long list needs no memory); a
 * failed command's partial document is never started because peerd only
 * sends records for answers that succeeded.
 */
void
sc_output_record(struct sc_output *o, const struct ctl_reply *r)
{
	if (!o->json) {
		o->cmd->print(o->fp, r);
		return;
	}
	if (o->cmd->proto->list)
		fputs(o->nrecords == 0 ? "[" : ",", o->fp);
	else if (o->nrecords > 0)
		return;		/* an object answer has one record */
	json_object(o->fp, r);
	o->nrecords++;
}

void
sc_output_end(struct sc_output *o, int ok)
{
	if (o->json && o->cmd->proto->list) {
		if (o->nrecords == 0 && ok)
			fputs("[", o->fp);
		if (o->nrecords > 0 || ok)
			fputs("]\n", o->fp);
	} else if (o->json) {
		if (o->nrecords == 0 && ok)
			fputs("{}", o->fp);
		if (o->nrecords > 0 || ok)
			fputc('\n', o->fp);
	}
	fflush(o->fp);
}
