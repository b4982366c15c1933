/*
 * A fork-join pool (common.h): a few threads that help whoever runs a job
 * to get through its items, then sleep. Made for a room's per-tick
 * fan-out (mixer/fanout.c): the caller always works on its own job too,
 * so that a job finishes even when every pool thread is busy elsewhere,
 * and several callers (rooms) may run jobs at once on one pool.
 *
 * A job lives on its caller's stack. Pool threads find it in the pool's
 * list under the mutex and count themselves as its users there; the
 * caller takes it out of the list, under the same mutex, only when no
 * user is left. So no pool thread touches a job after its caller has
 * returned, and the mutex orders what the users wrote before what the
 * caller reads next. Items are taken in chunks from an atomic counter,
 * without the mutex. Idle threads wait on a condition variable: they
 * never spin.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"

struct cm_pool_job {
	cm_pool_fn *fn;
	void *arg;
	size_t n, chunk;
	size_t next;     /* atomic: the first item not yet taken */
	uint64_t cpu_us; /* atomic: what pool threads spent on it */
	unsigned users;  /* pool threads working on it (the mutex) */
	struct cm_pool_job *prev, *next_job;
};

struct cm_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job came, or the pool closes */
	pthread_cond_t done; /* a pool thread left a job */
	struct cm_pool_job *jobs;
	bool closing, media;
	unsigned n_threads, started;
	pthread_t *threads;
};

struct thread_arg {
	struct cm_pool *p;
	unsigned index;
};

/* Takes chunks of j until none is left; worker says whose they are. */
static void work_on(struct cm_pool_job *j, unsigned worker)
{
	for (;;) {
		size_t b = __atomic_fetch_add(&j->next, j->chunk, __ATOMIC_RELAXED);
		if (b >= j->n)
			return;
		j->fn(j->arg, worker, b, CM_MIN(b + j->chunk, j->n));
	}
}

/* A job with items nobody has taken yet; the lock is held. */
static struct cm_pool_job *open_job(struct cm_pool *p)
{
	for (struct cm_pool_job *j = p->jobs; j; j = j->next_job)
		if (__atomic_load_n(&j->next, __ATOMIC_RELAXED) < j->n)
			return j;
	return NULL;
}

static void *pool_main(void *arg)
{
	struct thread_arg ta = *(struct thread_arg *)arg;
	struct cm_pool *p = ta.p;
	char name[16];

	free(arg);
	snprintf(name, sizeof(name), "send-%u", ta.index);
	pthread_setname_np(pthread_self(), name);
	if (p->media)
		cm_thread_media_priority();
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct cm_pool_job *j = open_job(p);
		if (!j) {
			if (p->closing)
				break;
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		j->users++;
		pthread_mutex_unlock(&p->lock);
		uint64_t c0 = cm_thread_cpu_us();
		work_on(j, ta.index);
		__atomic_add_fetch(&j->cpu_us, cm_thread_cpu_us() - c0, __ATOMIC_RELAXED);
		pthread_mutex_lock(&p->lock);
		if (--j->users == 0)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int cm_pool_new(struct cm_pool **out, unsigned threads, bool media)
{
	struct cm_pool *p;
	int err = 0;

	if (!out)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->media = media;
	p->n_threads = threads;
	p->threads = threads ? calloc(threads, sizeof(*p->threads)) : NULL;
	if (threads && !p->threads)
		err = ENOMEM;
	for (unsigned i = 0; !err && i < threads; i++) {
		struct thread_arg *ta = malloc(sizeof(*ta));
		if (!ta) {
			err = ENOMEM;
			break;
		}
		*ta = (struct thread_arg){ p, i + 1 };
		err = pthread_create(&p->threads[i], NULL, pool_main, ta);
		if (err)
			free(ta);
		else
			p->started++;
	}
	if (err) {
		cm_pool_free(&p);
		return err;
	}
	*out = p;
	return 0;
}

void cm_pool_free(struct cm_pool **pp)
{
	struct cm_pool *p = pp ? *pp : NULL;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}

unsigned cm_pool_threads(const struct cm_pool *p)
{
	return p ? p->n_threads : 0;
}

uint64_t cm_pool_run(struct cm_pool *p, cm_pool_fn *fn, void *arg, size_t n, size_t chunk)
{
	struct cm_pool_job j = { .fn = fn, .arg = arg, .n = n, .chunk = chunk ? chunk : 1 };

	if (!n)
		return 0;
	/* One chunk, or nobody to help: no hand-off at all. */
	if (!p || !p->n_threads || n <= j.chunk) {
		work_on(&j, 0);
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	j.next_job = p->jobs;
	if (p->jobs)
		p->jobs->prev = &j;
	p->jobs = &j;
	/* Wake as many as there are chunks for, beyond the caller's own. */
	size_t helpers = (n + j.chunk - 1) / j.chunk - 1;
	if (helpers >= p->n_threads)
		pthread_cond_broadcast(&p->work);
	else
		for (size_t i = 0; i < helpers; i++)
			pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);

	work_on(&j, 0);

	pthread_mutex_lock(&p->lock);
	while (j.users)
		pthread_cond_wait(&p->done, &p->lock);
	if (j.prev)
		j.prev->next_job = j.next_job;
	else
		p->jobs = j.next_job;
	if (j.next_job)
		j.next_job->prev = j.prev;
	pthread_mutex_unlock(&p->lock);
	return __atomic_load_n(&j.cpu_us, __ATOMIC_RELAXED);
}
