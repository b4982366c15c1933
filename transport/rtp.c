/*
 * RTP (RFC 3550) header parsing and writing with RFC 8285 header
 * extensions. Every length read from the packet is checked against the
 * packet's size before it is used; extension data points into the packet.
 */
#include <errno.h>
#include <string.h>

#include "common/common.h"
#include "transport/rtp.h"

#define PROFILE_ONE_BYTE 0xBEDE
#define PROFILE_TWO_BYTE 0x1000 /* low 4 bits: appbits */

bool tp_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	/* RFC 5761 4: RTCP packet types 192..223 sit where RTP has M+PT;
	 * in practice 200..204 (SR, RR, SDES, BYE, APP) and 205/206 (FB). */
	return buf && len >= 4 && buf[1] >= 192 && buf[1] <= 223;
}

/* One-byte form: a header byte (id << 4 | len-1), then len bytes. Id 0
 * is a padding byte, id 15 ends the block (RFC 8285 4.2). */
static int parse_one_byte(struct tp_rtp_hdr *h, const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t id = d[i] >> 4;
		size_t l = (size_t)(d[i] & 0x0f) + 1;

		if (id == 0) {
			i++;
			continue;
		}
		if (id == 15)
			break;
		if (l > n - i - 1)
			return EBADMSG;
		if (h->n_ext < TP_RTP_MAX_EXT) {
			h->ext[h->n_ext].id = id;
			h->ext[h->n_ext].len = (uint8_t)l;
			h->ext[h->n_ext].data = d + i + 1;
			h->n_ext++;
		}
		i += 1 + l;
	}
	return 0;
}

/* Two-byte form: id byte, length byte (0..255), data. Id 0 is padding. */
static int parse_two_byte(struct tp_rtp_hdr *h, const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t l;

		if (d[i] == 0) {
			i++;
			continue;
		}
		if (n - i < 2)
			return EBADMSG;
		l = d[i + 1];
		if (l > n - i - 2)
			return EBADMSG;
		if (h->n_ext < TP_RTP_MAX_EXT) {
			h->ext[h->n_ext].id = d[i];
			h->ext[h->n_ext].len = (uint8_t)l;
			h->ext[h->n_ext].data = d + i + 2;
			h->n_ext++;
		}
		i += 2 + l;
	}
	return 0;
}

int tp_rtp_parse(struct tp_rtp_hdr *h, const uint8_t *buf, size_t len)
{
	size_t off = TP_RTP_HEADER_LEN;
	bool padding;
	int err;

	if (!h || !buf)
		return EINVAL;
	memset(h, 0, sizeof(*h));
	if (len < TP_RTP_HEADER_LEN || (buf[0] >> 6) != 2)
		return EBADMSG;
	padding = buf[0] & 0x20;
	h->has_ext = buf[0] & 0x10;
	h->cc = buf[0] & 0x0f;
	h->marker = buf[1] & 0x80;
	h->pt = buf[1] & 0x7f;
	h->seq = cm_rd16(buf + 2);
	h->ts = cm_rd32(buf + 4);
	h->ssrc = cm_rd32(buf + 8);

	if ((size_t)h->cc * 4 > len - off)
		return EBADMSG;
	for (size_t i = 0; i < h->cc; i++, off += 4)
		h->csrc[i] = cm_rd32(buf + off);

	if (h->has_ext) {
		size_t n;

		if (len - off < 4)
			return EBADMSG;
		h->ext_profile = cm_rd16(buf + off);
		n = (size_t)cm_rd16(buf + off + 2) * 4;
		off += 4;
		if (n > len - off)
			return EBADMSG;
		err = 0;
		if (h->ext_profile == PROFILE_ONE_BYTE)
			err = parse_one_byte(h, buf + off, n);
		else if ((h->ext_profile & 0xfff0) == PROFILE_TWO_BYTE)
			err = parse_two_byte(h, buf + off, n);
		if (err)
			return err;
		off += n;
	}
	h->hdr_len = off;

	if (padding) {
		/* the last byte counts the padding, itself included */
		if (len == off)
			return EBADMSG;
		h->pad_len = buf[len - 1];
		if (h->pad_len == 0 || h->pad_len > len - off)
			return EBADMSG;
	}
	h->payload_len = len - off - h->pad_len;
	return 0;
}

const struct tp_rtp_ext *tp_rtp_find_ext(const struct tp_rtp_hdr *h, uint8_t id)
{
	if (!h || id == 0)
		return NULL;
	for (size_t i = 0; i < h->n_ext && i < TP_RTP_MAX_EXT; i++)
		if (h->ext[i].id == id)
			return &h->ext[i];
	return NULL;
}

/* Bytes the extension elements take in the chosen form, before padding;
 * also checks them. Returns 0 or EINVAL. */
static int ext_size(const struct tp_rtp_hdr *h, bool *one_byte, size_t *size)
{
	size_t n = 0;

	*one_byte = true;
	for (size_t i = 0; i < h->n_ext; i++) {
		const struct tp_rtp_ext *e = &h->ext[i];

		if (e->id == 0 || (e->len && !e->data))
			return EINVAL;
		if (e->id > 14 || e->len < 1 || e->len > 16)
			*one_byte = false;
	}
	for (size_t i = 0; i < h->n_ext; i++)
		n += (*one_byte ? 1 : 2) + h->ext[i].len;
	*size = n;
	return 0;
}

int tp_rtp_write(uint8_t *out, size_t cap, size_t *outlen, const struct tp_rtp_hdr *h,
		 const uint8_t *payload, size_t plen)
{
	bool ext = false, one_byte = true;
	size_t ext_len = 0, ext_words = 0, need, off;
	int err;

	if (!out || !outlen || !h || h->cc > TP_RTP_MAX_CSRC || h->pt > 127 ||
	    h->n_ext > TP_RTP_MAX_EXT || (plen && !payload))
		return EINVAL;
	if (h->has_ext || h->n_ext) {
		ext = true;
		err = ext_size(h, &one_byte, &ext_len);
		if (err)
			return err;
		ext_words = (ext_len + 3) / 4;
	}
	need = TP_RTP_HEADER_LEN + 4 * (size_t)h->cc + (ext ? 4 + 4 * ext_words : 0);
	if (need > cap || plen > cap - need)
		return ENOSPC;

	out[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | h->cc);
	out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	cm_wr16(out + 2, h->seq);
	cm_wr32(out + 4, h->ts);
	cm_wr32(out + 8, h->ssrc);
	off = TP_RTP_HEADER_LEN;
	for (size_t i = 0; i < h->cc; i++, off += 4)
		cm_wr32(out + off, h->csrc[i]);

	if (ext) {
		size_t end;

		cm_wr16(out + off, one_byte ? PROFILE_ONE_BYTE : PROFILE_TWO_BYTE);
		cm_wr16(out + off + 2, (uint16_t)ext_words);
		off += 4;
		end = off + 4 * ext_words;
		for (size_t i = 0; i < h->n_ext; i++) {
			const struct tp_rtp_ext *e = &h->ext[i];

			if (one_byte) {
				out[off++] = (uint8_t)(e->id << 4 | (e->len - 1));
			} else {
				out[off++] = e->id;
				out[off++] = e->len;
			}
			if (e->len)
				memcpy(out + off, e->data, e->len);
			off += e->len;
		}
		memset(out + off, 0, end - off);
		off = end;
	}
	if (plen)
		memcpy(out + off, payload, plen);
	*outlen = off + plen;
	return 0;
}

int tp_rtp_audio_level(const struct tp_rtp_ext *e, bool *voice, uint8_t *level)
{
	if (!e || !voice || !level)
		return EINVAL;
	if (e->len < 1 || !e->data)
		return EBADMSG;
	*voice = e->data[0] & 0x80;
	*level = e->data[0] & 0x7f;
	return 0;
}

uint32_t tp_rtp_abs_send_time(uint64_t now_us)
{
	/* 6 bits of seconds, 18 bits of fraction; split first so that the
	 * shift cannot overflow however long the clock has run */
	uint64_t sec = now_us / 1000000, frac = now_us % 1000000;

	return (uint32_t)(((sec & 0x3f) << 18) | ((frac << 18) / 1000000));
}
