/*
 * RTP (RFC 3550) header parsing and writing, with RFC 8285 header
 * extensions (one-byte 0xBEDE and two-byte 0x100X forms), and the
 * RTP/RTCP split of RFC 5761. Part of transport.h; pure functions.
 */
#ifndef TUTTI_TRANSPORT_RTP_H
#define TUTTI_TRANSPORT_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_RTP_HEADER_LEN 12
#define TP_RTP_MAX_EXT 16
#define TP_RTP_MAX_CSRC 15

/* Header extension URIs that tutti negotiates. */
#define TP_EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define TP_EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define TP_EXT_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

struct tp_rtp_ext {
	uint8_t id; /* 1..14 one-byte, 1..255 two-byte */
	uint8_t len; /* bytes of data */
	const uint8_t *data; /* points into the packet */
};

struct tp_rtp_hdr {
	bool marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t cc;
	uint32_t csrc[TP_RTP_MAX_CSRC];
	bool has_ext;
	uint16_t ext_profile; /* 0xBEDE, 0x1000..0x100F, or other (then n_ext = 0) */
	size_t n_ext;
	struct tp_rtp_ext ext[TP_RTP_MAX_EXT];
	size_t hdr_len; /* offset of the payload */
	size_t payload_len; /* without padding */
	uint8_t pad_len;
};

/* True when a datagram that is not STUN/DTLS is RTCP, not RTP (RFC 5761:
 * second byte's payload type in 192..223) — valid for SRTP/SRTCP too. */
bool tp_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Parses the header of an RTP packet of len bytes. Checks version 2,
 * CSRC count, the extension block and padding against len.
 * Extensions beyond TP_RTP_MAX_EXT are ignored. Returns 0 or EBADMSG. */
int tp_rtp_parse(struct tp_rtp_hdr *h, const uint8_t *buf, size_t len);

/* The extension with this id, or NULL. */
const struct tp_rtp_ext *tp_rtp_find_ext(const struct tp_rtp_hdr *h, uint8_t id);

/* Writes h's header (version 2, no padding, its CSRCs and extensions:
 * one-byte form if every id is 1..14 and every len 1..16, two-byte form
 * otherwise) followed by the payload. h->hdr_len, payload_len, pad_len
 * and ext_profile are ignored. Returns 0 and *outlen, or ENOSPC/EINVAL. */
int tp_rtp_write(uint8_t *out, size_t cap, size_t *outlen,
		 const struct tp_rtp_hdr *h, const uint8_t *payload, size_t plen);

/* RFC 6464: reads the audio level extension's data. level is 0..127
 * (-dBov, 127 = silence). Returns 0 or EBADMSG. */
int tp_rtp_audio_level(const struct tp_rtp_ext *e, bool *voice, uint8_t *level);

/* abs-send-time: 24-bit 6.18 fixed point seconds, from a monotonic µs clock. */
uint32_t tp_rtp_abs_send_time(uint64_t now_us);

#endif
