/*
 * STUN (RFC 5389/8489) for ICE-lite: parse binding requests, check
 * MESSAGE-INTEGRITY (HMAC-SHA1, short-term credentials) and FINGERPRINT
 * (CRC-32 xor 0x5354554e), build binding responses and requests.
 * Part of transport.h; pure functions, no state, no allocation.
 */
#ifndef TUTTI_TRANSPORT_STUN_H
#define TUTTI_TRANSPORT_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TP_STUN_HEADER_LEN 20
#define TP_STUN_MAGIC 0x2112A442u

#define TP_STUN_BINDING_REQUEST 0x0001
#define TP_STUN_BINDING_INDICATION 0x0011
#define TP_STUN_BINDING_SUCCESS 0x0101
#define TP_STUN_BINDING_ERROR 0x0111

/* A parsed message. Pointers point into the buffer given to the parser,
 * which must outlive the struct. */
struct tp_stun_msg {
	uint16_t type;
	uint8_t tid[12];
	const uint8_t *username; /* not NUL-terminated */
	size_t username_len;
	bool has_integrity;
	size_t integrity_off; /* offset of the MESSAGE-INTEGRITY attribute header */
	bool has_fingerprint; /* present, and its CRC was checked and matched */
	bool use_candidate;
	bool has_priority;
	uint32_t priority;
	bool ice_controlling;
	bool ice_controlled;
	uint64_t tiebreaker;
	bool has_xor_mapped;
	struct sockaddr_storage xor_mapped; /* AF_INET or AF_INET6 */
	uint16_t error_code; /* 0 if no ERROR-CODE, else class*100+number */
};

/* True when the first bytes look like STUN (RFC 7983: first byte 0..3 and
 * the magic cookie). Cheap; use it to demultiplex. */
bool tp_stun_is(const uint8_t *buf, size_t len);

/* Parses a STUN message. Every length is checked against len; attributes
 * after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 5389
 * 15.4). A FINGERPRINT that does not match is an error.
 * Returns 0, or EBADMSG for anything malformed. */
int tp_stun_parse(struct tp_stun_msg *m, const uint8_t *buf, size_t len);

/* Checks MESSAGE-INTEGRITY of a message parsed from buf (the same bytes
 * given to tp_stun_parse) with the short-term key (the ICE password).
 * Returns 0 if it matches, EBADMSG if there is none, EACCES if wrong.
 * The comparison is constant-time. */
int tp_stun_check_integrity(const struct tp_stun_msg *m, const uint8_t *buf,
			    size_t len, const uint8_t *key, size_t keylen);

/* Builds a Binding success response with tid, XOR-MAPPED-ADDRESS = mapped,
 * MESSAGE-INTEGRITY with key, and FINGERPRINT. Writes at most cap bytes.
 * Returns 0 and the length in *outlen, ENOSPC or EAFNOSUPPORT. */
int tp_stun_build_success(uint8_t *out, size_t cap, size_t *outlen,
			  const uint8_t tid[12], const struct sockaddr *mapped,
			  const uint8_t *key, size_t keylen);

/* Builds an error response (e.g. 401 Unauthorized, 400 Bad Request) with
 * ERROR-CODE and FINGERPRINT, no integrity. Returns 0 or ENOSPC. */
int tp_stun_build_error(uint8_t *out, size_t cap, size_t *outlen,
			const uint8_t tid[12], uint16_t code, const char *reason);

/* Parameters of a Binding request, as an ICE agent (a test client or the
 * load generator) sends it. username is "remote_ufrag:local_ufrag". */
struct tp_stun_request {
	const uint8_t *tid; /* 12 bytes */
	const char *username;
	uint32_t priority;
	bool use_candidate;
	bool controlling;
	uint64_t tiebreaker;
	const uint8_t *key; /* remote ICE password; NULL = no integrity */
	size_t keylen;
	bool fingerprint;
};

/* Builds a Binding request. Returns 0, EINVAL or ENOSPC. */
int tp_stun_build_request(uint8_t *out, size_t cap, size_t *outlen,
			  const struct tp_stun_request *req);

#endif
