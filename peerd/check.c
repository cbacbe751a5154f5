/* peerd -n: the directories a start would create or write (state
 * directory, control socket, pidfile) checked for access, nothing made. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peerd/check.h"
#include "peerd/peerd.h"

/* A directory peerd writes in: it must be one and be writable, or, when
 * absent, its nearest existing parent must be (peerd creates the rest). */
static int
check_dir(const char *path, const char *what)
{
	char		 dir[PATH_MAX], *slash;
	struct stat	 st;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		fprintf(stderr, "peerd: %s %s: path too long\n", what, path);
		return -1;
	}
	while (stat(dir, &st) == -1) {
		if (errno != ENOENT || (slash = strrchr(dir, '/')) == NULL) {
			fprintf(stderr, "peerd: %s %s: %s\n", what, dir,
			    strerror(errno));
			return -1;
		}
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "peerd: %s %s: Not a directory\n", what, dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		fprintf(stderr, "peerd: %s %s: %s\n", what, dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The directory part of a file path ("." when there is none). */
static void
parent_of(const char *path, char *out, size_t len)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		strlcpy(out, ".", len);
	else if (slash == path)
		strlcpy(out, "/", len);
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

int
config_check(void)
{
	char	dir[PATH_MAX];
	int	rc = 0;

	if (check_dir(conf.state_dir, "state directory") == -1)
		rc = -1;
	parent_of(conf.socket_path, dir, sizeof(dir));
	if (check_dir(dir, "control socket directory") == -1)
		rc = -1;
	if (conf.pidfile != NULL) {
		parent_of(conf.pidfile, dir, sizeof(dir));
		if (check_dir(dir, "pidfile directory") == -1)
			rc = -1;
	}
	if (rc == 0)
		fprintf(stderr, "peerd: configuration OK: peers on %s, %d "
		    "tracker%s, state %s, socket %s\n", conf.self.text,
		    conf.ntrackers, conf.ntrackers == 1 ? "" : "s",
		    conf.state_dir, conf.socket_path);
	return rc;
}
