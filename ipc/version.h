/* The p2pshare version, written in this one place: every program prints it
 * with -V / --version and the build puts it in the man page footers. */
#ifndef IPC_VERSION_H
#define IPC_VERSION_H

#define P2PSHARE_VERSION "0.9.0"

/* "trackerd (p2pshare) 0.9.0" on standard output. */
void	version_print(const char *progname);

#endif
