/* Logging: one line per event to stderr, serialised so that lines from
 * different threads never interleave. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/common.h"

static enum cm_log_level g_level = CM_LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const g_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void cm_log_set_level(enum cm_log_level level)
{
	__atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
}

enum cm_log_level cm_log_get_level(void)
{
	return __atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

int cm_log_parse_level(const char *s, enum cm_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < CM_ARRAY_SIZE(names); i++) {
		if (s && !strcasecmp(s, names[i])) {
			*out = (enum cm_log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

void cm_log(enum cm_log_level level, const char *mod, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (level > cm_log_get_level())
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&g_lock);
	fprintf(stderr, "%s.%03ldZ %-5s %s: ", stamp, ts.tv_nsec / 1000000,
		g_names[level], mod);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&g_lock);
}
