/* Fixture of the etcd end-to-end tests: a real three-member etcd cluster
 * on free loopback ports (http, or https with client certificates), and
 * trackerd -J instances in their own dirs. */
#ifndef TESTS_E2E_ETCD_E2E_H
#define TESTS_E2E_ETCD_E2E_H

#include "tests/e2e/tracker_e2e.h"
#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"

#define ETCD_BIN	"/usr/bin/etcd"
#define EC_MEMBERS	3
#define ET_MAX		3

struct etcd_cluster {
	char		*dir;
	uint16_t	 cport[EC_MEMBERS], pport[EC_MEMBERS];
	struct h_proc	 p[EC_MEMBERS];
	char		 url[256];	/* etcd[s]://...,.../PREFIX for -J */
	int		 tls;		/* https, client certificates required */
	char		 ca[96], cert[96], key[96];	/* in dir: the CA and
					 * the client certificate it signed */
};

/* The trackers: ET_MAX slots in tracker_info.txt, each in its own dir. */
struct etcd_trackers {
	char		*dir;
	char		 info[512], tdir[ET_MAX][512], log[ET_MAX][600];
	uint16_t	 port[ET_MAX];
	struct h_proc	 p[ET_MAX];
	char		 extra[4][160];
	int		 nextra;
};

static struct etcd_cluster	EC;
static struct etcd_trackers	ET;

static inline uint16_t
ec_port(void)
{
	uint16_t	p;
	int		i, used;

	do {
		p = h_free_port();
		used = 0;
		for (i = 0; i < EC_MEMBERS; i++)
			used |= p == EC.cport[i] || p == EC.pport[i];
		for (i = 0; i < ET_MAX; i++)
			used |= p == ET.port[i];
	} while (used);
	return p;
}

/* Start member i (its data dir is kept across restarts). */
static inline int
ec_start(int i)
{
	char	name[16], data[600], curl[64], purl[64], cluster[512];
	char	log[600], srv[600], srvkey[600], *argv[32];
	int	n = 0, k, len = 0;

	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/m%d.etcd", EC.dir, i);
	snprintf(curl, sizeof(curl), "%s://127.0.0.1:%u",
	    EC.tls ? "https" : "http", EC.cport[i]);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%u", EC.pport[i]);
	snprintf(log, sizeof(log), "%s/m%d.log", EC.dir, i);
	for (k = 0; k < EC_MEMBERS; k++)
		len += snprintf(cluster + len, sizeof(cluster) - (size_t)len,
		    "%sm%d=http://127.0.0.1:%u", k ? "," : "", k, EC.pport[k]);
	argv[n++] = ETCD_BIN;
	argv[n++] = "--name"; argv[n++] = name;
	argv[n++] = "--data-dir"; argv[n++] = data;
	argv[n++] = "--listen-client-urls"; argv[n++] = curl;
	argv[n++] = "--advertise-client-urls"; argv[n++] = curl;
	argv[n++] = "--listen-peer-urls"; argv[n++] = purl;
	argv[n++] = "--initial-advertise-peer-urls"; argv[n++] = purl;
	argv[n++] = "--initial-cluster"; argv[n++] = cluster;
	argv[n++] = "--initial-cluster-token"; argv[n++] = EC.dir;
	argv[n++] = "--heartbeat-interval"; argv[n++] = "50";
	argv[n++] = "--election-timeout"; argv[n++] = "500";
	if (EC.tls) {
		snprintf(srv, sizeof(srv), "%s/member.pem", EC.dir);
		snprintf(srvkey, sizeof(srvkey), "%s/member.key", EC.dir);
		argv[n++] = "--cert-file"; argv[n++] = srv;
		argv[n++] = "--key-file"; argv[n++] = srvkey;
		argv[n++] = "--trusted-ca-file"; argv[n++] = EC.ca;
		argv[n++] = "--client-cert-auth";
	}
	argv[n] = NULL;
	return h_spawn(&EC.p[i], argv, NULL, log);
}

/* trackerd's etcd client aimed at one member. */
static inline void
ec_target(int member, struct etcd_target *tg)
{
	memset(tg, 0, sizeof(*tg));
	tg->n = 1;
	snprintf(tg->endpoints[0], sizeof(tg->endpoints[0]),
	    "%s://127.0.0.1:%u", EC.tls ? "https" : "http", EC.cport[member]);
	if (EC.tls) {
		tg->tls = 1;
		tg->cacert = EC.ca;
		tg->cert = EC.cert;
		tg->key = EC.key;
	}
}

/* One request through trackerd's own etcd client; 0 if etcd answered. */
static inline int
ec_ping(int member, int ms)
{
	struct etcd_target	 tg;
	struct etcd		*h;
	json_object		*resp;
	char			 err[200];
	int			 amb, rc;

	ec_target(member, &tg);
	if ((h = etcd_new(&tg)) == NULL)
		return -1;
	/* a linearizable read needs a leader */
	rc = etcd_post(h, "/v3/kv/range", ej_range("/ping", NULL, 0, 0, 0, 0,
	    0), &resp, ms, &amb, err, sizeof(err));
	if (rc == 0)
		json_object_put(resp);
	etcd_free(h);
	return rc;
}

/* The number of keys under prefix (the -J prefix + "/" + sub) last
 * modified at max_mod or before (0: any), or -1; *rev (if not NULL) the
 * revision read at. */
static inline long
ec_count_upto(const char *sub, int64_t max_mod, int64_t *rev)
{
	struct etcd_target	 tg = { .n = 1 };
	struct etcd		*h;
	struct ereply		 r;
	json_object		*resp;
	char			 key[256], *end, err[200];
	long			 n = -1;
	int			 amb;

	snprintf(tg.endpoints[0], sizeof(tg.endpoints[0]),
	    "http://127.0.0.1:%u", EC.cport[0]);
	snprintf(key, sizeof(key), "/p2ptest/%s", sub);
	if ((h = etcd_new(&tg)) == NULL)
		return -1;
	end = prefix_end(key);
	if (etcd_post(h, "/v3/kv/range", ej_range(key, end, 0, 0, max_mod, 0,
	    1), &resp, 3000, &amb, err, sizeof(err)) == 0) {
		if (ej_parse_range(resp, &r) == 0) {
			n = (long)r.nkvs;
			if (rev != NULL)
				*rev = r.revision;
		}
		ereply_free(&r);
		json_object_put(resp);
	}
	free(end);
	etcd_free(h);
	return n;
}

static inline long
ec_count(const char *sub)
{
	return ec_count_upto(sub, 0, NULL);
}

static inline int
ec_wait_ready(int member, int ms)
{
	long	end = trk_now_ms() + ms;

	while (trk_now_ms() < end) {
		if (EC.p[member].pid > 0 && ec_ping(member, 300) == 0)
			return 0;
		trk_sleep_ms(50);
	}
	return -1;
}

/*
 * In EC.dir: a CA (ca.pem), the members' certificate for 127.0.0.1
 * (member.pem), trackerd's client certificate (client.pem), and another
 * CA that signed none of them (other-ca.pem).
 */
static inline void
ec_make_pki(void)
{
	char	cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && for c in ca other-ca; do "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout $c.key -out $c.pem -days 2 -subj /CN=$c "
	    "2>/dev/null || exit 1; done && "
	    "printf 'subjectAltName=IP:127.0.0.1\n' > ext && "
	    "for c in member client; do "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout $c.key -out $c.csr -subj /CN=$c 2>/dev/null && "
	    "openssl x509 -req -in $c.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out $c.pem -days 2 -extfile ext 2>/dev/null "
	    "|| exit 1; done", EC.dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make the test CA");
	snprintf(EC.ca, sizeof(EC.ca), "%s/ca.pem", EC.dir);
	snprintf(EC.cert, sizeof(EC.cert), "%s/client.pem", EC.dir);
	snprintf(EC.key, sizeof(EC.key), "%s/client.key", EC.dir);
}

/* The cluster, serving https when tls (its CA and certificates made). */
static inline void
ec_init_tls(int tls)
{
	int	i, len = 0;

	memset(&EC, 0, sizeof(EC));
	memset(&ET, 0, sizeof(ET));
	EC.dir = h_tmpdir();
	EC.tls = tls;
	if (tls)
		ec_make_pki();
	for (i = 0; i < EC_MEMBERS; i++) {
		EC.cport[i] = ec_port();
		EC.pport[i] = ec_port();
	}
	len = snprintf(EC.url, sizeof(EC.url), "%s://", tls ? "etcds" : "etcd");
	for (i = 0; i < EC_MEMBERS; i++)
		len += snprintf(EC.url + len, sizeof(EC.url) - (size_t)len,
		    "%s127.0.0.1:%u", i ? "," : "", EC.cport[i]);
	snprintf(EC.url + len, sizeof(EC.url) - (size_t)len, "/p2ptest");
	for (i = 0; i < EC_MEMBERS; i++)
		cr_assert_eq(ec_start(i), 0, "cannot start etcd member %d", i);
	for (i = 0; i < EC_MEMBERS; i++)
		cr_assert_eq(ec_wait_ready(i, 20000), 0, "etcd member %d is "
		    "not ready (see %s/m%d.log)", i, EC.dir, i);
}

static inline void
ec_init(void)
{
	ec_init_tls(0);
}

/* The member that leads now, or -1. */
static inline int
ec_leader(void)
{
	struct etcd_target	 tg;
	struct etcd		*h;
	json_object		*resp, *hd, *v;
	char			 err[200];
	int			 amb, i, found = -1;

	for (i = 0; i < EC_MEMBERS && found == -1; i++) {
		if (EC.p[i].pid <= 0)
			continue;
		ec_target(i, &tg);
		if ((h = etcd_new(&tg)) == NULL)
			continue;
		if (etcd_post(h, "/v3/maintenance/status",
		    json_object_new_object(), &resp, 1000, &amb, err,
		    sizeof(err)) == 0) {
			if (json_object_object_get_ex(resp, "header", &hd) &&
			    json_object_object_get_ex(hd, "member_id", &v) &&
			    json_object_object_get_ex(resp, "leader", &hd) &&
			    strcmp(json_object_get_string(v),
			    json_object_get_string(hd)) == 0)
				found = i;
			json_object_put(resp);
		}
		etcd_free(h);
	}
	return found;
}

static inline void
ec_stop(int i, int sig)
{
	if (EC.p[i].pid > 0)
		h_stop(&EC.p[i], sig, 8000);
	EC.p[i].pid = 0;
}

/* ---- trackers ---- */

static inline void
et_init(void)
{
	char	buf[256];
	int	i, len = 0;

	ET.dir = h_tmpdir();
	for (i = 0; i < ET_MAX; i++) {
		ET.port[i] = ec_port();
		snprintf(ET.tdir[i], sizeof(ET.tdir[i]), "%s/t%d", ET.dir, i + 1);
		mkdir(ET.tdir[i], 0700);
		snprintf(ET.log[i], sizeof(ET.log[i]), "%s/trackerd.log",
		    ET.tdir[i]);
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
		    "127.0.0.1:%u\n", ET.port[i]);
	}
	snprintf(ET.info, sizeof(ET.info), "%s/tracker_info.txt", ET.dir);
	h_write_file(ET.info, buf);
}

static inline void
et_opt(const char *opt)
{
	snprintf(ET.extra[ET.nextra++], sizeof(ET.extra[0]), "%s", opt);
}

/* Start tracker i (0-based) with -J in its own directory. */
static inline int
et_start(int i)
{
	static char	no[16];
	char		*argv[32], bin[600];
	int		 n = 0, k;

	snprintf(no, sizeof(no), "%d", i + 1);
	snprintf(bin, sizeof(bin), "%s/trackerd/trackerd", h_root());
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "-k";
	argv[n++] = "1000";
	argv[n++] = "-w";
	argv[n++] = "2";
	argv[n++] = "-o";
	argv[n++] = TRK_CAPS;
	argv[n++] = "-J";
	argv[n++] = EC.url;
	for (k = 0; k < ET.nextra; k++)
		argv[n++] = ET.extra[k];
	argv[n++] = ET.info;
	argv[n++] = no;
	argv[n] = NULL;
	if (chdir(ET.tdir[i]) == -1 ||
	    h_spawn(&ET.p[i], argv, NULL, ET.log[i]) == -1 ||
	    chdir(h_root()) == -1)
		return -1;
	return h_wait_port(ET.port[i], 15000);
}

/* Tracker i's children whose title names them what ("worker",
 * "journal"). */
static inline int
et_children(int i, const char *what, pid_t *out, int max)
{
	pid_t	 kids[16];
	char	 path[64], *title;
	int	 n = child_pids(ET.p[i].pid, kids, 16), k, m = 0;

	for (k = 0; k < n && m < max; k++) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)kids[k]);
		if ((title = proc_read(path)) == NULL)
			continue;
		if (strstr(title, what) != NULL)
			out[m++] = kids[k];
		free(title);
	}
	return m;
}

static inline int
et_conn(int i)
{
	int	fd = h_connect(ET.port[i]);

	cr_assert_geq(fd, 0, "connect to tracker %d: %s", i + 1,
	    strerror(errno));
	return fd;
}

static inline void
ec_fini(void)
{
	int	i;

	for (i = 0; i < ET_MAX; i++) {
		if (ET.p[i].pid > 0)
			h_stop(&ET.p[i], SIGTERM, 8000);
		if (ET.port[i] != 0)
			h_tracker_shm_unlink(ET.port[i]);
	}
	for (i = 0; i < EC_MEMBERS; i++)
		ec_stop(i, SIGTERM);
	h_rmtree(EC.dir);
	h_rmtree(ET.dir);
}

#endif
