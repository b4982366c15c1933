/*
 * The H.264 RTP payload (RFC 6184, packetization-mode 1), receiving side:
 * the assembler that rebuilds a sender's access units (Annex B) from
 * packets that come late, twice, out of order or not at all. The
 * packetizer is h264_pay.c.
 *
 * Unlike VP8, an H.264 payload says nothing of where a frame starts. The
 * assembler knows a packet begins an access unit when the packet before
 * it ended one (its marker, or another timestamp), when the frame before
 * was given or dropped with another timestamp, or when it begins with an
 * SPS (encoders send SPS and PPS before every IDR): so after a loss, the
 * next whole keyframe can always be found. That reasoning is the shared
 * assembler's (rtp_frame.c); this file reads the payloads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "codecs/rtp_frame.h"

#define NAL_IDR    5
#define NAL_SPS    7
#define NAL_STAP_A 24
#define NAL_FU_A   28

static const uint8_t start_code[4] = {0, 0, 0, 1};

/* ---- assembler ------------------------------------------------------------ */

/* The frame assembly is rtp_frame.c's; H.264 checks each payload, writes
 * it as Annex B and says what it holds: an SPS (a frame start after a
 * loss), an IDR slice, a fragment. */

/* Worst growth of a payload into Annex B: a STAP-A of 1-byte units turns
 * 3 bytes into 5. */
#define SLOT_CAP (CX_H264_ASM_MAX_PAYLOAD * 5 / 3 + 8)

struct cx_h264_asm {
	struct cx_rtp_asm *ra;
};

_Static_assert(CX_H264_ASM_WINDOW == CX_RTP_ASM_WINDOW, "one window for every codec");

static const struct cx_rtp_codec h264_codec = {
    .slot_cap = SLOT_CAP,
    .max_frame = CX_H264_ASM_MAX_FRAME,
    .marks_starts = false,
};

int cx_h264_asm_new(struct cx_h264_asm **out)
{
	struct cx_h264_asm *a;
	int err;

	if (!out)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	err = cx_rtp_asm_new(&a->ra, &h264_codec);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

void cx_h264_asm_free(struct cx_h264_asm **p)
{
	if (!p || !*p)
		return;
	cx_rtp_asm_free(&(*p)->ra);
	free(*p);
	*p = NULL;
}

void cx_h264_asm_reset(struct cx_h264_asm *a)
{
	if (a)
		cx_rtp_asm_reset(a->ra);
}

/* Checks one payload, writes it as Annex B into out (SLOT_CAP bytes) and
 * says in *pkt what it holds. Returns its length, or 0 for a payload
 * tutti refuses. */
static size_t to_annexb(const uint8_t *p, size_t len, uint8_t *out,
			struct cx_rtp_pkt *pkt)
{
	uint8_t type = len ? p[0] & 0x1f : 0;
	size_t n = 0;

	if (!len || (p[0] & 0x80))
		return 0; /* empty, or the forbidden bit */
	if (type >= 1 && type <= 23) {
		memcpy(out, start_code, 4);
		memcpy(out + 4, p, len);
		pkt->begin = type == NAL_SPS;
		pkt->key = type == NAL_IDR;
		return len + 4;
	}
	if (type == NAL_STAP_A) {
		for (size_t i = 1; i < len;) {
			size_t sz;

			if (i + 2 > len)
				return 0;
			sz = (size_t)p[i] << 8 | p[i + 1];
			i += 2;
			/* A length past the end, an empty or a nested unit. */
			if (!sz || sz > len - i || (p[i] & 0x80) || (p[i] & 0x1f) == 0 ||
			    (p[i] & 0x1f) > 23)
				return 0;
			if (n == 0)
				pkt->begin = (p[i] & 0x1f) == NAL_SPS;
			pkt->key |= (p[i] & 0x1f) == NAL_IDR;
			memcpy(out + n, start_code, 4);
			memcpy(out + n + 4, p + i, sz);
			n += 4 + sz;
			i += sz;
		}
		return n;
	}
	if (type == NAL_FU_A) {
		uint8_t h, t;

		if (len < 3)
			return 0;
		h = p[1];
		t = h & 0x1f;
		/* Start and end at once is forbidden (RFC 6184 5.8). */
		if (t == 0 || t > 23 || (h & 0xc0) == 0xc0)
			return 0;
		pkt->frag = h & 0x80   ? CX_RTP_FRAG_FIRST
			    : h & 0x40 ? CX_RTP_FRAG_LAST
				       : CX_RTP_FRAG_MID;
		pkt->key = t == NAL_IDR;
		if (pkt->frag == CX_RTP_FRAG_FIRST) {
			memcpy(out, start_code, 4);
			out[4] = (uint8_t)((p[0] & 0xe0) | t);
			n = 5;
		}
		memcpy(out + n, p + 2, len - 2);
		return n + len - 2;
	}
	return 0; /* STAP-B, MTAP, FU-B (interleaved mode) and reserved types */
}

int cx_h264_asm_put(struct cx_h264_asm *a, uint16_t seq, uint32_t ts, bool marker,
		    const uint8_t *payload, size_t len)
{
	struct cx_rtp_pkt pkt = {0};
	uint8_t *buf;
	size_t n;
	int err;

	if (!a || !payload)
		return EINVAL;
	if (len > CX_H264_ASM_MAX_PAYLOAD)
		return EMSGSIZE;
	err = cx_rtp_asm_slot(a->ra, seq, &buf);
	if (err)
		return err;
	n = to_annexb(payload, len, buf, &pkt);
	if (!n) {
		cx_rtp_asm_bad(a->ra);
		return EBADMSG;
	}
	cx_rtp_asm_commit(a->ra, seq, ts, marker, n, &pkt);
	return 0;
}

int cx_h264_asm_get(struct cx_h264_asm *a, struct cx_h264_assembled *out)
{
	struct cx_rtp_frame f;

	if (!a || !out)
		return EINVAL;
	if (cx_rtp_asm_get(a->ra, &f))
		return EAGAIN;
	*out = (struct cx_h264_assembled){
	    .data = f.data,
	    .len = f.len,
	    .ts = f.ts,
	    .first_seq = f.first_seq,
	    .last_seq = f.last_seq,
	    .keyframe = f.keyframe,
	};
	return 0;
}

size_t cx_h264_asm_missing(struct cx_h264_asm *a, uint16_t *seqs, size_t cap)
{
	if (!a || !seqs)
		return 0;
	return cx_rtp_asm_missing(a->ra, seqs, cap);
}

void cx_h264_asm_drop_incomplete(struct cx_h264_asm *a)
{
	if (a)
		cx_rtp_asm_drop_incomplete(a->ra);
}

bool cx_h264_asm_need_keyframe(const struct cx_h264_asm *a)
{
	return a && cx_rtp_asm_need_keyframe(a->ra);
}

void cx_h264_asm_get_stats(const struct cx_h264_asm *a, struct cx_h264_asm_stats *st)
{
	struct cx_rtp_asm_stats s;

	if (!a || !st)
		return;
	cx_rtp_asm_get_stats(a->ra, &s);
	*st = (struct cx_h264_asm_stats){
	    .frames = s.frames,
	    .keyframes = s.keyframes,
	    .duplicates = s.duplicates,
	    .late = s.late,
	    .bad = s.bad,
	    .dropped = s.dropped,
	    .refused = s.refused,
	};
}
