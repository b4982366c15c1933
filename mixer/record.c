/*
 * The recorder (see record.h): a queue of packets from the room thread, a
 * writer thread, libavformat's WebM muxer. Timestamps are the room's tick
 * times in milliseconds (WebM's own unit) from the first keyframe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "common/common.h"
#include "mixer/record.h"

#define QUEUE_BYTES (32u << 20) /* a few minutes of 720p: a stalled disk */

struct item {
	struct item *next;
	bool video, keyframe;
	int64_t pts_ms;
	size_t len;
	uint8_t data[];
};

struct mx_rec {
	AVFormatContext *oc;
	AVStream *vs, *as;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head, *tail;
	size_t queued;
	bool closing;
	/* room thread */
	bool started;
	uint64_t t0_us, last_us;
	/* counted under lock */
	struct mx_rec_info info;
	int64_t last_pts[2];
};

/* RFC 7845 5.1 identification header, for Matroska's CodecPrivate. */
static int opus_head(AVCodecParameters *par)
{
	static const uint8_t head[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd',
					  1, 1, 0x38, 0x01, /* pre-skip 312 */
					  0x80, 0xbb, 0, 0, /* 48000 */
					  0, 0, 0 };

	par->extradata = av_mallocz(sizeof(head) + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!par->extradata)
		return ENOMEM;
	memcpy(par->extradata, head, sizeof(head));
	par->extradata_size = sizeof(head);
	return 0;
}

static void write_item(struct mx_rec *r, struct item *it)
{
	AVPacket *pkt = av_packet_alloc();
	AVStream *st = it->video ? r->vs : r->as;
	int k = it->video ? 0 : 1;

	if (!pkt)
		return;
	/* Muxers want rising timestamps per stream. */
	if (it->pts_ms <= r->last_pts[k])
		it->pts_ms = r->last_pts[k] + 1;
	r->last_pts[k] = it->pts_ms;
	pkt->data = it->data;
	pkt->size = (int)it->len;
	pkt->stream_index = st->index;
	pkt->pts = pkt->dts = av_rescale_q(it->pts_ms, (AVRational){ 1, 1000 }, st->time_base);
	pkt->duration = it->video ? 0 : av_rescale_q(20, (AVRational){ 1, 1000 }, st->time_base);
	if (it->keyframe || !it->video)
		pkt->flags |= AV_PKT_FLAG_KEY;
	if (av_interleaved_write_frame(r->oc, pkt) < 0)
		r->info.dropped++;
	av_packet_free(&pkt);
}

static void *writer(void *arg)
{
	struct mx_rec *r = arg;

	pthread_setname_np(pthread_self(), "tutti-rec");
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->head && !r->closing)
			pthread_cond_wait(&r->cond, &r->lock);
		struct item *it = r->head;
		if (!it)
			break;
		r->head = it->next;
		if (!r->head)
			r->tail = NULL;
		r->queued -= it->len;
		pthread_mutex_unlock(&r->lock);
		write_item(r, it);
		free(it);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int mx_rec_open(struct mx_rec **out, const char *path, int width, int height)
{
	struct mx_rec *r = calloc(1, sizeof(*r));
	int err = EIO;

	if (!r)
		return ENOMEM;
	r->last_pts[0] = r->last_pts[1] = -1;
	if (avformat_alloc_output_context2(&r->oc, NULL, "webm", path) < 0 || !r->oc)
		goto fail;
	r->vs = avformat_new_stream(r->oc, NULL);
	r->as = avformat_new_stream(r->oc, NULL);
	if (!r->vs || !r->as)
		goto fail;
	r->vs->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
	r->vs->codecpar->codec_id = AV_CODEC_ID_VP8;
	r->vs->codecpar->width = width;
	r->vs->codecpar->height = height;
	r->vs->time_base = (AVRational){ 1, 1000 };
	r->as->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
	r->as->codecpar->codec_id = AV_CODEC_ID_OPUS;
	r->as->codecpar->sample_rate = 48000;
	av_channel_layout_default(&r->as->codecpar->ch_layout, 1);
	r->as->time_base = (AVRational){ 1, 1000 };
	if (opus_head(r->as->codecpar))
		goto fail;
	if (avio_open(&r->oc->pb, path, AVIO_FLAG_WRITE) < 0)
		goto fail;
	if (avformat_write_header(r->oc, NULL) < 0) {
		avio_closep(&r->oc->pb);
		goto fail;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((err = pthread_create(&r->thread, NULL, writer, r))) {
		av_write_trailer(r->oc);
		avio_closep(&r->oc->pb);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	if (r->oc)
		avformat_free_context(r->oc);
	free(r);
	return err;
}

static void push(struct mx_rec *r, bool video, bool key, const uint8_t *data, size_t len,
		 uint64_t now_us)
{
	struct item *it;

	if (!len)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->queued + len > QUEUE_BYTES || !(it = malloc(sizeof(*it) + len))) {
		r->info.dropped++;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	it->next = NULL;
	it->video = video;
	it->keyframe = key;
	it->pts_ms = (int64_t)((now_us - r->t0_us) / 1000);
	it->len = len;
	memcpy(it->data, data, len);
	if (r->tail)
		r->tail->next = it;
	else
		r->head = it;
	r->tail = it;
	r->queued += len;
	if (video)
		r->info.video_frames++;
	else
		r->info.audio_packets++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	r->last_us = now_us;
}

void mx_rec_video(struct mx_rec *r, const uint8_t *data, size_t len, bool keyframe,
		  uint64_t now_us)
{
	if (!r->started) {
		if (!keyframe)
			return;
		r->started = true;
		r->t0_us = now_us;
	}
	push(r, true, keyframe, data, len, now_us);
}

void mx_rec_audio(struct mx_rec *r, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	if (r->started && now_us >= r->t0_us)
		push(r, false, false, pkt, len, now_us);
}

void mx_rec_close(struct mx_rec **p, struct mx_rec_info *info)
{
	struct mx_rec *r = p ? *p : NULL;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->info.ok = av_write_trailer(r->oc) == 0;
	r->info.bytes = (uint64_t)avio_size(r->oc->pb);
	avio_closep(&r->oc->pb);
	avformat_free_context(r->oc);
	r->info.duration_ms = r->started ? (r->last_us - r->t0_us) / 1000 + 20 : 0;
	if (info)
		*info = r->info;
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
	*p = NULL;
}
