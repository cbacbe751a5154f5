/* The offer table: what this peer serves to other peers. Complete shares
 * come from the store; partial downloads are registered here by the
 * download side and updated as pieces are verified. The piece server
 * reads only this table. */
#ifndef PEERD_OFFER_H
#define PEERD_OFFER_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/proto.h"

/* One file as offered: fd and size to read pieces from, and which. */
struct offer_view {
	int		 fd;		/* open, owned by the table's owner */
	uint64_t	 size;
	uint32_t	 npieces;
	const uint8_t	*have;		/* bitfield, or NULL: every piece */
};

/* A partial download of a file of group: have (npieces bits) and fd stay
 * valid and owned by the caller until offer_withdraw(owner). 0 or -1. */
int	offer_partial(const void *owner, const uint8_t sha1[SHA1_LEN],
	    const char *group, uint64_t size, uint32_t npieces,
	    const uint8_t *have, int fd);
/* Piece i of owner's file was verified (its have bit is set): tell the
 * peers that wait for it. */
void	offer_piece(const void *owner, uint32_t i);
void	offer_withdraw(const void *owner);
/* The file whose SHA-1 is sha1, shared in group (NULL: any): a complete
 * share first, else a partial download. 0 and *v filled, or -1 if we
 * offer no such file. */
int	offer_find(const uint8_t sha1[SHA1_LEN], const char *group,
	    struct offer_view *v);
/* 1 if piece i of v may be served. */
int	offer_has(const struct offer_view *v, uint32_t i);
/* The seed client's GET_PIECE: complete shares by name only. */
int	offer_find_name(const char *name, struct offer_view *v);
/* Who hears of new pieces (the piece server); peerd.c wires it. */
void	offer_on_piece(void (*fn)(const uint8_t sha1[SHA1_LEN], uint32_t i));

#endif
