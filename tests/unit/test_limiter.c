/*
 * The limiter keeps a mix of loud speakers below full scale without
 * losing the tone, leaves quiet mixes bit-exact, and lets the gain come
 * back slowly once the loud part stops.
 */
#include <stdint.h>

#include "common/common.h"
#include "mixer/limiter.h"
#include "check.h"

#define FRAME  960
#define PERIOD 48 /* a 1 kHz tone at 48 kHz: 20 periods a frame */

static struct mx_mix_dsp dsp;
static double unit_sine[PERIOD];

/* One period of sin(2 pi i / 48) by rotating a unit vector by 7.5
 * degrees at a time: no libm (the unit tests do not link it). */
static void make_unit_sine(void)
{
	const double c = 0.99144486137381041, s = 0.13052619222005157;
	double x = 1.0, y = 0.0;

	for (int i = 0; i < PERIOD; i++) {
		double nx = x * c - y * s;

		unit_sine[i] = y;
		y = x * s + y * c;
		x = nx;
	}
}

static int32_t round_to_int(double v)
{
	return (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
}

/* Sample i (counted from the start of the stream) of a 1 kHz sine of the
 * given amplitude, as a source would send it. */
static int16_t sine(double amp, long i)
{
	return (int16_t)round_to_int(amp * unit_sine[i % PERIOD]);
}

/* acc for frame k: nsrc in-phase sines of amplitude amp, summed with the
 * accumulate kernel as the room does. */
static void mix_frame(int32_t *acc, int nsrc, double amp, long k)
{
	int16_t src[FRAME];

	memset(acc, 0, FRAME * sizeof(*acc));
	for (long i = 0; i < FRAME; i++)
		src[i] = sine(amp, k * FRAME + i);
	for (int s = 0; s < nsrc; s++)
		dsp.accumulate(acc, src, FRAME);
}

static int max_abs16(const int16_t *x, size_t n)
{
	int m = 0;

	for (size_t i = 0; i < n; i++)
		m = CM_MAX(m, abs(x[i]));
	return m;
}

/* Three full-scale speakers at once (peak ~98k): not one sample reaches
 * full scale, and the 1 kHz tone is still a clean 1 kHz tone near 0 dBFS. */
static void three_full_scale_sines_never_clip_and_keep_the_tone(void)
{
	struct mx_limiter l;
	int32_t acc[FRAME];
	int16_t out[FRAME];
	double xy = 0, xx = 0, yy = 0;
	int at_full_scale = 0, peak_all = 0;

	mx_limiter_init(&l);
	for (long k = 0; k < 50; k++) {
		mix_frame(acc, 3, 32767.0, k);
		mx_limiter_run(&l, &dsp, out, acc, NULL, FRAME);
		for (int i = 0; i < FRAME; i++) {
			double ref = unit_sine[(k * FRAME + i) % PERIOD];

			at_full_scale += out[i] >= 32767 || out[i] <= -32767;
			xy += out[i] * ref;
			xx += (double)out[i] * out[i];
			yy += ref * ref;
		}
		peak_all = CM_MAX(peak_all, max_abs16(out, FRAME));
		/* Attack is at once: even the first frame is at level,
		 * within 1 dB of the ceiling. */
		CHECK(max_abs16(out, FRAME) > MX_LIMITER_CEIL * 0.89);
	}
	CHECK_EQ(at_full_scale, 0);
	CHECK(peak_all <= MX_LIMITER_CEIL + 1);
	/* Correlation with the pure tone above 0.999 (squared: 0.998). */
	CHECK(xy * xy > 0.998 * xx * yy);
	/* Power against a sine's at the ceiling (CEIL^2 / 2): within 1 dB,
	 * 10^(-1/10) = 0.794. */
	CHECK(xx / (50.0 * FRAME) > 0.794 * MX_LIMITER_CEIL * MX_LIMITER_CEIL / 2.0);
}

/* A listener's N-1 mix (two loud speakers left after removing itself)
 * is limited on the difference, not on the full sum. */
static void n_minus_1_mix_is_limited_on_what_the_listener_hears(void)
{
	struct mx_limiter l;
	int32_t acc[FRAME];
	int16_t own[FRAME], out[FRAME];

	mx_limiter_init(&l);
	for (long k = 0; k < 10; k++) {
		mix_frame(acc, 3, 32767.0, k);
		for (int i = 0; i < FRAME; i++)
			own[i] = sine(32767.0, k * FRAME + i);
		mx_limiter_run(&l, &dsp, out, acc, own, FRAME);
		CHECK(max_abs16(out, FRAME) <= MX_LIMITER_CEIL + 1);
		CHECK(max_abs16(out, FRAME) > MX_LIMITER_KNEE);
	}
	/* Two sources (peak 65534) need less reduction than three. */
	CHECK(l.gain_q15 > mx_limiter_gain_for_peak(3 * 32767));
	CHECK_EQ(l.gain_q15, mx_limiter_gain_for_peak(2 * 32767));
}

/* Below the knee the limiter is a wire: output == the saturating sum,
 * with and without the listener's own voice removed. */
static void quiet_mix_passes_bit_exact(void)
{
	struct mx_limiter l;
	int32_t acc[FRAME];
	int16_t own[FRAME], out[FRAME];

	mx_limiter_init(&l);
	for (long k = 0; k < 10; k++) {
		mix_frame(acc, 3, 5000.0, k); /* peak 15000 < knee */
		for (int i = 0; i < FRAME; i++)
			own[i] = (int16_t)(i * 37 % 1001 - 500); /* acc - own: peak <= 15500 */
		mx_limiter_run(&l, &dsp, out, acc, NULL, FRAME);
		for (int i = 0; i < FRAME; i++)
			CHECK_EQ(out[i], acc[i]);
		mx_limiter_run(&l, &dsp, out, acc, own, FRAME);
		for (int i = 0; i < FRAME; i++)
			CHECK_EQ(out[i], acc[i] - own[i]);
		for (unsigned b = 0; b < l.nblocks; b++)
			CHECK_EQ(l.block_gain[b], MX_GAIN_UNITY);
	}
	CHECK_EQ(l.nblocks, 8);
}

/* After the loud part stops the gain climbs back to exactly 1.0, never
 * by more than one release step per block, never downwards. */
static void gain_recovers_slowly_after_loud_part(void)
{
	struct mx_limiter l;
	int32_t acc[FRAME];
	int16_t out[FRAME];
	int32_t prev, low;
	long k, frames_to_unity = -1;
	int max_step = 0;

	mx_limiter_init(&l);
	for (k = 0; k < 20; k++) {
		mix_frame(acc, 3, 32767.0, k);
		mx_limiter_run(&l, &dsp, out, acc, NULL, FRAME);
	}
	low = prev = l.gain_q15;
	CHECK_EQ(low, mx_limiter_gain_for_peak(3 * 32767));
	for (; k < 200; k++) {
		mix_frame(acc, 3, 5000.0, k); /* quiet: target 1.0 */
		mx_limiter_run(&l, &dsp, out, acc, NULL, FRAME);
		for (unsigned b = 0; b < l.nblocks; b++) {
			int step = l.block_gain[b] - prev;

			CHECK(step >= 0);
			max_step = CM_MAX(max_step, step);
			prev = l.block_gain[b];
		}
		/* The quiet frame's own samples follow that block's gain. */
		CHECK_EQ(out[FRAME - 1],
			 (int16_t)(((int64_t)acc[FRAME - 1] * l.block_gain[7]) >> 15));
		if (frames_to_unity < 0 && l.gain_q15 == MX_GAIN_UNITY)
			frames_to_unity = k - 20 + 1;
	}
	printf(
	    "  release: gain %.3f -> 1.0 in %ld frames, largest step %d/32768 a block\n",
	    low / 32768.0, frames_to_unity, max_step);
	CHECK(max_step <= MX_LIMITER_RELEASE_Q15);
	CHECK(max_step > 0);
	/* Slow: not back within 100 ms, back within 3 s. */
	CHECK(frames_to_unity > 5);
	CHECK(frames_to_unity > 0 && frames_to_unity <= 150);
}

/* A burst in the last block of a frame: the gain comes down over the
 * frame in steps (look-ahead), not all at once at the burst. */
static void attack_ramps_down_ahead_of_a_late_peak(void)
{
	struct mx_limiter l;
	int32_t acc[FRAME];
	int16_t out[FRAME];

	mx_limiter_init(&l);
	mix_frame(acc, 1, 10000.0, 0);
	for (int i = FRAME - MX_LIMITER_BLOCK; i < FRAME; i++)
		acc[i] *= 8; /* peak 80000 */
	mx_limiter_run(&l, &dsp, out, acc, NULL, FRAME);
	for (unsigned b = 1; b < l.nblocks; b++)
		CHECK(l.block_gain[b] < l.block_gain[b - 1]);
	CHECK(l.block_gain[0] < MX_GAIN_UNITY);
	CHECK_EQ(l.block_gain[7], mx_limiter_gain_for_peak(80000));
	CHECK(max_abs16(out, FRAME) <= MX_LIMITER_CEIL + 1);
}

/* The knee curve: 1.0 up to the knee, then an output peak that rises
 * continuously and stays below the ceiling up to a 64-source sum. */
static void knee_curve_is_continuous_and_below_ceiling(void)
{
	int64_t prev_out = 0;

	CHECK_EQ(mx_limiter_gain_for_peak(0), MX_GAIN_UNITY);
	CHECK_EQ(mx_limiter_gain_for_peak(MX_LIMITER_KNEE), MX_GAIN_UNITY);
	CHECK(mx_limiter_gain_for_peak(MX_LIMITER_KNEE + 1) < MX_GAIN_UNITY);
	for (int32_t p = MX_LIMITER_KNEE; p <= 64 * 32768; p += 7) {
		int64_t o = (int64_t)p * mx_limiter_gain_for_peak(p) >> 15;

		CHECK(o <= MX_LIMITER_CEIL);
		/* Monotone up to the rounding of a Q15 gain: p / 2^15. */
		CHECK(o >= prev_out - (p >> 15) - 1);
		prev_out = o;
	}
	CHECK(prev_out > MX_LIMITER_CEIL - 200);
}

/* Odd lengths (a short last block, several frames in one call) work. */
static void odd_lengths_are_limited_too(void)
{
	static int32_t acc[2500];
	static int16_t out[2500];
	struct mx_limiter l;

	for (int i = 0; i < 2500; i++)
		acc[i] = round_to_int(90000.0 * unit_sine[(i * 7) % PERIOD]);
	mx_limiter_init(&l);
	mx_limiter_run(&l, &dsp, out, acc, NULL, 2500);
	CHECK(max_abs16(out, 2500) <= MX_LIMITER_CEIL + 1);
	CHECK_EQ(l.nblocks, 5); /* 2500 = 960 + 960 + 580 */
	mx_limiter_run(&l, &dsp, out, acc, NULL, 0);
}

int main(void)
{
	mx_mix_dsp_init(&dsp, mx_cpu_flags());
	make_unit_sine();
	RUN(three_full_scale_sines_never_clip_and_keep_the_tone);
	RUN(n_minus_1_mix_is_limited_on_what_the_listener_hears);
	RUN(quiet_mix_passes_bit_exact);
	RUN(gain_recovers_slowly_after_loud_part);
	RUN(attack_ramps_down_ahead_of_a_late_peak);
	RUN(knee_curve_is_continuous_and_below_ceiling);
	RUN(odd_lengths_are_limited_too);
	return check_report();
}
