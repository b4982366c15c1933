/*
 * The video half of a room, inbound: each sender's VP8 or H.264 packets
 * assembled into frames, decoded only while the sender is visible; NACKs within a
 * budget, keyframe requests (PLI) when a frame cannot be completed or a
 * sender becomes visible, and REMB telling hidden senders to send less.
 * Room thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

bool mx_video_visible(const struct mx_part *p)
{
	return p->vin && p->vin->visible;
}

uint64_t mx_video_decodes(const struct mx_part *p)
{
	return p->vin ? __atomic_load_n(&p->vin->decodes, __ATOMIC_RELAXED) : 0;
}

/* ---- inbound ---------------------------------------------------------------- */

static void send_rtcp(struct mx_part *p, const uint8_t *buf, size_t len)
{
	if (p->sender)
		tp_sender_post_rtcp(p->sender, buf, len);
}

int mx_vin_new(struct mx_vin **out)
{
	struct mx_vin *in = calloc(1, sizeof(*in));
	int err;

	if (!in)
		return ENOMEM;
	err = cx_vp8_asm_new(&in->asm_);
	if (!err)
		err = cx_vp8_dec_new(&in->dec);
	if (err) {
		mx_vin_free(&in);
		return err;
	}
	in->need_keyframe = true;
	in->codec = TP_CODEC_VP8;
	*out = in;
	return 0;
}

void mx_vin_free(struct mx_vin **pin)
{
	struct mx_vin *in = pin ? *pin : NULL;

	if (!in)
		return;
	cx_vp8_asm_free(&in->asm_);
	cx_vp8_dec_free(&in->dec);
	cx_h264_asm_free(&in->h264_asm);
	cx_h264_dec_free(&in->h264_dec);
	free(in->snap_buf);
	free(in);
	*pin = NULL;
}

/* Keeps the frame time's picture (see frame_pic_no) before a decode
 * replaces it. Without memory, the tiers still to draw take the newer
 * one. */
static void keep_frame_pic(const struct mx_video_dsp *dsp, struct mx_vin *in)
{
	const struct cx_picture *s = &in->pic;
	int cw = (s->width + 1) / 2, ch = (s->height + 1) / 2;
	size_t ysz = (size_t)s->width * s->height, csz = (size_t)cw * ch;
	size_t need = ysz + 2 * csz;

	if (need > in->snap_cap) {
		uint8_t *b = realloc(in->snap_buf, need);
		if (!b)
			return;
		in->snap_buf = b;
		in->snap_cap = need;
	}
	in->snap = (struct cx_picture){
		.plane = { in->snap_buf, in->snap_buf + ysz, in->snap_buf + ysz + csz },
		.stride = { s->width, cw, cw },
		.width = s->width,
		.height = s->height,
	};
	for (int p = 0; p < 3; p++)
		dsp->blit(in->snap.plane[p], in->snap.stride[p], s->plane[p], s->stride[p],
			  p ? cw : s->width, p ? ch : s->height);
	in->snap_ok = true;
}

void mx_video_ask_keyframe(struct mx_part *p, struct mx_vin *in, uint64_t now)
{
	uint8_t buf[32];
	size_t len;

	in->need_keyframe = true;
	if (!p->sender || !in->ssrc || now - in->last_pli_us < PLI_INTERVAL_US)
		return;
	if (tp_rtcp_write_pli(buf, sizeof(buf), &len,
			      tp_sender_ssrc(p->sender, TP_SDP_VIDEO), in->ssrc) == 0) {
		send_rtcp(p, buf, len);
		in->last_pli_us = now;
	}
}

static int vin_codec(struct mx_vin *in, enum tp_codec codec)
{
	int err = 0;

	if (!in || codec != TP_CODEC_H264 || in->codec == TP_CODEC_H264)
		return 0;
	if (!in->h264_asm)
		err = cx_h264_asm_new(&in->h264_asm);
	if (!err && !in->h264_dec)
		err = cx_h264_dec_new(&in->h264_dec);
	if (err) {
		cx_h264_asm_free(&in->h264_asm);
		cx_h264_dec_free(&in->h264_dec);
		return err;
	}
	in->codec = TP_CODEC_H264;
	return 0;
}

/* The codec is the connection's: a shared screen has the camera's. */
int mx_video_in_codec(struct mx_part *p, enum tp_codec codec)
{
	int err = vin_codec(p->vin, codec);

	return err ? err : vin_codec(p->screen, codec);
}

/* The sender's assembler, whichever its codec. */
static bool vin_h264(const struct mx_vin *in)
{
	return in->codec == TP_CODEC_H264;
}

static bool vin_need_keyframe(const struct mx_vin *in)
{
	return vin_h264(in) ? cx_h264_asm_need_keyframe(in->h264_asm)
			    : cx_vp8_asm_need_keyframe(in->asm_);
}

static size_t vin_missing(struct mx_vin *in, uint16_t *seqs, size_t cap)
{
	return vin_h264(in) ? cx_h264_asm_missing(in->h264_asm, seqs, cap)
			    : cx_vp8_asm_missing(in->asm_, seqs, cap);
}

static void vin_drop_incomplete(struct mx_vin *in)
{
	if (vin_h264(in))
		cx_h264_asm_drop_incomplete(in->h264_asm);
	else
		cx_vp8_asm_drop_incomplete(in->asm_);
}

/* A new sender stream: start over, from a keyframe. */
static int vin_restart(struct mx_vin *in)
{
	struct cx_vp8_asm *fresh;

	if (vin_h264(in)) {
		cx_h264_asm_reset(in->h264_asm);
		return 0;
	}
	if (cx_vp8_asm_new(&fresh))
		return ENOMEM;
	cx_vp8_asm_free(&in->asm_);
	in->asm_ = fresh;
	return 0;
}

/* The next complete frame of the sender: its bytes and whether it is a
 * keyframe. Returns 0 or EAGAIN. */
static int vin_next(struct mx_vin *in, const uint8_t **data, size_t *len, bool *key)
{
	if (vin_h264(in)) {
		struct cx_h264_assembled f;
		if (cx_h264_asm_get(in->h264_asm, &f))
			return EAGAIN;
		*data = f.data;
		*len = f.len;
		*key = f.keyframe;
	} else {
		struct cx_vp8_assembled f;
		if (cx_vp8_asm_get(in->asm_, &f))
			return EAGAIN;
		*data = f.data;
		*len = f.len;
		*key = f.keyframe;
	}
	return 0;
}

/* Whether this tick's decodes took their budget (the room thread's: a
 * tick must leave time for the audio deadline). */
static bool decode_budget_spent(struct mx_room *r)
{
	struct mx_video *v = r->video;

	if (v->decode_tick != r->tick) {
		v->decode_tick = r->tick;
		v->decode_tick_us = 0;
	}
	return v->decode_tick_us >= DECODE_BUDGET_US;
}

/* Decodes the sender's complete frames, until this tick's budget is
 * spent: the rest wait in the assembler for the next tick (senders whose
 * frames all came at once, 25 of them, took 18 ms in one tick). */
static void vin_decode(struct mx_room *r, struct mx_part *p, struct mx_vin *in, uint64_t now)
{
	const uint8_t *data;
	size_t flen;
	bool key;

	in->decode_later = false;
	for (;;) {
		if (decode_budget_spent(r)) {
			in->decode_later = true;
			return;
		}
		if (vin_next(in, &data, &flen, &key))
			return;
		/* Hidden senders are not decoded; the next time they are
		 * shown, they start from a keyframe. */
		if (!in->visible) {
			in->need_keyframe = true;
			continue;
		}
		if (in->need_keyframe && !key)
			continue;
		uint64_t t0 = cm_now_us();
		/* A tier of the last frame still to draw this picture. */
		if (r->video->keep_pics && in->has_pic && !in->snap_ok &&
		    in->pic_no == in->frame_pic_no)
			keep_frame_pic(&r->video->dsp, in);
		int derr = vin_h264(in) ? cx_h264_decode(in->h264_dec, data, flen, &in->pic)
					: cx_vp8_decode(in->dec, data, flen, &in->pic);
		uint64_t took = cm_now_us() - t0;
		r->video->decode_tick_us += took;
		__atomic_add_fetch(&r->ctr.video_decode_us, took, __ATOMIC_RELAXED);
		if (derr == 0) {
			in->need_keyframe = false;
			in->has_pic = true;
			in->new_pic = true;
			in->pic_no++;
			__atomic_add_fetch(&in->decodes, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&r->ctr.video_decodes, 1, __ATOMIC_RELAXED);
		} else if (derr != EAGAIN || !vin_h264(in)) {
			mx_video_ask_keyframe(p, in, now);
		}
	}
}

void mx_vin_decode_later(struct mx_room *r, struct mx_part *p, struct mx_vin *in, uint64_t now)
{
	if (in->decode_later) {
		vin_decode(r, p, in, now);
		mx_room_audio_due(r);
	}
}

void mx_video_input(struct mx_room *r, struct mx_part *p, const uint8_t *pkt,
		    size_t len, const struct tp_rtp_hdr *h, uint64_t now)
{
	mx_vin_input(r, p, p->vin, pkt, len, h, now);
}

void mx_vin_input(struct mx_room *r, struct mx_part *p, struct mx_vin *in,
		  const uint8_t *pkt, size_t len, const struct tp_rtp_hdr *h, uint64_t now)
{
	if (h->ssrc != in->ssrc) {
		if (vin_restart(in))
			return;
		in->ssrc = h->ssrc;
		in->last_pli_us = 0;
		cm_info("mixer", "participant %s: new %s stream, ssrc %u", p->id,
			in == p->vin ? "camera" : "screen", (unsigned)h->ssrc);
		mx_video_ask_keyframe(p, in, now);
	}
	if (vin_h264(in))
		cx_h264_asm_put(in->h264_asm, h->seq, h->ts, h->marker, pkt + h->hdr_len,
				h->payload_len);
	else
		cx_vp8_asm_put(in->asm_, h->seq, h->ts, h->marker, pkt + h->hdr_len,
			       h->payload_len);
	vin_decode(r, p, in, now);
}

/* NACKs for what is missing, within a budget; then a keyframe. */
void mx_video_repair(struct mx_part *p, struct mx_vin *in, uint64_t now)
{
	uint16_t seqs[64];
	uint8_t buf[512];
	size_t n, len;

	if (!in->ssrc || !p->sender)
		return;
	if (in->visible && vin_need_keyframe(in))
		mx_video_ask_keyframe(p, in, now);
	n = vin_missing(in, seqs, CM_ARRAY_SIZE(seqs));
	if (!n) {
		in->gap_since_us = 0;
		return;
	}
	if (!in->gap_since_us)
		in->gap_since_us = now;
	if (now - in->gap_since_us > NACK_BUDGET_US) {
		vin_drop_incomplete(in);
		in->gap_since_us = 0;
		mx_video_ask_keyframe(p, in, now);
		return;
	}
	if (now - in->last_nack_us < NACK_INTERVAL_US)
		return;
	if (tp_rtcp_write_nack(buf, sizeof(buf), &len,
			       tp_sender_ssrc(p->sender, TP_SDP_VIDEO), in->ssrc, seqs,
			       n) == 0) {
		send_rtcp(p, buf, len);
		in->last_nack_us = now;
	}
}

/* Tells each sender how much to send: visible ones up to the top tier's
 * rate and a half, hidden ones little. REMB is what the sender may send
 * in all: a shared screen's share is added, and both SSRCs named. */
void mx_video_remb(struct mx_video *v, struct mx_part *p, uint64_t now)
{
	struct mx_vin *in = p->vin;
	uint64_t top = (uint64_t)v->tiers[v->n_tiers - 1].kbps * 1500;
	uint32_t ssrcs[2];
	size_t n = 0;
	uint8_t buf[64];
	size_t len;
	uint64_t bps = 0;

	if (in->ssrc) {
		ssrcs[n++] = in->ssrc;
		bps += in->visible ? top : REMB_HIDDEN_BPS;
	}
	if (p->screen && p->screen->ssrc) {
		ssrcs[n++] = p->screen->ssrc;
		bps += p->screen->visible ? top : REMB_HIDDEN_BPS;
	}
	if (!n || !p->sender || now - in->last_remb_us < REMB_INTERVAL_US)
		return;
	if (tp_rtcp_write_remb(buf, sizeof(buf), &len,
			       tp_sender_ssrc(p->sender, TP_SDP_VIDEO), bps, ssrcs,
			       n) == 0) {
		send_rtcp(p, buf, len);
		in->last_remb_us = now;
	}
}
