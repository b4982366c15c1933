/*
 * The pacer (transport/pacer.c): audio never waits; retransmissions go
 * before video; the queue is bounded by bytes and by age and drops the
 * oldest video first; over time what leaves follows the paced rate; it
 * tells whether a NACKed packet still waits in it.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "transport/pacer.h"

#define PKT 1200

static struct tp_pacer *make(uint32_t bps, uint64_t now)
{
	struct tp_pacer *p = NULL;

	CHECK(tp_pacer_new(&p, 256) == 0);
	tp_pacer_set_rate(p, bps, now);
	return p;
}

/* A packet whose first byte says which it is. */
static const uint8_t *pkt(uint8_t tag)
{
	static uint8_t b[PKT];

	memset(b, 0, sizeof(b));
	b[0] = tag;
	return b;
}

/* Sends what the pacer allows now; returns the tags, in order, in out. */
static int drain(struct tp_pacer *p, uint64_t now, uint8_t *out, int cap)
{
	const uint8_t *b;
	size_t len;
	int n = 0;

	while ((b = tp_pacer_next(p, now, &len, NULL))) {
		if (n < cap)
			out[n] = b[0];
		n++;
		tp_pacer_pop(p);
		tp_pacer_on_sent(p, len, now);
	}
	return n;
}

/* drain() every 20 ms for secs seconds from t. */
static int drain_for(struct tp_pacer *p, uint64_t t, double secs, uint8_t *out, int cap)
{
	int n = 0;

	for (uint64_t dt = 0; dt <= (uint64_t)(secs * 1e6); dt += 20000)
		n += drain(p, t + dt, out + (n < cap ? n : cap), n < cap ? cap - n : 0);
	return n;
}

static void audio_never_waits(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(100000, t);

	/* A keyframe spends the budget and queues... */
	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(1), PKT, t) == 0);
	CHECK(!tp_pacer_may_send(p, TP_PACE_VIDEO, t));
	/* ...and audio still goes at once, video after it. */
	CHECK(tp_pacer_may_send(p, TP_PACE_AUDIO, t));
	CHECK(tp_pacer_enqueue(p, TP_PACE_AUDIO, pkt(2), 100, t) == EINVAL);
	tp_pacer_free(&p);
	CHECK(p == NULL);
}

static void rtx_before_video(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(200000, t);
	uint8_t out[8];

	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(10), PKT, t) == 0);
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(11), PKT, t) == 0);
	CHECK(tp_pacer_enqueue(p, TP_PACE_RTX, pkt(20), PKT, t) == 0);
	/* Video waits behind queued video; RTX only behind queued RTX. */
	CHECK(!tp_pacer_may_send(p, TP_PACE_VIDEO, t + 100000));
	CHECK(!tp_pacer_may_send(p, TP_PACE_RTX, t + 100000));
	int n = drain_for(p, t + 20000, 0.2, out, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0], 20);
	CHECK_EQ(out[1], 10);
	CHECK_EQ(out[2], 11);
	CHECK(tp_pacer_may_send(p, TP_PACE_RTX, t + 400000));
	tp_pacer_free(&p);
}

static void bounded_oldest_video_dropped_first(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(100000, t); /* bound: max(6250, 12000) bytes */
	struct tp_pacer_stats st;
	uint8_t out[32];

	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	CHECK(tp_pacer_enqueue(p, TP_PACE_RTX, pkt(99), PKT, t) == 0);
	for (int i = 0; i < 30; i++)
		CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt((uint8_t)i), PKT, t) == 0);
	tp_pacer_get_stats(p, t, &st);
	CHECK(st.queued_bytes <= TP_PACER_MIN_BYTES);
	CHECK_EQ(st.queued_pkts, TP_PACER_MIN_BYTES / PKT);
	CHECK_EQ(st.dropped_video_pkts, 31 - TP_PACER_MIN_BYTES / PKT);
	CHECK_EQ(st.dropped_pkts, st.dropped_video_pkts); /* the RTX stayed */
	CHECK(st.max_queued_bytes <= TP_PACER_MIN_BYTES);
	/* What is left, once the link allows: the repair, then the newest
	 * video, in order. */
	tp_pacer_set_rate(p, 1000000, t);
	int n = drain_for(p, t + 20000, 0.4, out, 32);
	CHECK_EQ(n, (int)st.queued_pkts);
	CHECK_EQ(out[0], 99);
	CHECK_EQ(out[1], 31 - n);
	CHECK_EQ(out[n - 1], 29);
	tp_pacer_free(&p);
}

static void rtx_dropped_when_no_video_left(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(50000, t);
	struct tp_pacer_stats st;

	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	for (int i = 0; i < 20; i++)
		tp_pacer_enqueue(p, TP_PACE_RTX, pkt((uint8_t)i), PKT, t);
	/* A video packet finds only repairs: the oldest repair goes. */
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(50), PKT, t) == 0);
	tp_pacer_get_stats(p, t, &st);
	CHECK(st.queued_bytes <= TP_PACER_MIN_BYTES);
	CHECK_EQ(st.dropped_video_pkts, 0);
	CHECK(st.dropped_pkts > 0);
	tp_pacer_free(&p);
}

static void old_packets_expire(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(30000, t);
	struct tp_pacer_stats st;
	uint8_t out[8];

	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	for (int i = 0; i < 8; i++)
		CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt((uint8_t)i), PKT, t) == 0);
	tp_pacer_get_stats(p, t + 300000, &st);
	CHECK_EQ(st.oldest_ms, 300);
	/* 600 ms later, nothing of it is worth sending. */
	CHECK_EQ(drain(p, t + TP_PACER_MAX_AGE_US + 100000, out, 8), 0);
	tp_pacer_get_stats(p, t + 600000, &st);
	CHECK_EQ(st.queued_pkts, 0);
	CHECK(st.dropped_pkts >= 7);
	tp_pacer_free(&p);
}

/* Video offered at 2 Mbit/s to a pacer at 500 kbit/s for 2 s, drained
 * every 20 ms: what leaves is the paced rate, within a burst. */
static void follows_the_rate(void)
{
	uint64_t t0 = 1000000, t = t0;
	struct tp_pacer *p = make(500000, t);
	uint64_t sent = 0;
	uint8_t out[64];

	for (int tick = 0; tick < 100; tick++, t += 20000) {
		for (int i = 0; i < 4; i++) { /* 4 x 1200 B per 20 ms: 1.92 Mbit/s */
			if (tp_pacer_may_send(p, TP_PACE_VIDEO, t)) {
				tp_pacer_on_sent(p, PKT, t);
				sent += PKT;
			} else {
				tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(1), PKT, t);
			}
		}
		sent += (uint64_t)drain(p, t, out, 64) * PKT;
	}
	double bps = (double)sent * 8 / 2.0;
	CHECK(bps > 0.9 * 500000);
	CHECK(bps < 1.1 * 500000);
	/* Unpaced (rate 0): everything may go. */
	tp_pacer_set_rate(p, 0, t);
	CHECK(tp_pacer_next(p, t, &(size_t){0}, NULL) != NULL);
	tp_pacer_free(&p);
}

/* A NACK for a video packet still queued: the pacer says it holds it
 * (by SSRC and sequence number), until it went out. */
static void holds_queued_video(void)
{
	uint64_t t = 1000000;
	struct tp_pacer *p = make(100000, t);
	uint8_t b[PKT] = { 0x80, 96 };
	uint8_t out[4];

	while (tp_pacer_may_send(p, TP_PACE_VIDEO, t))
		tp_pacer_on_sent(p, PKT, t);
	b[2] = 0x12, b[3] = 0x34;                           /* seq 0x1234 */
	b[8] = 0xaa, b[9] = 0xbb, b[10] = 0xcc, b[11] = 0xdd; /* SSRC */
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, b, PKT, t) == 0);
	CHECK(tp_pacer_holds(p, 0xaabbccdd, 0x1234));
	CHECK(!tp_pacer_holds(p, 0xaabbccdd, 0x1235));
	CHECK(!tp_pacer_holds(p, 0xaabbccde, 0x1234));
	CHECK_EQ(drain_for(p, t + 20000, 0.5, out, 4), 1);
	CHECK(!tp_pacer_holds(p, 0xaabbccdd, 0x1234));
	tp_pacer_free(&p);
}

static void bad_args(void)
{
	struct tp_pacer *p = NULL;

	CHECK(tp_pacer_new(&p, 1) == EINVAL);
	CHECK(tp_pacer_new(NULL, 16) == EINVAL);
	CHECK(tp_pacer_new(&p, 16) == 0);
	CHECK(tp_pacer_enqueue(p, TP_PACE_VIDEO, pkt(1), TP_PACER_MAX_PKT + 1, 0) ==
	      EINVAL);
	tp_pacer_free(&p);
	tp_pacer_free(&p);
}

int main(void)
{
	RUN(audio_never_waits);
	RUN(rtx_before_video);
	RUN(bounded_oldest_video_dropped_first);
	RUN(rtx_dropped_when_no_video_left);
	RUN(old_packets_expire);
	RUN(follows_the_rate);
	RUN(holds_queued_video);
	RUN(bad_args);
	return check_report();
}
