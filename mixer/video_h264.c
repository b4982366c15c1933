/*
 * The video half of a room, H.264 out: a tier's H.264 stream for the
 * receivers whose offer chose H.264. Made the first time one of them needs
 * the tier (a VP8-only room never has one), it encodes the same canvas as
 * the tier's VP8 encoder, with libx264 (codecs/h264.c), and keeps its own
 * sequence numbers and packet history for NACKs. Room thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

void mx_video_h264_free(struct tier_h264 **p)
{
	if (!*p)
		return;
	cx_h264_enc_free(&(*p)->enc);
	free((*p)->hist);
	free(*p);
	*p = NULL;
}

/* The tier's H.264 stream, made the first time a receiver wants it; NULL
 * when it cannot be made (no H.264 encoder: logged once per tier). */
struct tier_h264 *mx_video_h264_get(struct tier *t, unsigned fps)
{
	struct cx_h264_enc_cfg ec = {
	    .width = t->w, .height = t->h, .fps = (int)fps, .bitrate_kbps = t->cur_kbps};
	struct tier_h264 *h;
	int err;

	if (t->h264 || t->h264_failed)
		return t->h264;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->hist = calloc(HIST, sizeof(*h->hist));
	err = h->hist ? cx_h264_enc_new(&h->enc, &ec) : ENOMEM;
	if (err) {
		cm_error("mixer", "no H.264 encoder for the %dx%d tier: %s", t->w, t->h,
			 strerror(err));
		t->h264_failed = true;
		mx_video_h264_free(&h);
		return NULL;
	}
	cm_info("mixer", "H.264 encoder (%s) for the %dx%d tier", cx_h264_encoder_name(),
		t->w, t->h);
	h->kbps = t->cur_kbps;
	h->seq = (uint16_t)cm_random_u32();
	h->keyframe_wanted = true;
	t->h264 = h;
	return h;
}

/* The same canvas through the tier's H.264 encoder, for its H.264
 * receivers: keyframes on request (rate-limited like VP8's), FU-A/STAP-A
 * packets, its own sequence numbers and history. */
void mx_video_h264_encode(struct mx_room *r, unsigned ti, uint64_t now)
{
	struct mx_video *v = r->video;
	struct tier *t = &v->tiers[ti];
	struct tier_h264 *h = t->h264;
	struct cx_h264_frame f;
	bool force =
	    h->keyframe_wanted && now - h->last_keyframe_us >= KEYFRAME_INTERVAL_US;
	size_t n = 0;

	if (h->kbps != t->cur_kbps && cx_h264_enc_set_bitrate(h->enc, t->cur_kbps) == 0)
		h->kbps = t->cur_kbps;
	uint64_t t0 = cm_now_us();
	int err =
	    cx_h264_encode(h->enc, &t->canvas, (now - v->t0_us) * 9 / 100, force, &f);

	__atomic_add_fetch(&r->ctr.video_encode_us, cm_now_us() - t0, __ATOMIC_RELAXED);
	if (err)
		return;
	h->last_encode_us = now;
	__atomic_add_fetch(&r->ctr.video_encodes, 1, __ATOMIC_RELAXED);
	if (f.keyframe) {
		h->keyframe_wanted = false;
		h->last_keyframe_us = now;
		__atomic_add_fetch(&r->ctr.video_keyframes, 1, __ATOMIC_RELAXED);
	}
	if (cx_h264_packetize(f.data, f.len, MTU_PAYLOAD, v->frame_buf,
			      MAX_FRAME_PKTS * PKT_CAP, v->frame_lens, MAX_FRAME_PKTS,
			      &n) ||
	    !n)
		return;
	/* The tier's figures are VP8's when it has VP8 receivers too. */
	if (!t->used)
		mx_video_measure(t, 0, mx_video_wire_bytes(v, n), now);
	mx_video_store_packets(v, h->hist, &h->seq, n, (uint32_t)f.pts);
	mx_video_fan_out(r, ti, TP_CODEC_H264, h->hist, h->seq, n, f.keyframe, 0, now);
}
