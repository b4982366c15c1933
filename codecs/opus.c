/*
 * Opus encoder and decoder wrappers over libopus (48 kHz), with in-band
 * FEC, PLC, DTX and a look into packets for their FEC flag.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <opus/opus.h>

#include "codecs/codecs.h"

struct cx_opus_dec {
	OpusDecoder *st;
	unsigned channels;
};

struct cx_opus_enc {
	OpusEncoder *st;
	unsigned channels;
};

/* libopus errors as negative errnos. A packet libopus rejects is a bad
 * message; a bad argument here can only come from a packet too (our own
 * arguments are checked before the call). */
static int opus_err(int err)
{
	switch (err) {
	case OPUS_BUFFER_TOO_SMALL:
		return -ENOSPC;
	case OPUS_ALLOC_FAIL:
		return -ENOMEM;
	case OPUS_INTERNAL_ERROR:
	case OPUS_UNIMPLEMENTED:
	case OPUS_INVALID_STATE:
		return -EIO;
	default:
		return -EBADMSG;
	}
}

/* Opus durations are multiples of 2.5 ms, at most 120 ms. */
static bool valid_duration(size_t samples)
{
	return samples > 0 && samples <= CX_OPUS_MAX_SAMPLES && samples % 120 == 0;
}

/* ---- decoder ---------------------------------------------------------- */

int cx_opus_dec_new(struct cx_opus_dec **out, unsigned channels)
{
	struct cx_opus_dec *d;
	int err;

	if (!out || (channels != 1 && channels != 2))
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->channels = channels;
	d->st = opus_decoder_create(CX_OPUS_RATE, (int)channels, &err);
	if (!d->st) {
		free(d);
		return err == OPUS_ALLOC_FAIL ? ENOMEM : EINVAL;
	}
	*out = d;
	return 0;
}

void cx_opus_dec_free(struct cx_opus_dec **p)
{
	if (!p || !*p)
		return;
	opus_decoder_destroy((*p)->st);
	free(*p);
	*p = NULL;
}

int cx_opus_decode(struct cx_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
		   size_t max_samples)
{
	int n;

	if (!d || !pcm || max_samples == 0)
		return -EINVAL;
	/* libopus takes a NULL or empty packet as "conceal": a caller that
	 * wants PLC says so with cx_opus_conceal, so here it is an error. */
	if (!pkt || len == 0 || len > INT32_MAX)
		return -EBADMSG;
	if (max_samples > CX_OPUS_MAX_SAMPLES)
		max_samples = CX_OPUS_MAX_SAMPLES;
	n = opus_decode(d->st, pkt, (opus_int32)len, pcm, (int)max_samples, 0);
	return n < 0 ? opus_err(n) : n;
}

int cx_opus_decode_fec(struct cx_opus_dec *d, const uint8_t *next_pkt, size_t len,
		       int16_t *pcm, size_t samples)
{
	int n;

	if (!d || !pcm || !valid_duration(samples))
		return -EINVAL;
	if (!next_pkt || len == 0 || len > INT32_MAX)
		return -EBADMSG;
	/* frame_size must be exactly the lost duration: libopus then takes
	 * the LBRR frame of next_pkt (or conceals when there is none). */
	n = opus_decode(d->st, next_pkt, (opus_int32)len, pcm, (int)samples, 1);
	return n < 0 ? opus_err(n) : n;
}

int cx_opus_conceal(struct cx_opus_dec *d, int16_t *pcm, size_t samples)
{
	int n;

	if (!d || !pcm || !valid_duration(samples))
		return -EINVAL;
	n = opus_decode(d->st, NULL, 0, pcm, (int)samples, 0);
	return n < 0 ? opus_err(n) : n;
}

/* ---- packet inspection ------------------------------------------------ */

bool cx_opus_has_fec(const uint8_t *pkt, size_t len)
{
	const unsigned char *frames[48];
	opus_int16 size[48];
	unsigned config, silk_frames, lbrr_bit;
	int spf;
	bool lbrr;

	if (!pkt || len == 0 || len > INT32_MAX)
		return false;
	/* TOC config 0..11 is SILK-only, 12..15 hybrid, 16..31 CELT-only
	 * (RFC 6716 §3.1): only SILK carries LBRR. */
	config = pkt[0] >> 3;
	if (config >= 16)
		return false;
	if (opus_packet_parse(pkt, (opus_int32)len, NULL, frames, size, NULL) <= 0)
		return false;
	if (size[0] == 0)
		return false;
	/* One SILK frame per 10 or 20 ms Opus frame, 2 in 40 ms, 3 in
	 * 60 ms: each has a VAD flag before the channel's LBRR flag. */
	spf = opus_packet_get_samples_per_frame(pkt, CX_OPUS_RATE);
	silk_frames = spf > CX_OPUS_FRAME_20MS ? (unsigned)spf / CX_OPUS_FRAME_20MS : 1;
	/* Mid channel: bits 0..n-1 VAD, bit n LBRR (counted from the MSB). */
	lbrr_bit = silk_frames;
	lbrr = (frames[0][0] >> (7 - lbrr_bit)) & 1;
	/* Stereo: the side channel's VAD flags and LBRR flag follow. With
	 * at most 3 SILK frames that is bit 7 at most, still in byte 0. */
	if (pkt[0] & 0x4) {
		lbrr_bit = 2 * silk_frames + 1;
		lbrr = lbrr || ((frames[0][0] >> (7 - lbrr_bit)) & 1);
	}
	return lbrr;
}

int cx_opus_packet_samples(const uint8_t *pkt, size_t len)
{
	int n;

	if (!pkt || len == 0 || len > INT32_MAX)
		return -EBADMSG;
	n = opus_packet_get_nb_samples(pkt, (opus_int32)len, CX_OPUS_RATE);
	return n < 0 ? -EBADMSG : n;
}

bool cx_opus_is_dtx(size_t len)
{
	return len <= CX_OPUS_DTX_MAX_BYTES;
}

/* ---- encoder ---------------------------------------------------------- */

void cx_opus_enc_cfg_init(struct cx_opus_enc_cfg *cfg)
{
	*cfg = (struct cx_opus_enc_cfg){
	    .bitrate = 32000,
	    .complexity = 5,
	    .channels = 1,
	    .inband_fec = true,
	    .dtx = false,
	    .packet_loss_perc = 10,
	};
}

static bool cfg_valid(const struct cx_opus_enc_cfg *c)
{
	return c->bitrate >= 6000 && c->bitrate <= 510000 && c->complexity >= 0 &&
	       c->complexity <= 10 && (c->channels == 1 || c->channels == 2) &&
	       c->packet_loss_perc >= 0 && c->packet_loss_perc <= 100;
}

int cx_opus_enc_new(struct cx_opus_enc **out, const struct cx_opus_enc_cfg *cfg)
{
	struct cx_opus_enc_cfg def;
	struct cx_opus_enc *e;
	int err;

	if (!out)
		return EINVAL;
	if (!cfg) {
		cx_opus_enc_cfg_init(&def);
		cfg = &def;
	}
	if (!cfg_valid(cfg))
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->channels = cfg->channels;
	e->st = opus_encoder_create(CX_OPUS_RATE, (int)cfg->channels,
				    OPUS_APPLICATION_VOIP, &err);
	if (!e->st) {
		err = err == OPUS_ALLOC_FAIL ? ENOMEM : EINVAL;
		goto fail;
	}
	/* The CTLs cannot fail with values checked above. */
	if (opus_encoder_ctl(e->st, OPUS_SET_BITRATE(cfg->bitrate)) != OPUS_OK ||
	    opus_encoder_ctl(e->st, OPUS_SET_COMPLEXITY(cfg->complexity)) != OPUS_OK ||
	    opus_encoder_ctl(e->st, OPUS_SET_INBAND_FEC(cfg->inband_fec ? 1 : 0)) !=
		OPUS_OK ||
	    opus_encoder_ctl(e->st, OPUS_SET_DTX(cfg->dtx ? 1 : 0)) != OPUS_OK ||
	    opus_encoder_ctl(e->st, OPUS_SET_PACKET_LOSS_PERC(cfg->packet_loss_perc)) !=
		OPUS_OK) {
		err = EINVAL;
		goto fail;
	}
	*out = e;
	return 0;
fail:
	if (e->st)
		opus_encoder_destroy(e->st);
	free(e);
	return err;
}

void cx_opus_enc_free(struct cx_opus_enc **p)
{
	if (!p || !*p)
		return;
	opus_encoder_destroy((*p)->st);
	free(*p);
	*p = NULL;
}

int cx_opus_enc_set_bitrate(struct cx_opus_enc *e, int bitrate)
{
	if (!e || bitrate < 6000 || bitrate > 510000)
		return EINVAL;
	return opus_encoder_ctl(e->st, OPUS_SET_BITRATE(bitrate)) == OPUS_OK ? 0 : EINVAL;
}

int cx_opus_enc_set_loss_perc(struct cx_opus_enc *e, int packet_loss_perc)
{
	if (!e || packet_loss_perc < 0 || packet_loss_perc > 100)
		return EINVAL;
	return opus_encoder_ctl(e->st, OPUS_SET_PACKET_LOSS_PERC(packet_loss_perc)) ==
		       OPUS_OK
		   ? 0
		   : EINVAL;
}

int cx_opus_enc_set_fec(struct cx_opus_enc *e, bool on)
{
	if (!e)
		return EINVAL;
	return opus_encoder_ctl(e->st, OPUS_SET_INBAND_FEC(on ? 1 : 0)) == OPUS_OK
		   ? 0
		   : EINVAL;
}

int cx_opus_encode(struct cx_opus_enc *e, const int16_t *pcm, size_t samples,
		   uint8_t *out, size_t cap)
{
	int n;

	if (!e || !pcm || !out || cap == 0)
		return -EINVAL;
	/* Opus frames are 2.5, 5, 10, 20, 40 or 60 ms. */
	switch (samples) {
	case 120:
	case 240:
	case 480:
	case 960:
	case 1920:
	case 2880:
		break;
	default:
		return -EINVAL;
	}
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	n = opus_encode(e->st, pcm, (int)samples, out, (opus_int32)cap);
	if (n == OPUS_BUFFER_TOO_SMALL)
		return -ENOSPC;
	return n < 0 ? -EIO : n;
}
