/*
 * VP8 encoder and decoder: a moving colour-bar pattern survives a round
 * trip, keyframes come when asked, temporal layers can be dropped and the
 * rest still decodes, and garbage is refused without a crash.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "codecs/codecs.h"

#define FRAMES 30
#define TICKS  3000 /* 90 kHz ticks per frame at 30 fps */

struct pic {
	struct cx_picture p;
	uint8_t *mem;
};

static void pic_alloc(struct pic *pic, int w, int h)
{
	int cw = (w + 1) / 2, ch = (h + 1) / 2;

	pic->mem = malloc((size_t)(w * h + 2 * cw * ch));
	pic->p = (struct cx_picture){
	    .plane = {pic->mem, pic->mem + w * h, pic->mem + w * h + cw * ch},
	    .stride = {w, cw, cw},
	    .width = w,
	    .height = h,
	};
}

/* Eight grainy colour bars moving right 4 px per frame over a vertical
 * ramp, with a grey square moving down 2 px per frame. */
static void pattern(struct pic *pic, int frame)
{
	static const uint8_t bars[8][3] = {
	    {235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
	    {106, 202, 222}, {81, 90, 240},  {41, 240, 110}, {16, 128, 128}};
	struct cx_picture *p = &pic->p;
	int w = p->width, h = p->height, bw = w / 8;

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int b = ((x + 4 * frame) / bw) % 8;
			/* Grain that moves with the bars: work for the coder. */
			uint32_t g = (uint32_t)(x + 4 * frame) * 2654435761u ^
				     (uint32_t)y * 40503u;
			int v = bars[b][0] * 3 / 4 + y * 48 / h + (int)((g >> 13) % 25);
			int sx = x - w / 3, sy = y - (2 * frame) % (h / 2);

			if (sx >= 0 && sx < h / 4 && sy >= 0 && sy < h / 4)
				v = 128;
			p->plane[0][y * p->stride[0] + x] = (uint8_t)v;
		}
	for (int y = 0; y < (h + 1) / 2; y++)
		for (int x = 0; x < (w + 1) / 2; x++) {
			int b = ((2 * x + 4 * frame) / bw) % 8;

			p->plane[1][y * p->stride[1] + x] = bars[b][1];
			p->plane[2][y * p->stride[2] + x] = bars[b][2];
		}
}

/* PSNR over all three planes. */
static double psnr(const struct cx_picture *a, const struct cx_picture *b)
{
	double se = 0, n = 0;

	if (a->width != b->width || a->height != b->height)
		return 0;
	for (int i = 0; i < 3; i++) {
		int w = i ? (a->width + 1) / 2 : a->width;
		int h = i ? (a->height + 1) / 2 : a->height;

		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int d = a->plane[i][y * a->stride[i] + x] -
					b->plane[i][y * b->stride[i] + x];
				se += d * d;
			}
		n += w * h;
	}
	return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

static struct cx_vp8_enc *enc_open(int w, int h, int kbps, int layers)
{
	struct cx_vp8_enc_cfg cfg;
	struct cx_vp8_enc *e = NULL;

	cx_vp8_enc_cfg_init(&cfg);
	cfg.width = w;
	cfg.height = h;
	cfg.bitrate_kbps = kbps;
	cfg.temporal_layers = layers;
	CHECK_EQ(cx_vp8_enc_new(&e, &cfg), 0);
	return e;
}

/* Encodes FRAMES frames and decodes those with tid <= max_tid; returns
 * the lowest PSNR and counts the decoded frames. */
static double round_trip(int w, int h, int kbps, int layers, int max_tid, int *decoded,
			 uint8_t *tids, size_t *bytes)
{
	struct cx_vp8_enc *e = enc_open(w, h, kbps, layers);
	struct cx_vp8_dec *d = NULL;
	struct pic src;
	double worst = 99;

	CHECK_EQ(cx_vp8_dec_new(&d), 0);
	pic_alloc(&src, w, h);
	*decoded = 0;
	*bytes = 0;
	for (int i = 0; e && d && i < FRAMES; i++) {
		struct cx_vp8_frame f;
		struct cx_picture out;

		pattern(&src, i);
		CHECK_EQ(cx_vp8_encode(e, &src.p, (uint64_t)i * TICKS, false, &f), 0);
		CHECK_EQ(f.keyframe, i == 0);
		*bytes += f.len;
		if (tids)
			tids[i] = f.tid;
		if (f.tid > max_tid)
			continue;
		CHECK_EQ(cx_vp8_decode(d, f.data, f.len, &out), 0);
		(*decoded)++;
		double q = psnr(&src.p, &out);
		if (q < worst)
			worst = q;
	}
	free(src.mem);
	cx_vp8_dec_free(&d);
	cx_vp8_enc_free(&e);
	CHECK(e == NULL && d == NULL);
	return worst;
}

static void test_360p_at_500k_keeps_30db(void)
{
	int n;
	size_t bytes;
	double q = round_trip(640, 360, 500, 1, 0, &n, NULL, &bytes);

	printf("     360p 500k 1 layer: min PSNR %.1f dB, %zu bytes/frame\n", q,
	       bytes / FRAMES);
	CHECK_EQ(n, FRAMES);
	CHECK(q >= 30);
}

static void test_180p_at_150k_keeps_30db(void)
{
	int n;
	size_t bytes;
	double q = round_trip(320, 180, 150, 3, 2, &n, NULL, &bytes);

	printf("     180p 150k 3 layers: min PSNR %.1f dB, %zu bytes/frame\n", q,
	       bytes / FRAMES);
	CHECK_EQ(n, FRAMES);
	CHECK(q >= 30);
}

static void test_three_layers_tid0_alone_decodes_at_quarter_rate(void)
{
	uint8_t tids[FRAMES];
	size_t bytes;
	int n;
	double q;

	for (int max = 2; max >= 0; max--) {
		q = round_trip(640, 360, 500, 3, max, &n, tids, &bytes);
		printf("     3 layers, tid <= %d: %d frames, min PSNR %.1f dB\n", max, n,
		       q);
		CHECK_EQ(n, max == 2 ? FRAMES : max == 1 ? FRAMES / 2 : (FRAMES + 3) / 4);
		CHECK(q >= 30);
	}
	for (int i = 0; i < FRAMES; i++) {
		static const uint8_t want[4] = {0, 2, 1, 2};
		CHECK_EQ(tids[i], want[i % 4]);
	}
}

static void test_two_layers_tid0_alone_decodes_at_half_rate(void)
{
	uint8_t tids[FRAMES];
	size_t bytes;
	int n;
	double q = round_trip(640, 360, 500, 2, 0, &n, tids, &bytes);

	printf("     2 layers, tid 0: %d frames, min PSNR %.1f dB\n", n, q);
	CHECK_EQ(n, FRAMES / 2);
	CHECK(q >= 30);
	for (int i = 0; i < FRAMES; i++)
		CHECK_EQ(tids[i], i % 2);
}

static void test_forced_keyframe_is_a_keyframe_and_restarts_layers(void)
{
	struct cx_vp8_enc *e = enc_open(320, 180, 150, 3);
	struct pic src;
	struct cx_vp8_frame f;
	uint8_t tid[12];
	bool key[12], sync[12];

	pic_alloc(&src, 320, 180);
	for (int i = 0; e && i < 12; i++) {
		pattern(&src, i);
		CHECK_EQ(cx_vp8_encode(e, &src.p, (uint64_t)i * TICKS, i == 6, &f), 0);
		key[i] = f.keyframe;
		tid[i] = f.tid;
		sync[i] = f.layer_sync;
	}
	for (int i = 0; i < 12; i++)
		CHECK_EQ(key[i], i == 0 || i == 6);
	/* 0 2 1 2 0 2 | K 2 1 2 0 2 */
	CHECK_EQ(tid[5], 2);
	CHECK_EQ(tid[6], 0);
	CHECK_EQ(tid[7], 2);
	CHECK_EQ(tid[8], 1);
	/* After a keyframe every buffer holds tid 0: the first frames of
	 * layers 1 and 2 are sync points; layer 1 always is. */
	CHECK(sync[7] && sync[8] && !sync[9] && sync[2] && !sync[5]);
	CHECK(!sync[4]);
	free(src.mem);
	cx_vp8_enc_free(&e);
}

static void test_set_bitrate_lowers_the_size(void)
{
	struct cx_vp8_enc *e = enc_open(640, 360, 1500, 1);
	struct pic src;
	struct cx_vp8_frame f;
	size_t hi = 0, lo = 0;

	pic_alloc(&src, 640, 360);
	for (int i = 0; e && i < 60; i++) {
		if (i == 30)
			CHECK_EQ(cx_vp8_enc_set_bitrate(e, 150), 0);
		pattern(&src, i);
		CHECK_EQ(cx_vp8_encode(e, &src.p, (uint64_t)i * TICKS, false, &f), 0);
		if (i >= 10 && i < 30)
			hi += f.len;
		if (i >= 40)
			lo += f.len;
	}
	printf("     1500k: %zu bytes/frame, 150k: %zu bytes/frame\n", hi / 20, lo / 20);
	CHECK(lo * 3 < hi);
	CHECK_EQ(cx_vp8_enc_set_bitrate(e, 1), EINVAL);
	free(src.mem);
	cx_vp8_enc_free(&e);
}

static void test_garbage_is_ebadmsg_and_decoder_recovers(void)
{
	struct cx_vp8_enc *e = enc_open(320, 180, 300, 1);
	struct cx_vp8_dec *d = NULL;
	struct cx_vp8_frame f;
	struct cx_picture out;
	struct pic src;
	uint8_t junk[2000], key[65536], delta[65536];
	size_t klen, dlen;
	uint32_t r = 12345;

	CHECK_EQ(cx_vp8_dec_new(&d), 0);
	pic_alloc(&src, 320, 180);
	pattern(&src, 0);
	CHECK_EQ(cx_vp8_encode(e, &src.p, 0, false, &f), 0);
	klen = f.len;
	memcpy(key, f.data, klen);
	pattern(&src, 1);
	CHECK_EQ(cx_vp8_encode(e, &src.p, TICKS, false, &f), 0);
	dlen = f.len;
	memcpy(delta, f.data, dlen);

	/* A delta frame before any keyframe has nothing to refer to. */
	CHECK_EQ(cx_vp8_decode(d, delta, dlen, &out), EBADMSG);
	for (int i = 0; i < 200; i++) {
		size_t n = 1 + i * 7 % sizeof(junk);
		for (size_t j = 0; j < n; j++) {
			r = r * 1103515245 + 12345;
			junk[j] = (uint8_t)(r >> 16);
		}
		CHECK_EQ(cx_vp8_decode(d, junk, n, &out), EBADMSG);
	}
	/* A keyframe cut short is corrupt too. */
	CHECK_EQ(cx_vp8_decode(d, key, klen / 3, &out), EBADMSG);
	CHECK_EQ(cx_vp8_decode(d, key, klen, &out), 0);
	CHECK_EQ(cx_vp8_decode(d, delta, dlen, &out), 0);
	CHECK(psnr(&src.p, &out) > 30);
	/* Garbage after a good frame: refused or decoded, never a crash. */
	for (int i = 0; i < 50; i++) {
		junk[0] = 0x01 | (uint8_t)(i << 1);
		int rc = cx_vp8_decode(d, junk, 100 + i, &out);
		CHECK(rc == 0 || rc == EAGAIN || rc == EBADMSG);
	}
	CHECK_EQ(cx_vp8_decode(d, key, klen, &out), 0);
	CHECK_EQ(cx_vp8_decode(d, NULL, 10, &out), EINVAL);
	/* A keyframe that claims 16000x9000 (RFC 6386 §9.1: 14-bit sizes
	 * after the start code) is refused before libvpx allocates. */
	key[6] = 16000 & 0xff;
	key[7] = 16000 >> 8;
	key[8] = 9000 & 0xff;
	key[9] = 9000 >> 8;
	CHECK_EQ(cx_vp8_decode(d, key, klen, &out), EBADMSG);
	free(src.mem);
	cx_vp8_dec_free(&d);
	cx_vp8_enc_free(&e);
}

static void test_bad_config_and_picture_are_einval(void)
{
	struct cx_vp8_enc_cfg cfg;
	struct cx_vp8_enc *e = NULL;
	struct cx_vp8_frame f;
	struct pic src;

	cx_vp8_enc_cfg_init(&cfg);
	cfg.width = 641;
	CHECK_EQ(cx_vp8_enc_new(&e, &cfg), EINVAL);
	cx_vp8_enc_cfg_init(&cfg);
	cfg.temporal_layers = 4;
	CHECK_EQ(cx_vp8_enc_new(&e, &cfg), EINVAL);
	CHECK(e == NULL);
	e = enc_open(320, 180, 150, 2);
	pic_alloc(&src, 640, 360);
	CHECK_EQ(cx_vp8_encode(e, &src.p, 0, false, &f), EINVAL);
	free(src.mem);
	cx_vp8_enc_free(&e);
	cx_vp8_enc_free(&e);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Not a check: what an encode costs here, for the design's numbers. */
static void test_encode_cost(void)
{
	static const int sizes[3][3] = {
	    {320, 180, 150}, {640, 360, 500}, {1280, 720, 1500}};
	static const int speeds[2] = {8, -16};

	for (int s = 0; s < 2; s++)
		for (int i = 0; i < 3; i++) {
			struct cx_vp8_enc_cfg cfg;
			struct cx_vp8_enc *e = NULL;
			struct cx_vp8_frame f;
			struct pic src;
			double t = 0;
			size_t bytes = 0;

			cx_vp8_enc_cfg_init(&cfg);
			cfg.width = sizes[i][0];
			cfg.height = sizes[i][1];
			cfg.bitrate_kbps = sizes[i][2];
			cfg.cpu_used = speeds[s];
			CHECK_EQ(cx_vp8_enc_new(&e, &cfg), 0);
			pic_alloc(&src, cfg.width, cfg.height);
			for (int k = 0; e && k < 60; k++) {
				pattern(&src, k);
				double t0 = now_ms();
				CHECK_EQ(cx_vp8_encode(e, &src.p, (uint64_t)k * TICKS,
						       false, &f),
					 0);
				if (k >= 10)
					t += now_ms() - t0;
				bytes += f.len;
			}
			printf(
			    "     cpu_used %3d %4dx%-3d %4d kbit/s: %.2f ms/frame, %zu "
			    "bytes/frame\n",
			    speeds[s], cfg.width, cfg.height, cfg.bitrate_kbps, t / 50,
			    bytes / 60);
			free(src.mem);
			cx_vp8_enc_free(&e);
		}
}

int main(void)
{
	RUN(test_360p_at_500k_keeps_30db);
	RUN(test_180p_at_150k_keeps_30db);
	RUN(test_three_layers_tid0_alone_decodes_at_quarter_rate);
	RUN(test_two_layers_tid0_alone_decodes_at_half_rate);
	RUN(test_forced_keyframe_is_a_keyframe_and_restarts_layers);
	RUN(test_set_bitrate_lowers_the_size);
	RUN(test_garbage_is_ebadmsg_and_decoder_recovers);
	RUN(test_bad_config_and_picture_are_einval);
	RUN(test_encode_cost);
	return check_report();
}
