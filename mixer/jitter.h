/*
 * mixer/jitter — an adaptive jitter buffer for one participant's inbound
 * Opus audio. Pure logic: no threads, no clock of its own (the caller
 * passes the time), no allocation after mx_jb_new.
 *
 * Packets go in as they arrive (mx_jb_put); every 20 ms tick the room's
 * worker takes one frame out (mx_jb_get) and decodes, recovers (FEC),
 * conceals (PLC) or outputs silence as the frame says.
 *
 * Playout: the buffer holds packets back by a target delay, the 98th
 * percentile over the last 256 packets of how much later than the
 * earliest one each arrived (relative transit time), clamped to
 * 10..120 ms (mx_jb_set_delay_range; 40 ms until 50 packets came).
 *  - Up: a packet still missing at its turn while the delay is below the
 *    target is waited for (a PLC frame is inserted and playout holds), so
 *    a jitter increase costs one concealed frame, not a dropped packet.
 *  - Down: at each talk-spurt start (after DTX silence) playout restarts
 *    at the current target; while talking, when the delay stays 25 ms or
 *    more above target a frame is dropped, at once if it is quiet (DTX or
 *    RFC 6464 level ≤ -50 dBov), else after 1 s.
 *  - A packet missing at its turn with the delay at target is lost: with
 *    the next packet buffered the caller gets it for FEC.
 *  - Nothing arriving: three PLC frames, then SILENT (DTX or mute; after
 *    a DTX packet SILENT at once), until packets come back.
 *  - Late packets (behind the playout point) and duplicates are dropped
 *    and counted; sequence numbers and timestamps wrap; a jump of more
 *    than 150 packets or 3 s back in time, confirmed by the next packet,
 *    is a sender restart and resets the buffer.
 *
 * Timestamps are 48 kHz. Frames are assumed to be 20 ms (WebRTC's Opus
 * ptime); each packet's duration is read with cx_opus_packet_samples and
 * timestamps follow it, but one packet is handed out per tick, so a
 * stream of 40 or 60 ms packets would run short (not supported).
 */
#ifndef TUTTI_MIXER_JITTER_H
#define TUTTI_MIXER_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_JB_SLOTS      64   /* packets held at most (1.28 s of 20 ms) */
#define MX_JB_SLOT_BYTES 1500 /* largest payload accepted */
#define MX_JB_LEVEL_NONE 0xff /* no RFC 6464 audio level */

struct mx_jb;

enum mx_jb_kind {
	/* Nothing to play yet (before the first packet is due): output
	 * silence. */
	MX_JB_EMPTY,
	/* Decode data/len. */
	MX_JB_PACKET,
	/* This frame is lost; data/len is the NEXT packet: recover the frame
	 * with cx_opus_decode_fec(data, len, samples). The next packet comes
	 * again as MX_JB_PACKET on the next tick. */
	MX_JB_LOST_FEC,
	/* This frame is lost or late: conceal samples with PLC. */
	MX_JB_LOST,
	/* The sender paused (DTX, mute) or vanished: output silence or
	 * comfort noise, not PLC. */
	MX_JB_SILENT,
};

struct mx_jb_frame {
	enum mx_jb_kind kind;
	/* PACKET, LOST_FEC: the payload, owned by the buffer and valid until
	 * the next mx_jb_get, mx_jb_put or mx_jb_reset. NULL otherwise. */
	const uint8_t *data;
	size_t len;
	uint16_t seq; /* of data's packet */
	uint32_t ts;
	/* Samples (48 kHz) this frame stands for: the packet's duration, or
	 * the lost frame's (960 unless known otherwise). */
	uint32_t samples;
	uint8_t level; /* data's RFC 6464 level (0..127, -dBov), or 0xff */
};

struct mx_jb_stats {
	uint64_t received;  /* packets stored */
	uint64_t late;      /* arrived behind the playout point, dropped */
	uint64_t duplicate; /* dropped */
	uint64_t lost;      /* never arrived in time: skipped in playout */
	uint64_t fec;       /* lost frames handed out as MX_JB_LOST_FEC */
	uint64_t concealed; /* MX_JB_LOST frames */
	uint64_t discarded; /* dropped to cut the delay or on overflow */
	uint64_t resets;    /* sender restarts */
	uint64_t flushes;   /* backlogs dropped at once (far over target) */
	unsigned target_ms; /* the delay aimed at */
	unsigned depth_ms;  /* audio buffered now */
};

/* A jitter buffer aiming at 10..120 ms. Its packet pool is allocated
 * here, once. The caller owns *out. Returns 0, EINVAL or ENOMEM. */
int mx_jb_new(struct mx_jb **out);
/* Frees the buffer and sets *p to NULL; NULL is fine. */
void mx_jb_free(struct mx_jb **p);
/* Forgets every packet and the delay history (keeps the counters). */
void mx_jb_reset(struct mx_jb *jb);
/* Bounds of the target delay: 10 ≤ min_ms ≤ max_ms ≤ 1000.
 * Returns 0 or EINVAL. */
int mx_jb_set_delay_range(struct mx_jb *jb, unsigned min_ms, unsigned max_ms);

/* Stores a copy of an RTP packet's Opus payload: seq and rtp_ts from its
 * header, arrival_us its local arrival time (any monotonic µs clock, the
 * same as mx_jb_get's), level the RFC 6464 level or MX_JB_LEVEL_NONE.
 * Late packets and duplicates are counted and dropped, also returning 0.
 * Returns 0, EINVAL (NULL or empty payload) or EMSGSIZE (longer than
 * MX_JB_SLOT_BYTES). */
int mx_jb_put(struct mx_jb *jb, uint16_t seq, uint32_t rtp_ts, uint64_t arrival_us,
	      const uint8_t *payload, size_t len, uint8_t level);

/* The frame to play at now_us, the current 20 ms tick: call it once per
 * tick. Fills *out (see enum mx_jb_kind). */
void mx_jb_get(struct mx_jb *jb, uint64_t now_us, struct mx_jb_frame *out);

void mx_jb_get_stats(const struct mx_jb *jb, struct mx_jb_stats *out);

#endif
