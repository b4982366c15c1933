/*
 * NEON (AArch64 Advanced SIMD) versions of the mixing kernels: 8 samples
 * per iteration, then the scalar tail of mix_scalar.h. Advanced SIMD is
 * part of the AArch64 baseline, so this file needs no special flags and
 * is built only on AArch64.
 */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "common/common.h"
#include "mixer/dsp/dsp.h"
#include "mixer/dsp/mix_scalar.h"

static void accumulate_neon(int32_t *acc, const int16_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		int16x8_t s = vld1q_s16(src + i);

		vst1q_s32(acc + i, vaddw_s16(vld1q_s32(acc + i), vget_low_s16(s)));
		vst1q_s32(acc + i + 4, vaddw_high_s16(vld1q_s32(acc + i + 4), s));
	}
	mx_accumulate_scalar(acc + i, src + i, n - i);
}

/* 16 samples per block, acc in four registers across all sources. */
static void accumulate_many_neon(int32_t *acc, const int16_t *const *src, size_t nsrc,
				 size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		int32x4_t a0 = vld1q_s32(acc + i), a1 = vld1q_s32(acc + i + 4);
		int32x4_t a2 = vld1q_s32(acc + i + 8), a3 = vld1q_s32(acc + i + 12);

		for (size_t s = 0; s < nsrc; s++) {
			int16x8_t v0 = vld1q_s16(src[s] + i),
				  v1 = vld1q_s16(src[s] + i + 8);

			a0 = vaddw_s16(a0, vget_low_s16(v0));
			a1 = vaddw_high_s16(a1, v0);
			a2 = vaddw_s16(a2, vget_low_s16(v1));
			a3 = vaddw_high_s16(a3, v1);
		}
		vst1q_s32(acc + i, a0);
		vst1q_s32(acc + i + 4, a1);
		vst1q_s32(acc + i + 8, a2);
		vst1q_s32(acc + i + 12, a3);
	}
	mx_accumulate_many_scalar(acc, src, nsrc, i, n);
}

/* x - sub for eight samples, widening sub on the fly. */
static inline void load_diff(const int32_t *acc, const int16_t *sub, int32x4_t *x0,
			     int32x4_t *x1)
{
	*x0 = vld1q_s32(acc);
	*x1 = vld1q_s32(acc + 4);
	if (sub) {
		int16x8_t s = vld1q_s16(sub);

		*x0 = vsubw_s16(*x0, vget_low_s16(s));
		*x1 = vsubw_high_s16(*x1, s);
	}
}

/* floor(x * g / 2^15): a full 64-bit signed product (smull), then shrn,
 * which shifts right and keeps the low 32 bits: the same wrap as the C
 * reference's int32 cast, and an arithmetic floor for negatives. */
static inline int32x4_t mul_q15(int32x4_t x, int32x2_t g)
{
	int32x2_t lo = vshrn_n_s64(vmull_s32(vget_low_s32(x), g), 15);

	return vcombine_s32(lo, vshrn_n_s64(vmull_high_s32(x, vcombine_s32(g, g)), 15));
}

static void mix_out_neon(int16_t *out, const int32_t *acc, const int16_t *sub,
			 int32_t gain_q15, size_t n)
{
	const int32x2_t g = vdup_n_s32(gain_q15);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		int32x4_t x0, x1;

		load_diff(acc + i, sub ? sub + i : NULL, &x0, &x1);
		x0 = mul_q15(x0, g);
		x1 = mul_q15(x1, g);
		/* sqxtn saturates each int32 to int16, like sat16(). */
		vst1q_s16(out + i, vcombine_s16(vqmovn_s32(x0), vqmovn_s32(x1)));
	}
	mx_mix_out_scalar(out + i, acc + i, sub ? sub + i : NULL, gain_q15, n - i);
}

static int32_t peak_neon(const int32_t *acc, const int16_t *sub, size_t n)
{
	int32x4_t m0 = vdupq_n_s32(0), m1 = vdupq_n_s32(0);
	size_t i = 0;
	int32_t tail;

	for (; i + 8 <= n; i += 8) {
		int32x4_t x0, x1;

		load_diff(acc + i, sub ? sub + i : NULL, &x0, &x1);
		m0 = vmaxq_s32(m0, vabsq_s32(x0));
		m1 = vmaxq_s32(m1, vabsq_s32(x1));
	}
	tail = mx_peak_scalar(acc + i, sub ? sub + i : NULL, n - i);
	return CM_MAX(vmaxvq_s32(vmaxq_s32(m0, m1)), tail);
}

/* smull: each square exact in 32 bits (<= 2^30); uadalp adds pairs of
 * them, read as unsigned, into 64-bit lanes. */
static uint64_t energy_neon(const int16_t *src, size_t n)
{
	uint64x2_t sum = vdupq_n_u64(0);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		int16x8_t s = vld1q_s16(src + i);
		int32x4_t lo = vmull_s16(vget_low_s16(s), vget_low_s16(s));
		int32x4_t hi = vmull_high_s16(s, s);

		sum = vpadalq_u32(sum, vreinterpretq_u32_s32(lo));
		sum = vpadalq_u32(sum, vreinterpretq_u32_s32(hi));
	}
	return vaddvq_u64(sum) + mx_energy_scalar(src + i, n - i);
}

void mx_mix_dsp_init_neon(struct mx_mix_dsp *dsp)
{
	dsp->accumulate = accumulate_neon;
	dsp->accumulate_many = accumulate_many_neon;
	dsp->mix_out = mix_out_neon;
	dsp->peak = peak_neon;
	dsp->energy = energy_neon;
}
#endif
