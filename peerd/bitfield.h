/* Piece availability bitfields: bit i is piece i, most significant bit of
 * byte i/8 first (as on the wire and in the resume file). */
#ifndef PEERD_BITFIELD_H
#define PEERD_BITFIELD_H

#include <stddef.h>
#include <stdint.h>

static inline size_t
bf_bytes(uint32_t nbits)
{
	return ((size_t)nbits + 7) / 8;
}

static inline int
bf_test(const uint8_t *bf, uint32_t i)
{
	return (bf[i >> 3] >> (7 - (i & 7))) & 1;
}

static inline void
bf_set(uint8_t *bf, uint32_t i)
{
	bf[i >> 3] |= (uint8_t)(0x80u >> (i & 7));
}

static inline void
bf_clear(uint8_t *bf, uint32_t i)
{
	bf[i >> 3] &= (uint8_t)~(0x80u >> (i & 7));
}

uint8_t		*bf_new(uint32_t nbits);		/* zeroed, or NULL */
void		 bf_fill(uint8_t *, uint32_t nbits);	/* all ones, tail clear */
uint32_t	 bf_count(const uint8_t *, uint32_t nbits);
/* 1 if the bits past nbits in the last byte are all zero (wire check). */
int		 bf_tail_clear(const uint8_t *, uint32_t nbits);
/* First clear bit at or after from, or nbits if none. */
uint32_t	 bf_next_clear(const uint8_t *, uint32_t nbits, uint32_t from);

#endif
