/* A client of etcd's v3 JSON gateway over libcurl (http, or https with a
 * verified certificate): keep-alive POSTs with bounded timeouts, endpoint
 * failover, and the streaming watch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ipc/net.h"
#include "ipc/util.h"
#include "trackerd/etcd.h"
#include "trackerd/etcd_codec.h"

#define CONNECT_MS	300		/* loopback or LAN: a member that does
					 * not answer this fast is down */
#define REPLY_MAX	(256u << 20)	/* the largest reply we buffer */
#define WATCH_LINE_MAX	(64u << 20)

struct etcd {
	struct etcd_target	 tg;
	int			 cur;		/* endpoint in use */
	CURL			*h;
	struct curl_slist	*hdrs;
	char			 why[CURL_ERROR_SIZE];	/* curl's detail */
	/* the reply being received */
	char			*buf;
	size_t			 len, cap;
	/* the watch being streamed */
	int			(*on_msg)(void *, json_object *);
	void			*arg;
	volatile int		*stop;
	int			 stopped_by_cb;
};

/* ---- the -J argument ---- */

static int
parse_endpoints(char *list, struct etcd_target *tg, char *err, size_t errlen)
{
	const char	*scheme = tg->tls ? "https" : "http";
	struct endpoint	 ep;
	char		*h, *save = NULL;

	for (h = strtok_r(list, ",", &save); h != NULL;
	    h = strtok_r(NULL, ",", &save)) {
		if (tg->n == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "-J: more than %d endpoints",
			    ETCD_MAX_ENDPOINTS);
			return -1;
		}
		if (endpoint_parse(h, &ep) == -1) {
			snprintf(err, errlen, "-J: \"%s\" is not IP:PORT", h);
			return -1;
		}
		snprintf(tg->endpoints[tg->n++], sizeof(tg->endpoints[0]),
		    "%s://%s", scheme, ep.text);
	}
	return 0;
}

static int
prefix_valid(const char *p)
{
	if (*p == '\0' || p[strlen(p) - 1] == '/')
		return 0;
	for (; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && strchr("._-/", *p) == NULL)
			return 0;
	return 1;
}

/* "etcd://" or "etcds://": the length of the scheme, or 0. */
static size_t
url_scheme(const char *url, int *tls)
{
	*tls = strncmp(url, "etcds://", 8) == 0;
	if (*tls)
		return 8;
	return strncmp(url, "etcd://", 7) == 0 ? 7 : 0;
}

int
etcd_parse_url(const char *url, struct etcd_target *tg, char *err,
    size_t errlen)
{
	char	hosts[ETCD_MAX_ENDPOINTS * 32];
	const char *slash, *list;
	size_t	skip;

	memset(tg, 0, sizeof(*tg));
	if ((skip = url_scheme(url, &tg->tls)) == 0 ||
	    (slash = strchr(url + skip, '/')) == NULL) {
		snprintf(err, errlen, "-J: expected etcd[s]://HOST:PORT[,HOST:"
		    "PORT...]/PREFIX, got \"%.200s\"", url);
		return -1;
	}
	list = url + skip;
	if ((size_t)(slash - list) >= sizeof(hosts) || slash == list) {
		snprintf(err, errlen, "-J: bad endpoint list");
		return -1;
	}
	memcpy(hosts, list, (size_t)(slash - list));
	hosts[slash - list] = '\0';
	if (!prefix_valid(slash + 1) || strlen(slash) >= sizeof(tg->prefix)) {
		snprintf(err, errlen, "-J: the prefix must be 1 to %zu bytes of "
		    "[A-Za-z0-9._/-], not ending in /", sizeof(tg->prefix) - 2);
		return -1;
	}
	strlcpy(tg->prefix, slash, sizeof(tg->prefix));
	if (parse_endpoints(hosts, tg, err, errlen) == -1)
		return -1;
	if (tg->n == 0) {
		snprintf(err, errlen, "-J: no endpoint");
		return -1;
	}
	return 0;
}

/* ---- the TLS files ---- */

/* Load the files as libcurl will (its OpenSSL), so that a missing or
 * mismatched file is one clear line at start, not a failure per request. */
static int
tls_files_load(const struct etcd_target *tg, char *err, size_t errlen)
{
	const char	*files[] = { tg->cacert, tg->cert, tg->key };
	SSL_CTX		*ctx;
	const char	*what = NULL, *why;
	size_t		 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i] != NULL && access(files[i], R_OK) == -1) {
			snprintf(err, errlen, "%s: %s", files[i],
			    strerror(errno));
			return -1;
		}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "etcd TLS: out of memory");
		return -1;
	}
	if (tg->cacert != NULL &&
	    SSL_CTX_load_verify_locations(ctx, tg->cacert, NULL) != 1)
		what = tg->cacert;
	else if (tg->cert != NULL &&
	    SSL_CTX_use_certificate_chain_file(ctx, tg->cert) != 1)
		what = tg->cert;
	else if (tg->key != NULL && (SSL_CTX_use_PrivateKey_file(ctx,
	    tg->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx)
	    != 1))
		what = tg->key;
	SSL_CTX_free(ctx);
	if (what == NULL)
		return 0;
	if ((why = ERR_reason_error_string(ERR_peek_last_error())) == NULL)
		why = "unknown error";
	snprintf(err, errlen, "%s: %s (%s)", what, what == tg->cacert ?
	    "cannot read PEM certificates from it" : what == tg->cert ?
	    "cannot read a PEM certificate chain from it" : "cannot read a PEM "
	    "private key from it that matches the --etcd-cert certificate",
	    why);
	ERR_clear_error();
	return -1;
}

int
etcd_check_tls(const struct etcd_target *tg, char *err, size_t errlen)
{
	if (!tg->tls && (tg->cacert || tg->cert || tg->key)) {
		snprintf(err, errlen, "--etcd-cacert, --etcd-cert and --etcd-key "
		    "need -J etcds://");
		return -1;
	}
	if ((tg->cert == NULL) != (tg->key == NULL)) {
		snprintf(err, errlen, "--etcd-cert and --etcd-key go together");
		return -1;
	}
	return tg->tls ? tls_files_load(tg, err, errlen) : 0;
}

/* ---- the connection ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct etcd	*e = arg;
	size_t		 len = size * n, ncap;
	char		*nb;

	if (e->len + len + 1 > e->cap) {
		if (e->len + len + 1 > REPLY_MAX)
			return 0;
		ncap = e->cap ? e->cap : 16384;
		while (ncap < e->len + len + 1)
			ncap *= 2;
		if ((nb = realloc(e->buf, ncap)) == NULL)
			return 0;
		e->buf = nb;
		e->cap = ncap;
	}
	memcpy(e->buf + e->len, p, len);
	e->len += len;
	e->buf[e->len] = '\0';
	return len;
}

/* https only, the members' certificates verified (chain and IP address)
 * against --etcd-cacert alone when given, and ours shown if configured. */
static void
tls_options(struct etcd *e)
{
	const struct etcd_target *tg = &e->tg;

	curl_easy_setopt(e->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e->h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e->h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (tg->cacert != NULL) {
		curl_easy_setopt(e->h, CURLOPT_CAINFO, tg->cacert);
		curl_easy_setopt(e->h, CURLOPT_CAPATH, NULL);
	}
	if (tg->cert != NULL) {
		curl_easy_setopt(e->h, CURLOPT_SSLCERT, tg->cert);
		curl_easy_setopt(e->h, CURLOPT_SSLKEY, tg->key);
	}
}

void
etcd_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct etcd *
etcd_new(const struct etcd_target *tg)
{
	struct etcd	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->tg = *tg;
	e->cur = (int)(arc4random_uniform((uint32_t)tg->n));
	if ((e->h = curl_easy_init()) == NULL) {
		free(e);
		return NULL;
	}
	e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" (libcurl asks for it before bodies over
	 * 1 KiB): every batch would wait for etcd's interim reply, one more
	 * round trip and two more wake-ups per transaction. */
	if (e->hdrs != NULL)
		e->hdrs = curl_slist_append(e->hdrs, "Expect:");
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
	curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, e->hdrs);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, e->why);
	if (tg->tls)
		tls_options(e);
	else
		curl_easy_setopt(e->h, CURLOPT_PROTOCOLS_STR, "http");
	return e;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	curl_easy_cleanup(e->h);
	curl_slist_free_all(e->hdrs);
	free(e->buf);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->tg.endpoints[e->cur];
}

void
etcd_next(struct etcd *e)
{
	e->cur = (e->cur + 1) % e->tg.n;
}

/* A TLS handshake that failed: nothing of the request was sent. */
static int
tls_refused(CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE ||
	    rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ISSUER_ERROR;
}

/* Did a failed transfer perhaps reach etcd? */
static int
maybe_sent(CURLcode rc)
{
	return rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
	    rc != CURLE_OUT_OF_MEMORY && rc != CURLE_URL_MALFORMAT &&
	    !tls_refused(rc);
}

/* "ENDPOINT: what failed (curl's detail)", on one line. */
static void
transfer_error(struct etcd *e, const char *what, CURLcode rc, char *err,
    size_t errlen)
{
	size_t	n = strcspn(e->why, "\r\n");

	snprintf(err, errlen, "%s%s: %s%s%.*s%s", what, e->tg.endpoints[e->cur],
	    curl_easy_strerror(rc), n ? " (" : "", (int)n, e->why, n ? ")" : "");
}

/*
 * A TLS session the member ended as soon as it was used, before any
 * answer: in TLS 1.3 the client certificate is judged after the handshake,
 * and the alert may come before the request is even sent.
 */
static int
tls_dropped(CURLcode rc)
{
	return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
	    rc == CURLE_GOT_NOTHING;
}

/*
 * Before the state is loaded: one harmless request (the member's status)
 * to each member in turn. 0 when a member answered or none could be
 * reached (loading retries and says so); -1 with err, the first refusal,
 * when every member that was reached refused the TLS session.
 */
int
etcd_verify_members(const struct etcd_target *tg, char *err, size_t errlen)
{
	struct etcd	*e;
	char		 url[192];
	CURLcode	 rc;
	int		 i, refused = 0;

	if (!tg->tls)
		return 0;
	if ((e = etcd_new(tg)) == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		return -1;
	}
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, (long)CONNECT_MS * 4);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_body);
	for (i = 0; i < tg->n; i++) {
		e->cur = i;
		e->len = 0;
		e->why[0] = '\0';
		snprintf(url, sizeof(url), "%s/v3/maintenance/status",
		    tg->endpoints[i]);
		curl_easy_setopt(e->h, CURLOPT_URL, url);
		if ((rc = curl_easy_perform(e->h)) == CURLE_OK) {
			refused = 0;
			break;
		}
		if (!tls_refused(rc) && !tls_dropped(rc))
			continue;	/* down: loading retries */
		if (refused++ > 0)
			continue;
		transfer_error(e, "etcd ", rc, err, errlen);
		if (tls_dropped(rc))
			strlcat(err, "; the member ended the TLS session at "
			    "once: does it require a client certificate "
			    "(--etcd-cert)?", errlen);
	}
	etcd_free(e);
	return refused ? -1 : 0;
}

/* etcd errors worth another try elsewhere: no leader, timeouts, a member
 * going away (gRPC Unavailable, DeadlineExceeded), a proposal a member
 * without a leader dropped. */
static int
transient(long http, const char *msg)
{
	return http == 503 || http == 504 || http == 502 ||
	    strstr(msg, "leader") != NULL || strstr(msg, "timed out") != NULL ||
	    strstr(msg, "unavailable") != NULL || strstr(msg, "stopped") != NULL ||
	    strstr(msg, "dropped") != NULL;
}

/* One POST to the current endpoint. 0, -1 retry elsewhere, -2 final. */
static int
post_once(struct etcd *e, const char *path, const char *body, long ms,
    json_object **resp, int *ambiguous, char *err, size_t errlen)
{
	char		url[192];
	CURLcode	rc;
	long		http = 0;

	snprintf(url, sizeof(url), "%s%s", e->tg.endpoints[e->cur], path);
	e->len = 0;
	e->why[0] = '\0';
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 1L);
	rc = curl_easy_perform(e->h);
	if (rc != CURLE_OK) {
		*ambiguous |= maybe_sent(rc);
		transfer_error(e, "", rc, err, errlen);
		return -1;
	}
	curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &http);
	*resp = e->len > 0 ? json_tokener_parse(e->buf) : NULL;
	if (*resp != NULL && http == 200)
		return 0;
	if (*resp == NULL || !ej_error(*resp, err, errlen))
		snprintf(err, errlen, "HTTP %ld", http);
	json_object_put(*resp);
	*resp = NULL;
	if (transient(http, err)) {
		*ambiguous = 1;
		return -1;
	}
	return -2;
}

int
etcd_post(struct etcd *e, const char *path, json_object *req,
    json_object **resp, int timeout_ms, int *ambiguous, char *err,
    size_t errlen)
{
	const char	*body = json_object_to_json_string_ext(req,
			    JSON_C_TO_STRING_PLAIN);
	uint64_t	 end = mono_ms() + (uint64_t)timeout_ms, now;
	int		 rc = -1, tries = 0;

	*ambiguous = 0;
	*resp = NULL;
	snprintf(err, errlen, "no etcd endpoint");
	while ((now = mono_ms()) < end) {
		rc = post_once(e, path, body, (long)(end - now), resp,
		    ambiguous, err, errlen);
		if (rc != -1)
			break;
		etcd_next(e);
		/* every endpoint refused: wait a little before the next round */
		if (++tries % e->tg.n == 0 && mono_ms() + 50 < end) {
			struct timespec	ts = { 0, 50 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	json_object_put(req);
	return rc == 0 ? 0 : -1;
}

/* ---- the watch ---- */

/* Hand every complete line (one JSON message each) to the callback. */
static int
watch_lines(struct etcd *e)
{
	char		*nl, *p = e->buf;
	json_object	*o;
	int		 stop = 0;

	while (!stop && (nl = memchr(p, '\n', e->len - (size_t)(p - e->buf)))) {
		*nl = '\0';
		if (nl > p) {
			if ((o = json_tokener_parse(p)) == NULL)
				return -1;
			stop = e->on_msg(e->arg, o);
			json_object_put(o);
		}
		p = nl + 1;
	}
	e->len -= (size_t)(p - e->buf);
	memmove(e->buf, p, e->len);
	if (stop)
		e->stopped_by_cb = 1;
	return stop;
}

static size_t
on_watch(char *p, size_t size, size_t n, void *arg)
{
	struct etcd	*e = arg;
	size_t		 len = size * n;

	if (e->len + len > WATCH_LINE_MAX || on_body(p, size, n, arg) != len)
		return 0;
	return watch_lines(e) == 0 ? len : 0;
}

static int
on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
    curl_off_t d)
{
	struct etcd	*e = arg;

	if (*e->stop)
		return 1;
	/* an idle moment: the callback may look whether the stream lags */
	if (e->on_msg(e->arg, NULL) != 0) {
		e->stopped_by_cb = 1;
		return 1;
	}
	return 0;
}

int
etcd_watch(struct etcd *e, json_object *req,
    int (*on_msg)(void *, json_object *), void *arg, volatile int *stop,
    char *err, size_t errlen)
{
	char		url[192];
	CURLcode	rc;

	snprintf(url, sizeof(url), "%s/v3/watch", e->tg.endpoints[e->cur]);
	e->len = 0;
	e->why[0] = '\0';
	e->on_msg = on_msg;
	e->arg = arg;
	e->stop = stop;
	e->stopped_by_cb = 0;
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	curl_easy_setopt(e->h, CURLOPT_COPYPOSTFIELDS,
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_watch);
	curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e->h, CURLOPT_XFERINFODATA, e);
	rc = curl_easy_perform(e->h);
	curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, NULL);
	if (e->stopped_by_cb)
		return 1;
	if (*stop)
		return 0;
	if (rc == CURLE_OK)
		snprintf(err, errlen, "watch on %s: the stream ended",
		    e->tg.endpoints[e->cur]);
	else
		transfer_error(e, "watch on ", rc, err, errlen);
	return -1;
}
