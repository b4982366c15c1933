/*
 * codecs/ — the public header: Opus at 48 kHz for the audio MCU, VP8
 * (libvpx) and H.264 (libavcodec) and their RTP payload formats (RFC 7741,
 * RFC 6184) for the video MCU.
 *
 * Opus: a decoder per inbound participant (in-band FEC and PLC on loss), a
 * few encoders per room shared by the listeners of one tier. VP8 and
 * H.264: an assembler and decoder per sender, one encoder and packetizer
 * per quality tier. Encoders and decoders are made once; encoding or
 * decoding a VP8 frame allocates nothing (libavcodec, for H.264, makes
 * small allocations of its own per frame).
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

/* ==== VP8 (libvpx) and its RTP payload (RFC 7741) ====================== */

/* An I420 picture: plane 0 is Y, 1 is U, 2 is V; chroma is half size
 * (rounded up). Who owns the planes is said where a picture is given. */
struct cx_picture {
	uint8_t *plane[3];
	int stride[3];
	int width, height;
};

/* ---- VP8 decoder ------------------------------------------------------ */

struct cx_vp8_dec;

/* The largest picture a decoder accepts (4K): a keyframe that claims more
 * is refused before libvpx allocates for it. */
#define CX_VP8_DEC_MAX_SIDE   4096
#define CX_VP8_DEC_MAX_PIXELS (3840 * 2160)

/* A one-thread VP8 decoder. The caller owns *out.
 * Returns 0, EINVAL or ENOMEM. */
int cx_vp8_dec_new(struct cx_vp8_dec **out);
/* Frees the decoder and sets *p to NULL; NULL is fine. */
void cx_vp8_dec_free(struct cx_vp8_dec **p);

/* Decodes one complete frame. On 0, *out points into the decoder's own
 * buffer, valid until the next cx_vp8_decode or cx_vp8_dec_free.
 * Returns 0, EAGAIN (decoded, but no picture to show), EBADMSG (corrupt,
 * a delta frame without its references, or a keyframe bigger than the
 * limits above: the caller asks the sender for a keyframe) or EINVAL. */
int cx_vp8_decode(struct cx_vp8_dec *d, const uint8_t *frame, size_t len,
		  struct cx_picture *out);

/* ---- VP8 encoder ------------------------------------------------------ */

#define CX_VP8_MAX_LAYERS 3

struct cx_vp8_enc;

struct cx_vp8_enc_cfg {
	int width, height;       /* even, 16..4096 */
	int fps;                 /* 1..120 */
	int bitrate_kbps;        /* all layers together, 16..20000 */
	int cpu_used;            /* realtime speed -16..16 (default 8) */
	int temporal_layers;     /* 1..3 */
	int keyframe_interval_s; /* 0: keyframes only on request */
};

/* One encoded frame. data is owned by the encoder and valid until its next
 * cx_vp8_encode or cx_vp8_enc_free. */
struct cx_vp8_frame {
	const uint8_t *data;
	size_t len;
	uint64_t pts; /* as given to cx_vp8_encode */
	bool keyframe;
	uint8_t tid;     /* temporal layer: 0 (base) .. temporal_layers-1 */
	bool layer_sync; /* refers only to base-layer frames (RFC 7741 Y) */
	bool droppable;  /* updates no reference: nothing depends on it (N) */
};

/* Fills cfg with the defaults: 640x360, 30 fps, 500 kbit/s, cpu_used 8,
 * 3 temporal layers, keyframes on request only. */
void cx_vp8_enc_cfg_init(struct cx_vp8_enc_cfg *cfg);

/* A realtime CBR encoder (one thread, no lag, error resilient) with
 * temporal layers: with 3 layers the frames' tids go 0,2,1,2,0,2,1,2...,
 * with 2 layers 0,1,0,1...; dropping every frame above a tid leaves a
 * stream that decodes at 1/2 or 1/4 of the frame rate. Base-layer
 * frames get 60 % of the rate with 2 layers, 40 % (+20 % tid 1) with 3.
 * cfg is copied. The caller owns *out. Returns 0, EINVAL or ENOMEM. */
int cx_vp8_enc_new(struct cx_vp8_enc **out, const struct cx_vp8_enc_cfg *cfg);
/* Frees the encoder and sets *p to NULL; NULL is fine. */
void cx_vp8_enc_free(struct cx_vp8_enc **p);

/* Takes effect from the next frame. Returns 0, EINVAL or EIO. */
int cx_vp8_enc_set_bitrate(struct cx_vp8_enc *e, int bitrate_kbps);

/* What the encoder is tuned for: camera pictures (the default) or screen
 * content (slides, text): libvpx's screen-content mode, a finer
 * quantizer ceiling (sharper text; a static picture costs few bits
 * anyway, a slide change briefly more) and a sharper loop filter. Takes
 * effect from the next frame. Returns 0, EINVAL or EIO. */
enum cx_vp8_content { CX_VP8_CAMERA, CX_VP8_SCREEN };
int cx_vp8_enc_set_content(struct cx_vp8_enc *e, enum cx_vp8_content content);

/* Encodes one picture of the configured size (the caller keeps owning
 * it; it is read during the call only). pts is in 90 kHz ticks (the RTP
 * video clock) and increases. force_keyframe makes a keyframe, which
 * also restarts the layer pattern at tid 0. On 0, *out describes the
 * frame (see struct cx_vp8_frame for how long its data lives).
 * Returns 0, EAGAIN (the rate control dropped the frame), EINVAL or EIO. */
int cx_vp8_encode(struct cx_vp8_enc *e, const struct cx_picture *in, uint64_t pts,
		  bool force_keyframe, struct cx_vp8_frame *out);

/* ---- RTP payload descriptor (RFC 7741 §4.2) ---------------------------- */

/* The descriptor that cx_vp8_packetize writes: X, I with a 15-bit
 * PictureID, L (TL0PICIDX) and T (TID, Y). */
#define CX_VP8_DESC_LEN 6

struct cx_vp8_desc {
	size_t len;           /* bytes of descriptor before the VP8 payload */
	bool non_ref;         /* N */
	bool start;           /* S */
	uint8_t pid;          /* partition index */
	bool has_picture_id;  /* I */
	bool long_picture_id; /* M: 15 bits, else 7 */
	uint16_t picture_id;
	bool has_tl0picidx; /* L */
	uint8_t tl0picidx;
	bool has_tid; /* T */
	uint8_t tid;
	bool layer_sync; /* Y */
	bool has_keyidx; /* K */
	uint8_t keyidx;
};

/* Parses the descriptor at the front of a VP8 RTP payload; every length
 * is checked. Returns 0, or EBADMSG (truncated, or no payload after it). */
int cx_vp8_parse_desc(const uint8_t *payload, size_t len, struct cx_vp8_desc *d);

/* Rewrites, in place, the PictureID (15 bits kept) and, when the
 * descriptor has one, the TL0PICIDX of a payload; nothing else changes.
 * For the room's per-receiver stream. Returns 0, EINVAL (the descriptor
 * has no 15-bit PictureID) or EBADMSG (truncated). */
int cx_vp8_rewrite_picture_id(uint8_t *payload, size_t len, uint16_t picture_id,
			      uint8_t tl0picidx);

/* ---- packetizer ------------------------------------------------------- */

struct cx_vp8_pay;

/* A packetizer for one encoded stream: it numbers the frames' PictureIDs
 * (15 bits, from first_picture_id) and TL0PICIDX (one up per tid 0
 * frame). The caller owns *out. Returns 0, EINVAL or ENOMEM. */
int cx_vp8_pay_new(struct cx_vp8_pay **out, uint16_t first_picture_id);
/* Frees the packetizer and sets *p to NULL; NULL is fine. */
void cx_vp8_pay_free(struct cx_vp8_pay **p);

/* How many payloads of at most mtu_payload bytes a frame of frame_len
 * bytes becomes; 0 when mtu_payload is too small for a descriptor. */
size_t cx_vp8_packet_count(size_t frame_len, size_t mtu_payload);

/* Splits frame f into RTP payloads of at most mtu_payload bytes, of
 * near-equal sizes, each with a CX_VP8_DESC_LEN descriptor (S=1 on the
 * first, PID 0). They are written back to back into buf (cap bytes, the
 * caller's): payload i is lens[i] bytes at buf + lens[0] + ... +
 * lens[i-1]; *n is their count. The caller adds the RTP headers, with
 * the marker on the last one and f->pts as the timestamp.
 * Returns 0, EINVAL or ENOSPC (buf or lens too small; nothing counted). */
int cx_vp8_packetize(struct cx_vp8_pay *p, const struct cx_vp8_frame *f,
		     size_t mtu_payload, uint8_t *buf, size_t cap, size_t *lens,
		     size_t max_packets, size_t *n);

/* ---- depacketizer: frames from one sender's packets ---------------------- */

/* Packets the assembler holds at once (a window of sequence numbers) and
 * the largest payload it takes. A frame has fewer packets than that. */
#define CX_VP8_ASM_WINDOW      256
#define CX_VP8_ASM_MAX_PAYLOAD 1500
#define CX_VP8_ASM_MAX_FRAME   (512 * 1024)

struct cx_vp8_asm;

/* A complete frame: data is owned by the assembler and valid until the
 * next cx_vp8_asm_get or cx_vp8_asm_free. Optional fields are -1 when
 * the sender's descriptor lacks them. */
struct cx_vp8_assembled {
	const uint8_t *data;
	size_t len;
	uint32_t ts;
	uint16_t first_seq, last_seq;
	bool keyframe;
	int32_t picture_id;
	int16_t tl0picidx;
	int8_t tid;
	bool layer_sync;
};

struct cx_vp8_asm_stats {
	uint64_t frames, keyframes;
	uint64_t duplicates; /* packets seen before */
	uint64_t late;       /* packets of frames already given or dropped */
	uint64_t bad;        /* descriptors rejected */
	uint64_t dropped;    /* frames given up (incomplete or broken) */
	uint64_t refused;    /* complete delta frames refused for want of a keyframe */
};

/* An assembler for one sender. It starts wanting a keyframe.
 * The caller owns *out. Returns 0, EINVAL or ENOMEM. */
int cx_vp8_asm_new(struct cx_vp8_asm **out);
/* Frees the assembler and sets *p to NULL; NULL is fine. */
void cx_vp8_asm_free(struct cx_vp8_asm **p);

/* Forgets every packet and the stats, as if new (a sender that
 * restarted its stream, a new SSRC). */
void cx_vp8_asm_reset(struct cx_vp8_asm *a);

/* Stores one RTP packet's payload (copied; the caller keeps its buffer).
 * Packets may come in any order within the window; the sequence number
 * wraps. Returns 0, EALREADY (duplicate or too late: ignored), EBADMSG
 * (bad descriptor or empty payload), EMSGSIZE (payload too big) or
 * EINVAL. */
int cx_vp8_asm_put(struct cx_vp8_asm *a, uint16_t seq, uint32_t ts, bool marker,
		   const uint8_t *payload, size_t len);

/* Gives the next complete frame in order: all packets from an S=1/PID=0
 * start to the marker, with contiguous sequence numbers and one
 * timestamp. While a keyframe is wanted, complete delta frames are
 * refused; a complete keyframe later in the window skips an incomplete
 * frame before it. Returns 0, or EAGAIN (none ready: see
 * cx_vp8_asm_missing and cx_vp8_asm_need_keyframe). */
int cx_vp8_asm_get(struct cx_vp8_asm *a, struct cx_vp8_assembled *out);

/* Writes up to cap sequence numbers that are missing between the oldest
 * frame not yet given and the newest packet (what to NACK), oldest first.
 * Returns their number (at most cap). */
size_t cx_vp8_asm_missing(struct cx_vp8_asm *a, uint16_t *seqs, size_t cap);

/* Gives up the oldest incomplete frame (the caller's time budget for
 * retransmissions ran out): from now on, delta frames are refused until a
 * keyframe comes. */
void cx_vp8_asm_drop_incomplete(struct cx_vp8_asm *a);

/* True while the assembler waits for a keyframe (at start, after a frame
 * was given up or the stream jumped): the caller sends a PLI, throttled. */
bool cx_vp8_asm_need_keyframe(const struct cx_vp8_asm *a);

void cx_vp8_asm_get_stats(const struct cx_vp8_asm *a, struct cx_vp8_asm_stats *st);

/* ==== H.264 (libavcodec) and its RTP payload (RFC 6184) ================ */

/* Constrained baseline only, packetization-mode 1 (single NAL units,
 * STAP-A, FU-A). Frames go between the codec and the RTP payload code as
 * Annex B byte streams (each NAL unit after a 00 00 00 01 start code). */

/* ---- H.264 decoder ---------------------------------------------------- */

struct cx_h264_dec;

/* A one-thread, low-delay H.264 decoder (libavcodec's "h264"); pictures
 * larger than CX_VP8_DEC_MAX_SIDE / CX_VP8_DEC_MAX_PIXELS are refused.
 * The caller owns *out. Returns 0, ENOTSUP (no H.264 decoder in this
 * libavcodec) or ENOMEM. */
int cx_h264_dec_new(struct cx_h264_dec **out);
/* Frees the decoder and sets *p to NULL; NULL is fine. */
void cx_h264_dec_free(struct cx_h264_dec **p);

/* Decodes one access unit (Annex B). On 0, *out points into the
 * decoder's own frame, valid until the next cx_h264_decode or
 * cx_h264_dec_free. Returns 0, EAGAIN (no picture yet), EBADMSG
 * (corrupt, missing references, not 4:2:0, or too big: the caller asks
 * for a keyframe) or EINVAL. */
int cx_h264_decode(struct cx_h264_dec *d, const uint8_t *au, size_t len,
		   struct cx_picture *out);

/* ---- H.264 encoder ---------------------------------------------------- */

struct cx_h264_enc;

struct cx_h264_enc_cfg {
	int width, height; /* even, 16..4096 */
	int fps;           /* 1..120 */
	int bitrate_kbps;  /* 16..20000 */
};

/* One encoded access unit (Annex B; SPS and PPS before every IDR). data
 * is owned by the encoder, valid until its next cx_h264_encode or
 * cx_h264_enc_free. */
struct cx_h264_frame {
	const uint8_t *data;
	size_t len;
	uint64_t pts; /* as given to cx_h264_encode */
	bool keyframe; /* an IDR */
};

/* The libavcodec encoder tutti uses ("libx264", else "libopenh264"), or
 * NULL when this libavcodec has neither. */
const char *cx_h264_encoder_name(void);

/* A realtime encoder: constrained baseline, no B-frames, zero latency
 * (a frame in, its access unit out), one thread, keyframes only on
 * request. cfg is copied. The caller owns *out.
 * Returns 0, EINVAL, ENOTSUP (no H.264 encoder) or ENOMEM. */
int cx_h264_enc_new(struct cx_h264_enc **out, const struct cx_h264_enc_cfg *cfg);
/* Frees the encoder and sets *p to NULL; NULL is fine. */
void cx_h264_enc_free(struct cx_h264_enc **p);

/* Takes effect from the next frame. Returns 0 or EINVAL. */
int cx_h264_enc_set_bitrate(struct cx_h264_enc *e, int bitrate_kbps);

/* Encodes one picture of the configured size (read during the call
 * only; pts in 90 kHz ticks, increasing). force_keyframe makes an IDR.
 * Returns 0, EAGAIN (no output for this frame), EINVAL or EIO. */
int cx_h264_encode(struct cx_h264_enc *e, const struct cx_picture *in, uint64_t pts,
		   bool force_keyframe, struct cx_h264_frame *out);

/* ---- RTP packetizer (RFC 6184 packetization-mode 1) --------------------- */

/* How many payloads of at most mtu_payload bytes cx_h264_packetize makes
 * of au; 0 when there is nothing to send or mtu_payload < 16. */
size_t cx_h264_packet_count(const uint8_t *au, size_t len, size_t mtu_payload);

/* Splits access unit au (Annex B) into RTP payloads of at most
 * mtu_payload bytes: NAL units that fit go alone (single NAL unit
 * packets) or, when several small ones follow each other, together in a
 * STAP-A; a bigger one is cut into FU-A fragments. Payloads are written
 * back to back into buf (cap bytes, the caller's): payload i is lens[i]
 * bytes at buf + lens[0] + ... + lens[i-1]; *n their count. The caller
 * adds the RTP headers: the marker on the last, one timestamp for all.
 * Returns 0, EINVAL (mtu_payload < 16) or ENOSPC (nothing counted). */
int cx_h264_packetize(const uint8_t *au, size_t len, size_t mtu_payload, uint8_t *buf,
		      size_t cap, size_t *lens, size_t max_packets, size_t *n);

/* ---- depacketizer: access units from one sender's packets -------------- */

#define CX_H264_ASM_WINDOW      256
#define CX_H264_ASM_MAX_PAYLOAD 1500
#define CX_H264_ASM_MAX_FRAME   (1024 * 1024)

struct cx_h264_asm;

/* A complete access unit (Annex B): data is owned by the assembler and
 * valid until the next cx_h264_asm_get or cx_h264_asm_free. */
struct cx_h264_assembled {
	const uint8_t *data;
	size_t len;
	uint32_t ts;
	uint16_t first_seq, last_seq;
	bool keyframe; /* holds an IDR slice */
};

/* The same figures as the VP8 assembler's. */
struct cx_h264_asm_stats {
	uint64_t frames, keyframes, duplicates, late, bad, dropped, refused;
};

/* An assembler for one sender; it starts wanting a keyframe. The caller
 * owns *out. Returns 0, EINVAL or ENOMEM. */
int cx_h264_asm_new(struct cx_h264_asm **out);
/* Frees the assembler and sets *p to NULL; NULL is fine. */
void cx_h264_asm_free(struct cx_h264_asm **p);
/* Forgets every packet and the stats, as if new. */
void cx_h264_asm_reset(struct cx_h264_asm *a);

/* Stores one RTP packet's payload, checked and turned into Annex B at
 * once (copied; the caller keeps its buffer). Any order within the
 * window; the sequence number wraps. Returns 0, EALREADY (duplicate or
 * too late), EBADMSG (an empty, reserved-type or lying payload: a
 * STAP-A whose lengths overrun it, a truncated FU-A), EMSGSIZE or
 * EINVAL. */
int cx_h264_asm_put(struct cx_h264_asm *a, uint16_t seq, uint32_t ts, bool marker,
		    const uint8_t *payload, size_t len);

/* Gives the next complete access unit in order: contiguous packets of
 * one timestamp up to the marker, whose FU-A fragments run start, middle,
 * end. A frame starts after the packet that ended the previous one (its
 * marker, or another timestamp) or with an SPS, so the first frame after
 * a loss is the next keyframe. While a keyframe is wanted, complete
 * non-IDR access units are refused. Returns 0 or EAGAIN (none ready). */
int cx_h264_asm_get(struct cx_h264_asm *a, struct cx_h264_assembled *out);

/* Missing sequence numbers between the oldest unfinished access unit
 * and the newest packet (what to NACK), oldest first; at most cap. */
size_t cx_h264_asm_missing(struct cx_h264_asm *a, uint16_t *seqs, size_t cap);

/* Gives up the oldest incomplete access unit; from now on non-IDR ones
 * are refused until a keyframe comes. */
void cx_h264_asm_drop_incomplete(struct cx_h264_asm *a);

/* True while the assembler waits for a keyframe. */
bool cx_h264_asm_need_keyframe(const struct cx_h264_asm *a);

void cx_h264_asm_get_stats(const struct cx_h264_asm *a, struct cx_h264_asm_stats *st);

#endif
