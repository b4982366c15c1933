/*
 * C reference versions of the mixing kernels, and the dispatcher.
 *
 * These define the results (through mix_scalar.h): every SIMD version
 * must match them bit for bit. They are written plainly (no attributes,
 * no manual unrolling) and compiled with the project's normal flags, so
 * the compiler is free to vectorise them for the baseline instruction set.
 */
#include "mixer/dsp/dsp.h"
#include "mixer/dsp/mix_scalar.h"

static void accumulate_c(int32_t *acc, const int16_t *src, size_t n)
{
	mx_accumulate_scalar(acc, src, n);
}

static void accumulate_many_c(int32_t *acc, const int16_t *const *src, size_t nsrc,
			      size_t n)
{
	mx_accumulate_many_scalar(acc, src, nsrc, 0, n);
}

static void mix_out_c(int16_t *out, const int32_t *acc, const int16_t *sub,
		      int32_t gain_q15, size_t n)
{
	mx_mix_out_scalar(out, acc, sub, gain_q15, n);
}

static int32_t peak_c(const int32_t *acc, const int16_t *sub, size_t n)
{
	return mx_peak_scalar(acc, sub, n);
}

static uint64_t energy_c(const int16_t *src, size_t n)
{
	return mx_energy_scalar(src, n);
}

void mx_mix_dsp_init_c(struct mx_mix_dsp *dsp)
{
	dsp->accumulate = accumulate_c;
	dsp->accumulate_many = accumulate_many_c;
	dsp->mix_out = mix_out_c;
	dsp->peak = peak_c;
	dsp->energy = energy_c;
}

/* Upgrades in order of preference: a later set overwrites what an earlier
 * one filled in, and leaves the rest (cf. dav1d's *_dsp_init_x86). */
void mx_mix_dsp_init(struct mx_mix_dsp *dsp, unsigned flags)
{
	mx_mix_dsp_init_c(dsp);
#if MX_ARCH_X86
	if (flags & MX_CPU_SSE2)
		mx_mix_dsp_init_sse2(dsp);
	if (flags & MX_CPU_AVX2)
		mx_mix_dsp_init_avx2(dsp);
#elif MX_ARCH_AARCH64
	if (flags & MX_CPU_NEON)
		mx_mix_dsp_init_neon(dsp);
#else
	(void)flags;
#endif
}
