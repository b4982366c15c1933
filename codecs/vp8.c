/*
 * VP8 encoder and decoder over libvpx, for the video MCU.
 *
 * The encoder is realtime CBR with temporal layers: the base layer only
 * ever refers to the LAST buffer, which only it updates; layer 1 updates
 * GOLDEN and layer 2 updates nothing. So a receiver that drops every
 * frame above a tid still holds all the references it needs.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "codecs/codecs.h"

#define RTP_VIDEO_HZ 90000

/* ---- decoder ---------------------------------------------------------- */

struct cx_vp8_dec {
	vpx_codec_ctx_t ctx;
};

int cx_vp8_dec_new(struct cx_vp8_dec **out)
{
	vpx_codec_dec_cfg_t cfg = {.threads = 1};
	struct cx_vp8_dec *d;

	if (!out)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	if (vpx_codec_dec_init(&d->ctx, vpx_codec_vp8_dx(), &cfg, 0)) {
		free(d);
		return ENOMEM;
	}
	*out = d;
	return 0;
}

void cx_vp8_dec_free(struct cx_vp8_dec **p)
{
	if (!p || !*p)
		return;
	vpx_codec_destroy(&(*p)->ctx);
	free(*p);
	*p = NULL;
}

int cx_vp8_decode(struct cx_vp8_dec *d, const uint8_t *frame, size_t len,
		  struct cx_picture *out)
{
	vpx_codec_iter_t iter = NULL;
	vpx_codec_stream_info_t si;
	vpx_image_t *img;
	int corrupt = 0;

	if (!d || !frame || !len || !out || len > UINT32_MAX)
		return EINVAL;
	/* A keyframe says its size; a huge one would cost the server its
	 * memory (libvpx allocates what the sender claims). */
	si.sz = sizeof(si);
	if (vpx_codec_peek_stream_info(vpx_codec_vp8_dx(), frame, (unsigned int)len,
				       &si) == VPX_CODEC_OK &&
	    si.is_kf &&
	    (si.w > CX_VP8_DEC_MAX_SIDE || si.h > CX_VP8_DEC_MAX_SIDE ||
	     si.w * si.h > CX_VP8_DEC_MAX_PIXELS))
		return EBADMSG;
	if (vpx_codec_decode(&d->ctx, frame, (unsigned int)len, NULL, 0))
		return EBADMSG;
	/* libvpx decodes some damage "successfully" and only flags it. */
	if (vpx_codec_control(&d->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupt) == 0 &&
	    corrupt)
		return EBADMSG;
	img = vpx_codec_get_frame(&d->ctx, &iter);
	if (!img)
		return EAGAIN;
	if (img->fmt != VPX_IMG_FMT_I420)
		return EBADMSG;
	for (int i = 0; i < 3; i++) {
		out->plane[i] = img->planes[i];
		out->stride[i] = img->stride[i];
	}
	out->width = (int)img->d_w;
	out->height = (int)img->d_h;
	return 0;
}

/* ---- encoder ---------------------------------------------------------- */

/* One step of a layer pattern: its tid and what it refers to and updates. */
struct step {
	uint8_t tid;
	vpx_enc_frame_flags_t flags;
};

#define NO_UPD_ALL (VP8_EFLAG_NO_UPD_LAST | VP8_EFLAG_NO_UPD_GF | VP8_EFLAG_NO_UPD_ARF)
/* Base layer: refers to LAST, updates LAST. */
#define BASE_STEP                                                                        \
	(VP8_EFLAG_NO_REF_GF | VP8_EFLAG_NO_REF_ARF | VP8_EFLAG_NO_UPD_GF |              \
	 VP8_EFLAG_NO_UPD_ARF)
/* Layer 1 of 3: refers to LAST only (so every such frame is a layer sync
 * point), updates GOLDEN for layer 2. */
#define MID_STEP                                                                         \
	(VP8_EFLAG_NO_REF_GF | VP8_EFLAG_NO_REF_ARF | VP8_EFLAG_NO_UPD_LAST |            \
	 VP8_EFLAG_NO_UPD_ARF)
/* Top layer: refers to LAST and GOLDEN, updates nothing. */
#define TOP_STEP (VP8_EFLAG_NO_REF_ARF | NO_UPD_ALL | VP8_EFLAG_NO_UPD_ENTROPY)
/* Top layer of 2: refers to LAST only, updates nothing. */
#define TOP2_STEP (VP8_EFLAG_NO_REF_GF | TOP_STEP)

static const struct step pattern1[] = {{0, BASE_STEP}};
static const struct step pattern2[] = {{0, BASE_STEP}, {1, TOP2_STEP}};
static const struct step pattern3[] = {
    {0, BASE_STEP}, {2, TOP_STEP}, {1, MID_STEP}, {2, TOP_STEP}};

static const struct {
	const struct step *steps;
	unsigned n;
	unsigned share[CX_VP8_MAX_LAYERS]; /* cumulative % of the bitrate */
} patterns[] = {
    {pattern1, 1, {100}},
    {pattern2, 2, {60, 100}},
    {pattern3, 4, {40, 60, 100}},
};

enum { BUF_LAST, BUF_GF, BUF_ARF, N_BUFS };

struct cx_vp8_enc {
	vpx_codec_ctx_t ctx;
	vpx_codec_enc_cfg_t cfg;
	vpx_image_t img; /* wraps the caller's planes during a call */
	struct cx_vp8_enc_cfg c;
	unsigned step;           /* next step of the pattern */
	uint8_t buf_tid[N_BUFS]; /* tid of the frame each buffer last took */
	uint64_t frames;
};

void cx_vp8_enc_cfg_init(struct cx_vp8_enc_cfg *cfg)
{
	if (!cfg)
		return;
	*cfg = (struct cx_vp8_enc_cfg){
	    .width = 640,
	    .height = 360,
	    .fps = 30,
	    .bitrate_kbps = 500,
	    .cpu_used = 8,
	    .temporal_layers = 3,
	    .keyframe_interval_s = 0,
	};
}

static bool cfg_valid(const struct cx_vp8_enc_cfg *c)
{
	return c->width >= 16 && c->width <= 4096 && c->width % 2 == 0 &&
	       c->height >= 16 && c->height <= 4096 && c->height % 2 == 0 &&
	       c->fps >= 1 && c->fps <= 120 && c->bitrate_kbps >= 16 &&
	       c->bitrate_kbps <= 20000 && c->cpu_used >= -16 && c->cpu_used <= 16 &&
	       c->temporal_layers >= 1 && c->temporal_layers <= CX_VP8_MAX_LAYERS &&
	       c->keyframe_interval_s >= 0 && c->keyframe_interval_s <= 3600;
}

/* The layer targets follow the total rate; libvpx wants them cumulative. */
static void set_rates(vpx_codec_enc_cfg_t *cfg, int layers, int kbps)
{
	cfg->rc_target_bitrate = (unsigned)kbps;
	for (int i = 0; i < layers; i++)
		cfg->ts_target_bitrate[i] =
		    (unsigned)kbps * patterns[layers - 1].share[i] / 100;
}

static int configure(struct cx_vp8_enc *e)
{
	vpx_codec_enc_cfg_t *cfg = &e->cfg;
	const struct cx_vp8_enc_cfg *c = &e->c;
	int layers = c->temporal_layers;

	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), cfg, 0))
		return EIO;
	cfg->g_w = (unsigned)c->width;
	cfg->g_h = (unsigned)c->height;
	cfg->g_threads = 1;
	cfg->g_timebase = (struct vpx_rational){1, RTP_VIDEO_HZ};
	cfg->g_lag_in_frames = 0;
	cfg->g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	cfg->rc_end_usage = VPX_CBR;
	/* No frame dropping: a receiver's picture ids stay dense and the
	 * layer pattern regular; the rate control works with the quantizer. */
	cfg->rc_dropframe_thresh = 0;
	cfg->rc_resize_allowed = 0;
	cfg->rc_min_quantizer = 2;
	cfg->rc_max_quantizer = 63; /* room to meet a low rate (the smallest tier adapts) */
	cfg->rc_undershoot_pct = 50;
	cfg->rc_overshoot_pct = 50;
	cfg->rc_buf_initial_sz = 500;
	cfg->rc_buf_optimal_sz = 600;
	cfg->rc_buf_sz = 1000;
	/* Keyframes come on request; VP8 realtime places no scene-cut ones. */
	cfg->kf_mode = VPX_KF_AUTO;
	cfg->kf_min_dist = 0;
	cfg->kf_max_dist = c->keyframe_interval_s
			       ? (unsigned)(c->keyframe_interval_s * c->fps)
			       : 1u << 30;
	cfg->ts_number_layers = (unsigned)layers;
	cfg->ts_periodicity = patterns[layers - 1].n;
	for (unsigned i = 0; i < patterns[layers - 1].n; i++)
		cfg->ts_layer_id[i] = patterns[layers - 1].steps[i].tid;
	for (int i = 0; i < layers; i++)
		cfg->ts_rate_decimator[i] = 1u << (layers - 1 - i);
	set_rates(cfg, layers, c->bitrate_kbps);
	return 0;
}

int cx_vp8_enc_new(struct cx_vp8_enc **out, const struct cx_vp8_enc_cfg *cfg)
{
	struct cx_vp8_enc *e;
	int err;

	if (!out || !cfg || !cfg_valid(cfg))
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->c = *cfg;
	err = configure(e);
	if (err)
		goto fail;
	if (vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &e->cfg, 0)) {
		err = ENOMEM;
		goto fail;
	}
	vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cfg->cpu_used);
	vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
	vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
	vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION);
	/* Keyframes at most ~5 frames' worth of bits: big enough to look
	 * right, small enough not to burst the receivers' queues. */
	vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 500);
	/* The picture pointers are set per call; this fills the rest. */
	vpx_img_wrap(&e->img, VPX_IMG_FMT_I420, (unsigned)cfg->width,
		     (unsigned)cfg->height, 1, (unsigned char *)e);
	*out = e;
	return 0;
fail:
	free(e);
	return err;
}

void cx_vp8_enc_free(struct cx_vp8_enc **p)
{
	if (!p || !*p)
		return;
	vpx_codec_destroy(&(*p)->ctx);
	free(*p);
	*p = NULL;
}

int cx_vp8_enc_set_bitrate(struct cx_vp8_enc *e, int bitrate_kbps)
{
	if (!e || bitrate_kbps < 16 || bitrate_kbps > 20000)
		return EINVAL;
	e->c.bitrate_kbps = bitrate_kbps;
	set_rates(&e->cfg, e->c.temporal_layers, bitrate_kbps);
	return vpx_codec_enc_config_set(&e->ctx, &e->cfg) ? EIO : 0;
}

/* See codecs.h. The figures were chosen with tests/unit/test_screen.c
 * (two text slides scaled into the 1280x720 canvas, PSNR of what
 * decodes; docs/screen.md): a quantizer ceiling of 30 takes the frame
 * that brings a new slide from 31.5 to 38.9 dB (40: 37.0, 24: 40.0 for
 * more bytes); sharpness 5 gains a little at the change and costs
 * nothing; a higher static threshold made no difference there and would
 * risk missing a small change (a cursor), so it stays at 1. */
#define SCREEN_MAX_Q 30
#define SCREEN_SHARPNESS 5

int cx_vp8_enc_set_content(struct cx_vp8_enc *e, enum cx_vp8_content content)
{
	bool screen = content == CX_VP8_SCREEN;

	if (!e || (content != CX_VP8_CAMERA && content != CX_VP8_SCREEN))
		return EINVAL;
	if (vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, screen ? 1 : 0) ||
	    vpx_codec_control(&e->ctx, VP8E_SET_SHARPNESS, screen ? SCREEN_SHARPNESS : 0))
		return EIO;
	e->cfg.rc_max_quantizer = screen ? SCREEN_MAX_Q : 63;
	return vpx_codec_enc_config_set(&e->ctx, &e->cfg) ? EIO : 0;
}

/* Layer sync (RFC 7741 Y): every buffer the frame refers to holds a
 * base-layer frame, so a receiver can start forwarding this layer here. */
static bool refs_only_base(const struct cx_vp8_enc *e, vpx_enc_frame_flags_t f)
{
	static const vpx_enc_frame_flags_t no_ref[N_BUFS] = {
	    VP8_EFLAG_NO_REF_LAST, VP8_EFLAG_NO_REF_GF, VP8_EFLAG_NO_REF_ARF};

	for (int b = 0; b < N_BUFS; b++)
		if (!(f & no_ref[b]) && e->buf_tid[b] != 0)
			return false;
	return true;
}

static void note_updates(struct cx_vp8_enc *e, vpx_enc_frame_flags_t f, uint8_t tid,
			 bool key)
{
	static const vpx_enc_frame_flags_t no_upd[N_BUFS] = {
	    VP8_EFLAG_NO_UPD_LAST, VP8_EFLAG_NO_UPD_GF, VP8_EFLAG_NO_UPD_ARF};

	for (int b = 0; b < N_BUFS; b++)
		if (key || !(f & no_upd[b]))
			e->buf_tid[b] = key ? 0 : tid;
}

int cx_vp8_encode(struct cx_vp8_enc *e, const struct cx_picture *in, uint64_t pts,
		  bool force_keyframe, struct cx_vp8_frame *out)
{
	const vpx_codec_cx_pkt_t *pkt;
	vpx_codec_iter_t iter = NULL;
	const struct step *st;
	vpx_enc_frame_flags_t flags;
	unsigned period;

	if (!e || !in || !out || in->width != e->c.width || in->height != e->c.height ||
	    pts > INT64_MAX)
		return EINVAL;
	for (int i = 0; i < 3; i++) {
		if (!in->plane[i] ||
		    in->stride[i] < (i ? (in->width + 1) / 2 : in->width))
			return EINVAL;
		e->img.planes[i] = in->plane[i];
		e->img.stride[i] = in->stride[i];
	}
	period = patterns[e->c.temporal_layers - 1].n;
	/* The first frame is a keyframe anyway: start the pattern there too. */
	if (e->frames == 0)
		force_keyframe = true;
	if (force_keyframe)
		e->step = 0;
	st = &patterns[e->c.temporal_layers - 1].steps[e->step];
	flags = st->flags | (force_keyframe ? VPX_EFLAG_FORCE_KF : 0);
	if (e->c.temporal_layers > 1)
		vpx_codec_control(&e->ctx, VP8E_SET_TEMPORAL_LAYER_ID, st->tid);
	if (vpx_codec_encode(&e->ctx, &e->img, (vpx_codec_pts_t)pts,
			     RTP_VIDEO_HZ / (unsigned)e->c.fps, flags, VPX_DL_REALTIME))
		return EIO;
	e->frames++;
	e->step = (e->step + 1) % period;

	while ((pkt = vpx_codec_get_cx_data(&e->ctx, &iter))) {
		bool key;

		if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
			continue;
		key = pkt->data.frame.flags & VPX_FRAME_IS_KEY;
		/* A keyframe libvpx placed by itself (keyframe_interval_s) lands
		 * on any step; it refreshes every buffer, so restart there. */
		if (key && !force_keyframe)
			e->step = 1 % period;
		*out = (struct cx_vp8_frame){
		    .data = pkt->data.frame.buf,
		    .len = pkt->data.frame.sz,
		    .pts = pts,
		    .keyframe = key,
		    .tid = key ? 0 : st->tid,
		    .layer_sync = key || (st->tid > 0 && refs_only_base(e, st->flags)),
		    .droppable = !key && (st->flags & NO_UPD_ALL) == NO_UPD_ALL,
		};
		note_updates(e, st->flags, out->tid, key);
		return 0;
	}
	return EAGAIN;
}
