/* SHA-1 of 512 KiB pieces and of whole files through libcrypto, in one
 * sequential pass. */
#ifndef IPC_PIECES_H
#define IPC_PIECES_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/proto.h"

#define PIECE_SIZE		(512u * 1024u)
#define MAX_FILE_SIZE_DEFAULT	(64ull << 30)

static inline uint64_t
pieces_count(uint64_t size)
{
	return (size + PIECE_SIZE - 1) / PIECE_SIZE;
}

static inline uint32_t
piece_len(uint64_t size, uint64_t index)
{
	uint64_t start = index * PIECE_SIZE;
	return (uint32_t)(size - start < PIECE_SIZE ? size - start : PIECE_SIZE);
}

/*
 * Hash an open file of the given size: fills file_sha1 and, if
 * piece_sha1 is not NULL, pieces_count(size) piece hashes. Returns 0, or
 * -1 with errno (EIO if the file was shorter than size).
 */
int	hash_fd(int fd, uint64_t size, uint8_t file_sha1[SHA1_LEN],
	    uint8_t (*piece_sha1)[SHA1_LEN]);

#endif
