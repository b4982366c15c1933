/*
 * common/ — logging, monotonic clock, randomness, byte-order helpers and a
 * fork-join thread pool. Uses libc only. Every other module may include
 * this header.
 */
#ifndef TUTTI_COMMON_H
#define TUTTI_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- logging ---------------------------------------------------------- */

enum cm_log_level {
	CM_LOG_ERROR = 0,
	CM_LOG_WARN = 1,
	CM_LOG_INFO = 2,
	CM_LOG_DEBUG = 3,
};

void cm_log_set_level(enum cm_log_level level);
enum cm_log_level cm_log_get_level(void);
/* Parses "error", "warn", "info" or "debug". Returns 0 or EINVAL. */
int cm_log_parse_level(const char *s, enum cm_log_level *out);
/* One line to stderr: "2026-11-25T16:56:07.123Z INFO  mod: message".
 * Metadata only: never pass media or SDP bodies at INFO or above. */
void cm_log(enum cm_log_level level, const char *mod, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define cm_error(mod, ...) cm_log(CM_LOG_ERROR, mod, __VA_ARGS__)
#define cm_warn(mod, ...) cm_log(CM_LOG_WARN, mod, __VA_ARGS__)
#define cm_info(mod, ...) cm_log(CM_LOG_INFO, mod, __VA_ARGS__)
#define cm_debug(mod, ...)                                            \
	do {                                                          \
		if (cm_log_get_level() >= CM_LOG_DEBUG)               \
			cm_log(CM_LOG_DEBUG, mod, __VA_ARGS__);       \
	} while (0)

/* ---- time ------------------------------------------------------------- */

/* CLOCK_MONOTONIC in microseconds. */
uint64_t cm_now_us(void);
/* The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) in microseconds. */
uint64_t cm_thread_cpu_us(void);
/* Wall clock as a 64-bit NTP timestamp (32.32), for RTCP sender reports. */
uint64_t cm_ntp_now(void);

/* ---- randomness ------------------------------------------------------- */

/* Fills buf from getrandom(2). Returns 0 or an errno. */
int cm_random(void *buf, size_t len);
uint32_t cm_random_u32(void);
/* Writes len random characters of [A-Za-z0-9] plus a NUL (out has len+1). */
void cm_random_token(char *out, size_t len);

/* ---- threads ---------------------------------------------------------- */

/* The nice value media threads ask for (default -10; 0 leaves them as
 * they are). Set once, before the threads start. */
void cm_media_nice_set(int nice);
/* The SCHED_RR priority media threads ask for instead (1..99; 0, the
 * default: none, the nice value applies). Set once, before they start. */
void cm_media_rt_set(int prio);
/* Called by a media thread (I/O, room worker) as it starts: applies the
 * real-time priority or else the nice value; without the right to, says
 * so once and goes on. */
void cm_thread_media_priority(void);

/* ---- a fork-join pool (pool.c) ---------------------------------------- */

struct cm_pool;
/* Does items [begin, end) of a job. worker: 0 for the thread that runs
 * the job, 1..threads for the pool's; a worker does one chunk at a time,
 * so what is kept per worker needs no lock. */
typedef void cm_pool_fn(void *arg, unsigned worker, size_t begin, size_t end);

/* A pool of threads that sleep until a job comes (media: they take the
 * media threads' priority). threads may be 0: every job then runs on its
 * caller. Returns 0, EINVAL, ENOMEM or pthread_create's error; the
 * caller owns *out. */
int cm_pool_new(struct cm_pool **out, unsigned threads, bool media);
/* Waits for the threads to end (no job may be running); *p becomes NULL. */
void cm_pool_free(struct cm_pool **p);
/* How many threads it has; 0 for NULL. */
unsigned cm_pool_threads(const struct cm_pool *p);
/* Runs fn over items [0, n) in chunks of chunk items, taken in order by
 * the calling thread and the pool's idle threads; returns once every item
 * is done, each exactly once. Any thread; jobs of several callers may run
 * at once. p NULL or without threads, or n <= chunk: all on the caller.
 * Returns the CPU time, in µs, the pool's threads spent on it. */
uint64_t cm_pool_run(struct cm_pool *p, cm_pool_fn *fn, void *arg, size_t n, size_t chunk);

/* ---- byte order (network order, unaligned-safe) ----------------------- */

static inline uint16_t cm_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t cm_rd24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t cm_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t cm_rd64(const uint8_t *p)
{
	return ((uint64_t)cm_rd32(p) << 32) | cm_rd32(p + 4);
}
static inline void cm_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void cm_wr24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}
static inline void cm_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void cm_wr64(uint8_t *p, uint64_t v)
{
	cm_wr32(p, (uint32_t)(v >> 32));
	cm_wr32(p + 4, (uint32_t)v);
}

/* 16-bit sequence-number comparison: a is newer than b (RFC 1982 style). */
static inline bool cm_seq_newer(uint16_t a, uint16_t b)
{
	return a != b && (uint16_t)(a - b) < 0x8000;
}

#endif
