/* trackerd -J etcds:// on a real three-member etcd serving https and
 * requiring client certificates: the shared history works over TLS, and a
 * CA that did not sign the members, or no client certificate, is refused
 * at start with one clear line. */
#include "tests/e2e/etcd_e2e.h"

static void
setup(void)
{
	ec_init_tls(1);
	et_init();
}

static void
teardown(void)
{
	ec_fini();
}

TestSuite(tracker_etcd_tls, .init = setup, .fini = teardown, .timeout = 120);

/* --etcd-cacert=FILE and friends for the trackers started by et_start. */
static void
tls_opts(const char *ca, int client_cert)
{
	char	opt[sizeof(ET.extra[0])];

	snprintf(opt, sizeof(opt), "--etcd-cacert=%s", ca);
	et_opt(opt);
	if (!client_cert)
		return;
	snprintf(opt, sizeof(opt), "--etcd-cert=%s", EC.cert);
	et_opt(opt);
	snprintf(opt, sizeof(opt), "--etcd-key=%s", EC.key);
	et_opt(opt);
}

/* Tracker 1 run to its end (it is expected to refuse to start): its exit
 * status, and its stderr in err. */
static int
run_refused(char *err, size_t errlen)
{
	struct h_run	 r;
	char		*argv[24], bin[600];
	int		 n = 0, k, status;

	snprintf(bin, sizeof(bin), "%s/trackerd/trackerd", h_root());
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "-k";
	argv[n++] = "1000";
	argv[n++] = "-w";
	argv[n++] = "1";
	argv[n++] = "-J";
	argv[n++] = EC.url;
	for (k = 0; k < ET.nextra; k++)
		argv[n++] = ET.extra[k];
	argv[n++] = ET.info;
	argv[n++] = "1";
	argv[n] = NULL;
	cr_assert_eq(chdir(ET.tdir[0]), 0);
	cr_assert_eq(h_run(&r, argv, NULL, 30000), 0);
	cr_assert_eq(chdir(h_root()), 0);
	snprintf(err, errlen, "%s", r.err);
	status = r.status;
	h_run_free(&r);
	h_tracker_shm_unlink(ET.port[0]);
	return status;
}

static int
lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Two trackers on etcds://: a change made on one is read on the other
 * (writes through the committers, the watch stream, reads). */
Test(tracker_etcd_tls, history_shared_over_https)
{
	char	tok[64], *r;
	int	a, b, i;

	tls_opts(EC.ca, 1);
	for (i = 0; i < 2; i++)
		cr_assert_eq(et_start(i), 0, "tracker %d did not start (%s)",
		    i + 1, ET.log[i]);
	a = et_conn(0);
	b = et_conn(1);
	OK(a, "create_user alice pw");
	snprintf(tok, sizeof(tok), "%s", trk_login(b, "alice", "pw"));
	OK(b, "session alice %s create_group team", tok);
	/* the watch brings it to tracker 1 */
	for (i = 0; i < 100; i++) {
		r = rq(a, "session alice %s list_groups", tok);
		if (strstr(r, "team") != NULL)
			break;
		free(r);
		r = NULL;
		usleep(50 * 1000);
	}
	cr_assert_not_null(r, "tracker 1 never listed the group");
	free(r);
	close(a);
	close(b);
}

/* A CA that did not sign the members' certificate: trackerd says so in
 * one line naming the member, and does not start. */
Test(tracker_etcd_tls, wrong_ca_refused)
{
	char	other[600], err[2048];
	int	status;

	snprintf(other, sizeof(other), "%s/other-ca.pem", EC.dir);
	tls_opts(other, 1);
	status = run_refused(err, sizeof(err));
	cr_assert_neq(status, 0, "trackerd started with a foreign CA");
	cr_assert_eq(lines(err), 1, "not one line: %s", err);
	cr_assert(strncmp(err, "trackerd: etcd https://127.0.0.1:", 33) == 0,
	    "%s", err);
	cr_assert(strstr(err, "certificate") != NULL, "%s", err);
	cr_assert_eq(h_connect(ET.port[0]), -1, "its port is open");
}

/* The members require a client certificate and none is configured. */
Test(tracker_etcd_tls, missing_client_certificate_refused)
{
	char	err[2048];
	int	status;

	tls_opts(EC.ca, 0);
	status = run_refused(err, sizeof(err));
	cr_assert_neq(status, 0, "trackerd started without a client "
	    "certificate");
	cr_assert_eq(lines(err), 1, "not one line: %s", err);
	cr_assert(strncmp(err, "trackerd: etcd https://127.0.0.1:", 33) == 0,
	    "%s", err);
	cr_assert(strstr(err, "certificate") != NULL, "%s", err);
}
