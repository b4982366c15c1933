/*
 * The video half of a room (private to mixer/).
 *
 * Inbound, per sender: VP8 or H.264 packets are assembled into frames (reordering,
 * NACK for what is missing within a wait budget, PLI when a frame cannot
 * be completed), and decoded only while the sender is visible in the
 * layout. A hidden sender is asked for less (REMB) and, when it becomes
 * visible, for a keyframe.
 *
 * Outbound: one canvas and ONE VP8 encoder per quality tier, shared by
 * every receiver on that tier. Canvas tiles are redrawn only when their
 * picture or the layout changed. Each receiver has its own sequence
 * numbers, timestamps and picture ids (offsets from its tier's), so a
 * switch of tier at a keyframe is one continuous stream to it; its NACKs
 * are answered from the tier's packet history.
 *
 * H.264 receivers (their offer chose H.264) get the same canvas through
 * the tier's H.264 encoder, made the first time one of them needs that
 * tier: its own sequence numbers and packet history, keyframes on their
 * PLI/FIR, no picture ids and no temporal layers. A room serves VP8 and
 * H.264 receivers at once; a VP8-only room has no H.264 encoder.
 */
#ifndef TUTTI_MIXER_VIDEO_H
#define TUTTI_MIXER_VIDEO_H

#include <stdbool.h>
#include <stdint.h>

#include "mixer/layout.h"
#include "transport/transport.h"

struct mx_room;
struct mx_part;
struct mx_video;
struct mx_vin;

/* What a receiver was sent, by its own sequence number: NACKs are
 * answered from the tier's history with the same rewriting. */
struct mx_sent {
	uint16_t rseq, tseq, rpic;
	uint8_t rtl0;
	int8_t tier; /* -1: empty */
	/* Times it went (the first, the lossy link's copy, repairs), and
	 * how many of those the receiver's TWCC reported lost. */
	uint8_t sends, lost;
};

#define MX_SENT_MAP 512

/* A receiver's view of its video stream (room thread). Its sequence
 * numbers and picture ids run on without gaps whatever it is sent: a
 * switch of tier, or frames of higher temporal layers left out. */
struct mx_vout {
	enum tp_codec codec; /* VP8, or H.264 when its offer chose it */
	int tier; /* what it gets now */
	int want; /* the tier it should get: switched to at a keyframe */
	bool started;
	uint8_t max_tid; /* temporal layers above this are left out */
	uint16_t next_seq;
	uint16_t next_pic;
	uint32_t ts_off; /* receiver ts = tier ts + ts_off */
	uint8_t tl0_off;
	uint32_t last_ts;
	uint8_t last_tl0;
	uint64_t frames_sent;
	struct mx_sent *sent; /* MX_SENT_MAP entries */
};

int mx_video_new(struct mx_video **out, const struct mx_room_cfg *cfg);
void mx_video_free(struct mx_video **v);

int mx_video_part_init(struct mx_part *p);
void mx_video_part_fini(struct mx_video *v, struct mx_part *p);

/* An inbound video RTP packet of p (already parsed). */
void mx_video_input(struct mx_room *r, struct mx_part *p, const uint8_t *pkt,
		    size_t len, const struct tp_rtp_hdr *h, uint64_t now);
/* RTCP feedback from p about tutti's video (PLI, FIR, NACK). */
void mx_video_feedback(struct mx_room *r, struct mx_part *p,
		       const struct tp_rtcp_pkt *pk, uint64_t now);
/* After p's feedback: repairs of the video packets its TWCC feedback
 * reported lost (video_send.c). */
void mx_video_repair_lost(struct mx_room *r, struct mx_part *p, uint64_t now);
/* Runs at every tick: NACK/PLI/REMB timers, and at the room's frame
 * interval: layout, decode, compose, encode, send. */
void mx_video_tick(struct mx_room *r, uint64_t now);

/* Layout and receiver tiers, from commands. */
void mx_video_set_layout(struct mx_video *v, enum mx_layout_kind kind);
int mx_video_set_tier(struct mx_room *r, struct mx_part *p, int tier);
/* A tier encoder's bitrate (kbit/s), within what the room configured for
 * it; small changes are left out so that the encoder is not reset often. */
void mx_video_set_tier_kbps(struct mx_video *v, unsigned tier, int kbps);
/* What a tier sent in the last seconds, bit/s on the wire, for its base
 * layer (full false) or every frame; 0 when it has not been measured
 * lately (nobody receives it). */
double mx_video_tier_bps(const struct mx_video *v, unsigned tier, bool full, uint64_t now);
/* p's receive side is ready (DTLS done): it wants a keyframe. */
void mx_video_part_connected(struct mx_room *r, struct mx_part *p);
bool mx_video_visible(const struct mx_part *p);
uint64_t mx_video_decodes(const struct mx_part *p);
void mx_video_layout_info(struct mx_room *r, struct mx_layout_info *out);

#endif
