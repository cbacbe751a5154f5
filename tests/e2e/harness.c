/* End-to-end test harness: processes started and stopped by PID, bounded
 * waits, captured command output and a small tracker protocol client. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/harness.h"

long
h_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

const char *
h_root(void)
{
	static char	root[PATH_MAX];
	char		exe[PATH_MAX], *p;
	ssize_t		n;
	int		i;

	if (root[0])
		return root;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		abort();
	exe[n] = '\0';
	/* tests/e2e/test_x -> strip three components */
	for (i = 0; i < 3; i++)
		if ((p = strrchr(exe, '/')) != NULL)
			*p = '\0';
	snprintf(root, sizeof(root), "%s", exe);
	return root;
}

char *
h_tmpdir(void)
{
	char	tmpl[] = "/tmp/p2pshare-test.XXXXXX", *d;

	if ((d = mkdtemp(tmpl)) == NULL)
		abort();
	return strdup(d);
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) == -1)
		fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

void
h_rmtree(const char *dir)
{
	if (dir == NULL || getenv("KEEP_TEST_DIR") != NULL)
		return;
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint16_t
h_free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;
	uint16_t		port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

void
h_write_file(const char *path, const char *content)
{
	FILE	*fp = fopen(path, "w");

	if (fp == NULL)
		abort();
	fputs(content, fp);
	fclose(fp);
}

char *
h_read_file(const char *path, size_t *lenp)
{
	FILE	*fp = fopen(path, "rb");
	char	*d;
	long	 n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	d = malloc((size_t)n + 1);
	if (d == NULL || fread(d, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		free(d);
		return NULL;
	}
	d[n] = '\0';
	fclose(fp);
	if (lenp)
		*lenp = (size_t)n;
	return d;
}

void
h_random_file(const char *path, size_t n, unsigned seed)
{
	FILE		*fp = fopen(path, "wb");
	uint64_t	 x = seed * 0x9E3779B97F4A7C15ull + 1;
	uint64_t	 block[512];
	size_t		 i, chunk;

	if (fp == NULL)
		abort();
	while (n > 0) {
		for (i = 0; i < 512; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			block[i] = x;
		}
		chunk = n < sizeof(block) ? n : sizeof(block);
		fwrite(block, 1, chunk, fp);
		n -= chunk;
	}
	fclose(fp);
}

int
h_same_file(const char *a, const char *b)
{
	size_t	 la, lb;
	char	*da = h_read_file(a, &la), *db = h_read_file(b, &lb);
	int	 same = da && db && la == lb && memcmp(da, db, la) == 0;

	free(da);
	free(db);
	return same;
}

static int
spawn(struct h_proc *p, char *const argv[], char *const env[],
    const char *logpath, int tied)
{
	char	path[PATH_MAX * 2];
	pid_t	parent = getpid();
	int	fd, i;

	if (argv[0][0] == '/')
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		snprintf(path, sizeof(path), "%s/%s", h_root(), argv[0]);
	snprintf(p->log, sizeof(p->log), "%s", logpath ? logpath : "/dev/null");
	if ((p->pid = fork()) == -1)
		return -1;
	if (p->pid == 0) {
		setpgid(0, 0);
		if (tied && (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent))
			_exit(127);
		fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		for (i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(path, argv);
		_exit(127);
	}
	return 0;
}

int
h_spawn(struct h_proc *p, char *const argv[], char *const env[],
    const char *logpath)
{
	return spawn(p, argv, env, logpath, 0);
}

int
h_spawn_tied(struct h_proc *p, char *const argv[], char *const env[],
    const char *logpath)
{
	return spawn(p, argv, env, logpath, 1);
}

int
h_wait_port(uint16_t port, int ms)
{
	struct sockaddr_in	sin;
	long			end = h_now_ms() + ms;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	do {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
		sleep_ms(20);
	} while (h_now_ms() < end);
	return -1;
}

int
h_wait_file(const char *path, int ms)
{
	long	end = h_now_ms() + ms;

	do {
		if (access(path, F_OK) == 0)
			return 0;
		sleep_ms(20);
	} while (h_now_ms() < end);
	return -1;
}

int
h_wait_unix(const char *path, int ms)
{
	long	end = h_now_ms() + ms;
	int	fd;

	do {
		if ((fd = h_unix_connect(path)) != -1) {
			close(fd);
			return 0;
		}
		sleep_ms(20);
	} while (h_now_ms() < end);
	return -1;
}

void
h_tracker_shm_unlink(uint16_t port)
{
	char	name[64];

	snprintf(name, sizeof(name), "/p2pshare-trackerd-%u", port);
	shm_unlink(name);
}

int
h_alive(pid_t pid)
{
	int	st;

	if (waitpid(pid, &st, WNOHANG) == pid)
		return 0;
	return kill(pid, 0) == 0;
}

static int
wait_bounded(pid_t pid, int ms, int *status)
{
	long	end = h_now_ms() + ms;
	pid_t	r;

	do {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r == -1 && errno == ECHILD))
			return r == pid ? 0 : -1;
		sleep_ms(10);
	} while (h_now_ms() < end);
	return -1;
}

int
h_reap(pid_t pid, int sig, int ms)
{
	int	st = 0;

	if (pid <= 0)
		return -1;
	if (sig != 0)
		kill(pid, sig);
	if (wait_bounded(pid, ms, &st) == -1) {
		kill(pid, SIGKILL);
		(void)wait_bounded(pid, 5000, &st);
		return -1;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int
h_stop(struct h_proc *p, int sig, int ms)
{
	int	r;

	if (p->pid <= 0)
		return -1;
	r = h_reap(p->pid, sig, ms);
	p->pid = 0;
	return r;
}

static void
drain(int fd, char **buf, size_t *len)
{
	char	tmp[65536];
	ssize_t	n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		if (*len + (size_t)n > H_MAX_OUT)
			continue;
		*buf = realloc(*buf, *len + (size_t)n + 1);
		memcpy(*buf + *len, tmp, (size_t)n);
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
}

int
h_run(struct h_run *r, char *const argv[], const char *input, int ms)
{
	int		 in[2], out[2], err[2], st = 0, open_fds;
	struct pollfd	 pfd[2];
	long		 end = h_now_ms() + ms;
	char		 path[PATH_MAX * 2];
	pid_t		 pid;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (pipe(in) == -1 || pipe(out) == -1 || pipe(err) == -1)
		return -1;
	if (argv[0][0] == '/')
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		snprintf(path, sizeof(path), "%s/%s", h_root(), argv[0]);
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	/* a child that exits without reading its input is not an error */
	if (input && write(in[1], input, strlen(input)) == -1 && errno != EPIPE)
		perror("write to child");
	close(in[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	open_fds = 2;
	while (open_fds > 0 && h_now_ms() < end) {
		pfd[0].fd = out[0];
		pfd[1].fd = err[0];
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, 50) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].revents == 0 || pfd[i].fd < 0)
				continue;
			size_t before = i ? r->errlen : r->outlen;
			if (i == 0)
				drain(out[0], &r->out, &r->outlen);
			else
				drain(err[0], &r->err, &r->errlen);
			if ((pfd[i].revents & POLLHUP) &&
			    before == (i ? r->errlen : r->outlen)) {
				if (i == 0)
					out[0] = -1 * (out[0] + 2);
				else
					err[0] = -1 * (err[0] + 2);
				open_fds--;
			}
		}
	}
	if (out[0] < 0)
		out[0] = -out[0] - 2;
	if (err[0] < 0)
		err[0] = -err[0] - 2;
	close(out[0]);
	close(err[0]);
	if (wait_bounded(pid, (int)(end - h_now_ms() > 0 ? end - h_now_ms() : 1),
	    &st) == -1) {
		kill(pid, SIGKILL);
		(void)wait_bounded(pid, 5000, &st);
		r->status = -1;
		return -1;
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

void
h_run_free(struct h_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int
h_connect(uint16_t port)
{
	struct sockaddr_in	sin;
	struct timeval		tv = { 5, 0 };
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Bytes up to and including the first "END_OF_REPLY\n" that starts a line
 * of buf[0..len), looking at its last n bytes only (the rest was looked
 * at before); 0 when there is none yet. */
static size_t
reply_end(const char *buf, size_t len, size_t n)
{
	static const char	mark[] = "END_OF_REPLY\n";
	size_t			m = sizeof(mark) - 1, i;

	i = len - n >= m ? len - n - m + 1 : 0;
	for (; i + m <= len; i++)
		if ((i == 0 || buf[i - 1] == '\n') &&
		    memcmp(buf + i, mark, m) == 0)
			return i + m;
	return 0;
}

/*
 * One reply, ending with its END_OF_REPLY line (malloc'd), or NULL. It
 * looks at what has arrived with MSG_PEEK and takes only that reply from
 * the socket, so a pipelined reply behind it is left for the next call.
 */
char *
h_read_reply(int fd)
{
	size_t	 len = 0, cap = 65536 * 2 + 1, end;
	char	*buf = malloc(cap);
	ssize_t	 n;

	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = (len + 65536 + 1) * 2;
			buf = realloc(buf, cap);
		}
		n = recv(fd, buf + len, 65536, MSG_PEEK);
		if (n <= 0)
			break;
		end = reply_end(buf, len + (size_t)n, (size_t)n);
		if (end > 0)
			n = (ssize_t)(end - len);
		if (recv(fd, buf + len, (size_t)n, 0) != n)	/* taken */
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (end > 0)
			return buf;
	}
	free(buf);
	return NULL;
}

char *
h_request(int fd, const char *line)
{
	size_t	 n = strlen(line);
	char	*msg = malloc(n + 2);

	memcpy(msg, line, n);
	msg[n] = '\n';
	if (send(fd, msg, n + 1, MSG_NOSIGNAL) != (ssize_t)(n + 1)) {
		free(msg);
		return NULL;
	}
	free(msg);
	return h_read_reply(fd);
}

int
h_unix_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}
