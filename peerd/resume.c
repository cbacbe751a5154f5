/* Text forms of a download's resume files, strict both ways: a file we
 * cannot fully parse is ignored (logged by the caller), never half used. */
#include <stdlib.h>
#include <string.h>

#include "ipc/pieces.h"
#include "peerd/bitfield.h"
#include "peerd/resume.h"
#include "peerd/wire.h"

#define META_MAGIC	"p2pshare-download 1"
#define HAVE_MAGIC	"p2pshare-have 1"

int
resume_meta_format(const struct resume_meta *m, struct buf *out)
{
	char		hex[SHA1_HEX_LEN + 1];
	uint32_t	i;

	if (strchr(m->dest, '\n') != NULL)
		return -1;
	sha1_to_hex(m->sha1, hex);
	if (buf_printf(out, "%s\ngroup %s\nname %s\ndest %s\nsize %llu\n"
	    "sha1 %s\npieces %u\n", META_MAGIC, m->group, m->name, m->dest,
	    (unsigned long long)m->size, hex, m->npieces) == -1)
		return -1;
	for (i = 0; i < m->npieces; i++) {
		sha1_to_hex(m->piece_sha1[i], hex);
		if (buf_printf(out, "%s\n", hex) == -1)
			return -1;
	}
	return buf_printf(out, "end\n");
}

/* Next line of *p (split in place); NULL at the end of the text. */
static char *
next_line(char **p)
{
	char	*s = *p, *nl;

	if (s == NULL || *s == '\0')
		return NULL;
	if ((nl = strchr(s, '\n')) == NULL)
		return NULL;	/* a last line without '\n' is torn */
	*nl = '\0';
	*p = nl + 1;
	return s;
}

/* "key value" with value copied into out (outlen bytes); 0 or -1. */
static int
keyed(char **p, const char *key, char *out, size_t outlen)
{
	char	*l;
	size_t	 k = strlen(key);

	if ((l = next_line(p)) == NULL || strncmp(l, key, k) != 0 ||
	    l[k] != ' ' || l[k + 1] == '\0')
		return -1;
	return strlcpy(out, l + k + 1, outlen) < outlen ? 0 : -1;
}

static int
meta_header(char **p, struct resume_meta *m)
{
	char		*l, num[32], hex[SHA1_HEX_LEN + 1];
	uint64_t	 v;

	if ((l = next_line(p)) == NULL || strcmp(l, META_MAGIC) != 0)
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

static char	*next_word(char **);

/*
 * Allocate m->npieces piece hashes and read them, one token each, with
 * next (lines in a resume file, words in a tracker reply). On -1 the
 * caller frees m->piece_sha1.
 */
static int
read_piece_hashes(char **p, struct resume_meta *m, char *(*next)(char **))
{
	char		*w;
	uint32_t	 i;

	if ((m->piece_sha1 = calloc(m->npieces ? m->npieces : 1,
	    SHA1_LEN)) == NULL)
		return -1;
	for (i = 0; i < m->npieces; i++)
		if ((w = next(p)) == NULL || hex_to_sha1(w, m->piece_sha1[i]) == -1)
			return -1;
	return 0;
}

int
resume_meta_parse(char *text, struct resume_meta *m)
{
	char		*p = text, *l;

	memset(m, 0, sizeof(*m));
	if (meta_header(&p, m) == -1)
		return -1;
	if (read_piece_hashes(&p, m, next_line) == -1)
		goto fail;
	if ((l = next_line(&p)) == NULL || strcmp(l, "end") != 0 || *p != '\0')
		goto fail;
	return 0;
fail:
	free(m->piece_sha1);
	m->piece_sha1 = NULL;
	return -1;
}

/* Next word of *p, split on spaces and newlines; NULL at the end. */
static char *
next_word(char **p)
{
	char	*s = *p, *e;

	while (*s == ' ' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\0')
		return NULL;
	for (e = s; *e != '\0' && *e != ' ' && *e != '\n' && *e != '\r'; e++)
		;
	if (*e != '\0')
		*e++ = '\0';
	*p = e;
	return s;
}

static int
tracker_head(char **p, struct resume_meta *m)
{
	char		*w;
	uint64_t	 v;

	if ((w = next_word(p)) == NULL || strcmp(w, "OK") != 0)
		return -1;
	if ((w = next_word(p)) == NULL ||
	    parse_u64(w, 0, (uint64_t)WIRE_MAX_PIECES * PIECE_SIZE, &m->size) == -1)
		return -1;
	if ((w = next_word(p)) == NULL || hex_to_sha1(w, m->sha1) == -1)
		return -1;
	if ((w = next_word(p)) == NULL ||
	    parse_u64(w, 0, WIRE_MAX_PIECES, &v) == -1 ||
	    v != pieces_count(m->size))
		return -1;
	m->npieces = (uint32_t)v;
	return 0;
}

int
resume_parse_tracker(char *reply, struct resume_meta *m,
    struct endpoint *peers, int maxpeers, int *npeers)
{
	char		*p = reply, *w;
	uint64_t	 i, npeer;

	*npeers = 0;
	m->piece_sha1 = NULL;
	if (tracker_head(&p, m) == -1)
		return -1;
	if (read_piece_hashes(&p, m, next_word) == -1)
		goto fail;
	if ((w = next_word(&p)) == NULL || parse_u64(w, 0, 1u << 20, &npeer) == -1)
		goto fail;
	for (i = 0; i < npeer; i++) {
		if ((w = next_word(&p)) == NULL || strchr(w, ':') == NULL)
			goto fail;
		if (*npeers < maxpeers && endpoint_parse(w, &peers[*npeers]) == 0)
			(*npeers)++;
		else if (*npeers < maxpeers)
			goto fail;
	}
	if (next_word(&p) != NULL)
		goto fail;
	return 0;
fail:
	free(m->piece_sha1);
	m->piece_sha1 = NULL;
	*npeers = 0;
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
