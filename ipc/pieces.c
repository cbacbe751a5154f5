/* Hashing of pieces and files: one read pass, each buffer fed to both the
 * piece digest and the whole-file digest while it is still in cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "ipc/pieces.h"

int
hash_fd(int fd, uint64_t size, uint8_t file_sha1[SHA1_LEN],
    uint8_t (*piece_sha1)[SHA1_LEN])
{
	SHA_CTX		 whole;
	uint8_t		*piece;
	uint64_t	 i, n = pieces_count(size);
	ssize_t		 r;
	size_t		 got, want;

	if ((piece = malloc(PIECE_SIZE)) == NULL)
		return -1;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	SHA1_Init(&whole);
	for (i = 0; i < n; i++) {
		want = piece_len(size, i);
		for (got = 0; got < want; got += (size_t)r) {
			r = pread(fd, piece + got, want - got,
			    (off_t)(i * PIECE_SIZE + got));
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			if (r <= 0) {
				if (r == 0)
					errno = EIO;
				free(piece);
				return -1;
			}
		}
		SHA1_Update(&whole, piece, want);
		if (piece_sha1 != NULL)
			SHA1(piece, want, piece_sha1[i]);
	}
	SHA1_Final(file_sha1, &whole);
	free(piece);
	return 0;
}
