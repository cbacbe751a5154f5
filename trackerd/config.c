/* Default settings of trackerd: capacities sized for at least 100k users,
 * 100k groups and 1M files, per-user shares of them, OWASP's PBKDF2 cost,
 * a 15-minute seeder lease. */
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
	cfg->quota_files = cfg->quota_groups = cfg->quota_requests = 0;
	cfg->quota_sessions = 0;
	cfg->quota_hashes = 0;
	cfg->signups = 10;
	cfg->signup_window = 3600;
	cfg->ticket_lifetime = TICKET_LIFETIME;
	cfg->kdf_iterations = 600000;
	cfg->lease_seconds = 900;
	cfg->sync = SYNC_ALWAYS;
	cfg->compact_bytes = 64ull << 20;
	cfg->etcd.n = 0;
	cfg->reads = READS_SESSION;
	cfg->snapshot_lines = 100000;
	cfg->shm_name[0] = '\0';
}

static uint64_t
at_least_one(uint64_t v)
{
	return v < 1 ? 1 : v;
}

/*
 * Unless set, a user may hold 1/16 of the files or seeders (whichever
 * table is smaller) and of the piece-hash space, 1/64 of the groups, of
 * the join requests and of the sessions: no one user fills a table.
 */
uint64_t
config_quota(const struct tracker_config *cfg, enum quota q)
{
	uint32_t	shares;

	switch (q) {
	case Q_FILES:
		shares = cfg->max_files < cfg->max_seeders ? cfg->max_files :
		    cfg->max_seeders;
		return cfg->quota_files ? cfg->quota_files :
		    at_least_one(shares / 16);
	case Q_HASHES:
		return cfg->quota_hashes ? cfg->quota_hashes :
		    at_least_one(cfg->max_hashes / 16);
	case Q_GROUPS:
		return cfg->quota_groups ? cfg->quota_groups :
		    at_least_one(cfg->max_groups / 64);
	case Q_REQUESTS:
		return cfg->quota_requests ? cfg->quota_requests :
		    at_least_one(cfg->max_requests / 64);
	case Q_SESSIONS:
		return cfg->quota_sessions ? cfg->quota_sessions :
		    at_least_one(cfg->max_sessions / 64);
	}
	return 1;
}
