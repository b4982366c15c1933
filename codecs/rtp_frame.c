/*
 * The RTP frame assembler behind the VP8 and H.264 depacketizers: it
 * rebuilds a sender's frames from packets that come late, twice, out of
 * order or not at all. See rtp_frame.h for what the codecs add.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "codecs/rtp_frame.h"

/*
 * Packets sit in a ring indexed by sequence number, from head (the first
 * packet of the oldest frame not yet given out) to highest (the newest
 * packet). A frame leaves the ring when whole, or when the caller, the
 * window or a broken frame gives it up; then only a keyframe will do.
 */
struct slot {
	bool used;
	bool marker;
	bool begin;
	bool key;
	uint8_t frag;
	uint16_t seq;
	uint16_t len; /* of what the codec wrote */
	uint32_t ts;
};

struct cx_rtp_asm {
	const struct cx_rtp_codec *codec;
	bool active;     /* head and highest mean something */
	bool anchored;   /* a frame left: head is past a frame boundary */
	bool head_start; /* head is known to begin a frame */
	bool prev_valid; /* prev_ts is the timestamp of the frame before head */
	bool need_key;
	uint16_t head, highest;
	uint32_t prev_ts;
	unsigned strays; /* packets in a row from far behind the window */
	struct cx_rtp_asm_stats st;
	uint8_t *frame; /* the frame given out by the last get */
	uint8_t *data;  /* slot i's payload at i * codec->slot_cap */
	size_t data_size;
	struct slot ring[CX_RTP_ASM_WINDOW];
};

enum scan { COMPLETE, INCOMPLETE, BROKEN };

#define WINDOW         CX_RTP_ASM_WINDOW
#define STRAYS_RESTART 16

#define SLOT(a, s) (&(a)->ring[(s) % WINDOW])
#define DATA(a, s) ((a)->data + (size_t)((s) % WINDOW) * (a)->codec->slot_cap)

static struct slot *have(struct cx_rtp_asm *a, uint16_t seq)
{
	struct slot *s = SLOT(a, seq);

	return s->used && s->seq == seq ? s : NULL;
}

static bool middle(const struct slot *s)
{
	return s->frag == CX_RTP_FRAG_MID || s->frag == CX_RTP_FRAG_LAST;
}

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

int cx_rtp_asm_new(struct cx_rtp_asm **out, const struct cx_rtp_codec *codec)
{
	struct cx_rtp_asm *a;

	if (!out || !codec || !codec->slot_cap || !codec->max_frame)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	/* Room for a full window and the biggest frame, so that put and get
	 * never allocate; pages only count once touched. */
	a->codec = codec;
	a->data_size = (size_t)WINDOW * codec->slot_cap;
	a->frame = big_alloc(codec->max_frame);
	a->data = big_alloc(a->data_size);
	if (!a->frame || !a->data) {
		big_free(a->frame, codec->max_frame);
		big_free(a->data, a->data_size);
		free(a);
		return ENOMEM;
	}
	a->need_key = true;
	*out = a;
	return 0;
}

void cx_rtp_asm_free(struct cx_rtp_asm **p)
{
	if (!p || !*p)
		return;
	big_free((*p)->frame, (*p)->codec->max_frame);
	big_free((*p)->data, (*p)->data_size);
	free(*p);
	*p = NULL;
}

void cx_rtp_asm_reset(struct cx_rtp_asm *a)
{
	if (!a)
		return;
	memset(a->ring, 0, sizeof(a->ring));
	memset(&a->st, 0, sizeof(a->st));
	a->active = a->anchored = a->head_start = a->prev_valid = false;
	a->need_key = true;
	a->strays = 0;
}

/* Forgets every packet before seq and makes seq the head; whether it
 * begins a frame is for the caller to say. */
static void advance(struct cx_rtp_asm *a, uint16_t seq)
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

/* Makes seq the head after the frame of timestamp ts (known: ts_valid)
 * was given or dropped. */
static void advance_past(struct cx_rtp_asm *a, uint16_t seq, bool ts_valid, uint32_t ts)
{
	advance(a, seq);
	a->prev_valid = ts_valid;
	a->prev_ts = ts;
}

/* The stream jumped (a restart, or more loss than the window holds). */
static void restart(struct cx_rtp_asm *a, uint16_t seq)
{
	for (size_t i = 0; i < WINDOW; i++)
		a->ring[i].used = false;
	a->head = a->highest = seq;
	a->anchored = a->head_start = a->prev_valid = false;
	a->need_key = true;
	a->st.dropped++;
}

int cx_rtp_asm_slot(struct cx_rtp_asm *a, uint16_t seq, uint8_t **buf)
{
	struct slot *s;
	int16_t dist;

	if (!a->active) {
		a->active = true;
		a->head = a->highest = seq;
	}
	dist = (int16_t)(seq - a->head);
	/* Far ahead, or a run of packets far behind: the stream restarted
	 * (one stray old packet alone is just late). */
	if (dist >= 2 * WINDOW || (dist < -WINDOW && ++a->strays >= STRAYS_RESTART)) {
		restart(a, seq);
	} else if (dist < 0 && !a->anchored && (int16_t)(a->highest - seq) < WINDOW) {
		/* Before the first frame, head is only the first packet seen:
		 * the ones before it in its frame may still come. */
		a->head = seq;
	} else if (dist < 0) {
		a->st.late++;
		return EALREADY;
	} else if (dist >= WINDOW) {
		/* The oldest frames can wait no longer: make room. */
		advance(a, (uint16_t)(seq - WINDOW + 1));
		a->prev_valid = false;
		a->need_key = true;
		a->st.dropped++;
	}
	s = SLOT(a, seq);
	if (s->used && s->seq == seq) {
		a->st.duplicates++;
		return EALREADY;
	}
	*buf = DATA(a, seq);
	return 0;
}

void cx_rtp_asm_commit(struct cx_rtp_asm *a, uint16_t seq, uint32_t ts, bool marker,
		       size_t len, const struct cx_rtp_pkt *pkt)
{
	struct slot *s = SLOT(a, seq);

	a->strays = 0;
	*s = (struct slot){
	    .used = true,
	    .marker = marker,
	    .begin = pkt->begin,
	    .key = pkt->key,
	    .frag = pkt->frag,
	    .seq = seq,
	    .len = (uint16_t)len,
	    .ts = ts,
	};
	if ((int16_t)(seq - a->highest) > 0)
		a->highest = seq;
}

void cx_rtp_asm_bad(struct cx_rtp_asm *a)
{
	a->st.bad++;
}

/* Whether the packet at seq is known to begin a frame. */
static bool starts(struct cx_rtp_asm *a, uint16_t seq, const struct slot *s)
{
	const struct slot *prev;

	if (a->codec->marks_starts)
		return s->begin;
	if (middle(s))
		return false;
	if (seq == a->head && a->head_start)
		return true;
	prev = have(a, (uint16_t)(seq - 1));
	if (prev)
		return prev->marker || prev->ts != s->ts;
	if (seq == a->head && a->prev_valid)
		return s->ts != a->prev_ts;
	return s->begin;
}

/* Walks the frame that begins at seq: contiguous packets of its timestamp
 * to the marker, fragments in order. Where the payload marks starts, the
 * frame must begin with one and hold no other, and a new timestamp before
 * the marker breaks it; otherwise a new timestamp ends the frame at the
 * packet before. *end is its last seq, *key whether it holds a keyframe. */
static enum scan scan(struct cx_rtp_asm *a, uint16_t seq, uint16_t *end, bool *key)
{
	bool marks = a->codec->marks_starts;
	struct slot *first = have(a, seq), *s;
	bool in_frag = false;
	size_t bytes = 0;

	*key = false;
	if (!first)
		return INCOMPLETE;
	if (marks && !first->begin)
		return BROKEN;
	for (uint16_t i = 0; i < WINDOW; i++) {
		uint16_t q = (uint16_t)(seq + i);

		s = have(a, q);
		if (!s)
			return INCOMPLETE;
		if (s->ts != first->ts) {
			if (marks)
				return BROKEN;
			/* The frame ended without a marker. */
			*end = (uint16_t)(q - 1);
			return in_frag ? BROKEN : COMPLETE;
		}
		/* Another frame began before this one's marker. */
		if (marks && i > 0 && s->begin)
			return BROKEN;
		if (in_frag != middle(s))
			return BROKEN;
		in_frag = s->frag == CX_RTP_FRAG_FIRST || s->frag == CX_RTP_FRAG_MID;
		*key |= s->key;
		bytes += s->len;
		if (bytes > a->codec->max_frame)
			return BROKEN;
		if (s->marker) {
			*end = q;
			return in_frag ? BROKEN : COMPLETE;
		}
	}
	return BROKEN;
}

/* The frame at head as the assembler must treat it: one whose start is
 * not known is broken, unless it is the first frame seen, whose earlier
 * packets may still come. */
static enum scan head_frame(struct cx_rtp_asm *a, uint16_t *end, bool *key)
{
	struct slot *first = have(a, a->head);
	enum scan r = scan(a, a->head, end, key);

	if (first && !starts(a, a->head, first))
		r = !a->anchored && !middle(first) ? INCOMPLETE : BROKEN;
	return r;
}

/* The first packet after head known to begin a frame, or highest + 1
 * when there is none; ts (if valid) is that of the frame at head. */
static uint16_t next_start(struct cx_rtp_asm *a, bool valid, uint32_t ts)
{
	uint16_t s = (uint16_t)(a->head + 1);

	for (; (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s), *prev = have(a, (uint16_t)(s - 1));

		if (!sl || middle(sl))
			continue;
		if (sl->begin)
			break;
		if (!a->codec->marks_starts &&
		    ((prev && (prev->marker || prev->ts != sl->ts)) ||
		     (valid && sl->ts != ts)))
			break;
	}
	return s;
}

/* Drops the frame at head: up to the next packet known to begin one,
 * or past everything held. */
static void drop_head_frame(struct cx_rtp_asm *a)
{
	struct slot *first = have(a, a->head);
	bool valid = first != NULL;
	uint32_t ts = first ? first->ts : 0;
	uint16_t s = next_start(a, valid, ts);

	advance_past(a, s, valid, ts);
	if ((int16_t)(s - a->highest) <= 0)
		a->head_start = true;
	a->need_key = true;
	a->st.dropped++;
}

/* A whole keyframe after head, which makes waiting for head pointless. */
static bool later_keyframe(struct cx_rtp_asm *a, uint16_t *at)
{
	uint16_t end;
	bool key;

	for (uint16_t s = (uint16_t)(a->head + 1); (int16_t)(s - a->highest) <= 0; s++) {
		struct slot *sl = have(a, s);

		if (sl && (sl->begin || sl->key) && starts(a, s, sl) &&
		    scan(a, s, &end, &key) == COMPLETE && key) {
			*at = s;
			return true;
		}
	}
	return false;
}

/* Throws away what can never be used, up to a frame worth waiting for. */
static void prune(struct cx_rtp_asm *a)
{
	uint16_t end, at;
	bool key;

	while (a->active && (int16_t)(a->head - a->highest) <= 0) {
		struct slot *first = have(a, a->head);
		enum scan r = head_frame(a, &end, &key);

		if (r == BROKEN) {
			drop_head_frame(a);
		} else if (r == INCOMPLETE && a->codec->marks_starts && first &&
			   first->begin && a->need_key && !first->key) {
			/* A delta frame we would refuse anyway: no NACKs for it. */
			advance(a, next_start(a, false, 0));
			a->st.refused++;
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

int cx_rtp_asm_get(struct cx_rtp_asm *a, struct cx_rtp_frame *out)
{
	struct slot *first;
	uint16_t end;
	size_t len = 0;
	bool key;

	prune(a);
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    head_frame(a, &end, &key) != COMPLETE)
		return EAGAIN;
	first = have(a, a->head);
	*out = (struct cx_rtp_frame){
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

size_t cx_rtp_asm_missing(struct cx_rtp_asm *a, uint16_t *seqs, size_t cap)
{
	size_t n = 0;

	prune(a);
	if (!a->active)
		return 0;
	for (uint16_t s = a->head; (int16_t)(s - a->highest) < 0 && n < cap; s++)
		if (!have(a, s))
			seqs[n++] = s;
	return n;
}

void cx_rtp_asm_drop_incomplete(struct cx_rtp_asm *a)
{
	uint16_t end;
	bool key;

	prune(a);
	/* Nothing waits, or the oldest frame is whole after all. */
	if (!a->active || (int16_t)(a->head - a->highest) > 0 ||
	    head_frame(a, &end, &key) == COMPLETE)
		return;
	drop_head_frame(a);
}

bool cx_rtp_asm_need_keyframe(const struct cx_rtp_asm *a)
{
	return a->need_key;
}

void cx_rtp_asm_get_stats(const struct cx_rtp_asm *a, struct cx_rtp_asm_stats *st)
{
	*st = a->st;
}
