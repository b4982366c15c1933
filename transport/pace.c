/*
 * Pacing and probing for one receiver, on the thread that sends its RTP
 * (docs/bandwidth.md): each tick, the sender's pacer (pacer.c) lets out
 * what its paced rate allows, and a running probe cluster adds padding
 * on the RTX stream up to its target rate. The receiver's TWCC feedback
 * then says whether the cluster got through at that rate, without loss
 * and without building a queue: that, and not a step up of a whole tier,
 * is how a receiver's link is found to have room.
 */
#include <errno.h>
#include <string.h>

#include "common/common.h"
#include "transport/internal.h"

/* The paced rate: this multiple of the estimate (short bursts, GCC-style),
 * and never so low that audio and a keyframe's first packets crawl. */
#define PACE_FACTOR  2.5
#define PACE_MIN_BPS 60000
/* A probe cluster: at least this many bytes (a token-bucket shaper lets a
 * burst of a few kB through at any rate: more than that must be sent to
 * see the link's own rate), over 3-10 ticks of 20 ms. */
#define PROBE_MIN_BYTES     6000
#define PROBE_TICK_US       20000
#define PROBE_MIN_TICKS     3
#define PROBE_SHORT_S       0.08 /* or this much of the rate, if less */
#define PROBE_MAX_TICKS     10
#define PROBE_PAD           255     /* padding bytes per packet (the count is one byte) */
/* Feedback not in this long after the end: judged on what came. Some
 * receivers (GStreamer) send TWCC only with their RTCP, which a link
 * carrying audio alone sends every few seconds. */
#define PROBE_WAIT_US       5000000
#define PROBE_MIN_REPORTED  0.5 /* of a cluster's packets, for an answer */
#define PROBE_MAX_GROWTH_MS 40      /* a queue this deep built by the cluster: no room */
#define PROBE_MAX_LOSS      0.2

void tp_sender_pacer_stats(const struct tp_sender *s, uint64_t now,
			   struct tp_pacer_stats *out)
{
	tp_pacer_get_stats(s->pacer, now, out);
}

void tp_sender_set_pace_floor(struct tp_sender *s, uint32_t bps)
{
	s->pace_floor_bps = bps;
}

bool tp_sender_video_queued(const struct tp_sender *s, uint16_t seq)
{
	return tp_pacer_holds(s->pacer, s->out[1].ssrc, seq);
}

uint64_t tp_sender_paced_dropped(const struct tp_sender *s)
{
	return __atomic_load_n(&s->paced_dropped_bytes, __ATOMIC_RELAXED);
}

/* One padding-only packet on the RTX stream (RFC 4588 allows them; the
 * receiver drops them after its TWCC has counted them). The cluster's
 * last carries the marker bit: GStreamer's receiver asks for an early
 * RTCP (with its TWCC feedback) at a marker bit, and audio alone seldom
 * has one. Only the last: early RTCP is allowed once per regular
 * interval, and a feedback sent at the first tick's marker would leave
 * the rest of the cluster unreported for seconds. */
static int send_padding(struct tp_sender *s, struct tp_batch *b, uint64_t now, bool last,
			size_t *wire)
{
	uint8_t buf[TP_RTP_HEADER_LEN + PROBE_PAD];
	struct tp_rtp_hdr h = {
	    .marker = last,
	    .pt = (uint8_t)s->media[1].rtx_pt,
	    .seq = s->rtx_seq++,
	    .ts = s->rtx_ts,
	    .ssrc = s->rtx_ssrc,
	};
	size_t n;

	if (tp_rtp_write(buf, sizeof(buf), &n, &h, NULL, 0) || n != TP_RTP_HEADER_LEN)
		return EINVAL;
	memset(buf + n, 0, PROBE_PAD);
	buf[0] |= 0x20;
	buf[sizeof(buf) - 1] = PROBE_PAD;
	return tp_sender_emit(s, b, buf, sizeof(buf), now, wire);
}

static void probe_judge(struct tp_sender *s, uint64_t now)
{
	struct tp_probe_state *p = &s->probe;
	struct tp_probe_result *r = &p->res;

	if (!p->id || p->active || r->done)
		return;
	if (p->n_rep < p->n_pkts && now - p->end_us < PROBE_WAIT_US)
		return;
	r->done = true;
	r->done_us = now;
	r->pkts = p->n_pkts;
	r->reported = p->n_rep;
	r->received = p->n_recv;
	if (p->n_recv >= 2) {
		uint64_t bytes = p->recv_bytes - p->last_size;
		uint64_t ss = CM_MAX(p->last_send - p->first_send, (uint64_t)1000);
		uint64_t rs = CM_MAX(p->last_arr - p->first_arr, (uint64_t)1000);
		r->send_bps = (uint32_t)CM_MIN(bytes * 8 * 1000000 / ss, 0xffffffffull);
		r->recv_bps = (uint32_t)CM_MIN(bytes * 8 * 1000000 / rs, 0xffffffffull);
		r->delay_growth_ms = (int32_t)(((int64_t)(p->last_arr - p->first_arr) -
						(int64_t)(p->last_send - p->first_send)) /
					       1000);
	}
	/* Judged on the packets the feedback covers: one that no feedback
	 * mentions is not known to be lost. Too few covered: no answer. */
	r->answered = p->n_rep >= 2 && p->n_rep >= PROBE_MIN_REPORTED * p->n_pkts;
	r->ok = r->answered && p->n_recv >= 2 &&
		p->n_recv >= (1.0 - PROBE_MAX_LOSS) * p->n_rep &&
		r->delay_growth_ms <= PROBE_MAX_GROWTH_MS;
	/* What got through at that rate is what the link can take, at
	 * least: the estimate starts from there (GCC does the same), for
	 * a receiver that is sent too little for its estimate to grow. */
	if (r->ok)
		tp_bwe_on_probe(s->bwe, CM_MIN(r->recv_bps, r->target_bps));
	cm_debug("transport",
		 "%s: probe %u at %u bit/s: %u/%u packets reported, %u received, sent at "
		 "%u, received at %u bit/s, delay +%d ms: %s",
		 s->id, r->id, r->target_bps, r->reported, r->pkts, r->received, r->send_bps,
		 r->recv_bps, r->delay_growth_ms,
		 !r->answered ? "no answer" : r->ok ? "room" : "no room");
}

bool tp_sender_can_probe(const struct tp_sender *s)
{
	return s->rtx_ssrc && s->has[1] && s->media[1].ext_twcc;
}

int tp_sender_probe(struct tp_sender *s, uint32_t bps, uint32_t min_bytes, uint64_t now,
		    uint32_t *id)
{
	struct tp_probe_state *p = &s->probe;

	if (!tp_sender_can_probe(s) || !bps)
		return ENOTSUP;
	if (p->active || (p->id && !p->res.done))
		return EBUSY;
	uint32_t next = p->id + 1 ? p->id + 1 : 1;
	/* Three ticks at the rate, and at least 6 kB (or 80 ms of the rate,
	 * when that is less: a small step on a slow link is not worth a
	 * queue of a second on it), or min_bytes when the caller needs
	 * more: then faster than bps, to fit in PROBE_MAX_TICKS. */
	double per_tick = bps / 8.0 * PROBE_TICK_US / 1e6;
	double size = CM_MAX(per_tick * PROBE_MIN_TICKS,
			     CM_MIN((double)PROBE_MIN_BYTES, bps / 8.0 * PROBE_SHORT_S));
	size = CM_MAX(size, (double)min_bytes);
	unsigned ticks = (unsigned)(size / per_tick + 0.999);
	ticks = CM_MIN(CM_MAX(ticks, (unsigned)PROBE_MIN_TICKS), (unsigned)PROBE_MAX_TICKS);
	memset(p, 0, sizeof(*p));
	p->id = next;
	p->active = true;
	p->target_bps = bps;
	p->send_bps = (uint32_t)CM_MAX((double)bps, size * 8 / (ticks * PROBE_TICK_US / 1e6));
	p->size = (uint32_t)size;
	p->ticks_left = ticks;
	p->start_us = now;
	p->res.id = next;
	p->res.target_bps = bps;
	*id = next;
	return 0;
}

void tp_sender_probe_result(const struct tp_sender *s, struct tp_probe_result *out)
{
	*out = s->probe.res;
}

void tp_probe_on_stamp(struct tp_sender *s, struct tp_sent_pkt *e)
{
	if (!s->probe.active)
		return;
	e->probe = s->probe.id;
	s->probe.n_pkts++;
	s->probe.sent_bytes += e->size;
}

void tp_probe_on_feedback(struct tp_sender *s, struct tp_sent_pkt *e, bool received,
			  int64_t arrival)
{
	struct tp_probe_state *p = &s->probe;
	uint64_t a = (uint64_t)(arrival + ((int64_t)1 << 40));

	if (e->probe != p->id || p->res.done)
		return;
	e->probe = 0; /* told once */
	p->n_rep++;
	if (received) {
		if (!p->n_recv) {
			p->first_send = e->send_us;
			p->first_arr = a;
		}
		/* Feedback comes in sending order: the last is the latest. */
		p->last_send = e->send_us;
		p->last_arr = CM_MAX(p->last_arr, a);
		p->first_arr = CM_MIN(p->first_arr, a);
		p->n_recv++;
		p->recv_bytes += e->size;
		p->last_size = e->size;
	}
}

void tp_sender_pace(struct tp_sender *s, struct tp_batch *b, uint64_t now)
{
	struct tp_probe_state *pr = &s->probe;
	struct tp_pacer_stats st;
	const uint8_t *pkt;
	size_t len, wire;

	if (tp_sender_closed(s)) {
		s->kept_b = NULL;
		return;
	}
	/* The tick's packets first, as if sent when they were made; the
	 * rate of the last tick applied to them then. */
	tp_sender_send_kept(s, b, now);
	double rate = PACE_FACTOR * tp_bwe_estimate(s->bwe, now);
	rate = CM_MAX(rate, (double)s->pace_floor_bps);
	tp_pacer_set_rate(s->pacer, (uint32_t)CM_MAX(rate, (double)PACE_MIN_BPS), now);
	while ((pkt = tp_pacer_next(s->pacer, now, &len, NULL))) {
		int err = tp_sender_emit(s, b, pkt, len, now, &wire);
		tp_pacer_pop(s->pacer);
		if (err == ENOTCONN)
			break;
		tp_pacer_on_sent(s->pacer, wire, now);
	}
	if (pr->active) {
		/* Up to the target rate since the cluster began, this tick
		 * included, and no more than the cluster's size; the media
		 * sent meanwhile counts. */
		double want =
		    CM_MIN(pr->send_bps / 8.0 *
			       (double)(now - pr->start_us + PROBE_TICK_US) / 1e6,
			   (double)pr->size) -
		    pr->sent_bytes;
		bool last_tick = pr->ticks_left == 1;
		while (want > 0 &&
		       send_padding(s, b, now, last_tick && want <= PROBE_PAD + 60, &wire) == 0) {
			tp_pacer_on_sent(s->pacer, wire, now);
			want -= (double)wire;
		}
		if (--pr->ticks_left == 0) {
			pr->active = false;
			pr->end_us = now;
		}
	}
	probe_judge(s, now);
	tp_pacer_get_stats(s->pacer, now, &st);
	__atomic_store_n(&s->paced_dropped_bytes, st.dropped_bytes, __ATOMIC_RELAXED);
}
