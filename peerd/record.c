/* The text codec of peerd's records, written once: the share and resume
 * files ("key value" lines, one hex piece hash per line) and the words of
 * a tracker answer. Pure; texts are split in place. */
#include <stdlib.h>
#include <string.h>

#include "peerd/record.h"

char *
rec_line(char **p)
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

char *
rec_word(char **p)
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

char *
rec_field(char *line, const char *key)
{
	size_t	n = strlen(key);

	if (line == NULL || strncmp(line, key, n) != 0 || line[n] != ' ')
		return NULL;
	return line + n + 1;
}

int
rec_get_hashes(char **p, uint32_t n, uint8_t (**out)[SHA1_LEN],
    char *(*next)(char **))
{
	char		*w;
	uint32_t	 i;

	if ((*out = calloc(n ? n : 1, SHA1_LEN)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((w = next(p)) == NULL || hex_to_sha1(w, (*out)[i]) == -1)
			return -1;
	return 0;
}

int
rec_put_hashes(struct buf *b, uint8_t (*h)[SHA1_LEN], uint32_t n,
    const char *sep)
{
	size_t		each = SHA1_HEX_LEN + (sep ? strlen(sep) : 1);
	uint32_t	i;

	if (buf_reserve(b, (size_t)n * each + 1) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (sep != NULL) {
			memcpy(b->data + b->len, sep, strlen(sep));
			b->len += strlen(sep);
		}
		sha1_to_hex(h[i], b->data + b->len);
		b->len += SHA1_HEX_LEN;
		if (sep == NULL)
			b->data[b->len++] = '\n';
	}
	b->data[b->len] = '\0';
	return 0;
}
