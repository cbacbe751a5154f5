/* libFuzzer harness for peerd's share records (peerd/store.c): each input
 * is one file in state_dir/shares, loaded as peerd loads them at start.
 *
 * A record that loads must hold valid names, an absolute path and as many
 * piece hashes as its size needs; it is then removed again (file and
 * memory), so every input starts from an empty store.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/pieces.h"
#include "peerd/peerd.h"

struct peerd_config	conf;		/* peerd.c's, not linked here */
static char		fs_dir[] = "/dev/shm/p2p-fuzz-store-XXXXXX";
static char		fs_file[PATH_MAX];

static void
fs_cleanup(void)
{
	char	shares[PATH_MAX];

	unlink(fs_file);
	snprintf(shares, sizeof(shares), "%s/shares", fs_dir);
	rmdir(shares);
	rmdir(fs_dir);
}

static void
fs_init(void)
{
	if (mkdtemp(fs_dir) == NULL)
		abort();
	strlcpy(conf.state_dir, fs_dir, sizeof(conf.state_dir));
	snprintf(fs_file, sizeof(fs_file), "%s/shares/team:f.bin", fs_dir);
	atexit(fs_cleanup);
}

static void
check(const struct share *s)
{
	if (!name_valid(s->group) || !name_valid(s->name) ||
	    s->path[0] != '/' || s->npieces != pieces_count(s->size) ||
	    (s->npieces > 0 && s->piece_sha1 == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct share	*s;
	char		 group[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 1];
	int		 fd;

	if (fs_file[0] == '\0')
		fs_init();
	if (store_init() == -1)		/* creates state_dir/shares */
		abort();
	if ((fd = open(fs_file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (store_init() == -1)
		abort();
	while ((s = store_shares()) != NULL) {
		check(s);
		strlcpy(group, s->group, sizeof(group));
		strlcpy(name, s->name, sizeof(name));
		if (store_remove_share(group, name) == -1)
			abort();
	}
	unlink(fs_file);
	return 0;
}
