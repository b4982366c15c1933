/*
 * The VP8 RTP payload (RFC 7741): the payload descriptor, the packetizer
 * for our encoders' frames and the assembler that rebuilds a sender's
 * frames from packets that come late, twice, out of order or not at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "codecs/codecs.h"

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

/*
 * Packets sit in a ring indexed by sequence number, from head (the first
 * packet of the oldest frame not yet given out) to highest (the newest
 * packet). A frame leaves the ring when whole, or when the caller, the
 * window or a broken frame gives it up; then only a keyframe will do.
 */
struct slot {
	bool used;
	bool marker;
	bool start; /* S=1 with PID 0: the first packet of a frame */
	bool keyframe;
	uint16_t seq;
	uint16_t len; /* of the VP8 data after the descriptor */
	uint32_t ts;
	struct cx_vp8_desc desc;
};

struct cx_vp8_asm {
	bool active;   /* head and highest mean something */
	bool anchored; /* a frame left: head is a frame boundary */
	bool need_key;
	uint16_t head, highest;
	unsigned strays; /* packets in a row from far behind the window */
	struct cx_vp8_asm_stats st;
	uint8_t *frame; /* the frame given out by the last get */
	uint8_t *data;  /* slot i's payload at i * CX_VP8_ASM_MAX_PAYLOAD */
	struct slot ring[CX_VP8_ASM_WINDOW];
};

enum scan { COMPLETE, INCOMPLETE, BROKEN };

#define STRAYS_RESTART 16

#define SLOT(a, s) (&(a)->ring[(s) % CX_VP8_ASM_WINDOW])
#define DATA(a, s)                                                                       \
	((a)->data + (size_t)((s) % CX_VP8_ASM_WINDOW) * CX_VP8_ASM_MAX_PAYLOAD)

static struct slot *have(struct cx_vp8_asm *a, uint16_t seq)
{
	struct slot *s = SLOT(a, seq);

	return s->used && s->seq == seq ? s : NULL;
}

#define ASM_DATA_SIZE ((size_t)CX_VP8_ASM_WINDOW * CX_VP8_ASM_MAX_PAYLOAD)

/* The assembler's two big buffers (~900 KiB a participant, mostly never
 * touched) are mappings of their own, not heap: once one such block has
 * been freed, glibc raises its mmap threshold and serves the next ones
 * from its arenas, whose pages, touched by earlier owners and by
 * malloc's own headers, stay resident. Under join/leave churn the
 * server's RSS crept up by ~30 MiB over 8000 cycles (perf/run churn).
 * A mapping's pages count only once touched and go back to the system
 * when it is unmapped. Under AddressSanitizer they stay heap blocks, whose
 * bounds ASan checks (unit tests, fuzzers); its allocator maps big
 * blocks itself. */
#if defined(__SANITIZE_ADDRESS__)
#define ASM_HEAP 1 /* gcc: ASan checks the bounds of heap blocks only */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASM_HEAP 1 /* clang (the fuzzers) */
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

int cx_vp8_asm_new(struct cx_vp8_asm **out)
{
	struct cx_vp8_asm *a;

	if (!out)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	/* Room for a full window and the biggest frame, so that put and get
	 * never allocate; pages only count once touched. */
	a->frame = big_alloc(CX_VP8_ASM_MAX_FRAME);
	a->data = big_alloc(ASM_DATA_SIZE);
	if (!a->frame || !a->data) {
		big_free(a->frame, CX_VP8_ASM_MAX_FRAME);
		big_free(a->data, ASM_DATA_SIZE);
		free(a);
		return ENOMEM;
	}
	a->need_key = true;
	*out = a;
	return 0;
}

void cx_vp8_asm_free(struct cx_vp8_asm **p)
{
	if (!p || !*p)
		return;
	big_free((*p)->frame, CX_VP8_ASM_MAX_FRAME);
	big_free((*p)->data, ASM_DATA_SIZE);
	free(*p);
	*p = NULL;
}

void cx_vp8_asm_reset(struct cx_vp8_asm *a)
{
	if (!a)
		return;
	memset(a->ring, 0, sizeof(a->ring));
	memset(&a->st, 0, sizeof(a->st));
	a->active = false;
	a->anchored = false;
	a->need_key = true;
	a->strays = 0;
}

/* Forgets every packet before seq and makes seq the head. */
static void advance(struct cx_vp8_asm *a, uint16_t seq)
{
	for (uint16_t s = a->head; s != seq; s++) {
		struct slot *sl = have(a, s);

		if (sl)
			sl->used = false;
	}
	a->head = seq;
	a->anchored = true;
	if ((int16_t)(a->highest - seq) < 0)
		a->highest = (uint16_t)(seq - 1);
}

/* The stream jumped (a restart, or more loss than the window holds). */
static void restart(struct cx_vp8_asm *a, uint16_t seq)
{
	for (size_t i = 0; i < CX_VP8_ASM_WINDOW; i++)
		a->ring[i].used = false;
	a->head = seq;
	a->highest = seq;
	a->anchored = false;
	a->need_key = true;
	a->st.dropped++;
}

int cx_vp8_asm_put(struct cx_vp8_asm *a, uint16_t seq, uint32_t ts, bool marker,
		   const uint8_t *payload, size_t len)
{
	struct cx_vp8_desc d;
	struct slot *s;
	int16_t dist;

	if (!a || !payload)
		return EINVAL;
	if (cx_vp8_parse_desc(payload, len, &d)) {
		a->st.bad++;
		return EBADMSG;
	}
	if (len - d.len > CX_VP8_ASM_MAX_PAYLOAD)
		return EMSGSIZE;
	if (!a->active) {
		a->active = true;
		a->head = a->highest = seq;
	}
	dist = (int16_t)(seq - a->head);
	/* Far ahead, or a run of packets far behind: the stream restarted
	 * (one stray old packet alone is just late). */
	if (dist >= 2 * CX_VP8_ASM_WINDOW ||
	    (dist < -CX_VP8_ASM_WINDOW && ++a->strays >= STRAYS_RESTART)) {
		restart(a, seq);
	} else if (dist < 0 && !a->anchored &&
		   (int16_t)(a->highest - seq) < CX_VP8_ASM_WINDOW) {
		/* Before the first frame, head is only the first packet seen:
		 * the ones before it in its frame may still come. */
		a->head = seq;
	} else if (dist < 0) {
		a->st.late++;
		return EALREADY;
	} else if (dist >= CX_VP8_ASM_WINDOW) {
		/* The oldest frames can wait no longer: make room. */
		advance(a, (uint16_t)(seq - CX_VP8_ASM_WINDOW + 1));
		a->need_key = true;
		a->st.dropped++;
	}
	s = SLOT(a, seq);
	if (s->used && s->seq == seq) {
		a->st.duplicates++;
		return EALREADY;
	}
	a->strays = 0;
	s->used = true;
	s->seq = seq;
	s->ts = ts;
	s->marker = marker;
	s->desc = d;
	s->start = d.start && d.pid == 0;
	/* VP8 payload header (RFC 7741 §4.3): P, the low bit, is 0 on keyframes. */
	s->keyframe = s->start && !(payload[d.len] & 0x01);
	s->len = (uint16_t)(len - d.len);
	memcpy(DATA(a, seq), payload + d.len, s->len);
	if ((int16_t)(seq - a->highest) > 0)
		a->highest = seq;
	return 0;
}

/* Walks the frame that starts at seq to its marker; *end is its last seq. */
static enum scan scan(struct cx_vp8_asm *a, uint16_t seq, uint16_t *end)
{
	struct slot *first = have(a, seq), *s;
	size_t bytes = 0;

	if (!first)
		return INCOMPLETE;
	if (!first->start)
		return BROKEN;
	for (uint16_t i = 0; i < CX_VP8_ASM_WINDOW; i++) {
		uint16_t q = (uint16_t)(seq + i);

		s = have(a, q);
		if (!s)
			return INCOMPLETE;
		/* Another frame began before this one's marker. */
		if (s->ts != first->ts || (i > 0 && s->start))
			return BROKEN;
		bytes += s->len;
		if (bytes > CX_VP8_ASM_MAX_FRAME)
			return BROKEN;
		if (s->marker) {
			*end = q;
			return COMPLETE;
		}
	}
	return BROKEN;
}

/* The first frame start after head, or highest + 1 when there is none. */
static uint16_t next_start(struct cx_vp8_asm *a)
{
	uint16_t s = (uint16_t)(a->head + 1);

	for (; (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s);

		if (sl && sl->start)
			break;
	}
	return s;
}

static void drop_head_frame(struct cx_vp8_asm *a)
{
	advance(a, next_start(a));
	a->need_key = true;
	a->st.dropped++;
}

/* A whole keyframe after head, which makes waiting for head pointless. */
static bool later_keyframe(struct cx_vp8_asm *a, uint16_t *at)
{
	uint16_t end;

	for (uint16_t s = (uint16_t)(a->head + 1); (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s);

		if (sl && sl->keyframe && scan(a, s, &end) == COMPLETE) {
			*at = s;
			return true;
		}
	}
	return false;
}

/* Throws away what can never be used, up to a frame worth waiting for. */
static void prune(struct cx_vp8_asm *a)
{
	uint16_t end, at;

	while (a->active && (int16_t)(a->head - a->highest) <= 0) {
		enum scan r = scan(a, a->head, &end);
		struct slot *first = have(a, a->head);

		/* The start of the first frame seen may be on its way. */
		if (r == BROKEN && first && !first->start && !a->anchored)
			r = INCOMPLETE;

		if (r == BROKEN) {
			drop_head_frame(a);
		} else if (r == INCOMPLETE && first && first->start && a->need_key &&
			   !first->keyframe) {
			/* A delta frame we would refuse anyway: no NACKs for it. */
			advance(a, next_start(a));
			a->st.refused++;
		} else if (r == COMPLETE && a->need_key && !first->keyframe) {
			advance(a, (uint16_t)(end + 1));
			a->st.refused++;
		} else if (r == INCOMPLETE && later_keyframe(a, &at)) {
			advance(a, at);
			a->st.dropped++;
		} else {
			return;
		}
	}
}

int cx_vp8_asm_get(struct cx_vp8_asm *a, struct cx_vp8_assembled *out)
{
	struct slot *first;
	uint16_t end;
	size_t len = 0;

	if (!a || !out)
		return EINVAL;
	prune(a);
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    scan(a, a->head, &end) != COMPLETE)
		return EAGAIN;
	first = have(a, a->head);
	*out = (struct cx_vp8_assembled){
	    .data = a->frame,
	    .ts = first->ts,
	    .first_seq = a->head,
	    .last_seq = end,
	    .keyframe = first->keyframe,
	    .picture_id = first->desc.has_picture_id ? first->desc.picture_id : -1,
	    .tl0picidx = first->desc.has_tl0picidx ? first->desc.tl0picidx : -1,
	    .tid = first->desc.has_tid ? (int8_t)first->desc.tid : -1,
	    .layer_sync = first->desc.layer_sync,
	};
	for (uint16_t s = a->head;; s++) {
		struct slot *sl = have(a, s);

		memcpy(a->frame + len, DATA(a, s), sl->len);
		len += sl->len;
		if (s == end)
			break;
	}
	out->len = len;
	if (out->keyframe) {
		a->need_key = false;
		a->st.keyframes++;
	}
	a->st.frames++;
	advance(a, (uint16_t)(end + 1));
	return 0;
}

size_t cx_vp8_asm_missing(struct cx_vp8_asm *a, uint16_t *seqs, size_t cap)
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

void cx_vp8_asm_drop_incomplete(struct cx_vp8_asm *a)
{
	uint16_t end;

	if (!a)
		return;
	prune(a);
	/* Nothing waits, or the oldest frame is whole after all. */
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    scan(a, a->head, &end) == COMPLETE)
		return;
	drop_head_frame(a);
}

bool cx_vp8_asm_need_keyframe(const struct cx_vp8_asm *a)
{
	return a && a->need_key;
}

void cx_vp8_asm_get_stats(const struct cx_vp8_asm *a, struct cx_vp8_asm_stats *st)
{
	if (a && st)
		*st = a->st;
}
