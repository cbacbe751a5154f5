/* The links between the workers and the committer in the journal process
 * (-J): a socket pair made before either forks, on which each worker sends
 * the journal process its end of a stream socket of its own. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "trackerd/etcd_link.h"

/* [0] the journal process receives on, [1] the workers send on (each
 * message whole: workers never mix their announcements) */
static int	announce[2] = { -1, -1 };

union fdmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

/* m: one byte of payload at *one, room for one descriptor in c. */
static void
fdmsg_init(struct msghdr *m, struct iovec *iov, char *one, union fdmsg *c)
{
	memset(m, 0, sizeof(*m));
	memset(c, 0, sizeof(*c));
	iov->iov_base = one;
	iov->iov_len = 1;
	m->msg_iov = iov;
	m->msg_iovlen = 1;
	m->msg_control = c->buf;
	m->msg_controllen = sizeof(c->buf);
}

int
link_listen(void)
{
	if (announce[0] != -1)
		return 0;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, announce);
}

int
link_connect(void)
{
	union fdmsg	 c;
	struct msghdr	 m;
	struct cmsghdr	*cm;
	struct iovec	 iov;
	char		 one = 'L';
	int		 sv[2], saved;

	if (announce[1] == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	fdmsg_init(&m, &iov, &one, &c);
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	while (sendmsg(announce[1], &m, MSG_NOSIGNAL) == -1)
		if (errno != EINTR) {
			saved = errno;
			close(sv[0]);
			close(sv[1]);
			errno = saved;
			return -1;
		}
	close(sv[1]);
	return sv[0];
}

int
link_accept(void)
{
	union fdmsg	 c;
	struct msghdr	 m;
	struct cmsghdr	*cm;
	struct iovec	 iov;
	char		 one;
	ssize_t		 n;
	int		 fd;

	for (;;) {
		fdmsg_init(&m, &iov, &one, &c);
		if ((n = recvmsg(announce[0], &m, MSG_CMSG_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOTCONN;
			return -1;
		}
		cm = CMSG_FIRSTHDR(&m);
		if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) &&
		    !(m.msg_flags & MSG_CTRUNC)) {
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			return fd;
		}
	}
}

int
link_read(int fd, void *p, size_t len)
{
	char	*q = p;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, q, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		q += n;
		len -= (size_t)n;
	}
	return 1;
}

int
link_writev(int fd, struct iovec *iov, int n)
{
	struct msghdr	m;
	ssize_t		w;
	size_t		k;

	while (n > 0) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)(n > IOV_MAX ? IOV_MAX : n);
		if ((w = sendmsg(fd, &m, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (k = (size_t)w; n > 0 && k >= iov->iov_len; iov++, n--)
			k -= iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= k;
		}
	}
	return 0;
}
