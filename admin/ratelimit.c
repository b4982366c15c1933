/*
 * Per-address rate limits (token buckets): joins, and failed credential
 * checks (admin key, join tokens), so that one address can neither flood
 * the room threads with joins nor guess keys. A fixed table; when it is
 * full, the least recently used address is forgotten.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

#define SLOTS 1024
#define PROBE 8

struct bucket {
	uint8_t addr[16];
	bool used;
	double tokens[AD_RATE_KINDS];
	uint64_t last_us;
};

static const struct {
	double per_s, burst;
} limits[AD_RATE_KINDS] = {
	[AD_RATE_JOIN] = { 10, 60 }, /* a class joining from one NAT still fits */
	[AD_RATE_AUTH_FAIL] = { 0.5, 20 },
};

static struct bucket table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The client's address as 16 bytes (IPv4 mapped). */
static bool key_of(struct MHD_Connection *c, uint8_t key[16])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(key, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static struct bucket *find(const uint8_t key[16], uint64_t now)
{
	uint32_t h = 2166136261u;
	struct bucket *oldest = NULL;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	for (int i = 0; i < PROBE; i++) {
		struct bucket *b = &table[(h + (uint32_t)i) % SLOTS];
		if (b->used && !memcmp(b->addr, key, 16))
			return b;
		if (!b->used || !oldest || b->last_us < oldest->last_us)
			oldest = b;
		if (!b->used)
			break;
	}
	memcpy(oldest->addr, key, 16);
	oldest->used = true;
	for (int k = 0; k < AD_RATE_KINDS; k++)
		oldest->tokens[k] = limits[k].burst;
	oldest->last_us = now;
	return oldest;
}

static bool take(struct MHD_Connection *c, enum ad_rate kind, bool consume)
{
	uint64_t now = cm_now_us();
	uint8_t key[16];
	struct bucket *b;
	bool ok;

	if (!key_of(c, key))
		return true;
	pthread_mutex_lock(&lock);
	b = find(key, now);
	for (int k = 0; k < AD_RATE_KINDS; k++)
		b->tokens[k] = CM_MIN(limits[k].burst,
				      b->tokens[k] + (double)(now - b->last_us) / 1e6 *
							     limits[k].per_s);
	b->last_us = now;
	ok = b->tokens[kind] >= 1.0;
	if (ok && consume)
		b->tokens[kind] -= 1.0;
	pthread_mutex_unlock(&lock);
	return ok;
}

bool ad_rate_allow(struct MHD_Connection *c, enum ad_rate kind, enum MHD_Result *ret)
{
	/* Joins spend a token each; failed checks spend theirs in
	 * ad_rate_failed, and only an empty bucket refuses. */
	if (take(c, kind, kind == AD_RATE_JOIN))
		return true;
	*ret = ad_reply_error(c, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
			      kind == AD_RATE_JOIN ? "too many joins from this address"
						   : "too many failed credentials from this address");
	return false;
}

void ad_rate_failed(struct MHD_Connection *c)
{
	take(c, AD_RATE_AUTH_FAIL, true);
}
