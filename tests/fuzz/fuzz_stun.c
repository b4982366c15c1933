/*
 * libFuzzer target for the STUN parser: any input must parse or fail
 * without touching memory outside it; what parses is checked for
 * integrity and rebuilt, and the rebuilt message must parse and verify.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/stun.h"

static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

/* A success response to the message's address must round-trip. */
static void rebuild_success(const struct tp_stun_msg *m)
{
	uint8_t out[128];
	size_t n = 0;
	struct tp_stun_msg r;

	EXPECT(tp_stun_build_success(out, sizeof(out), &n, m->tid,
				     (const struct sockaddr *)&m->xor_mapped, key,
				     sizeof(key) - 1) == 0);
	EXPECT(tp_stun_parse(&r, out, n) == 0);
	EXPECT(r.has_xor_mapped && r.has_fingerprint);
	EXPECT(r.xor_mapped.ss_family == m->xor_mapped.ss_family);
	EXPECT(tp_stun_check_integrity(&r, out, n, key, sizeof(key) - 1) == 0);
}

/* A request with the message's username and ICE attributes. */
static void rebuild_request(const struct tp_stun_msg *m)
{
	char user[514];
	uint8_t out[700];
	size_t n = 0;
	struct tp_stun_msg r;
	struct tp_stun_request req = {
	    .tid = m->tid,
	    .username = user,
	    .priority = m->priority,
	    .use_candidate = m->use_candidate,
	    .controlling = m->ice_controlling,
	    .tiebreaker = m->tiebreaker,
	    .key = key,
	    .keylen = sizeof(key) - 1,
	    .fingerprint = true,
	};

	if (memchr(m->username, 0, m->username_len))
		return; /* strlen would cut it short */
	memcpy(user, m->username, m->username_len);
	user[m->username_len] = '\0';
	EXPECT(tp_stun_build_request(out, sizeof(out), &n, &req) == 0);
	EXPECT(tp_stun_parse(&r, out, n) == 0);
	EXPECT(r.username_len == m->username_len);
	EXPECT(memcmp(r.username, m->username, m->username_len) == 0);
	EXPECT(r.priority == m->priority && r.tiebreaker == m->tiebreaker);
	EXPECT(r.use_candidate == m->use_candidate);
	EXPECT(tp_stun_check_integrity(&r, out, n, key, sizeof(key) - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_stun_msg m;
	int err;

	(void)tp_stun_is(data, size);
	if (tp_stun_parse(&m, data, size) != 0)
		return 0;
	err = tp_stun_check_integrity(&m, data, size, key, sizeof(key) - 1);
	EXPECT(err == 0 || err == EACCES || err == EBADMSG);
	EXPECT(m.has_integrity || err == EBADMSG);
	if (m.username)
		EXPECT(m.username >= data && m.username + m.username_len <= data + size);
	if (m.has_xor_mapped)
		rebuild_success(&m);
	if (m.username)
		rebuild_request(&m);
	if (m.error_code) {
		uint8_t out[128];
		size_t n = 0;
		struct tp_stun_msg r;

		EXPECT(tp_stun_build_error(out, sizeof(out), &n, m.tid, m.error_code,
					   "x") == 0);
		EXPECT(tp_stun_parse(&r, out, n) == 0 && r.error_code == m.error_code);
	}
	return 0;
}
