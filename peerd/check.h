/* peerd -n: check the configuration a start would use, creating and
 * changing nothing, like sshd -t. */
#ifndef PEERD_CHECK_H
#define PEERD_CHECK_H

/* Check conf (options and tracker_info.txt are parsed already); print
 * each problem on stderr. 0 if peerd could start, else -1. */
int	config_check(void);

#endif
