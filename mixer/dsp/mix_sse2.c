/*
 * SSE2 versions of the mixing kernels: 8 samples per iteration, then the
 * scalar tail of mix_scalar.h. Compiled with -msse2 only.
 *
 * SSE2 lacks pmovsxwd, pmulld, pmuldq, pabsd and pmaxsd (all SSE4.1 or
 * SSSE3), so sign extension, the signed multiply, abs and max are built
 * from older instructions below.
 */
#include <emmintrin.h>

#include "common/common.h"
#include "mixer/dsp/dsp.h"
#include "mixer/dsp/mix_scalar.h"

/* Sign-extends eight int16 to two vectors of four int32: one compare
 * gives the sign words, which are interleaved above each sample (three
 * instructions; the compiler's own vectorisation of the C loop does the
 * same). */
static inline void widen(__m128i s, __m128i *lo, __m128i *hi)
{
	__m128i sign = _mm_cmpgt_epi16(_mm_setzero_si128(), s);

	*lo = _mm_unpacklo_epi16(s, sign);
	*hi = _mm_unpackhi_epi16(s, sign);
}

/* The same loop GCC makes of the C reference at -O3; kept so that the
 * SSE2 path does not depend on the compiler's choices. */
static void accumulate_sse2(int32_t *acc, const int16_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i a0 = _mm_loadu_si128((const __m128i *)(acc + i));
		__m128i a1 = _mm_loadu_si128((const __m128i *)(acc + i + 4));
		__m128i s0, s1;

		widen(_mm_loadu_si128((const __m128i *)(src + i)), &s0, &s1);
		_mm_storeu_si128((__m128i *)(acc + i), _mm_add_epi32(a0, s0));
		_mm_storeu_si128((__m128i *)(acc + i + 4), _mm_add_epi32(a1, s1));
	}
	mx_accumulate_scalar(acc + i, src + i, n - i);
}

/* 16 samples per block, acc in four registers across all sources (see
 * accumulate_many_avx2); sign words from one compare serve both halves. */
static void accumulate_many_sse2(int32_t *acc, const int16_t *const *src, size_t nsrc,
				 size_t n)
{
	const __m128i zero = _mm_setzero_si128();
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m128i a0 = _mm_loadu_si128((const __m128i *)(acc + i));
		__m128i a1 = _mm_loadu_si128((const __m128i *)(acc + i + 4));
		__m128i a2 = _mm_loadu_si128((const __m128i *)(acc + i + 8));
		__m128i a3 = _mm_loadu_si128((const __m128i *)(acc + i + 12));

		for (size_t s = 0; s < nsrc; s++) {
			__m128i v0 = _mm_loadu_si128((const __m128i *)(src[s] + i));
			__m128i v1 = _mm_loadu_si128((const __m128i *)(src[s] + i + 8));
			__m128i s0 = _mm_cmpgt_epi16(zero, v0);
			__m128i s1 = _mm_cmpgt_epi16(zero, v1);

			a0 = _mm_add_epi32(a0, _mm_unpacklo_epi16(v0, s0));
			a1 = _mm_add_epi32(a1, _mm_unpackhi_epi16(v0, s0));
			a2 = _mm_add_epi32(a2, _mm_unpacklo_epi16(v1, s1));
			a3 = _mm_add_epi32(a3, _mm_unpackhi_epi16(v1, s1));
		}
		_mm_storeu_si128((__m128i *)(acc + i), a0);
		_mm_storeu_si128((__m128i *)(acc + i + 4), a1);
		_mm_storeu_si128((__m128i *)(acc + i + 8), a2);
		_mm_storeu_si128((__m128i *)(acc + i + 12), a3);
	}
	mx_accumulate_many_scalar(acc, src, nsrc, i, n);
}

/*
 * floor(x * g / 2^15) for signed int32 x and 0 <= g <= 2^15, exactly.
 * pmuludq gives the full 64-bit product of the UNSIGNED reading of x,
 * xu = x + 2^32 when x < 0, so xu * g = x * g + g * 2^32 and
 * (xu * g) >> 15 = ((x * g) >> 15) + g * 2^17: subtract g << 17 from the
 * lanes where x is negative (all modulo 2^32, which is where the result
 * lives). Bits 15..46 of each product are taken with 64-bit shifts: right
 * by 15 for the even lanes, left by 17 for the odd ones.
 */
static inline __m128i mul_q15(__m128i x, __m128i g, __m128i g17, __m128i lo_mask)
{
	__m128i even = _mm_mul_epu32(x, g);
	__m128i odd = _mm_mul_epu32(_mm_srli_epi64(x, 32), g);
	__m128i r;

	even = _mm_and_si128(_mm_srli_epi64(even, 15), lo_mask);
	odd = _mm_andnot_si128(lo_mask, _mm_slli_epi64(odd, 17));
	r = _mm_or_si128(even, odd);
	return _mm_sub_epi32(r, _mm_and_si128(_mm_srai_epi32(x, 31), g17));
}

static void mix_out_sse2(int16_t *out, const int32_t *acc, const int16_t *sub,
			 int32_t gain_q15, size_t n)
{
	const __m128i g = _mm_set1_epi32(gain_q15);
	const __m128i g17 = _mm_set1_epi32((int32_t)((uint32_t)gain_q15 << 17));
	const __m128i lo_mask = _mm_set1_epi64x(0xffffffff);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i x0 = _mm_loadu_si128((const __m128i *)(acc + i));
		__m128i x1 = _mm_loadu_si128((const __m128i *)(acc + i + 4));

		if (sub) {
			__m128i s0, s1;

			widen(_mm_loadu_si128((const __m128i *)(sub + i)), &s0, &s1);
			x0 = _mm_sub_epi32(x0, s0);
			x1 = _mm_sub_epi32(x1, s1);
		}
		x0 = mul_q15(x0, g, g17, lo_mask);
		x1 = mul_q15(x1, g, g17, lo_mask);
		_mm_storeu_si128((__m128i *)(out + i), _mm_packs_epi32(x0, x1));
	}
	mx_mix_out_scalar(out + i, acc + i, sub ? sub + i : NULL, gain_q15, n - i);
}

/* |x| by (x ^ s) - s with s the sign mask; max by compare and select. */
static inline __m128i max_abs(__m128i m, __m128i x)
{
	__m128i s = _mm_srai_epi32(x, 31);
	__m128i a = _mm_sub_epi32(_mm_xor_si128(x, s), s);
	__m128i gt = _mm_cmpgt_epi32(a, m);

	return _mm_or_si128(_mm_and_si128(gt, a), _mm_andnot_si128(gt, m));
}

static int32_t peak_sse2(const int32_t *acc, const int16_t *sub, size_t n)
{
	__m128i m0 = _mm_setzero_si128(), m1 = _mm_setzero_si128();
	int32_t lanes[4], peak, tail;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i x0 = _mm_loadu_si128((const __m128i *)(acc + i));
		__m128i x1 = _mm_loadu_si128((const __m128i *)(acc + i + 4));

		if (sub) {
			__m128i s0, s1;

			widen(_mm_loadu_si128((const __m128i *)(sub + i)), &s0, &s1);
			x0 = _mm_sub_epi32(x0, s0);
			x1 = _mm_sub_epi32(x1, s1);
		}
		m0 = max_abs(m0, x0);
		m1 = max_abs(m1, x1);
	}
	m0 = max_abs(m0, m1); /* all lanes are >= 0, so abs is a no-op */
	_mm_storeu_si128((__m128i *)lanes, m0);
	peak = CM_MAX(CM_MAX(lanes[0], lanes[1]), CM_MAX(lanes[2], lanes[3]));
	tail = mx_peak_scalar(acc + i, sub ? sub + i : NULL, n - i);
	return CM_MAX(peak, tail);
}

/*
 * pmaddwd gives s[2k]^2 + s[2k+1]^2 per 32-bit lane. That is at most
 * 2^31 (two samples of -32768), which only fits when read as UNSIGNED:
 * zero-extend to 64 bits before summing.
 */
static uint64_t energy_sse2(const int16_t *src, size_t n)
{
	const __m128i zero = _mm_setzero_si128();
	__m128i sum = _mm_setzero_si128();
	uint64_t lanes[2];
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i s = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i sq = _mm_madd_epi16(s, s);

		sum = _mm_add_epi64(sum, _mm_unpacklo_epi32(sq, zero));
		sum = _mm_add_epi64(sum, _mm_unpackhi_epi32(sq, zero));
	}
	_mm_storeu_si128((__m128i *)lanes, sum);
	return lanes[0] + lanes[1] + mx_energy_scalar(src + i, n - i);
}

void mx_mix_dsp_init_sse2(struct mx_mix_dsp *dsp)
{
	dsp->accumulate = accumulate_sse2;
	dsp->accumulate_many = accumulate_many_sse2;
	dsp->mix_out = mix_out_sse2;
	dsp->peak = peak_sse2;
	dsp->energy = energy_sse2;
}
