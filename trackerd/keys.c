/* This tracker's ticket-signing key (generated at start, kept in memory
 * only, inherited by the workers) and the journaled public keys of all. */
#include <stdio.h>
#include <string.h>

#include "ipc/log.h"
#include "trackerd/commands.h"
#include "trackerd/journal.h"
#include "trackerd/keys.h"

static EVP_PKEY	*signing_key;
static uint8_t	 signing_id[TICKET_KEYID_LEN];

int
keys_init(struct tracker *t)
{
	uint8_t		 pub[TICKET_PUB_LEN];
	char		 body[160], idhex[2 * TICKET_KEYID_LEN + 1];
	char		 pubhex[2 * TICKET_PUB_LEN + 1];

	if ((signing_key = ticket_keygen(pub)) == NULL) {
		snprintf(t->err, sizeof(t->err), "Ed25519 key generation failed");
		return -1;
	}
	ticket_keyid(pub, signing_id);
	hex_encode(signing_id, TICKET_KEYID_LEN, idhex);
	hex_encode(pub, TICKET_PUB_LEN, pubhex);
	snprintf(body, sizeof(body), "key %d %s %s", t->cfg.tracker_no, idhex,
	    pubhex);
	if (journal_publish(t, body) == -1)
		return -1;
	log_info("ticket key %s", idhex);
	return 0;
}

int
keys_apply_locked(struct tracker *t, char **argv, int argc)
{
	struct tracker_pubkey	*slot, k = { .used = 1 };
	uint64_t		 no;

	if (argc != 4 || parse_u64(argv[1], 1, MAX_TRACKERS, &no) == -1 ||
	    hex_decode(argv[2], k.keyid, sizeof(k.keyid)) != sizeof(k.keyid) ||
	    strlen(argv[2]) != 2 * sizeof(k.keyid) ||
	    hex_decode(argv[3], k.pub, sizeof(k.pub)) != sizeof(k.pub) ||
	    strlen(argv[3]) != 2 * sizeof(k.pub))
		return -1;
	slot = t->hdr->keys[no - 1];
	if (slot[0].used && memcmp(slot[0].keyid, k.keyid, sizeof(k.keyid)) == 0)
		return 0;
	slot[1] = slot[0];
	slot[0] = k;
	return 0;
}

int
keys_line_locked(struct tracker *t, int no, int k, struct buf *out)
{
	struct tracker_pubkey	*s = &t->hdr->keys[no - 1][k];
	char			 id[2 * TICKET_KEYID_LEN + 1];
	char			 pub[2 * TICKET_PUB_LEN + 1];

	if (!s->used)
		return -1;
	hex_encode(s->keyid, sizeof(s->keyid), id);
	hex_encode(s->pub, sizeof(s->pub), pub);
	return buf_printf(out, "key %d %s %s", no, id, pub) == -1 ? -1 : 0;
}

size_t
keys_known_locked(struct tracker *t, struct ticket_key *keys, size_t max)
{
	size_t	n = 0;
	int	i, k;

	for (i = 0; i < MAX_TRACKERS; i++)
		for (k = 0; k < KEYS_PER_TRACKER; k++) {
			if (!t->hdr->keys[i][k].used || n == max)
				continue;
			memcpy(keys[n].keyid, t->hdr->keys[i][k].keyid,
			    TICKET_KEYID_LEN);
			memcpy(keys[n].pub, t->hdr->keys[i][k].pub,
			    TICKET_PUB_LEN);
			n++;
		}
	return n;
}

int
keys_ticket_hex(const char *user, const char *group,
    const uint8_t sha1[SHA1_LEN], uint64_t expires, char *hex)
{
	struct ticket	tk;
	uint8_t		bin[TICKET_MAX_BIN];
	size_t		n;

	if (signing_key == NULL)
		return -1;
	memset(&tk, 0, sizeof(tk));
	memcpy(tk.keyid, signing_id, TICKET_KEYID_LEN);
	tk.expires = expires;
	memcpy(tk.sha1, sha1, SHA1_LEN);
	if (strlcpy(tk.user, user, sizeof(tk.user)) >= sizeof(tk.user) ||
	    strlcpy(tk.group, group, sizeof(tk.group)) >= sizeof(tk.group))
		return -1;
	if ((n = ticket_sign(&tk, signing_key, bin, sizeof(bin))) == 0)
		return -1;
	hex_encode(bin, n, hex);
	return 0;
}
