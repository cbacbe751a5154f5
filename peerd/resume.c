/* Text forms of a download's resume files, strict both ways: a file we
 * cannot fully parse is ignored (logged by the caller), never half used. */
#include <stdlib.h>
#include <string.h>

#include "ipc/ctl.h"

#include "ipc/pieces.h"
#include "peerd/bitfield.h"
#include "peerd/record.h"
#include "peerd/resume.h"
#include "peerd/wire.h"

#define META_MAGIC	"p2pshare-download 1"
#define HAVE_MAGIC	"p2pshare-have 1"
#define STATE_MAGIC	"p2pshare-state 1"

int
resume_meta_format(const struct resume_meta *m, struct buf *out)
{
	char		hex[SHA1_HEX_LEN + 1];

	if (strchr(m->dest, '\n') != NULL)
		return -1;
	sha1_to_hex(m->sha1, hex);
	if (buf_printf(out, "%s\ngroup %s\nname %s\ndest %s\nsize %llu\n"
	    "sha1 %s\npieces %u\n", META_MAGIC, m->group, m->name, m->dest,
	    (unsigned long long)m->size, hex, m->npieces) == -1)
		return -1;
	if (rec_put_hashes(out, m->piece_sha1, m->npieces, NULL) == -1)
		return -1;
	return buf_printf(out, "end\n");
}

/* "key value" with value copied into out (outlen bytes); 0 or -1. */
static int
keyed(char **p, const char *key, char *out, size_t outlen)
{
	char	*v;

	if ((v = rec_field(rec_line(p), key)) == NULL || *v == '\0')
		return -1;
	return strlcpy(out, v, outlen) < outlen ? 0 : -1;
}

static int
meta_header(char **p, struct resume_meta *m)
{
	char		*l, num[32], hex[SHA1_HEX_LEN + 1];
	uint64_t	 v;

	if ((l = rec_line(p)) == NULL || strcmp(l, META_MAGIC) != 0)
		return -1;
	if (keyed(p, "group", m->group, sizeof(m->group)) == -1 ||
	    !name_valid(m->group) ||
	    keyed(p, "name", m->name, sizeof(m->name)) == -1 ||
	    !name_valid(m->name) ||
	    keyed(p, "dest", m->dest, sizeof(m->dest)) == -1 ||
	    m->dest[0] != '/')
		return -1;
	if (keyed(p, "size", num, sizeof(num)) == -1 ||
	    parse_u64(num, 0, (uint64_t)WIRE_MAX_PIECES * PIECE_SIZE,
	    &m->size) == -1)
		return -1;
	if (keyed(p, "sha1", hex, sizeof(hex)) == -1 ||
	    hex_to_sha1(hex, m->sha1) == -1)
		return -1;
	if (keyed(p, "pieces", num, sizeof(num)) == -1 ||
	    parse_u64(num, 0, WIRE_MAX_PIECES, &v) == -1 ||
	    v != pieces_count(m->size))
		return -1;
	m->npieces = (uint32_t)v;
	return 0;
}

int
resume_meta_parse(char *text, struct resume_meta *m)
{
	char		*p = text, *l;

	memset(m, 0, sizeof(*m));
	if (meta_header(&p, m) == -1)
		return -1;
	if (rec_get_hashes(&p, m->npieces, &m->piece_sha1, rec_line) == -1)
		goto fail;
	if ((l = rec_line(&p)) == NULL || strcmp(l, "end") != 0 || *p != '\0')
		goto fail;
	return 0;
fail:
	free(m->piece_sha1);
	m->piece_sha1 = NULL;
	return -1;
}

int
resume_have_format(const uint8_t *bits, uint32_t n, struct buf *out)
{
	size_t	nb = bf_bytes(n);
	char	*hex;
	int	 r;

	if ((hex = malloc(2 * nb + 1)) == NULL)
		return -1;
	hex_encode(bits, nb, hex);
	r = buf_printf(out, "%s %u %s\n", HAVE_MAGIC, n, nb ? hex : "-");
	free(hex);
	return r;
}

static int
decode_bits(const char *p, size_t nb, uint8_t *bits)
{
	char	*hex;
	int	 r;

	if ((hex = strndup(p, 2 * nb)) == NULL)
		return -1;
	r = hex_decode(hex, bits, nb) == (ssize_t)nb ? 0 : -1;
	free(hex);
	return r;
}

int
resume_have_parse(const char *text, uint32_t n, uint8_t *bits)
{
	char		 num[16];
	const char	*p, *sp, *end;
	size_t		 k = strlen(HAVE_MAGIC), nb = bf_bytes(n);
	uint64_t	 v;

	if (strncmp(text, HAVE_MAGIC, k) != 0 || text[k] != ' ')
		return -1;
	p = text + k + 1;
	if ((sp = strchr(p, ' ')) == NULL || (size_t)(sp - p) >= sizeof(num))
		return -1;
	memcpy(num, p, (size_t)(sp - p));
	num[sp - p] = '\0';
	if (parse_u64(num, 0, WIRE_MAX_PIECES, &v) == -1 || v != n)
		return -1;
	p = sp + 1;
	if ((end = strchr(p, '\n')) == NULL || end[1] != '\0')
		return -1;
	if (nb == 0)
		return (end - p == 1 && *p == '-') ? 0 : -1;
	if ((size_t)(end - p) != 2 * nb)
		return -1;
	return decode_bits(p, nb, bits) == 0 && bf_tail_clear(bits, n) ? 0 : -1;
}

static const char *const status_names[] = {
	[RS_RUNNING] = "running",
	[RS_PAUSED] = "paused",
	[RS_FAILED] = "failed",
	[RS_KEPT] = "kept",
};

/* A reason is one line of printable text (it came from the network). */
static void
one_line(const char *in, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ?
		    '?' : in[i];
	out[i] = '\0';
}

int
resume_state_format(const struct resume_state *st, struct buf *out)
{
	char	reason[sizeof(st->reason)];

	one_line(st->reason, reason, sizeof(reason));
	return buf_printf(out, "%s\nstatus %s\nseq %llu\nreason %s\nend\n",
	    STATE_MAGIC, status_names[st->status],
	    (unsigned long long)st->seq, reason);
}

int
resume_state_parse(char *text, struct resume_state *st)
{
	char	*p = text, *l, *v, num[24];
	size_t	 i;

	memset(st, 0, sizeof(*st));
	if ((l = rec_line(&p)) == NULL || strcmp(l, STATE_MAGIC) != 0)
		return -1;
	if ((v = rec_field(rec_line(&p), "status")) == NULL)
		return -1;
	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(v, status_names[i]) == 0)
			break;
	if (i == sizeof(status_names) / sizeof(status_names[0]))
		return -1;
	st->status = (enum resume_status)i;
	if (keyed(&p, "seq", num, sizeof(num)) == -1 ||
	    parse_u64(num, 0, UINT64_MAX, &st->seq) == -1)
		return -1;
	if ((v = rec_field(rec_line(&p), "reason")) == NULL ||
	    strlcpy(st->reason, v, sizeof(st->reason)) >= sizeof(st->reason))
		return -1;
	if ((l = rec_line(&p)) == NULL || strcmp(l, "end") != 0 || *p != '\0')
		return -1;
	return 0;
}

int
history_format(const struct history_entry *h, struct buf *out)
{
	char	reason[sizeof(h->reason)];

	if (strchr(h->dest, '\n') != NULL || strchr(h->dest, '\t') != NULL)
		return -1;
	one_line(h->reason, reason, sizeof(reason));
	if (buf_printf(out, "%s\t%s\t%s\t%s\t%llu\t%llu\t",
	    h->failed ? "failed" : "complete", h->group, h->name, h->dest,
	    (unsigned long long)h->size, (unsigned long long)h->when) == -1 ||
	    ctl_put_field(out, reason, 1) == -1)
		return -1;
	return buf_append(out, "\n", 1);
}

int
history_parse(char *line, struct history_entry *h)
{
	char	*f[8];

	memset(h, 0, sizeof(*h));
	if (ctl_split(line, f, 8) != 7)
		return -1;
	if (strcmp(f[0], "failed") == 0)
		h->failed = 1;
	else if (strcmp(f[0], "complete") != 0)
		return -1;
	if (!name_valid(f[1]) || !name_valid(f[2]) || f[3][0] != '/' ||
	    strlcpy(h->group, f[1], sizeof(h->group)) >= sizeof(h->group) ||
	    strlcpy(h->name, f[2], sizeof(h->name)) >= sizeof(h->name) ||
	    strlcpy(h->dest, f[3], sizeof(h->dest)) >= sizeof(h->dest) ||
	    parse_u64(f[4], 0, UINT64_MAX, &h->size) == -1 ||
	    parse_u64(f[5], 0, UINT64_MAX, &h->when) == -1 ||
	    strlcpy(h->reason, f[6], sizeof(h->reason)) >= sizeof(h->reason))
		return -1;
	return 0;
}
