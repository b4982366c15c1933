/*
 * libsrtp2's session with the same settings as tutti's: see srtp_ref.h.
 */
#include <errno.h>
#include <string.h>

#include "tests/unit/srtp_ref.h"

int ref_srtp_new(srtp_t *out, enum tp_srtp_profile prof, const uint8_t *key, bool inbound)
{
	srtp_policy_t pol;

	memset(&pol, 0, sizeof(pol));
	if (prof == TP_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	/* libsrtp2 copies the key into the session; it never writes it. */
	pol.key = (unsigned char *)key;
	pol.window_size = 1024;
	pol.allow_repeat_tx = 1;
	return srtp_create(out, &pol) == srtp_err_status_ok ? 0 : EPROTO;
}
