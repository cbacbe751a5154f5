/* peerd's single event loop: epoll over file descriptors plus one-shot
 * timers. Every module registers its sockets here; callbacks run on the
 * loop thread only. */
#ifndef PEERD_EV_H
#define PEERD_EV_H

#include <stdint.h>
#include <sys/epoll.h>

typedef void	ev_fd_cb(int fd, uint32_t events, void *arg);
typedef void	ev_timer_cb(void *arg);

int		ev_init(void);
/* events: EPOLLIN | EPOLLOUT | ... (level-triggered). */
int		ev_add(int fd, uint32_t events, ev_fd_cb *, void *arg);
int		ev_mod(int fd, uint32_t events);
void		ev_del(int fd);		/* before close(fd) */
/* One-shot timer after ms; returns an id > 0 for ev_timer_cancel. */
uint64_t	ev_timer(uint64_t ms, ev_timer_cb *, void *arg);
void		ev_timer_cancel(uint64_t id);
/* Run a callback on the loop thread from any thread (wakes the loop). */
int		ev_post(ev_timer_cb *, void *arg);
/* Run until ev_stop(); returns 0, or -1 on an epoll error. */
int		ev_run(void);
void		ev_stop(void);
uint64_t	ev_now_ms(void);	/* monotonic milliseconds */

#endif
