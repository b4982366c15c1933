/*
 * STUN: the RFC 5769 test vectors, builder round trips, and malformed
 * input (truncation, lying lengths, bad fingerprints).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "common/common.h"
#include "transport/stun.h"
#include "check.h"

static const char *rfc_pwd = "VOkJxbRl1RmTxUk/WvJxBt";

/* RFC 5769 2.1: Binding request, SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME "evtj:h6vY", MESSAGE-INTEGRITY, FINGERPRINT. */
static const uint8_t rfc_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
    0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
    0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
    0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
    0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 2.2: success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 2.3: success response, XOR-MAPPED-ADDRESS
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
    0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
    0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
    0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static int check_key(const struct tp_stun_msg *m, const uint8_t *b, size_t n,
		     const char *pwd)
{
	return tp_stun_check_integrity(m, b, n, (const uint8_t *)pwd, strlen(pwd));
}

static void rfc5769_request_parses_with_its_attributes(void)
{
	struct tp_stun_msg m;

	CHECK(tp_stun_is(rfc_req, sizeof(rfc_req)));
	CHECK_EQ(tp_stun_parse(&m, rfc_req, sizeof(rfc_req)), 0);
	CHECK_EQ(m.type, TP_STUN_BINDING_REQUEST);
	CHECK(memcmp(m.tid, rfc_req + 8, 12) == 0);
	CHECK_EQ(m.username_len, 9);
	CHECK(m.username && memcmp(m.username, "evtj:h6vY", 9) == 0);
	CHECK(m.has_priority);
	CHECK_EQ(m.priority, 0x6e0001ff);
	CHECK(m.ice_controlled);
	CHECK(!m.ice_controlling);
	CHECK(m.tiebreaker == 0x932ff9b151263b36ull);
	CHECK(m.has_integrity);
	CHECK_EQ(m.integrity_off, 76);
	CHECK(m.has_fingerprint);
	CHECK(!m.use_candidate);
	CHECK(!m.has_xor_mapped);
	CHECK_EQ(m.error_code, 0);
}

static void rfc5769_request_integrity_matches_the_password(void)
{
	struct tp_stun_msg m;

	CHECK_EQ(tp_stun_parse(&m, rfc_req, sizeof(rfc_req)), 0);
	CHECK_EQ(check_key(&m, rfc_req, sizeof(rfc_req), rfc_pwd), 0);
	CHECK_EQ(check_key(&m, rfc_req, sizeof(rfc_req), "VOkJxbRl1RmTxUk/WvJxBT"),
		 EACCES);
}

static void rfc5769_ipv4_response_decodes_192_0_2_1_port_32853(void)
{
	struct tp_stun_msg m;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&m.xor_mapped;
	char ip[INET_ADDRSTRLEN] = "";

	CHECK_EQ(tp_stun_parse(&m, rfc_resp4, sizeof(rfc_resp4)), 0);
	CHECK_EQ(m.type, TP_STUN_BINDING_SUCCESS);
	CHECK(m.has_fingerprint);
	CHECK(m.has_xor_mapped);
	CHECK_EQ(sin->sin_family, AF_INET);
	CHECK_EQ(ntohs(sin->sin_port), 32853);
	inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	CHECK(strcmp(ip, "192.0.2.1") == 0);
	CHECK_EQ(check_key(&m, rfc_resp4, sizeof(rfc_resp4), rfc_pwd), 0);
}

static void rfc5769_ipv6_response_decodes_2001_db8_port_32853(void)
{
	struct tp_stun_msg m;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&m.xor_mapped;
	char ip[INET6_ADDRSTRLEN] = "";

	CHECK_EQ(tp_stun_parse(&m, rfc_resp6, sizeof(rfc_resp6)), 0);
	CHECK(m.has_fingerprint);
	CHECK(m.has_xor_mapped);
	CHECK_EQ(sin6->sin6_family, AF_INET6);
	CHECK_EQ(ntohs(sin6->sin6_port), 32853);
	inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
	CHECK(strcmp(ip, "2001:db8:1234:5678:11:2233:4455:6677") == 0);
	CHECK_EQ(check_key(&m, rfc_resp6, sizeof(rfc_resp6), rfc_pwd), 0);
}

/* Flipping any byte of a vector must be caught: by the parser (header,
 * lengths, fingerprint) or by the integrity check. Every position is
 * tried. The exception is the FINGERPRINT's own type: flipped, it becomes
 * an unknown attribute after MESSAGE-INTEGRITY, which RFC 5389 15.4 says
 * to ignore, so the message is then valid but carries no fingerprint. */
static void flip_each_byte(const uint8_t *vec, size_t n)
{
	uint8_t b[128];
	size_t caught = 0;

	for (size_t i = 0; i < n; i++) {
		struct tp_stun_msg m;
		int err;

		memcpy(b, vec, n);
		b[i] ^= 0x01;
		err = tp_stun_parse(&m, b, n);
		if (i == n - 8 || i == n - 7) {
			CHECK_EQ(err, 0);
			CHECK(!m.has_fingerprint);
			CHECK_EQ(check_key(&m, b, n, rfc_pwd), 0);
			caught++;
			continue;
		}
		if (err == 0)
			err = check_key(&m, b, n, rfc_pwd);
		if (err == EBADMSG || err == EACCES)
			caught++;
		else
			fprintf(stderr, "flipped byte %zu not caught (%d)\n", i, err);
	}
	CHECK_EQ(caught, n);
}

static void rfc5769_vectors_with_a_flipped_byte_fail(void)
{
	struct tp_stun_msg m;
	uint8_t b[sizeof(rfc_req)];

	flip_each_byte(rfc_req, sizeof(rfc_req));
	flip_each_byte(rfc_resp4, sizeof(rfc_resp4));
	flip_each_byte(rfc_resp6, sizeof(rfc_resp6));

	/* a byte inside the HMAC: fingerprint caught first */
	memcpy(b, rfc_req, sizeof(b));
	b[80] ^= 0x80;
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
	/* the username changed and the fingerprint recomputed: integrity */
	memcpy(b, rfc_req, sizeof(b));
	b[64] = 'E';
	cm_wr32(b + 100, 0); /* break fingerprint -> EBADMSG */
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
	/* without FINGERPRINT: cut it off and fix the length */
	memcpy(b, rfc_req, sizeof(b));
	b[64] = 'E';
	cm_wr16(b + 2, 0x58 - 8);
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b) - 8), 0);
	CHECK(!m.has_fingerprint);
	CHECK_EQ(check_key(&m, b, sizeof(b) - 8, rfc_pwd), EACCES);
}

static void stun_truncated_at_every_length_fails(void)
{
	const uint8_t *vecs[] = {rfc_req, rfc_resp4, rfc_resp6};
	size_t lens[] = {sizeof(rfc_req), sizeof(rfc_resp4), sizeof(rfc_resp6)};

	for (size_t v = 0; v < 3; v++) {
		for (size_t n = 0; n < lens[v]; n++) {
			struct tp_stun_msg m;
			/* a copy of exactly n bytes so ASan sees overreads */
			uint8_t *b = malloc(n ? n : 1);

			memcpy(b, vecs[v], n);
			CHECK_EQ(tp_stun_parse(&m, b, n), EBADMSG);
			/* with the header length cut to match, the cut
			 * attribute itself must be caught */
			if (n >= TP_STUN_HEADER_LEN) {
				cm_wr16(b + 2, (uint16_t)(n - TP_STUN_HEADER_LEN));
				if (n % 4 == 0 && tp_stun_parse(&m, b, n) == 0) {
					/* only cuts on attribute boundaries
					 * before FINGERPRINT may parse */
					CHECK(!m.has_fingerprint);
				}
			}
			free(b);
		}
	}
}

static void stun_attribute_that_overruns_the_message_is_rejected(void)
{
	struct tp_stun_msg m;
	uint8_t b[sizeof(rfc_resp4)];

	memcpy(b, rfc_resp4, sizeof(b));
	cm_wr16(b + 22, 0x00ff); /* SOFTWARE claims 255 bytes */
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
	cm_wr16(b + 22, 0xfffc);
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
}

static void stun_length_not_multiple_of_4_is_rejected(void)
{
	struct tp_stun_msg m;
	uint8_t b[sizeof(rfc_resp4) + 2];

	memcpy(b, rfc_resp4, sizeof(rfc_resp4));
	b[sizeof(rfc_resp4)] = b[sizeof(rfc_resp4) + 1] = 0;
	cm_wr16(b + 2, 0x3e);
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
	/* an attribute whose padding is missing: length 6 */
	memcpy(b, rfc_resp4, 20);
	cm_wr16(b + 2, 6);
	cm_wr32(b + 20, 0x80220002); /* SOFTWARE, 2 bytes */
	b[24] = 'h';
	b[25] = 'i';
	CHECK_EQ(tp_stun_parse(&m, b, 26), EBADMSG);
	/* and a header length that disagrees with the datagram */
	memcpy(b, rfc_resp4, sizeof(rfc_resp4));
	cm_wr16(b + 2, 0x40);
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(rfc_resp4)), EBADMSG);
}

static void stun_without_magic_cookie_is_rejected(void)
{
	struct tp_stun_msg m;
	uint8_t b[sizeof(rfc_req)];

	memcpy(b, rfc_req, sizeof(b));
	b[4] = 0x22;
	CHECK(!tp_stun_is(b, sizeof(b)));
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
	/* RFC 7983: first byte 0..3 only (DTLS is 20..63, RTP 128..191) */
	memcpy(b, rfc_req, sizeof(b));
	b[0] = 0x80;
	CHECK(!tp_stun_is(b, sizeof(b)));
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
}

static void stun_build_success_parses_and_verifies_ipv4_and_ipv6(void)
{
	uint8_t key[] = "server-ice-password-22ch";
	uint8_t out[128];
	size_t n = 0;
	struct tp_stun_msg m;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(50000)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	const struct sockaddr_in *got4 = (const struct sockaddr_in *)&m.xor_mapped;
	const struct sockaddr_in6 *got6 = (const struct sockaddr_in6 *)&m.xor_mapped;

	inet_pton(AF_INET, "203.0.113.7", &sin.sin_addr);
	CHECK_EQ(tp_stun_build_success(out, sizeof(out), &n, tid, (struct sockaddr *)&sin,
				       key, sizeof(key) - 1),
		 0);
	CHECK_EQ(n, 20 + 12 + 24 + 8);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(m.type, TP_STUN_BINDING_SUCCESS);
	CHECK(memcmp(m.tid, tid, 12) == 0);
	CHECK(m.has_fingerprint);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, key, sizeof(key) - 1), 0);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, key, sizeof(key) - 2), EACCES);
	CHECK(m.has_xor_mapped && got4->sin_family == AF_INET);
	CHECK_EQ(ntohs(got4->sin_port), 50000);
	CHECK(got4->sin_addr.s_addr == sin.sin_addr.s_addr);

	inet_pton(AF_INET6, "2001:db8::dead:beef", &sin6.sin6_addr);
	CHECK_EQ(tp_stun_build_success(out, sizeof(out), &n, tid,
				       (struct sockaddr *)&sin6, key, sizeof(key) - 1),
		 0);
	CHECK_EQ(n, 20 + 24 + 24 + 8);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, key, sizeof(key) - 1), 0);
	CHECK(m.has_xor_mapped && got6->sin6_family == AF_INET6);
	CHECK_EQ(ntohs(got6->sin6_port), 443);
	CHECK(memcmp(&got6->sin6_addr, &sin6.sin6_addr, 16) == 0);
}

static void stun_build_success_reports_enospc_and_eafnosupport(void)
{
	uint8_t out[128];
	size_t n = 0;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr un = {.sa_family = AF_UNIX};

	for (size_t cap = 0; cap < 64; cap++)
		CHECK_EQ(tp_stun_build_success(out, cap, &n, tid, (struct sockaddr *)&sin,
					       (const uint8_t *)"k", 1),
			 ENOSPC);
	CHECK_EQ(tp_stun_build_success(out, 64, &n, tid, (struct sockaddr *)&sin,
				       (const uint8_t *)"k", 1),
		 0);
	CHECK_EQ(tp_stun_build_success(out, sizeof(out), &n, tid, &un,
				       (const uint8_t *)"k", 1),
		 EAFNOSUPPORT);
}

static void stun_build_error_carries_code_and_fingerprint(void)
{
	uint8_t out[128];
	size_t n = 0;
	struct tp_stun_msg m;

	CHECK_EQ(tp_stun_build_error(out, sizeof(out), &n, tid, 401, "Unauthorized"), 0);
	CHECK_EQ(n, 20 + 4 + 16 + 8);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(m.type, TP_STUN_BINDING_ERROR);
	CHECK_EQ(m.error_code, 401);
	CHECK(m.has_fingerprint);
	CHECK(!m.has_integrity);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, (const uint8_t *)"k", 1), EBADMSG);
	CHECK_EQ(tp_stun_build_error(out, sizeof(out), &n, tid, 487, "Role Conflict"), 0);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(m.error_code, 487);
	CHECK_EQ(tp_stun_build_error(out, sizeof(out), &n, tid, 400, NULL), 0);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(m.error_code, 400);
	CHECK_EQ(tp_stun_build_error(out, 40, &n, tid, 401, "Unauthorized"), ENOSPC);
}

static void stun_build_request_round_trips_with_integrity_and_fingerprint(void)
{
	uint8_t key[] = "remote-password-of-22c";
	struct tp_stun_request req = {
	    .tid = tid,
	    .username = "abcd:efgh",
	    .priority = 0x7e7fffff,
	    .use_candidate = true,
	    .controlling = true,
	    .tiebreaker = 0x0123456789abcdefull,
	    .key = key,
	    .keylen = sizeof(key) - 1,
	    .fingerprint = true,
	};
	uint8_t out[256];
	size_t n = 0;
	struct tp_stun_msg m;

	CHECK_EQ(tp_stun_build_request(out, sizeof(out), &n, &req), 0);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK_EQ(m.type, TP_STUN_BINDING_REQUEST);
	CHECK_EQ(m.username_len, 9);
	CHECK(m.username && memcmp(m.username, "abcd:efgh", 9) == 0);
	CHECK(m.has_priority && m.priority == 0x7e7fffff);
	CHECK(m.use_candidate);
	CHECK(m.ice_controlling && !m.ice_controlled);
	CHECK(m.tiebreaker == 0x0123456789abcdefull);
	CHECK(m.has_fingerprint);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, key, sizeof(key) - 1), 0);
	for (size_t cap = 0; cap < n; cap++)
		CHECK_EQ(tp_stun_build_request(out, cap, &n, &req), ENOSPC);
}

static void stun_build_request_without_integrity_or_fingerprint(void)
{
	struct tp_stun_request req = {
	    .tid = tid,
	    .username = "u:v",
	    .priority = 1,
	    .tiebreaker = 42,
	};
	uint8_t out[128];
	size_t n = 0;
	struct tp_stun_msg m;

	CHECK_EQ(tp_stun_build_request(out, sizeof(out), &n, &req), 0);
	CHECK_EQ(n, 20 + 8 + 8 + 12);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK(!m.has_integrity);
	CHECK(!m.has_fingerprint);
	CHECK(m.ice_controlled && !m.ice_controlling && m.tiebreaker == 42);
	CHECK(!m.use_candidate);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, (const uint8_t *)"k", 1), EBADMSG);

	req.fingerprint = true;
	CHECK_EQ(tp_stun_build_request(out, sizeof(out), &n, &req), 0);
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK(m.has_fingerprint && !m.has_integrity);

	req.tid = NULL;
	CHECK_EQ(tp_stun_build_request(out, sizeof(out), &n, &req), EINVAL);
}

static void stun_attributes_after_integrity_are_ignored(void)
{
	struct tp_stun_request req = {
	    .tid = tid, .username = "a:b", .key = (const uint8_t *)"pw", .keylen = 2};
	uint8_t out[128];
	size_t n = 0;
	struct tp_stun_msg m;

	CHECK_EQ(tp_stun_build_request(out, sizeof(out), &n, &req), 0);
	/* append USE-CANDIDATE after MESSAGE-INTEGRITY */
	cm_wr16(out + n, 0x0025);
	cm_wr16(out + n + 2, 0);
	n += 4;
	cm_wr16(out + 2, (uint16_t)(n - 20));
	CHECK_EQ(tp_stun_parse(&m, out, n), 0);
	CHECK(!m.use_candidate);
	CHECK_EQ(tp_stun_check_integrity(&m, out, n, (const uint8_t *)"pw", 2), 0);
}

static void stun_attribute_after_fingerprint_is_rejected(void)
{
	uint8_t b[sizeof(rfc_resp4) + 4];
	struct tp_stun_msg m;

	memcpy(b, rfc_resp4, sizeof(rfc_resp4));
	cm_wr32(b + sizeof(rfc_resp4), 0x80220000); /* empty SOFTWARE */
	cm_wr16(b + 2, 0x40);
	CHECK_EQ(tp_stun_parse(&m, b, sizeof(b)), EBADMSG);
}

int main(void)
{
	RUN(rfc5769_request_parses_with_its_attributes);
	RUN(rfc5769_request_integrity_matches_the_password);
	RUN(rfc5769_ipv4_response_decodes_192_0_2_1_port_32853);
	RUN(rfc5769_ipv6_response_decodes_2001_db8_port_32853);
	RUN(rfc5769_vectors_with_a_flipped_byte_fail);
	RUN(stun_truncated_at_every_length_fails);
	RUN(stun_attribute_that_overruns_the_message_is_rejected);
	RUN(stun_length_not_multiple_of_4_is_rejected);
	RUN(stun_without_magic_cookie_is_rejected);
	RUN(stun_build_success_parses_and_verifies_ipv4_and_ipv6);
	RUN(stun_build_success_reports_enospc_and_eafnosupport);
	RUN(stun_build_error_carries_code_and_fingerprint);
	RUN(stun_build_request_round_trips_with_integrity_and_fingerprint);
	RUN(stun_build_request_without_integrity_or_fingerprint);
	RUN(stun_attributes_after_integrity_are_ignored);
	RUN(stun_attribute_after_fingerprint_is_rejected);
	return check_report();
}
