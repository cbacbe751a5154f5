/* Changes larger than one etcd request (the upload_file of a file with many
 * pieces): the body goes first, in parts, under PREFIX/spill/, and the
 * transaction that commits the change carries a short reference to it. */
#ifndef TRACKERD_ETCD_SPILL_H
#define TRACKERD_ETCD_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct etcd;

#define SPILL_MIN	(256u * 1024u)	/* bodies this long are spilled */
#define SPILL_REF_MAX	320		/* bytes of a reference, at most */

/* 1 if a body of len bytes goes to etcd in parts. */
int	spill_wanted(size_t len);
/* The directory of the parts of the change tagged tag (unique: its
 * transaction's id and index): "PREFIX/spill/TAG/". */
void	spill_dir(const char *prefix, const char *tag, char *out, size_t len);
/* Put body's parts under dir, one request each, trying the endpoints in
 * turn until the monotonic ms deadline end. 0, or -1 with err. */
int	spill_write(struct etcd *, const char *dir, const char *body,
	    size_t len, uint64_t end, char *err, size_t errlen);
/* The reference to the parts of body under dir ("@spill DIR LEN CRC"),
 * into out (SPILL_REF_MAX). Its length. */
size_t	spill_ref(char *out, const char *dir, const char *body, size_t len);
/* The compare a transaction committing the reference carries: its first
 * part still exists (parts are deleted once snapshots cover them). */
json_object *spill_compare(const char *dir);
/* 1 if body is a reference. */
int	spill_is_ref(const char *body, size_t len);
/* The body a reference names, read at revision rev (0: now) within ms:
 * malloc'd and NUL-terminated, its length in *outlen. NULL with err if it
 * cannot be read or is not whole. */
char	*spill_read(struct etcd *, const char *ref, size_t reflen, int64_t rev,
	    int ms, size_t *outlen, char *err, size_t errlen);

#endif
