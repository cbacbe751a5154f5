/* The version line the three programs print for -V and --version, in one
 * form, so that scripts and packagers can parse it. */
#include <stdio.h>

#include "ipc/version.h"

void
version_print(const char *progname)
{
	printf("%s (p2pshare) %s\n", progname, P2PSHARE_VERSION);
}
