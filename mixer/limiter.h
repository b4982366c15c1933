/*
 * A look-ahead peak limiter for one output mix, so that the sum of the
 * active speakers never clips (and never wraps) when it is turned back
 * into 16-bit samples. One limiter per output mix: the common mix and
 * each active speaker's N-1 mix.
 *
 * The look-ahead is the frame itself: the whole 20 ms is summed before
 * any of it is sent, so the gain can come down before a peak, not after.
 * A frame is cut into blocks of MX_LIMITER_BLOCK samples; each block gets
 * one gain, at most what that block's own peak allows, and consecutive
 * blocks step smoothly:
 *  - knee: peaks up to MX_LIMITER_KNEE pass at gain 1.0 exactly (the
 *    output is then the plain saturating sum); above it the output peak
 *    follows K + R * o / (R + o), o = peak - K, R = CEIL - K: slope 1 at
 *    the knee, approaching MX_LIMITER_CEIL (0.7 full scale) for large
 *    peaks, so loud speech is compressed smoothly, not flattened;
 *  - attack: within the frame, from the previous gain down to what the
 *    frame's loudest block needs, in equal steps per block, but never
 *    above what any block seen so far needs (so the output stays below
 *    the ceiling, and the gain never goes back up within an attack);
 *  - release: per block, an exponential approach to the frame's target
 *    with a time constant of ~150 ms (MX_LIMITER_RELEASE_Q15 per block),
 *    so a block's gain rises by at most MX_LIMITER_RELEASE_Q15 / 32768.
 */
#ifndef TUTTI_MIXER_LIMITER_H
#define TUTTI_MIXER_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "mixer/dsp/dsp.h"

#define MX_LIMITER_BLOCK      120   /* 2.5 ms at 48 kHz */
#define MX_LIMITER_MAX_BLOCKS 8     /* one 20 ms frame: 960 samples */
/* The ceiling leaves room for the Opus codec: a two-tone mix limited to
 * 0.92 full scale came back from a 32 kbit/s encode (FEC, DTX) and decode
 * with full-scale samples; at 0.75 it did not (measured). */
#define MX_LIMITER_KNEE       16384 /* 0.5 full scale, -6 dBFS */
#define MX_LIMITER_CEIL       22938 /* 0.7 full scale, -3.1 dBFS */
/* Release per block in Q15: 1 - exp(-2.5 ms / 150 ms). */
#define MX_LIMITER_RELEASE_Q15 542

struct mx_limiter {
	int32_t gain_q15; /* gain of the last block sent, 0..MX_GAIN_UNITY */
	/* The gains of the blocks of the last frame (for tests and stats). */
	int32_t block_gain[MX_LIMITER_MAX_BLOCKS];
	unsigned nblocks;
};

/* Starts at gain 1.0. */
void mx_limiter_init(struct mx_limiter *l);

/*
 * out[i] = acc[i] - (sub ? sub[i] : 0), scaled by the limiter's gain and
 * saturated to int16, for i < n, through dsp->peak and dsp->mix_out.
 * Meant to be called once per 20 ms frame (n = 960 at 48 kHz); longer
 * calls are cut into frames of MX_LIMITER_MAX_BLOCKS blocks. The caller
 * owns all buffers; acc follows the kernels' contract (see dsp.h).
 */
void mx_limiter_run(struct mx_limiter *l, const struct mx_mix_dsp *dsp, int16_t *out,
		    const int32_t *acc, const int16_t *sub, size_t n);

/* The gain (Q15) that brings a peak down onto the knee curve; 1.0 at or
 * below the knee. Exposed for tests. */
int32_t mx_limiter_gain_for_peak(int32_t peak);

#endif
