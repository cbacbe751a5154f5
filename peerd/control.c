/* The control socket sharectl talks to: a Unix stream socket for this uid
 * only, one request line at a time per connection, answered by records. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/ctl.h"
#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/ev.h"
#include "peerd/peerd.h"
#include "peerd/ratelimit.h"

#define MAX_CLIENTS	256
#define MAX_OUT		(32u << 20)	/* a reply bigger than this is cut */
#define IDLE_MS		30000		/* between requests */
#define PROGRESS_MS	500		/* wait: progress records */
#define OUT_HIGH	(64u << 10)	/* answers not read: stop reading
					 * requests until they are */

struct client {
	int			 fd;
	struct buf		 in, out;
	int			 busy;		/* a request is being served */
	int			 dead;		/* connection gone */
	int			 refs;		/* callbacks still to come */
	int			 rdhup;		/* peer sent everything */
	int			 close_after;	/* close once out is flushed */
	int			 waiting;	/* download_wait pending */
	unsigned		 wait_seq;	/* wait requests seen */
	uint64_t		 t_idle, t_progress;
	char			 line[CTL_MAX_LINE + 1];
	struct ctl_request	 req;
	struct hash_result	*hash;		/* upload_file in progress */
};

static int	lfd = -1, nclients;

static int	c_flush(struct client *);
static void	c_next(struct client *);
static void	on_client(int fd, uint32_t events, void *arg);
static void	on_wait_done(void *, const struct dl_info *);

/* ---- connection lifetime ---- */

static void
c_free(struct client *c)
{
	ev_timer_cancel(c->t_idle);
	ev_timer_cancel(c->t_progress);
	buf_free(&c->in);
	buf_free(&c->out);
	if (c->hash != NULL) {
		free(c->hash->piece_sha1);
		free(c->hash);
	}
	explicit_bzero(c->line, sizeof(c->line));
	free(c);
	nclients--;
}

/* The connection is gone; the struct lives until its callbacks ran. */
static void
c_drop(struct client *c)
{
	if (c->fd != -1) {
		ev_del(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	c->dead = 1;
	ev_timer_cancel(c->t_progress);
	c->t_progress = 0;
	/* a wait client gone: its download may run for hours yet */
	if (c->waiting && download_unwait(on_wait_done, c) > 0) {
		c->waiting = 0;
		c->refs--;
	}
	if (c->refs == 0)
		c_free(c);
}

/* Take a reference for a callback; c_unref when it runs. Returns 1 if
 * the client is gone (the caller must not touch it then). */
static void
c_ref(struct client *c)
{
	c->refs++;
}

static int
c_unref(struct client *c)
{
	c->refs--;
	if (c->dead) {
		if (c->refs == 0)
			c_free(c);
		return 1;
	}
	return 0;
}

static void
c_events(struct client *c)
{
	uint32_t	ev = 0;

	if (c->fd == -1)
		return;
	if (!c->busy && !c->close_after) {
		if (buf_avail(&c->out) < OUT_HIGH)
			ev |= EPOLLIN;
	} else if (!c->rdhup)
		ev |= EPOLLRDHUP;
	if (buf_avail(&c->out) > 0)
		ev |= EPOLLOUT;
	ev_mod(c->fd, ev);
}

static void
on_idle(void *arg)
{
	struct client	*c = arg;

	c->t_idle = 0;
	if (c->busy || c->dead)
		return;
	log_debug("control: idle client dropped");
	c_drop(c);
}

/* Send what we can. -1 if the connection was dropped: c may be freed,
 * the caller must not touch it. */
static int
c_flush(struct client *c)
{
	if (c->fd != -1 && buf_avail(&c->out) > 0 &&
	    buf_send(c->fd, &c->out, 0) == -1) {
		c_drop(c);
		return -1;
	}
	if (c->close_after && buf_avail(&c->out) == 0) {
		c_drop(c);
		return -1;
	}
	c_events(c);
	return 0;
}

/* ---- replies ---- */

static void
put_record(struct client *c, char kind, const char *const kv[])
{
	if (c->dead)
		return;
	if (ctl_put_record(&c->out, kind, kv) == -1) {
		log_warnx("control: reply too long, connection closed");
		c->close_after = 1;
	}
}

/* End the current request; serve the next one already received. */
static void
reply_status(struct client *c, int code, const char *msg)
{
	if (c->dead)
		return;
	if (ctl_put_status(&c->out, code, msg) == -1)
		c->close_after = 1;
	c->busy = 0;
	explicit_bzero(c->line, sizeof(c->line));
	if (c->rdhup)
		c->close_after = 1;
	if (c_flush(c) == -1 || c->dead || c->close_after)
		return;
	ev_timer_cancel(c->t_idle);
	c->t_idle = ev_timer(IDLE_MS, on_idle, c);
	c_next(c);
}

static void
reply_message(struct client *c, const char *msg)
{
	const char	*kv[] = { "message", msg, NULL };

	put_record(c, 'R', kv);
	reply_status(c, CTL_OK, "");
}

static void
reply_errorf(struct client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_errorf(struct client *c, int code, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_status(c, code, msg);
}

/*
 * Turn a tracker refusal or an unreachable tracker into the reply; 1 if
 * it was one (the request is over), 0 for an OK answer.
 */
static int
tracker_failed(struct client *c, const struct treply *r)
{
	switch (r->kind) {
	case TREPLY_OK:
		return 0;
	case TREPLY_NONE:
		reply_status(c, CTL_UNAVAIL, tproto_message(r));
		return 1;
	case TREPLY_ERR:
		break;
	}
	reply_errorf(c, CTL_FAIL, "%s", tproto_message(r));
	return 1;
}

/* ---- handlers ---- */

/* The request forwarded to the tracker word for word; on OK, done(). */
typedef void	ok_fn(struct client *, const struct treply *);

struct fwd {
	struct client	*c;
	ok_fn		*done;
};

static void
on_forwarded(void *arg, const struct treply *r)
{
	struct fwd	*f = arg;
	struct client	*c = f->c;
	ok_fn		*done = f->done;

	free(f);
	if (c_unref(c))
		return;
	if (tracker_failed(c, r))
		return;
	done(c, r);
}

static void
forward(struct client *c, ok_fn *done)
{
	struct buf	 b;
	struct fwd	*f;

	buf_init(&b, CTL_MAX_LINE);
	if ((f = malloc(sizeof(*f))) == NULL || tproto_words(&b,
	    c->req.cmd->name, c->req.argv, c->req.argc) == -1 ||
	    buf_append(&b, "", 1) == -1) {
		free(f);
		buf_free(&b);
		reply_status(c, CTL_FAIL, "out of memory");
		return;
	}
	f->c = c;
	f->done = done;
	c_ref(c);
	if (tracker_send(buf_head(&b), on_forwarded, f) == -1) {
		free(f);
		c_unref(c);
		reply_status(c, CTL_FAIL, "out of memory");
	}
	explicit_bzero(b.data, b.cap);
	buf_free(&b);
}

static void
done_message(struct client *c, const struct treply *r)
{
	const char	*cmd = c->req.cmd->name;
	char		 msg[256];
	char *const	*a = c->req.argv;

	if (strcmp(cmd, "create_user") == 0)
		snprintf(msg, sizeof(msg), "created user %s", a[0]);
	else if (strcmp(cmd, "create_group") == 0)
		snprintf(msg, sizeof(msg), "created group %s", a[0]);
	else if (strcmp(cmd, "join_group") == 0)
		snprintf(msg, sizeof(msg), "asked to join group %s", a[0]);
	else if (strcmp(cmd, "accept_request") == 0)
		snprintf(msg, sizeof(msg), "%s joined group %s", a[1], a[0]);
	else if (strcmp(cmd, "reject_request") == 0)
		snprintf(msg, sizeof(msg), "request of %s to join %s rejected",
		    a[1], a[0]);
	else
		snprintf(msg, sizeof(msg), "ok");
	reply_message(c, msg);
}

static void
done_leave(struct client *c, const struct treply *r)
{
	struct share	*s, *next;
	const char	*group = c->req.argv[0];
	char		 msg[128];

	for (s = store_shares(); s != NULL; s = next) {
		next = s->next;
		if (strcmp(s->group, group) == 0 &&
		    (s->user[0] == '\0' || strcmp(s->user, tracker_user()) == 0))
			store_remove_share(s->group, s->name);
	}
	download_stop_group(group);
	snprintf(msg, sizeof(msg), "left group %s", group);
	reply_message(c, msg);
}

static void
done_stop_share(struct client *c, const struct treply *r)
{
	char	msg[256];

	store_remove_share(c->req.argv[0], c->req.argv[1]);
	snprintf(msg, sizeof(msg), "stopped sharing %s in group %s",
	    c->req.argv[1], c->req.argv[0]);
	reply_message(c, msg);
}

/* List answers: one record per row, the row's words as fields. */
struct list_keys {
	struct client	 *c;
	const char	**keys;
	int		  nkeys;
};

static void
list_row(void *arg, char **w, int n)
{
	struct list_keys	*lk = arg;
	const char		*kv[2 * 4 + 1];
	int			 i;

	for (i = 0; i < lk->nkeys; i++) {
		kv[2 * i] = lk->keys[i];
		kv[2 * i + 1] = i < n ? w[i] : "";
	}
	kv[2 * lk->nkeys] = NULL;
	put_record(lk->c, 'R', kv);
}

static void
done_list(struct client *c, const struct treply *r)
{
	static const char *groups[] = { "group", "owner" };
	static const char *files[] = { "file", "size", "sha1", "seeders" };
	static const char *users[] = { "user" };
	struct list_keys	 lk = { c, users, 1 };
	const char		*cmd = c->req.cmd->name;

	if (strcmp(cmd, "list_groups") == 0)
		lk.keys = groups, lk.nkeys = 2;
	else if (strcmp(cmd, "list_files") == 0)
		lk.keys = files, lk.nkeys = 4;
	if (tproto_rows(r, lk.nkeys, list_row, &lk) == -1) {
		reply_status(c, CTL_FAIL, "out of memory");
		return;
	}
	reply_status(c, CTL_OK, "");
}

static void
on_login(void *arg, const struct treply *r)
{
	struct client	*c = arg;
	char		 msg[128];

	if (c_unref(c))
		return;
	if (tracker_failed(c, r))
		return;
	snprintf(msg, sizeof(msg), "logged in as %s", c->req.argv[0]);
	reply_message(c, msg);
}

static void
h_login(struct client *c)
{
	c_ref(c);
	if (tracker_login(c->req.argv[0], c->req.argv[1], on_login, c) == -1) {
		c_unref(c);
		reply_status(c, CTL_FAIL, "out of memory");
	}
}

static void
on_logout(void *arg, const struct treply *r)
{
	struct client	*c = arg;

	if (r->kind == TREPLY_OK) {
		announce_logged_out();
		download_pause_all();
	}
	if (c_unref(c))
		return;
	if (tracker_failed(c, r))
		return;
	reply_message(c, "logged out");
}

static void
h_logout(struct client *c)
{
	c_ref(c);
	if (tracker_logout(on_logout, c) == -1) {
		c_unref(c);
		reply_status(c, CTL_FAIL, "out of memory");
	}
}

static void
h_forward(struct client *c)
{
	const char	*cmd = c->req.cmd->name;

	if (c->req.cmd->list)
		forward(c, done_list);
	else if (strcmp(cmd, "leave_group") == 0)
		forward(c, done_leave);
	else
		forward(c, done_message);
}

static void
h_stop_share(struct client *c)
{
	struct buf	 b;
	struct fwd	*f;

	buf_init(&b, CTL_MAX_LINE);
	if ((f = malloc(sizeof(*f))) == NULL ||
	    tproto_stop_share(&b, c->req.argv[0], c->req.argv[1],
	    peer_advertised()) == -1) {
		free(f);
		buf_free(&b);
		reply_status(c, CTL_FAIL, "out of memory");
		return;
	}
	f->c = c;
	f->done = done_stop_share;
	c_ref(c);
	if (tracker_send(buf_head(&b), on_forwarded, f) == -1) {
		free(f);
		c_unref(c);
		reply_status(c, CTL_FAIL, "out of memory");
	}
	buf_free(&b);
}

/* upload_file: hash off the loop, register, then record the share. */
static void
on_uploaded(void *arg, const struct treply *r)
{
	struct client		*c = arg;
	struct hash_result	*h = c->hash;
	struct share		 s, *added;
	const char		*path = c->req.argv[0], *name;
	char			 size[32], hex[SHA1_HEX_LEN + 1];

	if (c_unref(c))
		return;
	if (tracker_failed(c, r))
		return;
	name = strrchr(path, '/') + 1;
	memset(&s, 0, sizeof(s));
	strlcpy(s.group, c->req.argv[1], sizeof(s.group));
	strlcpy(s.name, name, sizeof(s.name));
	strlcpy(s.path, path, sizeof(s.path));
	strlcpy(s.user, tracker_user(), sizeof(s.user));
	s.size = h->size;
	s.mtime_ns = h->mtime_ns;
	memcpy(s.sha1, h->sha1, SHA1_LEN);
	s.npieces = h->npieces;
	s.piece_sha1 = h->piece_sha1;
	s.fd = -1;
	if ((added = store_add_share(&s)) == NULL) {
		reply_status(c, CTL_FAIL, "cannot record the share in the "
		    "state directory (see peerd's log)");
		return;
	}
	announce_registered(added);
	h->piece_sha1 = NULL;	/* the store owns them now */
	snprintf(size, sizeof(size), "%llu", (unsigned long long)h->size);
	sha1_to_hex(h->sha1, hex);
	{
		const char *kv[] = { "group", s.group, "file", s.name,
		    "size", size, "sha1", hex, NULL };
		put_record(c, 'R', kv);
	}
	reply_status(c, CTL_OK, "");
}

static void
on_hashed(void *arg, struct hash_result *h)
{
	struct client	*c = arg;
	struct buf	 b;
	const char	*path = c->req.argv[0];

	if (c->hash != NULL) {
		free(c->hash->piece_sha1);
		free(c->hash);
	}
	c->hash = h;
	if (c_unref(c))
		return;
	if (h->error != 0) {
		reply_errorf(c, CTL_FAIL, "%s: %s", path, strerror(h->error));
		return;
	}
	if (!tracker_logged_in()) {
		reply_status(c, CTL_FAIL, "not logged in");
		return;
	}
	buf_init(&b, (size_t)h->npieces * (SHA1_HEX_LEN + 1) + 1024);
	if (tproto_upload(&b, c->req.argv[1], strrchr(path, '/') + 1, h->size,
	    peer_advertised(), h->sha1, h->npieces, h->piece_sha1) == -1) {
		buf_free(&b);
		reply_status(c, CTL_FAIL, "file too large");
		return;
	}
	c_ref(c);
	if (tracker_send(buf_head(&b), on_uploaded, c) == -1) {
		c_unref(c);
		reply_status(c, CTL_FAIL, "out of memory");
	}
	buf_free(&b);
}

static void
h_upload(struct client *c)
{
	struct stat	st;
	const char	*path = c->req.argv[0];

	if (stat(path, &st) == -1) {
		reply_errorf(c, CTL_FAIL, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		reply_errorf(c, CTL_FAIL, "%s: not a regular file", path);
		return;
	}
	if ((uint64_t)st.st_size > MAX_FILE_SIZE_DEFAULT) {
		reply_errorf(c, CTL_FAIL, "%s: larger than 64 GiB", path);
		return;
	}
	c_ref(c);
	if (hash_file_async(path, on_hashed, c) == -1) {
		c_unref(c);
		reply_errorf(c, CTL_FAIL, "%s: %s", path, strerror(errno));
	}
}

static void
on_dl_started(void *arg, enum dl_start st, const char *err)
{
	struct client	*c = arg;
	char		 dest[PATH_MAX + NAME_MAX_LEN + 2];

	if (c_unref(c))
		return;
	if (st != DL_STARTED) {
		reply_status(c, st == DL_NO_TRACKER ? CTL_UNAVAIL : CTL_FAIL,
		    err ? err : "download failed");
		return;
	}
	snprintf(dest, sizeof(dest), "%s/%s", strcmp(c->req.argv[2], "/") ?
	    c->req.argv[2] : "", c->req.argv[1]);
	{
		const char *kv[] = { "group", c->req.argv[0], "file",
		    c->req.argv[1], "destination", dest, NULL };
		put_record(c, 'R', kv);
	}
	reply_status(c, CTL_OK, "");
}

static void
h_download(struct client *c)
{
	c_ref(c);
	download_start(c->req.argv[0], c->req.argv[1], c->req.argv[2],
	    on_dl_started, c);
}

static const char *
state_name(const struct dl_info *d)
{
	switch (d->state) {
	case DL_RUNNING:
		return d->stalled ? "stalled" : "downloading";
	case DL_COMPLETE:
		return "complete";
	case DL_FAILED:
		return "failed";
	case DL_PAUSED:
		return "paused";
	case DL_QUEUED:
		return "queued";
	}
	return "unknown";
}

/* Seconds left at the current rate; "" when unknown. */
static void
eta(const struct dl_info *d, char *out, size_t outlen)
{
	out[0] = '\0';
	if (d->state == DL_COMPLETE)
		snprintf(out, outlen, "0");
	else if (d->state == DL_RUNNING && d->bytes_per_second > 0 &&
	    d->bytes_total >= d->bytes_done)
		snprintf(out, outlen, "%llu", (unsigned long long)
		    ((d->bytes_total - d->bytes_done + d->bytes_per_second - 1) /
		    d->bytes_per_second));
}

static void
put_download(struct client *c, char kind, const struct dl_info *d)
{
	char	n[8][24];
	const char *kv[] = { "state", state_name(d), "group", d->group,
	    "file", d->name, "destination", d->dest, "bytes_done", n[0],
	    "bytes_total", n[1], "pieces_done", n[2], "pieces_total", n[3],
	    "bytes_per_second", n[4], "seeders", n[5], "eta_seconds", n[6],
	    "finished_at", n[7],
	    d->error[0] || d->state == DL_FAILED ? "error" : NULL, d->error,
	    NULL };

	snprintf(n[0], sizeof(n[0]), "%llu", (unsigned long long)d->bytes_done);
	snprintf(n[1], sizeof(n[1]), "%llu", (unsigned long long)d->bytes_total);
	snprintf(n[2], sizeof(n[2]), "%u", d->pieces_done);
	snprintf(n[3], sizeof(n[3]), "%u", d->pieces_total);
	snprintf(n[4], sizeof(n[4]), "%llu",
	    (unsigned long long)d->bytes_per_second);
	snprintf(n[5], sizeof(n[5]), "%u", d->seeders);
	eta(d, n[6], sizeof(n[6]));
	snprintf(n[7], sizeof(n[7]), "%llu",
	    (unsigned long long)d->finished_at);
	put_record(c, kind, kv);
}

static void
each_download(void *arg, const struct dl_info *d)
{
	put_download(arg, 'R', d);
}

static void
h_show_downloads(struct client *c)
{
	download_foreach(each_download, c);
	reply_status(c, CTL_OK, "");
}

/* wait: progress records until the download completes or fails. */
struct find_dl {
	struct client	*c;
	struct dl_info	 last;
	int		 found;
};

static void
find_download(void *arg, const struct dl_info *d)
{
	struct find_dl	*f = arg;

	if (strcmp(d->group, f->c->req.argv[0]) == 0 &&
	    strcmp(d->name, f->c->req.argv[1]) == 0) {
		f->last = *d;
		f->found = 1;
	}
}

static void
on_progress(void *arg)
{
	struct client	*c = arg;
	struct find_dl	 f;

	c->t_progress = 0;
	if (c->dead || !c->waiting)
		return;
	memset(&f, 0, sizeof(f));
	f.c = c;
	download_foreach(find_download, &f);
	if (f.found) {
		put_download(c, 'P', &f.last);
		if (c_flush(c) == -1)
			return;
	}
	c->t_progress = ev_timer(PROGRESS_MS, on_progress, c);
}

static void
on_wait_done(void *arg, const struct dl_info *d)
{
	struct client	*c = arg;

	c->waiting = 0;
	if (c_unref(c))
		return;
	ev_timer_cancel(c->t_progress);
	c->t_progress = 0;
	put_download(c, 'R', d);
	if (d->state == DL_COMPLETE)
		reply_status(c, CTL_OK, "");
	else if (d->state == DL_RUNNING && d->stalled)
		reply_errorf(c, CTL_FAIL, "download of %s stalled (still "
		    "retrying): %s", d->name, d->error);
	else
		reply_errorf(c, CTL_FAIL, "download of %s failed: %s", d->name,
		    d->error[0] ? d->error : "unknown error");
}

static void
h_wait(struct client *c)
{
	int		r;
	unsigned	seq = ++c->wait_seq;

	c_ref(c);		/* held across a callback run at once */
	c_ref(c);		/* for on_wait_done */
	c->waiting = 1;
	r = download_wait(c->req.argv[0], c->req.argv[1], on_wait_done, c);
	if (r == -1) {
		c->waiting = 0;
		c->refs--;
	}
	if (c_unref(c))
		return;
	if (r == -1)
		reply_errorf(c, CTL_FAIL, "no download of %s in group %s",
		    c->req.argv[1], c->req.argv[0]);
	else if (c->waiting && c->wait_seq == seq) {
		/* at once, then every PROGRESS_MS; when this wait ended at
		 * once, a pipelined wait run meanwhile owns c->waiting and
		 * has its own timer already */
		ev_timer_cancel(c->t_progress);
		on_progress(c);
	}
}

/* ---- control of downloads, shares and limits ---- */

static void
h_show_download(struct client *c)
{
	struct dl_info	d;

	if (download_get(c->req.argv[0], c->req.argv[1], &d) == -1) {
		reply_errorf(c, CTL_FAIL, "no download of %s in group %s",
		    c->req.argv[1], c->req.argv[0]);
		return;
	}
	put_download(c, 'R', &d);
	reply_status(c, CTL_OK, "");
}

/* pause_download, resume_download, cancel_download. */
static void
h_control(struct client *c)
{
	const char	*cmd = c->req.cmd->name, *g = c->req.argv[0];
	const char	*f = c->req.argv[1];
	char		 err[512], msg[256];
	int		 r;

	if (strcmp(cmd, "pause_download") == 0)
		r = download_pause(g, f, err, sizeof(err));
	else if (strcmp(cmd, "resume_download") == 0)
		r = download_resume(g, f, err, sizeof(err));
	else
		r = download_cancel(g, f, c->req.argc == 3, err, sizeof(err));
	if (r == -1) {
		reply_status(c, CTL_FAIL, err);
		return;
	}
	snprintf(msg, sizeof(msg), "%s %s in group %s",
	    strcmp(cmd, "pause_download") == 0 ? "paused" :
	    strcmp(cmd, "resume_download") == 0 ? "resumed" :
	    c->req.argc == 3 ? "cancelled (progress kept)" : "cancelled",
	    f, g);
	reply_message(c, msg);
}

static void
each_finished(void *arg, const struct dl_info *d)
{
	if (d->state == DL_COMPLETE || d->state == DL_FAILED)
		put_download(arg, 'R', d);
}

static void
h_show_history(struct client *c)
{
	download_foreach(each_finished, c);
	reply_status(c, CTL_OK, "");
}

static void
h_clear_history(struct client *c)
{
	char	msg[64];
	int	n = download_clear_history();

	snprintf(msg, sizeof(msg), "%d download%s forgotten", n,
	    n == 1 ? "" : "s");
	reply_message(c, msg);
}

static void
h_show_shares(struct client *c)
{
	struct share	*s;
	char		 n[3][24];

	for (s = store_shares(); s != NULL; s = s->next) {
		const char *kv[] = { "group", s->group, "file", s->name,
		    "size", n[0], "listed", s->announced && !s->stale ?
		    "yes" : "no", "uploaded", n[1], "peers_served", n[2],
		    "path", s->path, NULL };

		snprintf(n[0], sizeof(n[0]), "%llu",
		    (unsigned long long)s->size);
		snprintf(n[1], sizeof(n[1]), "%llu",
		    (unsigned long long)s->uploaded);
		snprintf(n[2], sizeof(n[2]), "%llu",
		    (unsigned long long)s->peers_served);
		put_record(c, 'R', kv);
	}
	reply_status(c, CTL_OK, "");
}

static void
count_states(void *arg, const struct dl_info *d)
{
	int	*n = arg;

	n[0] += d->state == DL_RUNNING;
	n[1] += d->state == DL_QUEUED;
}

static void
h_show_limits(struct client *c)
{
	char		 v[7][24];
	int		 n[2] = { 0, 0 };
	uint64_t	 now = ev_now_ms();
	const char	*kv[] = { "upload_rate", v[0], "download_rate", v[1],
	    "max_active", v[2], "upload_bytes_per_second", v[3],
	    "download_bytes_per_second", v[4], "active", v[5], "queued", v[6],
	    NULL };

	download_foreach(count_states, n);
	snprintf(v[0], sizeof(v[0]), "%llu", (unsigned long long)rl_up.rate);
	snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)rl_down.rate);
	snprintf(v[2], sizeof(v[2]), "%d", conf.max_active);
	snprintf(v[3], sizeof(v[3]), "%llu",
	    (unsigned long long)rl_measured(&rl_up, now));
	snprintf(v[4], sizeof(v[4]), "%llu",
	    (unsigned long long)rl_measured(&rl_down, now));
	snprintf(v[5], sizeof(v[5]), "%d", n[0]);
	snprintf(v[6], sizeof(v[6]), "%d", n[1]);
	put_record(c, 'R', kv);
	reply_status(c, CTL_OK, "");
}

static void
h_set_limit(struct client *c)
{
	const char	*what = c->req.argv[0];
	uint64_t	 v;
	char		 msg[128];

	if (ctl_parse_amount(c->req.argv[1], &v) == -1 ||
	    (strcmp(what, "max_active") == 0 && v > 10000)) {
		reply_status(c, CTL_USAGE, "bad value");
		return;
	}
	if (strcmp(what, "upload_rate") == 0)
		rl_set(&rl_up, v, ev_now_ms());
	else if (strcmp(what, "download_rate") == 0)
		rl_set(&rl_down, v, ev_now_ms());
	else {
		conf.max_active = (int)v;
		download_queue_changed();
	}
	log_info("control: %s set to %llu", what, (unsigned long long)v);
	snprintf(msg, sizeof(msg), "%s %llu%s", what, (unsigned long long)v,
	    v == 0 ? " (unlimited)" : "");
	reply_message(c, msg);
}

static const struct {
	const char	*name;
	void		(*fn)(struct client *);
} handlers[] = {
	{ "show_download",	h_show_download },
	{ "pause_download",	h_control },
	{ "resume_download",	h_control },
	{ "cancel_download",	h_control },
	{ "show_history",	h_show_history },
	{ "clear_history",	h_clear_history },
	{ "show_shares",	h_show_shares },
	{ "show_limits",	h_show_limits },
	{ "set_limit",		h_set_limit },
	{ "login",		h_login },
	{ "logout",		h_logout },
	{ "upload_file",	h_upload },
	{ "download_file",	h_download },
	{ "show_downloads",	h_show_downloads },
	{ "stop_share",		h_stop_share },
	{ "wait",		h_wait },
};

static void
dispatch(struct client *c)
{
	size_t	i;

	if (c->req.cmd->session && !tracker_logged_in()) {
		reply_status(c, CTL_FAIL, "not logged in (sharectl login USER "
		    "PASSWORD)");
		return;
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].name, c->req.cmd->name) == 0) {
			handlers[i].fn(c);
			return;
		}
	h_forward(c);
}

/* ---- reading requests ---- */

/* Serve the next complete request line in c->in, if any. */
static void
c_next(struct client *c)
{
	char	*line, err[256];
	size_t	 len;
	int	 r, code;

	if (c->busy || c->dead || c->close_after)
		return;
	if (buf_avail(&c->out) >= OUT_HIGH) {
		c_events(c);	/* on_client goes on once it is read */
		return;
	}
	r = buf_avail(&c->in) == 0 ? 0 :
	    buf_getline(&c->in, CTL_MAX_LINE, &line, &len);
	if (r == 0) {
		c_events(c);
		return;
	}
	c->busy = 1;
	ev_timer_cancel(c->t_idle);
	c->t_idle = 0;
	if (r == -1) {
		c->close_after = 1;
		reply_status(c, CTL_USAGE, "request too long");
		return;
	}
	memcpy(c->line, line, len + 1);
	explicit_bzero(line, len);
	if ((code = ctl_parse_request(c->line, &c->req, err,
	    sizeof(err))) != 0) {
		reply_status(c, code, err);
		return;
	}
	if (strcmp(c->req.cmd->name, "login") != 0 &&
	    strcmp(c->req.cmd->name, "create_user") != 0)
		log_debug("control: %s", c->req.cmd->name);
	c_events(c);
	dispatch(c);
}

static void
c_read(struct client *c)
{
	ssize_t	n;

	if (buf_reserve(&c->in, 4096) == -1 && buf_reserve(&c->in, 1) == -1) {
		c->close_after = 1;
		c->busy = 1;
		reply_status(c, CTL_USAGE, "request too long");
		return;
	}
	n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c_drop(c);
		return;
	}
	c->in.len += (size_t)n;
	c_next(c);
}

static void
on_client(int fd, uint32_t events, void *arg)
{
	struct client	*c = arg;

	if (events & (EPOLLHUP | EPOLLERR)) {
		c_drop(c);
		return;
	}
	if ((events & EPOLLRDHUP) && c->busy) {
		c->rdhup = 1;	/* answer, then close */
		c_events(c);
	}
	if ((events & EPOLLOUT) && buf_avail(&c->out) > 0) {
		if (c_flush(c) == -1)
			return;
		if (!c->busy && buf_avail(&c->in) > 0 &&
		    buf_avail(&c->out) < OUT_HIGH) {
			c_next(c);	/* requests held back by unread answers */
			return;
		}
	}
	if ((events & EPOLLIN) && !c->busy)
		c_read(c);
}

static int
peer_allowed(int fd)
{
	struct ucred	cred;
	socklen_t	len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		return 0;
	}
	if (cred.uid != getuid()) {
		log_warnx("control: connection from uid %u (pid %d) refused",
		    (unsigned)cred.uid, (int)cred.pid);
		return 0;
	}
	return 1;
}

static void
on_accept(int fd, uint32_t events, void *arg)
{
	static const char denied[] =
	    "S\t1\tpermission denied: this peerd belongs to another user\n";
	struct client	*c;
	int		 cfd;

	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (!peer_allowed(cfd)) {
			(void)send(cfd, denied, sizeof(denied) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(cfd);
			continue;
		}
		if (nclients >= MAX_CLIENTS || (c = calloc(1, sizeof(*c))) ==
		    NULL) {
			log_warnx("control: too many clients");
			close(cfd);
			continue;
		}
		nclients++;
		c->fd = cfd;
		buf_init(&c->in, CTL_MAX_LINE + 2);
		buf_init(&c->out, MAX_OUT);
		if (ev_add(cfd, EPOLLIN, on_client, c) == -1) {
			close(cfd);
			c->fd = -1;
			c_free(c);
			continue;
		}
		c->t_idle = ev_timer(IDLE_MS, on_idle, c);
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("control: accept");
}

/* ---- the socket ---- */

/* 1 if a peerd answers on path, 0 if the file is stale or absent. */
static int
socket_live(const struct sockaddr_un *sun)
{
	int	fd, live;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	return live;
}

int
control_init(void)
{
	struct sockaddr_un	sun;
	mode_t			old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf.socket_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("socket path too long: %s", conf.socket_path);
		return -1;
	}
	if (socket_live(&sun)) {
		log_warnx("peerd already running (socket %s)", conf.socket_path);
		return -1;
	}
	if (unlink(conf.socket_path) == 0)
		log_info("removed stale socket %s", conf.socket_path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return -1;
	}
	old = umask(0077);
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("bind %s", conf.socket_path);
		goto fail;
	}
	umask(old);
	if (chmod(conf.socket_path, 0600) == -1 || listen(lfd, 64) == -1 ||
	    ev_add(lfd, EPOLLIN, on_accept, NULL) == -1) {
		log_warn("listen %s", conf.socket_path);
		unlink(conf.socket_path);
		goto fail;
	}
	return 0;
fail:
	close(lfd);
	lfd = -1;
	return -1;
}

void
control_shutdown(void)
{
	if (lfd == -1)
		return;
	ev_del(lfd);
	close(lfd);
	lfd = -1;
	unlink(conf.socket_path);
}
