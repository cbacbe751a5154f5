/* Benchmark LD_PRELOAD shim: paces and counts what a process sends on TCP
 * sockets, to give a seeder a slow uplink and to measure every peer's upload.
 *
 * PACE_BYTES_PER_SEC	cap on the process's total TCP upload (token bucket);
 *			unset or 0: count only, never wait
 * PACE_BURST		bucket size in bytes: how far a sender that fell behind
 *			(a late wake-up on a busy machine) may catch up, and
 *			the most it sends at once after being idle, like a
 *			socket buffer in front of a slow link (default 100 ms
 *			at the rate, at least 64 KiB)
 * PACE_COUNT_FILE	file whose first 8 bytes (native uint64) this process
 *			adds every byte it sent on TCP to; readable at any time
 *
 * send, sendto, sendmsg, write, writev and sendfile on a TCP socket are
 * metered; other descriptors pass through untouched. A metered call sends
 * at most 64 KiB, after sleeping until the bucket holds it: a short
 * count, never an endless wait, on blocking and non-blocking sockets alike
 * (callers of stream sockets handle short counts). The sleep stalls the
 * calling thread, as a saturated uplink would stall its writer. A test
 * tool only: nothing of it is linked into the daemons.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PACE_CHUNK		(64 * 1024)	/* most bytes per call */
#define PACE_SLACK_S		0.1		/* default burst, in time */

typedef ssize_t	(*send_fn)(int, const void *, size_t, int);
typedef ssize_t	(*sendto_fn)(int, const void *, size_t, int,
		    const struct sockaddr *, socklen_t);
typedef ssize_t	(*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t	(*write_fn)(int, const void *, size_t);
typedef ssize_t	(*writev_fn)(int, const struct iovec *, int);
typedef ssize_t	(*sendfile_fn)(int, int, off_t *, size_t);

static struct {
	send_fn		 send;
	sendto_fn	 sendto;
	sendmsg_fn	 sendmsg;
	write_fn	 write;
	writev_fn	 writev;
	sendfile_fn	 sendfile;
} real;

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 bucket_mtx = PTHREAD_MUTEX_INITIALIZER;
static double		 rate;		/* bytes per second; 0: no cap */
static double		 burst;
static double		 tokens;	/* may go negative: reserved ahead */
static struct timespec	 refilled;
static uint64_t		 local_count;
static uint64_t		*counter = &local_count;

static double
env_number(const char *name, double dflt)
{
	const char	*s = getenv(name);
	char		*end;
	double		 v;

	if (s == NULL || *s == '\0')
		return dflt;
	v = strtod(s, &end);
	return *end == '\0' && v >= 0 ? v : dflt;
}

/* Map the shared counter file; on any failure count in memory only. */
static void
map_counter(void)
{
	const char	*path = getenv("PACE_COUNT_FILE");
	void		*m;
	int		 fd;

	if (path == NULL || *path == '\0')
		return;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return;
	if (lseek(fd, 0, SEEK_END) < (off_t)sizeof(uint64_t) &&
	    ftruncate(fd, sizeof(uint64_t)) == -1) {
		close(fd);
		return;
	}
	m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (m != MAP_FAILED)
		counter = m;
}

static void
init(void)
{
	int	saved = errno;

	real.send = (send_fn)dlsym(RTLD_NEXT, "send");
	real.sendto = (sendto_fn)dlsym(RTLD_NEXT, "sendto");
	real.sendmsg = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
	real.write = (write_fn)dlsym(RTLD_NEXT, "write");
	real.writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
	real.sendfile = (sendfile_fn)dlsym(RTLD_NEXT, "sendfile");
	rate = env_number("PACE_BYTES_PER_SEC", 0);
	burst = env_number("PACE_BURST", rate * PACE_SLACK_S);
	if (burst < PACE_CHUNK)
		burst = PACE_CHUNK;
	tokens = burst;
	clock_gettime(CLOCK_MONOTONIC, &refilled);
	map_counter();
	errno = saved;
}

__attribute__((constructor)) static void
pace_load(void)
{
	pthread_once(&once, init);
}

/* 1 if fd is a TCP socket (IPv4 or IPv6); errno is left as it was. */
static int
metered(int fd)
{
	int		saved = errno, proto = 0;
	socklen_t	len = sizeof(proto);
	int		r;

	pthread_once(&once, init);
	r = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto == IPPROTO_TCP;
	errno = saved;
	return r;
}

static void
sleep_seconds(double s)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Reserve up to one chunk of want bytes and sleep until the bucket has
 * refilled what was reserved ahead of time. Returns the bytes granted.
 */
static size_t
reserve(size_t want)
{
	struct timespec	now;
	double		grant, debt;

	if (rate <= 0 || want == 0)
		return want;
	grant = want < PACE_CHUNK ? (double)want : PACE_CHUNK;
	pthread_mutex_lock(&bucket_mtx);
	clock_gettime(CLOCK_MONOTONIC, &now);
	tokens += ((double)(now.tv_sec - refilled.tv_sec) +
	    (double)(now.tv_nsec - refilled.tv_nsec) / 1e9) * rate;
	if (tokens > burst)
		tokens = burst;
	refilled = now;
	tokens -= grant;
	debt = tokens < 0 ? -tokens : 0;
	pthread_mutex_unlock(&bucket_mtx);
	if (debt > 0)
		sleep_seconds(debt / rate);
	return (size_t)grant;
}

/* Give back what was granted but not sent, and count what was. */
static ssize_t
settle(size_t granted, ssize_t sent)
{
	int	saved = errno;
	size_t	done = sent > 0 ? (size_t)sent : 0;

	if (rate > 0 && done < granted) {
		pthread_mutex_lock(&bucket_mtx);
		tokens += (double)(granted - done);
		pthread_mutex_unlock(&bucket_mtx);
	}
	if (done > 0)
		__atomic_add_fetch(counter, done, __ATOMIC_RELAXED);
	errno = saved;
	return sent;
}

static size_t
iov_total(const struct iovec *iov, int n)
{
	size_t	t = 0;
	int	i;

	for (i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/*
 * Cut an iovec array down to max bytes into out (at most n entries);
 * returns the entries used.
 */
static int
iov_cut(const struct iovec *iov, int n, size_t max, struct iovec *out)
{
	int	i;

	for (i = 0; i < n && max > 0; i++) {
		out[i] = iov[i];
		if (out[i].iov_len > max)
			out[i].iov_len = max;
		max -= out[i].iov_len;
	}
	return i;
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	size_t	g;

	if (!metered(fd))
		return real.send(fd, buf, len, flags);
	g = reserve(len);
	return settle(g, real.send(fd, buf, g, flags));
}

ssize_t
sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	size_t	g;

	if (!metered(fd))
		return real.sendto(fd, buf, len, flags, to, tolen);
	g = reserve(len);
	return settle(g, real.sendto(fd, buf, g, flags, to, tolen));
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	size_t	g;

	if (!metered(fd))
		return real.write(fd, buf, len);
	g = reserve(len);
	return settle(g, real.write(fd, buf, g));
}

static ssize_t
paced_writev(int fd, const struct iovec *iov, int n, const struct msghdr *m,
    int flags)
{
	struct iovec	 stackv[64], *cut = stackv;
	struct msghdr	 mh;
	size_t		 g;
	ssize_t		 r;
	int		 k;

	g = reserve(iov_total(iov, n));
	if (n > 64 && (cut = calloc((size_t)n, sizeof(*cut))) == NULL) {
		settle(g, 0);
		errno = ENOMEM;
		return -1;
	}
	k = iov_cut(iov, n, g, cut);
	if (m != NULL) {
		mh = *m;
		mh.msg_iov = cut;
		mh.msg_iovlen = (size_t)k;
		r = real.sendmsg(fd, &mh, flags);
	} else
		r = real.writev(fd, cut, k);
	if (cut != stackv)
		free(cut);
	return settle(g, r);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	if (!metered(fd) || n <= 0)
		return real.writev(fd, iov, n);
	return paced_writev(fd, iov, n, NULL, 0);
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (!metered(fd) || m->msg_iovlen == 0 || m->msg_iovlen > INT32_MAX)
		return real.sendmsg(fd, m, flags);
	return paced_writev(fd, m->msg_iov, (int)m->msg_iovlen, m, flags);
}

ssize_t
sendfile(int out, int in, off_t *off, size_t count)
{
	size_t	g;

	if (!metered(out))
		return real.sendfile(out, in, off, count);
	g = reserve(count);
	return settle(g, real.sendfile(out, in, off, g));
}

ssize_t
sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}
