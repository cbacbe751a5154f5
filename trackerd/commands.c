/* The tracker's commands: one handler per request of the wire protocol,
 * each checking who may, validating, journaling and applying its change. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/names.h"
#include "ipc/pieces.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/keys.h"
#include "trackerd/listcache.h"
#include "trackerd/password.h"
#include "trackerd/state.h"

/*
 * Success replies (each followed by END_OF_REPLY):
 *   create_user      OK user_created
 *   login            OK login_success <token>
 *   logout           OK logout_success
 *   touch            OK touched
 *   create_group     OK group_created
 *   join_group       OK request_sent
 *   leave_group      OK left_group
 *   accept_request   OK request_accepted
 *   reject_request   OK request_rejected
 *   upload_file      OK file_uploaded
 *   stop_share       OK share_stopped
 *   list_groups      OK <n>, then "<group> <owner>" lines
 *   list_requests    OK <n>, then "<user>" lines
 *   list_files       OK <n>, then "<name> <size> <sha1> <seeders>" lines
 *   download_file    OK <size> <sha1> <n> <h1>..<hn> <m> <ip:port>..
 *   ticket           OK <ticket hex> <expiry unix time>
 *   keys             OK <n>, then "<keyid hex> <Ed25519 public key hex>"
 *
 * peerd's form: "[session <user> <token>] rid <id> <request>", the id 32
 * random hex digits the same on every attempt of one request; a change
 * whose id was applied before gets its success reply and is not applied
 * again (reqid.c).
 */

#define R_DONE		0	/* reply written */
#define R_AS_WRITE	1	/* run again on the write path */
#define R_KDF		2	/* *job set */
#define R_NO_SESSION	3	/* session unknown here: catch up, retry */

#define F_AUTH		0x1	/* needs a valid session */
#define F_WRITE		0x2	/* runs under journal_begin */

struct ctx {
	struct tracker	 *t;
	struct client	 *c;
	struct buf	 *out;
	char		**argv;
	int		  argc;
	const char	 *pfx_user;	/* from a "session" prefix, or NULL */
	const char	 *pfx_token;
	char		  rid[2 * RID_LEN + 1];	/* from a "rid" prefix, or "" */
	int		  nchanges;	/* changes journaled so far */
	int		  retried;
	int		  write;	/* running under journal_begin */
	int		  meta_held;
	uint32_t	  user, sess;	/* authenticated user and session */
	uint64_t	  now;
	uint64_t	  seq;		/* journal seq of the change, if any */
	struct kdf_job	**job;
};

struct command {
	const char	*name;
	int		 (*check)(struct ctx *);	/* before any lock */
	int		 (*run)(struct ctx *);
	int		 minargs, maxargs;		/* argc, command included */
	int		 flags;
	const char	*usage;
	const char	*done;	/* a change's success reply, after "OK " */
};

enum kdf_kind { KDF_CREATE, KDF_LOGIN };

struct kdf_job {
	enum kdf_kind	 kind;
	char		 user[NAME_MAX_LEN + 1];
	char		 password[PASSWORD_MAX_LEN + 1];
	size_t		 pwlen;
	struct pw_record rec;		/* create: the new record; login: stored */
	char		 rid[2 * RID_LEN + 1];	/* create: the request's id */
	int		 known;		/* login: the user exists */
	int		 ok;		/* result */
};

static int
reply_err(struct ctx *x, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const struct command	*find_command(const char *);
static int			 applied_before(struct ctx *);

/* For -v: who did what, by address and user; never a password or a
 * token, and no text from the request but a known command's name. */
static void
log_client(struct ctx *x, const char *what, const char *detail)
{
	char		 ip[IP_TEXT_LEN];
	const char	*user = x->c->user[0] ? x->c->user : x->pfx_user;

	if (!log_debugging())
		return;
	ipaddr_text(&x->c->peer, ip);
	log_debug("%s from %s%s%s%s%s", what, ip, user ? " (user " : "",
	    user ? user : "", user ? ")" : "", detail ? detail : "");
}

static void
log_refusal(struct ctx *x, const char *reason)
{
	const struct command	*cmd = NULL;
	char			 what[96], why[64];

	if (!log_debugging())
		return;
	if (x->argc > 0)
		cmd = find_command(x->argv[0]);
	snprintf(what, sizeof(what), "refused %s", cmd ? cmd->name :
	    x->argc > 0 ? "an unknown request" : "a request");
	snprintf(why, sizeof(why), ": %s", reason);
	log_client(x, what, why);
}

static int
reply_err(struct ctx *x, const char *reason, const char *fmt, ...)
{
	char	text[256];
	va_list	ap;

	if (x->argv != NULL)
		log_refusal(x, reason);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	buf_printf(x->out, "ERR %s %s\n", reason, text);
	return R_DONE;
}

static int
reply_ok(struct ctx *x, const char *what)
{
	buf_append(x->out, "OK ", 3);
	buf_append(x->out, what, strlen(what));
	buf_append(x->out, "\n", 1);
	return R_DONE;
}

/* Journal and apply one change; a request with an id marks each of its
 * changes with it (journal.h). */
static int
commit(struct ctx *x, const char *body, size_t len)
{
	char	*line = NULL;
	int	 n;

	if (x->rid[0] != '\0') {
		if ((line = malloc(len + 64)) == NULL)
			return -1;
		n = snprintf(line, 64, "rid %s %d ", x->rid, x->nchanges);
		memcpy(line + n, body, len);
		body = line;
		len += (size_t)n;
	}
	x->nchanges++;
	x->seq = journal_commit(x->t, body, len);
	free(line);
	return x->seq == 0 ? -1 : 0;
}

static int
commitf(struct ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
commitf(struct ctx *x, const char *fmt, ...)
{
	char	body[1024];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	return commit(x, body, (size_t)n);
}

static int
journal_failed(struct ctx *x)
{
	return reply_err(x, "internal", "the change could not be journaled");
}

static void
new_token(char out[TOKEN_LEN + 1])
{
	static const char	set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	int			i;

	for (i = 0; i < TOKEN_LEN; i++)
		out[i] = set[arc4random_uniform(sizeof(set) - 1)];
	out[TOKEN_LEN] = '\0';
}

static uint32_t
touch_interval(struct tracker *t)
{
	uint32_t	i = t->cfg.lease_seconds / 4;

	return i < 1 ? 1 : i > 180 ? 180 : i;
}

/* ---- authentication ---- */

static int
auth_locked(struct ctx *x)
{
	struct tracker		*t = x->t;
	struct session_rec	*s;
	const char		*user, *token;
	uint32_t		 si;

	user = x->pfx_user ? x->pfx_user : x->c->user;
	token = x->pfx_token ? x->pfx_token : x->c->token;
	if (token[0] == '\0')
		return reply_err(x, "not_logged_in", "log in first");
	if ((si = state_find_session_locked(t, token)) == NIL ||
	    strcmp(USER(t, SESSION(t, si)->user)->name, user) != 0) {
		if (!x->retried && !x->write)
			return R_NO_SESSION;
		if (x->pfx_token == NULL)
			x->c->user[0] = x->c->token[0] = '\0';
		return reply_err(x, "invalid_session",
		    "no such session (logged out or expired)");
	}
	s = SESSION(t, si);
	state_session_touch_locked(t, si, x->now);
	x->sess = si;
	x->user = s->user;
	/* A client resuming with every request rebinds to the same session:
	 * copy only on a change (this runs on every read). */
	if (x->pfx_token != NULL && strcmp(x->c->token, token) != 0) {
		strlcpy(x->c->user, user, sizeof(x->c->user));
		strlcpy(x->c->token, token, sizeof(x->c->token));
	}
	return -1;
}

/* Common lookups; each writes the refusal and returns NIL on failure. */
static uint32_t
need_group(struct ctx *x, const char *name)
{
	uint32_t	g;

	if (!name_valid(name)) {
		reply_err(x, "bad_request", "invalid group name");
		return NIL;
	}
	if ((g = state_find_group_locked(x->t, name)) == NIL)
		reply_err(x, "no_such_group", "no group %s", name);
	return g;
}

static uint32_t
need_member(struct ctx *x, const char *name)
{
	uint32_t	g;

	if ((g = need_group(x, name)) == NIL)
		return NIL;
	if (state_find_member_locked(x->t, g, x->user) == NIL) {
		reply_err(x, "not_member", "not a member of %s", name);
		return NIL;
	}
	return g;
}

static uint32_t
need_owner(struct ctx *x, const char *name)
{
	uint32_t	g;

	if ((g = need_group(x, name)) == NIL)
		return NIL;
	if (GROUP(x->t, g)->owner != x->user) {
		reply_err(x, "not_owner", "only the owner of %s may do that",
		    name);
		return NIL;
	}
	return g;
}

static const char *
me(struct ctx *x)
{
	return USER(x->t, x->user)->name;
}

/* ---- quotas ---- */

static struct user_usage *
my_usage(struct ctx *x)
{
	return &USER(x->t, x->user)->use;
}

/* 1 (the refusal written) if have + more would pass quota q. */
static int
over_quota(struct ctx *x, enum quota q, uint64_t have, uint64_t more,
    const char *what)
{
	uint64_t	limit = config_quota(&x->t->cfg, q);

	if (have + more <= limit)
		return 0;
	reply_err(x, "quota", "%s: %llu of %llu in use, %llu more asked",
	    what, (unsigned long long)have, (unsigned long long)limit,
	    (unsigned long long)more);
	return 1;
}

/* 1 (the refusal written) if the client's address made too many accounts
 * within the window. */
static int
signups_exceeded(struct ctx *x)
{
	struct tracker_config	*cfg = &x->t->cfg;
	char			 ip[IP_TEXT_LEN];
	uint64_t		 since;

	if (cfg->signups == 0)
		return 0;
	since = x->now >= cfg->signup_window ? x->now - cfg->signup_window + 1 :
	    0;
	if (state_signups_since_locked(x->t, &x->c->peer, since) <
	    cfg->signups)
		return 0;
	ipaddr_text(&x->c->peer, ip);
	reply_err(x, "quota", "%u accounts were created from %s within %u "
	    "seconds; try later", cfg->signups, ip, cfg->signup_window);
	return 1;
}

/* ---- users and sessions ---- */

static int
check_credentials(struct ctx *x)
{
	if (!name_valid(x->argv[1]))
		return reply_err(x, "bad_request", "invalid user name");
	if (!password_valid(x->argv[2]))
		return reply_err(x, "bad_request", "invalid password");
	return -1;
}

static struct kdf_job *
job_new(struct ctx *x, enum kdf_kind kind)
{
	struct kdf_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->kind = kind;
	strlcpy(j->user, x->argv[1], sizeof(j->user));
	j->pwlen = strlcpy(j->password, x->argv[2], sizeof(j->password));
	explicit_bzero(x->argv[2], j->pwlen);
	return j;
}

static int
cmd_create_user(struct ctx *x)
{
	struct kdf_job	*j;

	if (applied_before(x))
		return reply_ok(x, "user_created");
	if (state_find_user_locked(x->t, x->argv[1]) != NIL)
		return reply_err(x, "user_exists", "user %s exists",
		    x->argv[1]);
	if (state_free_count(x->t, T_USER) == 0)
		return reply_err(x, "full", "no room for more users");
	if (signups_exceeded(x))
		return R_DONE;
	if ((j = job_new(x, KDF_CREATE)) == NULL)
		return reply_err(x, "internal", "out of memory");
	j->rec.algo = PW_ALGO_PBKDF2_SHA256;
	j->rec.iterations = x->t->cfg.kdf_iterations;
	pw_new_salt(j->rec.salt);
	strlcpy(j->rid, x->rid, sizeof(j->rid));
	*x->job = j;
	return R_KDF;
}

static int
cmd_login(struct ctx *x)
{
	struct kdf_job	*j;
	uint32_t	 u;

	if ((j = job_new(x, KDF_LOGIN)) == NULL)
		return reply_err(x, "internal", "out of memory");
	if ((u = state_find_user_locked(x->t, x->argv[1])) != NIL) {
		j->rec = USER(x->t, u)->pw;
		j->known = 1;
	} else {
		/* Same cost for an unknown user: no timing oracle. */
		j->rec.algo = PW_ALGO_PBKDF2_SHA256;
		j->rec.iterations = x->t->cfg.kdf_iterations;
		pw_new_salt(j->rec.salt);
	}
	*x->job = j;
	return R_KDF;
}

static int
cmd_logout(struct ctx *x)
{
	const char	*token = SESSION(x->t, x->sess)->token;

	if (commitf(x, "logout %s", token) == -1)
		return journal_failed(x);
	x->c->user[0] = x->c->token[0] = '\0';
	return reply_ok(x, "logout_success");
}

static int
cmd_touch(struct ctx *x)
{
	struct session_rec	*s = SESSION(x->t, x->sess);

	if (x->now < s->journaled_touch + touch_interval(x->t))
		return reply_ok(x, "touched");
	if (!x->write)
		return R_AS_WRITE;
	if (commitf(x, "touch %s %llu", s->token,
	    (unsigned long long)x->now) == -1)
		return journal_failed(x);
	return reply_ok(x, "touched");
}

/* ---- groups ---- */

static int
cmd_create_group(struct ctx *x)
{
	const char	*g = x->argv[1];

	if (!name_valid(g))
		return reply_err(x, "bad_request", "invalid group name");
	if (state_find_group_locked(x->t, g) != NIL)
		return reply_err(x, "group_exists", "group %s exists", g);
	if (over_quota(x, Q_GROUPS, my_usage(x)->groups, 1, "groups owned"))
		return R_DONE;
	if (state_free_count(x->t, T_GROUP) == 0 ||
	    state_free_count(x->t, T_MEMBER) == 0)
		return reply_err(x, "full", "no room for more groups");
	if (commitf(x, "group %s %s", g, me(x)) == -1)
		return journal_failed(x);
	return reply_ok(x, "group_created");
}

static int
cmd_join_group(struct ctx *x)
{
	uint32_t	g;

	if ((g = need_group(x, x->argv[1])) == NIL)
		return R_DONE;
	if (state_find_member_locked(x->t, g, x->user) != NIL)
		return reply_err(x, "already_member", "already a member of %s",
		    x->argv[1]);
	if (state_find_request_locked(x->t, g, x->user) != NIL)
		return reply_err(x, "request_exists",
		    "a request to join %s is pending", x->argv[1]);
	if (over_quota(x, Q_REQUESTS, my_usage(x)->requests, 1,
	    "join requests pending"))
		return R_DONE;
	if (state_free_count(x->t, T_REQUEST) == 0)
		return reply_err(x, "full", "no room for more requests");
	if (commitf(x, "join_req %s %s", x->argv[1], me(x)) == -1)
		return journal_failed(x);
	return reply_ok(x, "request_sent");
}

static int
cmd_leave_group(struct ctx *x)
{
	if (need_member(x, x->argv[1]) == NIL)
		return R_DONE;
	if (commitf(x, "leave %s %s", x->argv[1], me(x)) == -1)
		return journal_failed(x);
	return reply_ok(x, "left_group");
}

static int
cmd_list_requests(struct ctx *x)
{
	struct group_rec	*g;
	uint32_t		 gi, i;

	if ((gi = need_owner(x, x->argv[1])) == NIL)
		return R_DONE;
	g = GROUP(x->t, gi);
	buf_printf(x->out, "OK %u\n", g->requests.count);
	for (i = g->requests.head; i != NIL; i = REQUEST(x->t, i)->glink.next)
		buf_printf(x->out, "%s\n", USER(x->t, REQUEST(x->t, i)->user)->name);
	return R_DONE;
}

static int
decide_request(struct ctx *x, const char *op, const char *ok)
{
	uint32_t	g, u;

	if ((g = need_owner(x, x->argv[1])) == NIL)
		return R_DONE;
	if (!name_valid(x->argv[2]))
		return reply_err(x, "bad_request", "invalid user name");
	if ((u = state_find_user_locked(x->t, x->argv[2])) == NIL)
		return reply_err(x, "no_such_user", "no user %s", x->argv[2]);
	if (state_find_request_locked(x->t, g, u) == NIL)
		return reply_err(x, "no_such_request",
		    "%s has not asked to join %s", x->argv[2], x->argv[1]);
	if (strcmp(op, "accept") == 0 && state_free_count(x->t, T_MEMBER) == 0)
		return reply_err(x, "full", "no room for more members");
	if (commitf(x, "%s %s %s", op, x->argv[1], x->argv[2]) == -1)
		return journal_failed(x);
	return reply_ok(x, ok);
}

static int
cmd_accept_request(struct ctx *x)
{
	return decide_request(x, "accept", "request_accepted");
}

static int
cmd_reject_request(struct ctx *x)
{
	return decide_request(x, "reject", "request_rejected");
}

static int
cmd_list_groups(struct ctx *x)
{
	struct tracker		*t = x->t;
	struct group_rec	*g;
	uint32_t		 i;

	buf_printf(x->out, "OK %u\n", t->hdr->groups.count);
	for (i = t->hdr->groups.head; i != NIL; i = g->all.next) {
		g = GROUP(t, i);
		buf_append(x->out, g->name, strlen(g->name));
		buf_append(x->out, " ", 1);
		buf_append(x->out, USER(t, g->owner)->name,
		    strlen(USER(t, g->owner)->name));
		buf_append(x->out, "\n", 1);
	}
	return R_DONE;
}

/* ---- files ---- */

/*
 * Reply formatting without printf: list_files and download_file are the
 * hot reads, and a download reply carries up to 131072 piece hashes.
 */
static void
out_str(struct ctx *x, const char *s, size_t n)
{
	buf_append(x->out, s, n);
}

static void
out_u64(struct ctx *x, char sep, uint64_t v)
{
	char	tmp[24], *p = tmp + sizeof(tmp);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	*--p = sep;
	out_str(x, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
out_hex(struct ctx *x, const char hex[SHA1_HEX_LEN])
{
	char	tmp[SHA1_HEX_LEN + 1];

	tmp[0] = ' ';
	memcpy(tmp + 1, hex, SHA1_HEX_LEN);
	out_str(x, tmp, sizeof(tmp));
}

static void
out_sha1(struct ctx *x, const uint8_t sha1[SHA1_LEN])
{
	char	hex[SHA1_HEX_LEN + 2];

	hex[0] = ' ';
	sha1_to_hex(sha1, hex + 1);
	out_str(x, hex, SHA1_HEX_LEN + 1);
}

/* " a.b.c.d:port", or " [v6]:port" (peerd's form of the answer only). */
static void
out_ip_port(struct ctx *x, const struct ipaddr *ip, uint16_t port)
{
	const uint8_t	*b = ip->a + 12;
	char		 text[EP_TEXT_LEN + 1];

	if (!ipaddr_is_v4(ip)) {
		text[0] = ' ';
		ip_port_text(ip, port, text + 1);
		out_str(x, text, strlen(text));
		return;
	}
	out_u64(x, ' ', b[0]);
	out_u64(x, '.', b[1]);
	out_u64(x, '.', b[2]);
	out_u64(x, '.', b[3]);
	out_u64(x, ':', port);
}

/*
 * Build group g's list; *until becomes the last second at which every
 * seeder counted is still active (the reply holds until then unless the
 * group's generation changes).
 */
static void
list_files_build(struct ctx *x, uint32_t g, uint64_t *until)
{
	struct tracker	*t = x->t;
	struct file_rec	*f;
	struct buf	 lines, *out = x->out;
	uint32_t	 i, n, count = 0;

	buf_init(&lines, out->max);
	x->out = &lines;
	for (i = GROUP(t, g)->files.head; i != NIL; i = f->glink.next) {
		f = FILEREC(t, i);
		if ((n = state_file_active_until(t, i, x->now, until)) == 0)
			continue;
		count++;
		out_str(x, "\n", 1);
		out_str(x, f->name, strlen(f->name));
		out_u64(x, ' ', f->size);
		out_hex(x, f->sha1_hex);
		out_u64(x, ' ', n);
	}
	x->out = out;
	out_str(x, "OK", 2);
	out_u64(x, ' ', count);
	if (count > 0)
		out_str(x, buf_head(&lines), buf_avail(&lines));
	out_str(x, "\n", 1);
	buf_free(&lines);
}

static int
cmd_list_files(struct ctx *x)
{
	struct tracker	*t = x->t;
	const char	*ready;
	size_t		 len, start;
	uint64_t	 gen, until = UINT64_MAX;
	uint32_t	 g;

	if ((g = need_member(x, x->argv[1])) == NIL)
		return R_DONE;
	gen = GROUP(t, g)->gen;
	if ((ready = listcache_get(t->lcache, g, gen, x->now, &len)) != NULL) {
		out_str(x, ready, len);
		return R_DONE;
	}
	if (t->lcache == NULL)
		t->lcache = listcache_new();
	start = buf_avail(x->out);
	list_files_build(x, g, &until);
	/* Lapsed sessions coming back must now change this generation. */
	if (t->hdr->activity_seen < x->now)
		t->hdr->activity_seen = x->now;
	listcache_put(t->lcache, g, gen, until, buf_head(x->out) + start,
	    buf_avail(x->out) - start);
	return R_DONE;
}

/* The file's answer to download_file; partial seeders only to peerd's
 * form (the seed client assumes every seeder has every piece). */
static void
print_file(struct ctx *x, uint32_t fi, int with_partial)
{
	struct tracker		*t = x->t;
	struct file_rec		*f = FILEREC(t, fi);
	struct seeder_rec	*s;
	struct buf		 addrs, *out = x->out;
	uint32_t		 i, n = 0;

	buf_reserve(x->out, (size_t)f->npieces * (SHA1_HEX_LEN + 1) + 128);
	out_str(x, "OK", 2);
	out_u64(x, ' ', f->size);
	out_hex(x, f->sha1_hex);
	out_u64(x, ' ', f->npieces);
	for (i = 0; i < f->npieces; i++)
		out_sha1(x, state_piece_hash(t, f->hash_off, i));
	/*
	 * Count and list the active seeders in one pass: their sessions are
	 * touched under meta, not under this bucket, so a second pass could
	 * list a seeder the count left out.
	 */
	buf_init(&addrs, out->max);
	x->out = &addrs;
	for (i = f->seeders.head; i != NIL; i = s->flink.next) {
		s = SEEDER(t, i);
		/* the seed client's form: whole files, IPv4 (all it parses) */
		if ((with_partial || (!s->partial && ipaddr_is_v4(&s->ip))) &&
		    state_seeder_active(t, i, x->now)) {
			out_ip_port(x, &s->ip, s->port);
			n++;
		}
	}
	x->out = out;
	out_u64(x, ' ', n);
	if (n > 0)
		out_str(x, buf_head(&addrs), buf_avail(&addrs));
	buf_free(&addrs);
	out_str(x, "\n", 1);
}

static int
cmd_download_file(struct ctx *x)
{
	uint32_t	g, fi, b;

	if ((g = need_member(x, x->argv[1])) == NIL)
		return R_DONE;
	if (!name_valid(x->argv[2]))
		return reply_err(x, "bad_request", "invalid file name");
	if (x->argc == 4 && strcmp(x->argv[3], "partial") != 0)
		return reply_err(x, "bad_request", "usage: download_file "
		    "<group> <name> [partial]");
	/* Read the file under its bucket only: the hashes can be many. */
	state_unlock_meta(x->t);
	x->meta_held = 0;
	b = state_file_bucket(x->t, g, x->argv[2]);
	state_lock_bucket(x->t, b);
	if ((fi = state_find_file_locked(x->t, g, x->argv[2])) == NIL)
		reply_err(x, "no_such_file", "no file %s in %s", x->argv[2],
		    x->argv[1]);
	else
		print_file(x, fi, x->argc == 4);
	state_unlock_bucket(x->t, b);
	return R_DONE;
}

/* ---- tickets (keys.c signs) ---- */

/* A member's proof for seeders that it may fetch this file of the group. */
static int
cmd_ticket(struct ctx *x)
{
	char		hex[TICKET_MAX_HEX + 1], user[NAME_MAX_LEN + 1];
	uint8_t		sha1[SHA1_LEN];
	uint32_t	g, fi, b;
	uint64_t	expires = x->now + x->t->cfg.ticket_lifetime;

	if ((g = need_member(x, x->argv[1])) == NIL)
		return R_DONE;
	if (!name_valid(x->argv[2]))
		return reply_err(x, "bad_request", "invalid file name");
	strlcpy(user, me(x), sizeof(user));
	state_unlock_meta(x->t);
	x->meta_held = 0;
	b = state_file_bucket(x->t, g, x->argv[2]);
	state_lock_bucket(x->t, b);
	if ((fi = state_find_file_locked(x->t, g, x->argv[2])) != NIL)
		memcpy(sha1, FILEREC(x->t, fi)->sha1, SHA1_LEN);
	state_unlock_bucket(x->t, b);
	if (fi == NIL)
		return reply_err(x, "no_such_file", "no file %s in %s",
		    x->argv[2], x->argv[1]);
	if (keys_ticket_hex(user, x->argv[1], sha1, expires, hex) == -1)
		return reply_err(x, "internal", "cannot sign a ticket");
	buf_printf(x->out, "OK %s %llu\n", hex, (unsigned long long)expires);
	return R_DONE;
}

/* The public keys of every tracker, for seeders checking tickets. */
static int
cmd_keys(struct ctx *x)
{
	struct ticket_key	keys[MAX_TRACKERS * KEYS_PER_TRACKER];
	char			id[2 * TICKET_KEYID_LEN + 1];
	char			pub[2 * TICKET_PUB_LEN + 1];
	size_t			n, i;

	n = keys_known_locked(x->t, keys, sizeof(keys) / sizeof(keys[0]));
	buf_printf(x->out, "OK %zu\n", n);
	for (i = 0; i < n; i++) {
		hex_encode(keys[i].keyid, TICKET_KEYID_LEN, id);
		hex_encode(keys[i].pub, TICKET_PUB_LEN, pub);
		buf_printf(x->out, "%s %s\n", id, pub);
	}
	return R_DONE;
}

/* Syntax of upload_file, checked before any lock. */
static int
check_upload(struct ctx *x)
{
	char		**v = x->argv;
	struct ipaddr	  ip;
	uint64_t	  size, n, i;
	uint16_t	  port;
	uint8_t		  sha1[SHA1_LEN];

	if (!name_valid(v[1]) || !name_valid(v[2]))
		return reply_err(x, "bad_request", "invalid group or file name");
	if (parse_u64(v[3], 0, x->t->cfg.max_file_size, &size) == -1)
		return reply_err(x, "bad_request", "bad size (at most %llu)",
		    (unsigned long long)x->t->cfg.max_file_size);
	if (ipaddr_parse(v[4], &ip) == -1 || parse_port(v[5], &port))
		return reply_err(x, "bad_request", "bad seeder address");
	if (!ipaddr_eq(&ip, &x->c->peer))
		return reply_err(x, "bad_address",
		    "the seeder address must be the connection's own IP");
	if (hex_to_sha1(v[6], sha1) == -1)
		return reply_err(x, "bad_request", "bad file SHA-1");
	if (parse_u64(v[7], 0, UINT32_MAX, &n) == -1 || n != pieces_count(size))
		return reply_err(x, "bad_request",
		    "piece count must be %llu for that size",
		    (unsigned long long)pieces_count(size));
	if ((uint64_t)x->argc != 8 + n && ((uint64_t)x->argc != 9 + n ||
	    strcmp(v[8 + n], "partial") != 0))
		return reply_err(x, "bad_request", "expected %llu piece hashes",
		    (unsigned long long)n);
	for (i = 0; i < n; i++)
		if (hex_to_sha1(v[8 + i], sha1) == -1)
			return reply_err(x, "bad_request", "bad piece hash %llu",
			    (unsigned long long)i);
	return -1;
}

/* 1 if the request's content is that of file fi. */
static int
same_content(struct ctx *x, uint32_t fi)
{
	struct file_rec	*f = FILEREC(x->t, fi);
	uint8_t		 h[SHA1_LEN];
	uint64_t	 size;
	uint32_t	 i;

	parse_u64(x->argv[3], 0, UINT64_MAX, &size);
	hex_to_sha1(x->argv[6], h);
	if (size != f->size || memcmp(h, f->sha1, SHA1_LEN) != 0)
		return 0;
	for (i = 0; i < f->npieces; i++) {
		hex_to_sha1(x->argv[8 + i], h);
		if (memcmp(h, state_piece_hash(x->t, f->hash_off, i),
		    SHA1_LEN) != 0)
			return 0;
	}
	return 1;
}

static int
commit_new_file(struct ctx *x, const char *ip, uint16_t port)
{
	struct buf	body;
	uint64_t	size;
	int		i, rc;

	parse_u64(x->argv[3], 0, UINT64_MAX, &size);
	buf_init(&body, JOURNAL_MAX_LINE);
	buf_printf(&body, "file %s %s %llu %s %u", x->argv[1], x->argv[2],
	    (unsigned long long)size, x->argv[6],
	    (unsigned)pieces_count(size));
	for (i = 8; i < x->argc; i++)
		buf_printf(&body, " %s", x->argv[i]);
	rc = buf_printf(&body, " %s %u %s", ip, port,
	    SESSION(x->t, x->sess)->token);
	if (rc == 0)
		rc = commit(x, body.data, body.len);
	buf_free(&body);
	return rc;
}

/* Journal the end of every (lapsed) seeder of fi; the last takes fi. */
static int
drop_lapsed_file(struct ctx *x, uint32_t fi)
{
	struct tracker		*t = x->t;
	struct seeder_rec	*s;
	char			 ip[IP_TEXT_LEN];
	uint32_t		 n = FILEREC(t, fi)->seeders.count;

	while (n-- > 0) {
		s = SEEDER(t, FILEREC(t, fi)->seeders.head);
		ipaddr_text(&s->ip, ip);
		if (commitf(x, "unseed %s %s %s %u", x->argv[1], x->argv[2], ip,
		    s->port) == -1)
			return -1;
	}
	return 0;
}

/*
 * 1 (the refusal written) if the upload would take the user past a quota:
 * a new share, unless this address already seeds fi for this user (or
 * moves from the user's other session); dropped, the lapsed file's shares
 * of this user are given back first.
 */
static int
upload_over_quota(struct ctx *x, uint32_t fi, uint32_t dropped, uint16_t port,
    uint64_t size)
{
	struct tracker		*t = x->t;
	struct user_usage	 use = *my_usage(x);
	uint32_t		 si;

	if (dropped != NIL)
		for (si = FILEREC(t, dropped)->seeders.head; si != NIL;
		    si = SEEDER(t, si)->flink.next)
			if (SEEDER(t, si)->user == x->user) {
				use.shares--;
				use.hashes -= FILEREC(t, dropped)->npieces;
			}
	if (fi != NIL &&
	    (si = state_find_seeder_locked(t, fi, &x->c->peer, port)) != NIL &&
	    SEEDER(t, si)->user == x->user)
		return 0;
	return over_quota(x, Q_FILES, use.shares, 1, "files shared") ||
	    over_quota(x, Q_HASHES, use.hashes, pieces_count(size),
	    "piece hashes of files shared");
}

static int
cmd_upload_file(struct ctx *x)
{
	struct tracker	*t = x->t;
	char		 ip[IP_TEXT_LEN];
	uint32_t	 g, fi, si;
	uint16_t	 port;
	uint64_t	 size;
	int		 same, replaces, partial;

	if ((g = need_member(x, x->argv[1])) == NIL)
		return R_DONE;
	ipaddr_text(&x->c->peer, ip);
	parse_port(x->argv[5], &port);
	parse_u64(x->argv[3], 0, UINT64_MAX, &size);
	fi = state_find_file_locked(t, g, x->argv[2]);
	/* peerd registers a download in progress: never a new file */
	partial = strcmp(x->argv[x->argc - 1], "partial") == 0;
	same = fi != NIL && same_content(x, fi);
	if (partial && !same)
		return reply_err(x, "no_such_file", "no file %s in %s with "
		    "that content", x->argv[2], x->argv[1]);
	replaces = fi != NIL && !same &&
	    state_file_active_seeders(t, fi, x->now) == 0;
	if (fi != NIL && !same && !replaces)
		return reply_err(x, "file_conflict", "%s in %s has "
		    "other content", x->argv[2], x->argv[1]);
	if (upload_over_quota(x, replaces ? NIL : fi, replaces ? fi : NIL,
	    port, size))
		return R_DONE;
	if (replaces) {
		/* Dropping it frees a file and a seeder, never arena space:
		 * refuse before changing anything. */
		if (t->hdr->arena_cap - t->hdr->arena_used < pieces_count(size))
			return reply_err(x, "full", "no room for more files");
		/* Nobody offers the old content any more: the name is free. */
		if (drop_lapsed_file(x, fi) == -1)
			return journal_failed(x);
		fi = NIL;
	}
	if (fi != NIL) {
		si = state_find_seeder_locked(t, fi, &x->c->peer, port);
		if (si != NIL && SEEDER(t, si)->session == x->sess &&
		    SEEDER(t, si)->partial == partial)
			return reply_ok(x, "file_uploaded");
		if (si == NIL && state_free_count(t, T_SEEDER) == 0)
			return reply_err(x, "full", "no room for more seeders");
		if (commitf(x, "seed %s %s %s %u %s%s", x->argv[1], x->argv[2],
		    ip, port, SESSION(t, x->sess)->token,
		    partial ? " partial" : "") == -1)
			return journal_failed(x);
		return reply_ok(x, "file_uploaded");
	}
	if (state_free_count(t, T_FILE) == 0 ||
	    state_free_count(t, T_SEEDER) == 0 ||
	    t->hdr->arena_cap - t->hdr->arena_used < pieces_count(size))
		return reply_err(x, "full", "no room for more files");
	if (commit_new_file(x, ip, port) == -1)
		return journal_failed(x);
	return reply_ok(x, "file_uploaded");
}

static int
cmd_stop_share(struct ctx *x)
{
	struct tracker	*t = x->t;
	struct ipaddr	 in;
	uint32_t	 g, fi, si;
	uint16_t	 port;
	char		 ip[IP_TEXT_LEN];

	if (!name_valid(x->argv[2]))
		return reply_err(x, "bad_request", "invalid file name");
	if (ipaddr_parse(x->argv[3], &in) == -1 ||
	    parse_port(x->argv[4], &port) == -1)
		return reply_err(x, "bad_request", "bad seeder address");
	if ((g = need_group(x, x->argv[1])) == NIL)
		return R_DONE;
	if ((fi = state_find_file_locked(t, g, x->argv[2])) == NIL)
		return reply_err(x, "no_such_file", "no file %s in %s",
		    x->argv[2], x->argv[1]);
	si = state_find_seeder_locked(t, fi, &in, port);
	if (si == NIL || SEEDER(t, si)->user != x->user)
		return reply_err(x, "not_seeder", "you do not seed %s from "
		    "%s:%u", x->argv[2], x->argv[3], port);
	ipaddr_text(&in, ip);
	if (commitf(x, "unseed %s %s %s %u", x->argv[1], x->argv[2], ip,
	    port) == -1)
		return journal_failed(x);
	return reply_ok(x, "share_stopped");
}

/* ---- test hooks (only in the -DTEST_HOOKS build the crash tests run) ---- */

#ifdef TEST_HOOKS

static int
hold_ms(struct ctx *x, uint64_t *ms)
{
	if (parse_u64(x->argv[1], 0, 60000, ms) == -1) {
		reply_err(x, "bad_request", "bad milliseconds");
		return -1;
	}
	return 0;
}

static int
cmd_test_hold_lock(struct ctx *x)
{
	uint64_t	ms;

	if (hold_ms(x, &ms) == -1)
		return R_DONE;
	usleep((useconds_t)ms * 1000);
	return reply_ok(x, "held");
}

/* Leave a change half done (a user nobody journaled) while holding the
 * locks, so a test can kill us and check the repair drops it. */
static int
cmd_test_hold_lock_dirty(struct ctx *x)
{
	struct pw_record	pw = { .algo = PW_ALGO_PBKDF2_SHA256,
				    .iterations = 1 };
	uint64_t		ms;

	if (hold_ms(x, &ms) == -1)
		return R_DONE;
	state_add_user_locked(x->t, "hook_dirty", &pw, 0);
	usleep((useconds_t)ms * 1000);
	x->t->hdr->dirty = 1;
	return reply_ok(x, "held");
}
#endif

/* ---- dispatch ---- */

static const struct command commands[] = {
	{ "create_user", check_credentials, cmd_create_user, 3, 3, 0,
	    "create_user <user> <password>", "user_created" },
	{ "login", check_credentials, cmd_login, 3, 3, 0,
	    "login <user> <password>", NULL },
	{ "logout", NULL, cmd_logout, 1, 1, F_AUTH | F_WRITE, "logout",
	    "logout_success" },
	{ "touch", NULL, cmd_touch, 1, 1, F_AUTH, "touch", NULL },
	{ "create_group", NULL, cmd_create_group, 2, 2, F_AUTH | F_WRITE,
	    "create_group <group>", "group_created" },
	{ "join_group", NULL, cmd_join_group, 2, 2, F_AUTH | F_WRITE,
	    "join_group <group>", "request_sent" },
	{ "leave_group", NULL, cmd_leave_group, 2, 2, F_AUTH | F_WRITE,
	    "leave_group <group>", "left_group" },
	{ "list_requests", NULL, cmd_list_requests, 2, 2, F_AUTH,
	    "list_requests <group>", NULL },
	{ "accept_request", NULL, cmd_accept_request, 3, 3, F_AUTH | F_WRITE,
	    "accept_request <group> <user>", "request_accepted" },
	{ "reject_request", NULL, cmd_reject_request, 3, 3, F_AUTH | F_WRITE,
	    "reject_request <group> <user>", "request_rejected" },
	{ "list_groups", NULL, cmd_list_groups, 1, 1, F_AUTH, "list_groups",
	    NULL },
	{ "list_files", NULL, cmd_list_files, 2, 2, F_AUTH,
	    "list_files <group>", NULL },
	{ "upload_file", check_upload, cmd_upload_file, 8, -1,
	    F_AUTH | F_WRITE, "upload_file <group> <name> <size> <ip> <port> "
	    "<sha1> <n> <h1>..<hn> [partial]", "file_uploaded" },
	{ "download_file", NULL, cmd_download_file, 3, 4, F_AUTH,
	    "download_file <group> <name> [partial]", NULL },
	{ "stop_share", NULL, cmd_stop_share, 5, 5, F_AUTH | F_WRITE,
	    "stop_share <group> <name> <ip> <port>", "share_stopped" },
	{ "ticket", NULL, cmd_ticket, 3, 3, F_AUTH, "ticket <group> <name>", NULL },
	{ "keys", NULL, cmd_keys, 1, 1, 0, "keys", NULL },
};

#ifdef TEST_HOOKS
static const struct command hook_commands[] = {
	{ "test_hold_lock", NULL, cmd_test_hold_lock, 2, 2, 0,
	    "test_hold_lock <ms>", NULL },
	{ "test_hold_lock_dirty", NULL, cmd_test_hold_lock_dirty, 2, 2,
	    F_WRITE, "test_hold_lock_dirty <ms>", NULL },
};
#endif

static const struct command *
find_command(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].name[0] == name[0] &&
		    strcmp(commands[i].name, name) == 0)
			return &commands[i];
#ifdef TEST_HOOKS
	for (i = 0; i < sizeof(hook_commands) / sizeof(hook_commands[0]); i++)
		if (strcmp(hook_commands[i].name, name) == 0)
			return &hook_commands[i];
#endif
	return NULL;
}

/*
 * A request sent again with its id, whose changes were applied before
 * (here, or on another tracker and caught up with under the journal's
 * lock): answered as it was, applied once. Before the session check: a
 * logout sent again finds its session gone.
 */
static int
applied_before(struct ctx *x)
{
	uint8_t	id[RID_LEN];

	if (x->rid[0] == '\0' || reqid_parse(x->rid, id) == -1 ||
	    !reqid_seen_locked(x->t, id))
		return 0;
	log_client(x, "request sent again", ": answered, not applied twice");
	return 1;
}

/* Run cmd once under the locks its kind needs. */
static int
run_locked(struct ctx *x, const struct command *cmd, int write)
{
	int	rc;

	x->write = write;
	if (!write && journal_read_barrier(x->t) == -1)
		log_warnx("%s: catch up: %s", cmd->name, x->t->err);
	if (write ? journal_begin(x->t) : state_lock_meta(x->t)) {
		log_warnx("%s: %s", cmd->name, write ? x->t->err : "lock");
		return reply_err(x, "internal", "the tracker state is "
		    "unavailable");
	}
	x->meta_held = 1;
	rc = -1;
	if (write && cmd->done != NULL && applied_before(x))
		rc = reply_ok(x, cmd->done);
	else if ((cmd->flags & F_AUTH) || x->pfx_token != NULL)
		rc = auth_locked(x);
	if (rc == -1)
		rc = cmd->run(x);
	if (write)
		journal_end(x->t);
	else if (x->meta_held)
		state_unlock_meta(x->t);
	x->meta_held = 0;
	return rc;
}

static int
dispatch(struct ctx *x, const struct command *cmd)
{
	int	rc, write = (cmd->flags & F_WRITE) != 0;

	if (cmd->check != NULL && cmd->check(x) != -1)
		return R_DONE;
	for (;;) {
		rc = run_locked(x, cmd, write);
		if (rc == R_AS_WRITE && !write)
			write = 1;
		else if (rc == R_NO_SESSION && !x->retried) {
			/* Perhaps logged in on the other tracker just now. */
			x->retried = 1;
			if (journal_catch_up(x->t) == -1)
				log_warnx("catch up: %s", x->t->err);
		} else
			return rc;
	}
}

/* Strip and check a "session <user> <token>" prefix. */
static int
session_prefix(struct ctx *x)
{
	if (x->argc < 4)
		return reply_err(x, "bad_request",
		    "usage: session <user> <token> <request>");
	if (!name_valid(x->argv[1]) || !session_token_valid(x->argv[2]))
		return reply_err(x, "invalid_session", "malformed session");
	x->pfx_user = x->argv[1];
	x->pfx_token = x->argv[2];
	x->argv += 3;
	x->argc -= 3;
	return -1;
}

/* Strip and check a "rid <id>" prefix (peerd's: the seed client never
 * sends one). */
static int
rid_prefix(struct ctx *x)
{
	uint8_t	id[RID_LEN];

	if (x->argc < 3)
		return reply_err(x, "bad_request", "usage: rid <id> <request>");
	if (reqid_parse(x->argv[1], id) == -1)
		return reply_err(x, "bad_request",
		    "a request id is %d hex digits", 2 * RID_LEN);
	strlcpy(x->rid, x->argv[1], sizeof(x->rid));
	x->argv += 2;
	x->argc -= 2;
	return -1;
}

static int
execute(struct ctx *x, size_t len)
{
	const struct command	*cmd;

	if (x->argc == 0)
		return reply_err(x, "bad_request", "empty request");
	if (strcmp(x->argv[0], "session") == 0 && session_prefix(x) != -1)
		return R_DONE;
	if (strcmp(x->argv[0], "rid") == 0 && rid_prefix(x) != -1)
		return R_DONE;
	if ((cmd = find_command(x->argv[0])) == NULL)
		return reply_err(x, "unknown_command", "unknown command %.64s",
		    x->argv[0]);
	if (len > PROTO_MAX_LINE && strcmp(cmd->name, "upload_file") != 0)
		return reply_err(x, "too_long", "request longer than %d bytes",
		    PROTO_MAX_LINE);
	if (x->argc < cmd->minargs ||
	    (cmd->maxargs != -1 && x->argc > cmd->maxargs))
		return reply_err(x, "bad_request", "usage: %s", cmd->usage);
	return dispatch(x, cmd);
}

enum cmd_status
cmd_execute(struct tracker *t, struct client *c, char *line, size_t len,
    struct buf *out, struct kdf_job **job, uint64_t *durable_seq)
{
	char		*small[256], **argv = small;
	size_t		 maxv = len / 2 + 2;
	struct ctx	 x = { .t = t, .c = c, .out = out, .job = job };
	int		 rc;

	*job = NULL;
	*durable_seq = 0;
	x.now = (uint64_t)time(NULL);
	if (maxv > 256 && (argv = malloc(maxv * sizeof(*argv))) == NULL) {
		reply_err(&x, "internal", "out of memory");
		goto end;
	}
	x.argv = argv;
	if ((x.argc = proto_split(line, argv, maxv > 256 ? (int)maxv : 256)) < 0)
		x.argc = 0;
	rc = execute(&x, len);
	if (argv != small)
		free(argv);
	if (rc == R_KDF)
		return CMD_NEED_KDF;
	if (x.seq != 0 && t->cfg.sync == SYNC_ALWAYS)
		*durable_seq = x.seq;
end:
	buf_append(out, PROTO_END "\n", sizeof(PROTO_END));
	return CMD_REPLY;
}

/* ---- password hashing off the event loop ---- */

void
kdf_job_run(struct kdf_job *j)
{
	/* An unknown user's record costs the same to check: no timing
	 * oracle. */
	if (j->kind == KDF_CREATE)
		j->ok = pw_derive(&j->rec, j->password, j->pwlen) == 0;
	else
		j->ok = pw_verify(&j->rec, j->password, j->pwlen) && j->known;
	explicit_bzero(j->password, sizeof(j->password));
}

void
kdf_job_free(struct kdf_job *j)
{
	if (j == NULL)
		return;
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static int
finish_create(struct ctx *x, struct kdf_job *j)
{
	char	salt[2 * PW_SALT_LEN + 1], hash[2 * PW_HASH_LEN + 1];
	char	ip[IP_TEXT_LEN];

	strlcpy(x->rid, j->rid, sizeof(x->rid));
	if (applied_before(x))
		return reply_ok(x, "user_created");
	if (state_find_user_locked(x->t, j->user) != NIL)
		return reply_err(x, "user_exists", "user %s exists", j->user);
	if (state_free_count(x->t, T_USER) == 0)
		return reply_err(x, "full", "no room for more users");
	if (signups_exceeded(x))
		return R_DONE;
	hex_encode(j->rec.salt, PW_SALT_LEN, salt);
	hex_encode(j->rec.hash, PW_HASH_LEN, hash);
	ipaddr_text(&x->c->peer, ip);
	if (commitf(x, "user %s %u %u %s %s %s %llu", j->user, j->rec.algo,
	    j->rec.iterations, salt, hash, ip,
	    (unsigned long long)x->now) == -1)
		return journal_failed(x);
	return reply_ok(x, "user_created");
}

/*
 * The session table is full, or user's share of it (NIL: anyone's): end
 * the session idle longest, if it is past its lease (its peer vanished
 * without logout). A scan, but only when full.
 */
static int
evict_session(struct ctx *x, uint32_t user)
{
	struct tracker		*t = x->t;
	struct session_rec	*s;
	uint32_t		 i, best = NIL;
	uint64_t		 oldest = UINT64_MAX;

	for (i = 1; i <= t->hdr->t[T_SESSION].hiwater; i++) {
		s = SESSION(t, i);
		if (s->h.used && (user == NIL || s->user == user) &&
		    s->last_touch < oldest) {
			oldest = s->last_touch;
			best = i;
		}
	}
	if (best == NIL || oldest + t->cfg.lease_seconds >= x->now)
		return -1;
	log_info("sessions full%s: ending %s's session idle since %llu",
	    user == NIL ? "" : " for the user",
	    USER(t, SESSION(t, best)->user)->name,
	    (unsigned long long)oldest);
	return commitf(x, "logout %s", SESSION(t, best)->token);
}

static int
finish_login(struct ctx *x, struct kdf_job *j)
{
	char		token[TOKEN_LEN + 1];
	uint32_t	u;

	u = state_find_user_locked(x->t, j->user);
	if (u == NIL || memcmp(USER(x->t, u)->pw.salt, j->rec.salt,
	    PW_SALT_LEN) != 0)
		return reply_err(x, "invalid_credentials",
		    "wrong user name or password");
	if (USER(x->t, u)->use.sessions >= config_quota(&x->t->cfg,
	    Q_SESSIONS) && evict_session(x, u) == -1)
		return reply_err(x, "quota", "sessions: %u open, none idle past "
		    "its lease; log out of one first",
		    USER(x->t, u)->use.sessions);
	if (state_free_count(x->t, T_SESSION) == 0 &&
	    evict_session(x, NIL) == -1)
		return reply_err(x, "full", "no room for more sessions");
	do
		new_token(token);
	while (state_find_session_locked(x->t, token) != NIL);
	if (commitf(x, "login %s %s %llu", j->user, token,
	    (unsigned long long)x->now) == -1)
		return journal_failed(x);
	strlcpy(x->c->user, j->user, sizeof(x->c->user));
	strlcpy(x->c->token, token, sizeof(x->c->token));
	buf_printf(x->out, "OK login_success %s\n", token);
	log_client(x, "login", NULL);
	return R_DONE;
}

void
cmd_finish(struct tracker *t, struct client *c, struct kdf_job *j,
    struct buf *out, uint64_t *durable_seq)
{
	struct ctx	x = { .t = t, .c = c, .out = out };
	char		what[96];

	*durable_seq = 0;
	x.now = (uint64_t)time(NULL);
	if (!j->ok && j->kind == KDF_LOGIN) {
		snprintf(what, sizeof(what), "failed login as %s", j->user);
		log_client(&x, what, NULL);
	}
	if (!j->ok)
		reply_err(&x, j->kind == KDF_LOGIN ? "invalid_credentials" :
		    "internal", j->kind == KDF_LOGIN ?
		    "wrong user name or password" : "password hashing failed");
	else if (journal_begin(t) == -1) {
		log_warnx("%s: %s", j->kind == KDF_LOGIN ? "login" :
		    "create_user", t->err);
		reply_err(&x, "internal", "the tracker state is unavailable");
	} else {
		if (j->kind == KDF_CREATE)
			finish_create(&x, j);
		else
			finish_login(&x, j);
		journal_end(t);
	}
	if (x.seq != 0 && t->cfg.sync == SYNC_ALWAYS)
		*durable_seq = x.seq;
	kdf_job_free(j);
	buf_printf(out, "%s\n", PROTO_END);
}
