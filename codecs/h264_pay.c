/*
 * The H.264 RTP payload (RFC 6184, packetization-mode 1), sending side:
 * our encoders' access units (Annex B) into single NAL unit packets,
 * STAP-A aggregates and FU-A fragments. The receiving side is
 * h264_rtp.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "codecs/codecs.h"

#define NAL_AUD    9
#define NAL_FILLER 12
#define NAL_STAP_A 24
#define NAL_FU_A   28

/* ---- packetizer --------------------------------------------------------- */

/* The next NAL unit of an Annex B stream at or after *pos: its bytes
 * without start code or trailing zeros. Returns false at the end. */
static bool next_nal(const uint8_t *au, size_t len, size_t *pos, const uint8_t **nal,
		     size_t *nal_len)
{
	size_t i = *pos, start, end;

	/* Find a start code (00 00 01; a 4-byte one ends the same way). */
	for (; i + 3 <= len; i++)
		if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1)
			break;
	if (i + 3 > len)
		return false;
	start = i + 3;
	for (i = start; i + 3 <= len; i++)
		if (au[i] == 0 && au[i + 1] == 0 && (au[i + 2] == 1 || au[i + 2] == 0))
			break;
	end = i + 3 <= len ? i : len;
	*pos = end;
	while (end > start && au[end - 1] == 0)
		end--;
	*nal = au + start;
	*nal_len = end - start;
	return true;
}

/* The next NAL unit worth sending: not empty, no access unit delimiter
 * or filler (the marker bit says where an access unit ends). */
static bool next_sendable(const uint8_t *au, size_t len, size_t *pos, const uint8_t **nal,
			  size_t *nal_len)
{
	while (next_nal(au, len, pos, nal, nal_len)) {
		uint8_t t = *nal_len ? (*nal)[0] & 0x1f : 0;

		if (t && t != NAL_AUD && t != NAL_FILLER)
			return true;
	}
	return false;
}

/* A writer over the caller's buffer, or a counter when buf is NULL. */
struct out {
	uint8_t *buf;
	size_t cap, used;
	size_t *lens;
	size_t max, n;
	bool full;
};

/* Starts a payload of len bytes; returns where to write it, or NULL
 * when counting or full. */
static uint8_t *payload(struct out *o, size_t len)
{
	uint8_t *p;

	if (o->full)
		return NULL;
	if (!o->buf) {
		o->n++;
		return NULL;
	}
	if (o->n == o->max || len > o->cap - o->used) {
		o->full = true;
		return NULL;
	}
	p = o->buf + o->used;
	o->lens[o->n++] = len;
	o->used += len;
	return p;
}

/* FU-A fragments of near-equal sizes; the NAL header travels in the FU
 * indicator (F, NRI) and header (type). */
static void put_fu_a(struct out *o, const uint8_t *nal, size_t len, size_t mtu)
{
	size_t body = len - 1, room = mtu - 2;
	size_t frags = (body + room - 1) / room;
	size_t chunk = (body + frags - 1) / frags, off = 1;

	for (size_t k = 0; k < frags; k++) {
		size_t c = k == frags - 1 ? len - off : chunk;
		uint8_t *p = payload(o, c + 2);

		if (p) {
			p[0] = (uint8_t)((nal[0] & 0xe0) | NAL_FU_A);
			p[1] = (uint8_t)((k == 0 ? 0x80 : 0) |
					 (k == frags - 1 ? 0x40 : 0) | (nal[0] & 0x1f));
			memcpy(p + 2, nal + off, c);
		}
		off += c;
	}
}

/* ng NAL units from nal on (the others found again from pos) in one
 * STAP-A of total bytes: F is any unit's, NRI the highest. */
static void put_stap_a(struct out *o, const uint8_t *au, size_t len, size_t pos,
		       const uint8_t *nal, size_t nal_len, size_t ng, size_t total)
{
	uint8_t *p = payload(o, total), f = 0, nri = 0;
	size_t at = 1;

	if (!p)
		return;
	for (size_t k = 0; k < ng; k++) {
		if (k)
			next_sendable(au, len, &pos, &nal, &nal_len);
		f |= nal[0] & 0x80;
		if ((nal[0] & 0x60) > nri)
			nri = nal[0] & 0x60;
		p[at] = (uint8_t)(nal_len >> 8);
		p[at + 1] = (uint8_t)nal_len;
		memcpy(p + at + 2, nal, nal_len);
		at += 2 + nal_len;
	}
	p[0] = (uint8_t)(f | nri | NAL_STAP_A);
}

/* The shared walk of cx_h264_packet_count and cx_h264_packetize: small
 * neighbours go together in a STAP-A, one that fits alone goes alone,
 * a big one is fragmented. */
static void packetize(const uint8_t *au, size_t len, size_t mtu, struct out *o)
{
	const uint8_t *nal, *nx = NULL;
	size_t pos = 0, nal_len, nx_len = 0;
	bool more = next_sendable(au, len, &pos, &nal, &nal_len);

	while (more && !o->full) {
		size_t gpos = pos, total = 1 + 2 + nal_len, ng = 1;
		bool nmore;

		if (nal_len > mtu) {
			put_fu_a(o, nal, nal_len, mtu);
			more = next_sendable(au, len, &pos, &nal, &nal_len);
			continue;
		}
		/* How many of the following units a STAP-A still holds. */
		for (;;) {
			nmore = next_sendable(au, len, &gpos, &nx, &nx_len);
			if (!nmore || total + 2 + nx_len > mtu)
				break;
			total += 2 + nx_len;
			ng++;
		}
		if (ng == 1) {
			uint8_t *p = payload(o, nal_len);
			if (p)
				memcpy(p, nal, nal_len);
		} else {
			put_stap_a(o, au, len, pos, nal, nal_len, ng, total);
		}
		nal = nx;
		nal_len = nx_len;
		more = nmore;
		pos = gpos;
	}
}

size_t cx_h264_packet_count(const uint8_t *au, size_t len, size_t mtu_payload)
{
	struct out o = {0};

	if (!au || mtu_payload < 16)
		return 0;
	packetize(au, len, mtu_payload, &o);
	return o.n;
}

int cx_h264_packetize(const uint8_t *au, size_t len, size_t mtu_payload, uint8_t *buf,
		      size_t cap, size_t *lens, size_t max_packets, size_t *n)
{
	struct out o = {.buf = buf, .cap = cap, .lens = lens, .max = max_packets};

	if (!au || !buf || !lens || !n || mtu_payload < 16)
		return EINVAL;
	packetize(au, len, mtu_payload, &o);
	if (o.full)
		return ENOSPC;
	*n = o.n;
	return 0;
}
