/*
 * The bandwidth estimator (transport/bwe.c) fed synthetic arrival
 * patterns: constant delay lets the rate rise; a growing delay is overuse
 * and the rate drops; a sender that follows the estimate through a
 * bottleneck settles near its capacity; random loss without a queue does
 * not cut the rate, congestion loss does; REMB is a ceiling; without TWCC,
 * a jump of receiver-reported jitter is overuse; a probe that got through
 * lifts the estimate; the loss over the last 300 packets or so is steady
 * where one window's is not.
 */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "transport/bwe.h"

#define PKT 1200
#define FB_US 100000 /* feedback every 100 ms */

static struct tp_bwe *make(uint32_t start)
{
	struct tp_bwe *b = NULL;
	struct tp_bwe_cfg c = { .start_bps = start, .min_bps = 30000, .max_bps = 5000000 };

	CHECK(tp_bwe_new(&b, &c) == 0);
	return b;
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/*
 * A sender that sends at rate(now) (or at the estimate when rate is 0)
 * into a FIFO bottleneck of cap_bps (0: none) with base delay 40 ms plus
 * extra_ms_per_s of delay added per second (a queue growing elsewhere),
 * with random loss; feedback every 100 ms. Runs for secs seconds from
 * *t, returns the estimate at the end; min_est gets the lowest seen.
 */
struct sim {
	struct tp_bwe *b;
	uint64_t t; /* µs */
	uint64_t link_free; /* when the bottleneck is idle again */
	uint32_t seed;
	struct tp_bwe_pkt fb[4096];
	size_t n_fb;
	uint64_t next_fb;
	double next_send;
	uint32_t min_est, max_est;
};

static void run(struct sim *s, double secs, uint32_t fixed_bps, uint32_t cap_bps,
		double extra_ms_per_s, double loss)
{
	uint64_t end = s->t + (uint64_t)(secs * 1e6);
	uint64_t start = s->t;

	s->min_est = UINT32_MAX;
	s->max_est = 0;
	if (!s->next_fb)
		s->next_fb = s->t + FB_US;
	if (s->next_send < (double)s->t)
		s->next_send = (double)s->t;
	while (s->t < end) {
		s->t = (uint64_t)s->next_send;
		uint32_t rate = fixed_bps ? fixed_bps : tp_bwe_estimate(s->b, s->t);
		s->next_send += PKT * 8 * 1e6 / rate;
		struct tp_bwe_pkt p = { .send_us = s->t, .size = PKT };
		uint64_t leave = s->t;
		if (cap_bps) {
			uint64_t busy = s->link_free > s->t ? s->link_free : s->t;
			leave = busy + (uint64_t)PKT * 8 * 1000000 / cap_bps;
			s->link_free = leave;
		}
		double extra = extra_ms_per_s * (double)(s->t - start) / 1e6;
		p.arrival_us = leave + 40000 + (uint64_t)(extra * 1000);
		p.received = (lcg(&s->seed) % 10000) >= loss * 10000;
		if (s->n_fb < 4096)
			s->fb[s->n_fb++] = p;
		if (s->t >= s->next_fb) {
			tp_bwe_on_twcc(s->b, s->fb, s->n_fb, s->t);
			s->n_fb = 0;
			s->next_fb += FB_US;
			uint32_t e = tp_bwe_estimate(s->b, s->t);
			if (e < s->min_est)
				s->min_est = e;
			if (e > s->max_est)
				s->max_est = e;
		}
	}
}

static void constant_delay_rate_rises(void)
{
	struct sim s = { .b = make(300000), .t = 1000000, .seed = 1 };

	run(&s, 10, 0, 0, 0, 0);
	uint32_t e = tp_bwe_estimate(s.b, s.t);
	printf("     constant delay: 300 kbit/s -> %u kbit/s after 10 s\n", e / 1000);
	CHECK(e > 1500000); /* 1.2^10 = 6.2, within 3x + 200k of what got through */
	struct tp_bwe_state st;
	tp_bwe_get(s.b, s.t, &st);
	CHECK(st.last_overuse_us == 0);
	CHECK(st.has_twcc);
	tp_bwe_free(&s.b);
	CHECK(s.b == NULL);
}

static void growing_delay_is_overuse(void)
{
	struct sim s = { .b = make(1000000), .t = 1000000, .seed = 2 };

	/* 1 Mbit/s sent, delay steady for 3 s: no overuse. */
	run(&s, 3, 1000000, 0, 0, 0);
	struct tp_bwe_state st;
	tp_bwe_get(s.b, s.t, &st);
	CHECK(st.last_overuse_us == 0);
	uint32_t before = tp_bwe_estimate(s.b, s.t);
	/* Then the delay grows 50 ms per second (a queue fills). */
	uint64_t t_grow = s.t;
	run(&s, 1, 1000000, 0, 50, 0);
	tp_bwe_get(s.b, s.t, &st);
	printf("     growing delay: %u -> %u kbit/s within a second of it\n", before / 1000,
	       s.min_est / 1000);
	CHECK(st.last_overuse_us > t_grow); /* found within a second */
	/* Below what is sent (85 % of what got through, at most half of
	 * the estimate per overuse). */
	CHECK(s.min_est < 1000000);
	CHECK(s.min_est >= before / 2 - 1);
	tp_bwe_free(&s.b);
}

static void follows_a_bottleneck(void)
{
	struct sim s = { .b = make(300000), .t = 1000000, .seed = 3 };

	/* A sender at the estimate through 800 kbit/s: after settling the
	 * estimate stays around the capacity, not far above or below. */
	run(&s, 20, 0, 800000, 0, 0);
	run(&s, 20, 0, 800000, 0, 0);
	printf("     800 kbit/s bottleneck: estimate %u..%u kbit/s in 20..40 s\n",
	       s.min_est / 1000, s.max_est / 1000);
	CHECK(s.min_est > 400000);
	CHECK(s.max_est < 1200000);
	/* Capacity drops to 200 kbit/s: the estimate follows within 2 s. */
	run(&s, 2, 0, 200000, 0, 0);
	uint32_t e = tp_bwe_estimate(s.b, s.t);
	printf("     then 200 kbit/s: %u kbit/s after 2 s\n", e / 1000);
	CHECK(e < 300000);
	tp_bwe_free(&s.b);
}

static void random_loss_holds_congestion_loss_cuts(void)
{
	struct sim s = { .b = make(600000), .t = 1000000, .seed = 4 };

	/* 15 % random loss, no queue: the rate does not fall. */
	run(&s, 10, 600000, 0, 0, 0.15);
	struct tp_bwe_state st;
	tp_bwe_get(s.b, s.t, &st);
	printf("     15%% random loss: min %u kbit/s, loss seen %.2f\n", s.min_est / 1000,
	       st.loss);
	CHECK(s.min_est >= 600000);
	CHECK(fabs(st.loss - 0.15) < 0.06);
	/* 20 % loss with a growing queue: it falls. */
	run(&s, 3, 600000, 0, 60, 0.20);
	printf("     20%% loss with a growing queue: min %u kbit/s\n", s.min_est / 1000);
	CHECK(s.min_est < 450000);
	tp_bwe_free(&s.b);
}

/* 5 % random loss read window by window (40 packets, 0.5 s) now and then
 * reads 10 % or more; the average over ~300 packets, which decides a
 * lossy link (mixer/rate.c), never does. At 15 % it is over 10 % soon. */
static void loss_average_is_steady(void)
{
	/* 80 packets/s: each window is 40 packets. */
	struct sim s = { .b = make(768000), .t = 1000000, .seed = 6 };
	struct tp_bwe_state st;
	double win_max = 0, avg_max = 0;
	int over = 0;

	for (int i = 0; i < 240; i++) { /* 120 s */
		run(&s, 0.5, 768000, 0, 0, 0.05);
		tp_bwe_get(s.b, s.t, &st);
		win_max = fmax(win_max, st.loss);
		over += st.loss >= 0.10;
		if (st.loss_avg_pkts >= 100)
			avg_max = fmax(avg_max, st.loss_avg);
	}
	printf("     5%% loss: window up to %.3f (%d of 240 at 10 %% or more), 300-packet "
	       "average up to %.3f over %.0f packets\n", win_max, over, avg_max, st.loss_avg_pkts);
	CHECK(over > 0); /* the noise the average is for */
	CHECK(avg_max < 0.10); /* mixer/rate.c: a lossy link from 10 % */
	CHECK(st.loss_avg_pkts > 250 && st.loss_avg_pkts < 400);
	int t_heavy = -1;
	for (int i = 0; i < 20 && t_heavy < 0; i++) {
		run(&s, 0.5, 768000, 0, 0, 0.15);
		tp_bwe_get(s.b, s.t, &st);
		if (st.loss_avg >= 0.10)
			t_heavy = i;
	}
	printf("     then 15%% loss: average at 10 %% after %.1f s\n", (t_heavy + 1) * 0.5);
	CHECK(t_heavy >= 0 && t_heavy < 8);
	tp_bwe_free(&s.b);
}

static void remb_is_a_ceiling(void)
{
	struct sim s = { .b = make(300000), .t = 1000000, .seed = 5 };

	tp_bwe_on_remb(s.b, 200000, s.t);
	CHECK(tp_bwe_estimate(s.b, s.t) == 200000);
	run(&s, 2, 200000, 0, 0, 0);
	tp_bwe_on_remb(s.b, 250000, s.t);
	CHECK(tp_bwe_estimate(s.b, s.t) == 250000);
	/* Stale after 3 s: the other signals rule again. */
	CHECK(tp_bwe_estimate(s.b, s.t + 3500000) > 250000);
	tp_bwe_free(&s.b);
}

static void jitter_rise_without_twcc(void)
{
	struct tp_bwe *b = make(500000);
	uint64_t t = 1000000;

	tp_bwe_on_sent(b, 500000, t);
	for (int i = 0; i < 5; i++, t += 1000000)
		tp_bwe_on_report(b, 0.0, 5, t);
	uint32_t up = tp_bwe_estimate(b, t);
	CHECK(up > 500000); /* no loss, steady jitter: it grows */
	tp_bwe_on_report(b, 0.0, 80, t); /* jitter jumps 75 ms */
	uint32_t down = tp_bwe_estimate(b, t);
	printf("     RR only: %u -> %u kbit/s on a jitter jump\n", up / 1000, down / 1000);
	CHECK(down <= up / 2 + 1); /* as far as one overuse may take it */
	/* Reported loss of 3 %: holds. */
	tp_bwe_on_report(b, 0.03, 80, t + 1000000);
	CHECK(tp_bwe_estimate(b, t + 1000000) <= down * 1.21);
	tp_bwe_free(&b);
}

/* A receiver that stops reading: its TWCC and its reports stop while
 * tutti still sends. After 3 s without TWCC and 8 s without any report,
 * the estimate halves every second, down to the floor. TWCC alone going
 * quiet (GStreamer sends it at marker bits: audio alone has few) while
 * reports still come is no silence. */
static void silent_receiver_falls_to_the_floor(void)
{
	struct sim s = { .b = make(1000000), .t = 1000000, .seed = 5 };

	run(&s, 3, 1000000, 0, 0, 0);
	uint32_t before = tp_bwe_estimate(s.b, s.t);
	CHECK(before >= 1000000);
	/* No TWCC from here on; a report 5 s in (the receiver still reads). */
	for (int i = 1; i <= 12; i++) {
		if (i == 5)
			tp_bwe_on_report(s.b, 0.0, 5, s.t + (uint64_t)i * 1000000);
		tp_bwe_on_sent(s.b, 1000000, s.t + (uint64_t)i * 1000000);
	}
	uint32_t quiet = tp_bwe_estimate(s.b, s.t + 12000000);
	CHECK(quiet >= before / 2);
	/* Then nothing at all: down to the floor. */
	for (int i = 13; i <= 30; i++)
		tp_bwe_on_sent(s.b, 1000000, s.t + (uint64_t)i * 1000000);
	uint32_t after = tp_bwe_estimate(s.b, s.t + 30000000);
	printf("     silent receiver: %u -> %u (TWCC quiet, reports on) -> %u kbit/s\n",
	       before / 1000, quiet / 1000, after / 1000);
	CHECK_EQ(after, 30000);
	tp_bwe_free(&s.b);
}

/* An audio-only receiver: a trickle of small packets keeps the estimate
 * near its floor. A probe that got through at 300 kbit/s lifts it there
 * at once; one at less never lowers it; REMB still caps it; and a later
 * overuse takes it down as before. */
static void probe_lifts_the_estimate(void)
{
	struct sim s = { .b = make(60000), .t = 1000000, .seed = 6 };

	run(&s, 2, 20000, 0, 0, 0);
	uint32_t before = tp_bwe_estimate(s.b, s.t);
	tp_bwe_on_probe(s.b, 300000);
	uint32_t after = tp_bwe_estimate(s.b, s.t);
	printf("     probe at 300 kbit/s: %u -> %u kbit/s\n", before / 1000, after / 1000);
	CHECK(before < 300000);
	CHECK_EQ(after, 300000);
	tp_bwe_on_probe(s.b, 100000);
	CHECK_EQ(tp_bwe_estimate(s.b, s.t), 300000);
	tp_bwe_on_remb(s.b, 200000, s.t);
	CHECK_EQ(tp_bwe_estimate(s.b, s.t), 200000);
	run(&s, 4, 300000, 0, 0, 0); /* the REMB goes stale */
	uint32_t top = tp_bwe_estimate(s.b, s.t);
	run(&s, 1, 300000, 0, 60, 0);
	printf("     then a growing queue: %u -> %u kbit/s\n", top / 1000, s.min_est / 1000);
	CHECK(s.min_est < 0.8 * top); /* down at once */
	tp_bwe_free(&s.b);
}

static void bad_config(void)
{
	struct tp_bwe *b = NULL;
	struct tp_bwe_cfg c = { .start_bps = 10, .min_bps = 30000, .max_bps = 100000 };

	CHECK(tp_bwe_new(&b, &c) != 0);
	CHECK(b == NULL);
	c = (struct tp_bwe_cfg){ .start_bps = 50000, .min_bps = 0, .max_bps = 100000 };
	CHECK(tp_bwe_new(&b, &c) != 0);
}

int main(void)
{
	RUN(constant_delay_rate_rises);
	RUN(growing_delay_is_overuse);
	RUN(follows_a_bottleneck);
	RUN(random_loss_holds_congestion_loss_cuts);
	RUN(loss_average_is_steady);
	RUN(remb_is_a_ceiling);
	RUN(jitter_rise_without_twcc);
	RUN(silent_receiver_falls_to_the_floor);
	RUN(probe_lifts_the_estimate);
	RUN(bad_config);
	return check_report();
}
