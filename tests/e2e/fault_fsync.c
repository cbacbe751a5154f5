/* LD_PRELOAD shim for fault tests: fsync and fdatasync fail with EIO while
 * the file named by $P2P_FAULT_FSYNC_FILE exists (the test creates and
 * removes it), and go to the real calls otherwise. Test builds only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int	sync_fn(int);

/* EIO while armed, else the next definition of name (libc's). */
static int
fail_or_call(sync_fn **real, const char *name, int fd)
{
	const char	*flag = getenv("P2P_FAULT_FSYNC_FILE");

	if (flag != NULL && access(flag, F_OK) == 0) {
		errno = EIO;
		return -1;
	}
	if (*real == NULL)
		*real = (sync_fn *)dlsym(RTLD_NEXT, name);
	return (*real)(fd);
}

int
fsync(int fd)
{
	static sync_fn	*real;

	return fail_or_call(&real, "fsync", fd);
}

int
fdatasync(int fd)
{
	static sync_fn	*real;

	return fail_or_call(&real, "fdatasync", fd);
}
