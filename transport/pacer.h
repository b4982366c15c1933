/*
 * A pacer for what tutti sends one receiver (part of transport.h; pure
 * logic, no I/O, no clock of its own: every call says what time it is).
 * docs/bandwidth.md describes it in prose.
 *
 * Packets leave at a paced rate (a multiple of the receiver's estimate,
 * set by the sender) from a byte budget that refills with time and holds
 * at most PACE_BURST of it, so that a keyframe is spread over a few ticks
 * rather than thrown at the link at once.
 *
 *  - Audio never waits: it is always allowed at once, and only debited
 *    from the budget (so video makes room for it).
 *  - Retransmissions (RTX) go before new video: they repair a picture
 *    that is already broken.
 *  - The queue is bounded by bytes (half a second of the paced rate, at
 *    least a few packets) and by age (500 ms: a video packet that late is
 *    no use). When a packet does not fit, the OLDEST video packet goes
 *    first, then the oldest retransmission; a packet that still does not
 *    fit is dropped itself. Every drop is counted, so that the sender's
 *    user can ask for a keyframe or send less.
 *
 * Memory: the queue's buffers are allocated on first use and kept (a
 * receiver whose link keeps up never queues, and never pays for them);
 * nothing is allocated per packet after that.
 */
#ifndef TUTTI_TRANSPORT_PACER_H
#define TUTTI_TRANSPORT_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_pacer;

enum tp_pace_class {
	TP_PACE_AUDIO, /* never queued */
	TP_PACE_RTX,   /* retransmissions: before video */
	TP_PACE_VIDEO,
	TP_PACE_CLASSES
};

#define TP_PACER_MAX_PKT    1600 /* the largest packet queued */
#define TP_PACER_MAX_AGE_US 500000
#define TP_PACER_QUEUE_S    0.5   /* the byte bound: this much of the paced rate */
#define TP_PACER_MIN_BYTES  12000 /* and at least this */

struct tp_pacer_stats {
	uint32_t rate_bps;                    /* the paced rate now */
	uint32_t queued_pkts, queued_bytes;   /* in the queue now */
	uint32_t max_queued_bytes;            /* the most it ever held */
	uint32_t oldest_ms;                   /* the age of its oldest packet now */
	uint32_t limit_bytes;                 /* the byte bound now */
	uint64_t queued_total;                /* packets that had to wait */
	uint64_t dropped_pkts, dropped_bytes; /* dropped: bound or age */
	uint64_t dropped_video_pkts;          /* of which video (not RTX) */
};

/* max_pkts: the most packets the queue holds (its slots). Returns 0,
 * EINVAL or ENOMEM; the caller owns *out. */
int tp_pacer_new(struct tp_pacer **out, unsigned max_pkts);
/* *p becomes NULL. */
void tp_pacer_free(struct tp_pacer **p);

/* The paced rate from now on, bit/s (0: unpaced). */
void tp_pacer_set_rate(struct tp_pacer *p, uint32_t bps, uint64_t now_us);
/* True when a packet of class c may go now: audio always; others when
 * nothing of their class or a more urgent one waits and the budget is
 * not spent. The caller then sends it and calls tp_pacer_on_sent. */
bool tp_pacer_may_send(struct tp_pacer *p, enum tp_pace_class c, uint64_t now_us);
/* bytes went out (any class, padding included): debits the budget. */
void tp_pacer_on_sent(struct tp_pacer *p, size_t bytes, uint64_t now_us);
/* Queues a copy of pkt (class RTX or VIDEO; len <= TP_PACER_MAX_PKT),
 * dropping the oldest video (then RTX) to make room. Returns 0 (queued),
 * ENOBUFS (pkt itself was dropped: counted), ENOMEM or EINVAL. */
int tp_pacer_enqueue(struct tp_pacer *p, enum tp_pace_class c, const uint8_t *pkt,
		     size_t len, uint64_t now_us);
/* The next packet that may go now (RTX first, then video), after packets
 * older than TP_PACER_MAX_AGE_US were dropped; NULL when none is queued
 * or the budget is spent. The pointer is valid until tp_pacer_pop, which
 * the caller calls once it sent it, with tp_pacer_on_sent for the bytes
 * that went on the wire. */
const uint8_t *tp_pacer_next(struct tp_pacer *p, uint64_t now_us, size_t *len,
			     enum tp_pace_class *c);
void tp_pacer_pop(struct tp_pacer *p);
/* Bytes the budget allows now (may be negative). */
double tp_pacer_budget(struct tp_pacer *p, uint64_t now_us);
void tp_pacer_get_stats(const struct tp_pacer *p, uint64_t now_us,
			struct tp_pacer_stats *out);
/* Whether the video packet of RTP SSRC ssrc and sequence number seq
 * still waits in the queue (a NACK for it asks for what is on its way). */
bool tp_pacer_holds(const struct tp_pacer *p, uint32_t ssrc, uint16_t seq);

#endif
