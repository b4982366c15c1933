/*
 * H.264 encoder and decoder over libavcodec, for the video MCU.
 *
 * The decoder is libavcodec's own "h264", one thread, low delay (a frame
 * out for each access unit in). The encoder is libx264 through
 * libavcodec (libopenh264 where libx264 is missing): constrained
 * baseline, no B-frames, zero latency, CBR-ish (VBV of one second),
 * keyframes only on request; SPS and PPS go in band before every IDR,
 * which is what a receiver that joins at a keyframe needs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

#include "codecs/codecs.h"

/* ---- decoder ---------------------------------------------------------- */

struct cx_h264_dec {
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
};

/* libavcodec logs every damaged slice on stderr; senders' damage is
 * counted by the room, not logged. */
static void quiet_once(void)
{
	static bool done;

	if (!__atomic_exchange_n(&done, true, __ATOMIC_RELAXED))
		av_log_set_level(AV_LOG_FATAL);
}

int cx_h264_dec_new(struct cx_h264_dec **out)
{
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	struct cx_h264_dec *d;

	if (!out)
		return EINVAL;
	if (!codec)
		return ENOTSUP;
	quiet_once();
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->ctx = avcodec_alloc_context3(codec);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (!d->ctx || !d->pkt || !d->frame)
		goto fail;
	d->ctx->thread_count = 1;
	d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	/* A sender's SPS may claim any size: libavcodec refuses to allocate
	 * pictures past this before it does. */
	d->ctx->max_pixels = CX_VP8_DEC_MAX_PIXELS;
	/* libavcodec's default error recognition: stricter settings refuse
	 * streams that browsers' encoders make. Damage still shows in the
	 * frame's flags (see cx_h264_decode). */
	if (avcodec_open2(d->ctx, codec, NULL) < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	cx_h264_dec_free(&d);
	return ENOMEM;
}

void cx_h264_dec_free(struct cx_h264_dec **p)
{
	struct cx_h264_dec *d = p ? *p : NULL;

	if (!d)
		return;
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d);
	*p = NULL;
}

int cx_h264_decode(struct cx_h264_dec *d, const uint8_t *au, size_t len,
		   struct cx_picture *out)
{
	int ret;

	if (!d || !au || !len || !out || len > INT32_MAX)
		return EINVAL;
	av_packet_unref(d->pkt);
	/* The assembler's buffer is not padded: the packet must not point
	 * into it (libavcodec reads up to 64 bytes past the end). */
	if (av_new_packet(d->pkt, (int)len) < 0)
		return EBADMSG;
	memcpy(d->pkt->data, au, len);
	ret = avcodec_send_packet(d->ctx, d->pkt);
	if (ret < 0 && ret != AVERROR(EAGAIN))
		return EBADMSG;
	av_frame_unref(d->frame);
	ret = avcodec_receive_frame(d->ctx, d->frame);
	if (ret == AVERROR(EAGAIN))
		return EAGAIN;
	if (ret < 0)
		return EBADMSG;
	if ((d->frame->format != AV_PIX_FMT_YUV420P &&
	     d->frame->format != AV_PIX_FMT_YUVJ420P) ||
	    d->frame->width < 2 || d->frame->height < 2 ||
	    d->frame->width > CX_VP8_DEC_MAX_SIDE ||
	    d->frame->height > CX_VP8_DEC_MAX_SIDE ||
	    (d->frame->flags & AV_FRAME_FLAG_CORRUPT) || d->frame->decode_error_flags)
		return EBADMSG;
	for (int i = 0; i < 3; i++) {
		out->plane[i] = d->frame->data[i];
		out->stride[i] = d->frame->linesize[i];
	}
	out->width = d->frame->width;
	out->height = d->frame->height;
	return 0;
}

/* ---- encoder ---------------------------------------------------------- */

struct cx_h264_enc {
	AVCodecContext *ctx;
	AVFrame *frame;
	AVPacket *pkt;
	struct cx_h264_enc_cfg cfg;
	bool x264;
};

const char *cx_h264_encoder_name(void)
{
	if (avcodec_find_encoder_by_name("libx264"))
		return "libx264";
	if (avcodec_find_encoder_by_name("libopenh264"))
		return "libopenh264";
	return NULL;
}

static bool cfg_ok(const struct cx_h264_enc_cfg *c)
{
	return c->width >= 16 && c->width <= 4096 && c->height >= 16 &&
	       c->height <= 4096 && !(c->width & 1) && !(c->height & 1) && c->fps >= 1 &&
	       c->fps <= 120 && c->bitrate_kbps >= 16 && c->bitrate_kbps <= 20000;
}

/* Options by name: libx264's are set through the private context; a
 * missing one (another build) is not an error. */
static void set_opt(AVCodecContext *ctx, const char *k, const char *v)
{
	(void)av_opt_set(ctx->priv_data, k, v, 0);
}

int cx_h264_enc_new(struct cx_h264_enc **out, const struct cx_h264_enc_cfg *cfg)
{
	const char *name = cx_h264_encoder_name();
	const AVCodec *codec = name ? avcodec_find_encoder_by_name(name) : NULL;
	struct cx_h264_enc *e;
	int err = ENOMEM;

	if (!out || !cfg || !cfg_ok(cfg))
		return EINVAL;
	if (!codec)
		return ENOTSUP;
	quiet_once();
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->cfg = *cfg;
	e->x264 = !strcmp(name, "libx264");
	e->ctx = avcodec_alloc_context3(codec);
	e->frame = av_frame_alloc();
	e->pkt = av_packet_alloc();
	if (!e->ctx || !e->frame || !e->pkt)
		goto fail;
	e->ctx->width = cfg->width;
	e->ctx->height = cfg->height;
	e->ctx->pix_fmt = AV_PIX_FMT_YUV420P;
	e->ctx->time_base = (AVRational){1, 90000};
	e->ctx->framerate = (AVRational){cfg->fps, 1};
	e->ctx->bit_rate = (int64_t)cfg->bitrate_kbps * 1000;
	e->ctx->rc_max_rate = e->ctx->bit_rate;
	e->ctx->rc_buffer_size = (int)e->ctx->bit_rate; /* one second */
	e->ctx->max_b_frames = 0;
	e->ctx->gop_size = 100000; /* keyframes on request */
	e->ctx->thread_count = 1;
	e->ctx->profile = FF_PROFILE_H264_CONSTRAINED_BASELINE;
	if (e->x264) {
		set_opt(e->ctx, "preset", "ultrafast");
		set_opt(e->ctx, "tune", "zerolatency");
		set_opt(e->ctx, "profile", "baseline");
		set_opt(e->ctx, "forced-idr", "1");
		/* No scene-cut keyframes: a keyframe is sent to every
		 * receiver of the tier and costs them all. */
		set_opt(e->ctx, "x264-params", "scenecut=0:repeat-headers=1");
	} else {
		set_opt(e->ctx, "profile", "constrained_baseline");
		set_opt(e->ctx, "allow_skip_frames", "0");
	}
	if (avcodec_open2(e->ctx, codec, NULL) < 0) {
		err = EIO;
		goto fail;
	}
	e->frame->format = AV_PIX_FMT_YUV420P;
	e->frame->width = cfg->width;
	e->frame->height = cfg->height;
	if (av_frame_get_buffer(e->frame, 0) < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	cx_h264_enc_free(&e);
	return err;
}

void cx_h264_enc_free(struct cx_h264_enc **p)
{
	struct cx_h264_enc *e = p ? *p : NULL;

	if (!e)
		return;
	avcodec_free_context(&e->ctx);
	av_frame_free(&e->frame);
	av_packet_free(&e->pkt);
	free(e);
	*p = NULL;
}

int cx_h264_enc_set_bitrate(struct cx_h264_enc *e, int bitrate_kbps)
{
	if (!e || bitrate_kbps < 16 || bitrate_kbps > 20000)
		return EINVAL;
	/* libx264's wrapper reconfigures the encoder when it sees the new
	 * rate at the next frame. */
	e->ctx->bit_rate = (int64_t)bitrate_kbps * 1000;
	e->ctx->rc_max_rate = e->ctx->bit_rate;
	e->cfg.bitrate_kbps = bitrate_kbps;
	return 0;
}

int cx_h264_encode(struct cx_h264_enc *e, const struct cx_picture *in, uint64_t pts,
		   bool force_keyframe, struct cx_h264_frame *out)
{
	const uint8_t *src[4];
	int src_stride[4];
	int ret;

	if (!e || !in || !out || in->width != e->cfg.width || in->height != e->cfg.height)
		return EINVAL;
	/* The encoder let go of the last frame: this reuses its buffer. */
	if (av_frame_make_writable(e->frame) < 0)
		return EIO;
	for (int i = 0; i < 3; i++) {
		src[i] = in->plane[i];
		src_stride[i] = in->stride[i];
	}
	src[3] = NULL;
	src_stride[3] = 0;
	av_image_copy(e->frame->data, e->frame->linesize, src, src_stride,
		      AV_PIX_FMT_YUV420P, in->width, in->height);
	e->frame->pts = (int64_t)pts;
	e->frame->pict_type = force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	e->frame->key_frame = force_keyframe;
	ret = avcodec_send_frame(e->ctx, e->frame);
	if (ret < 0)
		return EIO;
	av_packet_unref(e->pkt);
	ret = avcodec_receive_packet(e->ctx, e->pkt);
	if (ret == AVERROR(EAGAIN))
		return EAGAIN;
	if (ret < 0 || !e->pkt->size)
		return ret < 0 ? EIO : EAGAIN;
	*out = (struct cx_h264_frame){
	    .data = e->pkt->data,
	    .len = (size_t)e->pkt->size,
	    .pts = pts,
	    .keyframe = e->pkt->flags & AV_PKT_FLAG_KEY,
	};
	return 0;
}
