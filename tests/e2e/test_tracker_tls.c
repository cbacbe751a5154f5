/* TLS on the tracker connection: trackerd with a certificate answers TLS
 * and plain text on one port; peerd reaches a tracker marked tls in
 * tracker_info.txt, trusting a CA or a pinned key, and refuses a wrong
 * pin. A throwaway CA and certificate are made with the openssl CLI. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/harness.h"

static char		*dir;
static uint16_t		 tport, pport;
static struct h_proc	 trk, peer;
static char		 sock[PATH_MAX], pin[65];

static void
sh(const char *fmt, ...)
{
	char	cmd[4096];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* A CA, a tracker certificate for 127.0.0.1 signed by it, and the SHA-256
 * of the tracker's public key. */
static void
make_pki(void)
{
	char	path[PATH_MAX], *p;
	size_t	n;

	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
	    "-days 2 -subj /CN=test-ca 2>/dev/null && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout tr.key -out tr.csr -subj /CN=tracker 2>/dev/null && "
	    "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
	    "openssl x509 -req -in tr.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out tr.pem -days 2 -extfile ext 2>/dev/null && "
	    "openssl x509 -in tr.pem -pubkey -noout | openssl pkey -pubin "
	    "-outform DER | openssl dgst -sha256 -r | cut -c1-64 > pin", dir);
	snprintf(path, sizeof(path), "%s/pin", dir);
	cr_assert_not_null(p = h_read_file(path, &n));
	cr_assert_geq(n, 64);
	memcpy(pin, p, 64);
	pin[64] = '\0';
	free(p);
}

static void
setup(void)
{
	char	 info[PATH_MAX], journal[PATH_MAX], cert[PATH_MAX];
	char	 key[PATH_MAX], log[PATH_MAX], line[128];
	char	*argv[] = { "trackerd/trackerd", "-f", "-k", "1000", "-C", cert,
	    "-K", key, "-l", journal, info, "1", NULL };

	dir = h_tmpdir();
	tport = h_free_port();
	do
		pport = h_free_port();
	while (pport == tport);
	make_pki();
	snprintf(info, sizeof(info), "%s/trackers.txt", dir);
	snprintf(journal, sizeof(journal), "%s/sync_log.txt", dir);
	snprintf(cert, sizeof(cert), "%s/tr.pem", dir);
	snprintf(key, sizeof(key), "%s/tr.key", dir);
	snprintf(log, sizeof(log), "%s/trackerd.log", dir);
	snprintf(sock, sizeof(sock), "%s/peer.sock", dir);
	snprintf(line, sizeof(line), "tls://127.0.0.1:%u\n", tport);
	h_write_file(info, line);
	cr_assert_eq(h_spawn(&trk, argv, NULL, log), 0);
	cr_assert_eq(h_wait_port(tport, 10000), 0, "trackerd up");
}

static void
teardown(void)
{
	char	cmd[PATH_MAX + 16];

	if (peer.pid > 0)
		h_stop(&peer, SIGTERM, 5000);
	if (trk.pid > 0)
		h_stop(&trk, SIGTERM, 5000);
	h_tracker_shm_unlink(tport);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(tracker_tls, .init = setup, .fini = teardown, .timeout = 60);

/* Start peerd with the trust option given (-C file, -P pin), using
 * tracker_info text info. */
static void
start_peer(const char *opt, const char *val, const char *info)
{
	char	 self[64], path[PATH_MAX], state[PATH_MAX], log[PATH_MAX];
	char	*argv[] = { "peerd/peerd", "-f", "-v", (char *)opt, (char *)val,
	    "-S", sock, "-d", state, self, path, NULL };

	snprintf(path, sizeof(path), "%s/peer_trackers.txt", dir);
	h_write_file(path, info);
	snprintf(self, sizeof(self), "127.0.0.1:%u", pport);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/peerd.log", dir);
	unlink(sock);
	cr_assert_eq(h_spawn(&peer, argv, NULL, log), 0);
	cr_assert_eq(h_wait_unix(sock, 10000), 0, "peerd up");
}

static int
sharectl(const char *a, const char *b, const char *c)
{
	struct h_run	 r;
	char		*argv[] = { "sharectl/sharectl", "-S", sock, (char *)a,
	    (char *)b, (char *)c, NULL };
	int		 st;

	cr_assert_eq(h_run(&r, argv, NULL, 20000), 0);
	st = r.status;
	h_run_free(&r);
	return st;
}

static char *
info_line(const char *fmt)
{
	static char	line[128];

	snprintf(line, sizeof(line), fmt, tport);
	return line;
}

Test(tracker_tls, login_over_tls_with_ca)
{
	char	path[PATH_MAX], *log;
	size_t	n;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	start_peer("-C", path, info_line("tls://127.0.0.1:%u\n"));
	cr_assert_eq(sharectl("create_user", "alice", "pa"), 0);
	cr_assert_eq(sharectl("login", "alice", "pa"), 0);
	cr_assert_eq(sharectl("create_group", "g", NULL), 0);
	snprintf(path, sizeof(path), "%s/peerd.log", dir);
	cr_assert_not_null(log = h_read_file(path, &n));
	cr_assert_not_null(strstr(log, "over TLS"), "%s", log);
	free(log);
}

Test(tracker_tls, login_over_tls_with_pinned_key)
{
	start_peer("-P", pin, info_line("127.0.0.1 %u tls\n"));
	cr_assert_eq(sharectl("create_user", "bob", "pb"), 0);
	cr_assert_eq(sharectl("login", "bob", "pb"), 0);
}

Test(tracker_tls, wrong_pin_or_foreign_ca_refused)
{
	char	wrong[65], path[PATH_MAX], *log;
	size_t	n;

	memcpy(wrong, pin, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	start_peer("-P", wrong, info_line("tls://127.0.0.1:%u\n"));
	cr_assert_eq(sharectl("create_user", "eve", "pe"), 69,
	    "no tracker reachable with a wrong pin");
	snprintf(path, sizeof(path), "%s/peerd.log", dir);
	cr_assert_not_null(log = h_read_file(path, &n));
	cr_assert_not_null(strstr(log, "does not match the pinned"), "%s", log);
	free(log);
	cr_assert_eq(h_stop(&peer, SIGTERM, 5000), 0);

	/* A CA that did not sign the tracker's certificate. */
	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem "
	    "-days 2 -subj /CN=other-ca 2>/dev/null", dir);
	snprintf(path, sizeof(path), "%s/other.pem", dir);
	start_peer("-C", path, info_line("tls://127.0.0.1:%u\n"));
	cr_assert_eq(sharectl("create_user", "eve", "pe"), 69);
}

Test(tracker_tls, plain_text_on_the_same_port)
{
	char	*r;
	int	 fd;

	cr_assert_neq(fd = h_connect(tport), -1);
	cr_assert_not_null(r = h_request(fd, "create_user carol pc"));
	cr_assert(strncmp(r, "OK user_created", 15) == 0, "%s", r);
	free(r);
	cr_assert_not_null(r = h_request(fd, "login carol pc"));
	cr_assert(strncmp(r, "OK login_success", 16) == 0, "%s", r);
	free(r);
	close(fd);
	/* And a plain peerd on a plain line still works. */
	start_peer("-v", "-v", info_line("127.0.0.1:%u\n"));
	cr_assert_eq(sharectl("login", "carol", "pc"), 0);
}
