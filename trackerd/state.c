/* The shared-memory tables of trackerd: region layout, record allocation,
 * hash indexes, intrusive lists, robust locks and every state change. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"
#include "trackerd/listcache.h"
#include "trackerd/state.h"

#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define LINK(t, tbl, off, i) \
	((struct link *)((char *)state_rec((t), (tbl), (i)) + (off)))

static const uint32_t rec_sizes[T_NTABLES] = {
	[T_USER] = sizeof(struct user_rec),
	[T_GROUP] = sizeof(struct group_rec),
	[T_MEMBER] = sizeof(struct member_rec),
	[T_REQUEST] = sizeof(struct member_rec),
	[T_SESSION] = sizeof(struct session_rec),
	[T_FILE] = sizeof(struct file_rec),
	[T_SEEDER] = sizeof(struct seeder_rec),
};

/* ---- hashing ---- */

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Keyed by a random per-region seed so names cannot be chosen to collide. */
static uint64_t
hash_str(struct tracker *t, const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ull ^ t->hdr->hash_seed;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ull;
	}
	return mix64(h);
}

static uint64_t
hash_pair(struct tracker *t, uint32_t a, uint32_t b)
{
	return mix64(((uint64_t)a << 32 | b) ^ t->hdr->hash_seed);
}

static uint64_t
hash_file(struct tracker *t, uint32_t group, const char *name)
{
	return hash_str(t, name) ^ mix64(group + 0x9e3779b97f4a7c15ull);
}

uint32_t
state_file_bucket(struct tracker *t, uint32_t group, const char *name)
{
	return (uint32_t)(hash_file(t, group, name) & (STATE_NBUCKETS - 1));
}

/* ---- layout ---- */

static uint32_t
hash_heads(uint32_t cap)
{
	uint32_t	n = STATE_NBUCKETS;

	while (n < cap && n < (1u << 31))
		n <<= 1;
	return n;
}

static int
table_has_hash(enum table_id id)
{
	return id != T_SEEDER;
}

static uint32_t
table_cap(const struct tracker_config *cfg, enum table_id id)
{
	switch (id) {
	case T_USER:	return cfg->max_users;
	case T_GROUP:	return cfg->max_groups;
	case T_MEMBER:	return cfg->max_members;
	case T_REQUEST:	return cfg->max_requests;
	case T_SESSION:	return cfg->max_sessions;
	case T_FILE:	return cfg->max_files;
	case T_SEEDER:	return cfg->max_seeders;
	default:	return 0;
	}
}

/* Lay the tables out after the header; returns the region size. */
static uint64_t
layout(const struct tracker_config *cfg, struct table_desc *t,
    uint64_t *arena_off)
{
	uint64_t	off = ALIGN_UP(sizeof(struct state_hdr), 4096);
	int		i;

	for (i = 0; i < T_NTABLES; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].cap = table_cap(cfg, i);
		t[i].recsize = rec_sizes[i];
		t[i].off = off;
		off = ALIGN_UP(off + ((uint64_t)t[i].cap + 1) * t[i].recsize, 4096);
		if (table_has_hash(i)) {
			t[i].hmask = hash_heads(t[i].cap) - 1;
			t[i].hoff = off;
			off = ALIGN_UP(off + (uint64_t)(t[i].hmask + 1) * 4, 4096);
		}
	}
	*arena_off = off;
	return ALIGN_UP(off + cfg->max_hashes * SHA1_LEN, 4096);
}

size_t
state_region_size(const struct tracker_config *cfg)
{
	struct table_desc	t[T_NTABLES];
	uint64_t		arena;

	return layout(cfg, t, &arena);
}

static int
mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t	a;
	int			rc;

	if ((rc = pthread_mutexattr_init(&a)) != 0)
		return rc;
	if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
	    (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
	    (rc = pthread_mutex_init(m, &a))) {
		pthread_mutexattr_destroy(&a);
		return rc;
	}
	pthread_mutexattr_destroy(&a);
	return 0;
}

static int
header_init(struct tracker *t, uint64_t size)
{
	struct state_hdr	*h = t->hdr;
	int			 i;

	h->magic = STATE_MAGIC;
	h->version = STATE_VERSION;
	h->nbuckets = STATE_NBUCKETS;
	h->size = size;
	arc4random_buf(&h->hash_seed, sizeof(h->hash_seed));
	h->arena_cap = t->cfg.max_hashes;
	layout(&t->cfg, h->t, &h->arena_off);
	if ((errno = mutex_init(&h->meta)) != 0)
		return -1;
	for (i = 0; i < STATE_NBUCKETS; i++)
		if ((errno = mutex_init(&h->bucket[i])) != 0)
			return -1;
	return 0;
}

static int
map_fd(struct tracker *t, int fd, uint64_t size, char *err, size_t errlen)
{
	void	*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s (%llu bytes): %s",
		    t->cfg.shm_name, (unsigned long long)size, strerror(errno));
		return -1;
	}
	t->hdr = p;
	t->maplen = size;
	return 0;
}

static int
state_create(struct tracker *t, char *err, size_t errlen)
{
	uint64_t	size = state_region_size(&t->cfg);
	int		fd;

	if (shm_unlink(t->cfg.shm_name) == 0)
		log_warnx("removed a stale shared memory object %s",
		    t->cfg.shm_name);
	fd = shm_open(t->cfg.shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "shm_open %s: %s", t->cfg.shm_name,
		    strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)size) == -1) {
		snprintf(err, errlen, "ftruncate %s to %llu bytes: %s",
		    t->cfg.shm_name, (unsigned long long)size, strerror(errno));
		goto fail;
	}
	if (map_fd(t, fd, size, err, errlen) == -1)
		goto fail;
	close(fd);
	if (header_init(t, size) == -1) {
		snprintf(err, errlen, "pthread_mutex_init: %s", strerror(errno));
		return -1;
	}
	return 0;
fail:
	close(fd);
	shm_unlink(t->cfg.shm_name);
	return -1;
}

static int
state_attach(struct tracker *t, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	fd = shm_open(t->cfg.shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "shm_open %s: %s", t->cfg.shm_name,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size < (off_t)sizeof(struct state_hdr)) {
		snprintf(err, errlen, "%s: not a trackerd state region",
		    t->cfg.shm_name);
		goto fail;
	}
	if (map_fd(t, fd, (uint64_t)st.st_size, err, errlen) == -1)
		goto fail;
	close(fd);
	if (t->hdr->magic != STATE_MAGIC || t->hdr->version != STATE_VERSION ||
	    t->hdr->size != (uint64_t)st.st_size) {
		snprintf(err, errlen, "%s: bad magic, version or size",
		    t->cfg.shm_name);
		state_unmap(t);
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

int
state_map(struct tracker *t, int create, char *err, size_t errlen)
{
	t->pid = getpid();
	return create ? state_create(t, err, errlen) :
	    state_attach(t, err, errlen);
}

void
state_unmap(struct tracker *t)
{
	listcache_free(t->lcache);	/* its replies were built from it */
	t->lcache = NULL;
	if (t->hdr != NULL)
		munmap(t->hdr, t->maplen);
	t->hdr = NULL;
}

void
state_reset_locked(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	struct table_desc	*td;
	int			 i;

	for (i = 0; i < T_NTABLES; i++) {
		td = &h->t[i];
		td->used = td->free_head = td->hiwater = 0;
		if (td->hoff)
			memset((char *)h + td->hoff, 0,
			    (size_t)(td->hmask + 1) * 4);
	}
	h->arena_used = 0;
	memset(&h->groups, 0, sizeof(h->groups));
	memset(h->keys, 0, sizeof(h->keys));
	h->signups_total = 0;
	memset(&h->rids, 0, sizeof(h->rids));
}

/* ---- locks ---- */

/*
 * Locks are held for a microsecond or two: spin a little before sleeping
 * in the kernel, which costs more than the wait (and the wake-up) here.
 */
static int
mutex_lock_spin(pthread_mutex_t *m)
{
	int	i, rc;

	for (i = 0; i < 200; i++) {
		if ((rc = pthread_mutex_trylock(m)) != EBUSY)
			return rc;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	return pthread_mutex_lock(m);
}

static int
lock_robust(struct tracker *t, pthread_mutex_t *m, int32_t *owner,
    const char *what)
{
	int	rc;

	rc = mutex_lock_spin(m);
	if (rc == EOWNERDEAD) {
		log_warnx("%s: its owner (pid %d) died holding it; repairing",
		    what, (int)*owner);
		pthread_mutex_consistent(m);
		*owner = t->pid;
		return 1;
	}
	if (rc != 0)
		fatalx("pthread_mutex_lock %s: %s", what, strerror(rc));
	*owner = t->pid;
	return 0;
}

/* Meta held: rebuild from the journal if a dead owner left it dirty. */
static int
repair_if_dirty(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	int			 rc;

	if (!__atomic_load_n(&h->dirty, __ATOMIC_ACQUIRE))
		return 0;
	state_lock_all_buckets(t);
	rc = t->rebuild != NULL ? t->rebuild(t) : -1;
	state_unlock_all_buckets(t);
	if (rc == -1) {
		state_unlock_meta(t);
		return -1;
	}
	__atomic_store_n(&h->dirty, 0, __ATOMIC_RELEASE);
	h->rebuilds++;
	log_warnx("state rebuilt from the journal (%llu changes)",
	    (unsigned long long)h->last_seq);
	return 0;
}

static void
owner_died(struct tracker *t, pthread_mutex_t *m)
{
	struct state_hdr	*h = t->hdr;

	log_warnx("state lock: its owner (pid %d) died holding it; "
	    "rebuilding from the journal", (int)h->meta_owner);
	h->repair_pid = h->meta_owner;
	pthread_mutex_consistent(m);
	__atomic_store_n(&h->dirty, 1, __ATOMIC_RELEASE);
}

int
state_lock_meta(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	int			 rc;

	rc = mutex_lock_spin(&h->meta);
	if (rc == EOWNERDEAD)
		owner_died(t, &h->meta);
	else if (rc != 0)
		fatalx("pthread_mutex_lock state lock: %s", strerror(rc));
	h->meta_owner = t->pid;
	t->meta_held = 1;
	return repair_if_dirty(t);
}

/* Repair now if the holder of meta died; never wait for a live one. */
int
state_repair(struct tracker *t)
{
	struct state_hdr	*h = t->hdr;
	int			 rc;

	rc = pthread_mutex_trylock(&h->meta);
	if (rc == EBUSY)
		return 0;
	if (rc == EOWNERDEAD)
		owner_died(t, &h->meta);
	else if (rc != 0)
		return -1;
	h->meta_owner = t->pid;
	t->meta_held = 1;
	if (repair_if_dirty(t) == -1)
		return -1;
	state_unlock_meta(t);
	return 0;
}

void
state_unlock_meta(struct tracker *t)
{
	t->meta_held = 0;
	pthread_mutex_unlock(&t->hdr->meta);
}

void
state_lock_bucket(struct tracker *t, uint32_t b)
{
	struct state_hdr	*h = t->hdr;

	if (t->buckets_held)
		return;
	for (;;) {
		if (lock_robust(t, &h->bucket[b], &h->bucket_owner[b],
		    "file bucket lock") == 0 || t->meta_held)
			return;
		/*
		 * Its owner may have been a writer, which also held meta: have
		 * the next meta owner rebuild, then try again.
		 */
		__atomic_store_n(&h->dirty, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&h->bucket[b]);
		if (state_lock_meta(t) == 0)
			state_unlock_meta(t);
	}
}

void
state_unlock_bucket(struct tracker *t, uint32_t b)
{
	if (t->buckets_held)
		return;
	pthread_mutex_unlock(&t->hdr->bucket[b]);
}

void
state_lock_all_buckets(struct tracker *t)
{
	uint32_t	b;

	for (b = 0; b < STATE_NBUCKETS; b++)
		lock_robust(t, &t->hdr->bucket[b], &t->hdr->bucket_owner[b],
		    "file bucket lock");
	t->buckets_held = 1;
}

void
state_unlock_all_buckets(struct tracker *t)
{
	uint32_t	b;

	t->buckets_held = 0;
	for (b = 0; b < STATE_NBUCKETS; b++)
		pthread_mutex_unlock(&t->hdr->bucket[b]);
}

/* ---- records, hash chains, lists ---- */

void *
state_rec(struct tracker *t, enum table_id id, uint32_t idx)
{
	struct table_desc	*td = &t->hdr->t[id];

	return (char *)t->hdr + td->off + (uint64_t)idx * td->recsize;
}

uint32_t
state_free_count(struct tracker *t, enum table_id id)
{
	return t->hdr->t[id].cap - t->hdr->t[id].used;
}

uint8_t *
state_piece_hash(struct tracker *t, uint64_t hash_off, uint32_t i)
{
	return (uint8_t *)t->hdr + t->hdr->arena_off + (hash_off + i) * SHA1_LEN;
}

uint64_t
state_live_count(struct tracker *t)
{
	uint64_t	n = 0;
	int		i;

	for (i = 0; i < T_NTABLES; i++)
		n += t->hdr->t[i].used;
	/* the request ids kept are lines of a compacted journal too */
	n += t->hdr->rids.total < STATE_RIDS ? t->hdr->rids.total : STATE_RIDS;
	return n;
}

static uint32_t
rec_alloc(struct tracker *t, enum table_id id)
{
	struct table_desc	*td = &t->hdr->t[id];
	struct rec_head		*r;
	uint32_t		 i;

	if (td->free_head != NIL) {
		i = td->free_head;
		td->free_head = ((struct rec_head *)state_rec(t, id, i))->hnext;
	} else if (td->hiwater < td->cap)
		i = ++td->hiwater;
	else
		return NIL;
	r = state_rec(t, id, i);
	memset(r, 0, td->recsize);
	r->used = 1;
	td->used++;
	return i;
}

static void
rec_free(struct tracker *t, enum table_id id, uint32_t i)
{
	struct table_desc	*td = &t->hdr->t[id];
	struct rec_head		*r = state_rec(t, id, i);

	memset(r, 0, td->recsize);
	r->hnext = td->free_head;
	td->free_head = i;
	td->used--;
}

static uint32_t *
hash_head(struct tracker *t, enum table_id id, uint64_t h)
{
	struct table_desc	*td = &t->hdr->t[id];

	return (uint32_t *)((char *)t->hdr + td->hoff) + (h & td->hmask);
}

static void
hash_insert(struct tracker *t, enum table_id id, uint64_t h, uint32_t i)
{
	uint32_t	*head = hash_head(t, id, h);

	((struct rec_head *)state_rec(t, id, i))->hnext = *head;
	*head = i;
}

static void
hash_remove(struct tracker *t, enum table_id id, uint64_t h, uint32_t i)
{
	uint32_t	*p = hash_head(t, id, h);
	struct rec_head	*r;

	while (*p != NIL) {
		r = state_rec(t, id, *p);
		if (*p == i) {
			*p = r->hnext;
			return;
		}
		p = &r->hnext;
	}
}

static void
list_append(struct tracker *t, enum table_id id, size_t off, struct list *l,
    uint32_t i)
{
	struct link	*k = LINK(t, id, off, i);

	k->prev = l->tail;
	k->next = NIL;
	if (l->tail != NIL)
		LINK(t, id, off, l->tail)->next = i;
	else
		l->head = i;
	l->tail = i;
	l->count++;
}

static void
list_remove(struct tracker *t, enum table_id id, size_t off, struct list *l,
    uint32_t i)
{
	struct link	*k = LINK(t, id, off, i);

	if (k->prev != NIL)
		LINK(t, id, off, k->prev)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NIL)
		LINK(t, id, off, k->next)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NIL;
	l->count--;
}

/* ---- lookups ---- */

uint32_t
state_find_user_locked(struct tracker *t, const char *name)
{
	uint32_t	i = *hash_head(t, T_USER, hash_str(t, name));

	for (; i != NIL; i = USER(t, i)->h.hnext)
		if (strcmp(USER(t, i)->name, name) == 0)
			return i;
	return NIL;
}

uint32_t
state_find_group_locked(struct tracker *t, const char *name)
{
	uint32_t	i = *hash_head(t, T_GROUP, hash_str(t, name));

	for (; i != NIL; i = GROUP(t, i)->h.hnext)
		if (strcmp(GROUP(t, i)->name, name) == 0)
			return i;
	return NIL;
}

static uint32_t
find_pair(struct tracker *t, enum table_id id, uint32_t g, uint32_t u)
{
	uint32_t		 i = *hash_head(t, id, hash_pair(t, g, u));
	struct member_rec	*m;

	for (; i != NIL; i = m->h.hnext) {
		m = state_rec(t, id, i);
		if (m->group == g && m->user == u)
			return i;
	}
	return NIL;
}

uint32_t
state_find_member_locked(struct tracker *t, uint32_t g, uint32_t u)
{
	return find_pair(t, T_MEMBER, g, u);
}

uint32_t
state_find_request_locked(struct tracker *t, uint32_t g, uint32_t u)
{
	return find_pair(t, T_REQUEST, g, u);
}

uint32_t
state_find_session_locked(struct tracker *t, const char *token)
{
	uint32_t	i = *hash_head(t, T_SESSION, hash_str(t, token));

	for (; i != NIL; i = SESSION(t, i)->h.hnext)
		if (strcmp(SESSION(t, i)->token, token) == 0)
			return i;
	return NIL;
}

uint32_t
state_find_file_locked(struct tracker *t, uint32_t g, const char *name)
{
	uint32_t	 i = *hash_head(t, T_FILE, hash_file(t, g, name));
	struct file_rec	*f;

	for (; i != NIL; i = f->h.hnext) {
		f = FILEREC(t, i);
		if (f->group == g && strcmp(f->name, name) == 0)
			return i;
	}
	return NIL;
}

uint32_t
state_find_seeder_locked(struct tracker *t, uint32_t f,
    const struct ipaddr *ip,
    uint16_t port)
{
	uint32_t		 i = FILEREC(t, f)->seeders.head;
	struct seeder_rec	*s;

	for (; i != NIL; i = s->flink.next) {
		s = SEEDER(t, i);
		if (ipaddr_eq(&s->ip, ip) && s->port == port)
			return i;
	}
	return NIL;
}

int
state_seeder_active(struct tracker *t, uint32_t s, uint64_t now)
{
	struct session_rec	*se = SESSION(t, SEEDER(t, s)->session);
	uint64_t		 last;

	last = __atomic_load_n(&se->last_touch, __ATOMIC_RELAXED);
	return last + t->cfg.lease_seconds >= now;
}

uint32_t
state_file_active_until(struct tracker *t, uint32_t f, uint64_t now,
    uint64_t *until)
{
	struct session_rec	*se;
	uint64_t		 end;
	uint32_t		 i, n = 0;

	for (i = FILEREC(t, f)->seeders.head; i != NIL;
	    i = SEEDER(t, i)->flink.next) {
		se = SESSION(t, SEEDER(t, i)->session);
		end = __atomic_load_n(&se->last_touch, __ATOMIC_RELAXED) +
		    t->cfg.lease_seconds;
		if (end < now)
			continue;
		n++;
		if (end < *until)
			*until = end;
	}
	return n;
}

uint32_t
state_file_active_seeders(struct tracker *t, uint32_t f, uint64_t now)
{
	uint64_t	until = UINT64_MAX;

	return state_file_active_until(t, f, now, &until);
}

/* ---- generations ---- */

static void
group_changed(struct tracker *t, uint32_t g)
{
	GROUP(t, g)->gen = ++t->hdr->gen_next;
}

/* Session si's seeders changed (lapsed, came back): so did their groups. */
static void
session_seeders_changed(struct tracker *t, uint32_t si)
{
	uint32_t	i;

	for (i = SESSION(t, si)->seeders.head; i != NIL;
	    i = SEEDER(t, i)->slink.next)
		group_changed(t, FILEREC(t, SEEDER(t, i)->file)->group);
}

void
state_session_touch_locked(struct tracker *t, uint32_t si, uint64_t when)
{
	struct session_rec	*s = SESSION(t, si);
	uint64_t		 last;

	last = __atomic_load_n(&s->last_touch, __ATOMIC_RELAXED);
	if (last >= when)
		return;
	__atomic_store_n(&s->last_touch, when, __ATOMIC_RELAXED);
	if (last + t->cfg.lease_seconds < t->hdr->activity_seen)
		session_seeders_changed(t, si);
}

/* ---- users and sessions ---- */

int
state_note_signup_locked(struct tracker *t, const char *name,
    const struct ipaddr *ip,
    uint64_t when)
{
	struct state_hdr	*h = t->hdr;
	struct user_rec		*u;
	uint32_t		 i;

	if ((i = state_find_user_locked(t, name)) == NIL)
		return -1;
	u = USER(t, i);
	u->created_ip = *ip;
	u->created = when;
	h->signup[h->signups_total % STATE_SIGNUPS] =
	    (struct signup){ .ip = *ip, .user = i, .when = when };
	h->signups_total++;
	return 0;
}

/* Every user record: for a window longer than the ring remembers. */
static uint32_t
signups_scan(struct tracker *t, const struct ipaddr *ip, uint64_t since)
{
	struct user_rec	*u;
	uint32_t	 i, n = 0;

	for (i = 1; i <= t->hdr->t[T_USER].hiwater; i++) {
		u = USER(t, i);
		n += u->h.used && u->created != 0 && u->created >= since &&
		    ipaddr_eq(&u->created_ip, ip);
	}
	return n;
}

/*
 * Newest first through the ring; creations are in journal order, which is
 * time order, so the scan stops at the first one before since. Only when
 * the whole ring is inside the window are the user records counted.
 */
uint32_t
state_signups_since_locked(struct tracker *t, const struct ipaddr *ip,
    uint64_t since)
{
	struct state_hdr	*h = t->hdr;
	struct signup		*s;
	uint64_t		 i, kept;
	uint32_t		 n = 0;

	kept = h->signups_total < STATE_SIGNUPS ? h->signups_total :
	    STATE_SIGNUPS;
	for (i = 1; i <= kept; i++) {
		s = &h->signup[(h->signups_total - i) % STATE_SIGNUPS];
		if (s->when < since)
			return n;
		n += ipaddr_eq(&s->ip, ip);
	}
	if (h->signups_total <= STATE_SIGNUPS)
		return n;
	return signups_scan(t, ip, since);
}

int
state_add_user_locked(struct tracker *t, const char *name,
    const struct pw_record *pw, uint64_t seq)
{
	struct user_rec	*u;
	uint32_t	 i;

	if (state_find_user_locked(t, name) != NIL ||
	    (i = rec_alloc(t, T_USER)) == NIL)
		return -1;
	u = USER(t, i);
	strlcpy(u->name, name, sizeof(u->name));
	u->pw = *pw;
	u->seq = seq;
	hash_insert(t, T_USER, hash_str(t, name), i);
	return 0;
}

int
state_add_session_locked(struct tracker *t, const char *user,
    const char *token, uint64_t when)
{
	struct session_rec	*s;
	uint32_t		 u, i;

	if ((u = state_find_user_locked(t, user)) == NIL ||
	    state_find_session_locked(t, token) != NIL ||
	    (i = rec_alloc(t, T_SESSION)) == NIL)
		return -1;
	s = SESSION(t, i);
	strlcpy(s->token, token, sizeof(s->token));
	s->user = u;
	USER(t, u)->use.sessions++;
	s->last_touch = s->journaled_touch = when;
	hash_insert(t, T_SESSION, hash_str(t, token), i);
	return 0;
}

/* A share of file fi by user u begins (+1) or ends (-1). */
static void
share_charge(struct tracker *t, uint32_t u, uint32_t fi, int sign)
{
	struct user_usage	*use = &USER(t, u)->use;
	uint64_t		 n = FILEREC(t, fi)->npieces;

	if (sign > 0) {
		use->shares++;
		use->hashes += n;
	} else {
		use->shares--;
		use->hashes -= n;
	}
}

static void
file_delete(struct tracker *t, uint32_t fi)
{
	struct file_rec	*f = FILEREC(t, fi);

	group_changed(t, f->group);
	hash_remove(t, T_FILE, hash_file(t, f->group, f->name), fi);
	list_remove(t, T_FILE, offsetof(struct file_rec, glink),
	    &GROUP(t, f->group)->files, fi);
	rec_free(t, T_FILE, fi);
}

/* Remove one seeder; a file left without seeders goes too. The caller
 * holds meta; this takes the file's bucket. */
static void
seeder_delete(struct tracker *t, uint32_t si)
{
	struct seeder_rec	*s = SEEDER(t, si);
	struct file_rec		*f = FILEREC(t, s->file);
	uint32_t		 fi = s->file, b;

	b = state_file_bucket(t, f->group, f->name);
	state_lock_bucket(t, b);
	group_changed(t, f->group);
	share_charge(t, s->user, fi, -1);
	list_remove(t, T_SEEDER, offsetof(struct seeder_rec, flink),
	    &f->seeders, si);
	list_remove(t, T_SEEDER, offsetof(struct seeder_rec, slink),
	    &SESSION(t, s->session)->seeders, si);
	rec_free(t, T_SEEDER, si);
	if (f->seeders.count == 0)
		file_delete(t, fi);
	state_unlock_bucket(t, b);
}

int
state_del_session_locked(struct tracker *t, const char *token)
{
	struct session_rec	*s;
	uint32_t		 i;

	if ((i = state_find_session_locked(t, token)) == NIL)
		return -1;
	s = SESSION(t, i);
	while (s->seeders.head != NIL)
		seeder_delete(t, s->seeders.head);
	USER(t, s->user)->use.sessions--;
	hash_remove(t, T_SESSION, hash_str(t, token), i);
	rec_free(t, T_SESSION, i);
	return 0;
}

int
state_touch_session_locked(struct tracker *t, const char *token,
    uint64_t when, int journaled)
{
	struct session_rec	*s;
	uint32_t		 i;

	if ((i = state_find_session_locked(t, token)) == NIL)
		return -1;
	s = SESSION(t, i);
	state_session_touch_locked(t, i, when);
	if (journaled && s->journaled_touch < when)
		s->journaled_touch = when;
	return 0;
}

/* ---- groups, requests, members ---- */

static uint32_t
member_add(struct tracker *t, enum table_id id, uint32_t g, uint32_t u,
    uint64_t seq)
{
	struct member_rec	*m;
	struct group_rec	*gr = GROUP(t, g);
	uint32_t		 i;

	if ((i = rec_alloc(t, id)) == NIL)
		return NIL;
	m = state_rec(t, id, i);
	m->group = g;
	m->user = u;
	m->seq = seq;
	if (id == T_REQUEST)
		USER(t, u)->use.requests++;
	group_changed(t, g);
	hash_insert(t, id, hash_pair(t, g, u), i);
	list_append(t, id, offsetof(struct member_rec, glink),
	    id == T_MEMBER ? &gr->members : &gr->requests, i);
	return i;
}

static void
member_del(struct tracker *t, enum table_id id, uint32_t i)
{
	struct member_rec	*m = state_rec(t, id, i);
	struct group_rec	*gr = GROUP(t, m->group);

	if (id == T_REQUEST)
		USER(t, m->user)->use.requests--;
	group_changed(t, m->group);
	hash_remove(t, id, hash_pair(t, m->group, m->user), i);
	list_remove(t, id, offsetof(struct member_rec, glink),
	    id == T_MEMBER ? &gr->members : &gr->requests, i);
	rec_free(t, id, i);
}

int
state_add_group_locked(struct tracker *t, const char *name,
    const char *owner, uint64_t seq)
{
	struct group_rec	*g;
	uint32_t		 u, i;

	if (state_find_group_locked(t, name) != NIL ||
	    (u = state_find_user_locked(t, owner)) == NIL ||
	    state_free_count(t, T_MEMBER) == 0 ||
	    (i = rec_alloc(t, T_GROUP)) == NIL)
		return -1;
	g = GROUP(t, i);
	strlcpy(g->name, name, sizeof(g->name));
	g->owner = u;
	USER(t, u)->use.groups++;
	hash_insert(t, T_GROUP, hash_str(t, name), i);
	list_append(t, T_GROUP, offsetof(struct group_rec, all),
	    &t->hdr->groups, i);
	member_add(t, T_MEMBER, i, u, seq);
	return 0;
}

static int
find_gu(struct tracker *t, const char *group, const char *user, uint32_t *g,
    uint32_t *u)
{
	if ((*g = state_find_group_locked(t, group)) == NIL ||
	    (*u = state_find_user_locked(t, user)) == NIL)
		return -1;
	return 0;
}

int
state_add_request_locked(struct tracker *t, const char *group,
    const char *user, uint64_t seq)
{
	uint32_t	g, u;

	if (find_gu(t, group, user, &g, &u) == -1 ||
	    state_find_member_locked(t, g, u) != NIL ||
	    state_find_request_locked(t, g, u) != NIL)
		return -1;
	return member_add(t, T_REQUEST, g, u, seq) == NIL ? -1 : 0;
}

int
state_del_request_locked(struct tracker *t, const char *group,
    const char *user)
{
	uint32_t	g, u, r;

	if (find_gu(t, group, user, &g, &u) == -1 ||
	    (r = state_find_request_locked(t, g, u)) == NIL)
		return -1;
	member_del(t, T_REQUEST, r);
	return 0;
}

int
state_add_member_locked(struct tracker *t, const char *group,
    const char *user, uint64_t seq, int from_request)
{
	uint32_t	g, u, r = NIL;

	if (find_gu(t, group, user, &g, &u) == -1 ||
	    state_find_member_locked(t, g, u) != NIL ||
	    state_free_count(t, T_MEMBER) == 0)
		return -1;
	if (from_request &&
	    (r = state_find_request_locked(t, g, u)) == NIL)
		return -1;
	if (r != NIL)
		member_del(t, T_REQUEST, r);
	else if ((r = state_find_request_locked(t, g, u)) != NIL)
		member_del(t, T_REQUEST, r);
	member_add(t, T_MEMBER, g, u, seq);
	return 0;
}

/* Stop every share of user u in group g. */
static void
unseed_user_in_group(struct tracker *t, uint32_t g, uint32_t u)
{
	uint32_t	fi, next_f, si, next_s;

	for (fi = GROUP(t, g)->files.head; fi != NIL; fi = next_f) {
		next_f = FILEREC(t, fi)->glink.next;
		/* seeder_delete may free the file with its last seeder */
		for (si = FILEREC(t, fi)->seeders.head; si != NIL; si = next_s) {
			next_s = SEEDER(t, si)->flink.next;
			if (SEEDER(t, si)->user != u)
				continue;
			if (FILEREC(t, fi)->seeders.count == 1) {
				seeder_delete(t, si);
				break;
			}
			seeder_delete(t, si);
		}
	}
}

static void
group_delete(struct tracker *t, uint32_t g)
{
	struct group_rec	*gr = GROUP(t, g);

	while (gr->requests.head != NIL)
		member_del(t, T_REQUEST, gr->requests.head);
	while (gr->files.head != NIL) {
		struct file_rec *f = FILEREC(t, gr->files.head);

		/* the last seeder_delete frees the file */
		while (f->seeders.count > 1)
			seeder_delete(t, f->seeders.head);
		seeder_delete(t, f->seeders.head);
	}
	USER(t, gr->owner)->use.groups--;
	hash_remove(t, T_GROUP, hash_str(t, gr->name), g);
	list_remove(t, T_GROUP, offsetof(struct group_rec, all),
	    &t->hdr->groups, g);
	rec_free(t, T_GROUP, g);
}

int
state_leave_locked(struct tracker *t, const char *group, const char *user)
{
	struct group_rec	*gr;
	uint32_t		 g, u, m;

	if (find_gu(t, group, user, &g, &u) == -1 ||
	    (m = state_find_member_locked(t, g, u)) == NIL)
		return -1;
	unseed_user_in_group(t, g, u);
	member_del(t, T_MEMBER, m);
	gr = GROUP(t, g);
	if (gr->members.count == 0)
		group_delete(t, g);
	else if (gr->owner == u) {
		gr->owner = MEMBER(t, gr->members.head)->user;
		USER(t, u)->use.groups--;
		USER(t, gr->owner)->use.groups++;
	}
	return 0;
}

/* ---- files and seeders ---- */

static void
seeder_place(struct tracker *t, uint32_t fi, uint32_t si, uint32_t sess)
{
	struct seeder_rec	*s = SEEDER(t, si);

	s->file = fi;
	s->session = sess;
	s->user = SESSION(t, sess)->user;
	share_charge(t, s->user, fi, 1);
	list_append(t, T_SEEDER, offsetof(struct seeder_rec, slink),
	    &SESSION(t, sess)->seeders, si);
}

/* Add or move the seeder (ip, port) of file fi to session sess; bucket of
 * fi held. */
static int
seeder_set(struct tracker *t, uint32_t fi, const struct ipaddr *ip,
    uint16_t port,
    uint32_t sess, int partial)
{
	struct seeder_rec	*s;
	uint32_t		 si;

	group_changed(t, FILEREC(t, fi)->group);
	if ((si = state_find_seeder_locked(t, fi, ip, port)) != NIL) {
		s = SEEDER(t, si);
		s->partial = partial != 0;
		share_charge(t, s->user, fi, -1);
		list_remove(t, T_SEEDER, offsetof(struct seeder_rec, slink),
		    &SESSION(t, s->session)->seeders, si);
		seeder_place(t, fi, si, sess);
		return 0;
	}
	if ((si = rec_alloc(t, T_SEEDER)) == NIL)
		return -1;
	s = SEEDER(t, si);
	s->ip = *ip;
	s->port = port;
	s->partial = partial != 0;
	list_append(t, T_SEEDER, offsetof(struct seeder_rec, flink),
	    &FILEREC(t, fi)->seeders, si);
	seeder_place(t, fi, si, sess);
	return 0;
}

int
state_add_file_locked(struct tracker *t, const char *group, const char *name,
    uint64_t size, const uint8_t sha1[SHA1_LEN], uint32_t npieces,
    const uint8_t (*hashes)[SHA1_LEN], const struct ipaddr *ip, uint16_t port,
    const char *token)
{
	struct state_hdr	*h = t->hdr;
	struct file_rec		*f;
	char			 hex[SHA1_HEX_LEN + 1];
	uint32_t		 g, fi, sess, b;

	if ((g = state_find_group_locked(t, group)) == NIL ||
	    (sess = state_find_session_locked(t, token)) == NIL ||
	    state_find_file_locked(t, g, name) != NIL ||
	    state_free_count(t, T_SEEDER) == 0 ||
	    h->arena_cap - h->arena_used < npieces ||
	    (fi = rec_alloc(t, T_FILE)) == NIL)
		return -1;
	f = FILEREC(t, fi);
	f->group = g;
	strlcpy(f->name, name, sizeof(f->name));
	f->size = size;
	memcpy(f->sha1, sha1, SHA1_LEN);
	sha1_to_hex(sha1, hex);
	memcpy(f->sha1_hex, hex, SHA1_HEX_LEN);
	f->npieces = npieces;
	f->hash_off = h->arena_used;
	if (npieces > 0)
		memcpy(state_piece_hash(t, f->hash_off, 0), hashes,
		    (size_t)npieces * SHA1_LEN);
	h->arena_used += npieces;
	b = state_file_bucket(t, g, name);
	state_lock_bucket(t, b);
	hash_insert(t, T_FILE, hash_file(t, g, name), fi);
	list_append(t, T_FILE, offsetof(struct file_rec, glink),
	    &GROUP(t, g)->files, fi);
	seeder_set(t, fi, ip, port, sess, 0);
	state_unlock_bucket(t, b);
	return 0;
}

int
state_add_seeder_locked(struct tracker *t, const char *group,
    const char *name, const struct ipaddr *ip, uint16_t port,
    const char *token,
    int partial)
{
	uint32_t	g, fi, sess, b;
	int		rc;

	if ((g = state_find_group_locked(t, group)) == NIL ||
	    (sess = state_find_session_locked(t, token)) == NIL ||
	    (fi = state_find_file_locked(t, g, name)) == NIL)
		return -1;
	b = state_file_bucket(t, g, name);
	state_lock_bucket(t, b);
	rc = seeder_set(t, fi, ip, port, sess, partial);
	state_unlock_bucket(t, b);
	return rc;
}

int
state_del_seeder_locked(struct tracker *t, const char *group,
    const char *name, const struct ipaddr *ip, uint16_t port)
{
	uint32_t	g, fi, si;

	if ((g = state_find_group_locked(t, group)) == NIL ||
	    (fi = state_find_file_locked(t, g, name)) == NIL ||
	    (si = state_find_seeder_locked(t, fi, ip, port)) == NIL)
		return -1;
	seeder_delete(t, si);
	return 0;
}
