/*
 * Outbound SRTP with OpenSSL EVP: see srtp_tx.h for why.
 */
#include "transport/srtp_tx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define KEY_LEN      16 /* AES-128 master and session keys */
#define CM_SALT_LEN  14
#define GCM_SALT_LEN 12
#define AUTH_KEY_LEN 20 /* HMAC-SHA1 session key */
#define CM_TAG_LEN   10 /* HMAC-SHA1-80 */
#define GCM_TAG_LEN  16
#define MAX_STREAMS  16 /* SSRCs of one sender: audio, video, RTX, ... */

/* RFC 3711 4.3.1 labels for SRTP (RTP; SRTCP would use 3..5). */
enum { LABEL_ENC = 0x00, LABEL_AUTH = 0x01, LABEL_SALT = 0x02 };

struct stream {
	uint32_t ssrc;
	uint32_t roc; /* rollover counter */
	uint16_t s_l; /* highest sequence number sent */
};

struct tp_srtp_tx {
	bool gcm;
	uint8_t salt[CM_SALT_LEN]; /* session salt: 14 (CM) or 12 (GCM) bytes */
	EVP_CIPHER_CTX *ctx;       /* AES-128-GCM or AES-128-CTR, session key set */
	EVP_MAC_CTX *mac;          /* HMAC-SHA1 with the session auth key (CM) */
	unsigned n_streams;
	struct stream streams[MAX_STREAMS];
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void xor32(uint8_t *p, uint32_t v)
{
	p[0] ^= (uint8_t)(v >> 24);
	p[1] ^= (uint8_t)(v >> 16);
	p[2] ^= (uint8_t)(v >> 8);
	p[3] ^= (uint8_t)v;
}

/*
 * The SRTP key derivation function with a key derivation rate of 0:
 * AES-128 in counter mode keyed with the master key, starting at
 * (master salt, zero-padded to 14 bytes, with the label XORed into byte
 * 7) * 2^16; the keystream is the session key, salt or auth key.
 */
static int kdf(const uint8_t *mkey, const uint8_t *msalt, size_t saltlen, uint8_t label,
	       uint8_t *out, int outlen)
{
	static const uint8_t zero[32];
	uint8_t iv[16] = {0};
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	memcpy(iv, msalt, saltlen);
	iv[7] ^= label;
	ok = c && outlen <= (int)sizeof(zero) &&
	     EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv) == 1 &&
	     EVP_EncryptUpdate(c, out, &n, zero, outlen) == 1 && n == outlen;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : EIO;
}

void tp_srtp_tx_free(struct tp_srtp_tx **p)
{
	if (!p || !*p)
		return;
	EVP_CIPHER_CTX_free((*p)->ctx);
	EVP_MAC_CTX_free((*p)->mac);
	OPENSSL_cleanse((*p)->salt, sizeof((*p)->salt));
	free(*p);
	*p = NULL;
}

int tp_srtp_tx_new(struct tp_srtp_tx **out, enum tp_srtp_profile profile, const uint8_t *key,
		   size_t keylen)
{
	uint8_t skey[KEY_LEN], akey[AUTH_KEY_LEN];
	struct tp_srtp_tx *t;
	size_t msalt_len;
	int err = EIO;

	if (!out || !key || keylen != tp_srtp_key_len(profile) || !keylen)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->gcm = profile == TP_SRTP_AEAD_AES_128_GCM;
	msalt_len = keylen - KEY_LEN;
	if (kdf(key, key + KEY_LEN, msalt_len, LABEL_ENC, skey, KEY_LEN) ||
	    kdf(key, key + KEY_LEN, msalt_len, LABEL_SALT, t->salt, (int)msalt_len))
		goto out;
	t->ctx = EVP_CIPHER_CTX_new();
	if (!t->ctx ||
	    EVP_EncryptInit_ex(t->ctx, t->gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL,
			       skey, NULL) != 1)
		goto out;
	if (!t->gcm) {
		EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
			OSSL_PARAM_construct_end(),
		};

		t->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
		EVP_MAC_free(hmac);
		if (!t->mac || kdf(key, key + KEY_LEN, msalt_len, LABEL_AUTH, akey, AUTH_KEY_LEN) ||
		    EVP_MAC_init(t->mac, akey, AUTH_KEY_LEN, params) != 1)
			goto out;
	}
	err = 0;
out:
	OPENSSL_cleanse(skey, sizeof(skey));
	OPENSSL_cleanse(akey, sizeof(akey));
	if (err) {
		tp_srtp_tx_free(&t);
		return err;
	}
	*out = t;
	return 0;
}

/* Length of the RTP header (CSRCs and extension included), 0 if buf does
 * not hold a whole one. */
static size_t rtp_header_len(const uint8_t *buf, size_t len)
{
	size_t n;

	if (len < 12 || (buf[0] >> 6) != 2)
		return 0;
	n = 12 + 4u * (buf[0] & 0x0f);
	if (buf[0] & 0x10) {
		if (len < n + 4)
			return 0;
		n += 4 + 4u * ((size_t)buf[n + 2] << 8 | buf[n + 3]);
	}
	return n <= len ? n : 0;
}

static struct stream *stream_of(struct tp_srtp_tx *t, uint32_t ssrc, uint16_t seq)
{
	for (unsigned i = 0; i < t->n_streams; i++)
		if (t->streams[i].ssrc == ssrc)
			return &t->streams[i];
	if (t->n_streams == MAX_STREAMS)
		return NULL;
	/* A new SSRC starts with ROC 0 at its first packet. */
	t->streams[t->n_streams] = (struct stream){.ssrc = ssrc, .s_l = seq};
	return &t->streams[t->n_streams++];
}

/*
 * The rollover counter a packet was (or is) sent with, from RFC 3711
 * Appendix A; false for a sequence number from before the first packet
 * of the stream (an index that cannot be told).
 */
static bool estimate_roc(const struct stream *s, uint16_t seq, uint32_t *roc)
{
	if (s->s_l < 32768) {
		if (seq > s->s_l && seq - s->s_l > 32768) {
			if (s->roc == 0)
				return false;
			*roc = s->roc - 1;
			return true;
		}
	} else if (seq < s->s_l - 32768) {
		*roc = s->roc + 1;
		return true;
	}
	*roc = s->roc;
	return true;
}

static int protect_gcm(struct tp_srtp_tx *t, uint8_t *buf, size_t hdr, size_t len,
		       uint32_t ssrc, uint32_t roc, uint16_t seq)
{
	uint8_t iv[GCM_SALT_LEN] = {0};
	int n;

	/* RFC 7714 8.1: (00 00 || SSRC || ROC || SEQ) XOR salt. */
	xor32(iv + 2, ssrc);
	xor32(iv + 6, roc);
	iv[10] = (uint8_t)(seq >> 8);
	iv[11] = (uint8_t)seq;
	for (unsigned i = 0; i < GCM_SALT_LEN; i++)
		iv[i] ^= t->salt[i];
	if (EVP_EncryptInit_ex(t->ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(t->ctx, NULL, &n, buf, (int)hdr) != 1 ||
	    (len > hdr &&
	     EVP_EncryptUpdate(t->ctx, buf + hdr, &n, buf + hdr, (int)(len - hdr)) != 1) ||
	    EVP_EncryptFinal_ex(t->ctx, buf + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, buf + len) != 1)
		return EIO;
	return 0;
}

static int protect_cm(struct tp_srtp_tx *t, uint8_t *buf, size_t hdr, size_t len,
		      uint32_t ssrc, uint32_t roc, uint16_t seq)
{
	uint8_t iv[16] = {0}, roc_be[4] = {0}, tag[EVP_MAX_MD_SIZE];
	size_t taglen = 0;
	int n;

	/* RFC 3711 4.1.1: salt * 2^16 XOR SSRC * 2^64 XOR index * 2^16. */
	memcpy(iv, t->salt, CM_SALT_LEN);
	xor32(iv + 4, ssrc);
	xor32(iv + 8, roc);
	iv[12] ^= (uint8_t)(seq >> 8);
	iv[13] ^= (uint8_t)seq;
	if (EVP_EncryptInit_ex(t->ctx, NULL, NULL, NULL, iv) != 1 ||
	    (len > hdr &&
	     EVP_EncryptUpdate(t->ctx, buf + hdr, &n, buf + hdr, (int)(len - hdr)) != 1))
		return EIO;
	/* The tag covers the packet and the ROC (RFC 3711 4.2). */
	xor32(roc_be, roc);
	if (EVP_MAC_init(t->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(t->mac, buf, len) != 1 ||
	    EVP_MAC_update(t->mac, roc_be, 4) != 1 ||
	    EVP_MAC_final(t->mac, tag, &taglen, sizeof(tag)) != 1 || taglen < CM_TAG_LEN)
		return EIO;
	memcpy(buf + len, tag, CM_TAG_LEN);
	return 0;
}

int tp_srtp_tx_protect(struct tp_srtp_tx *t, uint8_t *buf, size_t *len, size_t cap)
{
	size_t hdr, tag;
	struct stream *s;
	uint32_t ssrc, roc;
	uint16_t seq;
	int err;

	if (!t || !buf || !len || cap < *len || *len > INT32_MAX)
		return EINVAL;
	hdr = rtp_header_len(buf, *len);
	if (!hdr)
		return EINVAL;
	tag = t->gcm ? GCM_TAG_LEN : CM_TAG_LEN;
	if (cap - *len < tag)
		return ENOSPC;
	seq = (uint16_t)(buf[2] << 8 | buf[3]);
	ssrc = rd32(buf + 8);
	s = stream_of(t, ssrc, seq);
	if (!s || !estimate_roc(s, seq, &roc))
		return EIO;
	err = t->gcm ? protect_gcm(t, buf, hdr, *len, ssrc, roc, seq)
		     : protect_cm(t, buf, hdr, *len, ssrc, roc, seq);
	if (err)
		return err;
	/* The highest index sent so far moves on. */
	if (roc > s->roc || (roc == s->roc && seq > s->s_l)) {
		s->roc = roc;
		s->s_l = seq;
	}
	*len += tag;
	return 0;
}
