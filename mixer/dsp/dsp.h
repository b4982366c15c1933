/*
 * mixer/dsp/ — the audio mixing kernels, internal to the media code.
 *
 * One table of function pointers per kernel family (dav1d style): the
 * C versions are always built and always filled in first, then
 * mx_mix_dsp_init() upgrades each entry to the best version the CPU flags
 * allow. Dispatch happens once, when a room (or test) fills its table;
 * the hot loop calls through the pointers and never tests flags.
 *
 * Every version of a kernel returns bit-for-bit the same result as its C
 * reference (tests/unit/test_checkasm_mix.c checks this on random and
 * edge inputs for each instruction set the build and the CPU have).
 *
 * Common contract of all kernels (cf. FFmpeg's libavutil/float_dsp.h):
 *  - any n >= 0; n need not be a multiple of the vector width (the SIMD
 *    versions finish with a scalar tail);
 *  - no alignment is required of any pointer (unaligned loads/stores);
 *  - output buffers must not overlap input buffers;
 *  - "acc" is a sum of at most 64 int16 sources (|acc[i]| <= 2^21), and
 *    in any case |acc[i]| <= 2^30 so that acc[i] - sub[i] fits in int32.
 */
#ifndef TUTTI_MIXER_DSP_H
#define TUTTI_MIXER_DSP_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define MX_ARCH_X86 1
#else
#define MX_ARCH_X86 0
#endif
#if defined(__aarch64__)
#define MX_ARCH_AARCH64 1
#else
#define MX_ARCH_AARCH64 0
#endif

/* CPU feature flags; a flag is only ever set for an instruction set whose
 * kernels the build has. */
enum {
	MX_CPU_SSE2 = 1 << 0,
	MX_CPU_AVX2 = 1 << 1,
	MX_CPU_NEON = 1 << 2,
};

/*
 * The features of this CPU (cpuid through __builtin_cpu_supports on x86;
 * NEON is architectural on AArch64), ANDed with the mask in the
 * environment variable TUTTI_CPU_MASK (hex "0x3" or decimal "3"), and 0
 * when TUTTI_FORCE_C=1. The mask lets tests and users force a lower path.
 * Reads the environment on every call: call it once at start.
 */
unsigned mx_cpu_flags(void);

/* Gain 1.0 in Q15 (the largest gain mix_out accepts). */
#define MX_GAIN_UNITY 32768

struct mx_mix_dsp {
	/* acc[i] += src[i] for i < n. */
	void (*accumulate)(int32_t *acc, const int16_t *src, size_t n);
	/*
	 * acc[i] += src[0][i] + ... + src[nsrc - 1][i] for i < n: the same
	 * result as nsrc calls of accumulate, in one pass over acc. A room
	 * sums its speakers this way: acc is loaded and stored once per
	 * vector rather than once per source, which is what bounds the
	 * one-source kernel (two stores per vector of 8 samples). nsrc may be 0.
	 */
	void (*accumulate_many)(int32_t *acc, const int16_t *const *src, size_t nsrc,
				size_t n);
	/*
	 * out[i] = sat16(floor((acc[i] - (sub ? sub[i] : 0)) * gain_q15 / 32768)),
	 * computed exactly (as if in 64 bits), rounding towards minus
	 * infinity, then saturated to [-32768, 32767]. gain_q15 in
	 * 0..MX_GAIN_UNITY. sub may be NULL (the common mix); otherwise it
	 * is the listener's own voice, removed for its N-1 mix.
	 */
	void (*mix_out)(int16_t *out, const int32_t *acc, const int16_t *sub,
			int32_t gain_q15, size_t n);
	/* max over i < n of |acc[i] - (sub ? sub[i] : 0)|; 0 when n == 0. */
	int32_t (*peak)(const int32_t *acc, const int16_t *sub, size_t n);
	/* sum over i < n of src[i]^2, exact for any n < 2^34: the level of a
	 * sender without the RFC 6464 audio-level extension. */
	uint64_t (*energy)(const int16_t *src, size_t n);
};

/* Fills dsp with the C versions, then with the best versions that flags
 * (usually mx_cpu_flags()) allow. */
void mx_mix_dsp_init(struct mx_mix_dsp *dsp, unsigned flags);

/* Per instruction set: each overwrites the entries it has a faster
 * version of and leaves the others alone. Used by mx_mix_dsp_init and by
 * the checkasm test; call only when the CPU has that instruction set. */
void mx_mix_dsp_init_c(struct mx_mix_dsp *dsp);
#if MX_ARCH_X86
void mx_mix_dsp_init_sse2(struct mx_mix_dsp *dsp);
void mx_mix_dsp_init_avx2(struct mx_mix_dsp *dsp);
#endif
#if MX_ARCH_AARCH64
void mx_mix_dsp_init_neon(struct mx_mix_dsp *dsp);
#endif

#endif
