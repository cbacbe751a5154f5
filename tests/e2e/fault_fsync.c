/* LD_PRELOAD shim for fault tests: fsync and fdatasync fail with EIO while
 * the file named by $P2P_FAULT_FSYNC_FILE exists (the test creates and
 * removes it), and go to the real calls otherwise. Test builds only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int
armed(void)
{
	const char	*flag = getenv("P2P_FAULT_FSYNC_FILE");

	return flag != NULL && access(flag, F_OK) == 0;
}

int
fsync(int fd)
{
	static int	(*real)(int);

	if (armed()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int	(*real)(int);

	if (armed()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
