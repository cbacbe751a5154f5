/* libFuzzer harness for tickets (ipc/ticket.c): the strict decoder, the
 * whole seeder-side check against a fixed key, the hex form the tracker
 * sends (peerd/tproto.c), and the keys list.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ticket.h"
#include "peerd/tproto.h"

/* RFC 8032 test 1 public key: any input that verifies under it without
 * being signed by its owner would be a break, not a fuzz finding. */
static const uint8_t pub[TICKET_PUB_LEN] = {
	0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
	0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
	0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a
};

static void
fuzz_binary(const uint8_t *p, size_t n)
{
	struct ticket_key	k;
	struct ticket		t;
	uint8_t			sha[SHA1_LEN] = { 0 };

	memcpy(k.pub, pub, sizeof(pub));
	ticket_keyid(pub, k.keyid);
	if (ticket_decode(p, n, &t) == 0 &&
	    (strlen(t.user) == 0 || strlen(t.group) == 0 ||
	    n < TICKET_MIN_BIN || n > TICKET_MAX_BIN))
		abort();
	(void)ticket_check(p, n, &k, 1, sha, "g", 0, &t);
}

static void
fuzz_text(const uint8_t *p, size_t n)
{
	struct treply		r;
	struct ticket_key	keys[4];
	uint8_t			bin[TICKET_MAX_BIN];
	size_t			len, nk;
	uint64_t		exp;

	tproto_parse((const char *)p, n, &r);
	if (tproto_ticket(&r, bin, &len, &exp) == 0 && len > TICKET_MAX_BIN)
		abort();
	if (tproto_keys(&r, keys, 4, &nk) == 0 && nk > 4)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	if (n == 0)
		return 0;
	if (data[0] & 1)
		fuzz_binary(data + 1, n - 1);
	else
		fuzz_text(data + 1, n - 1);
	return 0;
}
