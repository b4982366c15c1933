/*
 * codecs/ — the public header: Opus at 48 kHz for the audio MCU.
 *
 * A decoder per inbound participant (in-band FEC and PLC on loss), a few
 * encoders per room shared by the listeners of one tier. Encoders and
 * decoders are made once; encoding or decoding a frame allocates nothing.
 *
 * Sample counts are per channel; PCM is interleaved int16. Functions that
 * produce samples return their count, or a negative errno.
 *
 * Threads: an encoder or decoder belongs to one thread (the room's
 * worker); the free functions (cx_opus_has_fec, ...) are pure.
 */
#ifndef TUTTI_CODECS_H
#define TUTTI_CODECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CX_OPUS_RATE        48000
#define CX_OPUS_FRAME_20MS  960  /* samples per channel in 20 ms */
#define CX_OPUS_MAX_SAMPLES 5760 /* 120 ms, the longest Opus packet */
#define CX_OPUS_MAX_PACKET  1275 /* bytes of one Opus frame, RFC 6716 §3.4 */
/* An output buffer this big fits any encoded packet (libopus' advice). */
#define CX_OPUS_ENC_MAX_BYTES 4000
/* An encoded frame of at most this many bytes is DTX: see cx_opus_is_dtx. */
#define CX_OPUS_DTX_MAX_BYTES 2

/* ---- decoder ---------------------------------------------------------- */

struct cx_opus_dec;

/* A decoder that outputs channels (1 or 2) channels, whatever the stream
 * carries: a stereo-signalled browser stream (opus/48000/2) decodes to
 * mono with channels = 1. The caller owns *out.
 * Returns 0, EINVAL (channels) or ENOMEM. */
int cx_opus_dec_new(struct cx_opus_dec **out, unsigned channels);
/* Frees the decoder and sets *p to NULL; NULL is fine. */
void cx_opus_dec_free(struct cx_opus_dec **p);

/* Decodes one packet into pcm, which has room for max_samples samples
 * per channel (960 per 20 ms; CX_OPUS_MAX_SAMPLES fits any packet).
 * A DTX packet (1-2 bytes) decodes normally, to comfort noise.
 * Returns the samples per channel, -EBADMSG (corrupt, truncated or empty
 * packet; the decoder state is untouched), -ENOSPC (pcm too small) or
 * -EINVAL. */
int cx_opus_decode(struct cx_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
		   size_t max_samples);

/* Recovers the frame lost just BEFORE next_pkt from next_pkt's in-band
 * FEC (SILK LBRR) into pcm: samples is the lost frame's duration (960 for
 * 20 ms, a multiple of 120). Call it in place of decoding the lost frame,
 * then decode next_pkt normally with cx_opus_decode. When next_pkt has
 * no FEC, libopus conceals (PLC) instead, so the result is never worse.
 * Returns samples, -EBADMSG or -EINVAL. */
int cx_opus_decode_fec(struct cx_opus_dec *d, const uint8_t *next_pkt, size_t len,
		       int16_t *pcm, size_t samples);

/* Packet loss concealment: extrapolates samples (a multiple of 120) from
 * what was decoded before; after a DTX packet it continues comfort noise.
 * Returns samples or -EINVAL. */
int cx_opus_conceal(struct cx_opus_dec *d, int16_t *pcm, size_t samples);

/* ---- packet inspection (pure) ----------------------------------------- */

/* True when the packet's first Opus frame carries in-band FEC for the
 * packet before it. Read from the packet itself (libopus 1.3.1 has no
 * opus_packet_has_lbrr): CELT-only packets never carry FEC; in SILK and
 * hybrid packets, the first frame begins with the SILK header flags, per
 * channel the VAD flag of each 20 ms SILK frame then the LBRR flag
 * (RFC 6716 §4.2.3); they are range-coded with probability 1/2 each, so
 * they are exactly the leading bits of the frame's first byte. Stereo
 * packets count the side channel's flag too, which a mono decoder does
 * not hear (it outputs the mid channel). False for corrupt packets and
 * empty (DTX) frames. */
bool cx_opus_has_fec(const uint8_t *pkt, size_t len);

/* Samples per channel at 48 kHz in the packet (all its frames), or
 * -EBADMSG. */
int cx_opus_packet_samples(const uint8_t *pkt, size_t len);

/* True for an encoded frame that DTX suppressed (≤ 2 bytes: the TOC and
 * nothing to decode). With DTX on, the sender need not send it: RTP with
 * Opus DTX (RFC 7587 §3.1.3) sends nothing during silence except one such
 * packet about every 400 ms, which keeps the receiver's comfort noise
 * alive. Pure: looks only at the length. */
bool cx_opus_is_dtx(size_t len);

/* ---- encoder ---------------------------------------------------------- */

struct cx_opus_enc;

struct cx_opus_enc_cfg {
	int bitrate;          /* bit/s, 6000..510000 */
	int complexity;       /* 0..10 */
	unsigned channels;    /* 1 or 2 */
	bool inband_fec;      /* SILK LBRR: the next packet carries this frame */
	bool dtx;             /* ≤ 2-byte frames during silence (see cx_opus_is_dtx) */
	int packet_loss_perc; /* 0..100: expected loss, tunes the FEC */
};

/* Fills cfg with the defaults: 32 kbit/s, complexity 5, mono, FEC on,
 * DTX off, 10 % expected loss. */
void cx_opus_enc_cfg_init(struct cx_opus_enc_cfg *cfg);

/* An encoder (application VOIP, 48 kHz) with cfg, or the defaults when
 * cfg is NULL; cfg is copied. The caller owns *out.
 * Returns 0, EINVAL (a setting out of range) or ENOMEM. */
int cx_opus_enc_new(struct cx_opus_enc **out, const struct cx_opus_enc_cfg *cfg);
/* Frees the encoder and sets *p to NULL; NULL is fine. */
void cx_opus_enc_free(struct cx_opus_enc **p);

/* Take effect from the next frame. Return 0 or EINVAL (out of range). */
int cx_opus_enc_set_bitrate(struct cx_opus_enc *e, int bitrate);
int cx_opus_enc_set_loss_perc(struct cx_opus_enc *e, int packet_loss_perc);
int cx_opus_enc_set_fec(struct cx_opus_enc *e, bool on);

/* Encodes samples per channel of interleaved pcm (a valid Opus frame:
 * 120, 240, 480, 960, 1920 or 2880) into out, which has cap bytes
 * (CX_OPUS_ENC_MAX_BYTES always fits; 1276 fits a 20 ms frame).
 * Returns the bytes written, -EINVAL or -EIO (libopus failed).
 * A result of ≤ CX_OPUS_DTX_MAX_BYTES is a DTX frame: cx_opus_is_dtx. */
int cx_opus_encode(struct cx_opus_enc *e, const int16_t *pcm, size_t samples,
		   uint8_t *out, size_t cap);

#endif
