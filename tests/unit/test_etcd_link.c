/* The links between trackerd's workers and its journal process: a link
 * announced, requests and answers carried whole however the socket splits
 * them, a worker's end of stream seen. */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trackerd/etcd_link.h"

#define BIG	(3u << 20)	/* more than a socket buffer holds */

struct writer {
	int		 fd;
	char		*body;
	struct link_req	 hdr;
	int		 rc;
};

static void *
write_request(void *arg)
{
	struct writer	*w = arg;
	struct iovec	 iov[4];

	iov[0].iov_base = &w->hdr;
	iov[0].iov_len = sizeof(w->hdr);
	iov[1].iov_base = w->body;
	iov[1].iov_len = 0;		/* empty parts are skipped */
	iov[2].iov_base = w->body;
	iov[2].iov_len = BIG / 2;
	iov[3].iov_base = w->body + BIG / 2;
	iov[3].iov_len = BIG - BIG / 2;
	w->rc = link_writev(w->fd, iov, 4);
	return NULL;
}

Test(etcd_link, a_request_larger_than_the_socket_arrives_whole)
{
	struct writer	 w;
	struct link_req	 got;
	pthread_t	 tid;
	char		*in;
	int		 mfd;

	cr_assert_eq(link_listen(), 0);
	cr_assert_geq(w.fd = link_connect(), 0);
	cr_assert_geq(mfd = link_accept(), 0);
	w.body = malloc(BIG);
	in = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		w.body[i] = (char)('a' + i % 26);
	memset(&w.hdr, 0, sizeof(w.hdr));
	w.hdr.id = 42;
	w.hdr.base = 7;
	w.hdr.blen = BIG;
	cr_assert_eq(pthread_create(&tid, NULL, write_request, &w), 0);
	cr_assert_eq(link_read(mfd, &got, sizeof(got)), 1);
	cr_assert_eq(got.id, 42);
	cr_assert_eq(got.base, 7);
	cr_assert_eq(got.blen, BIG);
	cr_assert_eq(link_read(mfd, in, BIG), 1);
	pthread_join(tid, NULL);
	cr_assert_eq(w.rc, 0);
	cr_assert(memcmp(in, w.body, BIG) == 0);
	/* the worker gone: end of stream, not an error */
	close(w.fd);
	cr_assert_eq(link_read(mfd, &got, sizeof(got)), 0);
	close(mfd);
	free(in);
	free(w.body);
}

Test(etcd_link, each_link_is_its_own_and_answers_go_back_on_it)
{
	struct link_answer	a = { .id = 9, .rev = 1234, .result = 1 }, b;
	struct iovec		iov = { &a, sizeof(a) };
	int			w1, w2, m1, m2;

	cr_assert_eq(link_listen(), 0);
	cr_assert_geq(w1 = link_connect(), 0);
	cr_assert_geq(w2 = link_connect(), 0);
	cr_assert_geq(m1 = link_accept(), 0);
	cr_assert_geq(m2 = link_accept(), 0);
	cr_assert_eq(link_writev(m2, &iov, 1), 0);
	cr_assert_eq(link_read(w2, &b, sizeof(b)), 1);
	cr_assert_eq(b.id, 9);
	cr_assert_eq(b.rev, 1234);
	cr_assert_eq(b.result, 1);
	/* nothing crossed to the other link */
	cr_assert_eq(recv(w1, &b, sizeof(b), MSG_DONTWAIT), -1);
	close(m1);
	cr_assert_eq(link_read(w1, &b, sizeof(b)), 0);
	close(w1);
	close(w2);
	close(m2);
}

Test(etcd_link, a_forked_worker_announces_its_link)
{
	struct link_answer	a;
	pid_t			pid;
	int			mfd, fd;

	cr_assert_eq(link_listen(), 0);
	if ((pid = fork()) == 0) {
		memset(&a, 0, sizeof(a));
		a.id = 77;
		if ((fd = link_connect()) == -1 ||
		    write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(1);
		_exit(0);
	}
	cr_assert_gt(pid, 0);
	cr_assert_geq(mfd = link_accept(), 0);
	cr_assert_eq(link_read(mfd, &a, sizeof(a)), 1);
	cr_assert_eq(a.id, 77);
	/* its only end closed with it */
	cr_assert_eq(link_read(mfd, &a, sizeof(a)), 0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	close(mfd);
}
