/* The tracker protocol on peerd's side, pure: every request line peerd
 * sends is formatted here and every reply is parsed here, once. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/record.h"
#include "peerd/tproto.h"
#include "peerd/wire.h"

/* ---- replies ---- */

void
tproto_none(struct treply *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = TREPLY_NONE;
	r->ok = "";
}

/* "ERR <reason> <text>" (or any reply not OK): the reason word and the
 * first line of the text, both bounded. */
static void
parse_err(const char *p, size_t len, struct treply *r)
{
	const char	*end = p + len, *text;
	size_t		 n;

	if (len >= 4 && strncmp(p, "ERR ", 4) == 0)
		p += 4;
	for (n = 0; p + n < end && p[n] != ' ' && p[n] != '\n'; n++)
		;
	snprintf(r->reason, sizeof(r->reason), "%.*s",
	    (int)(n < sizeof(r->reason) - 1 ? n : sizeof(r->reason) - 1), p);
	for (text = p + n; text < end && *text == ' '; text++)
		;
	for (n = 0; text + n < end && text[n] != '\n'; n++)
		;
	snprintf(r->text, sizeof(r->text), "%.*s",
	    (int)(n < sizeof(r->text) - 1 ? n : sizeof(r->text) - 1), text);
}

void
tproto_parse(const char *reply, size_t len, struct treply *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = "";
	if (len >= 2 && strncmp(reply, "OK", 2) == 0 && (len == 2 ||
	    reply[2] == ' ' || reply[2] == '\n')) {
		r->kind = TREPLY_OK;
		r->ok = reply + (len > 2 ? 3 : 2);
		r->oklen = len > 2 ? len - 3 : 0;
		return;
	}
	r->kind = TREPLY_ERR;
	parse_err(reply, len, r);
}

int
tproto_is(const struct treply *r, const char *reason)
{
	return r->kind == TREPLY_ERR && strcmp(r->reason, reason) == 0;
}

const char *
tproto_message(const struct treply *r)
{
	if (r->kind == TREPLY_NONE)
		return "no tracker reachable";
	if (r->text[0] != '\0')
		return r->text;
	return r->reason[0] != '\0' ? r->reason : "refused by the tracker";
}

int
tproto_login_token(const struct treply *r, char *tok, size_t toklen)
{
	char	 copy[128], *w[4];
	int	 n;

	if (r->kind != TREPLY_OK || r->oklen >= sizeof(copy))
		return -1;
	memcpy(copy, r->ok, r->oklen);
	copy[r->oklen] = '\0';
	n = proto_split(copy, w, 4);
	if (n < 2 || strcmp(w[0], "login_success") != 0 ||
	    strlcpy(tok, w[1], toklen) >= toklen)
		return -1;
	return 0;
}

int
tproto_rows(const struct treply *r, int maxw,
    void (*fn)(void *, char **, int), void *arg)
{
	char	*copy, *line, *save, *w[8];
	int	 n, first = 1;

	if (r->kind != TREPLY_OK || maxw > 8)
		return -1;
	if ((copy = strndup(r->ok, r->oklen)) == NULL)
		return -1;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (first) {		/* "<count>" */
			first = 0;
			continue;
		}
		if ((n = proto_split(line, w, maxw)) < 1)
			continue;
		fn(arg, w, n);
	}
	free(copy);
	return 0;
}

/* ---- download_file's answer ---- */

static int
file_head(char **p, struct tfile *f)
{
	char		*w;
	uint64_t	 v;

	if ((w = rec_word(p)) == NULL ||
	    parse_u64(w, 0, (uint64_t)WIRE_MAX_PIECES * PIECE_SIZE, &f->size) == -1)
		return -1;
	if ((w = rec_word(p)) == NULL || hex_to_sha1(w, f->sha1) == -1)
		return -1;
	if ((w = rec_word(p)) == NULL ||
	    parse_u64(w, 0, WIRE_MAX_PIECES, &v) == -1 ||
	    v != pieces_count(f->size))
		return -1;
	f->npieces = (uint32_t)v;
	return 0;
}

static int
file_peers(char **p, struct endpoint *peers, int maxpeers, int *npeers)
{
	char		*w;
	uint64_t	 i, npeer;

	if ((w = rec_word(p)) == NULL || parse_u64(w, 0, 1u << 20, &npeer) == -1)
		return -1;
	for (i = 0; i < npeer; i++) {
		if ((w = rec_word(p)) == NULL || strchr(w, ':') == NULL)
			return -1;
		if (*npeers < maxpeers && endpoint_parse(w, &peers[*npeers]) == 0)
			(*npeers)++;
		else if (*npeers < maxpeers)
			return -1;
	}
	return rec_word(p) == NULL ? 0 : -1;
}

/* After "OK": the words of the answer. */
static int
file_words(char *p, struct tfile *f, struct endpoint *peers, int maxpeers,
    int *npeers)
{
	*npeers = 0;
	f->piece_sha1 = NULL;
	if (file_head(&p, f) == -1)
		return -1;
	if (rec_get_hashes(&p, f->npieces, &f->piece_sha1, rec_word) == -1 ||
	    file_peers(&p, peers, maxpeers, npeers) == -1) {
		free(f->piece_sha1);
		f->piece_sha1 = NULL;
		*npeers = 0;
		return -1;
	}
	return 0;
}

int
tproto_file(const struct treply *r, struct tfile *f,
    struct endpoint *peers, int maxpeers, int *npeers)
{
	char	*copy;
	int	 rc;

	*npeers = 0;
	f->piece_sha1 = NULL;
	if (r->kind != TREPLY_OK || (copy = strndup(r->ok, r->oklen)) == NULL)
		return -1;
	rc = file_words(copy, f, peers, maxpeers, npeers);
	free(copy);
	return rc;
}

int
tproto_file_text(char *text, struct tfile *f, struct endpoint *peers,
    int maxpeers, int *npeers)
{
	struct treply	r;

	tproto_parse(text, strlen(text), &r);
	return tproto_file(&r, f, peers, maxpeers, npeers);
}

/* ---- requests ---- */

int
tproto_words(struct buf *b, const char *cmd, char *const argv[], int argc)
{
	int	i;

	if (buf_printf(b, "%s", cmd) == -1)
		return -1;
	for (i = 0; i < argc; i++)
		if (buf_printf(b, " %s", argv[i]) == -1)
			return -1;
	return 0;
}

int
tproto_login(struct buf *b, const char *user, const char *password)
{
	return buf_printf(b, "login %s %s", user, password);
}

int
tproto_request(struct buf *b, const char *user, const char *token,
    const char *rid, const char *line)
{
	if (user != NULL &&
	    buf_printf(b, "session %s %s ", user, token) == -1)
		return -1;
	if (rid != NULL && buf_printf(b, "rid %s ", rid) == -1)
		return -1;
	return buf_printf(b, "%s", line);
}

int
tproto_changes(const char *line)
{
	static const char *const reads[] = { "list_groups", "list_files",
	    "list_requests", "download_file", "touch", "ticket", "keys", NULL };
	size_t	n;
	int	i;

	for (i = 0; reads[i] != NULL; i++) {
		n = strlen(reads[i]);
		if (strncmp(line, reads[i], n) == 0 &&
		    (line[n] == ' ' || line[n] == '\0'))
			return 0;
	}
	return 1;
}

void
tproto_new_rid(char rid[TPROTO_RID_LEN + 1])
{
	uint8_t	raw[TPROTO_RID_LEN / 2];

	arc4random_buf(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), rid);
}

static const char *
self_ip(const struct endpoint *self, char ip[IP_TEXT_LEN])
{
	struct ipaddr	addr;

	endpoint_ip(self, &addr);
	return ipaddr_text(&addr, ip);
}

/* "upload_file G N SIZE IP PORT SHA1 N H1 ... HN" */
int
tproto_upload(struct buf *b, const char *group, const char *name,
    uint64_t size, const struct endpoint *self, const uint8_t sha1[SHA1_LEN],
    uint32_t n, uint8_t (*pieces)[SHA1_LEN])
{
	char	hex[SHA1_HEX_LEN + 1], ip[IP_TEXT_LEN];

	sha1_to_hex(sha1, hex);
	if (buf_printf(b, "upload_file %s %s %llu %s %u %s %u", group, name,
	    (unsigned long long)size, self_ip(self, ip),
	    endpoint_port(self), hex, n) == -1)
		return -1;
	return rec_put_hashes(b, pieces, n, " ");
}

int
tproto_stop_share(struct buf *b, const char *group, const char *name,
    const struct endpoint *self)
{
	char	ip[IP_TEXT_LEN];

	return buf_printf(b, "stop_share %s %s %s %u", group, name,
	    self_ip(self, ip), endpoint_port(self));
}

int
tproto_download(struct buf *b, const char *group, const char *name)
{
	return buf_printf(b, "download_file %s %s", group, name);
}

int
tproto_upload_partial(struct buf *b, const char *group, const char *name,
    uint64_t size, const struct endpoint *self, const uint8_t sha1[SHA1_LEN],
    uint32_t n, uint8_t (*pieces)[SHA1_LEN])
{
	if (tproto_upload(b, group, name, size, self, sha1, n, pieces) == -1)
		return -1;
	return buf_printf(b, " partial");
}

int
tproto_download_partial(struct buf *b, const char *group, const char *name)
{
	return buf_printf(b, "download_file %s %s partial", group, name);
}

int
tproto_ticket_req(struct buf *b, const char *group, const char *name)
{
	return buf_printf(b, "ticket %s %s", group, name);
}

/* ---- tickets and keys ---- */

int
tproto_ticket(const struct treply *r, uint8_t bin[TICKET_MAX_BIN],
    size_t *len, uint64_t *expires)
{
	char		 copy[TICKET_MAX_HEX + 32], *w[3];
	struct ticket	 t;
	ssize_t		 n;

	if (r->kind != TREPLY_OK || r->oklen >= sizeof(copy))
		return -1;
	memcpy(copy, r->ok, r->oklen);
	copy[r->oklen] = '\0';
	if (proto_split(copy, w, 3) != 2 ||
	    parse_u64(w[1], 1, UINT64_MAX, expires) == -1 ||
	    strlen(w[0]) % 2 != 0 || strlen(w[0]) > TICKET_MAX_HEX ||
	    (n = hex_decode(w[0], bin, TICKET_MAX_BIN)) <= 0 ||
	    (size_t)n * 2 != strlen(w[0]) ||
	    ticket_decode(bin, (size_t)n, &t) == -1 || t.expires != *expires)
		return -1;
	*len = (size_t)n;
	return 0;
}

struct keys_acc {
	struct ticket_key	*keys;
	size_t			 max, n;
	int			 bad;
};

static void
key_row(void *arg, char **w, int n)
{
	struct keys_acc		*a = arg;
	struct ticket_key	 k;
	uint8_t			 id[TICKET_KEYID_LEN];

	if (n != 2 || strlen(w[0]) != 2 * TICKET_KEYID_LEN ||
	    strlen(w[1]) != 2 * TICKET_PUB_LEN ||
	    hex_decode(w[0], k.keyid, TICKET_KEYID_LEN) != TICKET_KEYID_LEN ||
	    hex_decode(w[1], k.pub, TICKET_PUB_LEN) != TICKET_PUB_LEN) {
		a->bad = 1;
		return;
	}
	ticket_keyid(k.pub, id);
	if (memcmp(id, k.keyid, TICKET_KEYID_LEN) != 0)
		a->bad = 1;		/* the id must be the key's */
	else if (a->n < a->max)
		a->keys[a->n++] = k;
}

int
tproto_keys(const struct treply *r, struct ticket_key *keys, size_t max,
    size_t *n)
{
	struct keys_acc	a = { .keys = keys, .max = max };

	if (tproto_rows(r, 3, key_row, &a) == -1 || a.bad)
		return -1;
	*n = a.n;
	return 0;
}
