/*
 * mixer/dsp/video.h — the video compositing kernels, internal to the
 * media code: scale a decoded picture's plane into its tile of a canvas,
 * blit, fill the background, draw the active speaker's border.
 *
 * Same shape as the audio kernels (dsp.h): one table of function
 * pointers, filled with the C versions first, then upgraded per
 * instruction set by mx_video_dsp_init() from mx_cpu_flags(). Every
 * kernel works on one 8-bit plane; I420 is three calls (see
 * mx_video_scale_i420).
 *
 * Every SIMD version gives bit-for-bit the result of its C reference
 * (the fixed-point definitions below leave nothing to the order of
 * operations); tests/unit/test_checkasm_video.c checks this, and that
 * nothing outside the destination rectangle is written.
 *
 * Common contract of all kernels (cf. FFmpeg's libavutil/float_dsp.h):
 *  - widths and heights from 1 to MX_VIDEO_MAX_DIM, odd sizes included;
 *  - strides >= the width of their rectangle (a stride may be negative
 *    to walk a picture bottom-up; rows must not overlap);
 *  - no alignment is required of any pointer or stride;
 *  - only the w x h (dw x dh) destination rectangle is written, and only
 *    the sw x sh source rectangle is read (no over-read past a row's end,
 *    so the last row may end at the end of an allocation);
 *  - destination and source must not overlap.
 */
#ifndef TUTTI_MIXER_DSP_VIDEO_H
#define TUTTI_MIXER_DSP_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "mixer/dsp/dsp.h" /* MX_CPU_*, MX_ARCH_*, mx_cpu_flags() */

/* Largest width or height any kernel accepts: the kernels keep per-call
 * tables of this size on the stack (no allocation on the hot path). */
#define MX_VIDEO_MAX_DIM 4096

struct mx_video_dsp {
	/*
	 * Bilinear scale of a sw x sh plane to dw x dh, any ratio (up or
	 * down), centre-aligned: dst sample x sits at source position
	 * sx = (x + 0.5) * sw / dw - 0.5, clamped to [0, sw - 1] (the same
	 * for y), as for chroma that is sited between the luma samples. The
	 * 2x2 taps are weighted in fixed point:
	 *   fy = round(256 * frac(sy))        (8 bits, vertical)
	 *   fx = round(16384 * frac(sx))      (14 bits, horizontal)
	 *   t  = a * 256 + (b - a) * fy       (a, b the two source rows)
	 *   d  = (t0 * (16384 - fx) + t1 * fx + 2^21) >> 22
	 * (positions rounded exactly, from integers, not from a stepped
	 * accumulator), so |d - exact bilinear| < 1.01: within +-1 of the
	 * double-precision result. Same size is an exact copy. Good for
	 * upscales and downscales by less than 2; below that it aliases.
	 */
	void (*scale_bilinear)(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			       const uint8_t *src, ptrdiff_t ss, int sw, int sh);
	/*
	 * Box (area) filter: dst sample x averages the source columns
	 * [floor(x * sw / dw), floor((x + 1) * sw / dw)) (at least one) and
	 * the rows likewise: S the sum of the nx * ny = A samples,
	 *   d = (S * m + 2^(k - 1)) >> k,  m = round(2^k / A),
	 *   k = 24 when A <= 65536, else 40,
	 * within +-1 of the exact average (exact rounding when A is a power
	 * of two: 2x2, 4x4, 8x8). For downscales by 2 or more; on an
	 * upscale it degenerates to nearest neighbour.
	 */
	void (*scale_box)(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			  const uint8_t *src, ptrdiff_t ss, int sw, int sh);
	/* Bit-exact copy of a w x h rectangle. */
	void (*blit)(uint8_t *dst, ptrdiff_t ds, const uint8_t *src, ptrdiff_t ss,
		     int w, int h);
	/* Sets every sample of the w x h rectangle to v. */
	void (*fill)(uint8_t *dst, ptrdiff_t ds, int w, int h, uint8_t v);
	/*
	 * A frame of thickness t (>= 0) just inside the w x h rectangle, value
	 * v; the inside is left alone. t larger than half the rectangle fills
	 * it. The caller halves t for the chroma planes.
	 */
	void (*border)(uint8_t *dst, ptrdiff_t ds, int w, int h, int t, uint8_t v);
};

/* Fills dsp with the C versions, then with the best versions that flags
 * (usually mx_cpu_flags()) allow. */
void mx_video_dsp_init(struct mx_video_dsp *dsp, unsigned flags);

/* Per instruction set: each overwrites the entries it has a faster
 * version of. For mx_video_dsp_init and the checkasm test; call only
 * when the CPU has that instruction set. */
void mx_video_dsp_init_c(struct mx_video_dsp *dsp);
#if MX_ARCH_X86
void mx_video_dsp_init_sse2(struct mx_video_dsp *dsp);
void mx_video_dsp_init_avx2(struct mx_video_dsp *dsp);
#endif

/*
 * Scales a whole I420 picture (sw x sh, planes src[0..2]) into the w x h
 * rectangle at (x, y) of an I420 canvas (planes dst[0..2]): box when the
 * picture shrinks by 2 or more in both directions, bilinear otherwise
 * (upscales included); a shrink by 2 to 3 or 4 to 6 that is not a whole
 * number is an exact box by 2 or 4 first, then bilinear for the rest
 * (less than 1.5), when the sizes divide. x and y must be even (the chroma rectangle is then
 * at (x / 2, y / 2), (w + 1) / 2 x (h + 1) / 2); the source chroma planes
 * are (sw + 1) / 2 x (sh + 1) / 2. All sizes 1..MX_VIDEO_MAX_DIM. Only
 * the rectangle is written: letterboxing is the caller's (fill). Borrows
 * every pointer for the call only.
 */
void mx_video_scale_i420(const struct mx_video_dsp *dsp, uint8_t *const dst[3],
			 const int dst_stride[3], int x, int y, int w, int h,
			 const uint8_t *const src[3], const int src_stride[3], int sw,
			 int sh);

/* ---- internals shared by the per-ISA files (video_*.c) --------------- */

/*
 * Bilinear: the frame loop is shared (mx_video_bilinear_tmpl); an ISA
 * supplies the two row passes. vrow makes t[j] = a[j] * 256 +
 * (b[j] - a[j]) * f for j < n (uint16, exact). hrow makes dst samples
 * [x0, x1) of a row from t, which holds sw + 1 entries (t[sw] repeats
 * t[sw - 1] so the right tap of the last column is always readable),
 * then 7 more (zero) so that 8 samples can be loaded from any tap.
 */
struct mx_video_bl_cols {
	int32_t idx[MX_VIDEO_MAX_DIM]; /* left tap */
	int32_t w[MX_VIDEO_MAX_DIM];   /* (16384 - fx) | fx << 16: pmaddwd pairs */
	/* pshufb bytes picking x's tap pair out of the 8 samples of t at
	 * idx[x & ~3]; usable when window (every group of 4 outputs reads
	 * within 8 samples: upscales and downscales by less than ~2). */
	uint32_t shuf[MX_VIDEO_MAX_DIM];
	int window;
};
typedef void (*mx_video_bl_vrow_fn)(uint16_t *t, const uint8_t *a, const uint8_t *b,
				    int f, int n);
typedef void (*mx_video_bl_hrow_fn)(uint8_t *dst, const uint16_t *t,
				    const struct mx_video_bl_cols *c, int x0, int x1);
void mx_video_bilinear_tmpl(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			    const uint8_t *src, ptrdiff_t ss, int sw, int sh,
			    mx_video_bl_vrow_fn vrow, mx_video_bl_hrow_fn hrow);
void mx_video_bl_vrow_c(uint16_t *t, const uint8_t *a, const uint8_t *b, int f, int n);
void mx_video_bl_hrow_c(uint8_t *dst, const uint16_t *t,
			const struct mx_video_bl_cols *c, int x0, int x1);

/*
 * Box: the frame loop is shared (mx_video_box_tmpl); an ISA supplies the
 * row: dst row of c->dw samples from ny source rows of c->sw. Column
 * spans are nxmin or nxmin + 1 wide; nm->m[i] is the multiplier for
 * nx = nxmin + i at this row's ny.
 */
struct mx_video_box_cols {
	int sw, dw;
	int fx;    /* every span is fx wide (sw % dw == 0), else 0 */
	int nxmin; /* narrowest span */
	uint16_t x0[MX_VIDEO_MAX_DIM];
	uint16_t nx[MX_VIDEO_MAX_DIM];
};
struct mx_video_box_norm {
	uint64_t m[2];
	int k[2];
};
typedef void (*mx_video_box_row_fn)(uint8_t *dst, const uint8_t *src, ptrdiff_t ss,
				    int ny, const struct mx_video_box_cols *c,
				    const struct mx_video_box_norm *nm);
void mx_video_box_tmpl(uint8_t *dst, ptrdiff_t ds, int dw, int dh, const uint8_t *src,
		       ptrdiff_t ss, int sw, int sh, mx_video_box_row_fn row);
/* Whether every span fits the SIMD rows' 16/32-bit arithmetic (ny <= 256
 * and A <= 65536, so k = 24 everywhere); else the SIMD versions call C. */
int mx_video_box_simd_ok(int dw, int dh, int sw, int sh);
/* Dst samples [x0, x1) of a row, summed straight from the source. */
void mx_video_box_span_c(uint8_t *dst, const uint8_t *src, ptrdiff_t ss, int ny,
			 const struct mx_video_box_cols *c,
			 const struct mx_video_box_norm *nm, int x0, int x1);
/* Dst samples [x0, x1) of a row from 16-bit column sums cs (ny rows). */
void mx_video_box_hrow_c(uint8_t *dst, const uint16_t *cs,
			 const struct mx_video_box_cols *c,
			 const struct mx_video_box_norm *nm, int x0, int x1);
void mx_video_scale_box_c(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
			  const uint8_t *src, ptrdiff_t ss, int sw, int sh);

#endif
