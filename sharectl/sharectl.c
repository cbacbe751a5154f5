/* sharectl: the one-shot CLI that drives peerd over its Unix socket; one
 * command from argv, or one per line from stdin. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ctl.h"
#include "ipc/net.h"
#include "ipc/proto.h"
#include "ipc/text.h"
#include "ipc/version.h"
#include "sharectl/sharectl.h"

static char	 sockpath[PATH_MAX];
static int	 json;

static void
usage(FILE *fp)
{
	const struct ctl_cmd	*c;
	int			 i;

	fprintf(fp, "usage: sharectl [-hjV] [-S socket] [command [argument ...]]\n"
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

/* Read replies until the status line; returns its code. */
static int
read_answer(int fd, const struct sc_cmd *cmd)
{
	struct sc_output	 out;
	struct ctl_reply	 r;
	struct buf		 b;
	char			*line;
	size_t			 len;
	ssize_t			 n;
	int			 got, code = CTL_UNAVAIL, bar = 0;

	buf_init(&b, 2 * CTL_MAX_LINE);
	sc_output_begin(&out, cmd, json, stdout);
	for (;;) {
		got = buf_avail(&b) == 0 ? 0 :
		    buf_getline(&b, CTL_MAX_LINE, &line, &len);
		if (got == -1)
			goto bad;
		if (got == 0) {
			if (buf_reserve(&b, 4096) == -1)
				goto bad;
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

static int
run(int argc, char *argv[])
{
	struct sc_call	call;
	struct buf	req;
	char		err[PATH_MAX + 256];
	int		code, fd;

	if ((code = sc_prepare(argc, argv, &call, err, sizeof(err))) != 0) {
		fprintf(stderr, "sharectl: %s\n", err);
		return code;
	}
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
	if (ctl_format_request(&req, call.argc, call.argv) == -1 ||
	    write_all(fd, buf_head(&req), buf_avail(&req)) == -1) {
		fprintf(stderr, "sharectl: sending to peerd: %s\n",
		    strerror(errno));
		code = CTL_UNAVAIL;
	} else
		code = read_answer(fd, call.cmd);
	buf_free(&req);
	close(fd);
	return code;
}

/* Commands from stdin, one per line, split on blanks. */
static int
interactive(void)
{
	char	 line[CTL_MAX_LINE], *argv[CTL_MAX_ARGS + 2], *p;
	int	 tty = isatty(0), code = 0, argc;

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
			continue;
		}
		argc = 0;
		for (p = strtok(line, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
			if (argc == CTL_MAX_ARGS + 2)
				break;
			argv[argc++] = p;
		}
		if (argc == 0)
			continue;
		if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0)
			break;
		if (p != NULL) {
			fprintf(stderr, "sharectl: too many arguments\n");
			code = CTL_USAGE;
			continue;
		}
		code = run(argc, argv);
		fflush(stdout);
	}
	if (tty)
		fputc('\n', stderr);
	return code;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ NULL,		0,		NULL,	0 }
	};
	int	ch;

	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	if (ctl_default_socket(sockpath, sizeof(sockpath)) == -1)
		sockpath[0] = '\0';
	while ((ch = getopt_long(argc, argv, "+S:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			if (strlcpy(sockpath, optarg, sizeof(sockpath)) >=
			    sizeof(sockpath)) {
				fprintf(stderr, "sharectl: socket path too long\n");
				return CTL_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version_print("sharectl");
			return 0;
		default:
			/* one line, like every other error */
			if (optopt == 'S')
				fprintf(stderr, "sharectl: option -S needs a "
				    "socket path (sharectl -h for usage)\n");
			else if (optopt == 0)	/* a long one */
				fprintf(stderr, "sharectl: unknown option %s "
				    "(sharectl -h for usage)\n", argv[optind - 1]);
			else
				fprintf(stderr, "sharectl: unknown option -%c "
				    "(sharectl -h for usage)\n", optopt);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return interactive();
	return run(argc, argv);
}
