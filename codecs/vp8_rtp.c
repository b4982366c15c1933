/*
 * The VP8 RTP payload (RFC 7741): the payload descriptor, the packetizer
 * for our encoders' frames and the assembler that rebuilds a sender's
 * frames from packets that come late, twice, out of order or not at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "codecs/rtp_frame.h"

/* ---- payload descriptor ----------------------------------------------- */

int cx_vp8_parse_desc(const uint8_t *p, size_t len, struct cx_vp8_desc *d)
{
	size_t i = 1;
	uint8_t x;

	if (!p || !d || len < 1)
		return EBADMSG;
	memset(d, 0, sizeof(*d));
	d->non_ref = p[0] & 0x20;
	d->start = p[0] & 0x10;
	d->pid = p[0] & 0x07;
	if (p[0] & 0x80) {
		if (i >= len)
			return EBADMSG;
		x = p[i++];
		d->has_picture_id = x & 0x80;
		d->has_tl0picidx = x & 0x40;
		d->has_tid = x & 0x20;
		d->has_keyidx = x & 0x10;
		if (d->has_picture_id) {
			if (i >= len)
				return EBADMSG;
			d->long_picture_id = p[i] & 0x80;
			if (d->long_picture_id) {
				if (i + 1 >= len)
					return EBADMSG;
				d->picture_id = (uint16_t)((p[i] & 0x7f) << 8 | p[i + 1]);
				i += 2;
			} else {
				d->picture_id = p[i++] & 0x7f;
			}
		}
		if (d->has_tl0picidx) {
			if (i >= len)
				return EBADMSG;
			d->tl0picidx = p[i++];
		}
		/* One byte holds TID/Y and KEYIDX when either is present. */
		if (d->has_tid || d->has_keyidx) {
			if (i >= len)
				return EBADMSG;
			if (d->has_tid) {
				d->tid = p[i] >> 6;
				d->layer_sync = p[i] & 0x20;
			}
			if (d->has_keyidx)
				d->keyidx = p[i] & 0x1f;
			i++;
		}
	}
	/* A descriptor with nothing after it carries no VP8 data. */
	if (i >= len)
		return EBADMSG;
	d->len = i;
	return 0;
}

int cx_vp8_rewrite_picture_id(uint8_t *payload, size_t len, uint16_t picture_id,
			      uint8_t tl0picidx)
{
	struct cx_vp8_desc d;
	int err = cx_vp8_parse_desc(payload, len, &d);

	if (err)
		return err;
	if (!d.has_picture_id || !d.long_picture_id)
		return EINVAL;
	/* Byte 0 required, byte 1 X: the PictureID starts at byte 2. */
	payload[2] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
	payload[3] = (uint8_t)picture_id;
	if (d.has_tl0picidx)
		payload[4] = tl0picidx;
	return 0;
}

/* ---- packetizer ------------------------------------------------------- */

struct cx_vp8_pay {
	uint16_t picture_id; /* of the next frame, 15 bits */
	uint8_t tl0picidx;   /* of the last tid 0 frame */
};

int cx_vp8_pay_new(struct cx_vp8_pay **out, uint16_t first_picture_id)
{
	struct cx_vp8_pay *p;

	if (!out)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->picture_id = first_picture_id & 0x7fff;
	/* The first tid 0 frame takes one step up, to 0. */
	p->tl0picidx = 0xff;
	*out = p;
	return 0;
}

void cx_vp8_pay_free(struct cx_vp8_pay **p)
{
	if (!p || !*p)
		return;
	free(*p);
	*p = NULL;
}

size_t cx_vp8_packet_count(size_t frame_len, size_t mtu_payload)
{
	size_t room;

	if (mtu_payload <= CX_VP8_DESC_LEN || !frame_len)
		return 0;
	room = mtu_payload - CX_VP8_DESC_LEN;
	return (frame_len + room - 1) / room;
}

int cx_vp8_packetize(struct cx_vp8_pay *p, const struct cx_vp8_frame *f,
		     size_t mtu_payload, uint8_t *buf, size_t cap, size_t *lens,
		     size_t max_packets, size_t *n)
{
	size_t count, base, extra, off = 0, used = 0;
	uint8_t tl0;

	if (!p || !f || !f->data || !buf || !lens || !n || f->tid > 3)
		return EINVAL;
	count = cx_vp8_packet_count(f->len, mtu_payload);
	if (!count)
		return EINVAL;
	if (count > max_packets || f->len + count * CX_VP8_DESC_LEN > cap)
		return ENOSPC;
	tl0 = f->tid == 0 ? (uint8_t)(p->tl0picidx + 1) : p->tl0picidx;
	/* Near-equal sizes: no runt last packet, same packet count. */
	base = f->len / count;
	extra = f->len % count;
	for (size_t i = 0; i < count; i++) {
		size_t chunk = base + (i < extra);
		uint8_t *q = buf + used;

		q[0] = (uint8_t)(0x80 | (f->droppable ? 0x20 : 0) | (i == 0 ? 0x10 : 0));
		q[1] = 0x80 | 0x40 | 0x20; /* I, L, T */
		q[2] = (uint8_t)(0x80 | (p->picture_id >> 8));
		q[3] = (uint8_t)p->picture_id;
		q[4] = tl0;
		q[5] = (uint8_t)(f->tid << 6 | (f->layer_sync ? 0x20 : 0));
		memcpy(q + CX_VP8_DESC_LEN, f->data + off, chunk);
		lens[i] = CX_VP8_DESC_LEN + chunk;
		used += lens[i];
		off += chunk;
	}
	p->tl0picidx = tl0;
	p->picture_id = (p->picture_id + 1) & 0x7fff;
	*n = count;
	return 0;
}

/* ---- assembler -------------------------------------------------------- */

/* The frame assembly is rtp_frame.c's; VP8 strips the descriptor, whose
 * S bit and PID mark each frame's first packet, and keeps the descriptor
 * of every packet for the fields of the frame it begins. */
struct cx_vp8_asm {
	struct cx_rtp_asm *ra;
	struct cx_vp8_desc desc[CX_VP8_ASM_WINDOW]; /* by seq % window */
};

_Static_assert(CX_VP8_ASM_WINDOW == CX_RTP_ASM_WINDOW, "one window for every codec");

static const struct cx_rtp_codec vp8_codec = {
    .slot_cap = CX_VP8_ASM_MAX_PAYLOAD,
    .max_frame = CX_VP8_ASM_MAX_FRAME,
    .marks_starts = true,
};

int cx_vp8_asm_new(struct cx_vp8_asm **out)
{
	struct cx_vp8_asm *a;
	int err;

	if (!out)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	err = cx_rtp_asm_new(&a->ra, &vp8_codec);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

void cx_vp8_asm_free(struct cx_vp8_asm **p)
{
	if (!p || !*p)
		return;
	cx_rtp_asm_free(&(*p)->ra);
	free(*p);
	*p = NULL;
}

void cx_vp8_asm_reset(struct cx_vp8_asm *a)
{
	if (a)
		cx_rtp_asm_reset(a->ra);
}

int cx_vp8_asm_put(struct cx_vp8_asm *a, uint16_t seq, uint32_t ts, bool marker,
		   const uint8_t *payload, size_t len)
{
	struct cx_vp8_desc d;
	struct cx_rtp_pkt pkt = {0};
	uint8_t *buf;
	int err;

	if (!a || !payload)
		return EINVAL;
	/* A bad descriptor is refused before it can move the window. */
	if (cx_vp8_parse_desc(payload, len, &d)) {
		cx_rtp_asm_bad(a->ra);
		return EBADMSG;
	}
	if (len - d.len > CX_VP8_ASM_MAX_PAYLOAD)
		return EMSGSIZE;
	err = cx_rtp_asm_slot(a->ra, seq, &buf);
	if (err)
		return err;
	pkt.begin = d.start && d.pid == 0;
	/* VP8 payload header (RFC 7741 §4.3): P, the low bit, is 0 on keyframes. */
	pkt.key = pkt.begin && !(payload[d.len] & 0x01);
	memcpy(buf, payload + d.len, len - d.len);
	a->desc[seq % CX_VP8_ASM_WINDOW] = d;
	cx_rtp_asm_commit(a->ra, seq, ts, marker, len - d.len, &pkt);
	return 0;
}

int cx_vp8_asm_get(struct cx_vp8_asm *a, struct cx_vp8_assembled *out)
{
	struct cx_rtp_frame f;
	const struct cx_vp8_desc *d;

	if (!a || !out)
		return EINVAL;
	if (cx_rtp_asm_get(a->ra, &f))
		return EAGAIN;
	/* The first packet's descriptor: its slot still holds that packet. */
	d = &a->desc[f.first_seq % CX_VP8_ASM_WINDOW];
	*out = (struct cx_vp8_assembled){
	    .data = f.data,
	    .len = f.len,
	    .ts = f.ts,
	    .first_seq = f.first_seq,
	    .last_seq = f.last_seq,
	    .keyframe = f.keyframe,
	    .picture_id = d->has_picture_id ? d->picture_id : -1,
	    .tl0picidx = d->has_tl0picidx ? d->tl0picidx : -1,
	    .tid = d->has_tid ? (int8_t)d->tid : -1,
	    .layer_sync = d->layer_sync,
	};
	return 0;
}

size_t cx_vp8_asm_missing(struct cx_vp8_asm *a, uint16_t *seqs, size_t cap)
{
	if (!a || !seqs)
		return 0;
	return cx_rtp_asm_missing(a->ra, seqs, cap);
}

void cx_vp8_asm_drop_incomplete(struct cx_vp8_asm *a)
{
	if (a)
		cx_rtp_asm_drop_incomplete(a->ra);
}

bool cx_vp8_asm_need_keyframe(const struct cx_vp8_asm *a)
{
	return a && cx_rtp_asm_need_keyframe(a->ra);
}

void cx_vp8_asm_get_stats(const struct cx_vp8_asm *a, struct cx_vp8_asm_stats *st)
{
	struct cx_rtp_asm_stats s;

	if (!a || !st)
		return;
	cx_rtp_asm_get_stats(a->ra, &s);
	*st = (struct cx_vp8_asm_stats){
	    .frames = s.frames,
	    .keyframes = s.keyframes,
	    .duplicates = s.duplicates,
	    .late = s.late,
	    .bad = s.bad,
	    .dropped = s.dropped,
	    .refused = s.refused,
	};
}
