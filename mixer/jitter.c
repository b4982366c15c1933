/*
 * The adaptive audio jitter buffer (see jitter.h for the policy).
 *
 * Sequence numbers and timestamps are extended to 64 bits on arrival, so
 * wrap-around disappears from the playout logic. A packet sits in slot
 * seq % MX_JB_SLOTS. Playout keeps two cursors: next_seq, the packet due
 * next, and play_ts, the media time of the next frame handed out. They
 * move together while packets flow; during a pause (DTX) the sender's
 * timestamps jump while its sequence numbers do not, so a packet whose
 * timestamp is ahead of play_ts starts a new talk-spurt.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "mixer/jitter.h"

#define FRAME_TS      960 /* 20 ms at 48 kHz: the tick, and the assumed frame */
#define WIN           256 /* transit times the delay estimate looks at */
#define PERCENTILE    98
#define UPDATE_EVERY  8  /* packets between target recomputations */
#define START_MS      40 /* target until START_SAMPLES packets were seen */
#define START_SAMPLES 50
#define EST_RESET_US  1000000 /* a transit jump this big restarts the estimate */
#define RESET_SEQ     150     /* ~3 s of 20 ms packets: a sender restart */
#define RESET_TS      (3 * 48000)
#define SILENT_AFTER  3     /* PLC frames before a silent sender is SILENT */
#define SKIP_OVER_US  25000 /* delay above target that warrants a skip */
#define SKIP_TICKS    50    /* ... held this long for a frame that is not quiet */
#define QUIET_LEVEL   50    /* RFC 6464: -50 dBov and below is quiet */
#define FLUSH_OVER_US 100000 /* delay this far above target: drop the backlog */

struct slot {
	bool used;    /* holds a packet not yet played */
	uint64_t seq; /* extended; kept after playout to spot duplicates */
	uint64_t ts;  /* extended */
	uint32_t samples;
	uint16_t len;
	uint8_t level;
	uint8_t data[MX_JB_SLOT_BYTES];
};

struct mx_jb {
	unsigned min_ms, max_ms;
	bool started;               /* a packet was stored since the reset */
	bool played;                /* a packet was played: next_seq means something */
	bool playing;               /* the playout clock runs (not EMPTY/SILENT) */
	bool last_dtx;              /* the last packet played was a DTX frame */
	uint64_t high_seq, high_ts; /* newest packet's, extended */
	uint64_t next_seq, play_ts;
	unsigned starving;   /* PLC frames in a row with nothing buffered */
	unsigned n_used;     /* slots holding a packet: none, and an idle buffer has nothing to do */
	unsigned over_ticks; /* ticks in a row well above target */
	bool cand;           /* a jumped packet waits for its confirmation */
	uint16_t cand_seq;
	/* Delay estimate: transit = arrival - media time, in µs. */
	int64_t transit[WIN], sorted[WIN];
	unsigned n_transit, i_transit, since_update;
	int64_t base_us; /* the least transit of the window */
	int64_t target_us;
	struct mx_jb_stats st;
	struct slot slot[MX_JB_SLOTS];
};

/* 48 kHz ticks to µs, for extended (positive) timestamps. */
static int64_t ts_us(uint64_t ts)
{
	return (int64_t)(ts * 125 / 6);
}

static struct slot *slot_of(struct mx_jb *jb, uint64_t seq)
{
	struct slot *s = &jb->slot[seq % MX_JB_SLOTS];

	return s->used && s->seq == seq ? s : NULL;
}

/* The buffered packet with the lowest sequence number ≥ from. */
static struct slot *lowest_from(struct mx_jb *jb, uint64_t from)
{
	struct slot *best = NULL;

	for (size_t i = 0; i < MX_JB_SLOTS; i++) {
		struct slot *s = &jb->slot[i];

		if (s->used && s->seq >= from && (!best || s->seq < best->seq))
			best = s;
	}
	return best;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Target = a high percentile of how much later than the earliest packet
 * of the window each packet arrived: late packets are rare by design. */
static void update_target(struct mx_jb *jb)
{
	unsigned n = jb->n_transit;
	int64_t t;

	memcpy(jb->sorted, jb->transit, n * sizeof(jb->sorted[0]));
	qsort(jb->sorted, n, sizeof(jb->sorted[0]), cmp_i64);
	jb->base_us = jb->sorted[0];
	t = jb->sorted[(n - 1) * PERCENTILE / 100] - jb->base_us;
	if (n < START_SAMPLES && t < START_MS * 1000)
		t = START_MS * 1000;
	if (t < (int64_t)jb->min_ms * 1000)
		t = (int64_t)jb->min_ms * 1000;
	if (t > (int64_t)jb->max_ms * 1000)
		t = (int64_t)jb->max_ms * 1000;
	jb->target_us = t;
	jb->since_update = 0;
}

static void add_transit(struct mx_jb *jb, int64_t transit)
{
	/* A sender whose clock jumped (timestamps not following a pause)
	 * would pin the estimate for a whole window: start afresh. */
	if (jb->n_transit && (transit > jb->base_us + EST_RESET_US ||
			      transit < jb->base_us - EST_RESET_US))
		jb->n_transit = jb->i_transit = 0;
	jb->transit[jb->i_transit] = transit;
	jb->i_transit = (jb->i_transit + 1) % WIN;
	if (jb->n_transit < WIN)
		jb->n_transit++;
	if (jb->n_transit == 1 || transit < jb->base_us ||
	    ++jb->since_update >= UPDATE_EVERY)
		update_target(jb);
}

void mx_jb_reset(struct mx_jb *jb)
{
	unsigned min_ms, max_ms;
	struct mx_jb_stats st;

	if (!jb)
		return;
	min_ms = jb->min_ms;
	max_ms = jb->max_ms;
	st = jb->st;

	/* The slots are not touched: used = false is enough. */
	for (size_t i = 0; i < MX_JB_SLOTS; i++)
		jb->slot[i].used = false;
	memset(jb, 0, offsetof(struct mx_jb, slot));
	jb->min_ms = min_ms;
	jb->max_ms = max_ms;
	jb->st = st;
	jb->target_us = START_MS * 1000;
}

int mx_jb_new(struct mx_jb **out)
{
	struct mx_jb *jb;

	if (!out)
		return EINVAL;
	jb = calloc(1, sizeof(*jb));
	if (!jb)
		return ENOMEM;
	/* 10 ms: on a quiet path the transit jitter is a few ms, and each
	 * ms here is a ms of everyone's mouth-to-ear delay (the room's tick
	 * adds 0-20 ms of its own); a jittery sender raises the target by
	 * the percentile above. */
	jb->min_ms = 10;
	jb->max_ms = 120;
	mx_jb_reset(jb);
	*out = jb;
	return 0;
}

void mx_jb_free(struct mx_jb **p)
{
	if (!p || !*p)
		return;
	free(*p);
	*p = NULL;
}

int mx_jb_set_delay_range(struct mx_jb *jb, unsigned min_ms, unsigned max_ms)
{
	if (!jb || min_ms < 10 || min_ms > max_ms || max_ms > 1000)
		return EINVAL;
	jb->min_ms = min_ms;
	jb->max_ms = max_ms;
	if (jb->n_transit)
		update_target(jb);
	return 0;
}

/* A jump of the numbering: sender restart, or a stray packet. */
static bool is_jump(int32_t dseq, int64_t dts)
{
	return dseq > RESET_SEQ || dseq < -RESET_SEQ || dts < -RESET_TS;
}

int mx_jb_put(struct mx_jb *jb, uint16_t seq, uint32_t rtp_ts, uint64_t arrival_us,
	      const uint8_t *payload, size_t len, uint8_t level)
{
	uint64_t eseq, ets;
	struct slot *s;
	int n;

	if (!jb || !payload || len == 0)
		return EINVAL;
	if (len > MX_JB_SLOT_BYTES)
		return EMSGSIZE;
	if (jb->started) {
		int32_t dseq = (int16_t)(seq - (uint16_t)jb->high_seq);
		int64_t dts = (int32_t)(rtp_ts - (uint32_t)jb->high_ts);

		if (is_jump(dseq, dts)) {
			/* One packet may be stray; two in a row are a new
			 * stream. */
			if (!jb->cand || seq != (uint16_t)(jb->cand_seq + 1)) {
				jb->cand = true;
				jb->cand_seq = seq;
				jb->st.discarded++;
				return 0;
			}
			mx_jb_reset(jb);
			jb->st.resets++;
		} else {
			jb->cand = false;
		}
	}
	if (!jb->started) {
		/* Start high so that earlier packets stay positive. */
		jb->high_seq = (1ull << 32) + seq;
		jb->high_ts = (1ull << 34) + rtp_ts;
		jb->started = true;
	}
	eseq = jb->high_seq + (int16_t)(seq - (uint16_t)jb->high_seq);
	ets = jb->high_ts + (int32_t)(rtp_ts - (uint32_t)jb->high_ts);

	s = &jb->slot[eseq % MX_JB_SLOTS];
	if (s->seq == eseq && (s->used || (jb->played && eseq < jb->next_seq))) {
		jb->st.duplicate++;
		return 0;
	}
	if (jb->played && eseq < jb->next_seq) {
		jb->st.late++;
		return 0;
	}
	if (s->used)
		jb->st.discarded++; /* 64 packets behind: the consumer stalled */
	if (eseq > jb->high_seq) {
		jb->high_seq = eseq;
		jb->high_ts = ets;
	}
	n = cx_opus_packet_samples(payload, len);
	if (!s->used)
		jb->n_used++;
	s->used = true;
	s->seq = eseq;
	s->ts = ets;
	s->samples = n > 0 ? (uint32_t)n : FRAME_TS;
	s->len = (uint16_t)len;
	s->level = level;
	memcpy(s->data, payload, len);
	jb->st.received++;
	add_transit(jb, (int64_t)arrival_us - ts_us(ets));
	return 0;
}

static void emit(struct mx_jb_frame *out, enum mx_jb_kind kind, const struct slot *s)
{
	out->kind = kind;
	out->data = s->data;
	out->len = s->len;
	out->seq = (uint16_t)s->seq;
	out->ts = (uint32_t)s->ts;
	out->samples = s->samples;
	out->level = s->level;
}

static void play(struct mx_jb *jb, struct slot *s, struct mx_jb_frame *out)
{
	emit(out, MX_JB_PACKET, s);
	s->used = false;
	jb->n_used--;
	jb->next_seq = s->seq + 1;
	jb->play_ts = s->ts + s->samples;
	jb->last_dtx = cx_opus_is_dtx(s->len);
	jb->starving = 0;
}

/* The local time at which s should play: its earliest possible arrival
 * plus the target delay. */
static int64_t due_us(const struct mx_jb *jb, const struct slot *s)
{
	return ts_us(s->ts) + jb->base_us + jb->target_us;
}

/* Not playing: before the first packet or during a pause. Starts a
 * talk-spurt once its first packet is due; packets already overdue by
 * then (an outage) are dropped rather than kept as extra delay. */
static void get_idle(struct mx_jb *jb, int64_t now, struct mx_jb_frame *out)
{
	struct slot *p, *q;

	out->kind = jb->played ? MX_JB_SILENT : MX_JB_EMPTY;
	/* Most of a lecture's hundreds are silent: no slot to look at. */
	if (!jb->n_used)
		return;
	p = lowest_from(jb, jb->played ? jb->next_seq : 0);
	if (!p || now < due_us(jb, p))
		return;
	while ((q = lowest_from(jb, p->seq + 1)) && due_us(jb, q) <= now) {
		p->used = false;
		jb->n_used--;
		jb->st.discarded++;
		p = q;
	}
	if (jb->played)
		jb->st.lost += p->seq - jb->next_seq;
	play(jb, p, out);
	jb->playing = true;
	jb->played = true;
	jb->over_ticks = 0;
}

static bool quiet(const struct slot *s)
{
	return cx_opus_is_dtx(s->len) ||
	       (s->level != MX_JB_LEVEL_NONE && s->level >= QUIET_LEVEL);
}

/* The packet due now is here. */
static void get_present(struct mx_jb *jb, struct slot *p, int64_t cur,
			struct mx_jb_frame *out)
{
	int64_t over = cur - jb->target_us;
	struct slot *q = slot_of(jb, p->seq + 1);

	/* Too much delay: drop this frame if the next one follows it
	 * seamlessly, preferably a quiet one where nobody hears it. */
	jb->over_ticks = over >= SKIP_OVER_US ? jb->over_ticks + 1 : 0;
	if (q && over >= SKIP_OVER_US && q->ts - p->ts <= p->samples &&
	    (quiet(p) || jb->over_ticks >= SKIP_TICKS)) {
		p->used = false;
		jb->n_used--;
		jb->st.discarded++;
		jb->over_ticks = 0;
		p = q;
	}
	play(jb, p, out);
}

/* The packet due now is missing, but a later one, q, is here. */
static void get_gap(struct mx_jb *jb, struct slot *q, int64_t cur,
		    struct mx_jb_frame *out)
{
	uint64_t gap = q->seq - jb->next_seq;
	uint64_t lost_ts;

	jb->starving = 0;
	/* Missing packets whose time already went by in PLC are lost. */
	while (gap > 0 &&
	       (int64_t)(q->ts - gap * FRAME_TS - jb->play_ts) < -FRAME_TS / 2) {
		jb->st.lost++;
		jb->next_seq++;
		gap--;
	}
	if (gap == 0) {
		play(jb, q, out);
		return;
	}
	out->kind = MX_JB_LOST;
	out->samples = FRAME_TS;
	/* Below target the packet may just be late: wait for it, which
	 * inserts a PLC frame and so grows the delay. */
	if (cur < jb->target_us) {
		jb->st.concealed++;
		return;
	}
	lost_ts = jb->play_ts;
	jb->st.lost++;
	jb->next_seq++;
	jb->play_ts += FRAME_TS;
	if (q->seq != jb->next_seq) {
		jb->st.concealed++;
	} else {
		jb->st.fec++;
		emit(out, MX_JB_LOST_FEC, q);
		/* The lost frame lasts up to q; 20 ms if that looks odd. */
		out->samples = FRAME_TS;
		if (q->ts > lost_ts && q->ts - lost_ts <= CX_OPUS_MAX_SAMPLES &&
		    (q->ts - lost_ts) % 120 == 0)
			out->samples = (uint32_t)(q->ts - lost_ts);
		jb->play_ts = q->ts;
	}
}

void mx_jb_get(struct mx_jb *jb, uint64_t now_us, struct mx_jb_frame *out)
{
	int64_t now = (int64_t)now_us, cur;
	struct slot *p, *q;

	if (!jb || !out)
		return;
	memset(out, 0, sizeof(*out));
	out->level = MX_JB_LEVEL_NONE;
	out->samples = FRAME_TS;
	if (!jb->playing) {
		get_idle(jb, now, out);
		return;
	}
	/* How long after its earliest possible arrival the frame due now
	 * plays: the delay actually held, compared with the target. */
	cur = now - (ts_us(jb->play_ts) + jb->base_us);
	if (cur - jb->target_us > FLUSH_OVER_US) {
		/* Far behind (the consumer stalled, or the sender sent a
		 * burst): skipping a frame now and then would keep this
		 * delay for seconds, and a full buffer would lose every
		 * other frame to overwrites. Play what is due now instead;
		 * what is older is dropped. */
		jb->st.flushes++;
		jb->playing = false;
		get_idle(jb, now, out);
		return;
	}
	p = slot_of(jb, jb->next_seq);
	if (p && (int64_t)(p->ts - jb->play_ts) > FRAME_TS / 2) {
		/* The sender paused: a new talk-spurt, played at its due
		 * time with the delay re-aimed at the target. */
		jb->playing = false;
		get_idle(jb, now, out);
		return;
	}
	if (p) {
		get_present(jb, p, cur, out);
		return;
	}
	q = lowest_from(jb, jb->next_seq + 1);
	if (q) {
		get_gap(jb, q, cur, out);
		return;
	}
	/* Nothing buffered: loss, a late packet, or a pause. Conceal a few
	 * frames, then call it silence; a DTX frame already said so. */
	if (jb->last_dtx || jb->starving >= SILENT_AFTER) {
		jb->playing = false;
		out->kind = MX_JB_SILENT;
		return;
	}
	jb->starving++;
	jb->st.concealed++;
	out->kind = MX_JB_LOST;
	if (cur >= jb->target_us)
		jb->play_ts += FRAME_TS; /* media time runs on at the sender */
}

void mx_jb_get_stats(const struct mx_jb *jb, struct mx_jb_stats *out)
{
	uint64_t samples = 0;

	if (!jb || !out)
		return;
	*out = jb->st;
	unsigned used = 0;
	for (size_t i = 0; i < MX_JB_SLOTS; i++)
		if (jb->slot[i].used) {
			samples += jb->slot[i].samples;
			used++;
		}
	assert(used == jb->n_used); /* the count get_idle trusts */
	out->depth_ms = (unsigned)(samples / 48);
	out->target_ms = (unsigned)(jb->target_us / 1000);
}
