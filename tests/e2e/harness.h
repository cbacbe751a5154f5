/* End-to-end test harness: temporary directories, free loopback ports,
 * daemons started and stopped by PID, commands run with captured output,
 * every wait bounded. */
#ifndef TESTS_E2E_HARNESS_H
#define TESTS_E2E_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAX_OUT	(8u << 20)

struct h_proc {
	pid_t	pid;
	char	log[512];	/* stdout+stderr of the process */
};

struct h_run {
	int	 status;	/* exit code, or 128+signal */
	char	*out;		/* captured stdout, NUL-terminated */
	char	*err;		/* captured stderr, NUL-terminated */
	size_t	 outlen, errlen;
};

/* Absolute path of the source tree (found from the test binary). */
const char *h_root(void);
/* Make a fresh temporary directory; returns a static-lifetime string. */
char	*h_tmpdir(void);
/* Remove a test's directory and everything in it (kept when the
 * environment has KEEP_TEST_DIR, to look at after a failure). */
void	 h_rmtree(const char *dir);
/* A TCP port on 127.0.0.1 free right now. */
uint16_t h_free_port(void);
/* Write a file from a string. */
void	 h_write_file(const char *path, const char *content);
/* Read a whole file (malloc'd, NUL-terminated); NULL if absent. */
char	*h_read_file(const char *path, size_t *len);
/* Write n pseudo-random bytes (seeded) to path. */
void	 h_random_file(const char *path, size_t n, unsigned seed);
/* 1 if two files have identical content. */
int	 h_same_file(const char *a, const char *b);

/*
 * Start argv[0] (path relative to h_root() if not absolute) with argv,
 * extra environment "K=V" strings in env (NULL-terminated, may be NULL),
 * output to logpath. Returns 0 and fills p.
 */
int	 h_spawn(struct h_proc *p, char *const argv[], char *const env[],
	    const char *logpath);
/* h_spawn, but the process is SIGKILLed if the thread that started it
 * exits first (a failed assertion in a fixture skips the teardown). */
int	 h_spawn_tied(struct h_proc *p, char *const argv[], char *const env[],
	    const char *logpath);
/* Wait until 127.0.0.1:port accepts a connection; 0, or -1 after ms. */
int	 h_wait_port(uint16_t port, int ms);
/* Wait until path exists; 0 or -1 after ms. */
int	 h_wait_file(const char *path, int ms);
/* Wait up to ms until a Unix stream socket at path accepts a connection. */
int	 h_wait_unix(const char *path, int ms);
/* Send sig; wait up to ms for exit; SIGKILL after. Returns exit status
 * (0..255), 128+signal if killed by a signal, -1 if it had to be
 * SIGKILLed by the harness. */
int	 h_stop(struct h_proc *p, int sig, int ms);
/* The same for a child known by its pid (sig 0: only wait for it). */
int	 h_reap(pid_t pid, int sig, int ms);
/* The monotonic clock in milliseconds. */
long	 h_now_ms(void);
/* Remove the shared-memory object a trackerd on port left behind when
 * it was killed (teardown after SIGKILL tests); harmless if absent. */
void	 h_tracker_shm_unlink(uint16_t port);
/* 1 if the process is alive. */
int	 h_alive(pid_t pid);
/* Run argv to completion (bounded by ms; killed after), stdin from
 * input (may be NULL), capturing output. */
int	 h_run(struct h_run *r, char *const argv[], const char *input, int ms);
void	 h_run_free(struct h_run *r);

/* Connect to a Unix stream socket (e.g. peerd's control socket); a
 * blocking fd, or -1. */
int	 h_unix_connect(const char *path);

/* A line-protocol client for the tracker: connect, send, read a reply up
 * to END_OF_REPLY. */
int	 h_connect(uint16_t port);	/* blocking fd, 5 s timeouts */
/* Send line (a '\n' is appended) and read the reply; returns malloc'd
 * reply text (all lines, with '\n'), NULL on error/timeout. */
char	*h_request(int fd, const char *line);
/* Read one complete reply (through END_OF_REPLY) without sending. */
char	*h_read_reply(int fd);

#endif
