/* The tracker client: one persistent, non-blocking connection, a FIFO of
 * requests, failover to the next tracker with the session kept. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"

#define CONNECT_MS	2000	/* to open a connection */
#define REPLY_MS	5000	/* from sending to the end of the reply */
/* A read, or a change sent with its request id (which the trackers apply
 * once however often it is sent): silence this long means that tracker
 * hangs, and the request goes to the next one (once: a loaded tracker
 * after that gets the full REPLY_MS). A login has no id: the tracker
 * hashes the password, which may well take longer, and its answer, a
 * new session, cannot be given again. */
#define READ_SILENCE_MS	1000
#define REQUEST_MS	15000	/* a request waits this long for some tracker */
/* PEERD_TRACKER_WAIT_MS sets it (peerd(1), ENVIRONMENT). */
static uint64_t	request_ms = REQUEST_MS;
#define RETRY_MS	300	/* pause after every tracker failed once */
#define TOUCH_MS	60000	/* lease renewal */
#define RESTORE_RETRY_MS 5000	/* a saved session, no tracker up yet */
/* The largest reply: download_file of a 64 GiB file (131072 hashes). */
#define MAX_REPLY	(8u << 20)
#define MAX_REQUEST	(8u << 20)

enum req_kind { REQ_PLAIN, REQ_LOGIN, REQ_RELOGIN, REQ_LOGOUT };
enum conn_state { T_DOWN, T_CONNECTING, T_HANDSHAKE, T_UP };

struct treq {
	char		*line;
	enum req_kind	 kind;
	tracker_cb	*cb;
	void		*arg;
	uint64_t	 deadline;
	int		 relogged;	/* already logged in again for it */
	int		 prefixed;	/* sent with the session prefix */
	int		 hurried;	/* already failed over after 1 s */
	char		 rid[TPROTO_RID_LEN + 1];	/* a change's id, or "" */
	char		 user[NAME_MAX_LEN + 1];	/* login */
	char		 pass[PASSWORD_MAX_LEN + 1];
	struct treq	*next;
};

static struct {
	enum conn_state	 state;
	int		 fd;
	SSL		*tls;		/* when tracker_info.txt says tls */
	int		 tls_ww;	/* TLS waits for writability */
	int		 idx;		/* tracker in use */
	int		 failures;	/* connections failed in a row */
	struct buf	 in, out;
	size_t		 scan;		/* END_OF_REPLY searched up to here */
	struct treq	*head, *tail;
	int		 inflight;	/* head was sent */
	uint64_t	 t_conn, t_reply, t_retry, t_touch;
	struct ipaddr	 local;		/* our address on the last connection */
	int		 has_local;
	/* the session; the password only to log in again on failover */
	int		 logged_in;
	char		 user[NAME_MAX_LEN + 1];
	char		 token[32];
	char		 pass[PASSWORD_MAX_LEN + 1];
} t = { .fd = -1 };

static void	(*session_hook)(void);

static void	kick(void);
static void	conn_failed(const char *why);

int
tracker_logged_in(void)
{
	return t.logged_in;
}

const char *
tracker_user(void)
{
	return t.logged_in ? t.user : "";
}

/*
 * The session (user and token, never the password) is kept in
 * state_dir/session so that a restarted peerd goes on without a new login
 * while the tracker still knows it.
 */
static void
session_path(char *out, size_t len)
{
	snprintf(out, len, "%s/session", conf.state_dir);
}

static void
save_session(void)
{
	char	path[PATH_MAX + 16], text[128];
	int	n;

	session_path(path, sizeof(path));
	n = snprintf(text, sizeof(text), "%s %s\n", t.user, t.token);
	if (write_file_atomic(path, text, (size_t)n) == -1)
		log_warnx("cannot save the session; a restart will need a login");
	explicit_bzero(text, sizeof(text));
}

/* drop: the session is over (logout, expired), not just this process. */
static void
forget_session(int drop)
{
	char	path[PATH_MAX + 16];

	t.logged_in = 0;
	t.token[0] = '\0';
	explicit_bzero(t.pass, sizeof(t.pass));
	ev_timer_cancel(t.t_touch);
	t.t_touch = 0;
	if (drop) {
		session_path(path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("unlink %s", path);
	}
}

static void
req_free(struct treq *r)
{
	if (r->line != NULL)	/* create_user's holds a password */
		explicit_bzero(r->line, strlen(r->line));
	free(r->line);
	explicit_bzero(r->pass, sizeof(r->pass));
	free(r);
}

static struct treq *
req_new(const char *line, enum req_kind kind, tracker_cb *cb, void *arg)
{
	struct treq	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (line != NULL && (r->line = strdup(line)) == NULL) {
		free(r);
		return NULL;
	}
	r->kind = kind;
	r->cb = cb;
	r->arg = arg;
	if ((kind == REQ_PLAIN || kind == REQ_LOGOUT) && tproto_changes(line))
		tproto_new_rid(r->rid);
	r->deadline = ev_now_ms() + request_ms;
	return r;
}

static void
enqueue(struct treq *r)
{
	if (t.tail)
		t.tail->next = r;
	else
		t.head = r;
	t.tail = r;
	kick();
}

static void
push_front(struct treq *r)
{
	r->next = t.head;
	t.head = r;
	if (t.tail == NULL)
		t.tail = r;
}

static struct treq *
pop(void)
{
	struct treq	*r = t.head;

	if (r == NULL)
		return NULL;
	if ((t.head = r->next) == NULL)
		t.tail = NULL;
	r->next = NULL;
	t.inflight = 0;
	return r;
}

/* ---- the connection ---- */

static void
conn_close(void)
{
	tls_free(t.tls);
	t.tls = NULL;
	if (t.fd != -1) {
		ev_del(t.fd);
		close(t.fd);
		t.fd = -1;
	}
	ev_timer_cancel(t.t_conn);
	ev_timer_cancel(t.t_reply);
	t.t_conn = t.t_reply = 0;
	buf_free(&t.in);
	if (t.out.data != NULL)
		explicit_bzero(t.out.data, t.out.cap);
	buf_free(&t.out);
	t.scan = 0;
	t.inflight = 0;
	t.state = T_DOWN;
}

static void	on_io(int fd, uint32_t events, void *arg);

static void
remember_local(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ipaddr_from_sa((struct sockaddr *)&ss, &t.local) == 0)
		t.has_local = 1;
}

static void
on_connect_timeout(void *arg)
{
	t.t_conn = 0;
	conn_failed("connect: timed out");
}

static void
conn_open(void)
{
	const struct endpoint	*ep = &conf.trackers[t.idx];
	int			 fd, on = 1;

	buf_init(&t.in, MAX_REPLY + 64);
	buf_init(&t.out, MAX_REQUEST + 256);
	fd = socket(endpoint_family(ep), SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		conn_failed("socket");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	t.fd = fd;
	t.state = T_CONNECTING;
	if (connect(fd, &ep->sa, endpoint_len(ep)) == -1 &&
	    errno != EINPROGRESS) {
		conn_failed("connect");
		return;
	}
	if (ev_add(fd, EPOLLOUT, on_io, NULL) == -1) {
		conn_failed("epoll");
		return;
	}
	t.t_conn = ev_timer(CONNECT_MS, on_connect_timeout, NULL);
}

/* Fail queued requests that waited too long for any tracker. */
static void
expire(void)
{
	uint64_t	 now = ev_now_ms();
	struct treq	*r;
	struct treply	 none;

	while (t.head != NULL && t.head->deadline <= now) {
		r = pop();
		log_warnx("tracker request dropped: no tracker reachable");
		if (r->kind == REQ_RELOGIN && t.head != NULL)
			t.head->relogged = 1;
		if (r->cb) {
			tproto_none(&none);
			r->cb(r->arg, &none);
		}
		req_free(r);
	}
}

static void
on_retry(void *arg)
{
	t.t_retry = 0;
	kick();
}

static void
conn_failed(const char *why)
{
	int	saved = errno;

	/* Say it once per tracker while they stay down, not every retry. */
	if (why && t.failures < conf.ntrackers)
		log_warnx("tracker %s: %s%s%s", conf.trackers[t.idx].text, why,
		    saved ? ": " : "", saved ? strerror(saved) : "");
	conn_close();
	t.idx = (t.idx + 1) % conf.ntrackers;
	t.failures++;
	expire();
	if (t.head == NULL)
		return;
	if (t.failures % conf.ntrackers == 0) {
		if (t.t_retry == 0)
			t.t_retry = ev_timer(RETRY_MS, on_retry, NULL);
		return;
	}
	kick();
}

static void
on_reply_timeout(void *arg)
{
	t.t_reply = 0;
	errno = 0;
	conn_failed("no reply within 5 s");
}

static void
on_read_silence(void *arg)
{
	t.t_reply = 0;
	errno = 0;
	if (t.head != NULL)
		t.head->hurried = 1;
	conn_failed("no answer within 1 s, trying the next tracker");
}

/* Safe to send again elsewhere at once: it changes no state, or it
 * carries its id. */
static int
repeatable(const struct treq *r)
{
	return (r->kind == REQ_PLAIN || r->kind == REQ_LOGOUT) &&
	    r->line != NULL && !r->hurried;
}

/* Arm the wait for the head's reply: short for a repeatable request, and
 * started again by every byte that comes (a long reply is no hang). */
static void
arm_reply_timer(void)
{
	ev_timer_cancel(t.t_reply);
	if (t.head != NULL && t.inflight && repeatable(t.head) &&
	    conf.ntrackers > 1)
		t.t_reply = ev_timer(READ_SILENCE_MS, on_read_silence, NULL);
	else
		t.t_reply = ev_timer(REPLY_MS, on_reply_timeout, NULL);
}

static int
flush_out(void)
{
	/* a login line holds a password: leave no copy behind */
	if (t.tls != NULL ? tls_buf_send(t.tls, &t.out, 1, &t.tls_ww) == -1 :
	    buf_send(t.fd, &t.out, 1) == -1)
		return -1;
	return ev_mod(t.fd, EPOLLIN | (buf_avail(&t.out) || t.tls_ww ?
	    EPOLLOUT : 0));
}

static void
send_head(void)
{
	struct treq	*r = t.head;
	struct treply	 none;
	int		 rc;

	if (r->kind == REQ_LOGIN || r->kind == REQ_RELOGIN)
		rc = tproto_login(&t.out, r->user, r->pass);
	else
		rc = tproto_request(&t.out, t.logged_in ? t.user : NULL,
		    t.token, r->rid[0] != '\0' ? r->rid : NULL, r->line);
	if (rc != -1)
		rc = buf_append(&t.out, "\n", 1);
	r->prefixed = t.logged_in && r->kind != REQ_LOGIN &&
	    r->kind != REQ_RELOGIN;
	if (rc == -1) {
		r = pop();
		log_warnx("tracker request too long, dropped");
		if (r->cb) {
			tproto_none(&none);
			r->cb(r->arg, &none);
		}
		req_free(r);
		kick();
		return;
	}
	t.inflight = 1;
	arm_reply_timer();
	if (flush_out() == -1)
		conn_failed("send");
}

static void
kick(void)
{
	if (t.head == NULL || t.t_retry != 0)
		return;
	if (t.state == T_DOWN)
		conn_open();
	else if (t.state == T_UP && !t.inflight)
		send_head();
}

/* ---- replies ---- */

static void
on_touch(void *arg)
{
	t.t_touch = 0;
	if (!t.logged_in)
		return;
	tracker_send("touch", NULL, NULL);
	t.t_touch = ev_timer(TOUCH_MS, on_touch, NULL);
}

static int
take_session(const char *user, const char *pass, const struct treply *r)
{
	char	token[sizeof(t.token)];

	if (tproto_login_token(r, token, sizeof(token)) == -1)
		return -1;
	strlcpy(t.user, user, sizeof(t.user));
	if (pass != t.pass)
		strlcpy(t.pass, pass, sizeof(t.pass));
	strlcpy(t.token, token, sizeof(t.token));
	explicit_bzero(token, sizeof(token));
	t.logged_in = 1;
	save_session();
	ev_timer_cancel(t.t_touch);
	t.t_touch = ev_timer(TOUCH_MS, on_touch, NULL);
	return 0;
}

/* A request sent in a session the tracker does not know: log in again
 * with the credentials we hold, then resend it. */
static int
relogin_first(struct treq *r)
{
	struct treq	*l;

	if (!r->prefixed || r->relogged || !t.logged_in || r->kind != REQ_PLAIN)
		return 0;
	if (t.pass[0] == '\0') {
		/* a session restored from disk: no password to log in with */
		log_warnx("the session of %s has expired; log in again", t.user);
		forget_session(1);
		return 0;
	}
	if ((l = req_new(NULL, REQ_RELOGIN, NULL, NULL)) == NULL)
		return 0;
	strlcpy(l->user, t.user, sizeof(l->user));
	strlcpy(l->pass, t.pass, sizeof(l->pass));
	r->relogged = 1;
	t.inflight = 0;
	push_front(l);
	log_info("tracker %s does not know our session; logging in again",
	    conf.trackers[t.idx].text);
	return 1;
}

static void
session_started(void)
{
	if (session_hook != NULL)
		session_hook();
}

static void
handle_reply(const char *reply, size_t len)
{
	struct treq	*r = t.head;
	struct treply	 tr;

	ev_timer_cancel(t.t_reply);
	t.t_reply = 0;
	t.failures = 0;
	tproto_parse(reply, len, &tr);
	if (tproto_is(&tr, "invalid_session") && relogin_first(r)) {
		kick();
		return;
	}
	r = pop();
	switch (r->kind) {
	case REQ_LOGIN:
	case REQ_RELOGIN:
		if (take_session(r->user, r->pass, &tr) == 0) {
			log_info("logged in as %s on %s", t.user,
			    conf.trackers[t.idx].text);
			session_started();
		} else if (r->kind == REQ_RELOGIN) {
			log_warnx("logging in again as %s failed", r->user);
			forget_session(1);
		}
		break;
	case REQ_LOGOUT:
		if (tr.kind == TREPLY_OK || tproto_is(&tr, "invalid_session")) {
			log_info("logged out");
			forget_session(1);
		}
		break;
	case REQ_PLAIN:
		break;
	}
	if (r->cb)
		r->cb(r->arg, &tr);
	req_free(r);
	kick();
}

/* Find "END_OF_REPLY" as a whole line; hand the text before it over. */
static int
parse_replies(void)
{
	static const char end[] = PROTO_END "\n";
	char	*base, *p, *hit;
	size_t	 avail, textlen;

	for (;;) {
		base = buf_head(&t.in);
		avail = buf_avail(&t.in);
		hit = NULL;
		for (p = base + t.scan; (p = memmem(p, avail - (size_t)(p - base),
		    end, sizeof(end) - 1)) != NULL; p++)
			if (p == base || p[-1] == '\n') {
				hit = p;
				break;
			}
		if (hit == NULL) {
			t.scan = avail >= sizeof(end) ? avail - sizeof(end) : 0;
			return 0;
		}
		textlen = (size_t)(hit - base);
		if (textlen > 0)
			textlen--;		/* the '\n' before END */
		base[textlen] = '\0';
		if (textlen > 0 && base[textlen - 1] == '\r')
			base[--textlen] = '\0';
		t.scan = 0;
		if (!t.inflight || t.head == NULL) {
			errno = 0;
			conn_failed("unexpected reply");
			return -1;
		}
		handle_reply(base, textlen);
		if (t.state != T_UP)
			return -1;
		buf_consume(&t.in, (size_t)(hit - buf_head(&t.in)) +
		    sizeof(end) - 1);
	}
}

static void
read_in(void)
{
	ssize_t	n;

	for (;;) {
		if (buf_reserve(&t.in, 65536) == -1 &&
		    buf_reserve(&t.in, 1) == -1) {
			errno = 0;
			conn_failed("reply too long");
			return;
		}
		n = t.tls != NULL ? tls_read(t.tls, t.in.data + t.in.len,
		    t.in.cap - t.in.len, &t.tls_ww) :
		    recv(t.fd, t.in.data + t.in.len, t.in.cap - t.in.len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			/* an idle close is no failure: reconnect when needed */
			if (n == 0 && !t.inflight && t.head == NULL) {
				conn_close();
				return;
			}
			conn_failed(n == 0 ? "connection closed" : "recv");
			return;
		}
		t.in.len += (size_t)n;
		if (parse_replies() == -1)
			return;
		if (t.inflight && t.head != NULL && repeatable(t.head))
			arm_reply_timer();
	}
}

static void
conn_up(int fd)
{
	ev_timer_cancel(t.t_conn);
	t.t_conn = 0;
	t.state = T_UP;
	log_debug("connected to tracker %s%s", conf.trackers[t.idx].text,
	    t.tls != NULL ? " over TLS" : "");
	remember_local(fd);
	if (ev_mod(fd, EPOLLIN) == -1) {
		conn_failed("epoll");
		return;
	}
	kick();
}

/* The TLS handshake, within the connect timeout. */
static void
tls_step(int fd)
{
	char	err[256];
	int	ww, r;

	if ((r = tls_handshake(t.tls, &ww, err, sizeof(err))) == 1)
		conn_up(fd);
	else if (r == 0 && ev_mod(fd, ww ? EPOLLOUT : EPOLLIN) == -1)
		conn_failed("epoll");
	else if (r == -1) {
		errno = 0;
		conn_failed(err);
	}
}

static void
tls_start(int fd)
{
	static SSL_CTX	*ctx;
	char		 err[256], ip[IP_TEXT_LEN];
	struct ipaddr	 addr;

	if (ctx == NULL && (ctx = tls_client_ctx(conf.tls_ca,
	    conf.tls_pinned ? conf.tls_pin : NULL, err, sizeof(err))) == NULL) {
		errno = 0;
		conn_failed(err);
		return;
	}
	endpoint_ip(&conf.trackers[t.idx], &addr);
	ipaddr_text(&addr, ip);
	if ((t.tls = tls_connect_new(ctx, fd, ip)) == NULL) {
		errno = 0;
		conn_failed("TLS: out of memory");
		return;
	}
	t.state = T_HANDSHAKE;
	tls_step(fd);
}

static void
on_io(int fd, uint32_t events, void *arg)
{
	int		soerr = 0;
	socklen_t	len = sizeof(soerr);

	if (t.state == T_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 ||
		    soerr != 0) {
			errno = soerr;
			conn_failed("connect");
			return;
		}
		if (conf.trackers[t.idx].tls) {
			tls_start(fd);
			return;
		}
		conn_up(fd);
		return;
	}
	if (t.state == T_HANDSHAKE) {
		tls_step(fd);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		read_in();
		if (t.state != T_UP || t.fd != fd)
			return;
	}
	if ((events & EPOLLOUT) && flush_out() == -1)
		conn_failed("send");
}

/* ---- a session saved by an earlier run ---- */

static void	check_restored(void *arg);

static void
restored_cb(void *arg, const struct treply *r)
{
	if (r->kind == TREPLY_NONE) {
		if (t.logged_in)	/* no tracker yet: ask again later */
			ev_timer(RESTORE_RETRY_MS, check_restored, NULL);
		return;
	}
	if (!t.logged_in)
		return;		/* expired: relogin_first said so */
	log_info("resumed the session of %s", t.user);
	session_started();
}

static void
check_restored(void *arg)
{
	if (t.logged_in)
		tracker_send("touch", restored_cb, NULL);
}

static void
restore_session(void)
{
	char		 path[PATH_MAX + 16], *text, *w[3];
	uint64_t	 i;

	session_path(path, sizeof(path));
	if ((text = read_small_file(path, 255, NULL)) == NULL)
		return;
	text[strcspn(text, "\n")] = '\0';
	if (proto_split(text, w, 3) != 2 || !name_valid(w[0]) ||
	    strlen(w[1]) < 8 || strlen(w[1]) >= sizeof(t.token)) {
		log_warnx("%s: not a session, ignored", path);
		goto done;
	}
	for (i = 0; w[1][i] != '\0'; i++)
		if (!isalnum((unsigned char)w[1][i])) {
			log_warnx("%s: not a session, ignored", path);
			goto done;
		}
	strlcpy(t.user, w[0], sizeof(t.user));
	strlcpy(t.token, w[1], sizeof(t.token));
	t.logged_in = 1;
	t.t_touch = ev_timer(TOUCH_MS, on_touch, NULL);
	check_restored(NULL);
done:
	explicit_bzero(text, strlen(text));
	free(text);
}

/* ---- API ---- */

int
tracker_init(void)
{
	const char	*wait = getenv("PEERD_TRACKER_WAIT_MS");
	uint64_t	 ms;

	if (wait != NULL && parse_u64(wait, 100, 600000, &ms) == 0) {
		request_ms = ms;
		log_info("requests wait %llu ms for a tracker",
		    (unsigned long long)ms);
	} else if (wait != NULL)
		log_warnx("PEERD_TRACKER_WAIT_MS=%.32s: not 100 to 600000, "
		    "ignored", wait);
	t.idx = 0;
	t.state = T_DOWN;
	restore_session();
	return 0;
}

int
tracker_local_addr(struct ipaddr *ip)
{
	if (!t.has_local)
		return -1;
	*ip = t.local;
	return 0;
}

int
tracker_send(const char *line, tracker_cb *cb, void *arg)
{
	struct treq	*r;

	if ((r = req_new(line, REQ_PLAIN, cb, arg)) == NULL)
		return -1;
	enqueue(r);
	return 0;
}

int
tracker_login(const char *user, const char *password, tracker_cb *cb,
    void *arg)
{
	struct treq	*r;

	if ((r = req_new(NULL, REQ_LOGIN, cb, arg)) == NULL)
		return -1;
	strlcpy(r->user, user, sizeof(r->user));
	strlcpy(r->pass, password, sizeof(r->pass));
	enqueue(r);
	return 0;
}

int
tracker_logout(tracker_cb *cb, void *arg)
{
	struct treq	*r;

	if ((r = req_new("logout", REQ_LOGOUT, cb, arg)) == NULL)
		return -1;
	enqueue(r);
	return 0;
}

void
tracker_on_session(void (*fn)(void))
{
	session_hook = fn;
}

void
tracker_shutdown(void)
{
	struct treq	*r;

	conn_close();
	ev_timer_cancel(t.t_retry);
	t.t_retry = 0;
	while ((r = pop()) != NULL)
		req_free(r);
	forget_session(0);
}
