/* Group files are private on the wire: a seeder serves a file only to a
 * peer showing a tracker-signed ticket for that file and group; GET_PIECE
 * is answered only with peerd -g; downloads work with tickets from either
 * tracker. Driven with raw sockets where a hostile peer would be. */
#include <sys/file.h>

#include <openssl/evp.h>

#include "ipc/ticket.h"
#include "peerd/wire.h"
#include "tests/e2e/swarm.h"
#include "trackerd/journal.h"

static char	src[PATH_MAX], dl[PATH_MAX];

static void
setup(void)
{
	sw_setup_sharing(src, dl);
}

TestSuite(peer_tickets, .init = setup, .fini = sw_fini, .timeout = 120);

/* Share a random file of n bytes as NAME in group g from peer i. */
static void
share(int i, const char *name, size_t n, unsigned seed)
{
	char	path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", src, name);
	h_random_file(path, n, seed);
	SC(0, i, "upload_file %s g", path);
}

/* A session on tracker ti logged in as user. */
static int
tracker_session(int ti, const char *user, const char *pass)
{
	char	 line[128], *r;
	int	 fd;

	cr_assert_neq(fd = h_connect(SW.tport[ti]), -1);
	snprintf(line, sizeof(line), "login %s %s", user, pass);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert(strncmp(r, "OK login_success", 16) == 0, "%s", r);
	free(r);
	return fd;
}

/* The SHA-1 of group/name as the tracker knows it. */
static void
file_sha1(int fd, const char *group, const char *name, uint8_t sha1[20])
{
	char	line[160], *r, *w;

	snprintf(line, sizeof(line), "download_file %s %s", group, name);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert(strncmp(r, "OK ", 3) == 0, "%s", r);
	cr_assert_not_null(w = strchr(r + 3, ' '));
	w[41] = '\0';
	cr_assert_eq(hex_to_sha1(w + 1, sha1), 0);
	free(r);
}

/* A ticket for group/name from the tracker on fd; its length. */
static size_t
get_ticket(int fd, const char *group, const char *name, uint8_t *bin)
{
	char	line[160], *r, *sp;
	ssize_t	n;

	snprintf(line, sizeof(line), "ticket %s %s", group, name);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert(strncmp(r, "OK ", 3) == 0, "%s", r);
	cr_assert_not_null(sp = strchr(r + 3, ' '));
	*sp = '\0';
	n = hex_decode(r + 3, bin, TICKET_MAX_BIN);
	cr_assert_gt(n, 0);
	free(r);
	return (size_t)n;
}

/* Send the opening and a HELLO for sha1 with ticket t[0..n) on fd. */
static void
send_hello(int fd, const uint8_t sha1[20], const uint8_t *t, size_t n)
{
	uint8_t	out[WIRE_MAGIC_LEN + WIRE_HDR_LEN + WIRE_MAX_HELLO];

	memcpy(out, WIRE_MAGIC, WIRE_MAGIC_LEN);
	wire_hdr(out + WIRE_MAGIC_LEN, WIRE_HELLO, 0, (uint32_t)(20 + n));
	memcpy(out + WIRE_MAGIC_LEN + WIRE_HDR_LEN, sha1, 20);
	memcpy(out + WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20, t, n);
	cr_assert_eq(send(fd, out, WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20 + n,
	    MSG_NOSIGNAL), (ssize_t)(WIRE_MAGIC_LEN + WIRE_HDR_LEN + 20 + n));
}

/* Say HELLO to peer i for sha1 with ticket t[0..n); the answer's type
 * (WIRE_BITFIELD, WIRE_ERROR) with an error's text in text, or -1 if it
 * closed without one. */
static int
hello(int i, const uint8_t sha1[20], const uint8_t *t, size_t n,
    char text[WIRE_MAX_ERROR + 1])
{
	uint8_t		 in[WIRE_MAGIC_LEN + WIRE_HDR_LEN + WIRE_MAX_ERROR];
	struct wire_msg	 m;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd, type = -1;

	cr_assert_neq(fd = h_connect(SW.pport[i]), -1);
	send_hello(fd, sha1, t, n);
	text[0] = '\0';
	while (got < sizeof(in) && (r = recv(fd, in + got, sizeof(in) - got,
	    0)) > 0) {
		got += (size_t)r;
		if (got < WIRE_MAGIC_LEN || wire_parse(in + WIRE_MAGIC_LEN,
		    got - WIRE_MAGIC_LEN, WIRE_TO_CLIENT, &m) <= 0)
			continue;
		type = m.type;
		if (type == WIRE_ERROR)
			snprintf(text, WIRE_MAX_ERROR + 1, "%.*s", (int)m.len,
			    (const char *)m.payload);
		break;
	}
	close(fd);
	return type;
}

#define REFUSED(why, ...) do {						\
	char _t[WIRE_MAX_ERROR + 1];					\
	int _ty = hello(0, __VA_ARGS__, _t);				\
	cr_assert_eq(_ty, WIRE_ERROR, "refused (%s)", why);		\
	cr_assert(strstr(_t, why) != NULL, "'%s' for '%s'", _t, why);	\
} while (0)

Test(peer_tickets, get_piece_without_account_gets_nothing)
{
	char	buf[4096];
	ssize_t	n, total = 0;
	int	fd;

	share(0, "private.bin", 600000, 1);
	cr_assert_neq(fd = h_connect(SW.pport[0]), -1);
	cr_assert_eq(send(fd, "GET_PIECE private.bin 0\n", 24, MSG_NOSIGNAL),
	    24);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += n;
	close(fd);
	cr_assert_eq(total, 0, "%zd bytes of piece 0 served to a stranger",
	    total);
}

Test(peer_tickets, wrong_or_forged_tickets_refused)
{
	uint8_t		 sha_a[20], sha_b[20], t[TICKET_MAX_BIN], bad[TICKET_MAX_BIN];
	char		 text[WIRE_MAX_ERROR + 1];
	size_t		 n;
	int		 fd;

	share(0, "a.bin", 700000, 2);
	share(0, "b.bin", 100000, 3);
	fd = tracker_session(0, "bob", "pb");
	file_sha1(fd, "g", "a.bin", sha_a);
	file_sha1(fd, "g", "b.bin", sha_b);

	REFUSED("ticket required", sha_a, t, 0);
	n = get_ticket(fd, "g", "b.bin", t);
	REFUSED("another file", sha_a, t, n);
	cr_assert_eq(hello(0, sha_b, t, n, text), WIRE_BITFIELD, "%s", text);

	n = get_ticket(fd, "g", "a.bin", t);
	cr_assert_eq(hello(0, sha_a, t, n, text), WIRE_BITFIELD, "%s", text);
	memcpy(bad, t, n);
	bad[n - 1] ^= 1;			/* the signature */
	REFUSED("signature invalid", sha_a, bad, n);
	memcpy(bad, t, n);
	bad[n - TICKET_SIG_LEN - 1] ^= 2;	/* the group's last letter */
	REFUSED("signature invalid", sha_a, bad, n);
	memcpy(bad, t, n);
	bad[9] ^= 0xff;				/* the expiry, far off */
	REFUSED("signature invalid", sha_a, bad, n);
	REFUSED("malformed", sha_a, t, n - 1);
	close(fd);
}

Test(peer_tickets, ticket_of_another_group_refused)
{
	uint8_t	 sha[20], t[TICKET_MAX_BIN];
	char	 line[256], hex[41], *r;
	size_t	 n;
	int	 fd;

	share(0, "same.bin", 300000, 4);
	/* dave's group h holds a file of the very same content. */
	fd = h_connect(SW.tport[0]);
	free(h_request(fd, "create_user dave pd"));
	close(fd);
	fd = tracker_session(0, "dave", "pd");
	free(h_request(fd, "create_group h"));
	close(fd);
	fd = tracker_session(0, "alice", "pa");
	file_sha1(fd, "g", "same.bin", sha);
	close(fd);
	sha1_to_hex(sha, hex);
	fd = tracker_session(0, "dave", "pd");
	/* one 300000-byte piece: its hash is the file's */
	snprintf(line, sizeof(line), "upload_file h same.bin 300000 127.0.0.1 "
	    "9 %s 1 %s", hex, hex);
	cr_assert_not_null(r = h_request(fd, line));
	cr_assert(strncmp(r, "OK", 2) == 0, "%s", r);
	free(r);
	n = get_ticket(fd, "h", "same.bin", t);
	REFUSED("no such file", sha, t, n);
	close(fd);
}

/* Append "key 3 <id> <pub>" to the shared journal, as a third tracker
 * would: the seeders learn it from the trackers. */
static EVP_PKEY *
third_tracker_key(uint8_t id[TICKET_KEYID_LEN])
{
	uint8_t		 pub[TICKET_PUB_LEN];
	char		 body[160], line[256], idh[17], pubh[65], *j, *last;
	unsigned long long seq;
	size_t		 len, n;
	EVP_PKEY	*key;
	int		 fd;

	cr_assert_not_null(key = ticket_keygen(pub));
	ticket_keyid(pub, id);
	hex_encode(id, TICKET_KEYID_LEN, idh);
	hex_encode(pub, TICKET_PUB_LEN, pubh);
	snprintf(body, sizeof(body), "key 3 %s %s", idh, pubh);
	cr_assert_neq(fd = open(SW.journal, O_RDWR | O_APPEND), -1);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	cr_assert_not_null(j = h_read_file(SW.journal, &len));
	cr_assert_gt(len, 0);
	j[len - 1] = '\0';
	last = strrchr(j, '\n') ? strrchr(j, '\n') + 1 : j;
	seq = strtoull(last, NULL, 10);
	free(j);
	n = journal_format_line(line, sizeof(line), seq + 1, 3, body,
	    strlen(body));
	cr_assert_eq(write(fd, line, n), (ssize_t)n);
	close(fd);
	return key;
}

static size_t
sign(EVP_PKEY *key, const uint8_t id[8], const uint8_t sha[20],
    const char *group, uint64_t expires, uint8_t *out)
{
	struct ticket	t;

	memset(&t, 0, sizeof(t));
	memcpy(t.keyid, id, 8);
	memcpy(t.sha1, sha, 20);
	t.expires = expires;
	strlcpy(t.user, "bob", sizeof(t.user));
	strlcpy(t.group, group, sizeof(t.group));
	return ticket_sign(&t, key, out, TICKET_MAX_BIN);
}

Test(peer_tickets, expired_and_unknown_key_refused_new_key_learnt)
{
	uint8_t		 sha[20], id[8], t[TICKET_MAX_BIN];
	char		 text[WIRE_MAX_ERROR + 1];
	EVP_PKEY	*key;
	size_t		 n;
	int		 fd, k, ty = -1;

	share(0, "e.bin", 200000, 5);
	fd = tracker_session(0, "bob", "pb");
	file_sha1(fd, "g", "e.bin", sha);
	close(fd);
	/* Signed by a key no tracker has: never accepted. */
	cr_assert_not_null(key = ticket_keygen(t));
	ticket_keyid(t, id);
	n = sign(key, id, sha, "g", (uint64_t)time(NULL) + 600, t);
	REFUSED("unknown key", sha, t, n);
	EVP_PKEY_free(key);

	/* A key the trackers journaled after the seeder logged in. */
	key = third_tracker_key(id);
	n = sign(key, id, sha, "g", (uint64_t)time(NULL) + 600, t);
	for (k = 0; k < 40 && ty != WIRE_BITFIELD; k++) {
		sw_sleep_ms(250);
		ty = hello(0, sha, t, n, text);	/* refreshed at most every 5 s */
	}
	cr_assert_eq(ty, WIRE_BITFIELD, "a new tracker key is learnt: %s", text);
	n = sign(key, id, sha, "g", (uint64_t)time(NULL) - TICKET_SKEW - 5, t);
	REFUSED("expired", sha, t, n);
	n = sign(key, id, sha, "g", (uint64_t)time(NULL) - TICKET_SKEW + 30, t);
	cr_assert_eq(hello(0, sha, t, n, text), WIRE_BITFIELD,
	    "within the clock-skew allowance: %s", text);
	EVP_PKEY_free(key);
}

Test(peer_tickets, download_with_tickets_from_either_tracker)
{
	char	 path[PATH_MAX + 64], out[PATH_MAX + 64], *r;
	int	 fd, i, nl = 0;

	fd = h_connect(SW.tport[1]);
	cr_assert_not_null(r = h_request(fd, "keys"));
	for (i = 0; r[i]; i++)
		nl += r[i] == '\n';
	cr_assert(strncmp(r, "OK 2\n", 5) == 0 && nl == 4,
	    "both trackers' keys: %s", r);
	free(r);
	close(fd);

	share(0, "big.bin", 3 * 524288 + 1000, 6);
	SC(0, 1, "download_file g big.bin %s", dl);
	SC(0, 1, "wait g big.bin");
	snprintf(path, sizeof(path), "%s/big.bin", src);
	snprintf(out, sizeof(out), "%s/big.bin", dl);
	cr_assert(h_same_file(path, out));

	/* Tracker 1 gone: carol's ticket comes from tracker 2's key. */
	cr_assert_eq(h_stop(&SW.trk[0], SIGTERM, 5000), 0);
	share(0, "second.bin", 2 * 524288, 7);
	SC(0, 2, "download_file g second.bin %s", dl);
	SC(0, 2, "wait g second.bin");
	snprintf(path, sizeof(path), "%s/second.bin", src);
	snprintf(out, sizeof(out), "%s/second.bin", dl);
	cr_assert(h_same_file(path, out));
}

static ssize_t
get_piece(int i, const char *name, unsigned idx)
{
	char	buf[65536], line[128];
	ssize_t	n, total = 0;
	int	fd;

	cr_assert_neq(fd = h_connect(SW.pport[i]), -1);
	snprintf(line, sizeof(line), "GET_PIECE %s %u\n", name, idx);
	cr_assert_eq(send(fd, line, strlen(line), MSG_NOSIGNAL),
	    (ssize_t)strlen(line));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += n;
	close(fd);
	return total;
}

Test(peer_tickets, get_piece_served_only_with_option)
{
	char	path[PATH_MAX + 64];

	sw_restart_peer_get_piece(2);
	SC(0, 2, "login carol pc");
	share(2, "open.bin", 600000, 8);
	cr_assert_eq(get_piece(2, "open.bin", 0), 524288);
	cr_assert_eq(get_piece(2, "open.bin", 1), 600000 - 524288);
	cr_assert_eq(get_piece(2, "open.bin", 2), 0);
	cr_assert_eq(get_piece(1, "open.bin", 0), 0, "peer 1 lacks -g");

	/* The same name in a second group with other content: neither. */
	SC(0, 2, "create_group g2");
	snprintf(path, sizeof(path), "%s/other", SW.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/other/open.bin", SW.dir);
	h_random_file(path, 1000, 9);
	SC(0, 2, "upload_file %s g2", path);
	cr_assert_eq(get_piece(2, "open.bin", 0), 0,
	    "a name shared with two contents is refused");
}

/* A seeder's replies, read in order from a raw connection. */
struct reader {
	int	fd;
	uint8_t	buf[65536];
	size_t	len;
};

static int
reader_fill(struct reader *r)
{
	ssize_t	n;

	cr_assert_lt(r->len, sizeof(r->buf), "a message larger than 64 KiB");
	if ((n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0)) <= 0)
		return -1;
	r->len += (size_t)n;
	return 0;
}

static void
reader_consume(struct reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* The next message's type (a PIECE's data read and dropped), its a, and
 * an ERROR's text; -1 when the seeder closed. */
static int
reader_next(struct reader *r, uint32_t *a, char text[WIRE_MAX_ERROR + 1])
{
	struct wire_msg	m;
	uint64_t	left;
	int		n;

	while ((n = wire_parse(r->buf, r->len, WIRE_TO_CLIENT, &m)) == 0)
		if (reader_fill(r) == -1)
			return -1;
	cr_assert_gt(n, 0, "a malformed message from the seeder");
	*a = m.a;
	if (m.type == WIRE_ERROR)
		snprintf(text, WIRE_MAX_ERROR + 1, "%.*s", (int)m.len,
		    (const char *)m.payload);
	reader_consume(r, (size_t)n);
	for (left = m.type == WIRE_PIECE ? m.len : 0; left > 0; ) {
		if (r->len == 0)
			cr_assert_eq(reader_fill(r), 0, "closed mid-piece");
		n = (int)(left < r->len ? left : r->len);
		reader_consume(r, (size_t)n);
		left -= (uint64_t)n;
	}
	return (int)m.type;
}

/* The next message other than a HAVE or PEERS (super-seeding, exchange). */
static int
reader_next_main(struct reader *r, uint32_t *a, char text[WIRE_MAX_ERROR + 1])
{
	int	ty;

	while ((ty = reader_next(r, a, text)) == WIRE_HAVE || ty == WIRE_PEERS)
		;
	return ty;
}

static void
request_piece(int fd, uint32_t i)
{
	uint8_t	m[WIRE_HDR_LEN];

	wire_hdr(m, WIRE_REQUEST, i, 0);
	cr_assert_eq(send(fd, m, sizeof(m), MSG_NOSIGNAL), (ssize_t)sizeof(m));
}

/* A ticket is checked again before every piece: the connection it opened
 * is cut, with the reason, once it expired (the clock-skew allowance
 * included), even though HELLO accepted it. */
Test(peer_tickets, ticket_expiring_mid_connection_cuts_it)
{
	static struct reader	 rd;
	uint8_t			 sha[20], id[8], t[TICKET_MAX_BIN];
	char			 text[WIRE_MAX_ERROR + 1] = "";
	EVP_PKEY		*key;
	uint64_t		 expires;
	uint32_t		 a;
	size_t			 n;
	int			 fd, k, ty = -1;

	share(0, "long.bin", 3 * 524288, 10);
	fd = tracker_session(0, "bob", "pb");
	file_sha1(fd, "g", "long.bin", sha);
	close(fd);
	/* a key of our own, so that the expiry can be seconds away */
	key = third_tracker_key(id);
	n = sign(key, id, sha, "g", (uint64_t)time(NULL) + 600, t);
	for (k = 0; k < 40 && ty != WIRE_BITFIELD; k++) {
		sw_sleep_ms(250);
		ty = hello(0, sha, t, n, text);
	}
	cr_assert_eq(ty, WIRE_BITFIELD, "the key is learnt: %s", text);
	expires = (uint64_t)time(NULL) - TICKET_SKEW + 2;
	n = sign(key, id, sha, "g", expires, t);
	EVP_PKEY_free(key);

	cr_assert_neq(fd = h_connect(SW.pport[0]), -1);
	send_hello(fd, sha, t, n);
	request_piece(fd, 0);
	rd.fd = fd;
	while (rd.len < WIRE_MAGIC_LEN)
		cr_assert_eq(reader_fill(&rd), 0, "closed before its magic");
	cr_assert_eq(memcmp(rd.buf, WIRE_MAGIC, WIRE_MAGIC_LEN), 0);
	reader_consume(&rd, WIRE_MAGIC_LEN);
	cr_assert_eq(reader_next_main(&rd, &a, text), WIRE_BITFIELD, "%s", text);
	ty = reader_next_main(&rd, &a, text);
	cr_assert(ty == WIRE_PIECE && a == 0, "piece 0 while the ticket holds "
	    "(type %d: %s)", ty, text);

	for (k = 0; k < 100 && !ticket_expired(expires, (uint64_t)time(NULL));
	    k++)
		sw_sleep_ms(100);
	cr_assert(ticket_expired(expires, (uint64_t)time(NULL)));
	request_piece(fd, 1);
	ty = reader_next_main(&rd, &a, text);
	cr_assert_eq(ty, WIRE_ERROR, "piece 1 after expiry: type %d", ty);
	cr_assert_str_eq(text, "ticket expired");
	cr_assert_eq(reader_next(&rd, &a, text), -1, "still open after it");
	close(fd);
}

/* -o ticket_lifetime sets how long the tracker's tickets are good for. */
Test(peer_tickets, ticket_lifetime_option)
{
	char	 no[] = "1", log[PATH_MAX + 32], *r, *sp;
	char	*argv[] = { "trackerd/trackerd", "-f", "-k", "1000", "-w", "1",
	    "-o", SW_CAPS, "-o", "ticket_lifetime=30", "-l", SW.journal,
	    SW.info, no, NULL };
	uint64_t now, expires;
	int	 fd;

	share(0, "life.bin", 1000, 11);
	cr_assert_eq(h_stop(&SW.trk[0], SIGTERM, 5000), 0);
	snprintf(log, sizeof(log), "%s/trackerd1-lifetime.log", SW.dir);
	cr_assert_eq(h_spawn_tied(&SW.trk[0], argv, NULL, log), 0);
	cr_assert_eq(h_wait_port(SW.tport[0], 10000), 0);
	fd = tracker_session(0, "bob", "pb");
	now = (uint64_t)time(NULL);
	cr_assert_not_null(r = h_request(fd, "ticket g life.bin"));
	cr_assert(strncmp(r, "OK ", 3) == 0, "%s", r);
	cr_assert_not_null(sp = strchr(r + 3, ' '));
	expires = strtoull(sp + 1, NULL, 10);
	cr_assert(expires >= now + 29 && expires <= now + 31,
	    "expires %llu, %llu s from now", (unsigned long long)expires,
	    (unsigned long long)(expires - now));
	free(r);
	close(fd);
}
