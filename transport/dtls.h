/*
 * DTLS 1.2 over OpenSSL memory BIOs (private to transport/). One
 * certificate per server (ECDSA P-256, self-signed, made at start); one
 * tp_dtls per peer. The caller moves datagrams: it feeds what arrives with
 * tp_dtls_input and sends what the send callback hands it. Not thread-safe:
 * one thread drives a given tp_dtls.
 */
#ifndef TUTTI_TRANSPORT_DTLS_H
#define TUTTI_TRANSPORT_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/srtp.h"

struct tp_dtls_cert;
struct tp_dtls;

/* Makes a fresh ECDSA P-256 key and self-signed certificate (valid 30
 * days, random serial). The caller owns *out. Returns 0 or ENOMEM/EIO. */
int tp_dtls_cert_new(struct tp_dtls_cert **out);
void tp_dtls_cert_free(struct tp_dtls_cert **p);
/* "sha-256" fingerprint as "AB:CD:..." (95 chars); owned by the cert. */
const char *tp_dtls_cert_fingerprint(const struct tp_dtls_cert *c);

enum tp_dtls_role { TP_DTLS_SERVER, TP_DTLS_CLIENT };
enum tp_dtls_state {
	TP_DTLS_HANDSHAKING,
	TP_DTLS_CONNECTED, /* keys can be exported */
	TP_DTLS_FAILED, /* handshake error or fingerprint mismatch */
	TP_DTLS_CLOSED, /* peer sent close_notify */
};

/* Called with each datagram the DTLS endpoint wants sent. */
typedef void(tp_dtls_send_fn)(void *arg, const uint8_t *buf, size_t len);

/* Makes an endpoint. cert is borrowed (must outlive it). The peer's
 * certificate must hash to remote_fp ("AB:CD:...", case-insensitive)
 * under remote_fp_alg ("sha-256"; "sha-1", "sha-384", "sha-512" too);
 * otherwise the handshake fails. Offers/accepts the SRTP profiles
 * SRTP_AEAD_AES_128_GCM (preferred) and SRTP_AES128_CM_SHA1_80.
 * The caller owns *out. Returns 0, EINVAL or ENOMEM. */
int tp_dtls_new(struct tp_dtls **out, struct tp_dtls_cert *cert,
		enum tp_dtls_role role, const char *remote_fp_alg,
		const char *remote_fp, tp_dtls_send_fn *send, void *arg);
void tp_dtls_free(struct tp_dtls **p);

/* Client role: sends the ClientHello. Returns 0 or EIO. */
int tp_dtls_connect(struct tp_dtls *d);

/* Feeds one received DTLS datagram; may call send. Application data
 * (none expected in WebRTC without data channels) is discarded.
 * Returns 0, or EPROTO if the handshake failed (state becomes FAILED). */
int tp_dtls_input(struct tp_dtls *d, const uint8_t *buf, size_t len);

/* µs from now until tp_dtls_timeout must run, or UINT64_MAX if no timer. */
uint64_t tp_dtls_timeout_in(struct tp_dtls *d);
/* Runs retransmission when its timer expired. Returns 0 or EPROTO. */
int tp_dtls_timeout(struct tp_dtls *d);

enum tp_dtls_state tp_dtls_state(const struct tp_dtls *d);

/* After CONNECTED: the negotiated profile and the keys for our own
 * sending (local) and for what we receive (remote), RFC 5764 4.2. */
int tp_dtls_srtp_keys(struct tp_dtls *d, enum tp_srtp_profile *profile,
		      uint8_t *local_key, uint8_t *remote_key, size_t *keylen);

/* Sends close_notify. */
void tp_dtls_close(struct tp_dtls *d);

#endif
