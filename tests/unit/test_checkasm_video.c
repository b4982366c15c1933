/*
 * checkasm for the video kernels (mixer/dsp/video.h): every SIMD version
 * the build and this CPU have is run next to its C reference on random
 * and edge planes (1x1, odd widths 1..67, heights 1..9, up- and
 * downscales by 1.5, 2, 3, 4, 8, same size, padded strides, unaligned
 * pointers, all-0 and all-255, a 0/255 checkerboard). All kernels must
 * give the same bits as C (the scalers too: their fixed point leaves
 * nothing to the ISA), and none may write outside its destination
 * rectangle: each is surrounded by a guard pattern that is checked. The
 * source is allocated to end with its last row, so ASan builds catch an
 * over-read. The C scalers are checked against double-precision
 * definitions (within +-1), and the dispatch against the CPU mask.
 *
 * TUTTI_CHECKASM_SEED=<n> reruns with a given seed.
 */
#include <math.h>
#include <stdint.h>

#include "common/common.h"
#include "mixer/dsp/video.h"
#include "check.h"
#include "checkasm.h"

#define GUARD 24 /* guard samples around the destination, each side */

/* The SIMD versions of the video kernels, by checkasm.h's ISA. */
static void (*const versions[CHECKASM_ISAS + 1])(struct mx_video_dsp *dsp) = {
#if MX_ARCH_X86
    [CHECKASM_SSE2] = mx_video_dsp_init_sse2,
    [CHECKASM_AVX2] = mx_video_dsp_init_avx2,
#endif
};

static struct mx_video_dsp ref, new; /* C, and the version under test */

enum pattern { P_RANDOM, P_ZERO, P_FULL, P_CHECKER, P_RAMP, P_COUNT };

/* A source plane in a buffer that ends with its last row; the first
 * sample sits off an alignment boundary by off. Freed by the caller. */
struct plane {
	uint8_t *buf, *p;
	ptrdiff_t stride;
	int w, h;
};

static void plane_make(struct plane *pl, int w, int h, int pad, int off, enum pattern pat)
{
	size_t size = (size_t)(w + pad) * (size_t)(h - 1) + (size_t)w + (size_t)off;

	pl->buf = malloc(size);
	pl->p = pl->buf + off;
	pl->stride = w + pad;
	pl->w = w;
	pl->h = h;
	for (size_t i = 0; i < size; i++)
		pl->buf[i] = (uint8_t)rnd();
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *s = pl->p + y * pl->stride + x;

			switch (pat) {
			case P_ZERO:
				*s = 0;
				break;
			case P_FULL:
				*s = 255;
				break;
			case P_CHECKER:
				*s = ((x ^ y) & 1) ? 255 : 0;
				break;
			case P_RAMP:
				*s = (uint8_t)((x * 7 + y * 3) & 0xff);
				break;
			default:
				break;
			}
		}
}

/* A destination rectangle inside a guarded canvas: GUARD samples of a
 * known pattern on every side (more on the right when the stride is
 * padded). */
struct canvas {
	uint8_t buf[(1024 + 2 * GUARD + 32) * (360 + 2 * GUARD)];
	uint8_t *p;
	ptrdiff_t stride;
	int w, h, x0, used;
};

static struct canvas ca, cb;

static uint8_t guard_value(int i)
{
	return (uint8_t)(0xa5 ^ (i * 13));
}

static void canvas_reset(struct canvas *c, int w, int h, int pad, int off)
{
	c->stride = w + 2 * GUARD + pad + off;
	c->used = (int)c->stride * (h + 2 * GUARD);
	c->w = w;
	c->h = h;
	c->x0 = GUARD + off;
	c->p = c->buf + GUARD * c->stride + c->x0;
	for (int i = 0; i < c->used; i++)
		c->buf[i] = guard_value(i);
}

/* Every sample outside the rectangle still holds the guard pattern. */
static int canvas_guard_ok(const struct canvas *c)
{
	for (int y = 0, i = 0; y < c->h + 2 * GUARD; y++)
		for (int x = 0; x < c->stride; x++, i++) {
			int inside = y >= GUARD && y < GUARD + c->h && x >= c->x0 &&
				     x < c->x0 + c->w;

			if (!inside && c->buf[i] != guard_value(i))
				return 0;
		}
	return 1;
}

static void report(const char *fn, int dw, int dh, int sw, int sh, const char *why)
{
	static int printed;

	check_failures++;
	if (printed++ < 20)
		fprintf(stderr, "  %s_%s: %dx%d <- %dx%d: %s\n", fn, checkasm_isa, dw, dh,
			sw, sh, why);
}

typedef void (*scale_fn)(uint8_t *, ptrdiff_t, int, int, const uint8_t *, ptrdiff_t, int,
			 int);

/* One scale, C and SIMD, into guarded canvases with the same offsets. */
static void check_scale(int dw, int dh, int sw, int sh, enum pattern pat)
{
	struct plane s;
	int pad = (int)(rnd() % 3) * (int)(rnd() % 40), off = (int)(rnd() % 32);
	int dpad = (int)(rnd() % 2) * 17, doff = (int)(rnd() % 8);

	plane_make(&s, sw, sh, pad, off, pat);
	for (int k = 0; k < 2; k++) {
		scale_fn fr = k ? ref.scale_box : ref.scale_bilinear;
		scale_fn fn = k ? new.scale_box : new.scale_bilinear;
		const char *name = k ? "scale_box" : "scale_bilinear";

		canvas_reset(&ca, dw, dh, dpad, doff);
		canvas_reset(&cb, dw, dh, dpad, doff);
		fr(ca.p, ca.stride, dw, dh, s.p, s.stride, sw, sh);
		fn(cb.p, cb.stride, dw, dh, s.p, s.stride, sw, sh);
		if (memcmp(ca.buf, cb.buf, (size_t)ca.used))
			report(name, dw, dh, sw, sh, "differs from C");
		if (!canvas_guard_ok(&cb))
			report(name, dw, dh, sw, sh, "wrote outside the rectangle");
	}
	free(s.buf);
}

static void check_blit_fill_border(int w, int h, enum pattern pat)
{
	struct plane s;
	int off = (int)(rnd() % 32), doff = (int)(rnd() % 8);
	uint8_t v = (uint8_t)rnd();
	int t = (int)(rnd() % 6);

	plane_make(&s, w, h, (int)(rnd() % 20), off, pat);
	for (int k = 0; k < 3; k++) {
		static const char *names[] = {"blit", "fill", "border"};

		canvas_reset(&ca, w, h, 0, doff);
		canvas_reset(&cb, w, h, 0, doff);
		if (k == 0) {
			ref.blit(ca.p, ca.stride, s.p, s.stride, w, h);
			new.blit(cb.p, cb.stride, s.p, s.stride, w, h);
			for (int y = 0; y < h; y++)
				if (memcmp(cb.p + y * cb.stride, s.p + y * s.stride, (size_t)w))
					report("blit", w, h, w, h, "not a copy");
		} else if (k == 1) {
			ref.fill(ca.p, ca.stride, w, h, v);
			new.fill(cb.p, cb.stride, w, h, v);
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++)
					if (cb.p[y * cb.stride + x] != v)
						report("fill", w, h, w, h, "not filled");
		} else {
			ref.border(ca.p, ca.stride, w, h, t, v);
			new.border(cb.p, cb.stride, w, h, t, v);
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++) {
					int edge = x < t || y < t || x >= w - t || y >= h - t;
					int is_v = cb.p[y * cb.stride + x] == v;

					if (edge && !is_v)
						report("border", w, h, t, 0, "edge not drawn");
				}
		}
		if (memcmp(ca.buf, cb.buf, (size_t)ca.used))
			report(names[k], w, h, w, h, "differs from C");
		if (!canvas_guard_ok(&cb))
			report(names[k], w, h, w, h, "wrote outside the rectangle");
	}
	free(s.buf);
}

/* Destination sizes, and the source sizes that make every kind of scale
 * of them. */
static void check_isa(void)
{
	for (int dw = 1; dw <= 67; dw++) {
		int dh = 1 + dw % 9;
		int sws[] = {dw,     dw * 3 / 2 + 1, dw * 2,     dw * 3,
			     dw * 4, dw * 8,         dw / 2 + 1, 1 + (int)(rnd() % 200)};
		int shs[] = {dh,     dh * 3 / 2 + 1, dh * 2,     dh * 3,
			     dh * 4, dh * 8,         dh / 2 + 1, 1 + (int)(rnd() % 30)};

		for (size_t i = 0; i < CM_ARRAY_SIZE(sws); i++)
			check_scale(dw, dh, sws[i], shs[i], (enum pattern)(rnd() % P_COUNT));
		check_scale(dw, dh, dw * 2, dh * 2 + 1, P_RANDOM); /* uneven row spans */
		check_scale(dw, dh, dw * 4 + 3, dh * 4, P_RANDOM);
		for (int p = 0; p < P_COUNT; p++)
			check_blit_fill_border(dw, dh, (enum pattern)p);
	}
	/* The compositor's jobs, and spans past the SIMD limits (the SIMD
	 * versions fall back to C there: 300 rows in one span, and areas
	 * above 65536). */
	static const int jobs[][4] = {
	    {320, 180, 1280, 720}, {160, 90, 640, 360},  {320, 180, 640, 360},
	    {640, 360, 1280, 720}, {640, 360, 320, 180}, {426, 320, 640, 480},
	    {256, 144, 1280, 720}, {160, 90, 1280, 720}, {213, 120, 640, 361},
	    {1, 1, 1, 1},          {7, 5, 1, 1},         {8, 2, 8, 600},
	    {1, 1, 4096, 300},     {3, 1, 4096, 17},     {1024, 4, 4096, 8},
	    {256, 144, 640, 360},  {128, 72, 320, 180},  {64, 36, 640, 360}, /* 5x5 grid tiles */
	};
	for (size_t j = 0; j < CM_ARRAY_SIZE(jobs); j++)
		for (int p = 0; p < P_COUNT; p++)
			check_scale(jobs[j][0], jobs[j][1], jobs[j][2], jobs[j][3],
				    (enum pattern)p);
	for (int w = 96; w <= 1024; w = w * 2 + 7)
		check_blit_fill_border(w, 9, P_RANDOM);
}

static int has_version(int isa)
{
	return versions[isa] != NULL;
}

static void check_version(int isa)
{
	mx_video_dsp_init_c(&new);
	versions[isa](&new);
	check_isa();
}

static void simd_versions_match_c(void)
{
	mx_video_dsp_init_c(&ref);
	checkasm_versions_match_c(has_version, check_version,
				  " (all bit-exact with C, scalers included)");
}

/* |C - round(exact)| over every sample; exact from double arithmetic. */
static int bilinear_error(const struct plane *s, const uint8_t *d, int dw, int dh)
{
	int worst = 0;

	for (int y = 0; y < dh; y++)
		for (int x = 0; x < dw; x++) {
			double sx = (x + 0.5) * s->w / dw - 0.5, sy = (y + 0.5) * s->h / dh - 0.5;
			int x0, y0, x1, y1;
			double fx, fy, v;

			sx = sx < 0 ? 0 : sx > s->w - 1 ? s->w - 1 : sx;
			sy = sy < 0 ? 0 : sy > s->h - 1 ? s->h - 1 : sy;
			x0 = (int)sx;
			y0 = (int)sy;
			x1 = x0 + 1 < s->w ? x0 + 1 : x0;
			y1 = y0 + 1 < s->h ? y0 + 1 : y0;
			fx = sx - x0;
			fy = sy - y0;
#define S(xx, yy) ((double)s->p[(yy) * s->stride + (xx)])
			v = (S(x0, y0) * (1 - fx) + S(x1, y0) * fx) * (1 - fy) +
			    (S(x0, y1) * (1 - fx) + S(x1, y1) * fx) * fy;
#undef S
			worst = CM_MAX(worst, abs(d[y * dw + x] - (int)lround(v)));
		}
	return worst;
}

/* Box: the mean of the span rectangle, in double. Exact when A is a
 * power of two, so the caller may ask for 0. */
static int box_error(const struct plane *s, const uint8_t *d, int dw, int dh)
{
	int worst = 0;

	for (int y = 0; y < dh; y++)
		for (int x = 0; x < dw; x++) {
			long x0 = (long)x * s->w / dw, x1 = (long)(x + 1) * s->w / dw;
			long y0 = (long)y * s->h / dh, y1 = (long)(y + 1) * s->h / dh;
			double sum = 0;

			x1 = x1 > x0 ? x1 : x0 + 1;
			y1 = y1 > y0 ? y1 : y0 + 1;
			for (long yy = y0; yy < y1; yy++)
				for (long xx = x0; xx < x1; xx++)
					sum += s->p[yy * s->stride + xx];
			sum /= (double)((x1 - x0) * (y1 - y0));
			worst = CM_MAX(worst, abs(d[y * dw + x] - (int)floor(sum + 0.5)));
		}
	return worst;
}

static void c_reference_matches_definition(void)
{
	static const int cases[][4] = {
	    {7, 5, 3, 2},      {64, 36, 320, 180}, {640, 360, 320, 180}, {426, 320, 640, 480},
	    {33, 9, 100, 27},  {50, 50, 50, 50},   {320, 180, 1280, 720}, {256, 144, 1280, 720},
	    {3, 3, 1000, 900}, {1, 1, 4096, 300},  {100, 1, 4096, 1},     {17, 13, 5, 4},
	};
	static uint8_t d[640 * 360];
	struct mx_video_dsp c;
	int worst_bl = 0, worst_box = 0;

	mx_video_dsp_init_c(&c);
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++)
		for (int p = 0; p < P_COUNT; p++) {
			int dw = cases[i][0], dh = cases[i][1], sw = cases[i][2], sh = cases[i][3];
			struct plane s;
			int e;

			plane_make(&s, sw, sh, 5, 3, (enum pattern)p);
			c.scale_bilinear(d, dw, dw, dh, s.p, s.stride, sw, sh);
			worst_bl = CM_MAX(worst_bl, e = bilinear_error(&s, d, dw, dh));
			CHECK(e <= 1);
			if (dw == sw && dh == sh)
				for (int y = 0; y < dh; y++)
					CHECK(!memcmp(d + y * dw, s.p + y * s.stride, (size_t)dw));
			c.scale_box(d, dw, dw, dh, s.p, s.stride, sw, sh);
			worst_box = CM_MAX(worst_box, e = box_error(&s, d, dw, dh));
			CHECK(e <= 1);
			if (sw == 2 * dw && sh == 2 * dh) /* A = 4: exact rounding */
				CHECK_EQ(e, 0);
			if (p == P_ZERO || p == P_FULL) /* flat in, flat out */
				for (int k = 0; k < dw * dh; k++)
					CHECK_EQ(d[k], p == P_ZERO ? 0 : 255);
			free(s.buf);
		}
	printf("C vs double: bilinear max |error| %d, box max |error| %d\n", worst_bl,
	       worst_box);
}

/* The I420 helper puts each plane at the halved position and size, and
 * writes nothing else of the canvas. */
static void i420_helper_places_planes(void)
{
	static uint8_t canvas[3][160 * 90];
	struct plane s[3];
	struct mx_video_dsp c;
	int dstride[3] = {160, 80, 80}, sstride[3];
	uint8_t *dst[3] = {canvas[0], canvas[1], canvas[2]};
	const uint8_t *src[3];

	mx_video_dsp_init(&c, mx_cpu_flags());
	for (int p = 0; p < 3; p++) {
		plane_make(&s[p], p ? 32 : 64, p ? 24 : 48, 0, 0, P_RANDOM);
		src[p] = s[p].p;
		sstride[p] = (int)s[p].stride;
		memset(canvas[p], 7, sizeof(canvas[p]));
	}
	/* 64x48 -> 30x22 at (10, 6): a downscale by 2.1: an exact box by 2,
	 * then bilinear by 1.07. */
	mx_video_scale_i420(&c, dst, dstride, 10, 6, 30, 22, src, sstride, 64, 48);
	for (int p = 0; p < 3; p++) {
		int x0 = p ? 5 : 10, y0 = p ? 3 : 6, w = p ? 15 : 30, h = p ? 11 : 22;
		uint8_t want[30 * 22], half[32 * 24];

		c.scale_box(half, s[p].w / 2, s[p].w / 2, s[p].h / 2, s[p].p, s[p].stride,
			    s[p].w, s[p].h);
		c.scale_bilinear(want, w, w, h, half, s[p].w / 2, s[p].w / 2, s[p].h / 2);
		for (int y = 0; y < (p ? 45 : 90); y++)
			for (int x = 0; x < dstride[p]; x++) {
				int in = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
				uint8_t v = canvas[p][y * dstride[p] + x];

				CHECK(in ? v == want[(y - y0) * w + x - x0] : v == 7);
			}
		free(s[p].buf);
	}
}

/* A shrink by 2.5 (360p into a 256x144 tile) done as a box by 2, then
 * bilinear, stays within a few levels of the exact area average on a
 * smooth picture, on every plane. */
static void non_integer_shrink_close_to_box(void)
{
	enum { SW = 640, SH = 360, W = 256, H = 144 };
	static uint8_t src[3][SW * SH], out[3][W * H], want[W * H];
	const uint8_t *sp[3] = { src[0], src[1], src[2] };
	uint8_t *dp[3] = { out[0], out[1], out[2] };
	int ss[3] = { SW, SW / 2, SW / 2 }, ds[3] = { W, W / 2, W / 2 };
	struct mx_video_dsp c;
	int worst = 0;

	mx_video_dsp_init(&c, mx_cpu_flags());
	for (int p = 0; p < 3; p++)
		for (int y = 0; y < (p ? SH / 2 : SH); y++)
			for (int x = 0; x < (p ? SW / 2 : SW); x++)
				src[p][y * ss[p] + x] = (uint8_t)(16 + x * 100 / SW + y * 100 / SH +
								  (p ? 20 : 0));
	mx_video_scale_i420(&c, dp, ds, 0, 0, W, H, sp, ss, SW, SH);
	for (int p = 0; p < 3; p++) {
		int w = p ? W / 2 : W, h = p ? H / 2 : H;
		c.scale_box(want, w, w, h, src[p], ss[p], p ? SW / 2 : SW, p ? SH / 2 : SH);
		for (int i = 0; i < w * h; i++) {
			int d = abs(out[p][(i / w) * ds[p] + i % w] - want[i]);
			worst = d > worst ? d : worst;
		}
	}
	if (worst > 2)
		fprintf(stderr, "2.5x shrink: %d levels from the exact box\n", worst);
	CHECK(worst <= 2);
}

static int same_table(const struct mx_video_dsp *a, const struct mx_video_dsp *b)
{
	return a->scale_bilinear == b->scale_bilinear && a->scale_box == b->scale_box &&
	       a->blit == b->blit && a->fill == b->fill && a->border == b->border;
}

/* TUTTI_CPU_MASK=0 and TUTTI_FORCE_C=1 select the C versions; an
 * unmasked run selects the best version the CPU has. */
static void mask_and_force_c_select_c(void)
{
	struct mx_video_dsp c, d, best;
	struct checkasm_env env = checkasm_env_save();

	mx_video_dsp_init_c(&c);
	checkasm_setenv("0", NULL);
	mx_video_dsp_init(&d, mx_cpu_flags());
	CHECK(same_table(&d, &c));

	checkasm_setenv(NULL, "1");
	mx_video_dsp_init(&d, mx_cpu_flags());
	CHECK(same_table(&d, &c));

	checkasm_setenv(NULL, NULL);
	mx_video_dsp_init(&best, mx_cpu_flags());
#if MX_ARCH_X86
	if (mx_cpu_flags() & MX_CPU_AVX2) {
		mx_video_dsp_init_c(&d);
		mx_video_dsp_init_avx2(&d);
		CHECK(same_table(&d, &best));
		/* Masked down to SSE2: the SSE2 table, not AVX2's. */
		checkasm_setenv("0x1", NULL);
		mx_video_dsp_init(&best, mx_cpu_flags());
		mx_video_dsp_init_c(&d);
		mx_video_dsp_init_sse2(&d);
		CHECK(same_table(&d, &best));
		checkasm_setenv(NULL, NULL);
	}
#endif
	CHECK(mx_cpu_flags() == 0 || !same_table(&best, &c));

	checkasm_env_restore(&env);
}

int main(void)
{
	checkasm_init();
	RUN(c_reference_matches_definition);
	RUN(simd_versions_match_c);
	RUN(i420_helper_places_planes);
	RUN(non_integer_shrink_close_to_box);
	RUN(mask_and_force_c_select_c);
	return check_report();
}
