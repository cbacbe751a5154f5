/* The control protocol between sharectl and peerd: the command table both
 * sides validate against, and the line framing of requests and replies. */
#ifndef IPC_CTL_H
#define IPC_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include "ipc/proto.h"

/*
 * Framing (one line each, '\n'-terminated, fields separated by '\t'; a
 * '\\', '\t' or '\n' inside a field is written "\\\\", "\\t", "\\n"):
 *   request:  COMMAND \t ARG ...
 *   reply:    zero or more records, then one status line
 *     R \t key=value \t key=value ...	a record (an answer line)
 *     P \t key=value ...		progress while `wait` runs
 *     S \t CODE \t MESSAGE		end: CODE is sharectl's exit status
 */
#define CTL_MAX_LINE	16384	/* a request or reply line */
#define CTL_MAX_ARGS	4	/* arguments after the command */
#define CTL_MAX_FIELDS	16	/* fields in a reply line */

/* Exit codes: sysexits.h where it has one. */
#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	EX_USAGE
#define CTL_UNAVAIL	EX_UNAVAILABLE

enum ctl_argtype {
	CTL_ARG_USER,		/* a name */
	CTL_ARG_GROUP,
	CTL_ARG_FILE,
	CTL_ARG_PASSWORD,
	CTL_ARG_PATH,		/* absolute, no control characters */
	CTL_ARG_KEEP,		/* the word "keep" */
	CTL_ARG_LIMIT,		/* upload_rate, download_rate, max_active */
	CTL_ARG_AMOUNT		/* digits with an optional k, M, G */
};

struct ctl_cmd {
	const char	*name;
	int		 argc;
	enum ctl_argtype args[CTL_MAX_ARGS];
	int		 session;	/* needs a logged-in peerd */
	int		 list;		/* answer is a list (JSON array) */
	const char	*usage;		/* argument synopsis */
	int		 optional;	/* trailing arguments that may be left out */
};

const struct ctl_cmd *ctl_cmd_find(const char *name);
/* Index i of the table (NULL past the end), for usage listings. */
const struct ctl_cmd *ctl_cmd_at(int i);
/*
 * Check argc and every argument against the command's types. Returns 0,
 * or -1 with a one-line reason in err. With relpath_ok, PATH arguments
 * may be relative (sharectl resolves them after this check).
 */
int	ctl_validate(const struct ctl_cmd *, int argc, char *const argv[],
	    int relpath_ok, char *err, size_t errlen);

/* Split a line (no '\n') on tabs and unescape each field in place.
 * Returns the field count, or -1 on a bad escape or too many fields. */
int	ctl_split(char *line, char **fields, int maxfields);
/* Append field (escaped) to b, preceded by a tab unless first. */
int	ctl_put_field(struct buf *b, const char *field, int first);

/* A parsed request: argv[0] the command, argv[1..] its arguments. */
struct ctl_request {
	const struct ctl_cmd	*cmd;
	int			 argc;	/* arguments, not counting the command */
	char			*argv[CTL_MAX_ARGS];
};
/*
 * Parse and validate a request line in place. Returns 0, or an exit code
 * (CTL_USAGE) with a message in err.
 */
int	ctl_parse_request(char *line, struct ctl_request *, char *err,
	    size_t errlen);
/* Format a request line (with '\n') into b. */
int	ctl_format_request(struct buf *b, int argc, char *const argv[]);

/* A parsed reply line. */
enum ctl_kind { CTL_RECORD, CTL_PROGRESS, CTL_STATUS };
struct ctl_reply {
	enum ctl_kind	 kind;
	int		 nfields;	/* records: key/value pairs */
	char		*key[CTL_MAX_FIELDS];
	char		*value[CTL_MAX_FIELDS];
	int		 code;		/* status */
	char		*message;	/* status */
};
/* Parse one reply line in place; 0 or -1 if malformed. */
int	ctl_parse_reply(char *line, struct ctl_reply *);
/* Value of key in a record, or NULL. */
const char *ctl_get(const struct ctl_reply *, const char *key);

/* Reply writers used by peerd: a record from key/value pairs (NULL
 * terminated: key, value, key, value, ..., NULL), and a status line. */
int	ctl_put_record(struct buf *b, char kind, const char *const kv[]);
int	ctl_put_status(struct buf *b, int code, const char *message);

/* An amount: digits with an optional k, M or G suffix (x1000); 0 or -1. */
int	ctl_parse_amount(const char *, uint64_t *out);

/*
 * The control socket when -S is not given, the one rule of peerd and
 * sharectl: $P2PSHARE_SOCKET, else $XDG_RUNTIME_DIR/p2pshare/peerd.sock,
 * else /run/user/UID/p2pshare/peerd.sock when that directory exists (cron
 * and su have no XDG_RUNTIME_DIR), else ~/.p2pshare/peerd.sock. -1 if it
 * does not fit.
 */
#define CTL_SOCKET_ENV	"P2PSHARE_SOCKET"
int	ctl_default_socket(char *out, size_t outlen);

#endif
