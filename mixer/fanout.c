/*
 * A tick's fan-out: each receiver's pacer lets out what its rate allows
 * (and a probe's padding), stamped, protected and sent. With 1000
 * receivers that is ~100 000 packets a second, more than the room thread
 * has time for beside mixing and encoding; so, in a room with many
 * receivers and a server with send threads (--send-threads, the engine's
 * pool), the room's sends during the tick only keep a copy of each packet
 * (tp_batch_defer), and at the end of the tick the receivers are split
 * over the room thread and the pool's threads, in chunks taken in turn,
 * each worker with its own batch for sendmmsg. The room thread waits for
 * the last chunk before it goes on. Meanwhile no other thread touches
 * those senders' pacers, estimates, probes or SRTP contexts (feedback is
 * read at the next tick's drain, on the room thread), so each sender is
 * still used by one thread at a time; what the I/O and HTTP threads may
 * touch (the address, under its lock; the counters, atomic) is as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"
#include "mixer/internal.h"

/* Below this many receivers the hand-off costs more than it saves: all
 * on the room thread, sent at once as they are made. */
#define FANOUT_MIN 64
/* Receivers per chunk: small enough to balance, large enough that a
 * chunk's sendmmsg batches are full. */
#define FANOUT_CHUNK 32

/* Test hook: TUTTI_TEST_FANOUT="min:chunk" splits rooms from min
 * receivers on, in chunks of chunk (e.g. "1:1", so that the tests' small
 * rooms take the send threads' path too). Read once per room. */
static void test_fanout(struct mx_room *r)
{
	const char *v = getenv("TUTTI_TEST_FANOUT");
	unsigned min, chunk;

	r->fanout_min = FANOUT_MIN;
	r->fanout_chunk = FANOUT_CHUNK;
	if (v && sscanf(v, "%u:%u", &min, &chunk) == 2 && chunk > 0) {
		r->fanout_min = min;
		r->fanout_chunk = chunk;
	}
}

struct fanout {
	struct mx_room *r;
	uint64_t queued, dropped; /* atomics: summed over the chunks */
};

int mx_fanout_init(struct mx_room *r)
{
	unsigned n = 1 + cm_pool_threads(mx_engine_send_pool(r->engine));
	int err;

	r->batches = calloc(n, sizeof(*r->batches));
	if (!r->batches)
		return ENOMEM;
	r->n_batches = n;
	test_fanout(r);
	for (unsigned i = 0; i < n; i++) {
		err = tp_batch_new(&r->batches[i], mx_engine_tp(r->engine));
		if (err)
			return err;
	}
	r->batch = r->batches[0];
	return 0;
}

void mx_fanout_fini(struct mx_room *r)
{
	for (unsigned i = 0; r->batches && i < r->n_batches; i++)
		tp_batch_free(&r->batches[i]);
	free(r->batches);
	r->batches = NULL;
	r->n_batches = 0;
	r->batch = NULL;
}

static bool parallel(const struct mx_room *r)
{
	return r->n_batches > 1 && r->n_parts >= r->fanout_min;
}

void mx_fanout_begin(struct mx_room *r)
{
	r->fanout_parallel = parallel(r);
	tp_batch_defer(r->batch, r->fanout_parallel);
}

/* Receivers [begin, end) as one worker: its own batch, sent at the end. */
static void pace_chunk(void *arg, unsigned worker, size_t begin, size_t end)
{
	struct fanout *f = arg;
	struct mx_room *r = f->r;
	struct tp_batch *b = r->batches[worker];
	uint64_t now = cm_now_us(), queued = 0, dropped = 0;

	for (size_t i = begin; i < end; i++) {
		struct mx_part *p = r->parts[i];
		struct tp_pacer_stats ps;
		if (!p->sender)
			continue;
		tp_sender_pace(p->sender, b, now);
		tp_sender_pacer_stats(p->sender, now, &ps);
		queued += ps.queued_bytes;
		dropped += ps.dropped_bytes - p->rate.pacer_dropped_bytes;
		p->rate.pacer_dropped_bytes = ps.dropped_bytes;
	}
	tp_batch_flush(b);
	__atomic_add_fetch(&f->queued, queued, __ATOMIC_RELAXED);
	__atomic_add_fetch(&f->dropped, dropped, __ATOMIC_RELAXED);
}

/* Receivers [begin, end): only what the tick kept for them so far, in
 * order, through their pacers (the audio: it never waits there). */
static void kept_chunk(void *arg, unsigned worker, size_t begin, size_t end)
{
	struct fanout *f = arg;
	struct mx_room *r = f->r;
	struct tp_batch *b = r->batches[worker];
	uint64_t now = cm_now_us();

	for (size_t i = begin; i < end; i++)
		if (r->parts[i]->sender)
			tp_sender_send_kept(r->parts[i]->sender, b, now);
	tp_batch_flush(b);
}

/* fn over every receiver, split over the send pool; returns the overload
 * control's adjustment. */
static int64_t split(struct mx_room *r, cm_pool_fn *fn, struct fanout *f)
{
	struct cm_pool *pool = mx_engine_send_pool(r->engine);
	uint64_t c0 = cm_thread_cpu_us();
	uint64_t helpers = cm_pool_run(pool, fn, f, r->n_parts, r->fanout_chunk);
	uint64_t own = cm_thread_cpu_us() - c0;

	__atomic_add_fetch(&r->ctr.send_pool_us, helpers, __ATOMIC_RELAXED);
	/* The overload control's measure: the fan-out as the share of it
	 * each of the threads that split it would have, were they balanced,
	 * in place of the room thread's own part (see tick.c). */
	return (int64_t)((own + helpers) / r->n_batches) - (int64_t)own;
}

int64_t mx_fanout_audio(struct mx_room *r)
{
	struct fanout f = { .r = r };
	int64_t adjust;

	if (!r->fanout_parallel) {
		tp_batch_flush(r->batch); /* made and paced as they came */
		return 0;
	}
	adjust = split(r, kept_chunk, &f);
	/* Every chain was sent: the arena starts again for the video. */
	tp_batch_defer(r->batch, true);
	return adjust;
}

int64_t mx_fanout_pace(struct mx_room *r)
{
	struct fanout f = { .r = r };
	int64_t adjust = 0;

	if (r->fanout_parallel)
		adjust = split(r, pace_chunk, &f);
	else
		pace_chunk(&f, 0, 0, r->n_parts);
	__atomic_store_n(&r->ctr.pacer_queued_bytes, f.queued, __ATOMIC_RELAXED);
	if (f.dropped)
		__atomic_add_fetch(&r->ctr.pacer_dropped_bytes, f.dropped, __ATOMIC_RELAXED);
	return adjust;
}
