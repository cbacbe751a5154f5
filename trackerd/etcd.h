/* A client of etcd's v3 JSON gateway over libcurl: keep-alive POSTs with
 * bounded timeouts, endpoint failover, and the streaming watch. */
#ifndef TRACKERD_ETCD_H
#define TRACKERD_ETCD_H

#include <stdint.h>

#include <json-c/json.h>

#include "trackerd/config.h"

/* Parse "etcd://HOST:PORT[,HOST:PORT...]/PREFIX" (http) or "etcds://..."
 * (https). 0, or -1 with err. */
int	etcd_parse_url(const char *url, struct etcd_target *, char *err,
	    size_t errlen);
/* The TLS options (cacert, cert, key) agree with the URL and their files
 * load. 0, or -1 with err. */
int	etcd_check_tls(const struct etcd_target *, char *err, size_t errlen);
/* etcds://: a TLS handshake with the members; -1 with err when every member
 * that answered was refused (its certificate did not verify), else 0. */
int	etcd_verify_members(const struct etcd_target *, char *err,
	    size_t errlen);

/* One connection to the cluster; used by one thread at a time. */
struct etcd;

/* Once, before any thread starts (libcurl's global state). */
void	etcd_init(void);
struct etcd *etcd_new(const struct etcd_target *);
void	etcd_free(struct etcd *);
/* The endpoint in use, for the log. */
const char *etcd_endpoint(const struct etcd *);
/* Move to the next endpoint (after a failure noticed elsewhere). */
void	etcd_next(struct etcd *);

/*
 * POST req (consumed) to path ("/v3/kv/txn", ...), trying the endpoints in
 * turn until timeout_ms has passed. 0 and *resp (the reply, to be put), or
 * -1 with err; *ambiguous is set when a failed request may still have been
 * applied (it reached etcd and no answer came back).
 */
int	etcd_post(struct etcd *, const char *path, json_object *req,
	    json_object **resp, int timeout_ms, int *ambiguous, char *err,
	    size_t errlen);

/*
 * Stream the watch that req (consumed) creates on the current endpoint:
 * each message is passed to on_msg, which returns 0 to go on and nonzero
 * to stop; on_msg also gets NULL now and then (at least every second),
 * to stop a stream that fell silent. *stop is checked at least every second. Returns when on_msg
 * stopped it (1), *stop was set (0), or on a transport failure (-1, err
 * set; the caller moves to the next endpoint and resumes).
 */
int	etcd_watch(struct etcd *, json_object *req,
	    int (*on_msg)(void *, json_object *), void *arg,
	    volatile int *stop, char *err, size_t errlen);

#endif
