/*
 * Outbound SRTP for RTP packets with OpenSSL (private to transport/srtp.c).
 *
 * Why not libsrtp2 for this one direction: Debian's libsrtp2 does its
 * crypto through NSS, whose PK11_Encrypt opens and closes a softoken
 * session for every packet (about 6 µs per 1200-byte packet on this
 * machine, perf/bench_srtp); the fan-out of a large room protects one
 * packet per receiver per frame. OpenSSL's EVP contexts keep the key
 * schedule and cost well under a microsecond with AES-NI. Inbound
 * packets and RTCP stay with libsrtp2, and the unit tests check that
 * what this file writes is byte for byte what libsrtp2 writes.
 *
 * Profiles: AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80
 * (RFC 3711). Keys are derived with the SRTP AES-CM KDF (RFC 3711 4.3,
 * key derivation rate 0). The rollover counter of each SSRC is kept as
 * RFC 3711 Appendix A says, so a retransmission of an older packet gets
 * its original index.
 */
#ifndef TUTTI_TRANSPORT_SRTP_TX_H
#define TUTTI_TRANSPORT_SRTP_TX_H

#include <stddef.h>
#include <stdint.h>

#include "transport/srtp.h"

struct tp_srtp_tx;

/* key: master key + master salt, tp_srtp_key_len(profile) bytes. The
 * caller owns *out (tp_srtp_tx_free). Returns 0, EINVAL, ENOMEM or EIO. */
int tp_srtp_tx_new(struct tp_srtp_tx **out, enum tp_srtp_profile profile, const uint8_t *key,
		   size_t keylen);
void tp_srtp_tx_free(struct tp_srtp_tx **p);

/* Protects the RTP packet buf[0..*len) in place and appends the tag;
 * buf has room for cap bytes. Returns 0, EINVAL (not RTP), ENOSPC, or
 * EIO (crypto failure, or more SSRCs than one sender may use). */
int tp_srtp_tx_protect(struct tp_srtp_tx *t, uint8_t *buf, size_t *len, size_t cap);

#endif
