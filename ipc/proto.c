/* Bounded buffers, line framing and strict parsing of words, numbers and
 * hex: the one place where bytes from a socket become typed values. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/proto.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->off = b->cap = 0;
}

void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	if (b->off < b->len)
		memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 need, ncap;
	char	*n;

	if (b->len + more <= b->cap)
		return 0;
	buf_compact(b);
	if (b->len + more <= b->cap)
		return 0;
	need = b->len + more;
	if (need > b->max || need < b->len) {
		errno = ENOBUFS;
		return -1;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	if ((n = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = n;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;	/* p may be NULL; memcpy must not see it */
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;
	size_t	room;

	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < room) {
		b->len += n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n + 1) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

int
buf_getline(struct buf *b, size_t maxline, char **line, size_t *linelen)
{
	char	*start = buf_head(b), *nl;
	size_t	 avail = buf_avail(b), n;

	if (avail == 0)
		return 0;
	nl = memchr(start, '\n', avail);
	if (nl == NULL)
		return avail > maxline ? -1 : 0;
	n = nl - start;
	if (n > maxline)
		return -1;
	b->off += n + 1;
	*nl = '\0';
	if (n > 0 && start[n - 1] == '\r')
		start[--n] = '\0';
	*line = start;
	*linelen = n;
	return 1;
}

int
proto_split(char *line, char **argv, int maxv)
{
	int	 argc = 0;
	char	*p = line;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return argc;
		if (argc == maxv)
			return -1;
		argv[argc++] = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == '\0')
			return argc;
		*p++ = '\0';
	}
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	const char	*p;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_port(const char *s, uint16_t *out)
{
	uint64_t	v;

	if (parse_u64(s, 1, 65535, &v) == -1)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
hex_decode(const char *in, uint8_t *out, size_t outmax)
{
	size_t	n = strlen(in), i;
	int	hi, lo;

	if (n % 2 != 0 || n / 2 > outmax)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hexval((unsigned char)in[2 * i])) < 0 ||
		    (lo = hexval((unsigned char)in[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(n / 2);
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t	i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
hex_to_sha1(const char *hex, uint8_t out[SHA1_LEN])
{
	if (strlen(hex) != SHA1_HEX_LEN)
		return -1;
	return hex_decode(hex, out, SHA1_LEN) == SHA1_LEN ? 0 : -1;
}

void
sha1_to_hex(const uint8_t in[SHA1_LEN], char out[SHA1_HEX_LEN + 1])
{
	hex_encode(in, SHA1_LEN, out);
}
