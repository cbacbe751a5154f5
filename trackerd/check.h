/* trackerd -n: check the configuration a start would use, changing
 * nothing, like sshd -t and nginx -t. */
#ifndef TRACKERD_CHECK_H
#define TRACKERD_CHECK_H

#include "trackerd/config.h"

/* Print each problem on stderr; 0 if trackerd could start, else -1. */
int	config_check(const struct tracker_config *);

#endif
