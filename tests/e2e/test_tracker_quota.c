/* trackerd end to end, at the default table sizes: one user cannot fill
 * the piece-hash table (ERR quota) while another's upload goes through,
 * and accounts are limited per source address (127/8 gives many), both
 * still so after a restart. */
#include <netinet/in.h>

#include "tests/e2e/tracker_e2e.h"

#define GIB		(1ull << 30)

static void
setup(void)
{
	trk_init();
}

static void
teardown(void)
{
	trk_fini();
}

TestSuite(tracker_quota, .init = setup, .fini = teardown, .timeout = 240);

/* The default tables and quotas (the harness makes them small). */
static void
default_sizes(void)
{
	static const char *const o[] = {
		"users=131072,groups=131072,members=1048576",
		"requests=262144,sessions=131072,files=1048576",
		"seeders=2097152,hashes=16777216",
		"user_files=0,user_hashes=0,user_groups=0",
		"user_requests=0,signups=10,signup_window=3600",
	};

	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		trk_opt("-o");
		trk_opt(o[i]);
	}
}

/* A connection to tracker 1 from source address ip (any of 127/8). */
static int
conn_from(const char *ip)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct timeval		tv = { 10, 0 };
	int			fd;

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	inet_pton(AF_INET, ip, &sin.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "bind %s: %s", ip, strerror(errno));
	sin.sin_port = htons(T.port[0]);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "connect from %s: %s", ip, strerror(errno));
	return fd;
}

static char *
upload_from(int fd, const char *ip, const char *name, uint64_t size,
    unsigned seed)
{
	char	*l = upload_line("g", name, size, ip, 7000 + seed % 100, seed);
	char	*r = rq(fd, "%s", l);

	free(l);
	return r;
}

Test(tracker_quota, one_user_cannot_fill_the_piece_hashes)
{
	char	 name[32], *r;
	int	 a, b, m, n;

	default_sizes();
	cr_assert_eq(trk_start(0), 0);
	a = conn_from("127.0.0.1");
	b = conn_from("127.0.0.2");
	m = conn_from("127.6.6.6");
	trk_user(a, "alice", "pw");
	OK(a, "create_group g");
	trk_user(b, "bob", "pw");
	trk_user(m, "mallory", "pw");
	OK(b, "join_group g");
	OK(m, "join_group g");
	OK(a, "accept_request g bob");
	OK(a, "accept_request g mallory");
	/* fake 64 GiB files, 131072 piece hashes each, until refused:
	 * 1/16 of the 16M-hash table is 8 of them */
	for (n = 0; n < 20; n++) {
		snprintf(name, sizeof(name), "huge%02d.bin", n);
		r = upload_from(m, "127.6.6.6", name, 64 * GIB, 10 + n);
		if (strncmp(r, "OK", 2) != 0) {
			cr_assert(is_err_reply(r, "quota"), "upload %d: %s", n, r);
			free(r);
			break;
		}
		free(r);
	}
	cr_assert_eq(n, 8, "mallory registered %d 64 GiB files", n);
	/* her smallest upload is refused too; the others' are not */
	r = upload_from(m, "127.6.6.6", "tiny.bin", 1000, 1);
	cr_assert(is_err_reply(r, "quota"), "%s", r);
	free(r);
	r = upload_from(b, "127.0.0.2", "report.pdf", 1000, 2);
	cr_assert(strncmp(r, "OK file_uploaded\n", 17) == 0, "%s", r);
	free(r);
	r = upload_from(a, "127.0.0.1", "big.iso", 64 * GIB, 3);
	cr_assert(strncmp(r, "OK file_uploaded\n", 17) == 0, "%s", r);
	free(r);
	r = rq(b, "list_files g");
	cr_assert_eq(reply_count(r), 10, "%s", r);
	free(r);
	/* the counts come back from the journal */
	close(a);
	close(b);
	close(m);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_start(0), 0);
	m = conn_from("127.6.6.6");
	trk_login(m, "mallory", "pw");
	r = upload_from(m, "127.6.6.6", "tiny.bin", 1000, 1);
	cr_assert(is_err_reply(r, "quota"), "after a restart: %s", r);
	free(r);
	OK(m, "stop_share g huge00.bin 127.6.6.6 %u", 7010);
	r = upload_from(m, "127.6.6.6", "tiny.bin", 1000, 1);
	cr_assert(strncmp(r, "OK file_uploaded\n", 17) == 0, "%s", r);
	free(r);
	close(m);
}

/* Create users name0.. from ip until refused; returns how many got in. */
static int
sign_up(const char *ip, const char *prefix, int tries)
{
	char	*r;
	int	 fd = conn_from(ip), n;

	for (n = 0; n < tries; n++) {
		r = rq(fd, "create_user %s%d pw", prefix, n);
		if (strncmp(r, "OK user_created\n", 16) != 0) {
			cr_assert(is_err_reply(r, "quota"), "%s", r);
			cr_assert(strstr(r, ip) != NULL, "%s", r);
			free(r);
			break;
		}
		free(r);
	}
	close(fd);
	return n;
}

Test(tracker_quota, accounts_per_source_address)
{
	int	fd;

	default_sizes();
	cr_assert_eq(trk_start(0), 0);
	cr_assert_eq(sign_up("127.0.0.1", "a", 15), 10);
	cr_assert_eq(sign_up("127.0.0.1", "b", 5), 0);
	/* other addresses each have their own allowance */
	cr_assert_eq(sign_up("127.0.0.2", "c", 15), 10);
	cr_assert_eq(sign_up("127.9.8.7", "d", 3), 3);
	/* an account made is usable from anywhere */
	fd = conn_from("127.0.0.1");
	trk_login(fd, "c3", "pw");
	OK(fd, "create_group cg");
	close(fd);
	cr_assert_eq(trk_stop(0), 0);
	cr_assert_eq(trk_start(0), 0);
	cr_assert_eq(sign_up("127.0.0.1", "e", 3), 0, "forgotten on restart");
	cr_assert_eq(sign_up("127.9.8.7", "f", 15), 7);
}
