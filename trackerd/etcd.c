/* A client of etcd's v3 JSON gateway over libcurl: keep-alive POSTs with
 * bounded timeouts, endpoint failover, and the streaming watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

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
		    "http://%s", ep.text);
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

int
etcd_parse_url(const char *url, struct etcd_target *tg, char *err,
    size_t errlen)
{
	char	hosts[ETCD_MAX_ENDPOINTS * 32];
	const char *slash;

	memset(tg, 0, sizeof(*tg));
	if (strncmp(url, "etcd://", 7) != 0 ||
	    (slash = strchr(url + 7, '/')) == NULL) {
		snprintf(err, errlen, "-J: expected etcd://HOST:PORT[,HOST:"
		    "PORT...]/PREFIX, got \"%.200s\"", url);
		return -1;
	}
	if ((size_t)(slash - url - 7) >= sizeof(hosts) || slash == url + 7) {
		snprintf(err, errlen, "-J: bad endpoint list");
		return -1;
	}
	memcpy(hosts, url + 7, (size_t)(slash - url - 7));
	hosts[slash - url - 7] = '\0';
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
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(e->h, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
	curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, e->hdrs);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, e);
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

/* Did a failed transfer perhaps reach etcd? */
static int
maybe_sent(CURLcode rc)
{
	return rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
	    rc != CURLE_OUT_OF_MEMORY && rc != CURLE_URL_MALFORMAT;
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
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 1L);
	rc = curl_easy_perform(e->h);
	if (rc != CURLE_OK) {
		*ambiguous |= maybe_sent(rc);
		snprintf(err, errlen, "%s: %s", e->tg.endpoints[e->cur],
		    curl_easy_strerror(rc));
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
	snprintf(err, errlen, "watch on %s: %s", e->tg.endpoints[e->cur],
	    rc == CURLE_OK ? "the stream ended" : curl_easy_strerror(rc));
	return -1;
}
