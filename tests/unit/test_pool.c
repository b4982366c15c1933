/*
 * The fork-join pool (common/pool.c): every item of a job is done exactly
 * once, by the caller or a pool thread, before cm_pool_run returns; a
 * pool without threads runs all on the caller; rounds after rounds lose
 * no wake-up; several callers may share one pool.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "common/common.h"

#define MAX_ITEMS 5000
#define MAX_WORKERS 9

struct job {
	unsigned hits[MAX_ITEMS]; /* atomic */
	unsigned by_worker[MAX_WORKERS]; /* atomic: items each worker did */
	unsigned max_worker; /* atomic */
	useconds_t item_sleep;
};

static void count(void *arg, unsigned worker, size_t begin, size_t end)
{
	struct job *j = arg;

	for (size_t i = begin; i < end; i++)
		__atomic_add_fetch(&j->hits[i], 1, __ATOMIC_RELAXED);
	if (worker < MAX_WORKERS)
		__atomic_add_fetch(&j->by_worker[worker], (unsigned)(end - begin),
				   __ATOMIC_RELAXED);
	unsigned m = __atomic_load_n(&j->max_worker, __ATOMIC_RELAXED);
	while (worker > m &&
	       !__atomic_compare_exchange_n(&j->max_worker, &m, worker, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (j->item_sleep)
		usleep(j->item_sleep);
}

/* Plain reads: cm_pool_run has returned, so every write is visible. */
static int all_once(const struct job *j, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (j->hits[i] != 1)
			return 0;
	return 1;
}

static void no_threads_runs_on_caller(void)
{
	static struct job j;
	struct cm_pool *p = NULL;

	CHECK(cm_pool_new(&p, 0, false) == 0);
	CHECK_EQ(cm_pool_threads(p), 0);
	memset(&j, 0, sizeof(j));
	cm_pool_run(p, count, &j, 1000, 32);
	CHECK(all_once(&j, 1000));
	CHECK_EQ(j.by_worker[0], 1000);
	cm_pool_free(&p);
	CHECK(p == NULL);
	/* No pool at all: the same. */
	memset(&j, 0, sizeof(j));
	cm_pool_run(NULL, count, &j, 77, 5);
	CHECK(all_once(&j, 77));
	CHECK_EQ(j.by_worker[0], 77);
}

static void every_item_once_over_threads(void)
{
	static struct job j;
	struct cm_pool *p = NULL;

	CHECK(cm_pool_new(&p, 3, false) == 0);
	CHECK_EQ(cm_pool_threads(p), 3);
	const size_t sizes[] = { 0, 1, 31, 32, 33, 1000, MAX_ITEMS };
	for (size_t s = 0; s < CM_ARRAY_SIZE(sizes); s++) {
		memset(&j, 0, sizeof(j));
		cm_pool_run(p, count, &j, sizes[s], 32);
		CHECK(all_once(&j, sizes[s]));
		if (sizes[s] < MAX_ITEMS) /* and nothing past the end */
			CHECK_EQ(j.hits[sizes[s]], 0);
		CHECK(j.max_worker <= 3);
	}
	cm_pool_free(&p);
}

/* Items slow enough that the pool's threads must have taken some: the
 * work is shared, and cm_pool_run still waits for the last of it. */
static void join_waits_for_slow_helpers(void)
{
	static struct job j;
	struct cm_pool *p = NULL;

	CHECK(cm_pool_new(&p, 2, false) == 0);
	memset(&j, 0, sizeof(j));
	j.item_sleep = 2000;
	uint64_t t0 = cm_now_us();
	cm_pool_run(p, count, &j, 64, 4);
	uint64_t took = cm_now_us() - t0;
	CHECK(all_once(&j, 64));
	CHECK(j.by_worker[1] + j.by_worker[2] > 0);
	CHECK_EQ(j.by_worker[0] + j.by_worker[1] + j.by_worker[2], 64);
	/* 16 chunks of 2 ms each over 3 threads: well under 16 x 2 ms. */
	CHECK(took >= 2000 * 16 / 3);
	cm_pool_free(&p);
}

/* Many short rounds back to back: a lost wake-up would hang here (the
 * ctest timeout), a double run or a missed item would be counted. */
static void repeated_rounds(void)
{
	static struct job j;
	struct cm_pool *p = NULL;
	int bad = 0;

	CHECK(cm_pool_new(&p, 4, false) == 0);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(round % 300);
		memset(j.hits, 0, n * sizeof(j.hits[0]));
		cm_pool_run(p, count, &j, n, 8);
		bad += !all_once(&j, n);
	}
	CHECK_EQ(bad, 0);
	cm_pool_free(&p);
}

struct caller {
	struct cm_pool *p;
	struct job j;
	int bad;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;

	for (int round = 0; round < 2000; round++) {
		size_t n = 100 + (size_t)(round % 200);
		memset(c->j.hits, 0, n * sizeof(c->j.hits[0]));
		cm_pool_run(c->p, count, &c->j, n, 16);
		c->bad += !all_once(&c->j, n);
	}
	return NULL;
}

/* Rooms share the engine's pool: jobs of several callers at once, each
 * done whole and only once. */
static void several_callers_share_a_pool(void)
{
	static struct caller c[3];
	pthread_t t[3];
	struct cm_pool *p = NULL;

	CHECK(cm_pool_new(&p, 2, false) == 0);
	for (int i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].p = p;
		CHECK(pthread_create(&t[i], NULL, caller_main, &c[i]) == 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(c[i].bad, 0);
	}
	cm_pool_free(&p);
}

/* Idle threads sleep: a pool that got no job for a while used (almost)
 * no CPU. */
static void idle_threads_do_not_spin(void)
{
	struct cm_pool *p = NULL;
	struct timespec a, b;

	CHECK(cm_pool_new(&p, 4, false) == 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	usleep(200000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	long used_us = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
	CHECK(used_us < 20000);
	cm_pool_free(&p);
}

int main(void)
{
	RUN(no_threads_runs_on_caller);
	RUN(every_item_once_over_threads);
	RUN(join_waits_for_slow_helpers);
	RUN(repeated_rounds);
	RUN(several_callers_share_a_pool);
	RUN(idle_threads_do_not_spin);
	return check_report();
}
