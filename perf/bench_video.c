/*
 * bench_video: the video compositing kernels (mixer/dsp/video.h) per
 * instruction set, on the jobs the compositor does, next to libswscale
 * and libyuv doing the same job.
 *
 * A job is one whole I420 picture scaled to a tile (three planes):
 * 720p -> 180p (a tile of a 4x4 grid on the 720p tier), 720p -> 256x144
 * (5x5 grid), 360p -> 180p, 720p -> 360p, 180p -> 360p (an upscale) and
 * 640x480 -> 426x320 (a 1.5x downscale). Reported: µs per job, the
 * median of RUNS runs of ~2 ms each, the candidates taking turns within
 * each run (a burst of load from a neighbour hits all alike), and the
 * ratio to the fastest candidate of the job. Then blit, fill and border.
 *
 * libswscale: one context per job and flags, made once; sws_scale on
 * the three planes. libyuv: I420Scale. Either is left out when the
 * build did not find it (HAVE_SWSCALE, HAVE_LIBYUV).
 *
 * Usage: bench_video [runs]   (default 15; TUTTI_CPU_MASK limits the ISAs)
 * Build in Release: the numbers mean nothing at -O0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "mixer/dsp/video.h"

#ifdef HAVE_SWSCALE
#include <libswscale/swscale.h>
#include <libavutil/pixfmt.h>
#endif
#ifdef HAVE_LIBYUV
#include <libyuv/scale.h>
#endif

#define RUN_NS   2000000.0
#define MAX_RUNS 101
#define MAX_CAND 16

struct isa {
	const char *name;
	unsigned flag;
	void (*init)(struct mx_video_dsp *dsp);
};

static const struct isa isas[] = {
    {"C", 0, NULL},
#if MX_ARCH_X86
    {"SSE2", MX_CPU_SSE2, mx_video_dsp_init_sse2},
    {"AVX2", MX_CPU_AVX2, mx_video_dsp_init_avx2},
#endif
};

/* One I420 picture, planes packed with stride = width. */
struct pic {
	uint8_t *p[3];
	int stride[3];
	int w, h;
};

enum kind { K_BILINEAR, K_BOX, K_SWS, K_YUV, K_BLIT, K_FILL, K_BORDER };

struct cand {
	char name[40];
	enum kind kind;
	const struct mx_video_dsp *dsp;
	void *sws;  /* struct SwsContext */
	int filter; /* libyuv FilterMode */
};

static int runs = 15;
static struct pic src, dst;
static struct mx_video_dsp dsps[CM_ARRAY_SIZE(isas)];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pic_alloc(struct pic *p, int w, int h)
{
	uint32_t x = 12345;

	p->w = w;
	p->h = h;
	for (int i = 0; i < 3; i++) {
		int pw = i ? (w + 1) / 2 : w, ph = i ? (h + 1) / 2 : h;

		p->stride[i] = pw;
		p->p[i] = malloc((size_t)pw * (size_t)ph);
		/* A smooth gradient with some noise: camera-like enough. */
		for (int y = 0; y < ph; y++)
			for (int k = 0; k < pw; k++) {
				x = x * 1664525u + 1013904223u;
				p->p[i][y * pw + k] = (uint8_t)(k / 3 + y / 2 + (x >> 29));
			}
	}
}

static void pic_free(struct pic *p)
{
	for (int i = 0; i < 3; i++)
		free(p->p[i]);
}

static void once(const struct cand *c)
{
	const uint8_t *s[3] = {src.p[0], src.p[1], src.p[2]};

	switch (c->kind) {
	case K_BILINEAR:
	case K_BOX:
		for (int i = 0; i < 3; i++) {
			int sub = i ? 1 : 0;

			(c->kind == K_BOX ? c->dsp->scale_box : c->dsp->scale_bilinear)(
			    dst.p[i], dst.stride[i], (dst.w + sub) >> sub, (dst.h + sub) >> sub,
			    s[i], src.stride[i], (src.w + sub) >> sub, (src.h + sub) >> sub);
		}
		break;
	case K_SWS:
#ifdef HAVE_SWSCALE
		sws_scale(c->sws, s, src.stride, 0, src.h, dst.p, dst.stride);
#endif
		break;
	case K_YUV:
#ifdef HAVE_LIBYUV
		I420Scale(s[0], src.stride[0], s[1], src.stride[1], s[2], src.stride[2],
			  src.w, src.h, dst.p[0], dst.stride[0], dst.p[1], dst.stride[1],
			  dst.p[2], dst.stride[2], dst.w, dst.h, (enum FilterMode)c->filter);
#endif
		break;
	case K_BLIT: /* a 320x180 tile into the 720p canvas (src) */
		for (int i = 0; i < 3; i++) {
			int sub = i ? 1 : 0;

			c->dsp->blit(src.p[i] + (64 >> sub), src.stride[i], dst.p[i],
				     dst.stride[i], dst.w >> sub, dst.h >> sub);
		}
		break;
	case K_FILL: /* the background of the whole 720p canvas */
		for (int i = 0; i < 3; i++) {
			int sub = i ? 1 : 0;

			c->dsp->fill(src.p[i], src.stride[i], src.w >> sub, src.h >> sub,
				     (uint8_t)(i ? 128 : 16));
		}
		break;
	case K_BORDER: /* 4 px around a 320x180 tile */
		for (int i = 0; i < 3; i++) {
			int sub = i ? 1 : 0;

			c->dsp->border(dst.p[i], dst.stride[i], dst.w >> sub, dst.h >> sub,
				       4 >> sub, 200);
		}
		break;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long calibrate(const struct cand *c)
{
	long iters = 1;

	for (;;) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++)
			once(c);
		if (now_ns() - t0 > RUN_NS / 4 || iters > (1L << 20))
			return iters * 4;
		iters *= 2;
	}
}

/* Median µs per job of each candidate, taking turns within each run. */
static void measure(const struct cand *c, int n, double *med)
{
	static double t[MAX_CAND][MAX_RUNS];
	long iters[MAX_CAND];

	for (int k = 0; k < n; k++)
		iters[k] = calibrate(&c[k]);
	for (int r = 0; r < runs; r++)
		for (int k = 0; k < n; k++) {
			double t0 = now_ns();

			for (long i = 0; i < iters[k]; i++)
				once(&c[k]);
			t[k][r] = (now_ns() - t0) / iters[k] / 1000.0;
		}
	for (int k = 0; k < n; k++) {
		qsort(t[k], (size_t)runs, sizeof(t[k][0]), cmp_double);
		med[k] = t[k][runs / 2];
	}
}

static int add_ours(struct cand *c, int n, enum kind kind, const char *what, unsigned cpu)
{
	for (size_t k = 0; k < CM_ARRAY_SIZE(isas); k++) {
		if (isas[k].flag && !(cpu & isas[k].flag))
			continue;
		snprintf(c[n].name, sizeof(c[n].name), "tutti %s %s", what, isas[k].name);
		c[n].kind = kind;
		c[n].dsp = &dsps[k];
		n++;
	}
	return n;
}

static void print_table(const char *job, struct cand *c, int n, const double *t)
{
	double best = t[0];
	int ours = -1, lib = -1;

	for (int k = 0; k < n; k++) {
		best = CM_MIN(best, t[k]);
		if (c[k].kind <= K_BOX || c[k].kind >= K_BLIT)
			ours = ours < 0 || t[k] < t[ours] ? k : ours;
		else
			lib = lib < 0 || t[k] < t[lib] ? k : lib;
	}
	for (int k = 0; k < n; k++)
		printf("| %s | %s | %.1f | %.2fx |\n", job, c[k].name, t[k], t[k] / best);
	if (lib >= 0)
		printf("| %s | **fastest: %s; best tutti %s is %.2fx %s** | | |\n", job,
		       t[ours] <= t[lib] ? "tutti" : "library", c[ours].name,
		       t[ours] <= t[lib] ? t[lib] / t[ours] : t[ours] / t[lib],
		       t[ours] <= t[lib] ? "faster than the best library" : "slower");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int sw, sh, dw, dh;
	} jobs[] = {
	    {"720p->180p", 1280, 720, 320, 180},  {"720p->256x144", 1280, 720, 256, 144},
	    {"360p->180p", 640, 360, 320, 180},   {"720p->360p", 1280, 720, 640, 360},
	    {"180p->360p", 320, 180, 640, 360},   {"640x480->426x320", 640, 480, 426, 320},
	    /* a meeting's 5x5 grid: 360p and 180p senders into the tiers' tiles */
	    {"360p->256x144", 640, 360, 256, 144}, {"180p->128x72", 320, 180, 128, 72},
	    {"360p->64x36", 640, 360, 64, 36},
	};
	unsigned cpu = mx_cpu_flags();
	struct cand c[MAX_CAND];
	double t[MAX_CAND];

	if (argc > 1)
		runs = CM_MAX(1, CM_MIN(MAX_RUNS, atoi(argv[1])));
	for (size_t k = 0; k < CM_ARRAY_SIZE(isas); k++) {
		mx_video_dsp_init_c(&dsps[k]);
		if (isas[k].init && (cpu & isas[k].flag))
			isas[k].init(&dsps[k]);
	}
	printf("cpu flags 0x%x, median of %d runs, µs per I420 job (3 planes)\n\n", cpu,
	       runs);
	printf("| job | implementation | µs | vs fastest |\n|---|---|---:|---:|\n");
	for (size_t j = 0; j < CM_ARRAY_SIZE(jobs); j++) {
		int n = 0, box = jobs[j].sw >= 2 * jobs[j].dw && jobs[j].sh >= 2 * jobs[j].dh;

		memset(c, 0, sizeof(c));
		pic_alloc(&src, jobs[j].sw, jobs[j].sh);
		pic_alloc(&dst, jobs[j].dw, jobs[j].dh);
		n = add_ours(c, n, K_BILINEAR, "bilinear", cpu);
		if (box)
			n = add_ours(c, n, K_BOX, "box", cpu);
#ifdef HAVE_SWSCALE
		static const struct {
			const char *name;
			int flags;
		} sws[] = {{"swscale BILINEAR", SWS_BILINEAR},
			   {"swscale FAST_BILINEAR", SWS_FAST_BILINEAR},
			   {"swscale AREA", SWS_AREA}};
		for (size_t k = 0; k < CM_ARRAY_SIZE(sws); k++, n++) {
			snprintf(c[n].name, sizeof(c[n].name), "%s", sws[k].name);
			c[n].kind = K_SWS;
			c[n].sws = sws_getContext(jobs[j].sw, jobs[j].sh, AV_PIX_FMT_YUV420P,
						  jobs[j].dw, jobs[j].dh, AV_PIX_FMT_YUV420P,
						  sws[k].flags, NULL, NULL, NULL);
		}
#endif
#ifdef HAVE_LIBYUV
		snprintf(c[n].name, sizeof(c[n].name), "libyuv Bilinear");
		c[n].kind = K_YUV;
		c[n++].filter = kFilterBilinear;
		snprintf(c[n].name, sizeof(c[n].name), "libyuv Box");
		c[n].kind = K_YUV;
		c[n++].filter = kFilterBox;
#endif
		measure(c, n, t);
		print_table(jobs[j].name, c, n, t);
#ifdef HAVE_SWSCALE
		for (int k = 0; k < n; k++)
			if (c[k].sws)
				sws_freeContext(c[k].sws);
#endif
		pic_free(&src);
		pic_free(&dst);
	}

	/* The rest of a recomposition, on a 720p canvas and a 180p tile. */
	pic_alloc(&src, 1280, 720);
	pic_alloc(&dst, 320, 180);
	printf("\n| kernel (I420) | implementation | µs | vs fastest |\n|---|---|---:|---:|\n");
	{
		static const struct {
			const char *name;
			enum kind kind;
		} k3[] = {{"blit 320x180 tile", K_BLIT},
			  {"fill 1280x720 canvas", K_FILL},
			  {"border 4 px, 320x180", K_BORDER}};

		for (size_t k = 0; k < CM_ARRAY_SIZE(k3); k++) {
			int n = add_ours(c, 0, k3[k].kind, "", cpu);

			measure(c, n, t);
			print_table(k3[k].name, c, n, t);
		}
	}
	pic_free(&src);
	pic_free(&dst);
	return 0;
}
