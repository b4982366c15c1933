/*
 * The scalar definition of each mixing kernel, shared by the C reference
 * (mix_c.c) and by the tails of the SIMD versions, so that the handful of
 * samples past the last full vector are computed by the very code that
 * defines the result. Private to mixer/dsp/.
 */
#ifndef TUTTI_MIXER_DSP_MIX_SCALAR_H
#define TUTTI_MIXER_DSP_MIX_SCALAR_H

#include <stddef.h>
#include <stdint.h>

static inline int16_t mx_sat16(int32_t v)
{
	if (v > INT16_MAX)
		return INT16_MAX;
	if (v < INT16_MIN)
		return INT16_MIN;
	return (int16_t)v;
}

static inline void mx_accumulate_scalar(int32_t *acc, const int16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] += src[i];
}

/* Samples off..n-1 of every source: the tail after the vector blocks. */
static inline void mx_accumulate_many_scalar(int32_t *acc, const int16_t *const *src,
					     size_t nsrc, size_t off, size_t n)
{
	for (size_t s = 0; s < nsrc; s++)
		mx_accumulate_scalar(acc + off, src[s] + off, n - off);
}

/* The product x * gain needs up to 47 bits, hence int64. A right shift
 * of a negative int64 is implementation-defined in C11 but an arithmetic
 * shift (a floor) on GCC and Clang, the only compilers we build with. */
static inline void mx_mix_out_scalar(int16_t *out, const int32_t *acc, const int16_t *sub,
				     int32_t gain_q15, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t x = acc[i] - (sub ? sub[i] : 0);

		out[i] = mx_sat16((int32_t)(((int64_t)x * gain_q15) >> 15));
	}
}

static inline int32_t mx_peak_scalar(const int32_t *acc, const int16_t *sub, size_t n)
{
	int32_t peak = 0;

	for (size_t i = 0; i < n; i++) {
		int32_t x = acc[i] - (sub ? sub[i] : 0);

		if (x < 0)
			x = -x;
		if (x > peak)
			peak = x;
	}
	return peak;
}

/* A square is at most 2^30, so it fits in int32 before widening. */
static inline uint64_t mx_energy_scalar(const int16_t *src, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (uint64_t)((int32_t)src[i] * src[i]);
	return sum;
}

#endif
