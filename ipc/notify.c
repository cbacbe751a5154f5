/* Readiness notification for systemd's Type=notify: a datagram of state
 * lines to $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/notify.h"

/* Fill sun from $NOTIFY_SOCKET; the address length, 0 if unset, -1 if
 * malformed. */
static socklen_t
notify_address(struct sockaddr_un *sun)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 len;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun->sun_path)) {
		errno = EINVAL;
		return (socklen_t)-1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';	/* abstract namespace */
	else
		len++;				/* with its NUL */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

int
notify_send(const char *state)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	ssize_t			n;
	int			fd, saved;

	if ((len = notify_address(&sun)) == 0)
		return 0;
	if (len == (socklen_t)-1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(state) ? 1 : -1;
}

int
notify_ready(const char *status)
{
	char	msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d\nSTATUS=%s",
	    (int)getpid(), status ? status : "");
	return notify_send(msg);
}

/* MONOTONIC_USEC lets systemd (Type=notify-reload) tell this reload from
 * an earlier one. */
int
notify_reloading(void)
{
	struct timespec	ts;
	char		msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(msg);
}

int
notify_stopping(void)
{
	return notify_send("STOPPING=1");
}
