/* etcd snapshots: the live state in chunks under PREFIX/snap/, switched in
 * by one compare, then the changes it covers deleted and etcd compacted. */
#ifndef TRACKERD_SNAPSHOT_H
#define TRACKERD_SNAPSHOT_H

#include <stdint.h>

struct tracker;
struct etcd;

/* Master, from its loop: write a snapshot when enough changes came after
 * the last one (-o snapshot=N), through h, a connection of its own. */
void	snapshot_due(struct tracker *, struct etcd *h);
/* Write one now; 0, or -1 (another tracker's won, or etcd failed). */
int	snapshot_write(struct tracker *, struct etcd *h);

#endif
