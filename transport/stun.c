/*
 * STUN (RFC 5389/8489) for ICE-lite: a bounds-checked parser, the
 * MESSAGE-INTEGRITY and FINGERPRINT computations, and the three builders
 * tutti needs. No allocation of our own; OpenSSL's EVP_MAC does the HMAC.
 */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/common.h"
#include "transport/stun.h"

#define ATTR_USERNAME           0x0006
#define ATTR_MESSAGE_INTEGRITY  0x0008
#define ATTR_ERROR_CODE         0x0009
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY           0x0024
#define ATTR_USE_CANDIDATE      0x0025
#define ATTR_FINGERPRINT        0x8028
#define ATTR_ICE_CONTROLLED     0x8029
#define ATTR_ICE_CONTROLLING    0x802A

#define FINGERPRINT_XOR 0x5354554eu
#define HMAC_SHA1_LEN   20
#define MAX_USERNAME    513 /* RFC 8489 14.3 */
#define MAX_REASON      763 /* RFC 8489 14.8 */

/* CRC-32 (IEEE 802.3, reflected poly 0xEDB88320, as zlib), four bits at a
 * time: a 16-entry table is small enough to check by eye and fast enough
 * for the few STUN messages a peer sends. */
static const uint32_t crc_tab[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

/* Feeds n bytes into a running CRC (pre- and post-inverted by callers). */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ crc_tab[crc & 0xf];
		crc = (crc >> 4) ^ crc_tab[crc & 0xf];
	}
	return crc;
}

/* Both MESSAGE-INTEGRITY and FINGERPRINT are computed over the message as
 * if it ended right after the attribute: a copy of the header with the
 * length field rewritten, then the attributes before the one checked. */
static void adjusted_header(uint8_t hdr[TP_STUN_HEADER_LEN], const uint8_t *buf,
			    size_t attr_off, size_t attr_total)
{
	memcpy(hdr, buf, TP_STUN_HEADER_LEN);
	cm_wr16(hdr + 2, (uint16_t)(attr_off + attr_total - TP_STUN_HEADER_LEN));
}

/* The FINGERPRINT value for an attribute at fp_off. */
static uint32_t fingerprint(const uint8_t *buf, size_t fp_off)
{
	uint8_t hdr[TP_STUN_HEADER_LEN];
	uint32_t crc;

	adjusted_header(hdr, buf, fp_off, 8);
	crc = crc32_update(0xffffffffu, hdr, sizeof(hdr));
	crc = crc32_update(crc, buf + TP_STUN_HEADER_LEN, fp_off - TP_STUN_HEADER_LEN);
	return (crc ^ 0xffffffffu) ^ FINGERPRINT_XOR;
}

/* HMAC-SHA1 for a MESSAGE-INTEGRITY attribute at mi_off. Uses EVP_MAC so
 * the adjusted header and the rest can be fed without copying the message.
 * Returns 0, or ENOMEM if OpenSSL fails. */
static int integrity(uint8_t mac[HMAC_SHA1_LEN], const uint8_t *buf, size_t mi_off,
		     const uint8_t *key, size_t keylen)
{
	static const uint8_t empty_key[1];
	uint8_t hdr[TP_STUN_HEADER_LEN];
	char digest[] = "SHA1";
	OSSL_PARAM params[2];
	EVP_MAC *evp = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t outl = 0;
	int err = ENOMEM;

	adjusted_header(hdr, buf, mi_off, 4 + HMAC_SHA1_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();

	evp = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!evp)
		goto out;
	ctx = EVP_MAC_CTX_new(evp);
	if (!ctx)
		goto out;
	if (!EVP_MAC_init(ctx, key ? key : empty_key, key ? keylen : 0, params) ||
	    !EVP_MAC_update(ctx, hdr, sizeof(hdr)) ||
	    !EVP_MAC_update(ctx, buf + TP_STUN_HEADER_LEN, mi_off - TP_STUN_HEADER_LEN) ||
	    !EVP_MAC_final(ctx, mac, &outl, HMAC_SHA1_LEN) || outl != HMAC_SHA1_LEN)
		goto out;
	err = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(evp);
	return err;
}

bool tp_stun_is(const uint8_t *buf, size_t len)
{
	return buf && len >= TP_STUN_HEADER_LEN && buf[0] < 4 &&
	       cm_rd32(buf + 4) == TP_STUN_MAGIC;
}

/* XOR-MAPPED-ADDRESS: port xor the cookie's top half, IPv4 xor the cookie,
 * IPv6 xor cookie||tid. The same operation encodes and decodes. */
static int parse_xor_addr(struct sockaddr_storage *ss, const uint8_t *v, size_t vlen,
			  const uint8_t *hdr)
{
	uint16_t port;

	if (vlen < 4)
		return EBADMSG;
	port = cm_rd16(v + 2) ^ (uint16_t)(TP_STUN_MAGIC >> 16);
	memset(ss, 0, sizeof(*ss));
	if (v[1] == 0x01 && vlen == 8) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		uint8_t *a = (uint8_t *)&sin->sin_addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		for (int i = 0; i < 4; i++)
			a[i] = v[4 + i] ^ hdr[4 + i];
	} else if (v[1] == 0x02 && vlen == 20) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		uint8_t *a = sin6->sin6_addr.s6_addr;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		for (int i = 0; i < 16; i++)
			a[i] = v[4 + i] ^ hdr[4 + i]; /* cookie then tid */
	} else {
		return EBADMSG;
	}
	return 0;
}

/* Reads one attribute we understand into m. Known attributes with a wrong
 * length make the whole message malformed. */
static int parse_attr(struct tp_stun_msg *m, uint16_t type, const uint8_t *v, size_t vlen,
		      const uint8_t *buf)
{
	switch (type) {
	case ATTR_USERNAME:
		if (vlen > MAX_USERNAME)
			return EBADMSG;
		if (!m->username) {
			m->username = v;
			m->username_len = vlen;
		}
		break;
	case ATTR_ERROR_CODE:
		if (vlen < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
			return EBADMSG;
		if (!m->error_code)
			m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
		break;
	case ATTR_XOR_MAPPED_ADDRESS:
		if (!m->has_xor_mapped) {
			if (parse_xor_addr(&m->xor_mapped, v, vlen, buf))
				return EBADMSG;
			m->has_xor_mapped = true;
		}
		break;
	case ATTR_PRIORITY:
		if (vlen != 4)
			return EBADMSG;
		if (!m->has_priority) {
			m->priority = cm_rd32(v);
			m->has_priority = true;
		}
		break;
	case ATTR_USE_CANDIDATE:
		if (vlen != 0)
			return EBADMSG;
		m->use_candidate = true;
		break;
	case ATTR_ICE_CONTROLLED:
	case ATTR_ICE_CONTROLLING:
		if (vlen != 8)
			return EBADMSG;
		if (!m->ice_controlled && !m->ice_controlling)
			m->tiebreaker = cm_rd64(v);
		if (type == ATTR_ICE_CONTROLLED)
			m->ice_controlled = true;
		else
			m->ice_controlling = true;
		break;
	default:
		break; /* unknown or uninteresting (SOFTWARE, ...) */
	}
	return 0;
}

/* Walks the attributes: each header and value must fit in len (the
 * message length, a multiple of 4); values are padded to 4 bytes. After
 * MESSAGE-INTEGRITY only FINGERPRINT counts; FINGERPRINT must be last. */
int tp_stun_parse(struct tp_stun_msg *m, const uint8_t *buf, size_t len)
{
	size_t off = TP_STUN_HEADER_LEN;

	if (!m || !buf)
		return EINVAL;
	memset(m, 0, sizeof(*m));
	if (!tp_stun_is(buf, len) || (len & 3) ||
	    (size_t)cm_rd16(buf + 2) + TP_STUN_HEADER_LEN != len)
		return EBADMSG;
	m->type = cm_rd16(buf) & 0x3fff;
	memcpy(m->tid, buf + 8, sizeof(m->tid));

	while (off < len) {
		uint16_t type, vlen;
		const uint8_t *v;

		if (m->has_fingerprint || len - off < 4)
			return EBADMSG;
		type = cm_rd16(buf + off);
		vlen = cm_rd16(buf + off + 2);
		v = buf + off + 4;
		if (vlen > len - off - 4)
			return EBADMSG;

		if (type == ATTR_FINGERPRINT) {
			if (vlen != 4 || cm_rd32(v) != fingerprint(buf, off))
				return EBADMSG;
			m->has_fingerprint = true;
		} else if (m->has_integrity) {
			/* RFC 5389 15.4: ignored after MESSAGE-INTEGRITY */
		} else if (type == ATTR_MESSAGE_INTEGRITY) {
			if (vlen != HMAC_SHA1_LEN)
				return EBADMSG;
			m->has_integrity = true;
			m->integrity_off = off;
		} else if (parse_attr(m, type, v, vlen, buf)) {
			return EBADMSG;
		}
		/* len and off are multiples of 4, so the padding fits too */
		off += 4 + (((size_t)vlen + 3) & ~(size_t)3);
	}
	return 0;
}

int tp_stun_check_integrity(const struct tp_stun_msg *m, const uint8_t *buf, size_t len,
			    const uint8_t *key, size_t keylen)
{
	uint8_t mac[HMAC_SHA1_LEN];
	size_t off;

	if (!m || !buf || (!key && keylen))
		return EINVAL;
	off = m->integrity_off;
	if (!m->has_integrity || off < TP_STUN_HEADER_LEN || off > len ||
	    len - off < 4 + HMAC_SHA1_LEN || cm_rd16(buf + off) != ATTR_MESSAGE_INTEGRITY)
		return EBADMSG;
	if (integrity(mac, buf, off, key, keylen))
		return EACCES;
	if (CRYPTO_memcmp(mac, buf + off + 4, HMAC_SHA1_LEN) != 0)
		return EACCES;
	return 0;
}

/* ---- building ---------------------------------------------------------- */

/* A message being written into a caller buffer. */
struct writer {
	uint8_t *out;
	size_t cap;
	size_t len;
};

static int w_header(struct writer *w, uint16_t type, const uint8_t tid[12])
{
	if (w->cap < TP_STUN_HEADER_LEN)
		return ENOSPC;
	cm_wr16(w->out, type);
	cm_wr16(w->out + 2, 0);
	cm_wr32(w->out + 4, TP_STUN_MAGIC);
	memcpy(w->out + 8, tid, 12);
	w->len = TP_STUN_HEADER_LEN;
	return 0;
}

/* Appends an attribute with zeroed padding and keeps the header length in
 * step. Returns the value's position through *vp (may be NULL). */
static int w_attr(struct writer *w, uint16_t type, const void *val, size_t vlen,
		  uint8_t **vp)
{
	size_t padded = (vlen + 3) & ~(size_t)3;

	if (vlen > 0xffff || w->cap - w->len < 4 + padded ||
	    w->len + 4 + padded - TP_STUN_HEADER_LEN > 0xffff)
		return ENOSPC;
	cm_wr16(w->out + w->len, type);
	cm_wr16(w->out + w->len + 2, (uint16_t)vlen);
	if (val && vlen)
		memcpy(w->out + w->len + 4, val, vlen);
	memset(w->out + w->len + 4 + vlen, 0, padded - vlen);
	if (vp)
		*vp = w->out + w->len + 4;
	w->len += 4 + padded;
	cm_wr16(w->out + 2, (uint16_t)(w->len - TP_STUN_HEADER_LEN));
	return 0;
}

static int w_integrity(struct writer *w, const uint8_t *key, size_t keylen)
{
	size_t off = w->len;
	uint8_t *v;
	int err;

	err = w_attr(w, ATTR_MESSAGE_INTEGRITY, NULL, HMAC_SHA1_LEN, &v);
	if (err)
		return err;
	return integrity(v, w->out, off, key, keylen);
}

static int w_fingerprint(struct writer *w)
{
	size_t off = w->len;
	uint8_t *v;
	int err;

	err = w_attr(w, ATTR_FINGERPRINT, NULL, 4, &v);
	if (err)
		return err;
	cm_wr32(v, fingerprint(w->out, off));
	return 0;
}

int tp_stun_build_success(uint8_t *out, size_t cap, size_t *outlen, const uint8_t tid[12],
			  const struct sockaddr *mapped, const uint8_t *key,
			  size_t keylen)
{
	struct writer w = {out, cap, 0};
	uint8_t val[20];
	size_t vlen;
	int err;

	if (!out || !outlen || !tid || !mapped || (!key && keylen))
		return EINVAL;
	if (mapped->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)mapped;
		memcpy(val + 4, &sin->sin_addr, 4);
		cm_wr16(val + 2, ntohs(sin->sin_port));
		val[1] = 0x01;
		vlen = 8;
	} else if (mapped->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)mapped;
		memcpy(val + 4, sin6->sin6_addr.s6_addr, 16);
		cm_wr16(val + 2, ntohs(sin6->sin6_port));
		val[1] = 0x02;
		vlen = 20;
	} else {
		return EAFNOSUPPORT;
	}
	val[0] = 0;

	err = w_header(&w, TP_STUN_BINDING_SUCCESS, tid);
	if (err)
		return err;
	/* xor with cookie||tid, taken from the header just written */
	cm_wr16(val + 2, cm_rd16(val + 2) ^ (uint16_t)(TP_STUN_MAGIC >> 16));
	/* The bound on sizeof(val) is vlen's own; it keeps GCC's
	 * -Wstringop-overflow quiet at -O3. */
	for (size_t i = 4; i < vlen && i < sizeof(val); i++)
		val[i] ^= out[i];
	err = w_attr(&w, ATTR_XOR_MAPPED_ADDRESS, val, vlen, NULL);
	if (!err)
		err = w_integrity(&w, key, keylen);
	if (!err)
		err = w_fingerprint(&w);
	if (!err)
		*outlen = w.len;
	return err;
}

int tp_stun_build_error(uint8_t *out, size_t cap, size_t *outlen, const uint8_t tid[12],
			uint16_t code, const char *reason)
{
	struct writer w = {out, cap, 0};
	size_t rlen = reason ? strlen(reason) : 0;
	uint8_t *v;
	int err;

	if (!out || !outlen || !tid || code < 300 || code > 699 || rlen > MAX_REASON)
		return EINVAL;
	err = w_header(&w, TP_STUN_BINDING_ERROR, tid);
	if (!err)
		err = w_attr(&w, ATTR_ERROR_CODE, NULL, 4 + rlen, &v);
	if (err)
		return err;
	v[0] = 0;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	if (rlen)
		memcpy(v + 4, reason, rlen);
	err = w_fingerprint(&w);
	if (!err)
		*outlen = w.len;
	return err;
}

int tp_stun_build_request(uint8_t *out, size_t cap, size_t *outlen,
			  const struct tp_stun_request *req)
{
	struct writer w = {out, cap, 0};
	size_t ulen;
	uint8_t v[8];
	int err;

	if (!out || !outlen || !req || !req->tid || (!req->key && req->keylen))
		return EINVAL;
	ulen = req->username ? strlen(req->username) : 0;
	if (ulen > MAX_USERNAME)
		return EINVAL;

	err = w_header(&w, TP_STUN_BINDING_REQUEST, req->tid);
	if (!err && req->username)
		err = w_attr(&w, ATTR_USERNAME, req->username, ulen, NULL);
	if (!err) {
		cm_wr32(v, req->priority);
		err = w_attr(&w, ATTR_PRIORITY, v, 4, NULL);
	}
	if (!err && req->use_candidate)
		err = w_attr(&w, ATTR_USE_CANDIDATE, NULL, 0, NULL);
	if (!err) {
		cm_wr64(v, req->tiebreaker);
		err = w_attr(
		    &w, req->controlling ? ATTR_ICE_CONTROLLING : ATTR_ICE_CONTROLLED, v,
		    8, NULL);
	}
	if (!err && req->key)
		err = w_integrity(&w, req->key, req->keylen);
	if (!err && req->fingerprint)
		err = w_fingerprint(&w);
	if (!err)
		*outlen = w.len;
	return err;
}
