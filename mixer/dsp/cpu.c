/*
 * CPU feature detection for the mixing kernels, with an environment mask
 * so that tests (and a user chasing a suspected SIMD bug) can force the
 * lower paths, like dav1d's cpu mask and checkasm's --cpu options.
 */
#include <stdlib.h>

#include "mixer/dsp/dsp.h"

/* What this CPU can run, among the instruction sets the build has. */
static unsigned detect(void)
{
	unsigned flags = 0;

#if MX_ARCH_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse2"))
		flags |= MX_CPU_SSE2;
	/* __builtin_cpu_supports("avx2") also checks that the OS saves the
	 * YMM state (OSXSAVE/XGETBV), not only the cpuid bit. */
	if (__builtin_cpu_supports("avx2"))
		flags |= MX_CPU_AVX2;
#elif MX_ARCH_AARCH64
	flags |= MX_CPU_NEON;
#endif
	return flags;
}

/* TUTTI_CPU_MASK accepts "0x..." (hex) or decimal; anything unparsable
 * masks nothing, so a typo never silently disables the fast paths. */
static unsigned env_mask(void)
{
	const char *s = getenv("TUTTI_CPU_MASK");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return ~0u;
	v = strtoul(s, &end, 0);
	if (*end)
		return ~0u;
	return (unsigned)v;
}

unsigned mx_cpu_flags(void)
{
	const char *force_c = getenv("TUTTI_FORCE_C");

	if (force_c && atoi(force_c) != 0)
		return 0;
	return detect() & env_mask();
}
