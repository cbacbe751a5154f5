/* tracker_info.txt (ipc/net.c): IP:PORT and IP PORT lines, comments, and
 * the tls marks (a tls:// prefix or a last word tls). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/net.h"

static int
load(const char *text, struct endpoint *eps, char *err)
{
	char	path[] = "/tmp/p2p-ti-XXXXXX";
	int	fd, n;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	n = tracker_info_load(path, eps, MAX_TRACKERS, err, 256);
	unlink(path);
	return n;
}

Test(tracker_info, plain_and_tls_lines)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		err[256];

	cr_assert_eq(load("# trackers\n127.0.0.1:7001\n\n127.0.0.2 7002\n"
	    "tls://127.0.0.3:7003\n127.0.0.4 7004 tls\n127.0.0.5:7005\ttls  \n"
	    "  tls://127.0.0.6:7006 # comment\n", eps, err), 6, "%s", err);
	cr_assert_str_eq(eps[0].text, "127.0.0.1:7001");
	cr_assert_eq(eps[0].tls, 0);
	cr_assert_eq(eps[1].tls, 0);
	cr_assert_str_eq(eps[2].text, "127.0.0.3:7003");
	cr_assert_eq(eps[2].tls, 1);
	cr_assert_str_eq(eps[3].text, "127.0.0.4:7004");
	cr_assert_eq(eps[3].tls, 1);
	cr_assert_str_eq(eps[4].text, "127.0.0.5:7005");
	cr_assert_eq(eps[4].tls, 1);
	cr_assert_eq(eps[5].tls, 1);
}

Test(tracker_info, bad_lines_refused)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		err[256];

	cr_assert_eq(load("tls://\n", eps, err), -1);
	cr_assert_eq(load("tls\n", eps, err), -1);
	cr_assert_eq(load("127.0.0.1:7001 tlsx\n", eps, err), -1);
	cr_assert_eq(load("https://127.0.0.1:7001\n", eps, err), -1);
	cr_assert_eq(load("127.0.0.1:7001 tls tls\n", eps, err), -1);
	cr_assert(strstr(err, ":1:") != NULL, "%s", err);
}
