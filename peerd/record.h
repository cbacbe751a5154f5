/* The text codec of peerd's records, written once: the share and resume
 * files ("key value" lines, one hex piece hash per line) and the words of
 * a tracker answer. Pure; texts are split in place. */
#ifndef PEERD_RECORD_H
#define PEERD_RECORD_H

#include <stdint.h>

#include "ipc/proto.h"

/* Next '\n'-terminated line of *p; NULL at the end or on a torn line. */
char	*rec_line(char **p);
/* Next word of *p (split on spaces, '\r' and '\n'); NULL at the end. */
char	*rec_word(char **p);
/* The value of "key value" in line (may be ""), or NULL. */
char	*rec_field(char *line, const char *key);
/* Allocate n piece hashes in *out and read them, one token each, with
 * next (rec_line or rec_word). On -1 the caller frees *out. */
int	rec_get_hashes(char **p, uint32_t n, uint8_t (**out)[SHA1_LEN],
	    char *(*next)(char **));
/* Append n hashes in hex, each preceded by sep ("\n"-terminated lines
 * when sep is NULL). */
int	rec_put_hashes(struct buf *, uint8_t (*h)[SHA1_LEN], uint32_t n,
	    const char *sep);

#endif
