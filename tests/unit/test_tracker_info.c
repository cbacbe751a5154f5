/* tracker_info.txt loading (ipc/net.c): comments, blank lines, both address
 * forms, the tls marks, and the long lines that fuzz_tracker_info found. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/net.h"

static char	ti_path[] = "/tmp/p2p-test-info-XXXXXX";

static int
load_text(const char *text, struct endpoint *eps, char *err, size_t errlen)
{
	int	fd = mkstemp(ti_path), n;

	cr_assert(fd != -1);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	n = tracker_info_load(ti_path, eps, MAX_TRACKERS, err, errlen);
	unlink(ti_path);
	strcpy(ti_path, "/tmp/p2p-test-info-XXXXXX");
	return n;
}

Test(tracker_info, both_forms_comments_and_blanks)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		err[256];

	cr_assert_eq(load_text("# trackers\n\n127.0.0.1:7000\n  10.0.0.2 7001 "
	    "# second\r\n", eps, err, sizeof(err)), 2);
	cr_assert_str_eq(eps[0].text, "127.0.0.1:7000");
	cr_assert_str_eq(eps[1].text, "10.0.0.2:7001");
}

/* A comment longer than the old 256-byte line buffer: its tail was read as
 * a line of its own, and here that tail names a tracker. */
Test(tracker_info, long_comment_is_one_line)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		text[600], err[256];

	memset(text, 'x', 255);
	text[0] = '#';
	strcpy(text + 255, " 127.0.0.1:9\n127.0.0.1:7000\n");
	cr_assert_eq(load_text(text, eps, err, sizeof(err)), 1);
	cr_assert_str_eq(eps[0].text, "127.0.0.1:7000");
}

Test(tracker_info, over_long_line_refused_with_its_number)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		*text, err[256];

	cr_assert((text = malloc(3000)) != NULL);
	strcpy(text, "127.0.0.1:7000\n#");
	memset(text + 16, 'y', 2000);
	strcpy(text + 2016, "\n");
	cr_assert_eq(load_text(text, eps, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":2: line longer than") != NULL, "%s", err);
	free(text);
}

Test(tracker_info, garbage_and_empty_refused)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		err[256];

	cr_assert_eq(load_text("# none\n\n", eps, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no tracker listed") != NULL, "%s", err);
	cr_assert_eq(load_text("127.0.0.1:7000\n127.0.0.1:0\n", eps, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, ":2: expected IP:PORT") != NULL, "%s", err);
}
Test(tracker_info, plain_and_tls_lines)
{
	struct endpoint	eps[MAX_TRACKERS];
	char		err[256];

	cr_assert_eq(load_text("# trackers\n127.0.0.1:7001\n\n127.0.0.2 7002\n"
	    "tls://127.0.0.3:7003\n127.0.0.4 7004 tls\n127.0.0.5:7005\ttls  \n"
	    "  tls://127.0.0.6:7006 # comment\n", eps, err, sizeof(err)), 6, "%s", err);
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

	cr_assert_eq(load_text("tls://\n", eps, err, sizeof(err)), -1);
	cr_assert_eq(load_text("tls\n", eps, err, sizeof(err)), -1);
	cr_assert_eq(load_text("127.0.0.1:7001 tlsx\n", eps, err, sizeof(err)), -1);
	cr_assert_eq(load_text("https://127.0.0.1:7001\n", eps, err, sizeof(err)), -1);
	cr_assert_eq(load_text("127.0.0.1:7001 tls tls\n", eps, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":1:") != NULL, "%s", err);
}

/* IPv6 trackers in brackets (or bare before a space); each bad address
 * is refused with its reason. */
Test(tracker_info, ipv6_lines_and_reasons)
{
	struct endpoint	 eps[MAX_TRACKERS];
	struct ipaddr	 ip;
	char		 err[256];
	const char	*why;

	cr_assert_eq(load_text("[::1]:7001\n[fe80::1:2] 7002\n::1 7003\n"
	    "tls://[2001:db8::5]:7004\n[::ffff:127.0.0.1]:7005\n", eps, err,
	    sizeof(err)), 5, "%s", err);
	cr_assert_str_eq(eps[0].text, "[::1]:7001");
	cr_assert_eq(endpoint_family(&eps[0]), AF_INET6);
	cr_assert_eq(endpoint_port(&eps[0]), 7001);
	cr_assert_str_eq(eps[1].text, "[fe80::1:2]:7002");
	cr_assert_str_eq(eps[2].text, "[::1]:7003");
	cr_assert_str_eq(eps[3].text, "[2001:db8::5]:7004");
	cr_assert_eq(eps[3].tls, 1);
	/* an IPv4-mapped address is IPv4 */
	cr_assert_str_eq(eps[4].text, "127.0.0.1:7005");
	cr_assert_eq(endpoint_family(&eps[4]), AF_INET);
	cr_assert_eq(load_text("::1:7001\n", eps, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":1: expected IP:PORT") != NULL &&
	    strstr(err, "brackets") != NULL, "%s", err);
	cr_assert_eq(endpoint_parse_why("[::1:7001", &eps[0], &why), -1);
	cr_assert_str_eq(why, "no ']' after an IPv6 address");
	cr_assert_eq(endpoint_parse_why("[::1]7001", &eps[0], &why), -1);
	cr_assert_str_eq(why, "expected :PORT after ']'");
	cr_assert_eq(endpoint_parse_why("[::g]:7001", &eps[0], &why), -1);
	cr_assert_str_eq(why, "not an IPv4 or IPv6 address");
	cr_assert_eq(endpoint_parse_why("[127.0.0.1]:7001", &eps[0], &why), -1);
	cr_assert_str_eq(why, "brackets are for IPv6 addresses");
	cr_assert_eq(endpoint_parse_why("[::1]:70000", &eps[0], &why), -1);
	cr_assert_str_eq(why, "the port is a number from 1 to 65535");
	cr_assert_eq(endpoint_parse_why("1.2.3:80", &eps[0], &why), -1);
	cr_assert_eq(endpoint_parse_why("[::]:80", &eps[0], &why), 0);
	cr_assert(endpoint_is_any(&eps[0]));
	cr_assert_eq(ipaddr_parse("::ffff:10.0.0.1", &ip), 0);
	cr_assert(ipaddr_is_v4(&ip));
	cr_assert_eq(ipaddr_parse("10.0.0.1 ", &ip), -1);
	cr_assert_eq(ipaddr_parse("", &ip), -1);
}
