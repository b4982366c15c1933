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
 * next whole keyframe can always be found.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "codecs/codecs.h"

#define NAL_IDR    5
#define NAL_SPS    7
#define NAL_STAP_A 24
#define NAL_FU_A   28

static const uint8_t start_code[4] = {0, 0, 0, 1};

/* ---- assembler ------------------------------------------------------------ */

enum fu { FU_NONE, FU_START, FU_MID, FU_END };

/* Worst growth of a payload into Annex B: a STAP-A of 1-byte units turns
 * 3 bytes into 5. */
#define SLOT_CAP (CX_H264_ASM_MAX_PAYLOAD * 5 / 3 + 8)

struct slot {
	bool used;
	bool marker;
	bool sps; /* begins with an SPS: a frame start after a loss */
	bool idr; /* holds (part of) an IDR slice */
	uint8_t fu;
	uint16_t seq;
	uint16_t len; /* of the Annex B data */
	uint32_t ts;
};

struct cx_h264_asm {
	bool active;     /* head and highest mean something */
	bool anchored;   /* a frame left: head is past a frame boundary */
	bool head_start; /* head is known to begin a frame */
	bool prev_valid; /* prev_ts is the timestamp of the frame before head */
	bool need_key;
	uint16_t head, highest;
	uint32_t prev_ts;
	unsigned strays;
	struct cx_h264_asm_stats st;
	uint8_t *frame; /* CX_H264_ASM_MAX_FRAME */
	uint8_t *data;  /* CX_H264_ASM_WINDOW slots of SLOT_CAP */
	struct slot ring[CX_H264_ASM_WINDOW];
};

enum scan { COMPLETE, INCOMPLETE, BROKEN };

#define STRAYS_RESTART 16
#define ASM_DATA_SIZE  ((size_t)CX_H264_ASM_WINDOW * SLOT_CAP)
#define SLOT(a, s)     (&(a)->ring[(s) % CX_H264_ASM_WINDOW])
#define DATA(a, s)     ((a)->data + (size_t)((s) % CX_H264_ASM_WINDOW) * SLOT_CAP)

static struct slot *have(struct cx_h264_asm *a, uint16_t seq)
{
	struct slot *s = SLOT(a, seq);

	return s->used && s->seq == seq ? s : NULL;
}

/* Big buffers as their own mappings, as the VP8 assembler does (see
 * vp8_rtp.c: heap blocks of this size kept the server's RSS growing under
 * join/leave churn); heap blocks under AddressSanitizer, which checks
 * their bounds. */
#if defined(__SANITIZE_ADDRESS__)
#define ASM_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASM_HEAP 1
#endif
#endif

#ifdef ASM_HEAP
static void *big_alloc(size_t n)
{
	return malloc(n);
}

static void big_free(void *p, size_t n)
{
	(void)n;
	free(p);
}
#else
static void *big_alloc(size_t n)
{
	void *p =
	    mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void big_free(void *p, size_t n)
{
	if (p)
		munmap(p, n);
}
#endif

int cx_h264_asm_new(struct cx_h264_asm **out)
{
	struct cx_h264_asm *a;

	if (!out)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->frame = big_alloc(CX_H264_ASM_MAX_FRAME);
	a->data = big_alloc(ASM_DATA_SIZE);
	if (!a->frame || !a->data) {
		big_free(a->frame, CX_H264_ASM_MAX_FRAME);
		big_free(a->data, ASM_DATA_SIZE);
		free(a);
		return ENOMEM;
	}
	a->need_key = true;
	*out = a;
	return 0;
}

void cx_h264_asm_free(struct cx_h264_asm **p)
{
	if (!p || !*p)
		return;
	big_free((*p)->frame, CX_H264_ASM_MAX_FRAME);
	big_free((*p)->data, ASM_DATA_SIZE);
	free(*p);
	*p = NULL;
}

void cx_h264_asm_reset(struct cx_h264_asm *a)
{
	if (!a)
		return;
	memset(a->ring, 0, sizeof(a->ring));
	memset(&a->st, 0, sizeof(a->st));
	a->active = a->anchored = a->head_start = a->prev_valid = false;
	a->need_key = true;
	a->strays = 0;
}

/* Checks one payload and writes it as Annex B into out (SLOT_CAP bytes).
 * Returns its length, or 0 for a payload tutti refuses. */
static size_t to_annexb(const uint8_t *p, size_t len, uint8_t *out, struct slot *s)
{
	uint8_t type = len ? p[0] & 0x1f : 0;
	size_t n = 0;

	if (!len || (p[0] & 0x80))
		return 0; /* empty, or the forbidden bit */
	if (type >= 1 && type <= 23) {
		memcpy(out, start_code, 4);
		memcpy(out + 4, p, len);
		s->sps = type == NAL_SPS;
		s->idr = type == NAL_IDR;
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
				s->sps = (p[i] & 0x1f) == NAL_SPS;
			s->idr |= (p[i] & 0x1f) == NAL_IDR;
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
		s->fu = h & 0x80 ? FU_START : h & 0x40 ? FU_END : FU_MID;
		s->idr = t == NAL_IDR;
		if (s->fu == FU_START) {
			memcpy(out, start_code, 4);
			out[4] = (uint8_t)((p[0] & 0xe0) | t);
			n = 5;
		}
		memcpy(out + n, p + 2, len - 2);
		return n + len - 2;
	}
	return 0; /* STAP-B, MTAP, FU-B (interleaved mode) and reserved types */
}

/* Forgets every packet before seq and makes seq the head; whether it
 * begins a frame is for the caller to say. */
static void advance(struct cx_h264_asm *a, uint16_t seq)
{
	for (uint16_t s = a->head; s != seq; s++) {
		struct slot *sl = have(a, s);

		if (sl)
			sl->used = false;
	}
	a->head = seq;
	a->anchored = true;
	a->head_start = false;
	if ((int16_t)(a->highest - seq) < 0)
		a->highest = (uint16_t)(seq - 1);
}

/* The stream jumped (a restart, or more loss than the window holds). */
static void restart(struct cx_h264_asm *a, uint16_t seq)
{
	for (size_t i = 0; i < CX_H264_ASM_WINDOW; i++)
		a->ring[i].used = false;
	a->head = a->highest = seq;
	a->anchored = a->head_start = a->prev_valid = false;
	a->need_key = true;
	a->st.dropped++;
}

int cx_h264_asm_put(struct cx_h264_asm *a, uint16_t seq, uint32_t ts, bool marker,
		    const uint8_t *payload, size_t len)
{
	struct slot *s, tmp = {0};
	int16_t dist;
	size_t n;

	if (!a || !payload)
		return EINVAL;
	if (len > CX_H264_ASM_MAX_PAYLOAD)
		return EMSGSIZE;
	if (!a->active) {
		a->active = true;
		a->head = a->highest = seq;
	}
	dist = (int16_t)(seq - a->head);
	if (dist >= 2 * CX_H264_ASM_WINDOW ||
	    (dist < -CX_H264_ASM_WINDOW && ++a->strays >= STRAYS_RESTART)) {
		restart(a, seq);
	} else if (dist < 0 && !a->anchored &&
		   (int16_t)(a->highest - seq) < CX_H264_ASM_WINDOW) {
		a->head = seq; /* an earlier packet of the first frame seen */
	} else if (dist < 0) {
		a->st.late++;
		return EALREADY;
	} else if (dist >= CX_H264_ASM_WINDOW) {
		advance(a, (uint16_t)(seq - CX_H264_ASM_WINDOW + 1));
		a->prev_valid = false;
		a->need_key = true;
		a->st.dropped++;
	}
	s = SLOT(a, seq);
	if (s->used && s->seq == seq) {
		a->st.duplicates++;
		return EALREADY;
	}
	n = to_annexb(payload, len, DATA(a, seq), &tmp);
	if (!n) {
		a->st.bad++;
		return EBADMSG;
	}
	a->strays = 0;
	tmp.used = true;
	tmp.seq = seq;
	tmp.ts = ts;
	tmp.marker = marker;
	tmp.len = (uint16_t)n;
	*s = tmp;
	if ((int16_t)(seq - a->highest) > 0)
		a->highest = seq;
	return 0;
}

/* Whether the packet at seq is known to begin an access unit. */
static bool starts(struct cx_h264_asm *a, uint16_t seq, const struct slot *s)
{
	const struct slot *prev = have(a, (uint16_t)(seq - 1));

	if (s->fu == FU_MID || s->fu == FU_END)
		return false;
	if (seq == a->head && a->head_start)
		return true;
	if (prev)
		return prev->marker || prev->ts != s->ts;
	if (seq == a->head && a->prev_valid)
		return s->ts != a->prev_ts;
	return s->sps;
}

/* Walks the frame that begins at seq: contiguous packets of its timestamp
 * to the marker (or to the packet before another timestamp), fragments
 * in order. *end is its last seq, *key whether it holds an IDR. */
static enum scan scan(struct cx_h264_asm *a, uint16_t seq, uint16_t *end, bool *key)
{
	struct slot *first = have(a, seq), *s;
	bool in_fu = false;
	size_t bytes = 0;

	*key = false;
	if (!first)
		return INCOMPLETE;
	for (uint16_t i = 0; i < CX_H264_ASM_WINDOW; i++) {
		uint16_t q = (uint16_t)(seq + i);

		s = have(a, q);
		if (!s)
			return INCOMPLETE;
		if (s->ts != first->ts) {
			/* The frame ended without a marker. */
			*end = (uint16_t)(q - 1);
			return in_fu ? BROKEN : COMPLETE;
		}
		if ((s->fu == FU_START || s->fu == FU_NONE) && in_fu)
			return BROKEN;
		if ((s->fu == FU_MID || s->fu == FU_END) && !in_fu)
			return BROKEN;
		in_fu = s->fu == FU_START || s->fu == FU_MID;
		*key |= s->idr;
		bytes += s->len;
		if (bytes > CX_H264_ASM_MAX_FRAME)
			return BROKEN;
		if (s->marker) {
			*end = q;
			return in_fu ? BROKEN : COMPLETE;
		}
	}
	return BROKEN;
}

/* The frame at head as the assembler must treat it: one whose start is
 * not known is broken, unless it is the first frame seen, whose earlier
 * packets may still come. */
static enum scan head_frame(struct cx_h264_asm *a, uint16_t *end, bool *key)
{
	struct slot *first = have(a, a->head);
	enum scan r = scan(a, a->head, end, key);

	if (first && !starts(a, a->head, first)) {
		bool middle = first->fu == FU_MID || first->fu == FU_END;
		r = !a->anchored && !middle ? INCOMPLETE : BROKEN;
	}
	return r;
}

/* Makes seq the head after the frame of timestamp ts (known: ts_valid)
 * was given or dropped. */
static void advance_past(struct cx_h264_asm *a, uint16_t seq, bool ts_valid, uint32_t ts)
{
	advance(a, seq);
	a->prev_valid = ts_valid;
	a->prev_ts = ts;
}

/* Drops the frame at head: up to the next packet known to begin one,
 * or past everything held. */
static void drop_head_frame(struct cx_h264_asm *a)
{
	struct slot *first = have(a, a->head);
	bool valid = first != NULL;
	uint32_t ts = first ? first->ts : 0;
	uint16_t s = (uint16_t)(a->head + 1);

	for (; (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s), *prev = have(a, (uint16_t)(s - 1));

		if (!sl || sl->fu == FU_MID || sl->fu == FU_END)
			continue;
		if (sl->sps || (prev && (prev->marker || prev->ts != sl->ts)) ||
		    (valid && sl->ts != ts))
			break;
	}
	advance_past(a, s, valid, ts);
	if ((int16_t)(s - a->highest) <= 0)
		a->head_start = true;
	a->need_key = true;
	a->st.dropped++;
}

/* A whole keyframe after head, which makes waiting for head pointless. */
static bool later_keyframe(struct cx_h264_asm *a, uint16_t *at)
{
	uint16_t end;
	bool key;

	for (uint16_t s = (uint16_t)(a->head + 1); (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s);

		if (sl && (sl->sps || sl->idr) && starts(a, s, sl) &&
		    scan(a, s, &end, &key) == COMPLETE && key) {
			*at = s;
			return true;
		}
	}
	return false;
}

/* Throws away what can never be used, up to a frame worth waiting for. */
static void prune(struct cx_h264_asm *a)
{
	uint16_t end, at;
	bool key;

	while (a->active && (int16_t)(a->head - a->highest) <= 0) {
		struct slot *first = have(a, a->head);
		enum scan r = head_frame(a, &end, &key);

		if (r == BROKEN) {
			drop_head_frame(a);
		} else if (r == COMPLETE && a->need_key && !key) {
			advance_past(a, (uint16_t)(end + 1), true, first->ts);
			a->head_start = true;
			a->st.refused++;
		} else if (r == INCOMPLETE && later_keyframe(a, &at)) {
			advance(a, at);
			a->head_start = true;
			a->st.dropped++;
		} else {
			return;
		}
	}
}

int cx_h264_asm_get(struct cx_h264_asm *a, struct cx_h264_assembled *out)
{
	struct slot *first;
	uint16_t end;
	size_t len = 0;
	bool key;

	if (!a || !out)
		return EINVAL;
	prune(a);
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    head_frame(a, &end, &key) != COMPLETE)
		return EAGAIN;
	first = have(a, a->head);
	*out = (struct cx_h264_assembled){
	    .data = a->frame,
	    .ts = first->ts,
	    .first_seq = a->head,
	    .last_seq = end,
	    .keyframe = key,
	};
	for (uint16_t s = a->head;; s++) {
		struct slot *sl = have(a, s);

		memcpy(a->frame + len, DATA(a, s), sl->len);
		len += sl->len;
		if (s == end)
			break;
	}
	out->len = len;
	if (key) {
		a->need_key = false;
		a->st.keyframes++;
	}
	a->st.frames++;
	advance_past(a, (uint16_t)(end + 1), true, first->ts);
	a->head_start = true;
	return 0;
}

size_t cx_h264_asm_missing(struct cx_h264_asm *a, uint16_t *seqs, size_t cap)
{
	size_t n = 0;

	if (!a || !seqs)
		return 0;
	prune(a);
	if (!a->active)
		return 0;
	for (uint16_t s = a->head; (int16_t)(s - a->highest) < 0 && n < cap; s++)
		if (!have(a, s))
			seqs[n++] = s;
	return n;
}

void cx_h264_asm_drop_incomplete(struct cx_h264_asm *a)
{
	uint16_t end;
	bool key;

	if (!a)
		return;
	prune(a);
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    head_frame(a, &end, &key) == COMPLETE)
		return;
	drop_head_frame(a);
}

bool cx_h264_asm_need_keyframe(const struct cx_h264_asm *a)
{
	return a && a->need_key;
}

void cx_h264_asm_get_stats(const struct cx_h264_asm *a, struct cx_h264_asm_stats *st)
{
	if (a && st)
		*st = a->st;
}
