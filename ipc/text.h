/* Text that came from the network, made safe to print on a terminal or in
 * a log: control bytes and broken UTF-8 replaced, printable text kept. */
#ifndef IPC_TEXT_H
#define IPC_TEXT_H

#include <stddef.h>

#define TEXT_REPLACEMENT	'?'

/*
 * Replace, in place, every byte of s that a terminal could act on: C0
 * controls (tab and newline included: one field, one line), DEL, the C1
 * controls U+0080..U+009F, and any byte not part of well-formed UTF-8.
 * Each such byte becomes TEXT_REPLACEMENT; the length never changes.
 * Returns s.
 */
char	*text_clean(char *s);
/* Copy at most n bytes of in (stopping at a NUL) into out[outlen],
 * cleaned, always NUL-terminated. Returns out. */
char	*text_clean_copy(const void *in, size_t n, char *out, size_t outlen);

#endif
