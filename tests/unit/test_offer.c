/* The offer table the piece server reads: partial downloads registered,
 * updated and withdrawn by their owner, complete shares from the store. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peerd/bitfield.h"
#include "peerd/offer.h"
#include "peerd/peerd.h"

struct peerd_config	conf;		/* the store reads state_dir */

static uint8_t	heard_sha1[SHA1_LEN];
static int64_t	heard = -1;

static void
on_piece(const uint8_t sha1[SHA1_LEN], uint32_t i)
{
	memcpy(heard_sha1, sha1, SHA1_LEN);
	heard = i;
}

Test(offer, partial_lifecycle)
{
	uint8_t			 sha1[SHA1_LEN], other[SHA1_LEN], *have;
	struct offer_view	 v;
	int			 owner, owner2;

	memset(sha1, 0x11, sizeof(sha1));
	memset(other, 0x22, sizeof(other));
	cr_assert_not_null(have = bf_new(10));
	bf_set(have, 3);
	cr_assert_eq(offer_find(sha1, NULL, &v), -1, "nothing offered yet");
	cr_assert_eq(offer_partial(&owner, sha1, "team", 5000000, 10, have, 7), 0);
	cr_assert_eq(offer_find(sha1, NULL, &v), 0);
	cr_assert_eq(v.fd, 7);
	cr_assert_eq(v.size, 5000000);
	cr_assert_eq(v.npieces, 10);
	cr_assert(offer_has(&v, 3));
	cr_assert_not(offer_has(&v, 4));
	cr_assert_not(offer_has(&v, 10), "out of range");
	cr_assert_eq(offer_find(other, NULL, &v), -1);

	offer_on_piece(on_piece);
	bf_set(have, 4);
	offer_piece(&owner, 4);
	cr_assert_eq(heard, 4);
	cr_assert_eq(memcmp(heard_sha1, sha1, SHA1_LEN), 0);
	cr_assert_eq(offer_find(sha1, NULL, &v), 0);
	cr_assert(offer_has(&v, 4), "the owner's bits are read live");
	heard = -1;
	offer_piece(&owner2, 5);
	cr_assert_eq(heard, -1, "an unknown owner is ignored");

	/* re-registering updates in place (a download that reopened) */
	cr_assert_eq(offer_partial(&owner, sha1, "team", 5000000, 10, have, 8), 0);
	cr_assert_eq(offer_partial(&owner2, other, "team", 1, 1, have, 9), 0);
	cr_assert_eq(offer_find(sha1, NULL, &v), 0);
	cr_assert_eq(v.fd, 8);
	offer_withdraw(&owner);
	cr_assert_eq(offer_find(sha1, NULL, &v), -1);
	cr_assert_eq(offer_find(other, NULL, &v), 0);
	offer_withdraw(&owner2);
	offer_withdraw(&owner2);
	cr_assert_eq(offer_find(other, NULL, &v), -1);
	cr_assert_eq(offer_find_name("f", &v), -1, "GET_PIECE: shares only");
	free(have);
}

static struct share	*changed;
static int		 nchanged;

static void
on_changed(struct share *s)
{
	changed = s;
	nchanged++;
}

/* A complete share is offered whole, ahead of a partial download of the
 * same file; once its file changes it is not offered, and the store
 * reports that once through its hook (it never talks to the tracker). */
Test(offer, complete_share_and_change)
{
	char			 tmpl[] = "/tmp/p2p-offer.XXXXXX", path[PATH_MAX];
	struct share		 s, *added;
	struct offer_view	 v;
	struct stat		 st;
	uint8_t			 have[1] = { 0 };
	int			 owner;
	FILE			*f;

	cr_assert_not_null(mkdtemp(tmpl));
	strlcpy(conf.state_dir, tmpl, sizeof(conf.state_dir));
	cr_assert_eq(store_init(), 0);
	store_on_changed(on_changed);
	snprintf(path, sizeof(path), "%s/data", tmpl);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("hello", f);
	fclose(f);
	cr_assert_eq(stat(path, &st), 0);
	memset(&s, 0, sizeof(s));
	strlcpy(s.group, "g", sizeof(s.group));
	strlcpy(s.name, "data", sizeof(s.name));
	strlcpy(s.path, path, sizeof(s.path));
	s.size = 5;
	s.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	memset(s.sha1, 0x33, SHA1_LEN);
	s.npieces = 1;
	cr_assert_not_null(s.piece_sha1 = calloc(1, SHA1_LEN));
	s.fd = -1;
	cr_assert_not_null(added = store_add_share(&s));
	cr_assert_eq(offer_partial(&owner, s.sha1, "team", 5, 1, have, 99), 0);

	cr_assert_eq(offer_find(s.sha1, NULL, &v), 0);
	cr_assert_null(v.have, "complete");
	cr_assert_eq(offer_find(s.sha1, "g", &v), 0);
	cr_assert_null(v.have, "the share, in its group");
	cr_assert_eq(offer_find(s.sha1, "team", &v), 0);
	cr_assert_eq(v.fd, 99, "the partial download, in its group");
	cr_assert_eq(offer_find(s.sha1, "other", &v), -1, "no other group");
	cr_assert_eq(offer_find(s.sha1, NULL, &v), 0);
	cr_assert_neq(v.fd, 99, "the share comes first");
	cr_assert(offer_has(&v, 0));
	cr_assert_eq(offer_find_name("data", &v), 0);

	cr_assert_not_null(f = fopen(path, "a"));
	fputs(" world", f);
	fclose(f);
	cr_assert_eq(offer_find_name("data", &v), -1);
	cr_assert_eq(nchanged, 1);
	cr_assert_eq(changed, added);
	cr_assert_eq(offer_find(s.sha1, NULL, &v), 0, "the partial download remains");
	cr_assert_eq(v.fd, 99);
	cr_assert_eq(nchanged, 1, "reported once");
	offer_withdraw(&owner);
	store_remove_share("g", "data");
	unlink(path);
	snprintf(path, sizeof(path), "%s/shares", tmpl);
	rmdir(path);
	rmdir(tmpl);
}
