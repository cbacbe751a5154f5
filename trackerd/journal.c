/* sync_log.txt: append under flock after catching up with the other tracker,
 * group-commit sync, replay with torn-tail repair, watching and compaction. */
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/names.h"
#include "ipc/pieces.h"
#include "trackerd/commands.h"
#include "trackerd/crc32.h"
#include "trackerd/journal.h"
#include "trackerd/keys.h"
#include "trackerd/journal_etcd.h"

#define READ_CHUNK	(1u << 20)

/* What a scan of the journal found. */
struct scan {
	uint64_t	 end;		/* offset after the last good line */
	uint64_t	 lines;		/* good lines */
	uint64_t	 last_seq;
	uint64_t	 bad_line;	/* first bad line (1-based), 0 if none */
	const char	*bad_why;
	int		 torn;		/* bytes after end are no good line */
};

/* ---- line format ---- */

size_t
journal_format_line(char *out, size_t outlen, uint64_t seq, int tracker_no,
    const char *body, size_t bodylen)
{
	int		n;
	uint32_t	crc;

	n = snprintf(out, outlen, "%llu %d ", (unsigned long long)seq,
	    tracker_no);
	if (n < 0 || (size_t)n + bodylen + JOURNAL_CRC_SUFFIX + 2 > outlen)
		return 0;
	memcpy(out + n, body, bodylen);
	n += (int)bodylen;
	crc = crc32_update(0, out, (size_t)n);
	snprintf(out + n, outlen - n, " *%08x\n", crc);
	return (size_t)n + JOURNAL_CRC_SUFFIX + 1;
}

static int
parse_word_u64(const char **p, const char *end, uint64_t max, uint64_t *v)
{
	const char	*s = *p;
	uint64_t	 x = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		if (x > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s++ - '0');
	}
	if (s >= end || *s != ' ')
		return -1;
	*p = s + 1;
	*v = x;
	return 0;
}

int
journal_parse_line(const char *line, size_t len, uint64_t *seq,
    int *tracker_no, const char **body, size_t *bodylen)
{
	const char	*p = line, *end;
	uint8_t		 crcb[4];
	char		 hex[9];
	uint32_t	 want;
	uint64_t	 no;

	if (len < JOURNAL_CRC_SUFFIX + 5 || memchr(line, '\n', len) != NULL)
		return -2;
	end = line + len - JOURNAL_CRC_SUFFIX;
	if (end[0] != ' ' || end[1] != '*')
		return -2;
	memcpy(hex, end + 2, 8);
	hex[8] = '\0';
	if (hex_decode(hex, crcb, sizeof(crcb)) != 4)
		return -2;
	want = (uint32_t)crcb[0] << 24 | (uint32_t)crcb[1] << 16 |
	    (uint32_t)crcb[2] << 8 | crcb[3];
	if (crc32_update(0, line, (size_t)(end - line)) != want)
		return -1;
	if (parse_word_u64(&p, end, UINT64_MAX, seq) == -1 ||
	    parse_word_u64(&p, end, MAX_TRACKERS, &no) == -1 || no == 0 ||
	    p >= end || *p == ' ')
		return -2;
	*tracker_no = (int)no;
	*body = p;
	*bodylen = (size_t)(end - p);
	return 0;
}

/* ---- applying one change ---- */


static int
names_ok(char **argv, int from, int to)
{
	int	i;

	for (i = from; i <= to; i++)
		if (!name_valid(argv[i]))
			return 0;
	return 1;
}

static int
apply_user(struct tracker *t, char **argv, int argc, uint64_t seq)
{
	struct pw_record	pw;
	struct ipaddr		ip = { { 0 } };
	uint64_t		algo, iter, when = 0;

	/* since quotas: "<ip> <time>" of the creation follow */
	if (argc == 8 && (ipaddr_parse(argv[6], &ip) == -1 ||
	    parse_u64(argv[7], 1, UINT64_MAX, &when) == -1))
		return -1;
	if ((argc != 6 && argc != 8) || !names_ok(argv, 1, 1) ||
	    parse_u64(argv[2], 1, 255, &algo) == -1 ||
	    parse_u64(argv[3], PW_MIN_ITERATIONS, PW_MAX_ITERATIONS, &iter) ||
	    hex_decode(argv[4], pw.salt, PW_SALT_LEN) != PW_SALT_LEN ||
	    hex_decode(argv[5], pw.hash, PW_HASH_LEN) != PW_HASH_LEN)
		return -1;
	pw.algo = (uint8_t)algo;
	pw.iterations = (uint32_t)iter;
	if (state_add_user_locked(t, argv[1], &pw, seq) == -1)
		return -1;
	return when == 0 ? 0 :
	    state_note_signup_locked(t, argv[1], &ip, when);
}

static int
apply_session(struct tracker *t, char **argv, int argc)
{
	uint64_t	when;

	if (strcmp(argv[0], "logout") == 0)
		return argc == 2 && session_token_valid(argv[1]) ?
		    state_del_session_locked(t, argv[1]) : -1;
	if (strcmp(argv[0], "touch") == 0)
		return argc == 3 && session_token_valid(argv[1]) &&
		    parse_u64(argv[2], 0, UINT32_MAX, &when) == 0 ?
		    state_touch_session_locked(t, argv[1], when, 1) : -1;
	if (argc != 4 || !names_ok(argv, 1, 1) || !session_token_valid(argv[2]) ||
	    parse_u64(argv[3], 0, UINT32_MAX, &when) == -1)
		return -1;
	return state_add_session_locked(t, argv[1], argv[2], when);
}

static int
apply_membership(struct tracker *t, char **argv, int argc, uint64_t seq)
{
	const char	*op = argv[0];

	if (argc != 3 || !names_ok(argv, 1, 2))
		return -1;
	if (strcmp(op, "group") == 0)
		return state_add_group_locked(t, argv[1], argv[2], seq);
	if (strcmp(op, "join_req") == 0)
		return state_add_request_locked(t, argv[1], argv[2], seq);
	if (strcmp(op, "accept") == 0)
		return state_add_member_locked(t, argv[1], argv[2], seq, 1);
	if (strcmp(op, "member") == 0)
		return state_add_member_locked(t, argv[1], argv[2], seq, 0);
	if (strcmp(op, "reject") == 0)
		return state_del_request_locked(t, argv[1], argv[2]);
	if (strcmp(op, "leave") == 0)
		return state_leave_locked(t, argv[1], argv[2]);
	return -1;
}

static int
apply_file(struct tracker *t, char **argv, int argc)
{
	uint8_t		 sha1[SHA1_LEN], (*hashes)[SHA1_LEN] = NULL;
	uint64_t	 size, n, i;
	struct ipaddr	 ip;
	uint16_t	 port;
	int		 rc = -1;

	if (argc < 9 || !names_ok(argv, 1, 2) ||
	    parse_u64(argv[3], 0, t->cfg.max_file_size, &size) == -1 ||
	    hex_to_sha1(argv[4], sha1) == -1 ||
	    parse_u64(argv[5], 0, UINT32_MAX, &n) == -1 ||
	    n != pieces_count(size) || (uint64_t)argc != 9 + n ||
	    ipaddr_parse(argv[argc - 3], &ip) == -1 ||
	    parse_port(argv[argc - 2], &port) == -1 || !session_token_valid(argv[argc - 1]))
		return -1;
	if (n > 0 && (hashes = malloc(n * SHA1_LEN)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (hex_to_sha1(argv[6 + i], hashes[i]) == -1)
			goto done;
	rc = state_add_file_locked(t, argv[1], argv[2], size, sha1, (uint32_t)n,
	    (const uint8_t (*)[SHA1_LEN])hashes, &ip, port, argv[argc - 1]);
done:
	free(hashes);
	return rc;
}

static int
apply_seed(struct tracker *t, char **argv, int argc)
{
	struct ipaddr	ip;
	uint16_t	port;
	int		unseed = strcmp(argv[0], "unseed") == 0;
	int		partial = argc == 7;

	/* seed G N IP PORT TOKEN [partial]: partial, a peerd downloading */
	if ((unseed ? argc != 5 : argc != 6 && argc != 7) ||
	    !names_ok(argv, 1, 2) || ipaddr_parse(argv[3], &ip) == -1 ||
	    parse_port(argv[4], &port) == -1 ||
	    (partial && strcmp(argv[6], "partial") != 0))
		return -1;
	if (unseed)
		return state_del_seeder_locked(t, argv[1], argv[2], &ip, port);
	if (!session_token_valid(argv[5]))
		return -1;
	return state_add_seeder_locked(t, argv[1], argv[2], &ip, port, argv[5],
	    partial);
}

int
journal_apply_body(struct tracker *t, char *body, size_t len, uint64_t seq)
{
	char	*small[256], **argv = small, **base = small, *op;
	int	 argc, rc = -1;
	size_t	 maxv = len / 2 + 2;

	if (maxv > 256 && (argv = base = malloc(maxv * sizeof(*argv))) == NULL)
		return -1;
	if ((argc = proto_split(body, argv, maxv > 256 ? (int)maxv : 256)) < 1)
		goto done;
	if (strcmp(argv[0], "rid") == 0 &&
	    ((rc = reqid_apply_locked(t, &argv, &argc)) != 0 || argc == 0)) {
		rc = rc == 1 ? 0 : rc;	/* applied before: skipped */
		goto done;		/* (or an id alone: noted) */
	}
	op = argv[0];
	if (strcmp(op, "user") == 0)
		rc = apply_user(t, argv, argc, seq);
	else if (strcmp(op, "login") == 0 || strcmp(op, "logout") == 0 ||
	    strcmp(op, "touch") == 0)
		rc = apply_session(t, argv, argc);
	else if (strcmp(op, "file") == 0)
		rc = apply_file(t, argv, argc);
	else if (strcmp(op, "seed") == 0 || strcmp(op, "unseed") == 0)
		rc = apply_seed(t, argv, argc);
	else if (strcmp(op, "key") == 0)
		rc = keys_apply_locked(t, argv, argc);
	else
		rc = apply_membership(t, argv, argc, seq);
done:
	reqid_done_locked(t, rc);
	if (base != small)
		free(base);
	return rc;
}

/* ---- scanning the file ---- */

struct reader {
	int		 fd;
	char		*data;
	size_t		 len, off, cap;
	uint64_t	 pos;		/* file offset of data[0] */
	int		 eof;
};

/* Next complete line (without '\n'), or NULL at the end of the complete
 * lines; *err set if reading failed or a line is absurdly long. */
static char *
reader_line(struct reader *r, size_t *len, uint64_t *lineoff, int *err)
{
	char	*nl, *p;
	ssize_t	 n;

	for (;;) {
		nl = memchr(r->data + r->off, '\n', r->len - r->off);
		if (nl != NULL) {
			*len = (size_t)(nl - (r->data + r->off));
			*lineoff = r->pos + r->off;
			p = r->data + r->off;
			r->off += *len + 1;
			return p;
		}
		if (r->eof)
			return NULL;
		if (r->off > 0) {
			memmove(r->data, r->data + r->off, r->len - r->off);
			r->pos += r->off;
			r->len -= r->off;
			r->off = 0;
		}
		if (r->cap - r->len < READ_CHUNK) {
			if (r->cap >= JOURNAL_MAX_LINE + READ_CHUNK ||
			    (p = realloc(r->data, r->cap * 2)) == NULL) {
				*err = 1;
				return NULL;
			}
			r->data = p;
			r->cap *= 2;
		}
		n = pread(r->fd, r->data + r->len, r->cap - r->len,
		    (off_t)(r->pos + r->len));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*err = 1;
			return NULL;
		}
		if (n == 0)
			r->eof = 1;
		r->len += (size_t)n;
	}
}

struct scratch {
	char	*p;
	size_t	 cap;
};

/* Apply one checked body (copied: the reader's buffer stays intact). */
static int
apply_line(struct tracker *t, struct scratch *s, const char *body,
    size_t blen, uint64_t seq, uint64_t lineno)
{
	if (blen + 1 > s->cap) {
		free(s->p);
		s->cap = blen + 1 > 4096 ? blen + 1 : 4096;
		if ((s->p = malloc(s->cap)) == NULL) {
			s->cap = 0;
			return -1;
		}
	}
	memcpy(s->p, body, blen);
	s->p[blen] = '\0';
	if (journal_apply_body(t, s->p, blen, seq) == -1)
		log_warnx("%s:%llu: change %llu does not apply; skipped",
		    t->cfg.journal_path, (unsigned long long)lineno,
		    (unsigned long long)seq);
	return 0;
}

/*
 * Apply every good line of fd from offset from. Only the very last line
 * may be bad or partial (a torn append: sets sc->torn); a bad line with
 * anything after it is corruption (-1, sc->bad_line says where), so a
 * wrong file named as the journal is refused, never truncated.
 */
static int
scan_apply(struct tracker *t, int fd, uint64_t from, uint64_t line_base,
    struct scan *sc)
{
	struct reader	 r = { .fd = fd, .pos = from, .cap = 2 * READ_CHUNK };
	struct scratch	 s = { NULL, 0 };
	char		*line = NULL;
	const char	*body;
	size_t		 len, blen;
	uint64_t	 seq, lineno = line_base, off;
	int		 no, rc, err = 0;

	memset(sc, 0, sizeof(*sc));
	sc->end = from;
	if ((r.data = malloc(r.cap)) == NULL)
		err = 1;
	while (!err && (line = reader_line(&r, &len, &off, &err)) != NULL) {
		lineno++;
		rc = journal_parse_line(line, len, &seq, &no, &body, &blen);
		if (rc != 0 && sc->bad_line == 0) {
			sc->bad_line = lineno;
			sc->bad_why = rc == -1 ? "bad checksum" : "malformed line";
			continue;
		}
		if (sc->bad_line != 0)
			break;		/* any line after a bad one */
		if (apply_line(t, &s, body, blen, seq, lineno) == -1)
			err = 1;
		sc->lines++;
		sc->end = off + len + 1;
		if (seq > sc->last_seq)
			sc->last_seq = seq;
	}
	free(s.p);
	free(r.data);
	if (err) {
		sc->bad_line = lineno + 1;
		sc->bad_why = "unreadable or over-long line, or out of memory";
		return -1;
	}
	if (line != NULL || (sc->bad_line != 0 && r.len > r.off))
		return -1;	/* only the very last line may be torn */
	sc->torn = sc->bad_line != 0 || r.len > r.off;
	sc->bad_line = 0;
	return 0;
}

/* ---- the tracker handle ---- */

/*
 * "<journal>.seq": one page every tracker on the journal maps. A writer
 * raises the highest seq written right after its write(), before the
 * reply leaves; a reader compares it with what its region applied, one
 * memory load instead of a stat of the journal per request.
 */
#define JEND_MAGIC	0x70327073656e64ull	/* "p2psend" */

struct jend_page {
	uint64_t	magic;
	uint64_t	seq;
};

static void
map_jend(struct tracker *t)
{
	char			 path[PATH_MAX];
	struct jend_page	*p;
	struct stat		 st;
	int			 fd;

	if (snprintf(path, sizeof(path), "%s.seq", t->hdr->journal_path) >=
	    (int)sizeof(path))
		return;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("open %s", path);
		return;
	}
	if (fstat(fd, &st) == 0 && st.st_size < 4096 &&
	    ftruncate(fd, 4096) == -1)
		log_warn("ftruncate %s", path);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("mmap %s", path);
		return;
	}
	p->magic = JEND_MAGIC;
	t->jend = &p->seq;
}

static void
unmap_jend(struct tracker *t)
{
	if (t->jend != NULL)
		munmap((char *)t->jend - offsetof(struct jend_page, seq), 4096);
	t->jend = NULL;
}

static int
open_journal(const char *path)
{
	return open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/*
 * Unlock before closing: the master's descriptor is inherited by the
 * workers it forks, so closing it alone would not release its flock.
 */
static void
close_journal(struct tracker *t)
{
	if (t->jfd == -1)
		return;
	flock(t->jfd, LOCK_UN);
	close(t->jfd);
	t->jfd = -1;
	t->jfd_ino = t->jfd_dev = 0;
}

static void
set_position(struct tracker *t, int fd, const struct scan *sc, int fresh)
{
	struct state_hdr	*h = t->hdr;
	struct stat		 st;

	if (fstat(fd, &st) == 0) {
		h->journal_dev = (uint64_t)st.st_dev;
		h->journal_ino = (uint64_t)st.st_ino;
	}
	h->applied_off = sc->end;
	if (fresh) {
		h->file_lines = sc->lines;
		h->last_seq = sc->last_seq;
	} else {
		h->file_lines += sc->lines;
		if (sc->last_seq > h->last_seq)
			h->last_seq = sc->last_seq;
	}
}

/* The region's rebuild callback: the whole state again from the journal
 * file; meta and every bucket held. */
static int
journal_rebuild_locked(struct tracker *t)
{
	struct scan	sc;
	int		fd;

	/* Never trade the state for an empty one: if the journal's name is
	 * gone, read the file we still hold open. */
	fd = open(t->hdr->journal_path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && (t->jfd == -1 ||
	    (fd = fcntl(t->jfd, F_DUPFD_CLOEXEC, 0)) == -1)) {
		log_warn("rebuild: open %s", t->hdr->journal_path);
		return -1;
	}
	state_reset_locked(t);
	if (scan_apply(t, fd, 0, 0, &sc) == -1) {
		log_warnx("rebuild: %s:%llu: %s", t->hdr->journal_path,
		    (unsigned long long)sc.bad_line, sc.bad_why);
		close(fd);
		return -1;
	}
	set_position(t, fd, &sc, 1);
	close(fd);
	return 0;
}

static int
replay(struct tracker *t, char *err, size_t errlen)
{
	const char	*path = t->cfg.journal_path;
	struct scan	 sc;
	int		 rc;

	state_lock_meta(t);
	state_lock_all_buckets(t);
	rc = scan_apply(t, t->jfd, 0, 0, &sc);
	state_unlock_all_buckets(t);
	if (rc == -1) {
		snprintf(err, errlen, "%s:%llu: %s; the journal is corrupt "
		    "before its end: restore it from a backup or truncate it "
		    "at line %llu (losing later changes)", path,
		    (unsigned long long)sc.bad_line, sc.bad_why,
		    (unsigned long long)sc.bad_line);
		state_unlock_meta(t);
		return -1;
	}
	if (sc.torn) {
		log_warnx("%s: dropping a torn last line after line %llu "
		    "(offset %llu)", path, (unsigned long long)sc.lines,
		    (unsigned long long)sc.end);
		if (ftruncate(t->jfd, (off_t)sc.end) == -1)
			log_warn("ftruncate %s", path);
	}
	set_position(t, t->jfd, &sc, 1);
	t->hdr->written_seq = t->hdr->durable_seq = t->hdr->last_seq;
	log_info("%s: replayed %llu changes", path,
	    (unsigned long long)sc.lines);
	state_unlock_meta(t);
	return 0;
}

static struct tracker *
tracker_new(const struct tracker_config *cfg)
{
	struct tracker	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cfg = *cfg;
	t->jfd = t->sync_fd = t->watch_fd = -1;
	t->rebuild = journal_rebuild_locked;
	pthread_mutex_init(&t->sync_mu, NULL);
	if (t->cfg.shm_name[0] == '\0')
		snprintf(t->cfg.shm_name, sizeof(t->cfg.shm_name),
		    "/p2pshare-trackerd-%u", endpoint_port(&cfg->self));
	return t;
}

static int
absolute_path(const char *path, char *out, size_t outlen)
{
	char	cwd[PATH_MAX];

	if (path[0] == '/')
		return strlcpy(out, path, outlen) < outlen ? 0 : -1;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return snprintf(out, outlen, "%s/%s", cwd, path) < (int)outlen ? 0 : -1;
}

struct tracker *
tracker_create(const struct tracker_config *cfg, char *err, size_t errlen)
{
	struct tracker	*t;

	if ((t = tracker_new(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->master = 1;
	if (state_map(t, 1, err, errlen) == -1) {
		free(t);
		return NULL;
	}
	if (cfg->etcd.n > 0) {
		if (jetcd_create(t, err, errlen) == -1)
			goto fail;
		return t;
	}
	if (absolute_path(cfg->journal_path, t->hdr->journal_path,
	    sizeof(t->hdr->journal_path)) == -1) {
		snprintf(err, errlen, "%s: path too long", cfg->journal_path);
		goto fail;
	}
	if ((t->jfd = open_journal(t->hdr->journal_path)) == -1) {
		snprintf(err, errlen, "open %s: %s", cfg->journal_path,
		    strerror(errno));
		goto fail;
	}
	if (flock(t->jfd, LOCK_EX) == -1) {
		snprintf(err, errlen, "flock %s: %s", cfg->journal_path,
		    strerror(errno));
		goto fail;
	}
	if (replay(t, err, errlen) == -1)
		goto fail;
	map_jend(t);
	flock(t->jfd, LOCK_UN);
	return t;
fail:
	tracker_destroy(t);
	return NULL;
}

struct tracker *
tracker_attach(const struct tracker_config *cfg, char *err, size_t errlen)
{
	struct tracker	*t;

	if ((t = tracker_new(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (state_map(t, 0, err, errlen) == -1) {
		free(t);
		return NULL;
	}
	if (cfg->etcd.n > 0) {
		if (jetcd_attach(t, err, errlen) == -1) {
			tracker_detach(t);
			return NULL;
		}
		return t;
	}
	if ((t->jfd = open_journal(t->hdr->journal_path)) == -1) {
		snprintf(err, errlen, "open %s: %s", t->hdr->journal_path,
		    strerror(errno));
		tracker_detach(t);
		return NULL;
	}
	map_jend(t);
	return t;
}

void
tracker_detach(struct tracker *t)
{
	if (t == NULL)
		return;
	close_journal(t);
	unmap_jend(t);
	jetcd_free(t);
	if (t->sync_fd != -1)
		close(t->sync_fd);
	if (t->watch_fd != -1)
		close(t->watch_fd);
	state_unmap(t);
	pthread_mutex_destroy(&t->sync_mu);
	free(t);
}

void
tracker_destroy(struct tracker *t)
{
	if (t == NULL)
		return;
	if (t->hdr != NULL && t->master)
		shm_unlink(t->cfg.shm_name);
	tracker_detach(t);
}

void
tracker_worker_died(struct tracker *t, int pid)
{
	/* If pid died holding meta, repair now; else the lock is someone
	 * else's (a dead bucket holder is repaired by the next taker). */
	if (state_repair(t) == -1)
		log_warnx("worker %d died; repairing the state failed", pid);
}

/* ---- the write path ---- */

/* flock the journal, reopening it first if it was replaced (compacted);
 * *fst is the locked file's. */
static int
lock_journal(struct tracker *t, int op, struct stat *fst)
{
	int	fd;

	for (;;) {
		while (flock(t->jfd, op) == -1)
			if (errno != EINTR) {
				snprintf(t->err, sizeof(t->err), "flock: %s",
				    strerror(errno));
				return -1;
			}
		if (t->jfd_ino == 0 && fstat(t->jfd, fst) == 0) {
			t->jfd_dev = (uint64_t)fst->st_dev;
			t->jfd_ino = (uint64_t)fst->st_ino;
		}
		/* One stat per change: the name still ours, and its size. */
		if (stat(t->hdr->journal_path, fst) == -1) {
			if (fstat(t->jfd, fst) == 0)
				return 0;	/* name gone: keep the file */
			snprintf(t->err, sizeof(t->err), "fstat: %s",
			    strerror(errno));
			flock(t->jfd, LOCK_UN);
			return -1;
		}
		if ((uint64_t)fst->st_ino == t->jfd_ino &&
		    (uint64_t)fst->st_dev == t->jfd_dev)
			return 0;
		/* Replaced (compacted): the new file, never a new empty one. */
		fd = open(t->hdr->journal_path, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT && fstat(t->jfd, fst) == 0)
			return 0;
		if (fd == -1) {
			snprintf(t->err, sizeof(t->err), "open %.100s: %s",
			    t->hdr->journal_path, strerror(errno));
			flock(t->jfd, LOCK_UN);
			return -1;
		}
		close_journal(t);
		t->jfd = fd;
	}
}

/* Apply what others appended; flock and meta held, st the journal's. */
static int
catch_up_locked(struct tracker *t, int exclusive, const struct stat *stp)
{
	struct state_hdr	*h = t->hdr;
	struct stat		 st = *stp;
	struct scan		 sc;
	int			 rc;

	if ((uint64_t)st.st_ino != h->journal_ino ||
	    (uint64_t)st.st_dev != h->journal_dev ||
	    (uint64_t)st.st_size < h->applied_off) {
		/* A new (compacted) file holds the whole state: rebuild. */
		state_lock_all_buckets(t);
		rc = journal_rebuild_locked(t);
		state_unlock_all_buckets(t);
		if (rc == -1)
			goto corrupt;
		return 0;
	}
	if ((uint64_t)st.st_size == h->applied_off)
		return 0;
	if (scan_apply(t, t->jfd, h->applied_off, h->file_lines, &sc) == -1) {
		log_warnx("%s:%llu: %s; the journal is corrupt",
		    h->journal_path, (unsigned long long)sc.bad_line,
		    sc.bad_why);
		goto corrupt;
	}
	set_position(t, t->jfd, &sc, 0);
	if (sc.torn && exclusive) {
		/* Nobody writes while we hold LOCK_EX: a writer died. */
		log_warnx("%s: dropping a torn line at offset %llu",
		    h->journal_path, (unsigned long long)sc.end);
		if (ftruncate(t->jfd, (off_t)sc.end) == -1) {
			snprintf(t->err, sizeof(t->err), "ftruncate: %s",
			    strerror(errno));
			return -1;
		}
	}
	return 0;
corrupt:
	snprintf(t->err, sizeof(t->err), "the journal is corrupt");
	return -1;
}

static int
begin(struct tracker *t, int op)
{
	struct stat	st;

	if (lock_journal(t, op, &st) == -1)
		return -1;
	if (state_lock_meta(t) == -1) {
		snprintf(t->err, sizeof(t->err), "state repair failed");
		goto fail;
	}
	if (catch_up_locked(t, op == LOCK_EX, &st) == -1) {
		state_unlock_meta(t);
		goto fail;
	}
	return 0;
fail:
	flock(t->jfd, LOCK_UN);
	return -1;
}

/* Master, before the workers start: journal one change of its own (the
 * ticket key) and wait until it is durable (file) or committed (etcd). */
int
journal_publish(struct tracker *t, const char *body)
{
	uint64_t	seq;

	if (t->etcd != NULL)
		return jetcd_publish(t, body);
	if (journal_begin(t) == -1)
		return -1;
	seq = journal_commit(t, body, strlen(body));
	journal_end(t);
	if (seq == 0)
		return -1;
	journal_sync(t);
	return 0;
}

int
journal_begin(struct tracker *t)
{
	if (t->etcd != NULL)
		return jetcd_begin(t);
	return begin(t, LOCK_EX);
}

void
journal_end(struct tracker *t)
{
	if (t->etcd != NULL) {
		jetcd_end(t);
		return;
	}
	state_unlock_meta(t);
	flock(t->jfd, LOCK_UN);
}

int
journal_read_barrier(struct tracker *t)
{
	if (t->jend == NULL || __atomic_load_n(t->jend, __ATOMIC_ACQUIRE) <=
	    __atomic_load_n(&t->hdr->last_seq, __ATOMIC_ACQUIRE))
		return 0;
	return journal_catch_up(t);
}

int
journal_catch_up(struct tracker *t)
{
	if (t->etcd != NULL)
		return jetcd_catch_up(t);
	if (begin(t, LOCK_SH) == -1)
		return -1;
	journal_end(t);
	return 0;
}

static void
atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t	cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);

	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

uint64_t
journal_commit(struct tracker *t, const char *body, size_t len)
{
	struct state_hdr	*h = t->hdr;
	uint64_t		 seq = h->last_seq + 1;
	size_t			 cap = len + 64, n;
	ssize_t			 w;
	char			*line;

	if (t->etcd != NULL)
		return jetcd_stage(t, body, len);
	if ((line = malloc(cap)) == NULL) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return 0;
	}
	n = journal_format_line(line, cap, seq, t->cfg.tracker_no, body, len);
	do
		w = write(t->jfd, line, n);
	while (w == -1 && errno == EINTR);
	if (w != (ssize_t)n) {
		snprintf(t->err, sizeof(t->err), "write %.100s: %s",
		    h->journal_path, w == -1 ? strerror(errno) : "short write");
		if (w > 0 && ftruncate(t->jfd, (off_t)h->applied_off) == -1)
			log_warn("ftruncate %s", h->journal_path);
		log_warnx("journal: %s", t->err);
		free(line);
		return 0;
	}
	h->applied_off += n;
	h->file_lines++;
	h->last_seq = seq;
	atomic_max(&h->written_seq, seq);
	if (t->jend != NULL)
		atomic_max(t->jend, seq);
	/* Apply the very text that was journaled: replay does the same. */
	memcpy(line, body, len);
	line[len] = '\0';
	if (journal_apply_body(t, line, len, seq) == -1)
		log_warnx("journal: change %llu does not apply",
		    (unsigned long long)seq);
	free(line);
	return seq;
}

/* ---- sync, watch, poll ---- */

static uint64_t	sync_locked(struct tracker *);
static int	compact(struct tracker *, int);

uint64_t
journal_sync(struct tracker *t)
{
	uint64_t	d;

	if (t->etcd != NULL)
		return UINT64_MAX;	/* acknowledged when etcd commits */
	pthread_mutex_lock(&t->sync_mu);
	d = sync_locked(t);
	pthread_mutex_unlock(&t->sync_mu);
	return d;
}

/* Offset of the first line of fd after change seq (the end if none);
 * the lines are in seq order. *foreign is set if a line after it was
 * written by another tracker. -1 if unreadable. */
static int
offset_after(int fd, uint64_t seq, int self, uint64_t *off, int *foreign)
{
	struct reader	 r = { .fd = fd, .cap = 2 * READ_CHUNK };
	const char	*line, *body;
	size_t		 len, blen;
	uint64_t	 s, at;
	int		 no, err = 0, found = 0;

	if ((r.data = malloc(r.cap)) == NULL)
		return -1;
	*off = 0;
	*foreign = 0;
	while ((line = reader_line(&r, &len, &at, &err)) != NULL) {
		if (journal_parse_line(line, len, &s, &no, &body, &blen) != 0)
			continue;
		if (!found && s > seq) {
			found = 1;
			*off = at;
		}
		if (found && no != self)
			*foreign = 1;
		if (!found)
			*off = at + len + 1;
	}
	free(r.data);
	return err ? -1 : 0;
}

/*
 * fdatasync failed: the lines after durable_seq may never reach the disk
 * (Linux forgets dirty pages it could not write back, and the next fsync
 * succeeds without them). Cut them from the file and rebuild the state
 * without them, so a restart cannot bring back what was refused; their
 * held replies become refusals (journal_dropped). Not when the other
 * tracker appended after them: its lines cannot be cut, so ours stay held
 * and the sync is retried. A fresh descriptor takes the flock: this
 * thread's jfd would share the main thread's lock.
 */
static void
drop_undurable(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	struct stat		 st;
	uint64_t		 durable, last, off;
	int			 fd, rc, foreign;

	if ((fd = open(h->journal_path, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("open %s", h->journal_path);
		return;
	}
	while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
		;
	if (fstat(fd, &st) == -1 || state_lock_meta(t) == -1)
		goto out;
	if (catch_up_locked(t, 1, &st) == -1)
		goto unlock;
	durable = journal_durable_seq(t);
	last = h->last_seq;
	if (last <= durable || offset_after(fd, durable, t->cfg.tracker_no,
	    &off, &foreign) == -1 || off >= (uint64_t)st.st_size)
		goto unlock;
	if (foreign) {
		/* The other tracker wrote after us and may have acknowledged
		 * it after its own fdatasync: keep every line, retry. */
		log_warnx("%s: not durable, but another tracker appended "
		    "since: held until fdatasync succeeds", h->journal_path);
		goto unlock;
	}
	if (ftruncate(fd, (off_t)off) == -1) {
		log_warn("ftruncate %s", h->journal_path);
		goto unlock;
	}
	state_lock_all_buckets(t);
	rc = journal_rebuild_locked(t);
	state_unlock_all_buckets(t);
	if (rc == -1)
		h->dirty = 1;
	h->last_seq = last;		/* the refused seqs stay unused */
	__atomic_store_n(&h->written_seq, durable, __ATOMIC_RELEASE);
	__atomic_store_n(&h->dropped_lo, durable + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&h->dropped_hi, last, __ATOMIC_RELEASE);
	log_warnx("%s: changes %llu to %llu are not durable: cut from the "
	    "journal and refused", h->journal_path,
	    (unsigned long long)durable + 1, (unsigned long long)last);
unlock:
	state_unlock_meta(t);
out:
	flock(fd, LOCK_UN);
	close(fd);
}

int
journal_dropped(struct tracker *t, uint64_t seq)
{
	return seq >= __atomic_load_n(&t->hdr->dropped_lo, __ATOMIC_ACQUIRE) &&
	    seq <= __atomic_load_n(&t->hdr->dropped_hi, __ATOMIC_ACQUIRE);
}

static uint64_t
sync_locked(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	struct stat		 st, fst;
	uint64_t		 s = __atomic_load_n(&h->written_seq,
				    __ATOMIC_ACQUIRE);

	if (t->sync_fd != -1 && stat(h->journal_path, &st) == 0 &&
	    fstat(t->sync_fd, &fst) == 0 && st.st_ino != fst.st_ino) {
		close(t->sync_fd);
		t->sync_fd = -1;
	}
	if (t->sync_fd == -1 &&
	    (t->sync_fd = open(h->journal_path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("open %s", h->journal_path);
		return journal_durable_seq(t);
	}
	if (fdatasync(t->sync_fd) == -1) {
		log_warn("fdatasync %s", h->journal_path);
		if (t->cfg.sync == SYNC_ALWAYS)
			drop_undurable(t);
		return journal_durable_seq(t);
	}
	atomic_max(&h->durable_seq, s);
	return journal_durable_seq(t);
}

uint64_t
journal_durable_seq(struct tracker *t)
{
	if (t->etcd != NULL)
		return UINT64_MAX;
	return __atomic_load_n(&t->hdr->durable_seq, __ATOMIC_ACQUIRE);
}

static void
watch_add(struct tracker *t)
{
	char	dir[PATH_MAX];

	if (inotify_add_watch(t->watch_fd, t->hdr->journal_path,
	    IN_MODIFY) == -1)
		log_warn("inotify_add_watch %s", t->hdr->journal_path);
	t->watched_ino = t->hdr->journal_ino;
	strlcpy(dir, t->hdr->journal_path, sizeof(dir));
	if (inotify_add_watch(t->watch_fd, dirname(dir),
	    IN_MOVED_TO | IN_CREATE) == -1)
		log_warn("inotify_add_watch %s", dir);
}

int
journal_watch_fd(struct tracker *t)
{
	if (t->etcd != NULL)
		return -1;	/* the etcd watch runs on its own thread */
	if (t->watch_fd != -1)
		return t->watch_fd;
	if ((t->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1");
		return -1;
	}
	watch_add(t);
	return t->watch_fd;
}

static int
drain_watch(struct tracker *t)
{
	char	buf[4096];
	int	any = 0;

	if (t->watch_fd == -1)
		return 0;
	while (read(t->watch_fd, buf, sizeof(buf)) > 0)
		any = 1;
	return any;
}

/* 1 if the journal may hold lines we have not applied (racy peek). */
static int
journal_changed(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	struct stat		 st;

	if (stat(h->journal_path, &st) == -1)
		return 0;
	return (uint64_t)st.st_ino != h->journal_ino ||
	    (uint64_t)st.st_size != __atomic_load_n(&h->applied_off,
	    __ATOMIC_RELAXED);
}

static int
compaction_due(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;

	return h->applied_off > t->cfg.compact_bytes &&
	    h->file_lines > 4 * state_live_count(t);
}

void
journal_serve(struct tracker *t)
{
	if (t->etcd != NULL)
		jetcd_poll(t);
}

void
journal_poll(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	time_t			 now = time(NULL);

	if (t->etcd != NULL)
		return;		/* the journal process's (journal_serve) */
	drain_watch(t);
	if (journal_changed(t) && journal_catch_up(t) == -1)
		log_warnx("journal: %s", t->err);
	if (t->cfg.sync == SYNC_EVERYSEC && (uint64_t)now != t->last_sync) {
		t->last_sync = (uint64_t)now;
		if (__atomic_load_n(&h->written_seq, __ATOMIC_RELAXED) >
		    journal_durable_seq(t))
			journal_sync(t);
	}
	if (t->cfg.compact_bytes > 0 && compaction_due(t) &&
	    compact(t, 0) == -1)
		log_warnx("journal compaction failed: %s", t->err);
	/* A new (compacted) file needs its own watch. */
	if (t->watch_fd != -1 && h->journal_ino != t->watched_ino)
		watch_add(t);
}

/* ---- dumping the live state (compaction, etcd snapshots) ---- */

struct cwriter {
	struct tracker	*t;
	struct buf	 body;
	int		 (*emit)(void *, const char *, size_t);
	void		*arg;
	int		 failed;
};

static void
cw_line(struct cwriter *w)
{
	if (!w->failed && w->emit(w->arg, w->body.data, w->body.len) == -1)
		w->failed = 1;
	w->body.len = w->body.off = 0;
}

static void
cw_users_sessions(struct cwriter *w)
{
	struct tracker	*t = w->t;
	char		 salt[2 * PW_SALT_LEN + 1], hash[2 * PW_HASH_LEN + 1];
	char		 ip[IP_TEXT_LEN];
	uint32_t	 i;

	for (i = 1; i <= t->hdr->t[T_USER].hiwater; i++) {
		struct user_rec *u = USER(t, i);

		if (!u->h.used)
			continue;
		hex_encode(u->pw.salt, PW_SALT_LEN, salt);
		hex_encode(u->pw.hash, PW_HASH_LEN, hash);
		buf_printf(&w->body, "user %s %u %u %s %s", u->name,
		    u->pw.algo, u->pw.iterations, salt, hash);
		if (u->created != 0)
			buf_printf(&w->body, " %s %llu",
			    ipaddr_text(&u->created_ip, ip),
			    (unsigned long long)u->created);
		cw_line(w);
	}
	for (i = 1; i <= t->hdr->t[T_SESSION].hiwater; i++) {
		struct session_rec *s = SESSION(t, i);

		if (!s->h.used)
			continue;
		buf_printf(&w->body, "login %s %s %llu", USER(t, s->user)->name,
		    s->token, (unsigned long long)s->last_touch);
		cw_line(w);
	}
}

static void
cw_file(struct cwriter *w, struct group_rec *g, struct file_rec *f)
{
	struct tracker		*t = w->t;
	struct seeder_rec	*s;
	char			 hex[SHA1_HEX_LEN + 1], ip[IP_TEXT_LEN];
	uint32_t		 i, si;

	for (si = f->seeders.head; si != NIL; si = s->flink.next) {
		s = SEEDER(t, si);
		ipaddr_text(&s->ip, ip);
		if (si == f->seeders.head) {
			sha1_to_hex(f->sha1, hex);
			buf_printf(&w->body, "file %s %s %llu %s %u", g->name,
			    f->name, (unsigned long long)f->size, hex,
			    f->npieces);
			for (i = 0; i < f->npieces; i++) {
				sha1_to_hex(state_piece_hash(t, f->hash_off, i),
				    hex);
				buf_printf(&w->body, " %s", hex);
			}
			buf_printf(&w->body, " %s %u %s", ip, s->port,
			    SESSION(t, s->session)->token);
			cw_line(w);
			if (!s->partial)
				continue;	/* else marked so just below */
		}
		buf_printf(&w->body, "seed %s %s %s %u %s%s", g->name,
		    f->name, ip, s->port, SESSION(t, s->session)->token,
		    s->partial ? " partial" : "");
		cw_line(w);
	}
}

static void
cw_groups(struct cwriter *w)
{
	struct tracker		*t = w->t;
	struct group_rec	*g;
	uint32_t		 gi, i;

	for (gi = t->hdr->groups.head; gi != NIL; gi = g->all.next) {
		g = GROUP(t, gi);
		for (i = g->members.head; i != NIL; i = MEMBER(t, i)->glink.next) {
			buf_printf(&w->body, "%s %s %s",
			    i == g->members.head ? "group" : "member", g->name,
			    USER(t, MEMBER(t, i)->user)->name);
			cw_line(w);
		}
		for (i = g->requests.head; i != NIL;
		    i = REQUEST(t, i)->glink.next) {
			buf_printf(&w->body, "join_req %s %s", g->name,
			    USER(t, REQUEST(t, i)->user)->name);
			cw_line(w);
		}
		for (i = g->files.head; i != NIL; i = FILEREC(t, i)->glink.next)
			cw_file(w, g, FILEREC(t, i));
	}
}

/* Older key of each tracker first, so replay leaves the newest current. */
static void
cw_keys(struct cwriter *w)
{
	int	no, k;

	for (no = 1; no <= MAX_TRACKERS; no++)
		for (k = KEYS_PER_TRACKER - 1; k >= 0; k--)
			if (keys_line_locked(w->t, no, k, &w->body) == 0)
				cw_line(w);
}

int
journal_dump_locked(struct tracker *t,
    int (*emit)(void *, const char *, size_t), void *arg)
{
	struct cwriter	w = { .t = t, .emit = emit, .arg = arg };

	buf_init(&w.body, JOURNAL_MAX_LINE);
	cw_keys(&w);
	cw_users_sessions(&w);
	cw_groups(&w);
	buf_free(&w.body);
	if (!w.failed && reqid_dump_locked(t, emit, arg) == -1)
		w.failed = 1;
	return w.failed ? -1 : 0;
}

/* The compacted file: every body as a journal line, in large writes. */
struct cfile {
	struct tracker	*t;
	int		 fd;
	struct buf	 out;
};

static int
cf_flush(struct cfile *f)
{
	int	rc = 0;

	if (f->out.len > 0)
		rc = write_all(f->fd, f->out.data, f->out.len);
	f->out.len = f->out.off = 0;
	return rc;
}

static int
cf_line(void *arg, const char *body, size_t len)
{
	struct cfile	*f = arg;
	size_t		 need = len + 64;

	if (buf_reserve(&f->out, need) == -1)
		return -1;
	f->out.len += journal_format_line(f->out.data + f->out.len, need,
	    f->t->hdr->last_seq, f->t->cfg.tracker_no, body, len);
	return f->out.len > READ_CHUNK ? cf_flush(f) : 0;
}

static int
write_compacted(struct tracker *t, const char *tmp)
{
	struct cfile	f = { .t = t };
	int		rc;

	if ((f.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(t->err, sizeof(t->err), "open %.100s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	buf_init(&f.out, JOURNAL_MAX_LINE * 2);
	rc = journal_dump_locked(t, cf_line, &f);
	if (rc == 0)
		rc = cf_flush(&f);
	buf_free(&f.out);
	if (rc == -1 || fsync(f.fd) == -1) {
		snprintf(t->err, sizeof(t->err), "write %.100s: %s", tmp,
		    strerror(errno));
		close(f.fd);
		unlink(tmp);
		return -1;
	}
	close(f.fd);
	return 0;
}

static void
sync_dir(const char *path)
{
	char	dir[PATH_MAX];
	int	fd;

	strlcpy(dir, path, sizeof(dir));
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if (fsync(fd) == -1)
		log_warn("fsync %s", dir);
	close(fd);
}

int
journal_compact(struct tracker *t)
{
	if (t->etcd != NULL)
		return -1;	/* snapshots: snapshot_write */
	return compact(t, 1);
}

/* Rewrite the journal; unless forced, only if still worthwhile once we
 * hold the lock (the other tracker may have just done it). */
static int
compact(struct tracker *t, int force)
{
	char		 tmp[PATH_MAX];
	uint64_t	 before;
	int		 fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", t->hdr->journal_path) >=
	    (int)sizeof(tmp))
		return -1;
	if (journal_begin(t) == -1)
		return -1;
	if (!force && !compaction_due(t)) {
		journal_end(t);
		return 0;
	}
	before = t->hdr->applied_off;
	if (write_compacted(t, tmp) == -1)
		goto fail;
	if (rename(tmp, t->hdr->journal_path) == -1) {
		snprintf(t->err, sizeof(t->err), "rename %.100s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto fail;
	}
	sync_dir(t->hdr->journal_path);
	/* The new file was synced whole: every change in it is durable (and
	 * its lines all carry last_seq, so none may look newer than that). */
	atomic_max(&t->hdr->durable_seq, t->hdr->last_seq);
	fd = open(t->hdr->journal_path, O_RDWR | O_APPEND | O_CLOEXEC);
	/* Rebuild from the new file: checks it and frees dead arena space. */
	state_lock_all_buckets(t);
	rc = journal_rebuild_locked(t);
	state_unlock_all_buckets(t);
	if (rc == -1)
		t->hdr->dirty = 1;
	log_info("journal compacted: %llu bytes to %llu (%llu lines)",
	    (unsigned long long)before,
	    (unsigned long long)t->hdr->applied_off,
	    (unsigned long long)t->hdr->file_lines);
	/*
	 * Let go of meta and of the old file's flock before touching the new
	 * file's: taking a flock while holding meta would break the lock order
	 * (a writer may already hold the new file's flock and wait for meta).
	 */
	journal_end(t);
	if (fd != -1) {
		close_journal(t);
		t->jfd = fd;
	}
	return 0;
fail:
	journal_end(t);
	return -1;
}
