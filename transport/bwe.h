/*
 * A bandwidth estimate for what tutti sends one receiver (part of
 * transport.h; pure logic, no I/O, no clock of its own: every call says
 * what time it is). docs/bandwidth.md describes it in prose.
 *
 * Three signals, combined by taking the lowest:
 *  - delay: transport-wide congestion control feedback (TWCC) says when
 *    each packet arrived. Packets are grouped by send time (5 ms bursts);
 *    the change of one-way delay between groups is accumulated, smoothed
 *    and fitted with a line over the last 20 groups (a trendline, as in
 *    Google Congestion Control). A slope over an adaptive threshold is
 *    overuse (a queue grows on the path): the rate drops at once to 85 %
 *    of what the receiver got (at most by half per event). Otherwise the rate grows (20 %/s far from
 *    the last overuse, 5 %/s near it), but never past three times what the
 *    receiver got plus 200 kbit/s (a rate that was never tried is not
 *    known to pass).
 *  - loss: the fraction lost, from TWCC (packets reported missing) or,
 *    without TWCC, from RTCP receiver reports. Over 10 % while the delay
 *    signal saw overuse, or a queue of 50 ms stands (congestion): the
 *    rate drops by half the loss.
 *    Over 10 % with no queue growth (a lossy radio link, not congestion):
 *    it holds. Between 2 and 10 %: it holds. Under 2 %: it may grow.
 *    Without TWCC, a rise of the receiver-reported jitter of more than
 *    30 ms from one report to the next counts as overuse.
 *  - REMB: the receiver's own estimate (Chrome, from abs-send-time), a
 *    ceiling while it is fresh (3 s).
 */
#ifndef TUTTI_TRANSPORT_BWE_H
#define TUTTI_TRANSPORT_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_bwe;

/* What a sender's estimate starts at and stays within. */
#define TP_BWE_START_BPS 300000
#define TP_BWE_MIN_BPS 30000
#define TP_BWE_MAX_BPS 10000000

struct tp_bwe_cfg {
	uint32_t start_bps; /* before any feedback */
	uint32_t min_bps, max_bps;
};

/* One packet's fate in a TWCC feedback, with what the sender knows of
 * it. Feedback lists packets in transport-wide sequence order. */
struct tp_bwe_pkt {
	uint64_t send_us;
	uint64_t arrival_us; /* the receiver's clock; only differences matter */
	uint32_t size; /* bytes on the wire (RTP and SRTP) */
	bool received;
	bool padding; /* a probe's padding: not counted in what got through */
};

enum tp_bwe_signal { TP_BWE_NORMAL, TP_BWE_UNDERUSE, TP_BWE_OVERUSE };

struct tp_bwe_state {
	uint32_t estimate_bps; /* the combined estimate: what to send */
	uint32_t delay_bps; /* the delay-based (AIMD) rate */
	uint32_t loss_bps; /* the loss-based rate */
	uint32_t remb_bps; /* the last REMB while fresh, else 0 */
	uint32_t acked_bps; /* media the receiver got, from TWCC (0 unknown) */
	double loss; /* the loss fraction last used, 0..1 */
	/* The loss over about the last 300 packets (the last receiver
	 * report's without TWCC), and how many packets that is (decayed). */
	double loss_avg, loss_avg_pkts;
	double queued_ms; /* delay above its lowest of the last 30 s */
	double trend; /* the modified trend (ms) and its threshold */
	double threshold;
	enum tp_bwe_signal signal;
	uint64_t last_overuse_us; /* 0: never */
	bool has_twcc;
};

/* Returns 0, EINVAL or ENOMEM; the caller owns *out. */
int tp_bwe_new(struct tp_bwe **out, const struct tp_bwe_cfg *cfg);
void tp_bwe_free(struct tp_bwe **p);

/* One TWCC feedback's packets, in sequence order (unknown ones left out). */
void tp_bwe_on_twcc(struct tp_bwe *b, const struct tp_bwe_pkt *pkts, size_t n,
		    uint64_t now_us);
/* A receiver report: fraction lost (0..1) and interarrival jitter (ms). */
void tp_bwe_on_report(struct tp_bwe *b, double fraction_lost, uint32_t jitter_ms,
		      uint64_t now_us);
void tp_bwe_on_remb(struct tp_bwe *b, uint64_t bps, uint64_t now_us);
/* What tutti actually sent in the last second, so that the loss-based
 * rate without TWCC has a base. Also: TWCC that flowed and has been
 * silent for 3 s, with no report at all for 8 s, halves the estimate at
 * each call (a receiver that no longer reads). */
void tp_bwe_on_sent(struct tp_bwe *b, uint32_t sent_bps, uint64_t now_us);

/* A probe cluster got through at bps without loss or a queue: the rates
 * built from the delay and the loss start from there if lower. */
void tp_bwe_on_probe(struct tp_bwe *b, uint32_t bps);

void tp_bwe_get(const struct tp_bwe *b, uint64_t now_us, struct tp_bwe_state *out);
uint32_t tp_bwe_estimate(const struct tp_bwe *b, uint64_t now_us);

#endif
