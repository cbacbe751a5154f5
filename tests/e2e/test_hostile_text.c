/* A hostile tracker's text on its way to the terminal: a real peerd and
 * sharectl against a fake tracker whose answers carry terminal escapes. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/e2e/harness.h"

#define ESC_ERR	"\x1b[31mEVIL\x1b]0;owned\x07 \xc2\x9b" "2J text"
#define ESC_GRP	"te\x1b[2Jam"

static struct {
	char		*dir;
	char		 info[512], sock[512], state[512], log[512];
	uint16_t	 tport, pport;
	int		 lfd;
	volatile int	 quit;
	pthread_t	 tid;
	struct h_proc	 peer;
} H;

/* The fake tracker's answer to one request line. */
static const char *
answer(const char *line)
{
	if (strncmp(line, "session ", 8) == 0 &&
	    (line = strchr(line + 8, ' ')) != NULL &&
	    (line = strchr(line + 1, ' ')) != NULL)
		line++;
	if (strncmp(line, "login ", 6) == 0)
		return "OK login_success AAAAAAAAAAAAAAAA\nEND_OF_REPLY\n";
	if (strcmp(line, "list_groups") == 0)
		return "OK 2\n" ESC_GRP " bob\nplain alice\x07\nEND_OF_REPLY\n";
	if (strncmp(line, "list_files ", 11) == 0)
		return "OK 1\nf\x1b[Hx.bin 10 "
		    "abababababababababababababababababababab 1\nEND_OF_REPLY\n";
	return "ERR bad_request " ESC_ERR "\nEND_OF_REPLY\n";
}

static void
serve_conn(int fd)
{
	char	buf[8192], *nl, *p;
	size_t	len = 0;
	ssize_t	n;

	while (!H.quit && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		p = buf;
		while ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			if (*p != '\0' && write(fd, answer(p),
			    strlen(answer(p))) < 0)
				return;
			p = nl + 1;
		}
		len -= (size_t)(p - buf);
		memmove(buf, p, len);
		if (len == sizeof(buf) - 1)
			return;
	}
}

static void *
fake_tracker(void *arg)
{
	struct pollfd	pfd = { .fd = H.lfd, .events = POLLIN };
	int		fd;

	while (!H.quit) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((fd = accept(H.lfd, NULL, NULL)) == -1)
			continue;
		serve_conn(fd);	/* one at a time: peerd keeps one */
		close(fd);
	}
	return NULL;
}

static void
start_fake_tracker(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			on = 1;

	H.tport = h_free_port();
	sin.sin_port = htons(H.tport);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((H.lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	setsockopt(H.lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	cr_assert_eq(bind(H.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(H.lfd, 16), 0);
	cr_assert_eq(pthread_create(&H.tid, NULL, fake_tracker, NULL), 0);
}

static void
setup(void)
{
	char	 self[64], text[128];
	char	*argv[] = { "peerd/peerd", "-f", "-v", "-S", H.sock, "-d",
	    H.state, self, H.info, NULL };

	H.dir = h_tmpdir();
	start_fake_tracker();
	do
		H.pport = h_free_port();
	while (H.pport == H.tport);
	snprintf(H.info, sizeof(H.info), "%s/tracker_info.txt", H.dir);
	snprintf(H.sock, sizeof(H.sock), "%s/peerd.sock", H.dir);
	snprintf(H.state, sizeof(H.state), "%s/state", H.dir);
	snprintf(H.log, sizeof(H.log), "%s/peerd.log", H.dir);
	snprintf(text, sizeof(text), "127.0.0.1:%u\n", H.tport);
	h_write_file(H.info, text);
	snprintf(self, sizeof(self), "127.0.0.1:%u", H.pport);
	cr_assert_eq(h_spawn(&H.peer, argv, NULL, H.log), 0);
	cr_assert_eq(h_wait_file(H.sock, 10000), 0, "peerd up");
}

static void
teardown(void)
{
	if (H.peer.pid > 0)
		h_stop(&H.peer, SIGTERM, 10000);
	H.quit = 1;
	if (H.tid)
		pthread_join(H.tid, NULL);
	close(H.lfd);
	h_rmtree(H.dir);
}

TestSuite(hostile_text, .init = setup, .fini = teardown, .timeout = 60);

static int
sharectl(struct h_run *r, const char *a, const char *b, const char *c)
{
	char	*argv[] = { "sharectl/sharectl", "-S", H.sock, (char *)a,
	    (char *)b, (char *)c, NULL };

	cr_assert_eq(h_run(r, argv, NULL, 20000), 0, "sharectl %s", a);
	return r->status;
}

/* No byte a terminal would act on: C0 controls but the line and field
 * separators, DEL, C1. */
static void
assert_clean(const char *what, const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p; p++) {
		cr_assert(*p == '\n' || *p == '\t' || (*p >= 0x20 && *p != 0x7f),
		    "%s: byte 0x%02x at %zu", what, *p,
		    (size_t)(p - (const unsigned char *)s));
		cr_assert(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f),
		    "%s: a C1 control at %zu", what,
		    (size_t)(p - (const unsigned char *)s));
	}
}

Test(hostile_text, tracker_refusal_reaches_stderr_cleaned)
{
	struct h_run	r;

	cr_assert_eq(sharectl(&r, "create_user", "alice", "pw"), 1, "%s",
	    r.err);
	assert_clean("stderr", r.err);
	cr_assert_str_eq(r.err, "sharectl: ?[31mEVIL?]0;owned? ??2J text\n");
	cr_assert_str_eq(r.out, "");
	h_run_free(&r);
}

Test(hostile_text, tracker_lists_reach_stdout_cleaned)
{
	struct h_run	r;
	char		*log;

	cr_assert_eq(sharectl(&r, "login", "alice", "pw"), 0, "%s", r.err);
	h_run_free(&r);
	sharectl(&r, "list_groups", NULL, NULL);
	assert_clean("stdout", r.out);
	cr_assert_not_null(strstr(r.out, "plain\talice?\n"), "%s", r.out);
	assert_clean("stderr", r.err);
	h_run_free(&r);
	sharectl(&r, "list_files", "team", NULL);
	assert_clean("stdout", r.out);
	assert_clean("stderr", r.err);
	h_run_free(&r);
	/* and peerd's own log (stderr with -f) */
	cr_assert_not_null(log = h_read_file(H.log, NULL));
	assert_clean("peerd log", log);
	free(log);
}
