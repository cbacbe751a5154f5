/* The event loop: epoll for descriptors, a binary heap of one-shot timers,
 * and an eventfd-backed queue so helper threads can hand results back. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "ipc/util.h"
#include "peerd/ev.h"

struct ev_fd {
	ev_fd_cb	*cb;
	void		*arg;
	uint32_t	 gen;
	uint32_t	 events;	/* as epoll has them */
};

struct ev_tm {
	uint64_t	 when;
	uint64_t	 id;
	ev_timer_cb	*cb;
	void		*arg;
};

struct ev_posted {
	ev_timer_cb		*cb;
	void			*arg;
	struct ev_posted	*next;
};

static int		 ep = -1, wake_fd = -1, running;
static struct ev_fd	*fds;
static size_t		 nfds;
static struct ev_tm	*heap;
static size_t		 nheap, capheap;
static uint64_t		 next_id = 1;
static pthread_mutex_t	 post_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct ev_posted	*post_head, *post_tail;

uint64_t
ev_now_ms(void)
{
	return mono_ms();
}

static void
run_posted(int fd, uint32_t events, void *arg)
{
	struct ev_posted	*p, *next;
	uint64_t		 v;

	(void)events;
	(void)arg;
	while (read(fd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&post_mtx);
	p = post_head;
	post_head = post_tail = NULL;
	pthread_mutex_unlock(&post_mtx);
	for (; p != NULL; p = next) {
		next = p->next;
		p->cb(p->arg);
		free(p);
	}
}

int
ev_init(void)
{
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if ((wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	return ev_add(wake_fd, EPOLLIN, run_posted, NULL);
}

int
ev_add(int fd, uint32_t events, ev_fd_cb *cb, void *arg)
{
	struct epoll_event	 e;
	struct ev_fd		*n;

	if ((size_t)fd >= nfds) {
		size_t nn = nfds ? nfds : 64;
		while (nn <= (size_t)fd)
			nn *= 2;
		if ((n = realloc(fds, nn * sizeof(*fds))) == NULL)
			return -1;
		memset(n + nfds, 0, (nn - nfds) * sizeof(*fds));
		fds = n;
		nfds = nn;
	}
	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)(++fds[fd].gen) << 32;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == -1)
		return -1;
	fds[fd].cb = cb;
	fds[fd].arg = arg;
	fds[fd].events = events;
	return 0;
}

/* A change of interest only: the loops call this after every read. */
int
ev_mod(int fd, uint32_t events)
{
	struct epoll_event	e;

	if (fd >= 0 && (size_t)fd < nfds && fds[fd].cb != NULL &&
	    fds[fd].events == events)
		return 0;
	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)fds[fd].gen << 32;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) == -1)
		return -1;
	fds[fd].events = events;
	return 0;
}

void
ev_del(int fd)
{
	if (fd < 0 || (size_t)fd >= nfds || fds[fd].cb == NULL)
		return;
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	fds[fd].cb = NULL;
	fds[fd].arg = NULL;
	fds[fd].gen++;	/* events already fetched for fd are now stale */
}

static void
heap_swap(size_t a, size_t b)
{
	struct ev_tm	t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
}

static void
heap_up(size_t i)
{
	while (i > 0 && heap[(i - 1) / 2].when > heap[i].when) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(size_t i)
{
	size_t	l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < nheap && heap[l].when < heap[m].when)
			m = l;
		if (r < nheap && heap[r].when < heap[m].when)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

uint64_t
ev_timer(uint64_t ms, ev_timer_cb *cb, void *arg)
{
	struct ev_tm	*n;

	if (nheap == capheap) {
		size_t nc = capheap ? capheap * 2 : 64;
		if ((n = realloc(heap, nc * sizeof(*heap))) == NULL)
			return 0;
		heap = n;
		capheap = nc;
	}
	heap[nheap].when = ev_now_ms() + ms;
	heap[nheap].id = next_id++;
	heap[nheap].cb = cb;
	heap[nheap].arg = arg;
	heap_up(nheap++);
	return next_id - 1;
}

void
ev_timer_cancel(uint64_t id)
{
	size_t	i;

	if (id == 0)
		return;
	for (i = 0; i < nheap; i++) {
		if (heap[i].id != id)
			continue;
		heap[i] = heap[--nheap];
		if (i < nheap) {
			heap_up(i);
			heap_down(i);
		}
		return;
	}
}

int
ev_post(ev_timer_cb *cb, void *arg)
{
	struct ev_posted	*p;
	uint64_t		 one = 1;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -1;
	p->cb = cb;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&post_mtx);
	if (post_tail)
		post_tail->next = p;
	else
		post_head = p;
	post_tail = p;
	pthread_mutex_unlock(&post_mtx);
	return write(wake_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static int
next_timeout(void)
{
	uint64_t	now;

	if (nheap == 0)
		return 1000;
	now = ev_now_ms();
	if (heap[0].when <= now)
		return 0;
	return heap[0].when - now > 1000 ? 1000 : (int)(heap[0].when - now);
}

static void
run_timers(void)
{
	uint64_t	now = ev_now_ms();
	struct ev_tm	t;

	while (nheap > 0 && heap[0].when <= now) {
		t = heap[0];
		heap[0] = heap[--nheap];
		heap_down(0);
		t.cb(t.arg);
	}
}

int
ev_run(void)
{
	struct epoll_event	evs[128];
	int			n, i, fd;
	uint32_t		gen;

	running = 1;
	while (running) {
		n = epoll_wait(ep, evs, 128, next_timeout());
		if (n == -1 && errno != EINTR)
			return -1;
		for (i = 0; i < n; i++) {
			fd = (int)(uint32_t)evs[i].data.u64;
			gen = (uint32_t)(evs[i].data.u64 >> 32);
			if ((size_t)fd >= nfds || fds[fd].cb == NULL ||
			    fds[fd].gen != gen)
				continue;
			fds[fd].cb(fd, evs[i].events, fds[fd].arg);
		}
		run_timers();
	}
	return 0;
}

void
ev_stop(void)
{
	running = 0;
}
