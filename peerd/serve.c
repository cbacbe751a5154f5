/* The piece server on conf.self: the p2pshare peer protocol (wire.h) with
 * pipelined requests answered by sendfile, for peers showing a ticket,
 * peer exchange, super-seeding of complete files (spread.c), and the seed
 * client's GET_PIECE when enabled (-g). Files are found by hash or share
 * name only: no path comes from a peer. Admission: admit.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/admit.h"
#include "peerd/bitfield.h"
#include "peerd/ev.h"
#include "peerd/offer.h"
#include "peerd/peerd.h"
#include "peerd/ratelimit.h"
#include "peerd/spread.h"
#include "peerd/wire.h"

#define SERVE_QUEUE		64		/* requests pending per connection */
#define SERVE_IN_MAX		(WIRE_MAX_MSG + 512)	/* a BITFIELD fits */
#define SERVE_OUT_MAX		(WIRE_MAX_MSG + 256 * 1024)
#define SERVE_SWEEP_MS		500
#define SERVE_SNDBUF		(4 * 1024 * 1024)

enum sstate { S_MAGIC, S_HELLO, S_READY, S_GETPIECE, S_DRAIN };

struct sconn {
	int		 fd;
	struct ipaddr	 ip;
	char		 ipname[IP_TEXT_LEN];
	enum sstate	 state;
	uint8_t		 sha1[SHA1_LEN];
	char		 group[NAME_MAX_LEN + 1];	/* from the ticket */
	uint64_t	 expires;		/* the ticket's, unix time */
	uint32_t	 npieces;
	int		 swarm;			/* HELLO said WIRE_V_SWARM */
	uint16_t	 listen_port;		/* its piece server, or 0 */
	struct spread_peer sp;			/* super-seeding it, if sp.sp */
	uint8_t		 in[SERVE_IN_MAX];
	size_t		 inlen;
	struct buf	 out;			/* control messages */
	uint32_t	 queue[SERVE_QUEUE];
	unsigned	 qhead, qlen;
	int		 pfd;			/* piece being sent, or -1 */
	off_t		 poff;
	uint64_t	 premain;
	uint8_t		 phdr[WIRE_HDR_LEN];
	size_t		 phdr_len, phdr_off;
	int		 closing;		/* close once all is sent */
	uint32_t	 sent;			/* pieces sent in full */
	uint64_t	 sent_bytes;
	uint64_t	 born;			/* ms: accepted */
	uint64_t	 useful;		/* ms: last request */
	uint64_t	 last;			/* ms: last byte sent */
	uint64_t	 rl_timer;		/* upload limit: sending resumes */
	int		 throttled;		/* out of upload tokens */
	int		 served;		/* counted as a peer served */
	char		 gp_name[NAME_MAX_LEN + 1];	/* GET_PIECE's file */
	struct sconn	*next;
};

static int		 lfd = -1;
static struct sconn	*conns;
static unsigned		 nconns;
static uint64_t		 sweep_timer;
static serve_upload_fn	*upload_hook;

static void	conn_event(int, uint32_t, void *);
static void	conn_close(struct sconn *, const char *);
static int	pump(struct sconn *);

/* The address as admission counts it: an IPv4 address, or an IPv6
 * address's /64 (what one host usually has), folded. */
static uint32_t
admit_key(const struct ipaddr *ip)
{
	uint32_t	a, b;

	if (ipaddr_is_v4(ip))
		return ipaddr_v4(ip);
	memcpy(&a, ip->a, 4);
	memcpy(&b, ip->a + 4, 4);
	return a ^ b;
}

static void
view_of(const struct sconn *c, struct admit_view *v)
{
	v->ip = admit_key(&c->ip);
	v->ready = c->state == S_READY || c->state == S_DRAIN ||
	    (c->state == S_GETPIECE && c->closing);
	v->busy = c->qlen > 0 || c->pfd != -1 || buf_avail(&c->out) > 0;
	v->born = c->born;
	v->useful = c->useful;
	v->progress = c->last;
}

/* Tell a peer we close on it for a newcomer (best effort: it retries). */
static void
say_busy(struct sconn *c)
{
	static const char	 msg[] = "busy";
	uint8_t			 b[WIRE_MAGIC_LEN + WIRE_HDR_LEN + 4];
	size_t			 n = 0;

	if (c->state == S_GETPIECE || c->pfd != -1)
		return;
	if (c->state == S_MAGIC) {
		memcpy(b, WIRE_MAGIC, WIRE_MAGIC_LEN);
		n = WIRE_MAGIC_LEN;
	}
	wire_hdr(b + n, WIRE_ERROR, 0, sizeof(msg) - 1);
	memcpy(b + n + WIRE_HDR_LEN, msg, sizeof(msg) - 1);
	if (buf_avail(&c->out) == 0)
		(void)send(c->fd, b, n + WIRE_HDR_LEN + sizeof(msg) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

#define SERVE_MAX_VIEWS	(ADMIT_MAX_CONNS + ADMIT_PROBATION + 1)

/* What admission sees of every connection; their count. */
static size_t
views(struct admit_view *v, struct sconn **by)
{
	struct sconn	*c;
	size_t		 n = 0;

	for (c = conns; c != NULL && n < SERVE_MAX_VIEWS; c = c->next) {
		view_of(c, &v[n]);
		by[n++] = c;
	}
	return n;
}

/* c showed a valid ticket: its probation ends, and someone less useful
 * goes if the limits are exceeded. */
static void
admitted(struct sconn *c)
{
	struct admit_view	 v[SERVE_MAX_VIEWS];
	struct sconn		*by[SERVE_MAX_VIEWS];
	size_t			 n = views(v, by), self;
	int			 k;

	for (self = 0; self < n && by[self] != c; self++)
		;
	if (self == n || (k = admit_ready_victim(v, n, self,
	    ev_now_ms())) < 0)
		return;
	say_busy(by[k]);
	conn_close(by[k], "evicted for a member");
}

/* Make room for a connection from ip: 0 if there is (now), -1 if not. */
static int
make_room(const struct ipaddr *ip)
{
	struct admit_view	 v[SERVE_MAX_VIEWS];
	struct sconn		*by[SERVE_MAX_VIEWS];
	size_t			 n = views(v, by);
	int			 k;

	if ((k = admit_victim(v, n, admit_key(ip), ev_now_ms())) == -1)
		return 0;
	if (k < 0)
		return -1;
	say_busy(by[k]);
	conn_close(by[k], "evicted for a newcomer");
	return 0;
}

static void
accept_one(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct ipaddr		 ip;
	char			 name[IP_TEXT_LEN];
	struct sconn		*c;
	int			 s, sz = SERVE_SNDBUF;

	s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("serve: accept");
		return;
	}
	if (ipaddr_from_sa((struct sockaddr *)&ss, &ip) == -1) {
		close(s);
		return;
	}
	ipaddr_text(&ip, name);
	if (make_room(&ip) == -1 || (c = calloc(1, sizeof(*c))) == NULL) {
		log_debug("serve: refusing %s: too many connections", name);
		close(s);
		return;
	}
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	c->fd = s;
	c->ip = ip;
	strlcpy(c->ipname, name, sizeof(c->ipname));
	c->pfd = -1;
	c->born = c->useful = c->last = ev_now_ms();
	buf_init(&c->out, SERVE_OUT_MAX);
	if (ev_add(s, EPOLLIN, conn_event, c) == -1) {
		close(s);
		free(c);
		return;
	}
	c->next = conns;
	conns = c;
	nconns++;
}

static void
accept_event(int fd, uint32_t events, void *arg)
{
	int	k;

	for (k = 0; k < 16; k++)
		accept_one(fd);
}

static void
conn_close(struct sconn *c, const char *why)
{
	struct sconn	**pp;

	if (why != NULL)
		log_debug("serve: %s: closing: %s", c->ipname, why);
	/* What each downloader got from us: the swarm's upload, per peer. */
	if (c->sent > 0)
		log_info("serve: %s: sent %u pieces (%llu bytes) of file "
		    "%02x%02x%02x%02x", c->ipname, c->sent,
		    (unsigned long long)c->sent_bytes, c->sha1[0], c->sha1[1],
		    c->sha1[2], c->sha1[3]);
	spread_leave(&c->sp);
	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nconns--;
	ev_timer_cancel(c->rl_timer);
	ev_del(c->fd);
	close(c->fd);
	if (c->pfd != -1)
		close(c->pfd);
	buf_free(&c->out);
	free(c);
}

/* The connection gets work after none: its read-progress clock starts. */
static void
work_starts(struct sconn *c)
{
	if (c->qlen == 0 && c->pfd == -1 && buf_avail(&c->out) == 0)
		c->last = ev_now_ms();
}

/* Queue a header-only control message. */
static int
send_ctl(struct sconn *c, enum wire_type t, uint32_t a, const void *p,
    uint32_t len)
{
	uint8_t	h[WIRE_HDR_LEN];

	work_starts(c);
	wire_hdr(h, t, a, len);
	if (buf_append(&c->out, h, sizeof(h)) == -1 ||
	    (len > 0 && buf_append(&c->out, p, len) == -1))
		return -1;
	return 0;
}

static int
send_error(struct sconn *c, const char *msg)
{
	c->state = S_DRAIN;
	c->closing = 1;
	return send_ctl(c, WIRE_ERROR, 0, msg, (uint32_t)strlen(msg));
}

/* The bitfield we offer for sha1: a complete share, or a download's. */
static int
offer(struct sconn *c)
{
	struct offer_view	 v;
	uint8_t			*bits;
	uint32_t		 n;
	int			 r;

	if (offer_find(c->sha1, c->group, &v) == -1 || v.npieces == 0 ||
	    v.npieces > WIRE_MAX_PIECES)
		return send_error(c, "no such file");
	n = c->npieces = v.npieces;
	if ((bits = bf_new(n)) == NULL)
		return -1;
	if (v.have != NULL)
		memcpy(bits, v.have, bf_bytes(n));
	else if (!c->swarm || spread_join(&c->sp, c->sha1, n) == -1)
		bf_fill(bits, n);
	/* else: super-seeding, pieces are advertised by spread_more() */
	log_debug("serve: %s: offering %u of %u pieces", c->ipname,
	    bf_count(bits, n), n);
	r = send_ctl(c, WIRE_BITFIELD, n, bits, (uint32_t)bf_bytes(n));
	free(bits);
	c->state = S_READY;
	return r;
}

/* Find an open fd and the size for piece i of the connection's file. */
static int
piece_source(struct sconn *c, uint32_t i, int *fd, uint64_t *size)
{
	struct offer_view	v;

	if (offer_find(c->sha1, c->group, &v) == -1 || !offer_has(&v, i))
		return -1;
	*fd = v.fd;
	*size = v.size;
	return 0;
}

/* A piece of a file still downloading was written past the page cache:
 * start reading it from the disk as soon as it is asked for, so that its
 * sendfile finds it in memory instead of waiting for the disk in the
 * loop. */
static void
prefetch(struct sconn *c, uint32_t i)
{
	struct offer_view	v;

	if (offer_find(c->sha1, c->group, &v) == 0 && v.have != NULL &&
	    offer_has(&v, i))
		(void)posix_fadvise(v.fd, (off_t)((uint64_t)i * PIECE_SIZE),
		    (off_t)piece_len(v.size, i), POSIX_FADV_WILLNEED);
}

/* Set up the next queued piece (or a REJECT); 0, or -1 to close. */
/*
 * A ticket holds for the connection it opened only until it expires: past
 * that, nothing more is sent and the peer is told why (it fetches a new
 * ticket and connects again). 1 if so. GET_PIECE (-g) has no ticket.
 */
static int
ticket_lapsed(struct sconn *c)
{
	if (c->state != S_READY ||
	    !ticket_expired(c->expires, (uint64_t)time(NULL)))
		return 0;
	log_info("serve: %s: its ticket expired: closing", c->ipname);
	c->qlen = 0;
	send_error(c, ticket_verdict_text(TICKET_EXPIRED));
	return 1;
}

static int
start_piece(struct sconn *c)
{
	uint32_t	i = c->queue[c->qhead];
	uint64_t	size;
	int		fd;

	c->qhead = (c->qhead + 1) % SERVE_QUEUE;
	c->qlen--;
	if (ticket_lapsed(c))
		return 0;
	if (piece_source(c, i, &fd, &size) == -1)
		return send_ctl(c, WIRE_REJECT, i, NULL, 0);
	if ((c->pfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return send_ctl(c, WIRE_REJECT, i, NULL, 0);
	c->poff = (off_t)((uint64_t)i * PIECE_SIZE);
	c->premain = piece_len(size, i);
	wire_hdr(c->phdr, WIRE_PIECE, i, (uint32_t)c->premain);
	c->phdr_len = WIRE_HDR_LEN;
	c->phdr_off = 0;
	return 0;
}

/* Bytes sent for the share: the store's counters (uploaded, peers). */
static void
count_upload(struct sconn *c, uint64_t n)
{
	if (upload_hook != NULL)
		upload_hook(c->gp_name[0] ? NULL : c->sha1, c->gp_name, n,
		    !c->served);
	c->served = 1;
}

/* The upload limit refilled: go on sending. */
static void
rl_resume(void *arg)
{
	struct sconn	*c = arg;

	c->rl_timer = 0;
	c->throttled = 0;
	pump(c);
}

/* Send the current piece: header then sendfile. 1 done, 0 blocked, -1. */
static int
send_piece(struct sconn *c)
{
	ssize_t	w;
	size_t	n;

	if (c->phdr_off < c->phdr_len) {
		w = send_until_blocked(c->fd, c->phdr + c->phdr_off,
		    c->phdr_len - c->phdr_off, MSG_MORE);
		if (w == -1)
			return -1;
		if ((c->phdr_off += (size_t)w) < c->phdr_len)
			return 0;
	}
	while (c->premain > 0) {
		if ((n = rl_allow(&rl_up, c->premain, ev_now_ms())) == 0) {
			c->throttled = 1;
			return 0;
		}
		w = sendfile(c->fd, c->pfd, &c->poff, n);
		if (w == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (w == 0)
			return -1;	/* file shrank under us */
		c->premain -= (uint64_t)w;
		c->sent_bytes += (uint64_t)w;
		c->last = ev_now_ms();
		rl_used(&rl_up, (size_t)w, c->last);
		count_upload(c, (uint64_t)w);
	}
	close(c->pfd);
	c->pfd = -1;
	c->sent++;
	return 1;
}

static int
flush_out(struct sconn *c)
{
	size_t	before = buf_avail(&c->out);
	int	r;

	if (before == 0)
		return 1;
	if ((r = buf_send(c->fd, &c->out, 0)) != -1 &&
	    buf_avail(&c->out) < before)
		c->last = ev_now_ms();
	return r;
}

/* Write what can be written; 0 ok, -1 closed. Control messages go
 * between pieces, never inside one. One piece per call: the loop then
 * turns to the other downloaders, so a slow uplink is shared among them
 * rather than given to whoever asked first. */
static int
pump(struct sconn *c)
{
	int	r, sent = 0;

	for (;;) {
		if (c->pfd != -1) {
			if ((r = send_piece(c)) <= 0)
				break;
			sent = 1;
			continue;
		}
		if ((r = flush_out(c)) <= 0)
			break;
		if (c->qlen > 0 && sent) {
			r = 0;		/* more on the next EPOLLOUT */
			break;
		}
		if (c->qlen > 0) {
			if (start_piece(c) == -1) {
				r = -1;
				break;
			}
			continue;
		}
		if (c->closing) {
			conn_close(c, NULL);
			return -1;
		}
		break;
	}
	if (r == -1) {
		conn_close(c, "write failed");
		return -1;
	}
	if (c->throttled && c->rl_timer == 0)
		c->rl_timer = ev_timer(rl_delay_ms(&rl_up), rl_resume, c);
	ev_mod(c->fd, (c->closing ? 0 : EPOLLIN) |
	    (r == 0 && !c->throttled ? EPOLLOUT : 0));
	return 0;
}

static int
handle_get_piece(struct sconn *c)
{
	char			*nl, name[NAME_MAX_LEN + 1];
	struct offer_view	 v;
	uint32_t		 i;

	if ((nl = memchr(c->in, '\n', c->inlen)) == NULL)
		return c->inlen >= 128 ? -1 : 0;
	*nl = '\0';
	if (wire_parse_get_piece((char *)c->in, name, &i) == -1 ||
	    offer_find_name(name, &v) == -1 || !offer_has(&v, i))
		return -1;
	if ((c->pfd = fcntl(v.fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	strlcpy(c->gp_name, name, sizeof(c->gp_name));
	c->poff = (off_t)((uint64_t)i * PIECE_SIZE);
	c->premain = piece_len(v.size, i);
	c->phdr_len = c->phdr_off = 0;
	c->inlen = 0;
	c->closing = 1;
	return 1;
}

/* Recognise the opening: our magic or the seed client's GET_PIECE. */
static int
handle_magic(struct sconn *c)
{
	static const char gp[] = "GET_PIECE ";
	size_t	n = c->inlen;

	if (memcmp(c->in, gp, n < 10 ? n : 10) == 0) {
		if (!conf.serve_get_piece)
			return -1;	/* proves nothing: off unless -g */
		if (n < 10)
			return 0;
		c->state = S_GETPIECE;
		return handle_get_piece(c);
	}
	if (memcmp(c->in, WIRE_MAGIC, n < WIRE_MAGIC_LEN ? n :
	    WIRE_MAGIC_LEN) != 0)
		return -1;
	if (n < WIRE_MAGIC_LEN)
		return 0;
	memmove(c->in, c->in + WIRE_MAGIC_LEN, n - WIRE_MAGIC_LEN);
	c->inlen -= WIRE_MAGIC_LEN;
	c->state = S_HELLO;
	return buf_append(&c->out, WIRE_MAGIC, WIRE_MAGIC_LEN) == -1 ? -1 : 1;
}

/* HELLO: the file's SHA-1 and a ticket; a refused ticket ends it. */
static int
hello(struct sconn *c, const struct wire_msg *m)
{
	struct ticket		t;
	enum ticket_verdict	v;

	memcpy(c->sha1, m->payload, SHA1_LEN);
	if (m->len == SHA1_LEN)
		return send_error(c, "ticket required");
	v = keyring_check(m->payload + SHA1_LEN, m->len - SHA1_LEN, c->sha1,
	    &t);
	if (v != TICKET_OK) {
		/* debug only: a flood of forged tickets must not flood logs */
		log_debug("serve: %s: %s", c->ipname,
		    ticket_verdict_text(v));
		return send_error(c, ticket_verdict_text(v));
	}
	strlcpy(c->group, t.group, sizeof(c->group));
	c->expires = t.expires;
	log_debug("serve: %s: %s of %s", c->ipname, t.user, t.group);
	admitted(c);
	c->swarm = m->a == WIRE_V_SWARM;
	return offer(c);
}

static void
cancel_queued(struct sconn *c, uint32_t i)
{
	unsigned	k, j;

	for (k = 0; k < c->qlen; k++) {
		j = (c->qhead + k) % SERVE_QUEUE;
		if (c->queue[j] != i)
			continue;
		for (; k + 1 < c->qlen; k++)
			c->queue[(c->qhead + k) % SERVE_QUEUE] =
			    c->queue[(c->qhead + k + 1) % SERVE_QUEUE];
		c->qlen--;
		return;
	}
}

/* Append one address to a PEERS payload being built. */
static void
peer_addr(uint8_t *out, const struct ipaddr *ip, uint16_t port)
{
	uint32_t	v4 = ipaddr_v4(ip);

	memcpy(out, &v4, 4);
	out[4] = (uint8_t)(port >> 8);
	out[5] = (uint8_t)port;
}

/*
 * Peer exchange: c told us where it serves the file. Tell it of the other
 * downloaders of that file in the same group that did, and them of it.
 * PEERS carries IPv4 addresses: IPv6 peers learn of each other from the
 * tracker only.
 */
static int
exchange_peers(struct sconn *c)
{
	uint8_t		 list[WIRE_MAX_PEERS * WIRE_ADDR_LEN], one[WIRE_ADDR_LEN];
	struct sconn	*o, *next;
	uint32_t	 n = 0;

	if (!ipaddr_is_v4(&c->ip))
		return 0;
	peer_addr(one, &c->ip, c->listen_port);
	for (o = conns; o != NULL; o = next) {
		next = o->next;
		if (o == c || !o->swarm || o->listen_port == 0 ||
		    !ipaddr_is_v4(&o->ip) ||
		    o->state != S_READY ||
		    memcmp(o->sha1, c->sha1, SHA1_LEN) != 0 ||
		    strcmp(o->group, c->group) != 0 ||
		    (ipaddr_eq(&o->ip, &c->ip) &&
		    o->listen_port == c->listen_port))
			continue;
		if (n < WIRE_MAX_PEERS)
			peer_addr(list + WIRE_ADDR_LEN * n++, &o->ip,
			    o->listen_port);
		if (send_ctl(o, WIRE_PEERS, 1, one, WIRE_ADDR_LEN) == 0 &&
		    o->pfd == -1)
			pump(o);
	}
	log_debug("serve: %s: serves on port %u; %u other downloaders",
	    c->ipname, c->listen_port, n);
	if (n == 0)
		return 0;
	return send_ctl(c, WIRE_PEERS, n, list, n * WIRE_ADDR_LEN);
}

/* What a swarm downloader tells us of itself. 0, or -1 to close. */
static int
handle_swarm_msg(struct sconn *c, const struct wire_msg *m)
{
	if (!c->swarm)
		return -1;
	switch (m->type) {
	case WIRE_HAVE:
		if (m->a >= c->npieces)
			return -1;
		spread_have(&c->sp, m->a);
		return 0;
	case WIRE_BITFIELD:
		if (m->a != c->npieces)
			return -1;
		spread_bits(&c->sp, m->payload);
		return 0;
	case WIRE_LISTEN:
		if (c->listen_port != 0)
			return -1;
		c->listen_port = (uint16_t)m->a;
		return exchange_peers(c);
	default:
		return -1;
	}
}

static int
handle_msg(struct sconn *c, const struct wire_msg *m)
{
	if (c->state == S_HELLO) {
		if (m->type != WIRE_HELLO)
			return -1;
		return hello(c, m);
	}
	switch (m->type) {
	case WIRE_REQUEST:
		if (c->qlen == SERVE_QUEUE)
			return -1;
		work_starts(c);
		c->useful = ev_now_ms();
		c->queue[(c->qhead + c->qlen++) % SERVE_QUEUE] = m->a;
		prefetch(c, m->a);
		return 0;
	case WIRE_CANCEL:
		cancel_queued(c, m->a);
		return 0;
	default:
		return handle_swarm_msg(c, m);
	}
}

/* Super-seeding: advertise this downloader its next pieces. */
static int
spread_more(struct sconn *c)
{
	int64_t	i;

	while (c->state == S_READY &&
	    (i = spread_next(&c->sp, ev_now_ms())) >= 0)
		if (send_ctl(c, WIRE_HAVE, (uint32_t)i, NULL, 0) == -1)
			return -1;
	return 0;
}

/* Consume what the input holds; 0 ok, -1 protocol error. */
static int
parse_input(struct sconn *c)
{
	struct wire_msg	m;
	size_t		off = 0;
	int		r;

	if (c->state == S_MAGIC && (r = handle_magic(c)) <= 0)
		return r;
	if (c->state == S_GETPIECE)
		return c->closing || handle_get_piece(c) != -1 ? 0 : -1;
	while (c->state == S_HELLO || c->state == S_READY) {
		r = wire_parse(c->in + off, c->inlen - off, WIRE_TO_SERVER, &m);
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		off += (size_t)r;
		if (handle_msg(c, &m) == -1)
			return -1;
	}
	if (c->state == S_DRAIN)
		off = c->inlen;
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return c->sp.sp != NULL ? spread_more(c) : 0;
}

static void
conn_read(struct sconn *c)
{
	ssize_t	r;

	r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c, r == 0 || errno == ECONNRESET ? NULL :
		    "read failed");
		return;
	}
	if (r == -1)
		return;
	c->inlen += (size_t)r;
	if (parse_input(c) == -1 || c->inlen == sizeof(c->in)) {
		conn_close(c, "protocol error");
		return;
	}
	pump(c);
}

static void
conn_event(int fd, uint32_t events, void *arg)
{
	struct sconn	*c = arg;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (!c->closing) {
			conn_read(c);
			return;
		}
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_close(c, NULL);
			return;
		}
	}
	if (events & EPOLLOUT)
		pump(c);
}

/* A quiet downloader gets what a held-back offer left: queued, and sent
 * now rather than at its next message. */
static void
offer_held_back(struct sconn *c)
{
	size_t	before = buf_avail(&c->out);

	if (spread_more(c) == -1)
		conn_close(c, "out of memory");
	else if (buf_avail(&c->out) > before)
		(void)pump(c);
}

static void
sweep(void *arg)
{
	struct sconn		*c, *next;
	struct admit_view	 v;
	const char		*why;
	uint64_t		 now = ev_now_ms();

	for (c = conns; c != NULL; c = next) {
		next = c->next;
		view_of(c, &v);
		if ((why = admit_expired(&v, now)) != NULL)
			conn_close(c, why);
		else if (c->sp.sp != NULL)
			offer_held_back(c);
	}
	sweep_timer = ev_timer(SERVE_SWEEP_MS, sweep, NULL);
}

int
serve_init(void)
{
	if ((lfd = tcp_listen(&conf.self, 128)) == -1) {
		log_warn("listen %s", conf.self.text);
		return -1;
	}
	if (ev_add(lfd, EPOLLIN, accept_event, NULL) == -1) {
		log_warn("serve: ev_add");
		close(lfd);
		lfd = -1;
		return -1;
	}
	sweep_timer = ev_timer(SERVE_SWEEP_MS, sweep, NULL);
	log_debug("serving pieces on %s", conf.self.text);
	return 0;
}

void
serve_have(const uint8_t sha1[SHA1_LEN], uint32_t i)
{
	struct sconn	*c, *next;

	for (c = conns; c != NULL; c = next) {
		next = c->next;
		if (c->state != S_READY || memcmp(c->sha1, sha1, SHA1_LEN) != 0)
			continue;
		if (send_ctl(c, WIRE_HAVE, i, NULL, 0) == -1) {
			conn_close(c, "slow reader");
			continue;
		}
		if (c->pfd == -1)
			pump(c);
	}
}

void
serve_on_upload(serve_upload_fn *fn)
{
	upload_hook = fn;
}

void
serve_shutdown(void)
{
	while (conns != NULL)
		conn_close(conns, NULL);
	if (lfd != -1) {
		ev_del(lfd);
		close(lfd);
		lfd = -1;
	}
	ev_timer_cancel(sweep_timer);
	sweep_timer = 0;
}
