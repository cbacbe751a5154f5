/* Text from the network made safe to print: one cleaner for sharectl's
 * output and every daemon log line, so no peer or tracker drives a terminal. */
#include <string.h>

#include "ipc/text.h"

/*
 * Length of the well-formed UTF-8 sequence at p (2 to 4 bytes) that
 * encodes a printable code point, or 0: overlong forms, surrogates,
 * code points past U+10FFFF and the C1 controls all give 0.
 */
static size_t
utf8_printable(const unsigned char *p)
{
	unsigned	cp, need, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 1 && cp < 0xa0) || (need == 2 && cp < 0x800) ||
	    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

char *
text_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n;

	while (*p != '\0') {
		if (*p >= 0x20 && *p < 0x7f) {
			p++;
			continue;
		}
		if (*p >= 0x80 && (n = utf8_printable(p)) > 0) {
			p += n;
			continue;
		}
		*p++ = TEXT_REPLACEMENT;
	}
	return s;
}

char *
text_clean_copy(const void *in, size_t n, char *out, size_t outlen)
{
	const char	*nul;

	if (outlen == 0)
		return out;
	if ((nul = memchr(in, '\0', n)) != NULL)
		n = (size_t)(nul - (const char *)in);
	if (n > outlen - 1)
		n = outlen - 1;
	memcpy(out, in, n);
	out[n] = '\0';
	return text_clean(out);
}
