/* Shares that survive a restart: one small text file per share in
 * state_dir/shares, written atomically, loaded at start. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/pieces.h"
#include "ipc/util.h"
#include "peerd/record.h"
#include "peerd/peerd.h"

#define STORE_MAGIC	"p2pshare-share 1"
#define STORE_MAX_FILE	(16u << 20)	/* 64 GiB of piece hashes fit */

static struct share	*shares;
static void		 stats_load(void);
static void		(*changed_hook)(struct share *);
static char		 dir[PATH_MAX];

void
store_on_changed(void (*fn)(struct share *))
{
	changed_hook = fn;
}

struct share *
store_shares(void)
{
	return shares;
}

static int
share_file(const struct share *s, char *out, size_t outlen)
{
	int	n = snprintf(out, outlen, "%s/%s:%s", dir, s->group, s->name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void
share_free(struct share *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->piece_sha1);
	free(s);
}

/* ---- encoding: "key value" lines, then one hex piece hash per line ---- */

static int
encode(const struct share *s, struct buf *b)
{
	char		hex[SHA1_HEX_LEN + 1];

	sha1_to_hex(s->sha1, hex);
	if (buf_printf(b, "%s\ngroup %s\nname %s\nuser %s\npath %s\nsize %llu\n"
	    "mtime_ns %lld\nsha1 %s\npieces %u\n", STORE_MAGIC, s->group,
	    s->name, s->user, s->path, (unsigned long long)s->size,
	    (long long)s->mtime_ns, hex, s->npieces) == -1)
		return -1;
	return rec_put_hashes(b, s->piece_sha1, s->npieces, NULL);
}

static int
decode_header(char **p, struct share *s)
{
	char		*v;
	uint64_t	 n;

	if ((v = rec_line(p)) == NULL || strcmp(v, STORE_MAGIC) != 0)
		return -1;
	if ((v = rec_field(rec_line(p), "group")) == NULL || !name_valid(v))
		return -1;
	strlcpy(s->group, v, sizeof(s->group));
	if ((v = rec_field(rec_line(p), "name")) == NULL || !name_valid(v))
		return -1;
	strlcpy(s->name, v, sizeof(s->name));
	if ((v = rec_field(rec_line(p), "user")) == NULL ||
	    (*v != '\0' && !name_valid(v)))
		return -1;
	strlcpy(s->user, v, sizeof(s->user));
	if ((v = rec_field(rec_line(p), "path")) == NULL || *v != '/' ||
	    strlcpy(s->path, v, sizeof(s->path)) >= sizeof(s->path))
		return -1;
	if ((v = rec_field(rec_line(p), "size")) == NULL ||
	    parse_u64(v, 0, UINT64_MAX / 2, &s->size) == -1)
		return -1;
	if ((v = rec_field(rec_line(p), "mtime_ns")) == NULL ||
	    parse_u64(v, 0, INT64_MAX, &n) == -1)
		return -1;
	s->mtime_ns = (int64_t)n;
	if ((v = rec_field(rec_line(p), "sha1")) == NULL ||
	    hex_to_sha1(v, s->sha1) == -1)
		return -1;
	if ((v = rec_field(rec_line(p), "pieces")) == NULL ||
	    parse_u64(v, 0, UINT32_MAX, &n) == -1 || n != pieces_count(s->size))
		return -1;
	s->npieces = (uint32_t)n;
	return 0;
}

static struct share *
decode(char *text)
{
	struct share	*s;
	char		*p = text, *v;
	uint32_t	 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = -1;
	if (decode_header(&p, s) == -1)
		goto fail;
	if (s->npieces > 0 &&
	    (s->piece_sha1 = calloc(s->npieces, SHA1_LEN)) == NULL)
		goto fail;
	for (i = 0; i < s->npieces; i++)
		if ((v = rec_line(&p)) == NULL ||
		    hex_to_sha1(v, s->piece_sha1[i]) == -1)
			goto fail;
	if (*p != '\0')
		goto fail;
	return s;
fail:
	share_free(s);
	return NULL;
}

/* ---- loading ---- */

static struct share *
load_one(const char *name)
{
	char		 path[PATH_MAX * 2];
	struct share	*s = NULL;
	char		*text;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((text = read_small_file(path, STORE_MAX_FILE, NULL)) == NULL &&
	    (errno == ENOENT || errno == EACCES || errno == ELOOP)) {
		log_warn("open %s", path);
		return NULL;
	}
	if (text != NULL)
		s = decode(text);
	if (s == NULL)
		log_warnx("%s: not a valid share record, ignored", path);
	free(text);
	return s;
}

int
store_init(void)
{
	DIR		*d;
	struct dirent	*e;
	struct share	*s;
	int		 n = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/shares", conf.state_dir) >=
	    sizeof(dir)) {
		log_warnx("state directory path too long");
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("opendir %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') == NULL)
			continue;	/* also leftover temporary files */
		if ((s = load_one(e->d_name)) == NULL)
			continue;
		s->next = shares;
		shares = s;
		n++;
	}
	closedir(d);
	log_debug("%d share%s loaded from %s", n, n == 1 ? "" : "s", dir);
	stats_load();
	return 0;
}

/* ---- changes ---- */

static int
persist(const struct share *s)
{
	struct buf	b;
	char		path[PATH_MAX];
	int		r = -1;

	if (share_file(s, path, sizeof(path)) == -1)
		return -1;
	buf_init(&b, STORE_MAX_FILE);
	if (encode(s, &b) == 0)
		r = write_file_atomic(path, buf_head(&b), buf_avail(&b));
	buf_free(&b);
	return r;
}

struct share *
store_find_share(const char *group, const char *name)
{
	struct share	*s;

	for (s = shares; s != NULL; s = s->next)
		if (strcmp(s->group, group) == 0 && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static void
unlink_share(struct share *s)
{
	struct share	**pp;

	for (pp = &shares; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

struct share *
store_add_share(const struct share *in)
{
	struct share	*s, *old;

	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	*s = *in;
	s->fd = -1;
	if (persist(s) == -1) {
		free(s);
		return NULL;	/* the caller still owns the hashes */
	}
	if ((old = store_find_share(s->group, s->name)) != NULL) {
		unlink_share(old);
		share_free(old);
	}
	s->next = shares;
	shares = s;
	return s;
}

int
store_remove_share(const char *group, const char *name)
{
	struct share	*s = store_find_share(group, name);
	char		 path[PATH_MAX];

	if (s == NULL)
		return -1;
	if (share_file(s, path, sizeof(path)) == 0 && unlink(path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", path);
	unlink_share(s);
	share_free(s);
	return 0;
}

/* ---- lookups for the piece server ---- */

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Its file changed: say so once, and stop offering it to other peers. */
static void
withdraw(struct share *s)
{
	s->stale = 1;
	log_warnx("share %s/%s: %s changed on disk since it was hashed (size "
	    "or mtime): no longer served", s->group, s->name, s->path);
	if (changed_hook != NULL)
		changed_hook(s);
}

/*
 * 1 if the share's file is still what was hashed. The fd is cached for
 * sendfile; a file replaced under the same path (another inode) is
 * reopened, and one changed (size, mtime) is refused.
 */
static int
share_intact(struct share *s)
{
	struct stat	st, pst;

	if (stat(s->path, &pst) == -1) {
		log_warn("share %s/%s: %s", s->group, s->name, s->path);
		return 0;
	}
	if (s->fd != -1 && (fstat(s->fd, &st) == -1 ||
	    st.st_ino != pst.st_ino || st.st_dev != pst.st_dev)) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->fd == -1 &&
	    (s->fd = open(s->path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("share %s/%s: open %s", s->group, s->name, s->path);
		return 0;
	}
	if (fstat(s->fd, &st) == -1)
		return 0;
	if ((uint64_t)st.st_size != s->size || mtime_ns(&st) != s->mtime_ns) {
		if (!s->stale)
			withdraw(s);
		return 0;
	}
	return 1;
}

int
store_share_changed(struct share *s)
{
	struct stat	st;

	if (stat(s->path, &st) == -1)
		return 1;
	return (uint64_t)st.st_size != s->size || mtime_ns(&st) != s->mtime_ns;
}

struct share *
store_share_by_hash(const uint8_t sha1[SHA1_LEN], const char *group)
{
	struct share	*s;

	for (s = shares; s != NULL; s = s->next)
		if (memcmp(s->sha1, sha1, SHA1_LEN) == 0 &&
		    (group == NULL || strcmp(s->group, group) == 0) &&
		    share_intact(s))
			return s;
	return NULL;
}

struct share *
store_share_by_name(const char *name)
{
	struct share	*s, *found = NULL;

	for (s = shares; s != NULL; s = s->next) {
		if (strcmp(s->name, name) != 0 || !share_intact(s))
			continue;
		/* Shared in two groups with other contents: answer neither. */
		if (found != NULL && memcmp(found->sha1, s->sha1, SHA1_LEN) != 0)
			return NULL;
		if (found == NULL)
			found = s;
	}
	return found;
}

void
store_count_upload(const uint8_t *sha1, const char *name, uint64_t bytes,
    int first)
{
	struct share	*s;

	for (s = shares; s != NULL; s = s->next) {
		if (s->stale || (sha1 != NULL ?
		    memcmp(s->sha1, sha1, SHA1_LEN) != 0 :
		    strcmp(s->name, name) != 0))
			continue;
		s->uploaded += bytes;
		s->peers_served += first != 0;
		return;
	}
}

/* ---- counters of what was served, kept across restarts ---- */

static int
stats_path(char *out, size_t len)
{
	return (size_t)snprintf(out, len, "%s/share_stats", conf.state_dir) <
	    len ? 0 : -1;
}

/* "GROUP\tNAME\tUPLOADED\tPEERS": the counters of that share, if any. */
static void
stats_line(char *line)
{
	char		*f[4], *p = line;
	struct share	*s;
	uint64_t	 up, peers;
	int		 n;

	for (n = 0; n < 4 && p != NULL; n++) {
		f[n] = p;
		if ((p = strchr(p, '\t')) != NULL)
			*p++ = '\0';
	}
	if (n != 4 || p != NULL || parse_u64(f[2], 0, UINT64_MAX, &up) == -1 ||
	    parse_u64(f[3], 0, UINT64_MAX, &peers) == -1 ||
	    (s = store_find_share(f[0], f[1])) == NULL)
		return;
	s->uploaded = up;
	s->peers_served = peers;
}

static void
stats_load(void)
{
	char	path[PATH_MAX], *text, *line, *nl;

	if (stats_path(path, sizeof(path)) == -1 ||
	    (text = read_small_file(path, STORE_MAX_FILE, NULL)) == NULL)
		return;
	for (line = text; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		stats_line(line);
	}
	free(text);
}

void
store_save_stats(void)
{
	struct share	*s;
	struct buf	 b;
	char		 path[PATH_MAX];

	if (stats_path(path, sizeof(path)) == -1)
		return;
	buf_init(&b, STORE_MAX_FILE);
	for (s = shares; s != NULL; s = s->next)
		if ((s->uploaded > 0 || s->peers_served > 0) &&
		    buf_printf(&b, "%s\t%s\t%llu\t%llu\n", s->group, s->name,
		    (unsigned long long)s->uploaded,
		    (unsigned long long)s->peers_served) == -1)
			break;
	if (write_file_atomic(path, buf_head(&b), buf_avail(&b)) == -1)
		log_warnx("cannot save the share counters");
	buf_free(&b);
}
