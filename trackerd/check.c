/* trackerd -n: what a start would open, checked without opening it for
 * writing: the journal's lines and checksums, and the directories used. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trackerd/check.h"
#include "trackerd/journal.h"

struct jcheck {
	unsigned long long	 lines;		/* good ones */
	unsigned long long	 bad_line;	/* first bad one, 0: none */
	const char		*bad_why;
	int			 corrupt;	/* a line after a bad one */
};

static int
dir_writable(const char *path, const char *what)
{
	char	copy[PATH_MAX], *dir;

	if (strlcpy(copy, path, sizeof(copy)) >= sizeof(copy)) {
		fprintf(stderr, "trackerd: %s %s: path too long\n", what, path);
		return -1;
	}
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) == -1) {
		fprintf(stderr, "trackerd: %s directory %s: %s\n", what, dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Only the last line may be bad (a torn append, dropped at start). */
static void
scan_lines(FILE *fp, struct jcheck *jc)
{
	char		*line = NULL;
	const char	*body;
	size_t		 cap = 0, blen;
	ssize_t		 n;
	uint64_t	 seq;
	int		 no, rc;

	while ((n = getline(&line, &cap, fp)) != -1) {
		if (jc->bad_line != 0) {
			jc->corrupt = 1;
			break;
		}
		if (line[n - 1] != '\n') {	/* partial last line */
			jc->bad_line = jc->lines + 1;
			jc->bad_why = "partial line";
			break;
		}
		rc = journal_parse_line(line, (size_t)n - 1, &seq, &no, &body,
		    &blen);
		if (rc == 0)
			jc->lines++;
		else {
			jc->bad_line = jc->lines + 1;
			jc->bad_why = rc == -1 ? "bad checksum" : "malformed line";
		}
	}
	free(line);
}

static int
check_journal(const char *path)
{
	struct jcheck	 jc = { 0 };
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT) {
			fprintf(stderr, "trackerd: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
		return dir_writable(path, "journal");	/* created at start */
	}
	scan_lines(fp, &jc);
	fclose(fp);
	if (jc.corrupt) {
		fprintf(stderr, "trackerd: %s:%llu: %s before the end of the "
		    "journal; the lines after it would be lost: move the "
		    "file aside and restore a copy\n", path, jc.bad_line,
		    jc.bad_why);
		return -1;
	}
	if (jc.bad_line != 0)
		fprintf(stderr, "trackerd: %s:%llu: %s at the end (a torn "
		    "write): it will be dropped at start\n", path,
		    jc.bad_line, jc.bad_why);
	if (access(path, R_OK | W_OK) == -1) {
		fprintf(stderr, "trackerd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(stderr, "trackerd: journal %s: %llu good lines\n", path,
	    jc.lines);
	return 0;
}

int
config_check(const struct tracker_config *cfg)
{
	int	rc = 0;

	/* tracker_info.txt and the options were parsed already */
	/* with -J the history is in etcd: the -l the services pass is unused */
	if (cfg->etcd.n == 0 && cfg->journal_path != NULL &&
	    check_journal(cfg->journal_path) == -1)
		rc = -1;
	if (cfg->pidfile != NULL && dir_writable(cfg->pidfile, "pidfile") == -1)
		rc = -1;
	if (rc == 0)
		fprintf(stderr, "trackerd: configuration OK: tracker %d of %d "
		    "on %s\n", cfg->tracker_no, cfg->ntrackers, cfg->self.text);
	return rc;
}
