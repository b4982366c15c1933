/*
 * SRTP/SRTCP over libsrtp2 (2.5 API: srtp_protect(ctx, void *, int *)).
 * One libsrtp session per tp_srtp with a single wildcard-SSRC policy:
 * any_outbound to protect, any_inbound to unprotect. libsrtp makes a
 * stream per SSRC on its first authentic packet; nothing is allocated
 * per packet. Outbound RTP, the fan-out's hot path, is protected by
 * srtp_tx.c with OpenSSL instead (see there why); outbound RTCP stays
 * with libsrtp.
 */
#include "transport/srtp.h"
#include "transport/srtp_tx.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>
#ifdef TUTTI_SRTP_NSS
#include <nss.h>
#endif

#define RTP_HDR_MIN     12
#define RTCP_HDR_MIN    8
#define SRTCP_INDEX_LEN 4
#define REPLAY_WINDOW   1024

struct tp_srtp {
	srtp_t ctx;
	struct tp_srtp_tx *tx; /* outbound RTP */
	size_t tag_len;        /* auth tag appended to each packet */
	bool inbound;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

/*
 * Debian's libsrtp2 does its crypto with NSS, and initialises NSS with
 * NSS_INIT_OPTIMIZESPACE: the softoken then keeps its sessions in
 * 32-bucket hash tables. Every key libsrtp imports holds a session, and
 * PK11_Encrypt opens and closes one per packet, walking a bucket's chain
 * under a lock; with hundreds of participants the chains are hundreds
 * long (perf, lecture of 500: ~45 % of the server's CPU in libsoftokn3;
 * perf/bench_srtp: 46 µs instead of 6 per packet with 4000 contexts).
 * NSS keeps the options of its first initialisation, so tutti initialises
 * it first, without that flag (1024 buckets), before libsrtp makes any
 * cipher.
 */
static void init_run(void)
{
#ifdef TUTTI_SRTP_NSS
	if (!NSS_IsInitialized() &&
	    !NSS_InitContext("", "", "", "", NULL,
			     NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
				 NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT)) {
		init_err = EIO;
		return;
	}
#endif
	init_err = srtp_init() == srtp_err_status_ok ? 0 : EIO;
}

int tp_srtp_init(void)
{
	pthread_once(&init_once, init_run);
	return init_err;
}

size_t tp_srtp_key_len(enum tp_srtp_profile p)
{
	switch (p) {
	case TP_SRTP_AES128_CM_SHA1_80:
		return SRTP_AES_128_KEY_LEN + SRTP_SALT_LEN;
	case TP_SRTP_AEAD_AES_128_GCM:
		return SRTP_AES_128_KEY_LEN + SRTP_AEAD_SALT_LEN;
	}
	return 0;
}

int tp_srtp_new(struct tp_srtp **out, enum tp_srtp_profile profile, const uint8_t *key,
		size_t keylen, bool inbound)
{
	uint8_t keybuf[TP_SRTP_MAX_KEY_LEN];
	srtp_policy_t pol;
	struct tp_srtp *s;
	int err;

	if (!out || !key || !keylen || keylen != tp_srtp_key_len(profile))
		return EINVAL;
	err = tp_srtp_init();
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;

	memset(&pol, 0, sizeof(pol));
	if (profile == TP_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	s->tag_len = (size_t)pol.rtp.auth_tag_len;
	s->inbound = inbound;
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	/* libsrtp copies the key; the policy wants a non-const pointer. */
	memcpy(keybuf, key, keylen);
	pol.key = keybuf;
	pol.window_size = REPLAY_WINDOW;
	/* A NACK retransmission resends the very same packet (same seq,
	 * same payload), which is safe to protect twice. */
	pol.allow_repeat_tx = inbound ? 0 : 1;
	pol.next = NULL;

	switch (srtp_create(&s->ctx, &pol)) {
	case srtp_err_status_ok:
		err = 0;
		break;
	case srtp_err_status_alloc_fail:
		err = ENOMEM;
		break;
	default:
		err = EINVAL;
		break;
	}
	memset(keybuf, 0, sizeof(keybuf));
	if (!err && !inbound)
		err = tp_srtp_tx_new(&s->tx, profile, key, keylen);
	if (err) {
		if (s->ctx)
			srtp_dealloc(s->ctx);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

void tp_srtp_free(struct tp_srtp **p)
{
	if (!p || !*p)
		return;
	if ((*p)->ctx)
		srtp_dealloc((*p)->ctx);
	tp_srtp_tx_free(&(*p)->tx);
	free(*p);
	*p = NULL;
}

/* libsrtp status of an inbound packet → errno. */
static int unprotect_err(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
		return EACCES;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return EALREADY;
	default:
		return EBADMSG;
	}
}

int tp_srtp_protect(struct tp_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	if (!s || !buf || !len || s->inbound || *len < RTP_HDR_MIN || cap < *len ||
	    cap > INT_MAX)
		return EINVAL;
	if (cap - *len < s->tag_len)
		return ENOSPC;
	return tp_srtp_tx_protect(s->tx, buf, len, cap);
}

int tp_srtp_protect_rtcp(struct tp_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	int n;

	if (!s || !buf || !len || s->inbound || *len < RTCP_HDR_MIN || cap < *len ||
	    cap > INT_MAX)
		return EINVAL;
	if (cap - *len < s->tag_len + SRTCP_INDEX_LEN)
		return ENOSPC;
	n = (int)*len;
	if (srtp_protect_rtcp(s->ctx, buf, &n) != srtp_err_status_ok)
		return EIO;
	*len = (size_t)n;
	return 0;
}

int tp_srtp_unprotect(struct tp_srtp *s, uint8_t *buf, size_t *len)
{
	int n, err;

	if (!s || !buf || !len || !s->inbound || *len > INT_MAX)
		return EINVAL;
	/* libsrtp trusts nothing shorter than a header plus a tag. */
	if (*len < RTP_HDR_MIN + s->tag_len)
		return EBADMSG;
	n = (int)*len;
	err = unprotect_err(srtp_unprotect(s->ctx, buf, &n));
	if (!err)
		*len = (size_t)n;
	return err;
}

int tp_srtp_unprotect_rtcp(struct tp_srtp *s, uint8_t *buf, size_t *len)
{
	int n, err;

	if (!s || !buf || !len || !s->inbound || *len > INT_MAX)
		return EINVAL;
	if (*len < RTCP_HDR_MIN + SRTCP_INDEX_LEN + s->tag_len)
		return EBADMSG;
	n = (int)*len;
	err = unprotect_err(srtp_unprotect_rtcp(s->ctx, buf, &n));
	if (!err)
		*len = (size_t)n;
	return err;
}
