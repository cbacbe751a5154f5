/* sharectl's pieces that are tested on their own: the command table,
 * argument checks and resolution, and answer formatting (TSV or JSON). */
#ifndef SHARECTL_SHARECTL_H
#define SHARECTL_SHARECTL_H

#include <limits.h>
#include <stdio.h>

#include "ipc/ctl.h"

struct sc_cmd;
/* Prints one record of the answer (TSV mode). */
typedef void	sc_print_fn(FILE *, const struct ctl_reply *);

struct sc_cmd {
	const char		*name;
	sc_print_fn		*print;		/* TSV printer */
	const struct ctl_cmd	*proto;		/* argc, types, session, list */
};

/* A command line checked and ready to send. */
struct sc_call {
	const struct sc_cmd	*cmd;
	int			 argc;		/* with the command name */
	char			*argv[CTL_MAX_ARGS + 1];
	char			 paths[CTL_MAX_ARGS][PATH_MAX];
};

const struct sc_cmd *sc_cmd_find(const char *name);
/*
 * Check a command line (argv[0] the command) and resolve PATH and
 * DEST_DIR against the working directory. Returns 0, CTL_USAGE (bad
 * command, count or name) or CTL_FAIL (a path that cannot be resolved),
 * with a one-line message in err. call->argv points into argv or
 * call->paths.
 */
int	sc_prepare(int argc, char *const argv[], struct sc_call *, char *err,
	    size_t errlen);
/* "usage: sharectl NAME ARGS" */
void	sc_usage_line(const struct ctl_cmd *, char *out, size_t outlen);

/* The answer printer: TSV lines as records arrive, or one JSON document
 * (array for list commands, object otherwise) at the end. */
struct sc_output {
	const struct sc_cmd	*cmd;
	int			 json;
	int			 nrecords;
	FILE			*fp;
};
void	sc_output_begin(struct sc_output *, const struct sc_cmd *, int json,
	    FILE *);
void	sc_output_record(struct sc_output *, const struct ctl_reply *);
/* ok: the command succeeded (JSON: print the document only then). */
void	sc_output_end(struct sc_output *, int ok);

/* JSON string literal (with quotes) of s. */
void	sc_json_string(FILE *, const char *s);
/* Percent of done/total as shown by show_downloads. */
unsigned sc_percent(unsigned long long done, unsigned long long total,
	    int complete);

#endif
