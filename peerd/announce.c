/* What the tracker has been told of our shares: all of them announced
 * when a session begins, one withdrawn when its file changed on disk. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/log.h"
#include "peerd/peerd.h"

struct announce {
	char	group[NAME_MAX_LEN + 1];
	char	name[NAME_MAX_LEN + 1];
};

static void
on_announced(void *arg, const struct treply *r)
{
	struct announce	*a = arg;
	struct share	*s;

	if (r->kind == TREPLY_OK) {
		if ((s = store_find_share(a->group, a->name)) != NULL)
			s->announced = 1;
	} else
		log_warnx("share %s/%s: announcing it failed: %.200s", a->group,
		    a->name, tproto_message(r));
	free(a);
}

static void
announce_one(struct share *s)
{
	struct announce	*a;
	struct buf	 b;

	buf_init(&b, (size_t)s->npieces * (SHA1_HEX_LEN + 1) + 1024);
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    tproto_upload(&b, s->group, s->name, s->size, peer_advertised(), s->sha1,
	    s->npieces, s->piece_sha1) == -1) {
		log_warnx("share %s/%s: out of memory", s->group, s->name);
		free(a);
		buf_free(&b);
		return;
	}
	strlcpy(a->group, s->group, sizeof(a->group));
	strlcpy(a->name, s->name, sizeof(a->name));
	if (tracker_send(buf_head(&b), on_announced, a) == -1)
		free(a);
	buf_free(&b);
}

void
announce_session_started(void)
{
	struct share	*s, *next;
	const char	*user = tracker_user();
	int		 n = 0;

	for (s = store_shares(); s != NULL; s = next) {
		next = s->next;
		s->announced = 0;
		if (s->user[0] != '\0' && strcmp(s->user, user) != 0)
			continue;
		if (store_share_changed(s)) {
			log_warnx("share %s/%s: %s changed on disk or is gone; "
			    "no longer shared", s->group, s->name, s->path);
			store_remove_share(s->group, s->name);
			continue;
		}
		announce_one(s);
		n++;
	}
	if (n > 0)
		log_info("announcing %d share%s", n, n == 1 ? "" : "s");
}

void
announce_registered(struct share *s)
{
	s->announced = 1;
}

/* A finished download: registered as a partial seeder while it ran, it
 * registers again as complete (the seed client's form lists it then). */
void
announce_completed(struct share *s)
{
	if (tracker_logged_in())
		announce_one(s);
}

void
announce_logged_out(void)
{
	struct share	*s;

	for (s = store_shares(); s != NULL; s = s->next)
		s->announced = 0;
}

/* The store's hook: a share's file changed on disk; stop offering it. */
void
announce_changed(struct share *s)
{
	struct buf	b;

	if (!tracker_logged_in() || !s->announced)
		return;
	s->announced = 0;
	buf_init(&b, 256);
	if (tproto_stop_share(&b, s->group, s->name, peer_advertised()) == 0)
		tracker_send(buf_head(&b), NULL, NULL);
	buf_free(&b);
}

const struct endpoint *
peer_advertised(void)
{
	static struct endpoint	ep;
	struct ipaddr		ip = conf.advertise;

	ep = conf.self;
	if (!conf.advertise_set && (!endpoint_is_any(&conf.self) ||
	    tracker_local_addr(&ip) == -1))
		return &ep;
	endpoint_set(&ep, &ip, endpoint_port(&conf.self));
	return &ep;
}
