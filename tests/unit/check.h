/*
 * A minimal test harness: CHECK records a failure and goes on; each test
 * file's main() runs its cases with RUN and ends with check_report(),
 * which prints "N passed, N failed" and returns the exit status.
 */
#ifndef TUTTI_TESTS_CHECK_H
#define TUTTI_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_cases_failed, check_cases_passed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);\
		if (check_a_ != check_b_) {                                    \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s "    \
				"(%lld != %lld)\n", __FILE__, __LINE__, #a, #b,\
				check_a_, check_b_);                           \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define RUN(fn)                                                                \
	do {                                                                   \
		int check_before_ = check_failures;                            \
		fn();                                                          \
		if (check_failures == check_before_) {                         \
			check_cases_passed++;                                  \
			printf("ok   %s\n", #fn);                              \
		} else {                                                       \
			check_cases_failed++;                                  \
			printf("FAIL %s\n", #fn);                              \
		}                                                              \
	} while (0)

static inline int check_report(void)
{
	printf("%d passed, %d failed\n", check_cases_passed, check_cases_failed);
	return check_cases_failed ? 1 : 0;
}

/* Reads a whole file (for captured packets and SDP offers kept in
 * tests/data). Returns a malloc'd, NUL-terminated buffer or NULL. */
static inline char *check_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

#endif
