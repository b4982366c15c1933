/*
 * checkasm for the mixing kernels (mixer/dsp/): every SIMD version the
 * build and this CPU have is run next to its C reference on random and
 * edge inputs, at many lengths and with misaligned pointers, and must
 * give the same bits, write nothing past n, and leave its inputs alone.
 * Also checks the dispatch: the CPU mask and TUTTI_FORCE_C pick C.
 *
 * TUTTI_CHECKASM_SEED=<n> reruns with a given seed (printed on failure).
 */
#include <stdint.h>

#include "common/common.h"
#include "mixer/dsp/dsp.h"
#include "check.h"
#include "checkasm.h"

#define MAXN       1936 /* longest length tested, plus room for offsets */
#define GUARD      16
#define SENTINEL16 0x5a5a
#define SENTINEL32 0x5a5a5a5a

/* The SIMD versions of the mixing kernels, by checkasm.h's ISA. */
static void (*const versions[CHECKASM_ISAS + 1])(struct mx_mix_dsp *dsp) = {
#if MX_ARCH_X86
    [CHECKASM_SSE2] = mx_mix_dsp_init_sse2,
    [CHECKASM_AVX2] = mx_mix_dsp_init_avx2,
#endif
#if MX_ARCH_AARCH64
    [CHECKASM_NEON] = mx_mix_dsp_init_neon,
#endif
};

static const size_t lengths[] = {0,  1,  2,  3,  7,   8,   9,   15,  16,  17,  31,  32,
				 33, 63, 64, 65, 119, 120, 121, 959, 960, 961, 1920};
static const int32_t gains[] = {0, 1, 2, 3, 16384, 23170, 32767, 32768};

static struct mx_mix_dsp ref, new; /* C, and the version under test */

/* Input patterns: random, and the values that break careless SIMD
 * (sign-extension, saturation, the asymmetric -32768, the 2^31 of
 * pmaddwd, the extremes of a 64-source sum). */
enum pattern { P_RANDOM, P_MIN, P_MAX, P_ZERO, P_ALTERNATE, P_SMALL, P_COUNT };

static int16_t sample(enum pattern p, size_t i)
{
	switch (p) {
	case P_MIN:
		return INT16_MIN;
	case P_MAX:
		return INT16_MAX;
	case P_ZERO:
		return 0;
	case P_ALTERNATE:
		return (i & 1) ? INT16_MAX : INT16_MIN;
	case P_SMALL:
		return (int16_t)((int)(rnd() % 7) - 3);
	default:
		return (int16_t)rnd();
	}
}

/* A value of acc: a sum of up to 64 sources, so within +-2^21. */
static int32_t acc_value(enum pattern p, size_t i)
{
	switch (p) {
	case P_MIN:
		return 64 * INT16_MIN;
	case P_MAX:
		return 64 * INT16_MAX;
	case P_ZERO:
		return 0;
	case P_ALTERNATE:
		return (i & 1) ? 64 * INT16_MAX : 64 * INT16_MIN;
	case P_SMALL:
		return (int32_t)(rnd() % 65537) - 32768;
	default:
		return (int32_t)(rnd() % (64u * 65536u + 1)) - 64 * 32768;
	}
}

static int16_t src_a[MAXN + GUARD], sub_a[MAXN + GUARD];
static int32_t acc_a[MAXN + GUARD], acc_b[MAXN + GUARD], acc_keep[MAXN + GUARD];
static int16_t out_a[MAXN + GUARD], out_b[MAXN + GUARD];
static int16_t many[64][MAXN + GUARD]; /* sources for accumulate_many */

static void fill(enum pattern ps, enum pattern pa)
{
	for (size_t i = 0; i < MAXN + GUARD; i++) {
		src_a[i] = sample(ps, i);
		sub_a[i] = sample(
		    ps == P_RANDOM ? P_RANDOM : (enum pattern)((ps + 1) % P_COUNT), i);
		acc_keep[i] = acc_value(pa, i);
	}
	/* Up to 64 sources of the same pattern: 64 x -32768 on top of an
	 * acc of the same extreme still fits (2^22). */
	for (size_t s = 0; s < 64; s++)
		for (size_t i = 0; i < MAXN + GUARD; i++)
			many[s][i] = sample(ps, i);
}

/* Counts a mismatch; prints the first few (one bug breaks thousands). */
static void report(const char *fn, size_t n, size_t off, int has_sub, int32_t gain)
{
	static int printed;

	check_failures++;
	if (printed++ >= 20)
		return;
	/* "gain" is the source count for accumulate_many. */
	fprintf(stderr, "  %s_%s differs from C: n=%zu offset=%zu sub=%s gain=%d\n", fn,
		checkasm_isa, n, off, has_sub ? "yes" : "NULL", (int)gain);
}

static void check_accumulate(size_t n, size_t off)
{
	memcpy(acc_a, acc_keep, sizeof(acc_a));
	memcpy(acc_b, acc_keep, sizeof(acc_b));
	ref.accumulate(acc_a + off, src_a + off, n);
	new.accumulate(acc_b + off, src_a + off, n);
	if (memcmp(acc_a, acc_b, sizeof(acc_a))) {
		report("accumulate", n, off, 0, 0);
	}
}

/* Sources at different misalignments from each other, as a room's
 * decoded frames would be. */
static void check_accumulate_many(size_t n, size_t off)
{
	static const size_t counts[] = {0, 1, 2, 3, 5, 64};
	const int16_t *srcs[64];

	for (size_t c = 0; c < CM_ARRAY_SIZE(counts); c++) {
		for (size_t s = 0; s < counts[c]; s++)
			srcs[s] = many[s] + ((off + s) & 1);
		memcpy(acc_a, acc_keep, sizeof(acc_a));
		memcpy(acc_b, acc_keep, sizeof(acc_b));
		ref.accumulate_many(acc_a + off, srcs, counts[c], n);
		new.accumulate_many(acc_b + off, srcs, counts[c], n);
		if (memcmp(acc_a, acc_b, sizeof(acc_a))) {
			report("accumulate_many", n, off, 0, (int32_t)counts[c]);
		}
	}
}

static void check_mix_out(size_t n, size_t off, const int16_t *sub, int32_t gain)
{
	for (size_t i = 0; i < MAXN + GUARD; i++)
		out_a[i] = out_b[i] = (int16_t)SENTINEL16;
	memcpy(acc_a, acc_keep, sizeof(acc_a));
	ref.mix_out(out_a + off, acc_a + off, sub ? sub + off : NULL, gain, n);
	new.mix_out(out_b + off, acc_a + off, sub ? sub + off : NULL, gain, n);
	/* Whole buffers: the guard past n must still hold the sentinel. */
	if (memcmp(out_a, out_b, sizeof(out_a)) ||
	    out_b[off + n] != (int16_t)SENTINEL16 ||
	    memcmp(acc_a, acc_keep, sizeof(acc_a))) {
		report("mix_out", n, off, sub != NULL, gain);
	}
}

static void check_peak_energy(size_t n, size_t off, const int16_t *sub)
{
	int32_t pa = ref.peak(acc_keep + off, sub ? sub + off : NULL, n);
	int32_t pb = new.peak(acc_keep + off, sub ? sub + off : NULL, n);
	uint64_t ea = ref.energy(src_a + off, n), eb = new.energy(src_a + off, n);

	if (pa != pb) {
		report("peak", n, off, sub != NULL, 0);
	}
	if (ea != eb) {
		report("energy", n, off, 0, 0);
	}
}

/* Runs every kernel that the ISA replaces over every pattern, length,
 * offset (aligned and off by one element), gain and sub. */
static void check_isa(void)
{
	for (int ps = 0; ps < P_COUNT; ps++) {
		for (int pa = 0; pa < P_COUNT; pa++) {
			fill((enum pattern)ps, (enum pattern)pa);
			for (size_t li = 0; li < CM_ARRAY_SIZE(lengths); li++) {
				for (size_t off = 0; off < 2; off++) {
					size_t n = lengths[li];
					int32_t rg =
					    (int32_t)(rnd() % (MX_GAIN_UNITY + 1));

					if (new.accumulate != ref.accumulate)
						check_accumulate(n, off);
					if (new.accumulate_many != ref.accumulate_many)
						check_accumulate_many(n, off);
					if (new.peak != ref.peak ||
					    new.energy != ref.energy) {
						check_peak_energy(n, off, NULL);
						check_peak_energy(n, off, sub_a);
					}
					if (new.mix_out == ref.mix_out)
						continue;
					for (size_t gi = 0; gi < CM_ARRAY_SIZE(gains);
					     gi++) {
						check_mix_out(n, off, NULL, gains[gi]);
						check_mix_out(n, off, sub_a, gains[gi]);
					}
					check_mix_out(n, off, sub_a, rg);
				}
			}
		}
	}
}

static int has_version(int isa)
{
	return versions[isa] != NULL;
}

static void check_version(int isa)
{
	mx_mix_dsp_init_c(&new);
	versions[isa](&new);
	check_isa();
}

/* Each SIMD version against C. Says loudly when only C could be run. */
static void simd_versions_match_c(void)
{
	mx_mix_dsp_init_c(&ref);
	checkasm_versions_match_c(has_version, check_version, "");
}

/* The C reference against the definition, computed another way:
 * truncating division, then adjusted towards minus infinity. */
static void c_reference_matches_definition(void)
{
	static const int32_t xs[] = {0,        1,       -1,      32767,  -32768,
				     32768,    -32769,  65535,   -65536, 2097088,
				     -2097152, 1234567, -7654321};
	struct mx_mix_dsp c;

	mx_mix_dsp_init_c(&c);
	for (size_t xi = 0; xi < CM_ARRAY_SIZE(xs); xi++) {
		for (size_t gi = 0; gi < CM_ARRAY_SIZE(gains); gi++) {
			int64_t p = (int64_t)xs[xi] * gains[gi];
			int64_t q = p / 32768;
			int16_t out = 0;

			if (p % 32768 < 0)
				q--;
			q = q > 32767 ? 32767 : q < -32768 ? -32768 : q;
			c.mix_out(&out, &xs[xi], NULL, gains[gi], 1);
			CHECK_EQ(out, q);
		}
	}
	/* Two samples of -32768 square to 2^31: the pmaddwd trap. */
	{
		int16_t s[2] = {INT16_MIN, INT16_MIN};
		int32_t a[2] = {-2097152, 5};

		CHECK_EQ(c.energy(s, 2), 2ull << 30);
		CHECK_EQ(c.peak(a, NULL, 2), 2097152);
		CHECK_EQ(c.peak(a, s, 2), 2097152 - 32768);
		CHECK_EQ(c.peak(a, s, 0), 0);
	}
}

static int same_table(const struct mx_mix_dsp *a, const struct mx_mix_dsp *b)
{
	return a->accumulate == b->accumulate &&
	       a->accumulate_many == b->accumulate_many && a->mix_out == b->mix_out &&
	       a->peak == b->peak && a->energy == b->energy;
}

/* TUTTI_CPU_MASK=0 and TUTTI_FORCE_C=1 select the C versions; an
 * unmasked run selects the best version the CPU has. */
static void mask_and_force_c_select_c(void)
{
	struct mx_mix_dsp c, d, best;
	struct checkasm_env env = checkasm_env_save();

	mx_mix_dsp_init_c(&c);
	checkasm_setenv("0", NULL);
	CHECK_EQ(mx_cpu_flags(), 0);
	mx_mix_dsp_init(&d, mx_cpu_flags());
	CHECK(same_table(&d, &c));

	checkasm_setenv("0x1", NULL);
	CHECK_EQ(mx_cpu_flags() & ~1u, 0);

	checkasm_setenv(NULL, "1");
	CHECK_EQ(mx_cpu_flags(), 0);
	mx_mix_dsp_init(&d, mx_cpu_flags());
	CHECK(same_table(&d, &c));

	checkasm_setenv(NULL, NULL);
	mx_mix_dsp_init(&best, mx_cpu_flags());
#if MX_ARCH_X86
	if (mx_cpu_flags() & MX_CPU_AVX2) {
		mx_mix_dsp_init_c(&d);
		mx_mix_dsp_init_avx2(&d);
		CHECK(same_table(&d, &best));
	}
#endif
	CHECK(mx_cpu_flags() == 0 || !same_table(&best, &c));

	checkasm_env_restore(&env);
}

int main(void)
{
	checkasm_init();
	RUN(c_reference_matches_definition);
	RUN(simd_versions_match_c);
	RUN(mask_and_force_c_select_c);
	return check_report();
}
