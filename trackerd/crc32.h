/* CRC-32 (IEEE 802.3, the zlib polynomial) for the journal's per-line
 * checksums; table driven, slice-by-4, no external library. */
#ifndef TRACKERD_CRC32_H
#define TRACKERD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32(0, "123456789", 9) == 0xcbf43926 */
uint32_t	crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
