/*
 * codecs/ Opus: tones survive a round trip at their frequency, a lost
 * frame comes back from the next packet's in-band FEC, PLC fills a gap,
 * cx_opus_has_fec agrees with what libopus does, garbage is refused.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "codecs/codecs.h"
#include "tests/unit/check.h"

#define FR      CX_OPUS_FRAME_20MS
#define NFRAMES 50 /* 1 s */
#define AMP     16000.0

struct stream {
	uint8_t pkt[NFRAMES][1276];
	int len[NFRAMES];
	int16_t pcm[NFRAMES * FR * 2];
};

static struct stream st; /* big: keep it off the stack */

/* Power of x at frequency f (Goertzel), normalised by the length. */
static double tone_power(const int16_t *x, size_t n, double f)
{
	double w = 2 * M_PI * f / CX_OPUS_RATE, c = 2 * cos(w), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s;
	}
	return (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

static double db(double ratio)
{
	return 10 * log10(ratio);
}

/* Signal-to-error ratio of x against the reference r, in dB. */
static double snr_db(const int16_t *r, const int16_t *x, size_t n)
{
	double sig = 0, err = 0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)r[i] - x[i];

		sig += (double)r[i] * r[i];
		err += d * d;
	}
	return db((sig + 1) / (err + 1));
}

/* In stereo, the right channel is the left one inverted: all side, no
 * mid, so the LBRR flag that matters is the side channel's. */
static bool antiphase;
/* Channels decode_with_loss decodes to: a mono decoder outputs the mid
 * channel only, so a side-channel-only LBRR is not heard there. */
static unsigned dec_channels = 1;

/* Fills st.pcm with a sine of freq Hz starting (from silence) at frame
 * onset, and encodes it with cfg. */
static void encode_tone(const struct cx_opus_enc_cfg *cfg, double freq, int onset)
{
	struct cx_opus_enc *e = NULL;
	unsigned ch = cfg->channels;

	CHECK_EQ(cx_opus_enc_new(&e, cfg), 0);
	for (size_t i = 0; i < NFRAMES * FR; i++) {
		double v =
		    i < (size_t)onset * FR ? 0 : AMP * sin(2 * M_PI * freq * i / 48000);

		for (unsigned c = 0; c < ch; c++)
			st.pcm[i * ch + c] = (int16_t)(c == 1 && antiphase ? -v : v);
	}
	for (int k = 0; k < NFRAMES; k++) {
		st.len[k] = cx_opus_encode(e, st.pcm + (size_t)k * FR * ch, FR, st.pkt[k],
					   sizeof(st.pkt[k]));
		CHECK(st.len[k] > 0);
	}
	cx_opus_enc_free(&e);
	CHECK(e == NULL);
}

static void check_tone(double freq, double other)
{
	static int16_t out[NFRAMES * FR];
	struct cx_opus_enc_cfg cfg;
	struct cx_opus_dec *d = NULL;
	double pf, po;
	size_t n = 0;

	cx_opus_enc_cfg_init(&cfg);
	cfg.inband_fec = false;
	encode_tone(&cfg, freq, 0);
	CHECK_EQ(cx_opus_dec_new(&d, 1), 0);
	for (int k = 0; k < NFRAMES; k++) {
		CHECK_EQ(cx_opus_packet_samples(st.pkt[k], (size_t)st.len[k]), FR);
		CHECK_EQ(cx_opus_decode(d, st.pkt[k], (size_t)st.len[k], out + n, FR),
			 FR);
		n += FR;
	}
	/* Skip the first 100 ms: the codec's look-ahead and start-up. */
	pf = tone_power(out + 5 * FR, n - 5 * FR, freq);
	po = tone_power(out + 5 * FR, n - 5 * FR, other);
	printf("     %.0f Hz: %.1f dB above %.0f Hz\n", freq, db(pf / (po + 1e-9)),
	       other);
	CHECK(db(pf / (po + 1e-9)) >= 20);
	cx_opus_dec_free(&d);
}

static void tone_440_decodes_at_440(void)
{
	check_tone(440, 1000);
}

static void tone_1000_decodes_at_1000(void)
{
	check_tone(1000, 440);
}

/* Decodes st's packets 0..lost-1 with d, then the lost frame: from the
 * next packet's FEC when fec, else by PLC, into out. */
static void decode_with_loss(int lost, bool fec, int16_t *out)
{
	struct cx_opus_dec *d = NULL;
	int16_t pcm[FR * 2];

	CHECK_EQ(cx_opus_dec_new(&d, dec_channels), 0);
	for (int k = 0; k < lost; k++)
		CHECK_EQ(cx_opus_decode(d, st.pkt[k], (size_t)st.len[k], pcm, FR), FR);
	if (fec)
		CHECK_EQ(cx_opus_decode_fec(d, st.pkt[lost + 1], (size_t)st.len[lost + 1],
					    out, FR),
			 FR);
	else
		CHECK_EQ(cx_opus_conceal(d, out, FR), FR);
	cx_opus_dec_free(&d);
}

/* The frame as decoded without loss: the reference for FEC and PLC. */
static void decode_clean(int frame, int16_t *out)
{
	struct cx_opus_dec *d = NULL;

	CHECK_EQ(cx_opus_dec_new(&d, dec_channels), 0);
	for (int k = 0; k <= frame; k++)
		CHECK_EQ(cx_opus_decode(d, st.pkt[k], (size_t)st.len[k], out, FR), FR);
	cx_opus_dec_free(&d);
}

/* 440 Hz, FEC on, 20 % expected loss, 32 kbit/s; the packet at 500 ms is
 * lost. Opus' PLC repeats the pitch but fades (about 3 dB SNR against the
 * clean decode); the FEC copy tracks the clean decode (about 25 dB). */
static void lost_frame_comes_back_from_fec(void)
{
	int16_t ref[FR], fec[FR], plc[FR];
	struct cx_opus_enc_cfg cfg;
	double s_fec, s_plc;
	const int lost = 25;

	cx_opus_enc_cfg_init(&cfg);
	cfg.packet_loss_perc = 20;
	encode_tone(&cfg, 440, 0);
	CHECK(cx_opus_has_fec(st.pkt[lost + 1], (size_t)st.len[lost + 1]));
	decode_clean(lost, ref);
	decode_with_loss(lost, true, fec);
	decode_with_loss(lost, false, plc);
	s_fec = snr_db(ref, fec, FR);
	s_plc = snr_db(ref, plc, FR);
	printf("     steady 440 Hz, frame %d lost: SNR FEC %.1f dB, PLC %.1f dB\n", lost,
	       s_fec, s_plc);
	CHECK(s_fec >= 12);
	CHECK(s_fec >= s_plc + 10);
}

/* The tone starts in the lost frame: PLC has nothing to extrapolate and
 * stays silent, FEC brings the onset back. */
static void lost_onset_comes_back_from_fec(void)
{
	int16_t ref[FR], fec[FR], plc[FR];
	struct cx_opus_enc_cfg cfg;
	double e_fec, e_plc;
	const int lost = 25;

	cx_opus_enc_cfg_init(&cfg);
	cfg.packet_loss_perc = 20;
	encode_tone(&cfg, 440, lost);
	decode_clean(lost, ref);
	decode_with_loss(lost, true, fec);
	decode_with_loss(lost, false, plc);
	e_fec = tone_power(fec, FR, 440);
	e_plc = tone_power(plc, FR, 440);
	printf("     onset in lost frame: 440 Hz power FEC %.1f dB above PLC, SNR FEC "
	       "%.1f dB\n",
	       db((e_fec + 1) / (e_plc + 1)), snr_db(ref, fec, FR));
	CHECK(db((e_fec + 1) / (e_plc + 1)) >= 20);
	CHECK(snr_db(ref, fec, FR) >= 10);
}

/* cx_opus_has_fec reads the LBRR flag itself; libopus decides the same
 * question inside opus_decode. They agree when a FEC decode differs from
 * a PLC decode exactly for the packets said to have FEC. */
static void check_has_fec_matches_libopus(const struct cx_opus_enc_cfg *cfg, int onset)
{
	int16_t a[FR * 2], b[FR * 2];
	int with = 0, without = 0;

	encode_tone(cfg, 440, onset);
	for (int k = 1; k + 1 < NFRAMES; k += 3) {
		bool has = cx_opus_has_fec(st.pkt[k + 1], (size_t)st.len[k + 1]);

		/* A change of mode or bandwidth resets SILK, and then even a
		 * FEC decode without LBRR differs from plain PLC. */
		if ((st.pkt[k][0] >> 3) != (st.pkt[k + 1][0] >> 3))
			continue;
		decode_with_loss(k, true, a);
		decode_with_loss(k, false, b);
		CHECK_EQ(has, memcmp(a, b, FR * sizeof(a[0])) != 0);
		has ? with++ : without++;
	}
	printf("     %u ch, %d bit/s, TOC config %d: %d packets with FEC, %d without\n",
	       cfg->channels, cfg->bitrate, st.pkt[30][0] >> 3, with, without);
	CHECK(with > 0);
	if (onset > 0)
		CHECK(without > 0);
}

/* Stereo whose mid is silent: any LBRR is the side channel's (the flag
 * after the side's VAD flag). A stereo decoder is needed to hear it, and
 * there a FEC decode without LBRR is no longer bit-exact PLC, so check
 * that where cx_opus_has_fec says yes the FEC decode is far better. */
static void check_side_channel_fec(const struct cx_opus_enc_cfg *cfg)
{
	int16_t ref[FR * 2], a[FR * 2], b[FR * 2];
	int with = 0;

	antiphase = true;
	dec_channels = 2;
	encode_tone(cfg, 440, 20);
	for (int k = 1; k + 1 < NFRAMES; k += 3) {
		if (!cx_opus_has_fec(st.pkt[k + 1], (size_t)st.len[k + 1]))
			continue;
		/* the mid channel's LBRR flag (bit 1) is clear */
		CHECK_EQ(st.pkt[k + 1][1] & 0x40, 0);
		with++;
		decode_clean(k, ref);
		decode_with_loss(k, true, a);
		decode_with_loss(k, false, b);
		CHECK(snr_db(ref, a, 2 * FR) >= snr_db(ref, b, 2 * FR) + 10);
	}
	printf("     stereo, side only: %d packets with side FEC\n", with);
	CHECK(with > 0);
	antiphase = false;
	dec_channels = 1;
}

static void has_fec_agrees_with_libopus(void)
{
	struct cx_opus_enc_cfg cfg;

	cx_opus_enc_cfg_init(&cfg);
	cfg.packet_loss_perc = 20;
	check_has_fec_matches_libopus(&cfg, 20); /* hybrid, mono */
	cfg.bitrate = 20000;
	check_has_fec_matches_libopus(&cfg, 20); /* SILK-only (wideband) */
	CHECK((st.pkt[30][0] >> 3) < 12);
	cfg.channels = 2;
	cfg.bitrate = 40000;
	check_has_fec_matches_libopus(&cfg, 20); /* stereo, decoded to mono */
	check_side_channel_fec(&cfg);
	cfg.channels = 1;
	cfg.inband_fec = false;
	encode_tone(&cfg, 440, 0);
	CHECK(!cx_opus_has_fec(st.pkt[30], (size_t)st.len[30]));
	/* A CELT-only TOC (config 31) never carries FEC. */
	CHECK(!cx_opus_has_fec((const uint8_t[]){31 << 3, 0xff, 0xff}, 3));
}

static void conceal_gives_a_frame(void)
{
	struct cx_opus_dec *d = NULL;
	int16_t pcm[FR * 2];

	CHECK_EQ(cx_opus_dec_new(&d, 1), 0);
	CHECK_EQ(cx_opus_conceal(d, pcm, FR), FR); /* before any packet too */
	CHECK_EQ(cx_opus_conceal(d, pcm, 2 * FR), 2 * FR);
	CHECK_EQ(cx_opus_conceal(d, pcm, 100), -EINVAL);
	cx_opus_dec_free(&d);
	cx_opus_dec_free(&d); /* NULL is fine */
}

/* Opus at 48 kHz stereo-signalled, as browsers send it, to mono and to
 * stereo; and DTX frames: tiny, flagged, decodable. */
static void stereo_and_dtx(void)
{
	struct cx_opus_enc_cfg cfg;
	struct cx_opus_enc *e = NULL;
	struct cx_opus_dec *d1 = NULL, *d2 = NULL;
	int16_t pcm[FR * 2] = {0}, out[FR];
	uint8_t pkt[1276];
	int n, dtx = 0;

	cx_opus_enc_cfg_init(&cfg);
	cfg.channels = 2;
	encode_tone(&cfg, 440, 0);
	CHECK_EQ(cx_opus_dec_new(&d1, 1), 0);
	CHECK_EQ(cx_opus_dec_new(&d2, 2), 0);
	CHECK_EQ(cx_opus_decode(d1, st.pkt[10], (size_t)st.len[10], pcm, FR), FR);
	CHECK_EQ(cx_opus_decode(d2, st.pkt[10], (size_t)st.len[10], pcm, FR), FR);

	cfg.channels = 1;
	cfg.dtx = true;
	CHECK_EQ(cx_opus_enc_new(&e, &cfg), 0);
	memset(pcm, 0, sizeof(pcm));
	for (int k = 0; k < 50; k++) {
		n = cx_opus_encode(e, pcm, FR, pkt, sizeof(pkt));
		CHECK(n > 0);
		if (cx_opus_is_dtx((size_t)n)) {
			dtx++;
			CHECK_EQ(cx_opus_decode(d1, pkt, (size_t)n, out, FR), FR);
		}
	}
	printf("     %d of 50 silent frames were DTX\n", dtx);
	CHECK(dtx >= 20);
	CHECK_EQ(cx_opus_enc_set_bitrate(e, 64000), 0);
	CHECK_EQ(cx_opus_enc_set_bitrate(e, 10), EINVAL);
	CHECK_EQ(cx_opus_enc_set_loss_perc(e, 5), 0);
	CHECK_EQ(cx_opus_enc_set_loss_perc(e, 101), EINVAL);
	CHECK_EQ(cx_opus_enc_set_fec(e, false), 0);
	CHECK_EQ(cx_opus_encode(e, pcm, 1000, pkt, sizeof(pkt)), -EINVAL);
	cx_opus_enc_free(&e);
	cx_opus_dec_free(&d1);
	cx_opus_dec_free(&d2);
}

static void bad_arguments_and_garbage(void)
{
	struct cx_opus_enc_cfg cfg;
	struct cx_opus_enc *e = NULL;
	struct cx_opus_dec *d = NULL;
	static uint8_t blob[1275];
	int16_t pcm[CX_OPUS_MAX_SAMPLES];
	uint32_t x = 12345;
	int n;

	CHECK_EQ(cx_opus_dec_new(&d, 3), EINVAL);
	cx_opus_enc_cfg_init(&cfg);
	cfg.complexity = 11;
	CHECK_EQ(cx_opus_enc_new(&e, &cfg), EINVAL);
	CHECK(e == NULL);
	CHECK_EQ(cx_opus_enc_new(&e, NULL), 0);
	cx_opus_enc_free(&e);

	CHECK_EQ(cx_opus_dec_new(&d, 1), 0);
	cx_opus_enc_cfg_init(&cfg);
	encode_tone(&cfg, 440, 0);
	/* empty, truncated, a code-3 packet claiming 0 frames */
	CHECK_EQ(cx_opus_decode(d, st.pkt[10], 0, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_decode(d, NULL, 10, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_decode(d, (const uint8_t[]){0x03}, 1, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_decode(d, (const uint8_t[]){0x03, 0x00}, 2, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_decode(d, (const uint8_t[]){0x01, 0x20}, 2, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_decode_fec(d, NULL, 0, pcm, FR), -EBADMSG);
	CHECK_EQ(cx_opus_packet_samples((const uint8_t[]){0x03}, 1), -EBADMSG);
	CHECK(!cx_opus_has_fec((const uint8_t[]){0x03}, 1));
	CHECK(!cx_opus_has_fec(NULL, 0));
	/* pcm too small for a 20 ms packet */
	CHECK_EQ(cx_opus_decode(d, st.pkt[10], (size_t)st.len[10], pcm, 480), -ENOSPC);
	/* Random blobs: some are valid Opus (noise), the rest are refused;
	 * none may crash or overrun. */
	for (int i = 0; i < 200; i++) {
		for (size_t j = 0; j < sizeof(blob); j++) {
			x = x * 1103515245 + 12345;
			blob[j] = (uint8_t)(x >> 16);
		}
		n = cx_opus_decode(d, blob, sizeof(blob), pcm, CX_OPUS_MAX_SAMPLES);
		CHECK(n == -EBADMSG || (n > 0 && n <= CX_OPUS_MAX_SAMPLES));
		(void)cx_opus_has_fec(blob, sizeof(blob));
		(void)cx_opus_packet_samples(blob, sizeof(blob));
	}
	/* the decoder still works */
	CHECK_EQ(cx_opus_decode(d, st.pkt[10], (size_t)st.len[10], pcm, FR), FR);
	cx_opus_dec_free(&d);
}

int main(void)
{
	RUN(tone_440_decodes_at_440);
	RUN(tone_1000_decodes_at_1000);
	RUN(lost_frame_comes_back_from_fec);
	RUN(lost_onset_comes_back_from_fec);
	RUN(has_fec_agrees_with_libopus);
	RUN(conceal_gives_a_frame);
	RUN(stereo_and_dtx);
	RUN(bad_arguments_and_garbage);
	return check_report();
}
