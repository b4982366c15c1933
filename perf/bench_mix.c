/*
 * bench_mix: the audio mixing kernels (mixer/dsp/) per instruction set.
 *
 * A "tick" is what a room does every 20 ms: zero acc, accumulate every
 * source's 960 samples into it, then write 4 outputs with mix_out: the
 * N-1 mix of each of 3 active speakers (acc minus its own voice) and the
 * common mix. Reported as ns per sample of the frame (tick time / 960),
 * the median of RUNS runs of many ticks each, for 3, 10 and 50 sources,
 * and the speed-up over the C reference. The tick is timed twice: with
 * one accumulate call per source (as the room loop was first sketched),
 * and with one accumulate_many call for all sources. Then each kernel
 * alone.
 *
 * Usage: bench_mix [runs]   (default 15; TUTTI_CPU_MASK limits the ISAs)
 * Build in Release: the numbers mean nothing at -O0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "mixer/dsp/dsp.h"

#define FRAME    960
#define MAX_SRC  50
#define OUTS     4         /* 3 speakers' N-1 mixes + the common mix */
#define RUN_NS   4000000.0 /* aim each run at ~4 ms */
#define MAX_RUNS 101

struct isa {
	const char *name;
	unsigned flag;
	void (*init)(struct mx_mix_dsp *dsp);
};

static const struct isa isas[] = {
    {"C", 0, NULL},
#if MX_ARCH_X86
    {"SSE2", MX_CPU_SSE2, mx_mix_dsp_init_sse2},
    {"AVX2", MX_CPU_AVX2, mx_mix_dsp_init_avx2},
#endif
#if MX_ARCH_AARCH64
    {"NEON", MX_CPU_NEON, mx_mix_dsp_init_neon},
#endif
};

static int16_t src[MAX_SRC][FRAME];
static int16_t neg0[FRAME]; /* -src[0]: accumulate adds both, acc stays put */
static int32_t acc[FRAME];
static int16_t out[OUTS][FRAME];
static volatile uint64_t sink; /* keeps results alive */
static int runs = 15;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void tick(const struct mx_mix_dsp *d, int nsrc, int many)
{
	static const int16_t *srcs[MAX_SRC];

	memset(acc, 0, sizeof(acc));
	if (many) {
		for (int s = 0; s < nsrc; s++)
			srcs[s] = src[s];
		d->accumulate_many(acc, srcs, (size_t)nsrc, FRAME);
	} else {
		for (int s = 0; s < nsrc; s++)
			d->accumulate(acc, src[s], FRAME);
	}
	for (int k = 0; k < OUTS - 1; k++)
		d->mix_out(out[k], acc, src[k], 30000, FRAME);
	d->mix_out(out[OUTS - 1], acc, NULL, 30000, FRAME);
}

enum what {
	W_TICK,
	W_TICK_MANY,
	W_ACCUMULATE,
	W_MIX_OUT_SUB,
	W_MIX_OUT,
	W_PEAK,
	W_ENERGY
};

static void once(const struct mx_mix_dsp *d, enum what w, int nsrc)
{
	switch (w) {
	case W_TICK:
	case W_TICK_MANY:
		tick(d, nsrc, w == W_TICK_MANY);
		break;
	case W_ACCUMULATE: /* two calls: timed per call in measure() */
		d->accumulate(acc, src[0], FRAME);
		d->accumulate(acc, neg0, FRAME);
		break;
	case W_MIX_OUT_SUB:
		d->mix_out(out[0], acc, src[0], 30000, FRAME);
		break;
	case W_MIX_OUT:
		d->mix_out(out[0], acc, NULL, 30000, FRAME);
		break;
	case W_PEAK:
		sink += (uint64_t)d->peak(acc, src[0], FRAME);
		break;
	case W_ENERGY:
		sink += d->energy(src[0], FRAME);
		break;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long calibrate(const struct mx_mix_dsp *d, enum what w, int nsrc)
{
	long iters = 1;

	for (;;) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++)
			once(d, w, nsrc);
		if (now_ns() - t0 > RUN_NS / 4 || iters > (1L << 24))
			return iters * 4;
		iters *= 2;
	}
}

/*
 * For each ISA k with have[k]: median over runs of (time of iters[k]
 * calls) / iters[k] / FRAME, into med[k]. The ISAs take turns within each
 * run, so a burst of load from a neighbour on this shared machine hits
 * all of them alike instead of skewing one ratio.
 */
static void measure(const struct mx_mix_dsp *d, const int *have, size_t nisa, enum what w,
		    int nsrc, double *med)
{
	static double t[8][MAX_RUNS];
	long iters[8];

	for (size_t k = 0; k < nisa; k++)
		iters[k] = have[k] ? calibrate(&d[k], w, nsrc) : 0;
	for (int r = 0; r < runs; r++) {
		for (size_t k = 0; k < nisa; k++) {
			double t0 = now_ns();

			for (long i = 0; i < iters[k]; i++)
				once(&d[k], w, nsrc);
			if (have[k])
				t[k][r] = (now_ns() - t0) / iters[k] / FRAME /
					  (w == W_ACCUMULATE ? 2 : 1);
		}
	}
	for (size_t k = 0; k < nisa; k++) {
		qsort(t[k], (size_t)runs, sizeof(t[k][0]), cmp_double);
		med[k] = t[k][runs / 2];
	}
	sink += out[0][1] + out[OUTS - 1][2];
}

int main(int argc, char **argv)
{
	static const int nsrcs[] = {3, 10, 50};
	static const struct {
		const char *name;
		enum what w;
	} kernels[] = {
	    {"mix_out (sub)", W_MIX_OUT_SUB}, {"mix_out (NULL)", W_MIX_OUT},
	    {"peak (sub)", W_PEAK},           {"energy", W_ENERGY},
	    {"accumulate", W_ACCUMULATE},
	};
	struct mx_mix_dsp dsp[CM_ARRAY_SIZE(isas)];
	int have[CM_ARRAY_SIZE(isas)];
	unsigned cpu = mx_cpu_flags();
	uint32_t x = 12345;

	if (argc > 1)
		runs = CM_MAX(1, CM_MIN(MAX_RUNS, atoi(argv[1])));
	/* Speech-like enough for integer kernels: full-range noise. */
	for (int s = 0; s < MAX_SRC; s++)
		for (int i = 0; i < FRAME; i++) {
			x = x * 1664525u + 1013904223u;
			src[s][i] = (int16_t)(x >> 16);
		}
	for (int i = 0; i < FRAME; i++) {
		src[0][i] = (int16_t)CM_MAX(src[0][i], -32767);
		neg0[i] = (int16_t)-src[0][i];
	}
	for (size_t k = 0; k < CM_ARRAY_SIZE(isas); k++) {
		mx_mix_dsp_init_c(&dsp[k]);
		have[k] = !isas[k].flag || (cpu & isas[k].flag);
		if (isas[k].init && have[k])
			isas[k].init(&dsp[k]);
	}

	printf(
	    "cpu flags 0x%x, median of %d runs, ns per sample of a 960-sample frame\n\n",
	    cpu, runs);
	printf("| sources | ISA | accumulate per source: ns/sample | µs/tick | vs C "
	       "| accumulate_many: ns/sample | µs/tick | vs C |\n"
	       "|---:|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t n = 0; n < CM_ARRAY_SIZE(nsrcs); n++) {
		double t[2][CM_ARRAY_SIZE(isas)];

		for (int m = 0; m < 2; m++)
			measure(dsp, have, CM_ARRAY_SIZE(isas), m ? W_TICK_MANY : W_TICK,
				nsrcs[n], t[m]);
		for (size_t k = 0; k < CM_ARRAY_SIZE(isas); k++) {
			if (!have[k])
				continue;
			printf(
			    "| %d | %s | %.3f | %.2f | %.2fx | %.3f | %.2f | %.2fx |\n",
			    nsrcs[n], isas[k].name, t[0][k], t[0][k] * FRAME / 1000.0,
			    t[0][0] / t[0][k], t[1][k], t[1][k] * FRAME / 1000.0,
			    t[1][0] / t[1][k]);
		}
	}

	tick(&dsp[0], 3, 0); /* a realistic acc for mix_out and peak */
	printf("\nEach kernel alone (960 samples):\n\n");
	printf("| kernel | ISA | ns/sample | vs C |\n|---|---|---:|---:|\n");
	for (size_t j = 0; j < CM_ARRAY_SIZE(kernels); j++) {
		double t[CM_ARRAY_SIZE(isas)];

		tick(&dsp[0], 3, 0);
		measure(dsp, have, CM_ARRAY_SIZE(isas), kernels[j].w, 3, t);
		for (size_t k = 0; k < CM_ARRAY_SIZE(isas); k++)
			if (have[k])
				printf("| %s | %s | %.3f | %.2fx |\n", kernels[j].name,
				       isas[k].name, t[k], t[0] / t[k]);
	}
	return 0;
}
