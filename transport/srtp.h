/*
 * SRTP/SRTCP with libsrtp2 (private to transport/). One tp_srtp per
 * direction per peer: an outbound one to protect, an inbound one to
 * unprotect. Not thread-safe: each is used by one thread at a time.
 */
#ifndef TUTTI_TRANSPORT_SRTP_H
#define TUTTI_TRANSPORT_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tp_srtp_profile {
	TP_SRTP_AES128_CM_SHA1_80 = 0x0001, /* RFC 5764 ids */
	TP_SRTP_AEAD_AES_128_GCM = 0x0007,
};

/* Master key + salt: 16 + 14 bytes (AES-CM) or 16 + 12 (GCM). */
#define TP_SRTP_MAX_KEY_LEN 30
/* Bytes protect may add to an RTP packet (tag, plus MKI none); SRTCP
 * adds 4 more for the index. Leave this much room after the packet. */
#define TP_SRTP_MAX_TRAILER 20

/* Once per process, before any tp_srtp_new. Returns 0 or EIO. */
int tp_srtp_init(void);

/* Key length (key+salt) of a profile, 0 if unknown. */
size_t tp_srtp_key_len(enum tp_srtp_profile p);

struct tp_srtp;

/* inbound=true: unprotects packets of any SSRC; else protects any SSRC.
 * Replay window 1024 packets. The caller owns *out. Returns 0, EINVAL. */
int tp_srtp_new(struct tp_srtp **out, enum tp_srtp_profile profile,
		const uint8_t *key, size_t keylen, bool inbound);
void tp_srtp_free(struct tp_srtp **p);

/* In place; buf has room for *len + TP_SRTP_MAX_TRAILER (cap).
 * Returns 0, ENOSPC, or EIO. */
int tp_srtp_protect(struct tp_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int tp_srtp_protect_rtcp(struct tp_srtp *s, uint8_t *buf, size_t *len, size_t cap);
/* In place. Returns 0, EACCES (authentication failed), EALREADY
 * (replayed), or EBADMSG (malformed). */
int tp_srtp_unprotect(struct tp_srtp *s, uint8_t *buf, size_t *len);
int tp_srtp_unprotect_rtcp(struct tp_srtp *s, uint8_t *buf, size_t *len);

#endif
