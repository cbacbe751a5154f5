/* sharectl: the one-shot CLI that drives peerd over its Unix socket; one
 * command from argv, or one per line from stdin. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/readpassphrase.h>

#include "ipc/ctl.h"
#include "ipc/names.h"
#include "ipc/net.h"
#include "ipc/proto.h"
#include "ipc/util.h"
#include "ipc/text.h"
#include "ipc/version.h"
#include "sharectl/sharectl.h"

#define DEFAULT_TIMEOUT_S	30
#define HASH_BYTES_PER_S	(50u << 20)	/* upload_file: a slow disk */

static char	 sockpath[PATH_MAX];
static int	 timeout_s = DEFAULT_TIMEOUT_S;
static int	 stop_on_error;		/* -e: batch stops at a failure */
static int	 pw_stdin;		/* --password-stdin */
static const char *pw_file;		/* --password-file */

/* Per command: options after the command name apply to it only. */
struct opts {
	int	json;
};
static struct opts	 gopts;

static int	run(int, char *[], const struct opts *, int);

static void
usage(FILE *fp)
{
	const struct ctl_cmd	*c;
	int			 i;

	fprintf(fp, "usage: sharectl [-ehijV] [-P password_file] [-S socket] "
	    "[-t seconds] [command [argument ...]]\n"
	    "commands:\n");
	for (i = 0; (c = ctl_cmd_at(i)) != NULL; i++)
		fprintf(fp, "  %s%s%s\n", c->name, c->usage[0] ? " " : "",
		    c->usage);
}

static int
ctl_connect(void)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
human(char *out, size_t n, double bytes)
{
	const char	*units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int		 u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* "\r 42% [########............] 21.0 MiB/50.0 MiB 10.1 MiB/s ETA 0:03" */
static void
progress(const struct ctl_reply *r)
{
	uint64_t	done = 0, total = 0, rate = 0, eta;
	char		bar[21], d[32], t[32], s[32];
	unsigned	pct, i;

	parse_u64(ctl_get(r, "bytes_done") ? ctl_get(r, "bytes_done") : "0",
	    0, UINT64_MAX, &done);
	parse_u64(ctl_get(r, "bytes_total") ? ctl_get(r, "bytes_total") : "0",
	    0, UINT64_MAX, &total);
	parse_u64(ctl_get(r, "bytes_per_second") ?
	    ctl_get(r, "bytes_per_second") : "0", 0, UINT64_MAX, &rate);
	pct = total ? (unsigned)((long double)done * 100 / total) : 0;
	for (i = 0; i < 20; i++)
		bar[i] = i < pct / 5 ? '#' : '.';
	bar[20] = '\0';
	human(d, sizeof(d), (double)done);
	human(t, sizeof(t), (double)total);
	human(s, sizeof(s), (double)rate);
	fprintf(stderr, "\r%3u%% [%s] %s/%s %s/s ", pct, bar, d, t, s);
	if (done >= total)
		fputs("done     ", stderr);
	else if (rate == 0)
		fputs("ETA --:--", stderr);
	else {
		eta = (total - done + rate - 1) / rate;
		fprintf(stderr, "ETA %llu:%02llu", (unsigned long long)(eta / 60),
		    (unsigned long long)(eta % 60));
	}
	fflush(stderr);
}

/* An answer's text comes from trackers and peers by way of peerd: no
 * control byte of it reaches the terminal. */
static void
clean_reply(struct ctl_reply *r)
{
	int	i;

	for (i = 0; i < r->nfields; i++)
		text_clean(r->value[i]);
	if (r->message != NULL)
		text_clean(r->message);
}

/* Wait for the answer to be readable: 1, or 0 after ms (ms < 0: never). */
static int
readable(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	int		r;

	while ((r = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	return r != 0;
}

/* Read replies until the status line; returns its code. ms bounds each
 * wait for peerd (< 0: no bound, for `wait`). */
static int
read_answer(int fd, const struct sc_cmd *cmd, const struct opts *o, int ms)
{
	struct sc_output	 out;
	struct ctl_reply	 r;
	struct buf		 b;
	char			*line;
	size_t			 len;
	ssize_t			 n;
	int			 got, code = CTL_UNAVAIL, bar = 0;

	buf_init(&b, 2 * CTL_MAX_LINE);
	sc_output_begin(&out, cmd, o->json, stdout);
	for (;;) {
		got = buf_avail(&b) == 0 ? 0 :
		    buf_getline(&b, CTL_MAX_LINE, &line, &len);
		if (got == -1)
			goto bad;
		if (got == 0) {
			if (buf_reserve(&b, 4096) == -1)
				goto bad;
			if (!readable(fd, ms)) {
				fprintf(stderr, "%ssharectl: peerd did not answer "
				    "within %d s (socket %s)\n", bar ? "\n" : "",
				    ms / 1000, sockpath);
				goto done;
			}
			n = read(fd, b.data + b.len, b.cap - b.len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "%ssharectl: peerd closed the "
				    "connection\n", bar ? "\n" : "");
				goto done;
			}
			b.len += (size_t)n;
			continue;
		}
		if (ctl_parse_reply(line, &r) == -1)
			goto bad;
		clean_reply(&r);
		if (r.kind == CTL_PROGRESS) {
			if (isatty(2)) {
				progress(&r);
				bar = 1;
			}
			continue;
		}
		if (r.kind == CTL_RECORD) {
			if (bar) {
				progress(&r);
				fputc('\n', stderr);
				bar = 0;
			}
			sc_output_record(&out, &r);
			continue;
		}
		code = r.code;
		if (bar)
			fputc('\n', stderr);
		sc_output_end(&out, code == 0);
		if (code != 0)
			fprintf(stderr, "sharectl: %s\n", r.message);
		goto done;
	}
bad:
	fprintf(stderr, "sharectl: malformed answer from peerd\n");
	code = CTL_FAIL;
done:
	buf_free(&b);
	return code;
}

/* How long to wait for peerd: -t, none for `wait`, and for upload_file
 * also the time to hash the file at a slow disk's speed. */
static int
answer_ms(const struct sc_call *call)
{
	struct stat	st;
	uint64_t	ms = (uint64_t)timeout_s * 1000;

	if (strcmp(call->cmd->name, "wait") == 0 || timeout_s == 0)
		return -1;
	if (strcmp(call->cmd->name, "upload_file") == 0 &&
	    stat(call->argv[1], &st) == 0)
		ms += (uint64_t)st.st_size / HASH_BYTES_PER_S * 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- passwords off the command line ---- */

/* Strip the line end; 0, or -1 if nothing is left. */
static int
chomp(char *pw)
{
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw[0] == '\0' ? -1 : 0;
}

static int
password_from_file(const char *path, char *pw, size_t len)
{
	FILE	*fp;
	int	 r = -1;

	if ((fp = fopen(path, "re")) == NULL) {
		fprintf(stderr, "sharectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(pw, (int)len, fp) != NULL)
		r = chomp(pw);
	fclose(fp);
	if (r == -1)
		fprintf(stderr, "sharectl: %s: no password on its first line\n",
		    path);
	return r;
}

static int
password_from_tty(const char *cmd, const char *user, char *pw, size_t len)
{
	char	prompt[128], again[PASSWORD_MAX_LEN + 2];

	snprintf(prompt, sizeof(prompt), "Password for %s: ", user);
	if (readpassphrase(prompt, pw, len, RPP_REQUIRE_TTY) == NULL ||
	    pw[0] == '\0')
		return -1;
	if (strcmp(cmd, "create_user") != 0)
		return 0;
	if (readpassphrase("Again: ", again, sizeof(again),
	    RPP_REQUIRE_TTY) == NULL || strcmp(again, pw) != 0) {
		explicit_bzero(again, sizeof(again));
		fprintf(stderr, "sharectl: the passwords differ\n");
		return -2;
	}
	explicit_bzero(again, sizeof(again));
	return 0;
}

/*
 * The password of login or create_user when the command line has none:
 * --password-file, --password-stdin, $P2PSHARE_PASSWORD, or the terminal
 * (no echo). 0, or an exit code.
 */
static int
get_password(const char *cmd, const char *user, char *pw, size_t len,
    int batch)
{
	const char	*env = getenv("P2PSHARE_PASSWORD");
	int		 r;

	if (pw_file != NULL)
		return password_from_file(pw_file, pw, len) == 0 ? 0 : CTL_USAGE;
	if (pw_stdin && !batch) {
		if (fgets(pw, (int)len, stdin) != NULL && chomp(pw) == 0)
			return 0;
		fprintf(stderr, "sharectl: no password on standard input\n");
		return CTL_USAGE;
	}
	if (env != NULL && env[0] != '\0') {
		if (strlcpy(pw, env, len) < len)
			return 0;
		fprintf(stderr, "sharectl: P2PSHARE_PASSWORD too long\n");
		return CTL_USAGE;
	}
	if ((r = password_from_tty(cmd, user, pw, len)) == 0)
		return 0;
	if (r == -1)
		fprintf(stderr, "sharectl: %s: no password given (a terminal, "
		    "--password-stdin, --password-file or P2PSHARE_PASSWORD)\n",
		    cmd);
	return CTL_USAGE;
}

/* A command whose last argument is a password, given without it: add it. */
static int
add_password(int *argc, char **argv, char *pw, size_t len, int batch)
{
	const struct ctl_cmd	*c;
	int			 code;

	if (*argc < 1 || (c = ctl_cmd_find(argv[0])) == NULL || c->argc < 1 ||
	    c->args[c->argc - 1] != CTL_ARG_PASSWORD || *argc != c->argc)
		return 0;
	if ((code = get_password(argv[0], *argc > 1 ? argv[1] : "?", pw, len,
	    batch)) != 0)
		return code;
	argv[(*argc)++] = pw;
	argv[*argc] = NULL;
	return 0;
}

/* ---- running a command ---- */

static int
send_request(const struct sc_call *call, const struct opts *o)
{
	struct buf	req;
	int		code, fd;

	if ((fd = ctl_connect()) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
			fprintf(stderr, "sharectl: peerd is not running (socket "
			    "%s)\n", sockpath);
		else
			fprintf(stderr, "sharectl: cannot reach peerd (socket "
			    "%s): %s\n", sockpath, strerror(errno));
		return CTL_UNAVAIL;
	}
	buf_init(&req, CTL_MAX_LINE);
	if (ctl_format_request(&req, call->argc, call->argv) == -1 ||
	    write_all(fd, buf_head(&req), buf_avail(&req)) == -1) {
		fprintf(stderr, "sharectl: sending to peerd: %s\n",
		    strerror(errno));
		code = CTL_UNAVAIL;
	} else
		code = read_answer(fd, call->cmd, o, answer_ms(call));
	explicit_bzero(req.data, req.cap);
	buf_free(&req);
	close(fd);
	return code;
}

static int
run(int argc, char *argv[], const struct opts *o, int batch)
{
	struct sc_call	 call;
	char		 err[PATH_MAX + 256], pw[PASSWORD_MAX_LEN + 2];
	char		*words[CTL_MAX_ARGS + 2];
	int		 code, i;

	if (argc > CTL_MAX_ARGS + 1) {
		fprintf(stderr, "sharectl: too many arguments\n");
		return CTL_USAGE;
	}
	for (i = 0; i < argc; i++)
		words[i] = argv[i];
	words[argc] = NULL;
	if ((code = add_password(&argc, words, pw, sizeof(pw), batch)) != 0)
		return code;
	if ((code = sc_prepare(argc, words, &call, err, sizeof(err))) != 0)
		fprintf(stderr, "sharectl: %s\n", err);
	else
		code = send_request(&call, o);
	explicit_bzero(pw, sizeof(pw));
	return code;
}

/* ---- options, before or after the command ---- */

enum { OPT_HELP = 256, OPT_VERSION, OPT_PWSTDIN, OPT_PWFILE };

static int
set_socket(const char *arg)
{
	if (strlcpy(sockpath, arg, sizeof(sockpath)) >= sizeof(sockpath)) {
		fprintf(stderr, "sharectl: socket path too long\n");
		return CTL_USAGE;
	}
	return 0;
}

static int
set_timeout(const char *arg)
{
	uint64_t	v;

	if (parse_u64(arg, 0, 86400, &v) == -1) {
		fprintf(stderr, "sharectl: -t %s: expected seconds (0: no "
		    "limit)\n", arg);
		return CTL_USAGE;
	}
	timeout_s = (int)v;
	return 0;
}

/* Which option arg is: its letter (or OPT_*), with *needs set when it
 * takes a value; 0 if it is none of ours. */
static int
option_of(const char *arg, int *needs)
{
	static const struct {
		const char	*s, *l;
		int		 id, needs;
	} o[] = {
		{ "-j", "--json",		'j', 0 },
		{ "-e", "--stop-on-error",	'e', 0 },
		{ "-i", "--password-stdin",	OPT_PWSTDIN, 0 },
		{ "-h", "--help",		OPT_HELP, 0 },
		{ "-V", "--version",		OPT_VERSION, 0 },
		{ "-S", "--socket",		'S', 1 },
		{ "-t", "--timeout",		't', 1 },
		{ "-P", "--password-file",	OPT_PWFILE, 1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(o) / sizeof(o[0]); i++)
		if ((o[i].s != NULL && strcmp(arg, o[i].s) == 0) ||
		    strcmp(arg, o[i].l) == 0) {
			*needs = o[i].needs;
			return o[i].id;
		}
	return 0;
}

/* Apply one option; -1 means exit 0 (help, version), else 0 or a code. */
static int
apply_option(int id, const char *val, struct opts *o)
{
	switch (id) {
	case 'j':
		o->json = 1;
		return 0;
	case 'e':
		stop_on_error = 1;
		return 0;
	case OPT_PWSTDIN:
		pw_stdin = 1;
		return 0;
	case OPT_PWFILE:
		pw_file = val;
		return 0;
	case 'S':
		return set_socket(val);
	case 't':
		return set_timeout(val);
	case OPT_HELP:
		usage(stdout);
		return -1;
	case OPT_VERSION:
		version_print("sharectl");
		return -1;
	}
	return CTL_USAGE;
}

/*
 * Options anywhere: before the command (an unknown one is an error) and
 * after it (only ours are taken; "--" ends them, so an argument such as a
 * user name "-j" can still be given). The words left go to *words.
 */
static int
parse_options(int argc, char *argv[], struct opts *o, char **words,
    int *nwords)
{
	int	i, id, needs, code, ended = 0;

	*nwords = 0;
	for (i = 0; i < argc; i++) {
		if (!ended && strcmp(argv[i], "--") == 0) {
			ended = 1;
			continue;
		}
		id = ended || argv[i][0] != '-' || argv[i][1] == '\0' ? 0 :
		    option_of(argv[i], &needs);
		if (id == 0) {
			if (*nwords == 0 && !ended && argv[i][0] == '-' &&
			    argv[i][1] != '\0') {
				fprintf(stderr, "sharectl: unknown option %s "
				    "(sharectl -h for usage)\n", argv[i]);
				return CTL_USAGE;
			}
			if (*nwords == CTL_MAX_ARGS + 2) {
				fprintf(stderr, "sharectl: too many "
				    "arguments\n");
				return CTL_USAGE;
			}
			words[(*nwords)++] = argv[i];
			continue;
		}
		if (needs && i + 1 == argc) {
			fprintf(stderr, "sharectl: option %s needs a value "
			    "(sharectl -h for usage)\n", argv[i]);
			return CTL_USAGE;
		}
		if ((code = apply_option(id, needs ? argv[i + 1] : NULL,
		    o)) != 0)
			return code;
		i += needs;
	}
	return 0;
}

/* The worse of two exit codes: unavailable, usage, failure, success. */
static int
worse(int a, int b)
{
	return a > b ? a : b;
}

/*
 * Commands from stdin, one per line, split on blanks; blank lines and
 * '#' comments skipped. The exit status is the worst of the commands';
 * with -e the first failure ends the batch.
 */
static int
interactive(void)
{
	char	 line[CTL_MAX_LINE], *argv[CTL_MAX_ARGS + 4], *words[CTL_MAX_ARGS + 2];
	char	*p;
	int	 tty = isatty(0), worst = 0, code, argc, nwords;
	struct opts o;

	for (;;) {
		if (tty) {
			fputs("sharectl> ", stderr);
			fflush(stderr);
		}
		if (fgets(line, sizeof(line), stdin) == NULL)
			break;
		if (strchr(line, '\n') == NULL && !feof(stdin)) {
			int c;
			while ((c = getchar()) != EOF && c != '\n')
				;
			fprintf(stderr, "sharectl: line too long\n");
			code = CTL_USAGE;
			goto next;
		}
		argc = 0;
		for (p = strtok(line, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
			if (argc == CTL_MAX_ARGS + 4)
				break;
			argv[argc++] = p;
		}
		if (argc == 0 || argv[0][0] == '#')
			continue;
		if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0)
			break;
		o = gopts;
		if (p != NULL) {
			fprintf(stderr, "sharectl: too many arguments\n");
			code = CTL_USAGE;
		} else if ((code = parse_options(argc, argv, &o, words,
		    &nwords)) == 0)
			code = nwords == 0 ? 0 : run(nwords, words, &o, 1);
		else if (code == -1)
			code = 0;
		fflush(stdout);
next:
		worst = worse(worst, code);
		if (code != 0 && stop_on_error)
			break;
	}
	if (tty)
		fputc('\n', stderr);
	return worst;
}

int
main(int argc, char *argv[])
{
	char	*words[CTL_MAX_ARGS + 2];
	int	 code, nwords;

	signal(SIGPIPE, SIG_IGN);
	if (ctl_default_socket(sockpath, sizeof(sockpath)) == -1)
		sockpath[0] = '\0';
	if ((code = parse_options(argc - 1, argv + 1, &gopts, words,
	    &nwords)) != 0)
		return code == -1 ? 0 : code;
	if (nwords == 0) {
		if (pw_stdin) {
			fprintf(stderr, "sharectl: --password-stdin needs a "
			    "command (standard input is the batch)\n");
			return CTL_USAGE;
		}
		return interactive();
	}
	return run(nwords, words, &gopts, 0);
}
