/* One connection to a seeder, the client-side mirror of serve.c: connect,
 * handshake, the receive state machine, pipelined requests, and the seed
 * client's GET_PIECE form (one piece per connection). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/text.h"
#include "ipc/util.h"
#include "peerd/bitfield.h"
#include "peerd/download.h"
#include "peerd/ev.h"
#include "peerd/ratelimit.h"

static void	session_event(int, uint32_t, void *);
static void	fill_requests(struct session *);
static int	peer_flush(struct session *);
static int	peer_fail(struct session *, const char *);

/* Room for one more header-only message in p's output. */
static int
out_room(const struct session *p)
{
	return p->outlen + WIRE_HDR_LEN <= sizeof(p->out);
}

void
seeder_cancel_elsewhere(struct dl *d, struct session *from, uint32_t idx)
{
	struct session	*p;
	unsigned	 k;

	for (p = d->peers; p != NULL; p = p->next) {
		if (p == from || p->st == P_GP)
			continue;
		for (k = 0; k < p->qn; k++) {
			if (p->q[k].idx != idx || p->q[k].cancelled)
				continue;
			p->q[k].cancelled = 1;
			bf_clear(p->req, idx);
			sched_released(&d->s, idx);
			if (out_room(p)) {
				wire_hdr(p->out + p->outlen, WIRE_CANCEL, idx, 0);
				p->outlen += WIRE_HDR_LEN;
			}
		}
	}
}

/* A connection still owed pieces sends what is queued after its next
 * read (with its next requests): one send for both. */
void
seeder_have(struct dl *d, uint32_t idx)
{
	struct session	*p, *next;

	for (p = d->peers; p != NULL; p = next) {
		next = p->next;
		if (p->st == P_GP || p->st == P_CONNECTING || !out_room(p))
			continue;
		wire_hdr(p->out + p->outlen, WIRE_HAVE, idx, 0);
		p->outlen += WIRE_HDR_LEN;
		if (p->qn > 0 && p->st != P_WAITBUF && p->rl_timer == 0)
			continue;
		if (peer_flush(p) == -1)
			peer_fail(p, "write failed");
	}
}

/* Remember the first few pieces that failed, once each and in order, for
 * the reason. */
static void
note_bad_piece(struct dl *d, uint32_t idx)
{
	int	i, j;

	for (i = 0; i < d->nbad && d->bad[i] <= idx; i++)
		if (d->bad[i] == idx)
			return;
	if (d->nbad == DL_BAD_KEPT)
		return;
	for (j = d->nbad++; j > i; j--)	/* kept in order */
		d->bad[j] = d->bad[j - 1];
	d->bad[i] = idx;
}

int
seeder_all_bad(const struct dl *d, char *out, size_t outlen)
{
	size_t	n;
	int	i;

	for (i = 0; i < d->nknown; i++)
		if (!d->known[i].banned)
			return 0;
	if (d->nbad == 0)
		return 0;
	n = strlcpy(out, d->nbad > 1 ? "pieces" : "piece", outlen);
	for (i = 0; i < d->nbad && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s %u",
		    i > 0 ? "," : "", d->bad[i]);
	if (n < outlen)
		snprintf(out + n, outlen - n, " failed verification from "
		    "every seeder");
	return 1;
}

/* Piece idx from k failed its hash: ask someone else; drop k when it
 * keeps doing that. */
void
seeder_piece_bad(struct dl *d, struct known *k, uint32_t idx)
{
	struct session	*p, *next;

	log_warnx("download %s: piece %u from %s failed its hash",
	    d->info.name, idx, k->ep.text);
	k->bad++;
	note_bad_piece(d, idx);
	for (p = d->peers; p != NULL; p = next) {
		next = p->next;
		if (p->k != k)
			continue;
		if (k->bad >= DL_MAX_BAD) {
			k->banned = 1;
			seeder_drop(p, "sent bad pieces");
			continue;
		}
		/* This peer "no longer has" it, so another one is asked. */
		if (p->has != NULL && bf_test(p->has, idx)) {
			bf_clear(p->has, idx);
			if (p->counted)
				sched_peer_lost(&d->s, idx);
		}
	}
	if (k->bad >= DL_MAX_BAD)
		k->banned = 1;
}

/* A piece's bytes arrived on the loop (GET_PIECE): verify and store.
 * 0, or -1 if p was dropped or the download ended. */
static int
piece_arrived(struct session *p, uint32_t idx, const uint8_t *data, uint32_t len)
{
	struct dl	*d = p->dl;
	struct known	*k = p->k;

	if (bf_test(d->s.have, idx))
		return 0;		/* an endgame duplicate */
	if (!verify_piece(d, idx, data, len)) {
		seeder_piece_bad(d, k, idx);
		return k->banned ? -1 : 0;
	}
	k->fails = 0;
	return dl_piece_verified(d, idx, data, len);
}

void
seeder_drop(struct session *p, const char *why)
{
	struct dl	*d = p->dl;
	struct session	**pp;
	unsigned	 k;

	if (why != NULL) {
		log_info("download %s: dropping %s: %s", d->info.name,
		    p->k->ep.text, why);
		snprintf(d->last_why, sizeof(d->last_why), "%s: %s",
		    p->k->ep.text, why);
	}
	ev_timer_cancel(p->rl_timer);
	for (pp = &d->peers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	d->npeers--;
	p->k->nconn--;
	if ((p->st == P_PIECE || p->st == P_WAITBUF) && p->cur_live)
		sched_released(&d->s, p->pidx);
	if (p->cur != NULL)
		seeder_buffer_release(d, p->cur);
	for (k = 0; k < p->qn; k++)
		if (!p->q[k].cancelled)
			sched_released(&d->s, p->q[k].idx);
	if (p->counted)
		sched_peer_bits(&d->s, p->has, -1);
	if (p->fd != -1) {
		ev_del(p->fd);
		close(p->fd);
	}
	free(p->has);
	free(p->req);
	free(p->pay);
	free(p->piece);
	free(p);
}

/*
 * Drop p and keep the seeder out for a while, longer after each failure
 * in a row (a piece from it resets the count); after DL_MAX_FAILS it is
 * banned for DL_BAN_MS. 1 (p is gone).
 */
static int
peer_fail(struct session *p, const char *why)
{
	struct known	*k = p->k;
	uint64_t	 now = ev_now_ms(), delay;

	k->fails++;
	delay = (uint64_t)DL_RETRY_MS << (k->fails < 6 ? k->fails - 1 : 5);
	k->retry_at = now + (delay < DL_BACKOFF_MAX_MS ? delay :
	    DL_BACKOFF_MAX_MS);
	if (k->fails >= DL_MAX_FAILS && !k->banned) {
		k->banned = 1;
		k->ban_until = now + DL_BAN_MS;
		log_warnx("download %s: %s banned for %d s after %d failures",
		    p->dl->info.name, k->ep.text, DL_BAN_MS / 1000, k->fails);
	}
	seeder_drop(p, why);
	return 1;
}

/* The download rate limit is reached: stop reading p until it refills. */
static void
rl_resume(void *arg)
{
	struct session	*p = arg;

	p->rl_timer = 0;
	ev_mod(p->fd, (p->st == P_WAITBUF ? 0 : EPOLLIN) |
	    (p->outlen > 0 ? EPOLLOUT : 0));
}

static void
rl_throttle(struct session *p)
{
	if (p->rl_timer != 0)
		return;
	ev_mod(p->fd, p->outlen > 0 ? EPOLLOUT : 0);
	p->rl_timer = ev_timer(rl_delay_ms(&rl_down), rl_resume, p);
}

static int
peer_flush(struct session *p)
{
	ssize_t	w;

	if (p->outlen > 0) {
		if ((w = send_until_blocked(p->fd, p->out, p->outlen, 0)) == -1)
			return -1;
		memmove(p->out, p->out + w, p->outlen - (size_t)w);
		p->outlen -= (size_t)w;
	}
	ev_mod(p->fd, (p->st == P_WAITBUF || p->rl_timer ? 0 : EPOLLIN) |
	    (p->outlen > 0 ? EPOLLOUT : 0));
	return 0;
}

static void
fill_requests(struct session *p)
{
	struct dl	*d = p->dl;
	int64_t		 i;

	if (p->st == P_GP || p->st == P_CONNECTING || p->st == P_MAGIC ||
	    p->has == NULL || !p->counted)
		return;
	while (p->qn < DL_DEPTH && out_room(p)) {
		if ((i = sched_pick(&d->s, p->has, p->req)) < 0)
			break;
		if (p->qn == 0)
			p->piece_since = ev_now_ms();	/* a piece is owed */
		sched_requested(&d->s, (uint32_t)i);
		bf_set(p->req, (uint32_t)i);
		p->q[p->qn].idx = (uint32_t)i;
		p->q[p->qn++].cancelled = 0;
		wire_hdr(p->out + p->outlen, WIRE_REQUEST, (uint32_t)i, 0);
		p->outlen += WIRE_HDR_LEN;
	}
}

/* Match an answer for idx against the request queue (answers come in
 * request order; cancelled requests may be skipped). 1 if it was ours
 * and not cancelled, 0 if cancelled, -1 on a protocol error. */
static int
take_request(struct session *p, uint32_t idx)
{
	unsigned	k, j;
	int		live;

	for (k = 0; k < p->qn; k++) {
		if (p->q[k].idx == idx)
			break;
		if (!p->q[k].cancelled)
			return -1;
	}
	if (k == p->qn)
		return -1;
	live = !p->q[k].cancelled;
	if (live)
		bf_clear(p->req, idx);	/* still in flight until hashed */
	for (j = 0; j + k + 1 < p->qn; j++)
		p->q[j] = p->q[j + k + 1];
	p->qn -= k + 1;
	return live;
}

static int
got_bitfield(struct session *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;

	if (m->a != d->meta.npieces || !bf_tail_clear(m->payload, m->a))
		return -1;
	if ((p->has = bf_new(m->a)) == NULL || (p->req = bf_new(m->a)) == NULL)
		return -1;
	memcpy(p->has, m->payload, bf_bytes(m->a));
	sched_peer_bits(&d->s, p->has, 1);
	p->counted = 1;
	d->last_live = ev_now_ms();
	return 0;
}

/* Peer exchange: other downloaders of the file, where they serve it. */
static void
got_peers(struct session *p, const struct wire_msg *m)
{
	struct endpoint	ep;
	uint32_t	k;
	const uint8_t	*a;

	for (k = 0; k < m->a; k++) {
		a = m->payload + (size_t)k * WIRE_ADDR_LEN;
		memset(&ep, 0, sizeof(ep));
		ep.sin.sin_family = AF_INET;
		memcpy(&ep.sin.sin_addr.s_addr, a, 4);
		memcpy(&ep.sin.sin_port, a + 4, 2);
		if (ep.sin.sin_port == 0)
			continue;
		snprintf(ep.text, sizeof(ep.text), "%s:%u",
		    inet_ntoa(ep.sin.sin_addr), ntohs(ep.sin.sin_port));
		log_debug("download %s: %s tells of %s", p->dl->info.name,
		    p->k->ep.text, ep.text);
		dl_learn_peer(p->dl, &ep);
	}
}

/* A complete non-PIECE message; 0, or -1 to drop the peer. */
static int
got_message(struct session *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;
	char		 text[WIRE_MAX_ERROR + 1];
	int		 r;

	if (p->has == NULL && m->type != WIRE_BITFIELD &&
	    m->type != WIRE_ERROR)
		return -1;
	switch (m->type) {
	case WIRE_BITFIELD:
		return p->has != NULL ? -1 : got_bitfield(p, m);
	case WIRE_ERROR:
		log_info("download %s: %s: %s", d->info.name, p->k->ep.text,
		    text_clean_copy(m->payload, m->len, text, sizeof(text)));
		if (strncmp(text, "ticket", 6) == 0)
			dlticket_refused(d);
		return -1;
	case WIRE_PEERS:
		got_peers(p, m);
		return 0;
	case WIRE_HAVE:
		if (m->a >= d->meta.npieces)
			return -1;
		if (!bf_test(p->has, m->a)) {
			bf_set(p->has, m->a);
			sched_peer_have(&d->s, m->a);
		}
		return 0;
	case WIRE_REJECT:
		if ((r = take_request(p, m->a)) == -1)
			return -1;
		if (r == 1)
			sched_released(&d->s, m->a);
		if (bf_test(p->has, m->a)) {
			bf_clear(p->has, m->a);
			sched_peer_lost(&d->s, m->a);
		}
		return 0;
	default:
		return -1;
	}
}

/* Read into a fixed target; returns bytes, 0 on EAGAIN, -1 closed/error. */
static ssize_t
peer_recv(struct session *p, void *dst, size_t n)
{
	ssize_t	r;

	if (p->rl_timer != 0)
		return 0;
	if ((n = rl_allow(&rl_down, n, ev_now_ms())) == 0) {
		rl_throttle(p);
		return 0;
	}
	do
		r = recv(p->fd, dst, n, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1 && errno == EAGAIN)
		return 0;
	if (r <= 0)
		return -1;
	p->last = ev_now_ms();
	rl_used(&rl_down, (size_t)r, p->last);
	return r;
}

static int
start_piece_data(struct session *p, const struct wire_msg *m)
{
	struct dl	*d = p->dl;
	int		 r;

	if (m->a >= d->meta.npieces ||
	    m->len != piece_len(d->meta.size, m->a))
		return -1;
	if ((r = take_request(p, m->a)) == -1)
		return -1;
	p->cur_live = r;
	p->pidx = m->a;
	p->plen = m->len;
	p->pgot = 0;
	if ((p->cur = verify_buf_get(d)) == NULL) {
		/* Every buffer is being hashed: stop reading for now. */
		p->st = P_WAITBUF;
		ev_mod(p->fd, p->outlen > 0 ? EPOLLOUT : 0);
		return 1;
	}
	p->st = P_PIECE;
	return 0;
}

/* All bytes of the current piece are in: hash it off the loop (or drop
 * it if nobody wants it any more). */
static void
piece_received(struct session *p)
{
	struct dl	*d = p->dl;
	struct pbuf	*b = p->cur;

	p->cur = NULL;
	p->st = P_HDR;
	p->piece_since = ev_now_ms();
	if (!p->cur_live || bf_test(d->s.have, p->pidx)) {
		if (p->cur_live)
			sched_released(&d->s, p->pidx);
		seeder_buffer_release(d, b);
		return;
	}
	b->k = p->k;
	b->idx = p->pidx;
	b->len = p->plen;
	verify_hasher_queue(d, b);
}

static int
step_magic(struct session *p)
{
	ssize_t	r;

	r = peer_recv(p, p->hdr + p->hgot, WIRE_MAGIC_LEN - p->hgot);
	if (r <= 0)
		return (int)r;
	p->hgot += (size_t)r;
	if (memcmp(p->hdr, WIRE_MAGIC, p->hgot) != 0)
		return -2;	/* not our protocol */
	if (p->hgot == WIRE_MAGIC_LEN) {
		p->hgot = 0;
		p->st = P_HDR;
	}
	return 1;
}

static int
step_header(struct session *p)
{
	struct wire_msg	m;
	ssize_t		r;
	int		rc;

	r = peer_recv(p, p->hdr + p->hgot, WIRE_HDR_LEN - p->hgot);
	if (r <= 0)
		return (int)r;
	p->hgot += (size_t)r;
	if ((rc = wire_parse(p->hdr, p->hgot, WIRE_TO_CLIENT, &m)) == -1)
		return -1;
	if (rc == 0 && p->hgot < WIRE_HDR_LEN)
		return 1;
	p->hgot = 0;
	if (m.type == WIRE_PIECE) {
		if ((rc = start_piece_data(p, &m)) == -1)
			return -1;
		return rc == 1 ? 0 : 1;
	}
	if (rc > 0)	/* header-only message */
		return got_message(p, &m) == -1 ? -1 : 1;
	p->msg = m;
	if ((p->pay = malloc(m.len)) == NULL)
		return -1;
	p->paygot = 0;
	p->st = P_PAYLOAD;
	return 1;
}

static int
step_payload(struct session *p)
{
	ssize_t	r;
	int	rc;

	r = peer_recv(p, p->pay + p->paygot, p->msg.len - p->paygot);
	if (r <= 0)
		return (int)r;
	if ((p->paygot += (size_t)r) < p->msg.len)
		return 1;
	p->msg.payload = p->pay;
	rc = got_message(p, &p->msg);
	free(p->pay);
	p->pay = NULL;
	p->st = P_HDR;
	return rc == -1 ? -1 : 1;
}

static int
step_piece(struct session *p)
{
	ssize_t	r;

	r = peer_recv(p, p->cur->data + p->pgot, p->plen - p->pgot);
	if (r <= 0)
		return (int)r;
	if ((p->pgot += (uint32_t)r) < p->plen)
		return 1;
	piece_received(p);
	return 1;
}

/* One step of the receive state machine: 1 progress, 0 wait, -1 drop,
 * -2 the peer does not speak our protocol. */
static int
peer_step(struct session *p)
{
	switch (p->st) {
	case P_MAGIC:
		return step_magic(p);
	case P_HDR:
		return step_header(p);
	case P_PAYLOAD:
		return step_payload(p);
	case P_PIECE:
		return step_piece(p);
	case P_WAITBUF:
		return 0;
	default:
		return -1;
	}
}

static void
peer_readable(struct session *p)
{
	struct dl	*d = p->dl;
	int		 k, r = 0, was_magic;

	for (k = 0; k < 64; k++) {
		was_magic = p->st == P_MAGIC;
		if ((r = peer_step(p)) <= 0)
			break;
	}
	if (r == -2 || (r == -1 && was_magic && p->hgot == 0)) {
		/* No magic back: a seed client. Use GET_PIECE with it. */
		log_info("download %s: %s does not speak p2pshare, using "
		    "GET_PIECE", d->info.name, p->k->ep.text);
		p->k->fallback = 1;
		seeder_drop(p, NULL);
		dl_connect_more(d);
		return;
	}
	if (r == -1) {
		peer_fail(p, "connection lost or protocol error");
		return;
	}
	fill_requests(p);
	if (peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

static void
gp_readable(struct session *p)
{
	struct dl	*d = p->dl;
	ssize_t		r;
	uint32_t	idx = p->pidx;
	uint8_t		extra;

	for (;;) {
		if (p->pgot < p->plen) {
			r = peer_recv(p, p->piece + p->pgot, p->plen - p->pgot);
			if (r == 0)
				return;
			if (r < 0)
				break;
			p->pgot += (uint32_t)r;
			continue;
		}
		r = peer_recv(p, &extra, 1);
		if (r == 0)
			return;
		if (r > 0) {
			p->pgot = 0;	/* more than a piece: wrong */
			break;
		}
		break;
	}
	if (p->pgot != p->plen) {
		peer_fail(p, "GET_PIECE answer short or long");
		return;
	}
	p->qn = 0;
	sched_released(&d->s, idx);
	if (piece_arrived(p, idx, p->piece, p->plen) == -1)
		return;
	seeder_drop(p, NULL);
	if (d->info.state == DL_RUNNING)
		dl_connect_more(d);	/* next piece at once */
}

static int
gp_start(struct session *p)
{
	struct dl	*d = p->dl;
	int64_t		 i;
	int		 n;

	if ((i = sched_pick(&d->s, p->has, NULL)) < 0)
		return -1;
	if ((p->piece = malloc(PIECE_SIZE)) == NULL)
		return -1;
	p->pidx = (uint32_t)i;
	p->plen = piece_len(d->meta.size, p->pidx);
	p->pgot = 0;
	p->piece_since = ev_now_ms();
	sched_requested(&d->s, p->pidx);
	p->q[0].idx = p->pidx;
	p->q[0].cancelled = 0;
	p->qn = 1;
	n = snprintf((char *)p->out, sizeof(p->out), "GET_PIECE %s %u\n",
	    d->info.name, p->pidx);
	p->outlen = (size_t)n;
	p->st = P_GP;
	return 0;
}

/*
 * Our opening: magic, HELLO as a swarm downloader with the file's SHA-1
 * and our ticket for it, what we have already, and where we serve the
 * file ourselves (the seeder tells the others).
 */
static void
send_hello(struct session *p)
{
	struct dl	*d = p->dl;
	size_t		 n = WIRE_MAGIC_LEN, bl = bf_bytes(d->s.n);

	memcpy(p->out, WIRE_MAGIC, WIRE_MAGIC_LEN);
	wire_hdr(p->out + n, WIRE_HELLO, WIRE_V_SWARM,
	    (uint32_t)(SHA1_LEN + d->tk.len));
	n += WIRE_HDR_LEN;
	memcpy(p->out + n, d->meta.sha1, SHA1_LEN);
	memcpy(p->out + n + SHA1_LEN, d->tk.bin, d->tk.len);
	n += SHA1_LEN + d->tk.len;
	if (d->s.ndone > 0) {
		wire_hdr(p->out + n, WIRE_BITFIELD, d->s.n, (uint32_t)bl);
		memcpy(p->out + n + WIRE_HDR_LEN, d->s.have, bl);
		n += WIRE_HDR_LEN + bl;
	}
	if (endpoint_port(&conf.self) != 0) {
		wire_hdr(p->out + n, WIRE_LISTEN, endpoint_port(&conf.self),
		    0);
		n += WIRE_HDR_LEN;
	}
	p->outlen = n;
}

static void
peer_connected(struct session *p)
{
	int		 err = 0, sz = 4 << 20;
	socklen_t	 len = sizeof(err);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		errno = err;
		peer_fail(p, strerror(err));
		return;
	}
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	p->last = ev_now_ms();
	if (p->k->fallback) {
		if (gp_start(p) == -1) {
			seeder_drop(p, NULL);
			return;
		}
	} else {
		send_hello(p);
		p->st = P_MAGIC;
	}
	if (peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

static void
session_event(int fd, uint32_t events, void *arg)
{
	struct session	*p = arg;

	if (p->st == P_CONNECTING) {
		peer_connected(p);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (p->st == P_GP)
			gp_readable(p);
		else
			peer_readable(p);
		return;
	}
	if ((events & EPOLLOUT) && peer_flush(p) == -1)
		peer_fail(p, "write failed");
}

void
seeder_connect(struct dl *d, struct known *k)
{
	struct endpoint		 src;
	struct ipaddr		 ip;
	struct session		*p;
	int			 r;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->dl = d;
	p->k = k;
	p->since = p->last = ev_now_ms();
	p->fd = socket(endpoint_family(&k->ep), SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1)
		goto fail;
	/* From our own address, which is where peers we meet reach us. */
	if (!endpoint_is_any(&conf.self) &&
	    endpoint_family(&conf.self) == endpoint_family(&k->ep)) {
		endpoint_ip(&conf.self, &ip);
		endpoint_set(&src, &ip, 0);
		if (bind(p->fd, &src.sa, endpoint_len(&src)) == -1)
			goto fail;
	}
	r = connect(p->fd, &k->ep.sa, endpoint_len(&k->ep));
	if (r == -1 && errno != EINPROGRESS)
		goto fail;
	if (ev_add(p->fd, EPOLLOUT, session_event, p) == -1)
		goto fail;
	if (k->fallback) {
		/* Seed clients say nothing of what they have: assume all. */
		if ((p->has = bf_new(d->meta.npieces)) == NULL)
			goto fail;
		bf_fill(p->has, d->meta.npieces);
	}
	p->st = P_CONNECTING;
	p->next = d->peers;
	d->peers = p;
	d->npeers++;
	k->nconn++;
	return;
fail:
	k->retry_at = ev_now_ms() + DL_RETRY_MS;
	if (p->fd != -1)
		close(p->fd);
	free(p->has);
	free(p);
}

void
seeder_check_all(struct dl *d)
{
	struct session	*p, *next;
	uint64_t	 now = ev_now_ms();

	for (p = d->peers; p != NULL; p = next) {
		next = p->next;
		if (p->st == P_CONNECTING || p->st == P_MAGIC) {
			if (now - p->since > DL_CONNECT_MS)
				peer_fail(p, "handshake timeout");
			continue;
		}
		if (p->st == P_WAITBUF)
			p->last = p->piece_since = now;	/* our wait */
		else if (p->qn > 0 && rl_down.rate == 0 &&
		    now - p->piece_since > DL_PIECE_MS) {
			/* bytes dripping in keep 'last' fresh */
			peer_fail(p, "too slow: no piece in 30 s");
			continue;
		} else if ((p->qn > 0 || p->st == P_PIECE ||
		    p->st == P_PAYLOAD) && now - p->last > DL_STALL_MS) {
			peer_fail(p, "stalled");
			continue;
		}
		fill_requests(p);
		if (p->st != P_GP && peer_flush(p) == -1)
			peer_fail(p, "write failed");
	}
}

/* The connection waiting for a buffer with the piece due first (the
 * whole-file digest goes in piece order), or NULL. */
static struct session *
first_waiting(struct dl *d)
{
	struct session	*p, *best = NULL;

	for (p = d->peers; p != NULL; p = p->next)
		if (p->st == P_WAITBUF && (best == NULL || p->pidx < best->pidx))
			best = p;
	return best;
}

void
seeder_buffer_release(struct dl *d, struct pbuf *b)
{
	struct session	*p;

	verify_buf_put(d, b);
	while ((p = first_waiting(d)) != NULL) {
		if ((p->cur = verify_buf_get(d)) == NULL)
			return;
		p->st = P_PIECE;
		p->last = ev_now_ms();
		ev_mod(p->fd, (p->rl_timer ? 0 : EPOLLIN) |
		    (p->outlen > 0 ? EPOLLOUT : 0));
	}
}
