/*
 * C reference versions of the video kernels, the frame loops the SIMD
 * versions share, the dispatcher, and the I420 helper.
 *
 * These define the results (video.h gives the formulas): every SIMD
 * version must match them bit for bit. Positions and weights are
 * computed once per call into tables, from exact integer arithmetic, so
 * that no ISA can drift from another by accumulating a rounded step.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mixer/dsp/video.h"

/* ---- bilinear ---------------------------------------------------------- */

/*
 * Source positions of the dst samples 0..n-1 of a line of n, from n_src
 * samples, in units of 1 / 2^bits, rounded to nearest: (i + 0.5) * n_src
 * / n - 0.5 is ((2i + 1) * n_src - n) / (2n), so the rounded position is
 * floor((((2i + 1) * n_src - n) * 2^bits + n) / (2n)), clamped to
 * [0, (n_src - 1) << bits]. Walked with a quotient and a remainder, no
 * division per sample (a 64-bit divide per sample cost more than the
 * 2x box of a whole row).
 */
struct pos_iter {
	int64_t q, r, dq, dr, d, max;
};

static void pos_start(struct pos_iter *it, int n, int n_src, int bits)
{
	int64_t a = ((int64_t)n_src - n) * ((int64_t)1 << bits) + n;
	int64_t step = 2 * (int64_t)n_src << bits;

	it->d = 2 * (int64_t)n;
	it->q = a >= 0 ? a / it->d : -((-a + it->d - 1) / it->d); /* floor */
	it->r = a - it->q * it->d;
	it->dq = step / it->d;
	it->dr = step % it->d;
	it->max = (int64_t)(n_src - 1) << bits;
}

static int64_t pos_next(struct pos_iter *it)
{
	int64_t q = it->q < 0 ? 0 : it->q > it->max ? it->max : it->q;

	it->q += it->dq;
	it->r += it->dr;
	if (it->r >= it->d) {
		it->q++;
		it->r -= it->d;
	}
	return q;
}

static void bl_cols_init(struct mx_video_bl_cols *c, int dw, int sw)
{
	struct pos_iter it;

	pos_start(&it, dw, sw, 14);
	c->window = 1;
	for (int x = 0; x < dw; x++) {
		int64_t q = pos_next(&it);
		int32_t f = (int32_t)(q & 16383);
		int d;

		c->idx[x] = (int32_t)(q >> 14);
		c->w[x] = (16384 - f) | f << 16;
		/* The tap pair's byte offset from the first of its group of 4. */
		d = 2 * (c->idx[x] - c->idx[x & ~3]);
		if (d > 12) {
			c->window = 0;
			d = 0;
		}
		c->shuf[x] = (uint32_t)d * 0x01010101u + 0x03020100u;
	}
}

void mx_video_bl_vrow_c(uint16_t *t, const uint8_t *a, const uint8_t *b, int f, int n)
{
	/* a * (256 - f) + b * f, written so that it is also what 16-bit
	 * SIMD lanes compute: the product wraps, the sum lands in range. */
	for (int j = 0; j < n; j++)
		t[j] = (uint16_t)(a[j] * 256 + (b[j] - a[j]) * f);
}

void mx_video_bl_hrow_c(uint8_t *dst, const uint16_t *t, const struct mx_video_bl_cols *c,
			int x0, int x1)
{
	for (int x = x0; x < x1; x++) {
		const uint16_t *p = t + c->idx[x];
		uint32_t w = (uint32_t)c->w[x];
		uint32_t s = p[0] * (w & 0xffff) + p[1] * (w >> 16);

		dst[x] = (uint8_t)((s + (1u << 21)) >> 22);
	}
}

/* Vertical pass into t (one row of sw), then horizontal into dst. */
void mx_video_bilinear_tmpl(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			    const uint8_t *src, ptrdiff_t ss, int sw, int sh,
			    mx_video_bl_vrow_fn vrow, mx_video_bl_hrow_fn hrow)
{
	struct mx_video_bl_cols c;
	struct pos_iter it;
	uint16_t t[MX_VIDEO_MAX_DIM + 8];

	bl_cols_init(&c, dw, sw);
	memset(t, 0, sizeof(t)); /* defined bytes past t[sw] for windowed loads */
	pos_start(&it, dh, sh, 8);
	for (int y = 0; y < dh; y++) {
		int64_t q = pos_next(&it);
		int r0 = (int)(q >> 8), f = (int)(q & 255);
		int r1 = r0 + 1 < sh ? r0 + 1 : r0;

		vrow(t, src + r0 * ss, src + r1 * ss, f, sw);
		t[sw] = t[sw - 1];
		hrow(dst + y * ds, t, &c, 0, dw);
	}
}

static void scale_bilinear_c(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			     const uint8_t *src, ptrdiff_t ss, int sw, int sh)
{
	mx_video_bilinear_tmpl(dst, ds, dw, dh, src, ss, sw, sh, mx_video_bl_vrow_c,
			       mx_video_bl_hrow_c);
}

/* ---- box --------------------------------------------------------------- */

static void box_cols_init(struct mx_video_box_cols *c, int dw, int sw)
{
	c->sw = sw;
	c->dw = dw;
	c->fx = sw % dw == 0 ? sw / dw : 0;
	c->nxmin = MX_VIDEO_MAX_DIM;
	/* x1 = floor((x + 1) * sw / dw) by quotient and remainder. */
	for (int x = 0, x1 = 0, r = 0; x < dw; x++) {
		int x0 = x1, end;

		x1 += sw / dw;
		r += sw % dw;
		if (r >= dw) {
			x1++;
			r -= dw;
		}
		end = x1 > x0 ? x1 : x0 + 1; /* an upscale: nearest neighbour */
		c->x0[x] = (uint16_t)x0;
		c->nx[x] = (uint16_t)(end - x0);
		if (end - x0 < c->nxmin)
			c->nxmin = end - x0;
	}
}

/* round(2^k / A), with k = 24 while S * m + 2^23 fits 32 bits (A <=
 * 65536: the SIMD rows' arithmetic), 40 beyond (C only). */
static void box_norm_init(struct mx_video_box_norm *nm, int nxmin, int ny)
{
	for (int i = 0; i < 2; i++) {
		uint64_t a = (uint64_t)(nxmin + i) * (uint64_t)ny;

		nm->k[i] = a <= 65536 ? 24 : 40;
		nm->m[i] = (((uint64_t)1 << nm->k[i]) + a / 2) / a;
	}
}

static inline uint8_t box_norm(const struct mx_video_box_norm *nm, uint32_t s, int i)
{
	return (uint8_t)(((uint64_t)s * nm->m[i] + ((uint64_t)1 << (nm->k[i] - 1))) >>
			 nm->k[i]);
}

void mx_video_box_span_c(uint8_t *dst, const uint8_t *src, ptrdiff_t ss, int ny,
			 const struct mx_video_box_cols *c,
			 const struct mx_video_box_norm *nm, int x0, int x1)
{
	for (int x = x0; x < x1; x++) {
		const uint8_t *p = src + c->x0[x];
		uint32_t s = 0;

		for (int r = 0; r < ny; r++, p += ss)
			for (int i = 0; i < c->nx[x]; i++)
				s += p[i];
		dst[x] = box_norm(nm, s, c->nx[x] - c->nxmin);
	}
}

void mx_video_box_hrow_c(uint8_t *dst, const uint16_t *cs,
			 const struct mx_video_box_cols *c,
			 const struct mx_video_box_norm *nm, int x0, int x1)
{
	/* Locals and restrict: dst is a char pointer, and without them every
	 * store would make the compiler reload the tables. */
	uint8_t *restrict d = dst;
	const uint16_t *restrict ox = c->x0, *restrict nx = c->nx;
	int nxmin = c->nxmin;

	if (nm->k[0] == 24 && nm->k[1] == 24) { /* 32 bits hold S * m + 2^23 */
		uint32_t m[2] = {(uint32_t)nm->m[0], (uint32_t)nm->m[1]};

		for (int x = x0; x < x1; x++) {
			const uint16_t *p = cs + ox[x];
			uint32_t s = 0;

			for (int i = 0; i < nx[x]; i++)
				s += p[i];
			d[x] = (uint8_t)((s * m[nx[x] - nxmin] + (1u << 23)) >> 24);
		}
		return;
	}
	for (int x = x0; x < x1; x++) {
		const uint16_t *p = cs + ox[x];
		uint32_t s = 0;

		for (int i = 0; i < nx[x]; i++)
			s += p[i];
		d[x] = box_norm(nm, s, nx[x] - nxmin);
	}
}

static void box_row_c(uint8_t *dst, const uint8_t *src, ptrdiff_t ss, int ny,
		      const struct mx_video_box_cols *c, const struct mx_video_box_norm *nm)
{
	mx_video_box_span_c(dst, src, ss, ny, c, nm, 0, c->dw);
}

/* Rows are spanned like columns: [floor(y * sh / dh), floor((y + 1) *
 * sh / dh)), at least one. */
void mx_video_box_tmpl(uint8_t *dst, ptrdiff_t ds, int dw, int dh, const uint8_t *src,
		       ptrdiff_t ss, int sw, int sh, mx_video_box_row_fn row)
{
	struct mx_video_box_cols c;
	struct mx_video_box_norm nm;
	int nm_ny = 0; /* the ny nm was made for: spans take 1 or 2 sizes */

	box_cols_init(&c, dw, sw);
	for (int y = 0, y1 = 0, r = 0; y < dh; y++) {
		int y0 = y1, ny;

		y1 += sh / dh;
		r += sh % dh;
		if (r >= dh) {
			y1++;
			r -= dh;
		}
		ny = y1 > y0 ? y1 - y0 : 1;
		if (ny != nm_ny)
			box_norm_init(&nm, c.nxmin, nm_ny = ny);
		row(dst + y * ds, src + y0 * ss, ss, ny, &c, &nm);
	}
}

int mx_video_box_simd_ok(int dw, int dh, int sw, int sh)
{
	int nx = (sw + dw - 1) / dw, ny = (sh + dh - 1) / dh; /* widest spans */

	return ny <= 256 && nx * ny <= 65536;
}

void mx_video_scale_box_c(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			  const uint8_t *src, ptrdiff_t ss, int sw, int sh)
{
	mx_video_box_tmpl(dst, ds, dw, dh, src, ss, sw, sh, box_row_c);
}

/* ---- blit, fill, border ------------------------------------------------ */

static void blit_c(uint8_t *dst, ptrdiff_t ds, const uint8_t *src, ptrdiff_t ss, int w,
		   int h)
{
	for (int y = 0; y < h; y++)
		memcpy(dst + y * ds, src + y * ss, (size_t)w);
}

static void fill_c(uint8_t *dst, ptrdiff_t ds, int w, int h, uint8_t v)
{
	for (int y = 0; y < h; y++)
		memset(dst + y * ds, v, (size_t)w);
}

/* Top and bottom bands across the whole width, then the left and right
 * strips of the rows between; bands and strips never cross, so a thick
 * t on a small rectangle just fills it. */
static void border_c(uint8_t *dst, ptrdiff_t ds, int w, int h, int t, uint8_t v)
{
	int top, bottom, left, right;

	if (t <= 0)
		return;
	top = t < h ? t : h;
	bottom = h - t > top ? h - t : top;
	left = t < w ? t : w;
	right = w - t > left ? w - t : left;
	for (int y = 0; y < h; y++) {
		uint8_t *row = dst + y * ds;

		if (y < top || y >= bottom) {
			memset(row, v, (size_t)w);
		} else {
			memset(row, v, (size_t)left);
			memset(row + right, v, (size_t)(w - right));
		}
	}
}

/* ---- tables ------------------------------------------------------------ */

void mx_video_dsp_init_c(struct mx_video_dsp *dsp)
{
	dsp->scale_bilinear = scale_bilinear_c;
	dsp->scale_box = mx_video_scale_box_c;
	dsp->blit = blit_c;
	dsp->fill = fill_c;
	dsp->border = border_c;
}

/* Upgrades in order of preference: a later set overwrites what an
 * earlier one filled in, and leaves the rest. */
void mx_video_dsp_init(struct mx_video_dsp *dsp, unsigned flags)
{
	mx_video_dsp_init_c(dsp);
#if MX_ARCH_X86
	if (flags & MX_CPU_SSE2)
		mx_video_dsp_init_sse2(dsp);
	if (flags & MX_CPU_AVX2)
		mx_video_dsp_init_avx2(dsp);
#else
	(void)flags;
#endif
}

/* The luma decides the filter for all three planes, so that the chroma
 * of an odd-sized picture (rounded up) is not filtered differently. */
#ifdef TUTTI_HAVE_LIBYUV
#include <libyuv/scale.h>

/* perf/RESULTS.md: libyuv's dedicated paths beat our kernels by about
 * 1.5x on exact 2x scales (180p->360p up, 360p->180p down), so those jobs
 * go to libyuv; every other size uses ours. Returns false if not taken. */
static bool scale_i420_libyuv(uint8_t *const dst[3], const int dst_stride[3], int x,
			      int y, int w, int h, const uint8_t *const src[3],
			      const int src_stride[3], int sw, int sh)
{
	bool up = w == 2 * sw && h == 2 * sh, down = sw == 2 * w && sh == 2 * h;

	if (!up && !down)
		return false;
	return I420Scale(src[0], src_stride[0], src[1], src_stride[1], src[2],
			 src_stride[2], sw, sh,
			 dst[0] + (ptrdiff_t)y * dst_stride[0] + x, dst_stride[0],
			 dst[1] + (ptrdiff_t)(y >> 1) * dst_stride[1] + (x >> 1), dst_stride[1],
			 dst[2] + (ptrdiff_t)(y >> 1) * dst_stride[2] + (x >> 1), dst_stride[2],
			 w, h, up ? kFilterBilinear : kFilterBox) == 0;
}
#endif

/* A box shrink by a factor that is not a whole number takes a scalar
 * horizontal pass (perf/RESULTS.md: 360p->256x144 ~190 us, 360p->180p
 * ~10): such a shrink is done as an exact box by k = 2 or 4 first, then
 * bilinear for the rest, when that is less than 1.5 both ways (bilinear
 * shrinking by more would skip source pixels). Returns k, or 1: one box
 * pass. k divides the chroma planes too. */
static int box_first_by(int w, int h, int sw, int sh)
{
	if (sw % w == 0 && sh % h == 0)
		return 1;
	for (int k = 4; k >= 2; k -= 2)
		if (sw % (2 * k) == 0 && sh % (2 * k) == 0 && sw >= k * w && sh >= k * h &&
		    2 * sw < 3 * k * w && 2 * sh < 3 * k * h)
			return k;
	return 1;
}

void mx_video_scale_i420(const struct mx_video_dsp *dsp, uint8_t *const dst[3],
			 const int dst_stride[3], int x, int y, int w, int h,
			 const uint8_t *const src[3], const int src_stride[3], int sw,
			 int sh)
{
	int box = sw >= 2 * w && sh >= 2 * h;
	int k = box ? box_first_by(w, h, sw, sh) : 1;
	uint8_t *tmp = k > 1 ? malloc((size_t)(sw / k) * (size_t)(sh / k)) : NULL;

#ifdef TUTTI_HAVE_LIBYUV
	if (scale_i420_libyuv(dst, dst_stride, x, y, w, h, src, src_stride, sw, sh)) {
		free(tmp);
		return;
	}
#endif

	for (int p = 0; p < 3; p++) {
		int sub = p ? 1 : 0;
		int dw = (w + sub) >> sub, dh = (h + sub) >> sub;
		int pw = (sw + sub) >> sub, ph = (sh + sub) >> sub;
		uint8_t *d = dst[p] + (ptrdiff_t)(y >> sub) * dst_stride[p] + (x >> sub);

		if (tmp) {
			dsp->scale_box(tmp, pw / k, pw / k, ph / k, src[p], src_stride[p], pw, ph);
			dsp->scale_bilinear(d, dst_stride[p], dw, dh, tmp, pw / k, pw / k, ph / k);
			continue;
		}
		(box ? dsp->scale_box : dsp->scale_bilinear)(d, dst_stride[p], dw, dh,
							     src[p], src_stride[p], pw,
							     ph);
	}
	free(tmp);
}
