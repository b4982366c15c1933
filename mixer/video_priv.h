/*
 * Private to the video half of a room (video.c: set-up, layout, compose,
 * encode, send, feedback; video_in.c: what senders send).
 */
#ifndef TUTTI_MIXER_VIDEO_PRIV_H
#define TUTTI_MIXER_VIDEO_PRIV_H

#include "mixer/frame_clock.h"
#include "mixer/internal.h"

#define HIST 1024 /* packets kept per tier for NACKs (~5 s at 1.5 Mbit/s) */
#define MTU_PAYLOAD 1100
#define PKT_CAP (MTU_PAYLOAD + 64)
#define MAX_FRAME_PKTS 512
#define NACK_INTERVAL_US 40000 /* re-ask for a missing packet at most this often */
#define NACK_BUDGET_US 400000 /* then give the frame up and ask for a keyframe */
#define PLI_INTERVAL_US 500000
/* Per tier, requests are coalesced: at most one keyframe per this (half
 * of it on the smallest tier). A receiver on a lossy link asks again
 * some 300 ms after a loss its NACKs did not repair; at 500 ms, a request
 * soon after the tier's last keyframe waited up to half a second more,
 * and the picture froze for a second (shaped_loss5). */
#define KEYFRAME_INTERVAL_US 300000
#define REMB_INTERVAL_US 1000000
#define REMB_HIDDEN_BPS 100000 /* what a sender out of the layout may send */
#define IDLE_FRAME_US 500000 /* encode at least this often, even unchanged */
#define STAGGER_FROM_US 6000 /* a frame's tiers taking this long: one per tick */
#define DECODE_BUDGET_US 8000 /* decodes per tick; the rest wait a tick */
#define BORDER_Y 210 /* the active speaker's tile border: a light yellow */
#define BORDER_U 16
#define BORDER_V 146

/* What a sender sends, as the room sees it: VP8, or H.264 when its offer
 * chose it (the H.264 assembler and decoder are made only then). */
struct mx_vin {
	enum tp_codec codec;
	struct cx_vp8_asm *asm_;
	struct cx_vp8_dec *dec;
	struct cx_h264_asm *h264_asm;
	struct cx_h264_dec *h264_dec;
	uint32_t ssrc;
	bool visible;
	bool has_pic;
	bool new_pic; /* decoded since the last frame time (screen.c) */
	uint32_t pic_no; /* pictures decoded: a tier draws a tile when it moved */
	bool decode_later; /* complete frames wait for the next tick's budget */
	struct cx_picture pic; /* valid until the next decode */
	/* The picture of the last frame time (pic_no then), copied into snap
	 * when a decode would replace it before that frame's last staggered
	 * tier drew it: every tier of a frame shows the same pictures. */
	uint32_t frame_pic_no;
	bool snap_ok; /* snap holds picture frame_pic_no */
	struct cx_picture snap;
	uint8_t *snap_buf;
	size_t snap_cap;
	bool need_keyframe;
	uint64_t last_pli_us;
	uint64_t gap_since_us;
	uint64_t last_nack_us;
	uint64_t last_remb_us;
	uint64_t decodes; /* atomic: read for the API */
};

struct hist_pkt {
	uint16_t seq; /* tier seq */
	uint16_t len; /* 0: empty */
	uint8_t data[PKT_CAP];
};

/* A tier's H.264 stream: made when a receiver of the tier first wants
 * H.264 (a VP8-only room has none), encoded from the same canvas. */
struct tier_h264 {
	struct cx_h264_enc *enc;
	int kbps; /* what the encoder was asked for */
	uint16_t seq;
	uint64_t last_keyframe_us;
	bool keyframe_wanted;
	uint64_t last_encode_us;
	struct hist_pkt *hist;
	bool used; /* has receivers this frame */
};

struct tier {
	int w, h, kbps;
	int cur_kbps; /* what the encoder is asked for now (the smallest tier adapts) */
	/* What the tier really sends (bytes on the wire), base layer and all
	 * layers, per second: what a receiver on it needs. */
	uint64_t win_bytes[2], win_start_us;
	double bps[2]; /* 0: not measured yet */
	uint64_t measured_us;
	struct cx_vp8_enc *enc;
	uint8_t *buf; /* the canvas, I420 */
	struct cx_picture canvas;
	struct mx_tile tiles[MX_LAYOUT_MAX_TILES];
	uint32_t drawn_no[MX_LAYOUT_MAX_TILES]; /* the tile's source's pic_no drawn */
	size_t n_tiles;
	bool redraw; /* everything, background included */
	bool derived; /* its last canvas was the largest tier's, scaled down */
	struct cx_vp8_pay *pay;
	uint16_t seq;
	uint64_t last_keyframe_us;
	bool keyframe_wanted;
	uint64_t last_encode_us;
	struct hist_pkt *hist;
	bool used; /* has VP8 receivers this frame */
	bool pending; /* drawn on since its last encode */
	uint64_t work_us; /* its last frame: compose, encode and fan-out (wall clock) */
	struct tier_h264 *h264; /* NULL until an H.264 receiver wants this tier */
	bool h264_failed; /* no H.264 encoder could be made: not tried again */
};

struct mx_video {
	struct mx_video_dsp dsp;
	/* Test hook: TUTTI_TEST_CANVAS_DIR makes every encoded canvas land
	 * there as raw I420 (t<tier>-<n>.i420), for quality tests that
	 * compare what a receiver decodes with what was encoded. */
	const char *dump_dir;
	unsigned dumped[MX_VIDEO_TIERS];
	unsigned n_tiers, fps, max_tiles;
	unsigned fps_div; /* overload: a frame every fps_div frame times */
	enum mx_layout_kind layout;
	struct tier tiers[MX_VIDEO_TIERS];
	uint64_t t0_us;
	struct mx_frame_clock clock; /* when the next frame is composed */
	/* The current layout's sources (in tile order: the participant and
	 * which of its pictures, camera or screen) and highlight. */
	struct mx_part *shown[MX_LAYOUT_MAX_TILES];
	struct mx_vin *shown_in[MX_LAYOUT_MAX_TILES];
	size_t n_shown;
	struct mx_part *highlight;
	bool layout_changed;
	/* Scratch, sized for the room. */
	size_t cap;
	struct mx_part **src;
	struct mx_vin **src_in;
	int *src_w, *src_h;
	/* While a screen is shown (see screen.c): the largest tier encodes
	 * with settings for text, and at a lower frame rate while the
	 * screen's picture stays the same. */
	bool content_mode;
	uint8_t *screen_copy; /* the screen's last luma, to see it is static */
	size_t screen_copy_cap;
	int screen_copy_w, screen_copy_h;
	uint64_t screen_changed_us;
	unsigned frame_no;
	/* Tiers of this frame time still to compose and encode, a bit each:
	 * a room whose video takes long spreads its tiers over ticks. */
	unsigned stagger;
	/* The largest tier was composed for this frame time (and whether it
	 * drew anything): a tier of a half or a quarter of its size is then
	 * its canvas scaled down, not composed again from every sender. */
	bool top_ready, top_drew;
	/* A tier of this frame time still to compose from the senders'
	 * pictures (not derived): a decode keeps the picture it replaces. */
	bool keep_pics;
	/* Decodes: the room tick they were counted for, their time in it,
	 * and where the next tick starts on the senders that waited. */
	uint64_t decode_tick, decode_tick_us;
	size_t decode_rr;
	uint8_t *frame_buf; /* the packetizer's output: payloads back to back */
	size_t *frame_lens;
};

/* video.c, for video_h264.c: a tier's measure. */
void mx_video_measure(struct tier *t, uint8_t tid, size_t bytes, uint64_t now);
/* video_send.c, for video.c and video_h264.c: what a tier's frame costs
 * on the wire; its packets into a history; a frame to the receivers of
 * one codec on a tier (and those joining it at a keyframe); the packets
 * a receiver's NACK asks for, again. */
size_t mx_video_wire_bytes(const struct mx_video *v, size_t n);
void mx_video_store_packets(struct mx_video *v, struct hist_pkt *hist, uint16_t *seq,
			    size_t n, uint32_t ts);
void mx_video_fan_out(struct mx_room *r, unsigned ti, enum tp_codec c,
		      const struct hist_pkt *hist, uint16_t seq, size_t n, bool keyframe,
		      uint8_t tid, uint64_t now);
void mx_video_retransmit(struct mx_room *r, struct mx_part *p, const struct tp_rtcp_pkt *pk,
			 uint64_t now);

/* video_h264.c: a tier's H.264 stream, made on first use (NULL when no
 * H.264 encoder can be made; logged once per tier); freed with the tier;
 * one frame of the canvas encoded and sent to the tier's H.264 receivers. */
struct tier_h264 *mx_video_h264_get(struct tier *t, unsigned fps);
void mx_video_h264_free(struct tier_h264 **p);
void mx_video_h264_encode(struct mx_room *r, unsigned ti, uint64_t now);

/* screen.c, for the tick: the largest tier's encoder settings follow
 * whether a screen is shown; and whether tier t leaves this frame out
 * (a static screen needs fewer frames). */
void mx_video_content_mode(struct mx_room *r, bool screen, uint64_t now);
bool mx_video_screen_skip(struct mx_room *r, unsigned t, uint64_t now);
/* Whether the share's screen goes into the layout: from its first
 * picture, or after SCREEN_WAIT_US without one (then black). */
bool mx_screen_ready(struct mx_room *r, uint64_t now);

/* video_in.c, for the tick and the layout; in is p's camera (p->vin) or
 * its shared screen (p->screen). */
int mx_vin_new(struct mx_vin **out);
void mx_vin_free(struct mx_vin **in);
void mx_vin_input(struct mx_room *r, struct mx_part *p, struct mx_vin *in,
		  const uint8_t *pkt, size_t len, const struct tp_rtp_hdr *h, uint64_t now);
void mx_video_ask_keyframe(struct mx_part *p, struct mx_vin *in, uint64_t now);
/* The sender's negotiated codec is known (connected): H.264 senders get
 * their assembler and decoder (camera and screen). Returns 0 or an errno. */
int mx_video_in_codec(struct mx_part *p, enum tp_codec codec);
/* NACKs for what is missing, within a budget; then a keyframe. */
void mx_video_repair(struct mx_part *p, struct mx_vin *in, uint64_t now);
/* Decodes what waited for the tick's decode budget (video_in.c). */
void mx_vin_decode_later(struct mx_room *r, struct mx_part *p, struct mx_vin *in, uint64_t now);
/* How much the sender may send: visible ones a lot, hidden ones little. */
void mx_video_remb(struct mx_video *v, struct mx_part *p, uint64_t now);

#endif
