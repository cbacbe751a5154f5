/* The shared-memory tables: insert, find, delete and full for every table,
 * free-list reuse, region layout checks and attaching from a second map.
 * Links state.c alone: no journal, the region is mapped directly. */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "trackerd/state.h"

static struct tracker_config	fx_cfg;
static struct tracker		*T;
static struct pw_record		 PW = { .algo = 1, .iterations = 1 };

/* Map the region as the journal code would, without a journal. */
static struct tracker *
st_map(int create, char *err, size_t errlen)
{
	struct tracker	*t = calloc(1, sizeof(*t));

	cr_assert_not_null(t);
	t->cfg = fx_cfg;
	if (state_map(t, create, err, errlen) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

static void
st_unmap(struct tracker *t, int unlink)
{
	if (unlink)
		shm_unlink(t->cfg.shm_name);
	state_unmap(t);
	free(t);
}

static void
setup(void)
{
	char	err[256];

	config_defaults(&fx_cfg);
	snprintf(fx_cfg.shm_name, sizeof(fx_cfg.shm_name), "/p2p-unit-%d",
	    (int)getpid());
	fx_cfg.max_users = 40;
	fx_cfg.max_groups = 8;
	fx_cfg.max_members = 16;
	fx_cfg.max_requests = 4;
	fx_cfg.max_sessions = 4;
	fx_cfg.max_files = 6;
	fx_cfg.max_seeders = 8;
	fx_cfg.max_hashes = 10;
	T = st_map(1, err, sizeof(err));
	cr_assert_not_null(T, "state_map: %s", err);
	state_lock_meta(T);
}

static void
teardown(void)
{
	state_unlock_meta(T);
	st_unmap(T, 1);
}

TestSuite(state, .init = setup, .fini = teardown);

static void
users(int n)
{
	char	name[16];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		cr_assert_eq(state_add_user_locked(T, name, &PW, i), 0, "%s", name);
	}
}

Test(state, users_insert_find_full)
{
	char		name[16];
	uint32_t	i, idx;

	users(40);
	cr_assert_eq(state_free_count(T, T_USER), 0);
	cr_assert_eq(state_add_user_locked(T, "extra", &PW, 0), -1);
	cr_assert_eq(state_add_user_locked(T, "u3", &PW, 0), -1, "duplicate");
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "u%u", i);
		idx = state_find_user_locked(T, name);
		cr_assert_neq(idx, NIL, "%s", name);
		cr_assert_str_eq(USER(T, idx)->name, name);
		cr_assert_eq(USER(T, idx)->seq, i);
	}
	cr_assert_eq(state_find_user_locked(T, "u40"), NIL);
	cr_assert_eq(state_find_user_locked(T, "u"), NIL);
}

Test(state, sessions_insert_delete_reuse)
{
	uint32_t	s;

	users(2);
	cr_assert_eq(state_add_session_locked(T, "u0", "AAAAAAAAAAAAAAAA", 100), 0);
	cr_assert_eq(state_add_session_locked(T, "u0", "AAAAAAAAAAAAAAAA", 100),
	    -1, "duplicate token");
	cr_assert_eq(state_add_session_locked(T, "nobody", "BBBBBBBBBBBBBBBB",
	    100), -1);
	cr_assert_eq(state_add_session_locked(T, "u1", "BBBBBBBBBBBBBBBB", 100), 0);
	cr_assert_eq(state_add_session_locked(T, "u1", "CCCCCCCCCCCCCCCC", 100), 0);
	cr_assert_eq(state_add_session_locked(T, "u1", "DDDDDDDDDDDDDDDD", 100), 0);
	cr_assert_eq(state_add_session_locked(T, "u1", "EEEEEEEEEEEEEEEE", 100), -1,
	    "full");
	s = state_find_session_locked(T, "CCCCCCCCCCCCCCCC");
	cr_assert_neq(s, NIL);
	cr_assert_str_eq(USER(T, SESSION(T, s)->user)->name, "u1");
	cr_assert_eq(state_touch_session_locked(T, "CCCCCCCCCCCCCCCC", 50, 1), 0);
	cr_assert_eq(SESSION(T, s)->last_touch, 100, "touch went back in time");
	cr_assert_eq(state_touch_session_locked(T, "CCCCCCCCCCCCCCCC", 150, 1), 0);
	cr_assert_eq(SESSION(T, s)->last_touch, 150);
	cr_assert_eq(SESSION(T, s)->journaled_touch, 150);
	cr_assert_eq(state_del_session_locked(T, "CCCCCCCCCCCCCCCC"), 0);
	cr_assert_eq(state_find_session_locked(T, "CCCCCCCCCCCCCCCC"), NIL);
	cr_assert_eq(state_del_session_locked(T, "CCCCCCCCCCCCCCCC"), -1);
	cr_assert_eq(state_add_session_locked(T, "u1", "EEEEEEEEEEEEEEEE", 100), 0,
	    "freed slot not reused");
	cr_assert_neq(state_find_session_locked(T, "AAAAAAAAAAAAAAAA"), NIL);
	cr_assert_neq(state_find_session_locked(T, "DDDDDDDDDDDDDDDD"), NIL);
}

Test(state, groups_members_requests)
{
	struct group_rec	*g;
	uint32_t		 gi, u0, u1, u2;

	users(4);
	u0 = state_find_user_locked(T, "u0");
	u1 = state_find_user_locked(T, "u1");
	u2 = state_find_user_locked(T, "u2");
	cr_assert_eq(state_add_group_locked(T, "g", "u0", 1), 0);
	cr_assert_eq(state_add_group_locked(T, "g", "u1", 1), -1);
	cr_assert_eq(state_add_group_locked(T, "h", "nobody", 1), -1);
	gi = state_find_group_locked(T, "g");
	g = GROUP(T, gi);
	cr_assert_eq(g->owner, u0);
	cr_assert_eq(g->members.count, 1);
	cr_assert_neq(state_find_member_locked(T, gi, u0), NIL);
	cr_assert_eq(state_add_request_locked(T, "g", "u0", 2), -1, "member");
	cr_assert_eq(state_add_request_locked(T, "g", "u1", 2), 0);
	cr_assert_eq(state_add_request_locked(T, "g", "u1", 2), -1, "twice");
	cr_assert_eq(state_add_request_locked(T, "g", "u2", 3), 0);
	cr_assert_eq(g->requests.count, 2);
	cr_assert_eq(state_add_member_locked(T, "g", "u3", 4, 1), -1,
	    "accepted without a request");
	cr_assert_eq(state_add_member_locked(T, "g", "u2", 4, 1), 0);
	cr_assert_eq(state_find_request_locked(T, gi, u2), NIL);
	cr_assert_eq(state_del_request_locked(T, "g", "u1"), 0);
	cr_assert_eq(state_del_request_locked(T, "g", "u1"), -1);
	cr_assert_eq(g->requests.count, 0);
	cr_assert_eq(g->members.count, 2);
	/* the owner leaves: the oldest member takes over */
	cr_assert_eq(state_leave_locked(T, "g", "u0"), 0);
	cr_assert_eq(g->owner, u2);
	cr_assert_eq(state_leave_locked(T, "g", "u0"), -1);
	cr_assert_eq(state_leave_locked(T, "g", "u2"), 0);
	cr_assert_eq(state_find_group_locked(T, "g"), NIL, "empty group kept");
	cr_assert_eq(T->hdr->groups.count, 0);
	cr_assert_eq(state_free_count(T, T_MEMBER), 16);
	cr_assert_eq(state_free_count(T, T_GROUP), 8);
	(void)u1;
}

Test(state, groups_full_and_list_order)
{
	char		name[16];
	uint32_t	i, gi;

	users(1);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "g%u", i);
		cr_assert_eq(state_add_group_locked(T, name, "u0", i), 0);
	}
	cr_assert_eq(state_add_group_locked(T, "g8", "u0", 9), -1);
	i = 0;
	for (gi = T->hdr->groups.head; gi != NIL; gi = GROUP(T, gi)->all.next) {
		snprintf(name, sizeof(name), "g%u", i++);
		cr_assert_str_eq(GROUP(T, gi)->name, name);
	}
	cr_assert_eq(i, 8);
}

Test(state, requests_full)
{
	char	name[16];
	int	i;

	users(6);
	cr_assert_eq(state_add_group_locked(T, "g", "u5", 1), 0);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		cr_assert_eq(state_add_request_locked(T, "g", name, 2), 0);
	}
	cr_assert_eq(state_add_request_locked(T, "g", "u4", 2), -1);
}

static uint8_t	H[4][SHA1_LEN];

Test(state, files_seeders_and_the_arena)
{
	uint8_t		 sha[SHA1_LEN] = { 1 };
	uint32_t	 g, f;
	struct ipaddr	 ip_, *ip = &ip_;
	struct file_rec	*fr;

	ipaddr_parse("127.0.0.1", ip);
	users(2);
	memset(H, 0xab, sizeof(H));
	cr_assert_eq(state_add_group_locked(T, "g", "u0", 1), 0);
	cr_assert_eq(state_add_session_locked(T, "u0", "AAAAAAAAAAAAAAAA", 10), 0);
	cr_assert_eq(state_add_session_locked(T, "u1", "BBBBBBBBBBBBBBBB", 10), 0);
	g = state_find_group_locked(T, "g");
	cr_assert_eq(state_add_file_locked(T, "g", "f", 1500000, sha, 3,
	    (const uint8_t (*)[SHA1_LEN])H, ip, 7001, "AAAAAAAAAAAAAAAA"), 0);
	cr_assert_eq(state_add_file_locked(T, "g", "f", 1500000, sha, 3,
	    (const uint8_t (*)[SHA1_LEN])H, ip, 7001, "AAAAAAAAAAAAAAAA"), -1);
	cr_assert_eq(state_add_file_locked(T, "g", "x", 1, sha, 1,
	    (const uint8_t (*)[SHA1_LEN])H, ip, 7001, "ZZZZZZZZZZZZZZZZ"), -1,
	    "no such session");
	f = state_find_file_locked(T, g, "f");
	cr_assert_neq(f, NIL);
	fr = FILEREC(T, f);
	cr_assert_eq(fr->npieces, 3);
	cr_assert(memcmp(state_piece_hash(T, fr->hash_off, 2), H[2],
	    SHA1_LEN) == 0);
	cr_assert_eq(state_add_seeder_locked(T, "g", "f", ip, 7002,
	    "BBBBBBBBBBBBBBBB", 0), 0);
	cr_assert_eq(state_add_seeder_locked(T, "g", "f", ip, 7002,
	    "BBBBBBBBBBBBBBBB", 0), 0, "same seeder again");
	cr_assert_eq(fr->seeders.count, 2);
	cr_assert_eq(state_file_active_seeders(T, f, 10), 2);
	cr_assert_eq(state_file_active_seeders(T, f,
	    10 + fx_cfg.lease_seconds + 1), 0, "lease not applied");
	/* the arena has 10 hashes: 3 used, 8 more do not fit */
	cr_assert_eq(state_add_file_locked(T, "g", "big", 4000000, sha, 8,
	    (const uint8_t (*)[SHA1_LEN])H, ip, 7001, "AAAAAAAAAAAAAAAA"), -1);
	cr_assert_eq(state_find_file_locked(T, g, "big"), NIL);
	cr_assert_eq(state_free_count(T, T_FILE), 5, "half-added file");
	/* logout of u1's session drops its seeder, not the file */
	cr_assert_eq(state_del_session_locked(T, "BBBBBBBBBBBBBBBB"), 0);
	cr_assert_eq(fr->seeders.count, 1);
	cr_assert_eq(state_del_seeder_locked(T, "g", "f", ip, 7002), -1);
	cr_assert_eq(state_del_seeder_locked(T, "g", "f", ip, 7001), 0);
	cr_assert_eq(state_find_file_locked(T, g, "f"), NIL, "seederless file");
	cr_assert_eq(state_free_count(T, T_FILE), 6);
	cr_assert_eq(state_free_count(T, T_SEEDER), 8);
}

Test(state, files_full)
{
	uint8_t		sha[SHA1_LEN] = { 2 };
	char		name[16];
	struct ipaddr	ip_, *ip = &ip_;
	int		i;

	ipaddr_parse("127.0.0.1", ip);
	users(1);
	cr_assert_eq(state_add_group_locked(T, "g", "u0", 1), 0);
	cr_assert_eq(state_add_session_locked(T, "u0", "AAAAAAAAAAAAAAAA", 10), 0);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(state_add_file_locked(T, "g", name, 0, sha, 0, NULL,
		    ip, 7001, "AAAAAAAAAAAAAAAA"), 0);
	}
	cr_assert_eq(state_add_file_locked(T, "g", "f6", 0, sha, 0, NULL, ip,
	    7001, "AAAAAAAAAAAAAAAA"), -1);
	cr_assert_eq(GROUP(T, state_find_group_locked(T, "g"))->files.count, 6);
	/* seeders: 6 used, 2 left */
	cr_assert_eq(state_add_seeder_locked(T, "g", "f0", ip, 1,
	    "AAAAAAAAAAAAAAAA", 0), 0);
	cr_assert_eq(state_add_seeder_locked(T, "g", "f0", ip, 2,
	    "AAAAAAAAAAAAAAAA", 0), 0);
	cr_assert_eq(state_add_seeder_locked(T, "g", "f0", ip, 3,
	    "AAAAAAAAAAAAAAAA", 0), -1);
	/* leaving the group removes the files with their last seeder */
	cr_assert_eq(state_leave_locked(T, "g", "u0"), 0);
	cr_assert_eq(state_free_count(T, T_FILE), 6);
	cr_assert_eq(state_free_count(T, T_SEEDER), 8);
	cr_assert_eq(SESSION(T, state_find_session_locked(T,
	    "AAAAAAAAAAAAAAAA"))->seeders.count, 0);
}

Test(state, region_layout_and_attach)
{
	struct tracker_config	 big;
	struct tracker		*w;
	char			 err[256];

	config_defaults(&big);
	/* defaults: >= 100k users and groups, 1M files: sparse, but sane */
	cr_assert_gt(state_region_size(&big), 100u << 20);
	cr_assert_lt(state_region_size(&big), 4ull << 30);
	cr_assert_eq(T->hdr->magic, STATE_MAGIC);
	cr_assert_eq(T->hdr->version, STATE_VERSION);
	cr_assert_eq(T->hdr->size, state_region_size(&fx_cfg));
	cr_assert_eq(T->hdr->size % 4096, 0);
	state_add_user_locked(T, "seen", &PW, 1);
	w = st_map(0, err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	cr_assert_neq(state_find_user_locked(w, "seen"), NIL);
	st_unmap(w, 0);
	T->hdr->magic ^= 1;
	cr_assert_null(st_map(0, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "magic"), "%s", err);
	T->hdr->magic ^= 1;
}

/* -o users=4294967295 is accepted: the table must still be sized for
 * every index 1..cap (cap + 1 wrapped to 0 in 32 bits, giving the table
 * no room at all and laying the next table over it). */
Test(state, layout_of_the_largest_table)
{
	struct tracker_config	cfg;

	config_defaults(&cfg);
	cfg.max_users = UINT32_MAX;
	cr_assert_geq(state_region_size(&cfg),
	    ((uint64_t)UINT32_MAX + 1) * sizeof(struct user_rec));
}

static int	rebuild_calls;

static int
count_rebuild(struct tracker *t)
{
	rebuild_calls++;
	state_reset_locked(t);
	return 0;
}

/* A dirty region is rebuilt through the owner's callback (state.c knows
 * nothing of the journal); without one it cannot be repaired. */
Test(state, dirty_region_rebuilt_by_callback)
{
	state_add_user_locked(T, "half", &PW, 1);
	T->rebuild = count_rebuild;
	T->hdr->dirty = 1;
	state_unlock_meta(T);
	cr_assert_eq(state_lock_meta(T), 0);
	cr_assert_eq(rebuild_calls, 1);
	cr_assert_eq(T->hdr->dirty, 0);
	cr_assert_eq(T->hdr->rebuilds, 1);
	cr_assert_eq(state_find_user_locked(T, "half"), NIL);
	state_unlock_meta(T);
	T->rebuild = NULL;
	T->hdr->dirty = 1;
	cr_assert_eq(state_lock_meta(T), -1, "repaired without a callback");
	T->hdr->dirty = 0;
	state_lock_meta(T);
}
