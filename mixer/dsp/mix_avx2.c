/*
 * AVX2 versions of the mixing kernels: 16 samples per iteration (two
 * vectors of eight int32), then the scalar tail of mix_scalar.h.
 * Compiled with -mavx2 only; installed only when cpuid says AVX2.
 */
#include <immintrin.h>

#include "common/common.h"
#include "mixer/dsp/dsp.h"
#include "mixer/dsp/mix_scalar.h"

/* Eight int16 at p, sign-extended to int32 (vpmovsxwd from memory). */
static inline __m256i load_widen(const int16_t *p)
{
	return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)p));
}

static void accumulate_avx2(int32_t *acc, const int16_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i));
		__m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));

		a0 = _mm256_add_epi32(a0, load_widen(src + i));
		a1 = _mm256_add_epi32(a1, load_widen(src + i + 8));
		_mm256_storeu_si256((__m256i *)(acc + i), a0);
		_mm256_storeu_si256((__m256i *)(acc + i + 8), a1);
	}
	mx_accumulate_scalar(acc + i, src + i, n - i);
}

/*
 * Two sources at a time: interleaving their words (vpunpck[lh]wd) and
 * multiplying-adding by 1 (vpmaddwd) gives a[i] + b[i] as int32 with one
 * load per source per 16 samples instead of two widening loads. The sums
 * come out lane-permuted, lo = samples {0-3, 8-11}, hi = {4-7, 12-15};
 * they stay so in registers across all sources and are put back in
 * order once per block with vperm2i128.
 */
static inline void add_pair(__m256i *lo, __m256i *hi, __m256i a, __m256i b)
{
	const __m256i ones = _mm256_set1_epi16(1);

	*lo = _mm256_add_epi32(*lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), ones));
	*hi = _mm256_add_epi32(*hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), ones));
}

static void accumulate_many_avx2(int32_t *acc, const int16_t *const *src, size_t nsrc,
				 size_t n)
{
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
		__m256i a0, a1, a2, a3;
		size_t s = 0;

		for (; s + 2 <= nsrc; s += 2) {
			const int16_t *p = src[s] + i, *q = src[s + 1] + i;

			add_pair(&lo0, &hi0, _mm256_loadu_si256((const __m256i *)p),
				 _mm256_loadu_si256((const __m256i *)q));
			add_pair(&lo1, &hi1,
				 _mm256_loadu_si256((const __m256i *)(p + 16)),
				 _mm256_loadu_si256((const __m256i *)(q + 16)));
		}
		if (s < nsrc) { /* an odd one out, paired with silence */
			const int16_t *p = src[s] + i;
			const __m256i z = _mm256_setzero_si256();

			add_pair(&lo0, &hi0, _mm256_loadu_si256((const __m256i *)p), z);
			add_pair(&lo1, &hi1,
				 _mm256_loadu_si256((const __m256i *)(p + 16)), z);
		}
		a0 = _mm256_loadu_si256((const __m256i *)(acc + i));
		a1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));
		a2 = _mm256_loadu_si256((const __m256i *)(acc + i + 16));
		a3 = _mm256_loadu_si256((const __m256i *)(acc + i + 24));
		a0 = _mm256_add_epi32(a0, _mm256_permute2x128_si256(lo0, hi0, 0x20));
		a1 = _mm256_add_epi32(a1, _mm256_permute2x128_si256(lo0, hi0, 0x31));
		a2 = _mm256_add_epi32(a2, _mm256_permute2x128_si256(lo1, hi1, 0x20));
		a3 = _mm256_add_epi32(a3, _mm256_permute2x128_si256(lo1, hi1, 0x31));
		_mm256_storeu_si256((__m256i *)(acc + i), a0);
		_mm256_storeu_si256((__m256i *)(acc + i + 8), a1);
		_mm256_storeu_si256((__m256i *)(acc + i + 16), a2);
		_mm256_storeu_si256((__m256i *)(acc + i + 24), a3);
	}
	for (; i + 8 <= n; i += 8) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(acc + i));

		for (size_t s = 0; s < nsrc; s++)
			a = _mm256_add_epi32(a, load_widen(src[s] + i));
		_mm256_storeu_si256((__m256i *)(acc + i), a);
	}
	mx_accumulate_many_scalar(acc, src, nsrc, i, n);
}

/*
 * floor(x * g / 2^15) for signed int32 x and 0 <= g <= 2^15, exactly.
 * vpmuldq multiplies the signed low dword of each qword into a full
 * 64-bit product; bits 15..46 of it are the result (which fits in 32
 * bits, as its magnitude is at most |x|). There is no 64-bit arithmetic
 * shift before AVX-512, but none is needed: a logical shift moves the
 * same bits 15..46 into place, right by 15 for the even lanes, left by
 * 17 (into the high dword) for the odd lanes, and a blend takes each
 * from its half.
 */
static inline __m256i mul_q15(__m256i x, __m256i g)
{
	__m256i even = _mm256_srli_epi64(_mm256_mul_epi32(x, g), 15);
	__m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), g);

	odd = _mm256_slli_epi64(odd, 17);
	return _mm256_blend_epi32(even, odd, 0xaa);
}

/* vpackssdw saturates to int16 but packs within each 128-bit half:
 * [x0 lo, x1 lo, x0 hi, x1 hi]; vpermq 0xd8 restores sample order. */
static inline void store_sat16(int16_t *out, __m256i x0, __m256i x1)
{
	__m256i p = _mm256_packs_epi32(x0, x1);

	_mm256_storeu_si256((__m256i *)out, _mm256_permute4x64_epi64(p, 0xd8));
}

static void mix_out_avx2(int16_t *out, const int32_t *acc, const int16_t *sub,
			 int32_t gain_q15, size_t n)
{
	const __m256i g = _mm256_set1_epi32(gain_q15);
	size_t i = 0;

	/* Two loops rather than a test per iteration: the common mix has no
	 * sub, the N-1 mixes have one. */
	if (sub) {
		for (; i + 16 <= n; i += 16) {
			__m256i x0 = _mm256_loadu_si256((const __m256i *)(acc + i));
			__m256i x1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));

			x0 = _mm256_sub_epi32(x0, load_widen(sub + i));
			x1 = _mm256_sub_epi32(x1, load_widen(sub + i + 8));
			store_sat16(out + i, mul_q15(x0, g), mul_q15(x1, g));
		}
	} else {
		for (; i + 16 <= n; i += 16) {
			__m256i x0 = _mm256_loadu_si256((const __m256i *)(acc + i));
			__m256i x1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));

			store_sat16(out + i, mul_q15(x0, g), mul_q15(x1, g));
		}
	}
	mx_mix_out_scalar(out + i, acc + i, sub ? sub + i : NULL, gain_q15, n - i);
}

/* Largest of eight int32 lanes. */
static inline int32_t hmax(__m256i m)
{
	__m128i v =
	    _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));

	v = _mm_max_epi32(v, _mm_shuffle_epi32(v, 0x4e));
	v = _mm_max_epi32(v, _mm_shuffle_epi32(v, 0xb1));
	return _mm_cvtsi128_si32(v);
}

static int32_t peak_avx2(const int32_t *acc, const int16_t *sub, size_t n)
{
	__m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
	size_t i = 0;
	int32_t tail;

	for (; i + 16 <= n; i += 16) {
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(acc + i));
		__m256i x1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));

		if (sub) {
			x0 = _mm256_sub_epi32(x0, load_widen(sub + i));
			x1 = _mm256_sub_epi32(x1, load_widen(sub + i + 8));
		}
		m0 = _mm256_max_epi32(m0, _mm256_abs_epi32(x0));
		m1 = _mm256_max_epi32(m1, _mm256_abs_epi32(x1));
	}
	tail = mx_peak_scalar(acc + i, sub ? sub + i : NULL, n - i);
	return CM_MAX(hmax(_mm256_max_epi32(m0, m1)), tail);
}

/* vpmaddwd: s[2k]^2 + s[2k+1]^2 <= 2^31 per lane, exact only as unsigned,
 * so zero-extend to 64 bits before summing (see energy_sse2). */
static uint64_t energy_avx2(const int16_t *src, size_t n)
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i sum = _mm256_setzero_si256();
	uint64_t lanes[4];
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i s = _mm256_loadu_si256((const __m256i *)(src + i));
		__m256i sq = _mm256_madd_epi16(s, s);

		sum = _mm256_add_epi64(sum, _mm256_unpacklo_epi32(sq, zero));
		sum = _mm256_add_epi64(sum, _mm256_unpackhi_epi32(sq, zero));
	}
	_mm256_storeu_si256((__m256i *)lanes, sum);
	return lanes[0] + lanes[1] + lanes[2] + lanes[3] +
	       mx_energy_scalar(src + i, n - i);
}

void mx_mix_dsp_init_avx2(struct mx_mix_dsp *dsp)
{
	dsp->accumulate = accumulate_avx2;
	dsp->accumulate_many = accumulate_many_avx2;
	dsp->mix_out = mix_out_avx2;
	dsp->peak = peak_avx2;
	dsp->energy = energy_avx2;
}
