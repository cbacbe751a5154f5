/* systemd's service readiness protocol (sd_notify(3)) without libsystemd:
 * state lines sent as one datagram to the socket named by $NOTIFY_SOCKET. */
#ifndef IPC_NOTIFY_H
#define IPC_NOTIFY_H

/*
 * Send state, e.g. "READY=1\nSTATUS=listening". Returns 1 when sent, 0
 * when there is no $NOTIFY_SOCKET (not started by a service manager that
 * wants it), -1 with errno set on failure.
 */
int	notify_send(const char *state);

/* The service manager's lifecycle, with this process as the main pid. */
int	notify_ready(const char *status);	/* READY=1, STATUS= */
int	notify_reloading(void);			/* RELOADING=1, MONOTONIC_USEC= */
int	notify_stopping(void);			/* STOPPING=1 */

#endif
