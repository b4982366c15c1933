/*
 * The bandwidth estimate of one receiver (see bwe.h and docs/bandwidth.md):
 * a delay-based rate from TWCC (arrival groups → trendline → overuse
 * detector → AIMD), a loss-based rate, and REMB, the lowest of them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "transport/bwe.h"

#define GROUP_US 5000 /* packets sent within 5 ms are one group */
#define TL_WIN 20 /* trendline window, in groups */
#define TL_SMOOTH 0.9
#define TL_GAIN 4.0
#define THR_INIT 12.5
#define THR_MIN 6.0
#define THR_MAX 600.0
#define K_UP 0.0087
#define K_DOWN 0.039
#define OVERUSE_TIME_MS 50.0
#define BETA 0.85 /* on overuse: this share of what got through */
#define DECREASE_GAP_US 300000 /* at most one decrease per this (about an RTT) */
#define INC_FAR 1.20 /* per second */
#define INC_NEAR 1.05
#define NEAR_US 10000000 /* an overuse this recent marks the link's capacity */
#define REMB_FRESH_US 3000000
#define ACK_WIN_US 1000000
#define ACK_RING 2048
#define LOSS_MIN_PKTS 40 /* TWCC loss is judged over at least this many */
#define LOSS_MIN_US 500000
/* The loss over about this many of the last packets: at 5 % loss a
 * window of 40 reads 10 % or more one time in seven, 300 hardly ever;
 * 15 % loss still shows within a couple of seconds. */
#define LOSS_AVG_PKTS 300.0
#define JITTER_RISE_MS 30
#define QUEUE_MIN_MS 40.0 /* overuse needs at least this much queued delay */
#define MIN_BUCKETS 30 /* the delay's floor: minima of the last 30 s */
#define STANDING_MS 50.0 /* a queue this deep that stays is congestion too */
#define SILENT_US 3000000 /* TWCC that flowed and stopped this long... */
#define SILENT_RTCP_US 8000000 /* ...and no report for this long: halve */

struct group {
	uint64_t first_send, last_send, last_arrival;
	bool valid;
};

struct ack {
	uint64_t arrival_us;
	uint32_t size;
};

struct tp_bwe {
	struct tp_bwe_cfg cfg;
	/* delay */
	struct group cur, prev;
	double acc_delay, smoothed;
	double tx[TL_WIN], ty[TL_WIN];
	unsigned tl_n, tl_pos;
	uint64_t first_arrival;
	unsigned n_deltas;
	double trend, prev_trend, threshold;
	double floor_min[MIN_BUCKETS]; /* per second of arrival time */
	double queued; /* ms above the floor, at the last sample */
	uint64_t floor_sec;
	bool floor_init;
	double time_over_ms;
	int overuse_count;
	uint64_t last_thr_us;
	enum tp_bwe_signal signal;
	/* AIMD */
	double delay_bps;
	uint64_t last_update_us, last_decrease_us, last_overuse_us;
	double cap_at_overuse;
	/* what got through */
	struct ack acks[ACK_RING];
	unsigned ack_pos, ack_n;
	uint32_t acked_bps;
	uint64_t last_twcc_us;
	uint64_t last_report_us; /* any feedback: TWCC, report block, REMB */
	uint32_t sent_bps;
	/* loss */
	double loss_bps, loss;
	unsigned lost_acc, total_acc;
	double lost_avg, total_avg; /* decayed counts: loss over LOSS_AVG_PKTS */
	uint64_t loss_since_us;
	uint32_t last_jitter_ms;
	bool has_jitter;
	/* REMB */
	uint64_t remb_bps, remb_us;
};

int tp_bwe_new(struct tp_bwe **out, const struct tp_bwe_cfg *cfg)
{
	struct tp_bwe *b;

	if (!out || !cfg || !cfg->min_bps || cfg->min_bps > cfg->max_bps ||
	    cfg->start_bps < cfg->min_bps || cfg->start_bps > cfg->max_bps)
		return EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	b->cfg = *cfg;
	b->threshold = THR_INIT;
	b->delay_bps = cfg->start_bps;
	b->loss_bps = cfg->start_bps;
	b->time_over_ms = -1;
	*out = b;
	return 0;
}

void tp_bwe_free(struct tp_bwe **p)
{
	if (!p || !*p)
		return;
	free(*p);
	*p = NULL;
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Least-squares slope of the smoothed delay over the arrival time. */
static double slope(const struct tp_bwe *b)
{
	unsigned n = b->tl_n;
	double mx = 0, my = 0, num = 0, den = 0;

	for (unsigned i = 0; i < n; i++) {
		mx += b->tx[i];
		my += b->ty[i];
	}
	mx /= n;
	my /= n;
	for (unsigned i = 0; i < n; i++) {
		num += (b->tx[i] - mx) * (b->ty[i] - my);
		den += (b->tx[i] - mx) * (b->tx[i] - mx);
	}
	return den > 0 ? num / den : 0;
}

/* The threshold follows the trend's size slowly, so that a path whose
 * delay always wobbles does not read as overuse, yet a steady rise does. */
static void update_threshold(struct tp_bwe *b, double m, uint64_t now)
{
	double am = fabs(m), dt;

	if (!b->last_thr_us)
		b->last_thr_us = now;
	if (am > b->threshold + 15.0) {
		b->last_thr_us = now;
		return; /* a spike: do not learn from it */
	}
	dt = CM_MIN(100.0, (double)(now - b->last_thr_us) / 1000.0);
	b->threshold += (am < b->threshold ? K_DOWN : K_UP) * (am - b->threshold) * dt;
	b->threshold = clampd(b->threshold, THR_MIN, THR_MAX);
	b->last_thr_us = now;
}

/* How far the smoothed delay stands above its lowest of the last 10 s:
 * the queue the path holds now. A trend alone also rises with the wobble
 * of a busy machine; a queue that has really grown is what overuse is. */
static double queued_ms(struct tp_bwe *b, uint64_t arrival_us)
{
	uint64_t sec = arrival_us / 1000000;
	double lo;

	if (!b->floor_init || sec >= b->floor_sec + MIN_BUCKETS) {
		for (int i = 0; i < MIN_BUCKETS; i++)
			b->floor_min[i] = b->smoothed;
		b->floor_init = true;
	} else {
		for (uint64_t s = b->floor_sec + 1; s <= sec; s++)
			b->floor_min[s % MIN_BUCKETS] = b->smoothed;
	}
	if (sec > b->floor_sec || !b->floor_sec)
		b->floor_sec = sec;
	if (b->smoothed < b->floor_min[sec % MIN_BUCKETS])
		b->floor_min[sec % MIN_BUCKETS] = b->smoothed;
	lo = b->floor_min[0];
	for (int i = 1; i < MIN_BUCKETS; i++)
		lo = CM_MIN(lo, b->floor_min[i]);
	return b->smoothed - lo;
}

/* One delay sample between two groups: trendline and detector. */
static void delay_sample(struct tp_bwe *b, double d_ms, uint64_t arrival_us,
			 double send_delta_ms, uint64_t now)
{
	if (!b->first_arrival)
		b->first_arrival = arrival_us;
	b->acc_delay += d_ms;
	b->smoothed = TL_SMOOTH * b->smoothed + (1 - TL_SMOOTH) * b->acc_delay;
	b->tx[b->tl_pos] = (double)(arrival_us - b->first_arrival) / 1000.0;
	b->ty[b->tl_pos] = b->smoothed;
	b->tl_pos = (b->tl_pos + 1) % TL_WIN;
	if (b->tl_n < TL_WIN)
		b->tl_n++;
	b->n_deltas++;
	double queued = queued_ms(b, arrival_us);
	b->queued = queued;
	if (b->tl_n < 2)
		return;
	b->prev_trend = b->trend;
	b->trend = slope(b);
	double m = CM_MIN(b->n_deltas, 60u) * b->trend * TL_GAIN;

	if (m > b->threshold) {
		if (b->time_over_ms < 0)
			b->time_over_ms = send_delta_ms / 2;
		else
			b->time_over_ms += send_delta_ms;
		b->overuse_count++;
		if (b->time_over_ms > OVERUSE_TIME_MS && b->overuse_count > 1 &&
		    b->trend >= b->prev_trend && queued >= QUEUE_MIN_MS) {
			b->time_over_ms = 0;
			b->overuse_count = 0;
			b->signal = TP_BWE_OVERUSE;
		}
	} else if (m < -b->threshold) {
		b->time_over_ms = -1;
		b->overuse_count = 0;
		b->signal = TP_BWE_UNDERUSE;
	} else {
		b->time_over_ms = -1;
		b->overuse_count = 0;
		b->signal = TP_BWE_NORMAL;
	}
	update_threshold(b, m, now);
}

/* The rate everything is measured against when there is no TWCC. */
static double got_through(const struct tp_bwe *b)
{
	return b->acked_bps ? b->acked_bps : b->sent_bps;
}

/* AIMD on the delay signal: down at once on overuse, hold on underuse
 * (queues draining), up otherwise, within a reach of what got through. */
static void aimd(struct tp_bwe *b, uint64_t now)
{
	double dt = b->last_update_us ? (double)(now - b->last_update_us) / 1e6 : 0;
	double base = got_through(b);

	dt = clampd(dt, 0, 1.0);
	b->last_update_us = now;
	if (b->signal == TP_BWE_OVERUSE) {
		if (now - b->last_decrease_us >= DECREASE_GAP_US || !b->last_decrease_us) {
			double to = base > 0 ? BETA * base : BETA * b->delay_bps;
			/* At most half per event: one stalled second of a busy
			 * receiver must not throw a good link to the floor. */
			to = CM_MAX(to, 0.5 * b->delay_bps);
			if (to < b->delay_bps)
				b->delay_bps = to;
			b->last_decrease_us = now;
			b->cap_at_overuse = base > 0 ? base : b->delay_bps;
		}
		b->last_overuse_us = now;
		b->signal = TP_BWE_NORMAL; /* one event, one decrease */
	} else if (b->signal == TP_BWE_NORMAL && b->queued < STANDING_MS) {
		/* (A queue that stands — a full buffer, no longer growing — is
		 * no room to grow into: hold.) */
		bool near = b->last_overuse_us && now - b->last_overuse_us < NEAR_US &&
			    b->delay_bps > 0.9 * b->cap_at_overuse;
		b->delay_bps *= pow(near ? INC_NEAR : INC_FAR, dt);
		if (base > 0 && b->delay_bps > 3 * base + 200000)
			b->delay_bps = CM_MAX(3 * base + 200000, 0.0 + b->cfg.min_bps);
	}
	b->delay_bps = clampd(b->delay_bps, b->cfg.min_bps, b->cfg.max_bps);
}

/* The loss-based rate, from one loss figure. */
static void loss_update(struct tp_bwe *b, double loss, uint64_t now)
{
	/* Congestion: a queue that grew just now, or one that stands (a full
	 * buffer drops what comes; its delay no longer rises). */
	bool congested = (b->last_overuse_us && now - b->last_overuse_us < 1000000) ||
			 b->queued >= STANDING_MS;

	b->loss = loss;
	if (loss < 0.02)
		b->loss_bps = CM_MAX(b->loss_bps * 1.08, b->delay_bps);
	else if (loss > 0.10 && congested)
		b->loss_bps = b->loss_bps * (1 - 0.5 * loss);
	/* else: hold — random loss without a queue is no reason to cut */
	b->loss_bps = clampd(b->loss_bps, b->cfg.min_bps, b->cfg.max_bps);
}

static void record_ack(struct tp_bwe *b, uint64_t arrival, uint32_t size)
{
	b->acks[b->ack_pos] = (struct ack){ arrival, size };
	b->ack_pos = (b->ack_pos + 1) % ACK_RING;
	if (b->ack_n < ACK_RING)
		b->ack_n++;
}

/* Bytes that arrived in the last second of the receiver's clock. */
static void update_acked(struct tp_bwe *b, uint64_t latest)
{
	uint64_t bytes = 0, oldest = latest;

	for (unsigned i = 0; i < b->ack_n; i++) {
		const struct ack *a = &b->acks[(b->ack_pos + ACK_RING - 1 - i) % ACK_RING];
		if (a->arrival_us + ACK_WIN_US < latest)
			break;
		bytes += a->size;
		if (a->arrival_us < oldest)
			oldest = a->arrival_us;
	}
	/* Less than a quarter of a window says little: keep the last. */
	if (latest - oldest >= ACK_WIN_US / 2)
		b->acked_bps = (uint32_t)CM_MIN(bytes * 8 * 1000000 / (latest - oldest),
						0xffffffffull);
}

void tp_bwe_on_twcc(struct tp_bwe *b, const struct tp_bwe_pkt *pkts, size_t n,
		    uint64_t now)
{
	uint64_t latest = 0;

	for (size_t i = 0; i < n; i++) {
		const struct tp_bwe_pkt *p = &pkts[i];
		b->total_acc++;
		if (!p->received) {
			b->lost_acc++;
			continue;
		}
		/* A probe's padding says when it arrived (the delay signal)
		 * but is no media the receiver takes in: what got through,
		 * which bounds the rates built on it, counts media only. */
		if (!p->padding)
			record_ack(b, p->arrival_us, p->size);
		if (p->arrival_us > latest)
			latest = p->arrival_us;
		struct group *c = &b->cur;
		if (c->valid && p->send_us < c->first_send)
			continue; /* sent before this group: reordered, skip */
		if (c->valid && p->send_us - c->first_send <= GROUP_US) {
			c->last_send = CM_MAX(c->last_send, p->send_us);
			c->last_arrival = CM_MAX(c->last_arrival, p->arrival_us);
			continue;
		}
		if (c->valid && b->prev.valid && c->last_arrival >= b->prev.last_arrival) {
			double send_d = (double)(c->last_send - b->prev.last_send) / 1000.0;
			double arr_d = ((double)c->last_arrival - (double)b->prev.last_arrival) / 1000.0;
			delay_sample(b, arr_d - send_d, c->last_arrival, send_d, now);
		}
		if (c->valid)
			b->prev = *c;
		*c = (struct group){ p->send_us, p->send_us, p->arrival_us, true };
	}
	if (!n)
		return;
	b->last_twcc_us = now;
	b->last_report_us = now;
	if (latest)
		update_acked(b, latest);
	aimd(b, now);
	if (!b->loss_since_us)
		b->loss_since_us = now;
	if (b->total_acc >= LOSS_MIN_PKTS && now - b->loss_since_us >= LOSS_MIN_US) {
		double k = exp(-(double)b->total_acc / LOSS_AVG_PKTS);
		b->lost_avg = b->lost_avg * k + b->lost_acc;
		b->total_avg = b->total_avg * k + b->total_acc;
		loss_update(b, (double)b->lost_acc / b->total_acc, now);
		b->lost_acc = b->total_acc = 0;
		b->loss_since_us = now;
	}
}

void tp_bwe_on_report(struct tp_bwe *b, double fraction_lost, uint32_t jitter_ms,
		      uint64_t now)
{
	bool twcc = b->last_twcc_us && now - b->last_twcc_us < 2000000;

	b->last_report_us = now;
	if (twcc)
		return; /* TWCC says the same, sooner and per packet */
	/* Without TWCC, a jump of the reported jitter is the delay signal. */
	if (b->has_jitter && jitter_ms > b->last_jitter_ms + JITTER_RISE_MS)
		b->signal = TP_BWE_OVERUSE;
	else
		b->signal = TP_BWE_NORMAL;
	b->last_jitter_ms = jitter_ms;
	b->has_jitter = true;
	aimd(b, now);
	loss_update(b, fraction_lost, now);
	/* A report covers seconds of packets: it stands for the average. */
	b->lost_avg = fraction_lost * LOSS_AVG_PKTS;
	b->total_avg = LOSS_AVG_PKTS;
}

void tp_bwe_on_remb(struct tp_bwe *b, uint64_t bps, uint64_t now)
{
	b->remb_bps = bps;
	b->remb_us = now;
	b->last_report_us = now;
}

void tp_bwe_on_sent(struct tp_bwe *b, uint32_t sent_bps, uint64_t now)
{
	b->sent_bps = sent_bps;
	/* Feedback that flowed and stopped while tutti sends: the receiver
	 * no longer reads (or its link holds everything). Half per second
	 * of silence, down to the floor: what is sent to it shrinks to its
	 * audio, and the rest of the room pays nothing for it. Silence is
	 * no TWCC for 3 s and no report at all for 8 s: some receivers
	 * (GStreamer) send TWCC feedback only at a marker bit, which audio
	 * alone seldom has, and reports every 5 s or so. */
	if (b->last_twcc_us && now - b->last_twcc_us > SILENT_US &&
	    now - b->last_report_us > SILENT_RTCP_US) {
		b->delay_bps = clampd(b->delay_bps * 0.5, b->cfg.min_bps, b->cfg.max_bps);
		b->loss_bps = CM_MIN(b->loss_bps, b->delay_bps);
	}
}

void tp_bwe_on_probe(struct tp_bwe *b, uint32_t bps)
{
	b->delay_bps = clampd(CM_MAX(b->delay_bps, (double)bps), b->cfg.min_bps, b->cfg.max_bps);
	b->loss_bps = clampd(CM_MAX(b->loss_bps, (double)bps), b->cfg.min_bps, b->cfg.max_bps);
}

static bool remb_fresh(const struct tp_bwe *b, uint64_t now)
{
	return b->remb_us && now - b->remb_us < REMB_FRESH_US;
}

uint32_t tp_bwe_estimate(const struct tp_bwe *b, uint64_t now)
{
	double e = CM_MIN(b->delay_bps, b->loss_bps);

	if (remb_fresh(b, now))
		e = CM_MIN(e, (double)b->remb_bps);
	return (uint32_t)clampd(e, b->cfg.min_bps, b->cfg.max_bps);
}

void tp_bwe_get(const struct tp_bwe *b, uint64_t now, struct tp_bwe_state *out)
{
	memset(out, 0, sizeof(*out));
	out->estimate_bps = tp_bwe_estimate(b, now);
	out->delay_bps = (uint32_t)b->delay_bps;
	out->loss_bps = (uint32_t)b->loss_bps;
	out->remb_bps = remb_fresh(b, now) ? (uint32_t)CM_MIN(b->remb_bps, 0xffffffffull) : 0;
	out->acked_bps = b->acked_bps;
	out->loss = b->loss;
	out->loss_avg = b->total_avg > 0 ? b->lost_avg / b->total_avg : 0;
	out->loss_avg_pkts = b->total_avg;
	out->trend = CM_MIN(b->n_deltas, 60u) * b->trend * TL_GAIN;
	out->threshold = b->threshold;
	out->signal = b->signal;
	out->last_overuse_us = b->last_overuse_us;
	out->has_twcc = b->last_twcc_us != 0;
	out->queued_ms = b->queued;
}
