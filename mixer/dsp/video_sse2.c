/*
 * SSE2 versions of the video kernels (the x86-64 baseline). Compiled
 * with -msse2 only. Same results as video_c.c, bit for bit. SSE2 has no
 * gather and no pmaddubsw: the bilinear taps are fetched with scalar
 * loads, and byte pairs are summed with a mask and a shift.
 */
#include <emmintrin.h>
#include <string.h>

#include "mixer/dsp/video.h"

/* Four vectors of four int32 in 0..255 -> 16 bytes in order. */
static inline __m128i pack_16x8(__m128i r0, __m128i r1, __m128i r2, __m128i r3)
{
	return _mm_packus_epi16(_mm_packs_epi32(r0, r1), _mm_packs_epi32(r2, r3));
}

/* t = a * 256 + (b - a) * f in wrapping 16-bit lanes (see video_c.c). */
static void bl_vrow_sse2(uint16_t *t, const uint8_t *a, const uint8_t *b, int f, int n)
{
	const __m128i vf = _mm_set1_epi16((int16_t)f), z = _mm_setzero_si128();
	int j = 0;

	for (; j + 16 <= n; j += 16) {
		__m128i va = _mm_loadu_si128((const __m128i *)(a + j));
		__m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
		__m128i a0 = _mm_unpacklo_epi8(va, z), a1 = _mm_unpackhi_epi8(va, z);
		__m128i b0 = _mm_unpacklo_epi8(vb, z), b1 = _mm_unpackhi_epi8(vb, z);
		__m128i d0 = _mm_mullo_epi16(_mm_sub_epi16(b0, a0), vf);
		__m128i d1 = _mm_mullo_epi16(_mm_sub_epi16(b1, a1), vf);

		_mm_storeu_si128((__m128i *)(t + j), _mm_add_epi16(_mm_slli_epi16(a0, 8), d0));
		_mm_storeu_si128((__m128i *)(t + j + 8),
				 _mm_add_epi16(_mm_slli_epi16(a1, 8), d1));
	}
	mx_video_bl_vrow_c(t + j, a + j, b + j, f, n - j);
}

static inline int32_t tap_pair(const uint16_t *t, int32_t i)
{
	int32_t v;

	memcpy(&v, t + i, sizeof(v)); /* t[i] | t[i + 1] << 16 */
	return v;
}

/* Four outputs; the bias trick of video_avx2.c (t - 32768 fits
 * pmaddwd's signed words; the weights sum to 16384). */
static inline __m128i bl_h4(const uint16_t *t, const struct mx_video_bl_cols *c, int x)
{
	const __m128i bias = _mm_set1_epi32((int)0x80008000u);
	const __m128i rnd = _mm_set1_epi32((1 << 29) + (1 << 21));
	const int32_t *idx = c->idx + x;
	__m128i p = _mm_setr_epi32(tap_pair(t, idx[0]), tap_pair(t, idx[1]),
				   tap_pair(t, idx[2]), tap_pair(t, idx[3]));
	__m128i w = _mm_loadu_si128((const __m128i *)(c->w + x));

	p = _mm_madd_epi16(_mm_xor_si128(p, bias), w);
	return _mm_srai_epi32(_mm_add_epi32(p, rnd), 22);
}

static void bl_hrow_sse2(uint8_t *dst, const uint16_t *t, const struct mx_video_bl_cols *c,
			 int x0, int x1)
{
	int x = x0;

	for (; x + 16 <= x1; x += 16)
		_mm_storeu_si128((__m128i *)(dst + x),
				 pack_16x8(bl_h4(t, c, x), bl_h4(t, c, x + 4),
					   bl_h4(t, c, x + 8), bl_h4(t, c, x + 12)));
	mx_video_bl_hrow_c(dst, t, c, x, x1);
}

static void scale_bilinear_sse2(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
				const uint8_t *src, ptrdiff_t ss, int sw, int sh)
{
	mx_video_bilinear_tmpl(dst, ds, dw, dh, src, ss, sw, sh, bl_vrow_sse2,
			       bl_hrow_sse2);
}

/* ---- box --------------------------------------------------------------- */

/* Sums of byte pairs as eight 16-bit lanes. */
static inline __m128i pairs(__m128i v)
{
	return _mm_add_epi16(_mm_and_si128(v, _mm_set1_epi16(0xff)), _mm_srli_epi16(v, 8));
}

static void box2x2_sse2(uint8_t *dst, const uint8_t *a, const uint8_t *b, int dw)
{
	const __m128i two = _mm_set1_epi16(2);
	int x = 0;

	for (; x + 16 <= dw; x += 16) {
		const __m128i *pa = (const __m128i *)(a + 2 * x);
		const __m128i *pb = (const __m128i *)(b + 2 * x);
		__m128i s0 = _mm_add_epi16(pairs(_mm_loadu_si128(pa)),
					   pairs(_mm_loadu_si128(pb)));
		__m128i s1 = _mm_add_epi16(pairs(_mm_loadu_si128(pa + 1)),
					   pairs(_mm_loadu_si128(pb + 1)));

		s0 = _mm_srli_epi16(_mm_add_epi16(s0, two), 2);
		s1 = _mm_srli_epi16(_mm_add_epi16(s1, two), 2);
		_mm_storeu_si128((__m128i *)(dst + x), _mm_packus_epi16(s0, s1));
	}
	for (; x < dw; x++)
		dst[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
}

/* Four outputs of a 4x4 box: byte pairs over four rows, then word pairs
 * into dwords. */
static inline __m128i box4_4(const uint8_t *src, ptrdiff_t ss)
{
	__m128i s = _mm_setzero_si128();

	for (int r = 0; r < 4; r++)
		s = _mm_add_epi16(s, pairs(_mm_loadu_si128((const __m128i *)(src + r * ss))));
	s = _mm_add_epi32(_mm_and_si128(s, _mm_set1_epi32(0xffff)), _mm_srli_epi32(s, 16));
	return _mm_srli_epi32(_mm_add_epi32(s, _mm_set1_epi32(8)), 4);
}

static void box4x4_sse2(uint8_t *dst, const uint8_t *src, ptrdiff_t ss,
			const struct mx_video_box_cols *c,
			const struct mx_video_box_norm *nm)
{
	int x = 0;

	for (; x + 16 <= c->dw; x += 16) {
		const uint8_t *p = src + 4 * x;

		_mm_storeu_si128((__m128i *)(dst + x),
				 pack_16x8(box4_4(p, ss), box4_4(p + 16, ss),
					   box4_4(p + 32, ss), box4_4(p + 48, ss)));
	}
	mx_video_box_span_c(dst, src, ss, 4, c, nm, x, c->dw);
}

/* Column sums of ny <= 256 rows in 16-bit lanes. */
static void colsum_sse2(uint16_t *cs, const uint8_t *src, ptrdiff_t ss, int ny, int n)
{
	const __m128i z = _mm_setzero_si128();
	int j = 0;

	for (; j + 16 <= n; j += 16) {
		__m128i lo = z, hi = z;
		const uint8_t *p = src + j;

		for (int r = 0; r < ny; r++, p += ss) {
			__m128i v = _mm_loadu_si128((const __m128i *)p);

			lo = _mm_add_epi16(lo, _mm_unpacklo_epi8(v, z));
			hi = _mm_add_epi16(hi, _mm_unpackhi_epi8(v, z));
		}
		_mm_storeu_si128((__m128i *)(cs + j), lo);
		_mm_storeu_si128((__m128i *)(cs + j + 8), hi);
	}
	for (; j < n; j++) {
		unsigned s = 0;

		for (int r = 0; r < ny; r++)
			s += src[r * ss + j];
		cs[j] = (uint16_t)s;
	}
}

static void box_row_sse2(uint8_t *dst, const uint8_t *src, ptrdiff_t ss, int ny,
			 const struct mx_video_box_cols *c, const struct mx_video_box_norm *nm)
{
	uint16_t cs[MX_VIDEO_MAX_DIM];

	if (c->fx == 2 && ny == 2) {
		box2x2_sse2(dst, src, src + ss, c->dw);
		return;
	}
	if (c->fx == 4 && ny == 4) {
		box4x4_sse2(dst, src, ss, c, nm);
		return;
	}
	colsum_sse2(cs, src, ss, ny, c->sw);
	mx_video_box_hrow_c(dst, cs, c, nm, 0, c->dw);
}

static void scale_box_sse2(uint8_t *dst, ptrdiff_t ds, int dw, int dh, const uint8_t *src,
			   ptrdiff_t ss, int sw, int sh)
{
	if (!mx_video_box_simd_ok(dw, dh, sw, sh)) {
		mx_video_scale_box_c(dst, ds, dw, dh, src, ss, sw, sh);
		return;
	}
	mx_video_box_tmpl(dst, ds, dw, dh, src, ss, sw, sh, box_row_sse2);
}

/* ---- blit (overlapping last vector; see video_avx2.c) ------------------ */

static void blit_sse2(uint8_t *dst, ptrdiff_t ds, const uint8_t *src, ptrdiff_t ss, int w,
		      int h)
{
	for (int y = 0; y < h; y++, dst += ds, src += ss) {
		int x = 0;

		if (w < 16) {
			memcpy(dst, src, (size_t)w);
			continue;
		}
		for (; x + 16 <= w; x += 16)
			_mm_storeu_si128((__m128i *)(dst + x),
					 _mm_loadu_si128((const __m128i *)(src + x)));
		if (x < w)
			_mm_storeu_si128((__m128i *)(dst + w - 16),
					 _mm_loadu_si128((const __m128i *)(src + w - 16)));
	}
}

void mx_video_dsp_init_sse2(struct mx_video_dsp *dsp)
{
	dsp->scale_bilinear = scale_bilinear_sse2;
	dsp->scale_box = scale_box_sse2;
	dsp->blit = blit_sse2;
	/* fill stays libc's memset: faster than a vector loop here (bench_video). */
}
