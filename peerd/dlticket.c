/* A download's ticket: the tracker's signed word that this user is a
 * member of the file's group, fetched when the download starts, renewed
 * before it expires, and shown to every seeder in HELLO. */
#include <string.h>
#include <time.h>

#include "ipc/log.h"
#include "peerd/download.h"
#include "peerd/ev.h"

#define DLTICKET_RENEW_S	120	/* renew this long before expiry */
#define DLTICKET_MIN_MS		5000	/* between two requests */

static void
ticket_cb(void *arg, const struct treply *r)
{
	struct dl	*d = arg;
	struct dl_ticket *tk;

	if (dl_unref(d))
		return;
	tk = &d->tk;
	tk->asking = 0;
	if (r->kind == TREPLY_NONE)
		return;
	if (tproto_ticket(r, tk->bin, &tk->len, &tk->expires) == -1) {
		if (tk->len == 0)
			tk->refused = 1;
		log_info("download %s: no ticket: %s", d->info.name,
		    r->kind == TREPLY_OK ? "malformed answer" :
		    tproto_message(r));
		return;
	}
	tk->refused = 0;
	log_debug("download %s: ticket until %llu", d->info.name,
	    (unsigned long long)tk->expires);
	if (d->info.state == DL_RUNNING)
		dl_connect_more(d);
}

static void
ask(struct dl *d)
{
	struct buf	b;

	if (d->tk.asking || !tracker_logged_in() ||
	    (d->tk.asked_ms != 0 && ev_now_ms() - d->tk.asked_ms <
	    DLTICKET_MIN_MS))
		return;
	d->tk.asked_ms = ev_now_ms();
	buf_init(&b, 256);
	if (tproto_ticket_req(&b, d->info.group, d->info.name) == 0 &&
	    tracker_send(buf_head(&b), ticket_cb, d) == 0) {
		d->refs++;
		d->tk.asking = 1;
	}
	buf_free(&b);
}

void
dlticket_tick(struct dl *d)
{
	if (d->tk.len == 0 ||
	    d->tk.expires < (uint64_t)time(NULL) + DLTICKET_RENEW_S)
		ask(d);
}

int
dlticket_ready(const struct dl *d)
{
	return d->tk.len > 0 || d->tk.refused;
}

void
dlticket_refused(struct dl *d)
{
	ask(d);
}
