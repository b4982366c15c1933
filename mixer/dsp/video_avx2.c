/*
 * AVX2 versions of the video kernels. Compiled with -mavx2 only;
 * installed only when cpuid says AVX2. Same results as video_c.c, bit
 * for bit: the row passes compute the same integers, 16 or 32 at a time,
 * and hand their tails to the C rows.
 */
#include <immintrin.h>
#include <string.h>

#include "mixer/dsp/video.h"

/* Four vectors of eight int32 in 0..255 -> 32 bytes in order. packs and
 * packus work within 128-bit lanes, leaving dwords in the order 0 4 1 5
 * 2 6 3 7; vpermd puts them back. */
static inline __m256i pack_32x8(__m256i r0, __m256i r1, __m256i r2, __m256i r3)
{
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256i b = _mm256_packus_epi16(_mm256_packs_epi32(r0, r1),
					_mm256_packs_epi32(r2, r3));

	return _mm256_permutevar8x32_epi32(b, order);
}

static inline __m256i load16_u8_to_u16(const uint8_t *p)
{
	return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* t = a * 256 + (b - a) * f: vpmullw keeps the low 16 bits, and the sum
 * is in 0..65280, so the wrap is harmless (as in the C row). */
static void bl_vrow_avx2(uint16_t *t, const uint8_t *a, const uint8_t *b, int f, int n)
{
	const __m256i vf = _mm256_set1_epi16((int16_t)f);
	int j = 0;

	for (; j + 32 <= n; j += 32) {
		__m256i a0 = load16_u8_to_u16(a + j), a1 = load16_u8_to_u16(a + j + 16);
		__m256i b0 = load16_u8_to_u16(b + j), b1 = load16_u8_to_u16(b + j + 16);
		__m256i d0 = _mm256_mullo_epi16(_mm256_sub_epi16(b0, a0), vf);
		__m256i d1 = _mm256_mullo_epi16(_mm256_sub_epi16(b1, a1), vf);

		_mm256_storeu_si256((__m256i *)(t + j),
				    _mm256_add_epi16(_mm256_slli_epi16(a0, 8), d0));
		_mm256_storeu_si256((__m256i *)(t + j + 16),
				    _mm256_add_epi16(_mm256_slli_epi16(a1, 8), d1));
	}
	mx_video_bl_vrow_c(t + j, a + j, b + j, f, n - j);
}

/*
 * Eight outputs: one vpgatherdd fetches the tap pairs (t[i], t[i + 1]) as
 * dwords. t is up to 65280, too big for vpmaddwd's signed words, so it
 * is biased by -32768 (xor 0x8000); as the weights sum to 16384 the bias
 * comes back as a constant 2^29, added with the rounding.
 */
static inline __m256i bl_h8(const uint16_t *t, const struct mx_video_bl_cols *c, int x)
{
	const __m256i bias = _mm256_set1_epi32((int)0x80008000u);
	const __m256i rnd = _mm256_set1_epi32((1 << 29) + (1 << 21));
	__m256i idx = _mm256_loadu_si256((const __m256i *)(c->idx + x));
	__m256i w = _mm256_loadu_si256((const __m256i *)(c->w + x));
	__m256i p = _mm256_i32gather_epi32((const int *)t, idx, 2);

	p = _mm256_madd_epi16(_mm256_xor_si256(p, bias), w);
	return _mm256_srai_epi32(_mm256_add_epi32(p, rnd), 22);
}

/*
 * The same eight outputs without a gather, when each group of four reads
 * within 8 samples of t (upscales, downscales by less than 2): one
 * 16-byte load per group, and vpshufb picks each output's tap pair. On
 * the AMD EPYC we measure on, vpgatherdd is microcoded and this is ~2x
 * faster.
 */
static inline __m256i bl_h8_window(const uint16_t *t, const struct mx_video_bl_cols *c,
				   int x)
{
	const __m256i bias = _mm256_set1_epi32((int)0x80008000u);
	const __m256i rnd = _mm256_set1_epi32((1 << 29) + (1 << 21));
	__m256i win = _mm256_inserti128_si256(
	    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(t + c->idx[x]))),
	    _mm_loadu_si128((const __m128i *)(t + c->idx[x + 4])), 1);
	__m256i p = _mm256_shuffle_epi8(win, _mm256_loadu_si256((const __m256i *)(c->shuf + x)));
	__m256i w = _mm256_loadu_si256((const __m256i *)(c->w + x));

	p = _mm256_madd_epi16(_mm256_xor_si256(p, bias), w);
	return _mm256_srai_epi32(_mm256_add_epi32(p, rnd), 22);
}

static void bl_hrow_avx2(uint8_t *dst, const uint16_t *t, const struct mx_video_bl_cols *c,
			 int x0, int x1)
{
	int x = x0;

	if (c->window && !(x0 & 3)) {
		for (; x + 32 <= x1; x += 32) {
			__m256i r = pack_32x8(
			    bl_h8_window(t, c, x), bl_h8_window(t, c, x + 8),
			    bl_h8_window(t, c, x + 16), bl_h8_window(t, c, x + 24));

			_mm256_storeu_si256((__m256i *)(dst + x), r);
		}
	}
	for (; x + 32 <= x1; x += 32) {
		__m256i r = pack_32x8(bl_h8(t, c, x), bl_h8(t, c, x + 8),
				      bl_h8(t, c, x + 16), bl_h8(t, c, x + 24));

		_mm256_storeu_si256((__m256i *)(dst + x), r);
	}
	mx_video_bl_hrow_c(dst, t, c, x, x1);
}

static void scale_bilinear_avx2(uint8_t *dst, ptrdiff_t ds, int dw, int dh,
				const uint8_t *src, ptrdiff_t ss, int sw, int sh)
{
	mx_video_bilinear_tmpl(dst, ds, dw, dh, src, ss, sw, sh, bl_vrow_avx2,
			       bl_hrow_avx2);
}

/* ---- box --------------------------------------------------------------- */

/* 2x2 in 16-bit lanes: vpmaddubsw by ones sums each byte pair, S <=
 * 1020; (S * 2^22 + 2^23) >> 24 is exactly (S + 2) >> 2. */
static void box2x2_avx2(uint8_t *dst, const uint8_t *a, const uint8_t *b, int dw)
{
	const __m256i ones = _mm256_set1_epi8(1), two = _mm256_set1_epi16(2);
	int x = 0;

	for (; x + 32 <= dw; x += 32) {
		const __m256i *pa = (const __m256i *)(a + 2 * x);
		const __m256i *pb = (const __m256i *)(b + 2 * x);
		__m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256(pa), ones),
					      _mm256_maddubs_epi16(_mm256_loadu_si256(pb), ones));
		__m256i s1 = _mm256_add_epi16(
		    _mm256_maddubs_epi16(_mm256_loadu_si256(pa + 1), ones),
		    _mm256_maddubs_epi16(_mm256_loadu_si256(pb + 1), ones));

		s0 = _mm256_srli_epi16(_mm256_add_epi16(s0, two), 2);
		s1 = _mm256_srli_epi16(_mm256_add_epi16(s1, two), 2);
		/* packus interleaves 8-byte halves across lanes: 0 2 1 3. */
		_mm256_storeu_si256((__m256i *)(dst + x),
				    _mm256_permute4x64_epi64(_mm256_packus_epi16(s0, s1),
							     0xd8));
	}
	for (; x < dw; x++)
		dst[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
}

/* Eight outputs of a 4x4 box: byte pairs (vpmaddubsw), four rows, then
 * word pairs (vpmaddwd, S <= 4080 fits the signed words). */
static inline __m256i box4_8(const uint8_t *src, ptrdiff_t ss)
{
	const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
	__m256i s = _mm256_setzero_si256();

	for (int r = 0; r < 4; r++)
		s = _mm256_add_epi16(s, _mm256_maddubs_epi16(
					    _mm256_loadu_si256((const __m256i *)(src + r * ss)),
					    ones8));
	s = _mm256_madd_epi16(s, ones16);
	return _mm256_srli_epi32(_mm256_add_epi32(s, _mm256_set1_epi32(8)), 4);
}

static void box4x4_avx2(uint8_t *dst, const uint8_t *src, ptrdiff_t ss,
			const struct mx_video_box_cols *c,
			const struct mx_video_box_norm *nm)
{
	int x = 0;

	for (; x + 32 <= c->dw; x += 32) {
		const uint8_t *p = src + 4 * x;

		_mm256_storeu_si256((__m256i *)(dst + x),
				    pack_32x8(box4_8(p, ss), box4_8(p + 32, ss),
					      box4_8(p + 64, ss), box4_8(p + 96, ss)));
	}
	mx_video_box_span_c(dst, src, ss, 4, c, nm, x, c->dw);
}

/* Column sums of ny <= 256 rows: 16-bit lanes hold up to 255 * 257. */
static void colsum_avx2(uint16_t *cs, const uint8_t *src, ptrdiff_t ss, int ny, int n)
{
	int j = 0;

	for (; j + 32 <= n; j += 32) {
		__m256i lo = _mm256_setzero_si256(), hi = lo;
		const uint8_t *p = src + j;

		for (int r = 0; r < ny; r++, p += ss) {
			lo = _mm256_add_epi16(lo, load16_u8_to_u16(p));
			hi = _mm256_add_epi16(hi, load16_u8_to_u16(p + 16));
		}
		_mm256_storeu_si256((__m256i *)(cs + j), lo);
		_mm256_storeu_si256((__m256i *)(cs + j + 16), hi);
	}
	for (; j < n; j++) {
		unsigned s = 0;

		for (int r = 0; r < ny; r++)
			s += src[r * ss + j];
		cs[j] = (uint16_t)s;
	}
}

static void box_row_avx2(uint8_t *dst, const uint8_t *src, ptrdiff_t ss, int ny,
			 const struct mx_video_box_cols *c, const struct mx_video_box_norm *nm)
{
	uint16_t cs[MX_VIDEO_MAX_DIM];

	if (c->fx == 2 && ny == 2) {
		box2x2_avx2(dst, src, src + ss, c->dw);
		return;
	}
	if (c->fx == 4 && ny == 4) {
		box4x4_avx2(dst, src, ss, c, nm);
		return;
	}
	colsum_avx2(cs, src, ss, ny, c->sw);
	mx_video_box_hrow_c(dst, cs, c, nm, 0, c->dw);
}

static void scale_box_avx2(uint8_t *dst, ptrdiff_t ds, int dw, int dh, const uint8_t *src,
			   ptrdiff_t ss, int sw, int sh)
{
	if (!mx_video_box_simd_ok(dw, dh, sw, sh)) {
		mx_video_scale_box_c(dst, ds, dw, dh, src, ss, sw, sh);
		return;
	}
	mx_video_box_tmpl(dst, ds, dw, dh, src, ss, sw, sh, box_row_avx2);
}

/* ---- blit --------------------------------------------------------------- */

/* Whole vectors, then one last vector that overlaps the previous one
 * and ends at the row's end: no byte tail, nothing past w touched. Short
 * rows go to libc. */
static void blit_avx2(uint8_t *dst, ptrdiff_t ds, const uint8_t *src, ptrdiff_t ss, int w,
		      int h)
{
	for (int y = 0; y < h; y++, dst += ds, src += ss) {
		int x = 0;

		if (w < 32) {
			memcpy(dst, src, (size_t)w);
			continue;
		}
		for (; x + 32 <= w; x += 32)
			_mm256_storeu_si256((__m256i *)(dst + x),
					    _mm256_loadu_si256((const __m256i *)(src + x)));
		if (x < w)
			_mm256_storeu_si256(
			    (__m256i *)(dst + w - 32),
			    _mm256_loadu_si256((const __m256i *)(src + w - 32)));
	}
}

void mx_video_dsp_init_avx2(struct mx_video_dsp *dsp)
{
	dsp->scale_bilinear = scale_bilinear_avx2;
	dsp->scale_box = scale_box_avx2;
	dsp->blit = blit_avx2;
	/* fill stays libc's memset: faster than a vector loop here (bench_video). */
}
