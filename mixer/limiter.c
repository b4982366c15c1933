/*
 * Look-ahead peak limiter: see limiter.h for the shape of the gain curve.
 * All integer arithmetic, so every mix of a room (and every run of the
 * tests) limits identically on any CPU.
 */
#include <string.h>

#include "common/common.h"
#include "mixer/limiter.h"

void mx_limiter_init(struct mx_limiter *l)
{
	memset(l, 0, sizeof(*l));
	l->gain_q15 = MX_GAIN_UNITY;
}

int32_t mx_limiter_gain_for_peak(int32_t peak)
{
	const int64_t r = MX_LIMITER_CEIL - MX_LIMITER_KNEE;
	int64_t over, target;

	if (peak <= MX_LIMITER_KNEE)
		return MX_GAIN_UNITY;
	over = (int64_t)peak - MX_LIMITER_KNEE;
	target = MX_LIMITER_KNEE + r * over / (r + over);
	/* Rounded down, so gain * peak never exceeds target. */
	return (int32_t)(target * MX_GAIN_UNITY / peak);
}

/* One frame of at most MX_LIMITER_MAX_BLOCKS blocks. */
static void run_frame(struct mx_limiter *l, const struct mx_mix_dsp *dsp, int16_t *out,
		      const int32_t *acc, const int16_t *sub, size_t n)
{
	int32_t need[MX_LIMITER_MAX_BLOCKS];
	int32_t g0 = l->gain_q15, target = MX_GAIN_UNITY, g = g0;
	unsigned nb = (unsigned)((n + MX_LIMITER_BLOCK - 1) / MX_LIMITER_BLOCK);
	unsigned b;

	/* Look ahead: what each block allows, and the frame's target. */
	for (b = 0; b < nb; b++) {
		size_t off = (size_t)b * MX_LIMITER_BLOCK;
		size_t len = CM_MIN(n - off, (size_t)MX_LIMITER_BLOCK);

		need[b] = mx_limiter_gain_for_peak(
		    dsp->peak(acc + off, sub ? sub + off : NULL, len));
		target = CM_MIN(target, need[b]);
	}

	for (b = 0; b < nb; b++) {
		size_t off = (size_t)b * MX_LIMITER_BLOCK;
		size_t len = CM_MIN(n - off, (size_t)MX_LIMITER_BLOCK);

		if (target < g0) {
			/* Attack: a straight line from g0 to target over the
			 * frame, capped by every block's need up to this one:
			 * the cap never rises again, so neither does g. */
			int32_t line =
			    g0 - (int32_t)(((int64_t)(g0 - target) * (b + 1)) / nb);

			g = CM_MIN(g, CM_MIN(line, need[b]));
		} else if (g < target) {
			/* Release: close a fixed share of the distance, at
			 * least one step so that it always arrives. */
			int32_t step =
			    (int32_t)(((int64_t)(target - g) * MX_LIMITER_RELEASE_Q15 +
				       MX_GAIN_UNITY - 1) /
				      MX_GAIN_UNITY);

			g = CM_MIN(g + step, target);
		}
		l->block_gain[b] = g;
		dsp->mix_out(out + off, acc + off, sub ? sub + off : NULL, g, len);
	}
	l->nblocks = nb;
	l->gain_q15 = g;
}

void mx_limiter_run(struct mx_limiter *l, const struct mx_mix_dsp *dsp, int16_t *out,
		    const int32_t *acc, const int16_t *sub, size_t n)
{
	const size_t frame = (size_t)MX_LIMITER_BLOCK * MX_LIMITER_MAX_BLOCKS;

	while (n) {
		size_t len = CM_MIN(n, frame);

		run_frame(l, dsp, out, acc, sub, len);
		out += len;
		acc += len;
		if (sub)
			sub += len;
		n -= len;
	}
}
