/*
 * What the checkasm tests (test_checkasm_*.c) share: a reproducible
 * random generator seeded from TUTTI_CHECKASM_SEED, the SIMD versions a
 * build may have (name and CPU flag), the loop that runs each one the CPU
 * has against the C reference, and setting and restoring the environment
 * that the dispatch reads (TUTTI_CPU_MASK, TUTTI_FORCE_C).
 *
 * Include after check.h.
 */
#ifndef TUTTI_TESTS_CHECKASM_H
#define TUTTI_TESTS_CHECKASM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixer/dsp/dsp.h" /* MX_CPU_*, MX_ARCH_*, mx_cpu_flags() */

static uint64_t checkasm_rng_state = 0x9e3779b97f4a7c15ull;
static unsigned checkasm_cpu;          /* mx_cpu_flags() at start */
static const char *checkasm_isa = "c"; /* the SIMD version under test */

static inline uint32_t rnd(void)
{
	/* xorshift64*: fast, reproducible from the printed seed. */
	checkasm_rng_state ^= checkasm_rng_state >> 12;
	checkasm_rng_state ^= checkasm_rng_state << 25;
	checkasm_rng_state ^= checkasm_rng_state >> 27;
	return (uint32_t)((checkasm_rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Seeds rnd() from TUTTI_CHECKASM_SEED=<n> (else a fixed seed), prints the
 * seed, and reads the CPU flags (honouring a mask set by whoever runs us). */
static inline void checkasm_init(void)
{
	const char *seed = getenv("TUTTI_CHECKASM_SEED");

	if (seed)
		checkasm_rng_state = strtoull(seed, NULL, 0) | 1;
	printf("seed 0x%llx\n", (unsigned long long)checkasm_rng_state);
	checkasm_cpu = mx_cpu_flags();
}

/* The SIMD versions of this architecture, in the order they are tested. */
enum checkasm_isa_id {
#if MX_ARCH_X86
	CHECKASM_SSE2,
	CHECKASM_AVX2,
#endif
#if MX_ARCH_AARCH64
	CHECKASM_NEON,
#endif
	CHECKASM_ISAS
};

static const struct {
	const char *name;
	unsigned flag;
} checkasm_isas[CHECKASM_ISAS + 1] = {
#if MX_ARCH_X86
    [CHECKASM_SSE2] = {"sse2", MX_CPU_SSE2},
    [CHECKASM_AVX2] = {"avx2", MX_CPU_AVX2},
#endif
#if MX_ARCH_AARCH64
    [CHECKASM_NEON] = {"neon", MX_CPU_NEON},
#endif
    [CHECKASM_ISAS] = {NULL, 0},
};

/*
 * Runs each SIMD version that the test has (has(isa)) and the CPU has:
 * check(isa) sets it up and compares it with C (checkasm_isa names it
 * meanwhile). Prints which versions ran and which were skipped, then
 * done (e.g. a note on what "match" meant), and says loudly when only C
 * could be run.
 */
static inline void checkasm_versions_match_c(int (*has)(int isa), void (*check)(int isa),
					     const char *done)
{
	int tested = 0;

	printf("cpu flags 0x%x; testing:", checkasm_cpu);
	for (int i = 0; i < CHECKASM_ISAS; i++) {
		if (!has(i))
			continue;
		if (!(checkasm_cpu & checkasm_isas[i].flag)) {
			printf(" %s(skipped: not on this CPU or masked)", checkasm_isas[i].name);
			continue;
		}
		checkasm_isa = checkasm_isas[i].name;
		check(i);
		printf(" %s", checkasm_isa);
		tested++;
	}
	printf("%s\n", done);
	if (!tested)
		printf("NOTE: no SIMD version tested, only the C reference\n");
}

/* The dispatch's environment: saved before a test changes it, restored
 * after. */
struct checkasm_env {
	char *mask, *force;
};

static inline char *checkasm_strdup_env(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

static inline struct checkasm_env checkasm_env_save(void)
{
	struct checkasm_env e = {checkasm_strdup_env("TUTTI_CPU_MASK"),
				 checkasm_strdup_env("TUTTI_FORCE_C")};

	return e;
}

/* TUTTI_CPU_MASK=mask and TUTTI_FORCE_C=force; NULL unsets. */
static inline void checkasm_setenv(const char *mask, const char *force)
{
	if (mask)
		setenv("TUTTI_CPU_MASK", mask, 1);
	else
		unsetenv("TUTTI_CPU_MASK");
	if (force)
		setenv("TUTTI_FORCE_C", force, 1);
	else
		unsetenv("TUTTI_FORCE_C");
}

static inline void checkasm_env_restore(struct checkasm_env *e)
{
	checkasm_setenv(e->mask, e->force);
	free(e->mask);
	free(e->force);
	e->mask = e->force = NULL;
}

#endif
