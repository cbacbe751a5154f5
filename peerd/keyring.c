/* The trackers' ticket-signing public keys as the tracker lists them
 * ("keys"), refreshed at each session and when a ticket names a key we do
 * not know, and the seeder's check of a ticket against them. */
#include <string.h>
#include <time.h>

#include "ipc/log.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"

#define KEYRING_MAX	(MAX_TRACKERS * 2)
#define KEYRING_MIN_MS	5000	/* between two requests for the keys */

static struct ticket_key	keys[KEYRING_MAX];
static size_t			nkeys;
static int			asking;
static uint64_t			asked_ms;

static void
keys_cb(void *arg, const struct treply *r)
{
	struct ticket_key	got[KEYRING_MAX];
	size_t			n;

	asking = 0;
	if (r->kind != TREPLY_OK) {
		log_debug("keyring: no keys: %s", tproto_message(r));
		return;
	}
	if (tproto_keys(r, got, KEYRING_MAX, &n) == -1) {
		log_warnx("keyring: malformed key list from the tracker");
		return;
	}
	memcpy(keys, got, n * sizeof(got[0]));
	nkeys = n;
	log_debug("keyring: %zu tracker keys", n);
}

void
keyring_refresh(void)
{
	uint64_t	now = ev_now_ms();

	if (asking || (asked_ms != 0 && now - asked_ms < KEYRING_MIN_MS))
		return;
	asked_ms = now;
	if (tracker_send("keys", keys_cb, NULL) == 0)
		asking = 1;
}

enum ticket_verdict
keyring_check(const uint8_t *p, size_t n, const uint8_t sha1[SHA1_LEN],
    struct ticket *t)
{
	enum ticket_verdict	v;

	if (ticket_decode(p, n, t) == -1)
		return TICKET_MALFORMED;
	v = ticket_check(p, n, keys, nkeys, sha1, t->group,
	    (uint64_t)time(NULL), t);
	if (v == TICKET_UNKNOWN_KEY)
		keyring_refresh();
	return v;
}
