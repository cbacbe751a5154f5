/* Default settings of trackerd: capacities sized for at least 100k users,
 * 100k groups and 1M files, OWASP's PBKDF2 cost, a 15-minute seeder lease. */
#include <string.h>
#include <unistd.h>

#include "ipc/pieces.h"
#include "trackerd/config.h"

void
config_defaults(struct tracker_config *cfg)
{
	long	ncpu;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->workers = ncpu < 2 ? 2 : ncpu > 64 ? 64 : (int)ncpu;
	cfg->max_users = 131072;
	cfg->max_groups = 131072;
	cfg->max_members = 1u << 20;
	cfg->max_requests = 262144;
	cfg->max_sessions = 131072;
	cfg->max_files = 1u << 20;
	cfg->max_seeders = 2u << 20;
	cfg->max_hashes = 16ull << 20;
	cfg->max_file_size = MAX_FILE_SIZE_DEFAULT;
	cfg->kdf_iterations = 600000;
	cfg->lease_seconds = 900;
	cfg->sync = SYNC_ALWAYS;
	cfg->compact_bytes = 64ull << 20;
	cfg->etcd.n = 0;
	cfg->reads = READS_SESSION;
	cfg->snapshot_lines = 100000;
	cfg->shm_name[0] = '\0';
}
