/*
 * A shared slide stays readable at the 1280x720 tier. A 1280x720 slide
 * of small dark text on white (the hardest case for a video encoder:
 * one-pixel strokes) is scaled into the screen tile of the 1280x720
 * canvas (1068x600, as the screen layout puts it), with a moving camera
 * picture in the small tile beside it, and encoded for 4 s (a second
 * slide after 2 s) by an encoder
 * set up like the room's largest tier (1500 kbit/s, 15 fps, 2 temporal
 * layers, fastest speed). What decodes is compared with the canvas in the
 * screen's rectangle: PSNR of the luma over the whole rectangle, and of
 * its worst 16x16 block (a blurred word shows there first).
 *
 * Tuned for screen content (CX_VP8_SCREEN, as the room does while a
 * screen is shown) it must reach the *_MIN_* figures in the frame that
 * brings the second slide and in the last one, and beat the camera
 * settings by 3 dB at the change; the figures of both are printed (see
 * docs/screen.md).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "mixer/dsp/video.h"
#include "tests/unit/check.h"

#define W      1280
#define H      720
#define FPS    15
#define FRAMES 60
#define KBPS   1500
/* The screen tile of the screen layout at 1280x720 (mixer/layout.c). */
#define SX    0
#define SY    60
#define SW    1068
#define SH    600
#define CAM_X 1068
#define CAM_Y 300
#define CAM_W 212
#define CAM_H 118

/* Measured (docs/screen.md), screen settings: the frame that brings a new
 * slide 38.9 dB (worst block 35.4), settled 41.9 dB (37.8); camera
 * settings 31.5 (27.4) and 37.7 (33.7). The bars sit below the screen
 * figures with a margin for other libvpx builds, and above the camera
 * figures at the slide change (where text smears first). */
#define CHANGE_MIN_DB        37.0
#define CHANGE_MIN_BLOCK_DB  33.0
#define SETTLED_MIN_DB       40.0
#define SETTLED_MIN_BLOCK_DB 36.0

struct frame {
	uint8_t *buf;
	struct cx_picture pic;
};

static void frame_alloc(struct frame *f, int w, int h)
{
	size_t ysz = (size_t)w * h;

	f->buf = malloc(ysz * 3 / 2);
	f->pic = (struct cx_picture){
	    .plane = {f->buf, f->buf + ysz, f->buf + ysz + ysz / 4},
	    .stride = {w, w / 2, w / 2},
	    .width = w,
	    .height = h,
	};
}

static uint32_t rng = 12345;

static uint32_t next(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

/* A slide: a dark title bar, then lines of "words" made of 5x7 glyphs
 * with one-pixel strokes (about a 10 px font), on white. */
static void make_slide(struct frame *s)
{
	uint8_t *y = s->pic.plane[0];

	memset(s->buf, 128, (size_t)W * H * 3 / 2);
	memset(y, 235, (size_t)W * H);
	for (int r = 30; r < 90; r++)
		memset(y + r * W + 40, 40, W - 80);
	for (int line = 0; line < 40; line++) {
		int top = 120 + line * 14, x = 60;
		while (x < W - 80) {
			int word = 2 + (int)(next() % 8);
			for (int g = 0; g < word; g++, x += 7) {
				uint32_t bits = next();
				for (int gy = 0; gy < 7; gy++)
					for (int gx = 0; gx < 5; gx++)
						if (bits >> ((gy * 5 + gx) % 24) & 1)
							y[(top + gy) * W + x + gx] = 20;
			}
			x += 7;
		}
	}
}

/* A camera picture that changes every frame (a moving gradient). */
static void draw_camera(const struct mx_video_dsp *dsp, struct frame *c, int n)
{
	static uint8_t cam[CAM_W * CAM_H], cu[CAM_W * CAM_H / 4], cv[CAM_W * CAM_H / 4];
	const uint8_t *src[3] = {cam, cu, cv};
	const int ss[3] = {CAM_W, CAM_W / 2, CAM_W / 2};

	for (int r = 0; r < CAM_H; r++)
		for (int x = 0; x < CAM_W; x++)
			cam[r * CAM_W + x] =
			    (uint8_t)(60 + ((x * 3 + r * 2 + n * 9) & 127));
	memset(cu, 110, sizeof(cu));
	memset(cv, 150, sizeof(cv));
	mx_video_scale_i420(dsp, c->pic.plane, c->pic.stride, CAM_X, CAM_Y, CAM_W, CAM_H,
			    src, ss, CAM_W, CAM_H);
}

static double psnr(double mse)
{
	return mse <= 1e-10 ? 99.0 : 10.0 * log10(255.0 * 255.0 / mse);
}

/* Luma PSNR of the screen rectangle, overall and of its worst 16x16 block. */
static void compare(const struct cx_picture *a, const struct cx_picture *b, double *all,
		    double *worst)
{
	double sum = 0, worst_mse = 0;

	for (int by = SY; by < SY + SH; by += 16)
		for (int bx = SX; bx < SX + SW; bx += 16) {
			double bs = 0;
			int n = 0;
			for (int y = by; y < by + 16 && y < SY + SH; y++)
				for (int x = bx; x < bx + 16 && x < SX + SW; x++, n++) {
					int d = a->plane[0][y * a->stride[0] + x] -
						b->plane[0][y * b->stride[0] + x];
					bs += d * d;
				}
			sum += bs;
			if (bs / n > worst_mse)
				worst_mse = bs / n;
		}
	*all = psnr(sum / ((double)SW * SH));
	*worst = psnr(worst_mse);
}

/* TUTTI_TEST_SCREEN_DUMP=dir: the screen rectangle's luma as PGM, to look at. */
static void dump(const char *name, const struct cx_picture *p)
{
	const char *dir = getenv("TUTTI_TEST_SCREEN_DUMP");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.pgm", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fprintf(f, "P5 %d %d 255\n", SW, SH);
	for (int y = SY; y < SY + SH; y++)
		fwrite(p->plane[0] + y * p->stride[0] + SX, 1, SW, f);
	fclose(f);
}

struct figures {
	double change_db, change_block_db;   /* the first frame of the second slide */
	double settled_db, settled_block_db; /* the last frame */
	size_t change_bytes;                 /* the frame that brings the second slide */
	size_t bytes;                        /* all frames */
};

/* Slide 1 for FRAMES / 2 frames, then slide 2 (another text): the
 * figures of the frame that shows the change and of the last one. */
static void run(enum cx_vp8_content content, struct figures *fg)
{
	struct mx_video_dsp dsp;
	struct frame slide, canvas;
	struct cx_vp8_enc *enc = NULL;
	struct cx_vp8_dec *dec = NULL;
	struct cx_vp8_enc_cfg ec;
	struct cx_picture out = {0};
	bool have = false;

	memset(fg, 0, sizeof(*fg));
	mx_video_dsp_init(&dsp, mx_cpu_flags());
	rng = 12345;
	frame_alloc(&slide, W, H);
	frame_alloc(&canvas, W, H);
	memset(canvas.buf, 16, (size_t)W * H);
	memset(canvas.buf + W * H, 128, (size_t)W * H / 2);
	cx_vp8_enc_cfg_init(&ec);
	ec.width = W;
	ec.height = H;
	ec.fps = FPS;
	ec.bitrate_kbps = KBPS;
	ec.temporal_layers = 2;
	ec.cpu_used = -16;
	CHECK_EQ(cx_vp8_enc_new(&enc, &ec), 0);
	CHECK_EQ(cx_vp8_dec_new(&dec), 0);
	CHECK_EQ(cx_vp8_enc_set_content(enc, content), 0);
	for (int n = 0; n < FRAMES && enc && dec; n++) {
		struct cx_vp8_frame f;
		if (n == 0 || n == FRAMES / 2) {
			make_slide(&slide);
			mx_video_scale_i420(&dsp, canvas.pic.plane, canvas.pic.stride, SX,
					    SY, SW, SH,
					    (const uint8_t *const *)slide.pic.plane,
					    slide.pic.stride, W, H);
		}
		draw_camera(&dsp, &canvas, n);
		have = false;
		if (cx_vp8_encode(enc, &canvas.pic, (uint64_t)n * 90000 / FPS, false, &f))
			continue;
		fg->bytes += f.len;
		have = cx_vp8_decode(dec, f.data, f.len, &out) == 0;
		if (n == FRAMES / 2) {
			fg->change_bytes = f.len;
			if (have)
				compare(&out, &canvas.pic, &fg->change_db,
					&fg->change_block_db);
			if (have)
				dump(content == CX_VP8_SCREEN ? "change-screen"
							      : "change-camera",
				     &out);
			dump("source", &canvas.pic);
		}
	}
	CHECK(have);
	if (have)
		compare(&out, &canvas.pic, &fg->settled_db, &fg->settled_block_db);
	cx_vp8_enc_free(&enc);
	cx_vp8_dec_free(&dec);
	free(slide.buf);
	free(canvas.buf);
}

static void print(const char *what, const struct figures *f)
{
	printf("  %s: slide change %.1f dB (worst block %.1f dB, %zu bytes); "
	       "settled %.1f dB (worst block %.1f dB); %.0f kbit/s\n",
	       what, f->change_db, f->change_block_db, f->change_bytes, f->settled_db,
	       f->settled_block_db, f->bytes * 8.0 * FPS / FRAMES / 1000);
}

static void slide_text_stays_readable_at_720p(void)
{
	struct figures cam, scr;

	run(CX_VP8_CAMERA, &cam);
	run(CX_VP8_SCREEN, &scr);
	printf(
	    "screen rectangle %dx%d of a %dx%d canvas at %d kbit/s, %d frames, PSNR-Y:\n",
	    SW, SH, W, H, KBPS, FRAMES);
	print("camera settings", &cam);
	print("screen settings", &scr);
	CHECK(scr.change_db >= CHANGE_MIN_DB);
	CHECK(scr.change_block_db >= CHANGE_MIN_BLOCK_DB);
	CHECK(scr.settled_db >= SETTLED_MIN_DB);
	CHECK(scr.settled_block_db >= SETTLED_MIN_BLOCK_DB);
	CHECK(scr.change_db > cam.change_db + 3);
	/* What it costs stays near the tier's rate over the two slides. */
	CHECK(scr.bytes * 8.0 * FPS / FRAMES / 1000 < KBPS * 1.6);
}

static void content_is_checked(void)
{
	struct cx_vp8_enc_cfg ec;
	struct cx_vp8_enc *enc = NULL;

	cx_vp8_enc_cfg_init(&ec);
	CHECK_EQ(cx_vp8_enc_set_content(NULL, CX_VP8_SCREEN), EINVAL);
	CHECK_EQ(cx_vp8_enc_new(&enc, &ec), 0);
	CHECK_EQ(cx_vp8_enc_set_content(enc, (enum cx_vp8_content)7), EINVAL);
	CHECK_EQ(cx_vp8_enc_set_content(enc, CX_VP8_SCREEN), 0);
	CHECK_EQ(cx_vp8_enc_set_content(enc, CX_VP8_CAMERA), 0);
	cx_vp8_enc_free(&enc);
}

int main(void)
{
	RUN(content_is_checked);
	RUN(slide_text_stays_readable_at_720p);
	return check_report();
}
