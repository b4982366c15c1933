/*
 * The pacer of one receiver (see pacer.h and docs/bandwidth.md): a byte
 * budget refilled at the paced rate, and two FIFOs (retransmissions,
 * video) over one pool of slots, bounded by bytes and by age.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "transport/pacer.h"

/* The budget holds at most this much of the rate: the sending thread
 * drains every 20 ms tick, so a little more than one tick, that a late
 * tick still sends at the rate. */
#define PACE_BURST_S   0.04
#define PACE_BURST_MIN 1500.0

struct slot {
	uint8_t *buf;  /* TP_PACER_MAX_PKT, allocated on first use */
	uint64_t t_us; /* when it was queued */
	uint16_t len;
};

struct fifo {
	unsigned *idx; /* slot numbers, a ring of max_pkts */
	unsigned head, n;
};

struct tp_pacer {
	unsigned max_pkts;
	struct slot *slots;
	unsigned *free_slots;
	unsigned n_free;
	struct fifo q[TP_PACE_CLASSES]; /* [TP_PACE_AUDIO] stays empty */
	uint32_t rate_bps;
	double budget; /* bytes */
	uint64_t refill_us;
	struct tp_pacer_stats st;
};

int tp_pacer_new(struct tp_pacer **out, unsigned max_pkts)
{
	struct tp_pacer *p;

	if (!out || max_pkts < 2)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->max_pkts = max_pkts;
	p->slots = calloc(max_pkts, sizeof(*p->slots));
	p->free_slots = calloc(max_pkts, sizeof(*p->free_slots));
	for (int c = 0; c < TP_PACE_CLASSES; c++)
		p->q[c].idx = calloc(max_pkts, sizeof(unsigned));
	if (!p->slots || !p->free_slots || !p->q[0].idx || !p->q[1].idx || !p->q[2].idx) {
		tp_pacer_free(&p);
		return ENOMEM;
	}
	for (unsigned i = 0; i < max_pkts; i++)
		p->free_slots[i] = max_pkts - 1 - i;
	p->n_free = max_pkts;
	*out = p;
	return 0;
}

void tp_pacer_free(struct tp_pacer **pp)
{
	struct tp_pacer *p = pp ? *pp : NULL;

	if (!p)
		return;
	if (p->slots)
		for (unsigned i = 0; i < p->max_pkts; i++)
			free(p->slots[i].buf);
	free(p->slots);
	free(p->free_slots);
	for (int c = 0; c < TP_PACE_CLASSES; c++)
		free(p->q[c].idx);
	free(p);
	*pp = NULL;
}

static double burst(const struct tp_pacer *p)
{
	return CM_MAX(PACE_BURST_MIN, p->rate_bps / 8.0 * PACE_BURST_S);
}

static void refill(struct tp_pacer *p, uint64_t now)
{
	if (p->refill_us && now > p->refill_us)
		p->budget += p->rate_bps / 8.0 * (double)(now - p->refill_us) / 1e6;
	if (now > p->refill_us)
		p->refill_us = now;
	p->budget = CM_MIN(p->budget, burst(p));
}

static uint32_t limit_bytes(const struct tp_pacer *p)
{
	double b = p->rate_bps / 8.0 * TP_PACER_QUEUE_S;

	return (uint32_t)CM_MAX(b, (double)TP_PACER_MIN_BYTES);
}

void tp_pacer_set_rate(struct tp_pacer *p, uint32_t bps, uint64_t now)
{
	refill(p, now);
	p->rate_bps = bps;
	p->budget = CM_MIN(p->budget, burst(p));
}

double tp_pacer_budget(struct tp_pacer *p, uint64_t now)
{
	refill(p, now);
	return p->budget;
}

bool tp_pacer_may_send(struct tp_pacer *p, enum tp_pace_class c, uint64_t now)
{
	if (c == TP_PACE_AUDIO || !p->rate_bps)
		return true;
	/* Nothing more urgent, nor older of its own class, waits. */
	for (int k = TP_PACE_RTX; k <= (int)c; k++)
		if (p->q[k].n)
			return false;
	refill(p, now);
	return p->budget > 0;
}

void tp_pacer_on_sent(struct tp_pacer *p, size_t bytes, uint64_t now)
{
	refill(p, now);
	p->budget -= (double)bytes;
	/* Audio that went over a spent budget: video waits for it, but a
	 * debt of more than a burst is forgiven (audio is never held). */
	p->budget = CM_MAX(p->budget, -burst(p));
}

static unsigned fifo_at(const struct tp_pacer *p, const struct fifo *f, unsigned i)
{
	return f->idx[(f->head + i) % p->max_pkts];
}

/* Takes the oldest packet of class c out of the queue; counts it dropped
 * when drop is set. */
static void take_head(struct tp_pacer *p, int c, bool drop)
{
	struct fifo *f = &p->q[c];
	unsigned s = f->idx[f->head];

	f->head = (f->head + 1) % p->max_pkts;
	f->n--;
	p->st.queued_pkts--;
	p->st.queued_bytes -= p->slots[s].len;
	if (drop) {
		p->st.dropped_pkts++;
		p->st.dropped_bytes += p->slots[s].len;
		if (c == TP_PACE_VIDEO)
			p->st.dropped_video_pkts++;
	}
	p->free_slots[p->n_free++] = s;
}

int tp_pacer_enqueue(struct tp_pacer *p, enum tp_pace_class c, const uint8_t *pkt,
		     size_t len, uint64_t now)
{
	uint32_t lim = limit_bytes(p);
	struct slot *sl;
	unsigned s;

	if (c == TP_PACE_AUDIO || c >= TP_PACE_CLASSES || !len || len > TP_PACER_MAX_PKT)
		return EINVAL;
	/* Make room: the oldest video first, then the oldest repair. */
	while (p->st.queued_bytes + len > lim || !p->n_free) {
		if (p->q[TP_PACE_VIDEO].n)
			take_head(p, TP_PACE_VIDEO, true);
		else if (p->q[TP_PACE_RTX].n)
			take_head(p, TP_PACE_RTX, true);
		else
			break;
	}
	if (p->st.queued_bytes + len > lim || !p->n_free) {
		p->st.dropped_pkts++;
		p->st.dropped_bytes += len;
		if (c == TP_PACE_VIDEO)
			p->st.dropped_video_pkts++;
		return ENOBUFS;
	}
	s = p->free_slots[p->n_free - 1];
	sl = &p->slots[s];
	if (!sl->buf && !(sl->buf = malloc(TP_PACER_MAX_PKT)))
		return ENOMEM;
	p->n_free--;
	memcpy(sl->buf, pkt, len);
	sl->len = (uint16_t)len;
	sl->t_us = now;
	struct fifo *f = &p->q[c];
	f->idx[(f->head + f->n) % p->max_pkts] = s;
	f->n++;
	p->st.queued_pkts++;
	p->st.queued_bytes += (uint32_t)len;
	p->st.queued_total++;
	if (p->st.queued_bytes > p->st.max_queued_bytes)
		p->st.max_queued_bytes = p->st.queued_bytes;
	return 0;
}

/* Drops what waited too long: late video is no use to anyone. */
static void expire(struct tp_pacer *p, uint64_t now)
{
	for (int c = TP_PACE_RTX; c < TP_PACE_CLASSES; c++)
		while (p->q[c].n &&
		       now - p->slots[fifo_at(p, &p->q[c], 0)].t_us > TP_PACER_MAX_AGE_US)
			take_head(p, c, true);
}

const uint8_t *tp_pacer_next(struct tp_pacer *p, uint64_t now, size_t *len,
			     enum tp_pace_class *cls)
{
	expire(p, now);
	refill(p, now);
	if (p->rate_bps && p->budget <= 0)
		return NULL;
	for (int c = TP_PACE_RTX; c < TP_PACE_CLASSES; c++) {
		if (!p->q[c].n)
			continue;
		const struct slot *sl = &p->slots[fifo_at(p, &p->q[c], 0)];
		*len = sl->len;
		if (cls)
			*cls = (enum tp_pace_class)c;
		return sl->buf;
	}
	return NULL;
}

void tp_pacer_pop(struct tp_pacer *p)
{
	for (int c = TP_PACE_RTX; c < TP_PACE_CLASSES; c++) {
		if (!p->q[c].n)
			continue;
		take_head(p, c, false);
		return;
	}
}

void tp_pacer_get_stats(const struct tp_pacer *p, uint64_t now,
			struct tp_pacer_stats *out)
{
	*out = p->st;
	out->rate_bps = p->rate_bps;
	out->limit_bytes = limit_bytes(p);
	out->oldest_ms = 0;
	for (int c = TP_PACE_RTX; c < TP_PACE_CLASSES; c++)
		if (p->q[c].n) {
			uint64_t t = p->slots[fifo_at(p, &p->q[c], 0)].t_us;
			if (now > t)
				out->oldest_ms = (uint32_t)CM_MAX(
				    (uint64_t)out->oldest_ms, (now - t) / 1000);
		}
}

bool tp_pacer_holds(const struct tp_pacer *p, uint32_t ssrc, uint16_t seq)
{
	const struct fifo *q = &p->q[TP_PACE_VIDEO];

	for (unsigned i = 0; i < q->n; i++) {
		const struct slot *sl = &p->slots[fifo_at(p, q, i)];
		if (sl->len >= 12 && cm_rd16(sl->buf + 2) == seq && cm_rd32(sl->buf + 8) == ssrc)
			return true;
	}
	return false;
}
