/* libFuzzer harness for peerd's one parser of tracker replies
 * (peerd/tproto.c): the typed reply, the refusal text shown to the user,
 * the login token, list rows and the download_file answer.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peerd/tproto.h"

static void
row(void *arg, char **w, int n)
{
	int	*rows = arg, i;

	if (n < 1 || n > 4)
		abort();
	for (i = 0; i < n; i++)
		if (w[i] == NULL)
			abort();
	(*rows)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct treply	 r;
	struct tfile	 f;
	struct endpoint	 eps[8];
	const char	*msg;
	char		 tok[32], *text;
	int		 rows = 0, np;

	/* peerd's reply buffer is NUL-terminated after the reply */
	if ((text = malloc(n + 1)) == NULL)
		return 0;
	memcpy(text, data, n);
	text[n] = '\0';
	tproto_parse(text, n, &r);
	if (r.kind == TREPLY_OK && (r.ok < text || r.ok + r.oklen > text + n))
		abort();
	if ((msg = tproto_message(&r)) == NULL ||
	    strnlen(msg, sizeof(r.text)) == sizeof(r.text))
		abort();
	if (tproto_login_token(&r, tok, sizeof(tok)) == 0 &&
	    strnlen(tok, sizeof(tok)) == sizeof(tok))
		abort();
	(void)tproto_rows(&r, 4, row, &rows);
	if (tproto_file(&r, &f, eps, 8, &np) == 0) {
		if (np < 0 || np > 8)
			abort();
		free(f.piece_sha1);
	}
	free(text);
	return 0;
}
