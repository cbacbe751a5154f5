/* libFuzzer harness for the control protocol (ipc/ctl.c): request and
 * reply lines as peerd and sharectl read them, the escaping round trip, and
 * the cleaning of what sharectl prints (ipc/text.c).
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ctl.h"
#include "ipc/text.h"

/* Every field written with ctl_put_field must come back unchanged. */
static void
roundtrip(const char *s)
{
	struct buf	 b;
	char		*f[2];

	buf_init(&b, 2 * CTL_MAX_LINE + 16);
	if (ctl_put_field(&b, s, 1) == 0 && buf_append(&b, "", 1) == 0) {
		if (strchr(buf_head(&b), '\t') || strchr(buf_head(&b), '\n'))
			abort();
		if (ctl_split(buf_head(&b), f, 2) != 1 || strcmp(f[0], s) != 0)
			abort();
	}
	buf_free(&b);
}

/* What sharectl prints of an answer: same length, no control byte. */
static void
cleaned(const uint8_t *data, size_t n)
{
	char	*s;
	size_t	 i, len;

	if ((s = malloc(n + 1)) == NULL)
		return;
	text_clean_copy(data, n, s, n + 1);
	len = strlen(s);
	if (len != strnlen((const char *)data, n))
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct ctl_request	 req;
	struct ctl_reply	 rep;
	char			*line, err[256];
	size_t			 i;

	if (n > CTL_MAX_LINE)
		return 0;
	if ((line = malloc(n + 1)) == NULL)
		return 0;
	memcpy(line, data, n);
	line[n] = '\0';
	roundtrip(line);
	cleaned(data, n);
	memcpy(line, data, n);
	if (ctl_parse_request(line, &req, err, sizeof(err)) == 0) {
		if (req.cmd == NULL || req.argc != req.cmd->argc)
			abort();
		for (i = 0; i < (size_t)req.argc; i++)
			if (req.argv[i] == NULL)
				abort();
	}
	memcpy(line, data, n);
	line[n] = '\0';
	if (ctl_parse_reply(line, &rep) == 0 && rep.kind == CTL_RECORD)
		for (i = 0; i < (size_t)rep.nfields; i++)
			(void)ctl_get(&rep, rep.key[i]);
	free(line);
	return 0;
}
