/* Piece availability bitfields: allocation, counting and the tail check
 * that keeps a peer from claiming pieces past the end of a file. */
#include <stdlib.h>
#include <string.h>

#include "peerd/bitfield.h"

uint8_t *
bf_new(uint32_t nbits)
{
	return calloc(1, bf_bytes(nbits) ? bf_bytes(nbits) : 1);
}

void
bf_fill(uint8_t *bf, uint32_t nbits)
{
	size_t	n = bf_bytes(nbits);

	if (n == 0)
		return;
	memset(bf, 0xff, n);
	if (nbits & 7)
		bf[n - 1] = (uint8_t)(0xffu << (8 - (nbits & 7)));
}

uint32_t
bf_count(const uint8_t *bf, uint32_t nbits)
{
	size_t		i, n = bf_bytes(nbits);
	uint32_t	c = 0;

	for (i = 0; i < n; i++)
		c += (uint32_t)__builtin_popcount(bf[i]);
	return c;
}

int
bf_tail_clear(const uint8_t *bf, uint32_t nbits)
{
	if ((nbits & 7) == 0)
		return 1;
	return (bf[nbits >> 3] & (0xffu >> (nbits & 7))) == 0;
}

uint32_t
bf_next_clear(const uint8_t *bf, uint32_t nbits, uint32_t from)
{
	uint32_t	i = from;

	while (i < nbits) {
		if ((i & 7) == 0 && i + 8 <= nbits && bf[i >> 3] == 0xff) {
			i += 8;
			continue;
		}
		if (!bf_test(bf, i))
			return i;
		i++;
	}
	return nbits;
}
