/*
 * A room's worker thread (mx_room_main): wakes every 20 ms on an absolute
 * deadline (clock_nanosleep, TIMER_ABSTIME), handles the audio packets in
 * its inbox, runs the audio tick and sends the audio at once, then reads
 * the rest of its inbox in order (media from the I/O thread, commands
 * from HTTP threads; room.c) and, at the room's frame rate, runs the video
 * tick, and sends what it made in sendmmsg batches (in a large room that
 * sending is split with the engine's send threads, fanout.c). A tick
 * whose video runs past the next deadline makes the next tick's audio
 * before its own sending. It never blocks on I/O; each tick that ends
 * after the next deadline is counted, and each whose audio was sent after
 * it. It exists only while the room has members.
 *
 * Overload: audio never skips. A tick that starts late (the worker is
 * catching up) does the audio and leaves the video frame for later; and
 * when, over a second, the worker's own work takes most of the tick time
 * (60 %), or ticks' audio runs late while it takes a good part of it
 * (25 %), the video frame rate is lowered a step (at most one step a
 * second; back up a step after 5 calm seconds). A tick that merely ended
 * late does not count: its audio had left (audio first, the next tick's
 * made ahead), and on the VM of perf/RESULTS.md, whose CPUs stop for
 * 10-20 ms several times a second under load, such ticks came at random
 * and held a lecture of 1000 at 3-7.5 fps (7.2-13.9 once they no longer
 * counted, with no more late audio). A worker whose own
 * work fills 90 % of its time is overloaded: joins get 503 (see
 * mx_engine_overloaded). "Its own work" is the room thread's CPU time,
 * except that a fan-out split over the send threads counts as the share
 * each worker would have of it, balanced (fanout.c): the time the tick
 * needs on its path to the deadline, whoever's CPU it is; the room
 * thread's CPU alone would hide the sending the pool does for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "mixer/internal.h"

#define MX_CATCH_UP_TICKS 10 /* further behind than this: start again from now */
#define WIN_TICKS         50 /* overload figures are taken over a second */
#define LATE_STEP_DOWN    5   /* ticks in a second whose audio was late: lower the frame rate */
#define LOAD_LATE_MATTERS 250 /* ... when the worker's own load is at least this */
#define LOAD_STEP_DOWN    600 /* per mille of the tick time: lower the frame rate */
#define LOAD_STEP_UP      400 /* ... below this (and no late audio): raise it */
#define LOAD_OVERLOADED   900 /* per mille: new joins are refused */
#define FPS_DIV_MAX       5   /* 15 fps down to 3 */
#define STEP_DOWN_GAP_US  1000000
#define STEP_UP_GAP_US    5000000
#define FUTILE_BACKOFF_US 10000000 /* a step down that did not help: late ticks alone lower no more */

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Fault injection (TUTTI_TEST_TICK_BURN="room:us[/n],..."): the room's
 * worker burns us of CPU in its tick (every n-th tick; every tick without
 * /n), after the audio left and the video was made, as a heavy frame
 * would. */
struct tick_burn {
	uint64_t us;
	unsigned every;
};

static struct tick_burn test_burn(const char *room)
{
	const char *v = getenv("TUTTI_TEST_TICK_BURN");
	size_t n = strlen(room);
	struct tick_burn b = { 0, 1 };

	for (const char *p = v; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, room, n) || p[n] != ':')
			continue;
		char *end;
		b.us = strtoull(p + n + 1, &end, 10);
		if (*end == '/')
			b.every = (unsigned)CM_MAX(1ul, strtoul(end + 1, NULL, 10));
		break;
	}
	return b;
}

static void tick_burn(const struct mx_room *r, const struct tick_burn *b, uint64_t cpu0)
{
	if (!b->us || r->tick % b->every)
		return;
	while (cm_thread_cpu_us() - cpu0 < b->us)
		;
}

/* late: this tick's audio left after its deadline. */
static void overload_control(struct mx_room *r, bool late, uint64_t cpu_us, uint64_t now)
{
	unsigned div = r->fps_div;
	uint64_t load;

	r->win_ticks++;
	r->win_late += late;
	r->win_cpu_us += cpu_us;
	if (r->win_ticks < WIN_TICKS)
		return;
	load = r->win_cpu_us * 1000 / ((uint64_t)r->win_ticks * MX_TICK_US);
	bool undo = false;
	if (r->fps_judge) {
		/* The second after a step down for late ticks: if they did not
		 * fall by a quarter, they were not the video's doing (a
		 * machine busy with other processes, the handshakes of many
		 * joins): the step is taken back, and late ticks alone lower
		 * the rate no more for a while. Without this, a loaded
		 * machine held a lecture of 1000 at 3 fps for good. */
		r->fps_judge = false;
		undo = load < LOAD_STEP_DOWN && r->win_late * 4 > r->fps_late_before * 3;
	}
	/* Late ticks lower the frame rate only when the worker's own work
	 * is a good part of the tick: on a machine busy with other things,
	 * less video would not bring the deadlines back. */
	bool late_down = r->win_late >= LATE_STEP_DOWN && load >= LOAD_LATE_MATTERS &&
			 now >= r->fps_futile_until_us;
	if (undo) {
		div--;
		r->fps_futile_until_us = now + FUTILE_BACKOFF_US;
		cm_info("mixer", "room %s: video back at %.1f fps: the step down did not lower "
			"the late audio ticks (%u, then %u)", r->name, (double)r->cfg.fps / div,
			r->fps_late_before, r->win_late);
	} else if ((late_down || load >= LOAD_STEP_DOWN) && div < FPS_DIV_MAX &&
		   now - r->fps_changed_us >= STEP_DOWN_GAP_US) {
		div++;
		r->fps_judge = load < LOAD_STEP_DOWN;
		r->fps_late_before = r->win_late;
	} else if (!r->win_late && load < LOAD_STEP_UP && div > 1 &&
		   now - r->fps_changed_us >= STEP_UP_GAP_US) {
		div--;
	}
	if (div != r->fps_div) {
		if (!undo)
			cm_info("mixer", "room %s: video at %.1f fps (%u late audio ticks, "
				"worker load %llu%%)", r->name, (double)r->cfg.fps / div, r->win_late,
				(unsigned long long)load / 10);
		r->fps_div = div;
		r->fps_changed_us = now;
		mx_video_set_fps_div(r->video, div);
	}
	__atomic_store_n(&r->ctr.load_permille, load, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.video_fps_now, r->cfg.fps / div, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.overloaded, load >= LOAD_OVERLOADED, __ATOMIC_RELAXED);
	r->win_ticks = r->win_late = 0;
	r->win_cpu_us = 0;
}

/* Where a tick's time went (µs on the clock): how late it started, then
 * each step. Logged at debug level when a tick's audio missed its
 * deadline, with the tick before it (usually the cause). */
enum { PH_DRAIN_AUDIO, PH_AUDIO, PH_AUDIO_SEND, PH_DRAIN, PH_VIDEO, PH_NEXT_AUDIO, PH_SEND, PH_N };

struct mx_tick_times {
	int64_t start_late;
	uint64_t at, ph[PH_N];
	uint64_t ahead[3]; /* the next tick's audio: its packets, mix, sending */
};

static void phase(struct mx_tick_times *t, int ph)
{
	uint64_t now = cm_now_us();

	t->ph[ph] = now - t->at;
	t->at = now;
}

static int tick_times_str(char *buf, size_t cap, const struct mx_tick_times *t)
{
	return snprintf(buf, cap,
			"started %+.1f ms, its audio packets %.1f, audio %.1f, its sending %.1f, "
			"drain %.1f, video %.1f, the next tick's audio %.1f (%.1f + %.1f + %.1f), "
			"sending %.1f",
			(double)t->start_late / 1000, (double)t->ph[PH_DRAIN_AUDIO] / 1000,
			(double)t->ph[PH_AUDIO] / 1000, (double)t->ph[PH_AUDIO_SEND] / 1000,
			(double)t->ph[PH_DRAIN] / 1000, (double)t->ph[PH_VIDEO] / 1000,
			(double)t->ph[PH_NEXT_AUDIO] / 1000, (double)t->ahead[0] / 1000,
			(double)t->ahead[1] / 1000, (double)t->ahead[2] / 1000,
			(double)t->ph[PH_SEND] / 1000);
}

static void log_audio_late(const struct mx_room *r, const struct mx_tick_times *t,
			   const struct mx_tick_times *prev)
{
	char a[256], b[256];

	if (cm_log_get_level() < CM_LOG_DEBUG)
		return;
	tick_times_str(a, sizeof(a), t);
	tick_times_str(b, sizeof(b), prev);
	cm_log(CM_LOG_DEBUG, "mixer", "room %s: audio late: %s (the tick before: %s)", r->name, a, b);
}

/* The audio of the tick at `tick`, sent at `sent`: late when that was
 * past the next tick's deadline (counted). */
static bool audio_judged_late(struct mx_room *r, uint64_t tick, uint64_t sent)
{
	bool late = sent > tick + MX_TICK_US;

	if (late)
		__atomic_add_fetch(&r->ctr.missed_audio_deadlines, 1, __ATOMIC_RELAXED);
	return late;
}

/* A tick's audio: mixed, encoded and sent (mx_fanout_audio). Returns the
 * overload control's adjustment for the sending. */
static int64_t audio_out(struct mx_room *r, uint64_t now, struct mx_tick_times *tt)
{
	int64_t adjust;

	mx_room_drain_audio(r);
	phase(tt, PH_DRAIN_AUDIO);
	mx_audio_tick(r, now);
	phase(tt, PH_AUDIO);
	adjust = mx_fanout_audio(r);
	phase(tt, PH_AUDIO_SEND);
	return adjust;
}

/* The next tick's audio, made now, and sent at once from this thread (in
 * a split room the video's packets kept so far stay kept for the pace):
 * it waits neither for the rest of the video nor for its fan-out, nor for
 * the next drain. Its time is left out of the step it interrupted. */
static uint64_t audio_ahead(struct mx_room *r, uint64_t at, struct mx_tick_times *tt)
{
	bool keeping = tp_batch_keeping(r->batch, false);
	uint64_t t0 = cm_now_us(), t1, t2, t3;

	mx_room_drain_audio(r);
	t1 = cm_now_us();
	mx_audio_tick(r, at);
	t2 = cm_now_us();
	tp_batch_flush(r->batch);
	tp_batch_keeping(r->batch, keeping);
	t3 = cm_now_us();
	tt->ahead[0] = t1 - t0;
	tt->ahead[1] = t2 - t1;
	tt->ahead[2] = t3 - t2;
	tt->ph[PH_NEXT_AUDIO] = t3 - t0;
	tt->at += t3 - t0;
	return t3;
}

/* A video step that ran past the next tick's deadline (a 720p frame's
 * decode and a tier's encode take 15-25 ms on this machine) would make
 * that tick's audio wait for the rest of the video, its fan-out and the
 * next drain: the next tick's audio is made and sent now instead. Only
 * once that deadline has passed, never before its time (made up to 3 ms
 * early, two of six lecture runs had an audio delay p95 of 650 ms; most
 * likely tutti-load's measurement, fixed since, but not tried again:
 * perf/RESULTS.md). Asked after each video step (mx_video_tick) and
 * after the video. */
uint64_t mx_room_audio_due(struct mx_room *r)
{
	uint64_t next = r->tick_now_us + MX_TICK_US;

	if (!r->tick_tt || r->ahead_us == next || cm_now_us() < next)
		return 0;
	r->ahead_us = next;
	r->ahead_late = audio_judged_late(r, next, audio_ahead(r, next, r->tick_tt));
	__atomic_add_fetch(&r->ctr.audio_ahead_ticks, 1, __ATOMIC_RELAXED);
	return r->tick_tt->ph[PH_NEXT_AUDIO];
}

void *mx_room_main(void *arg)
{
	struct mx_room *r = arg;
	struct timespec deadline, now_ts;

	char tname[16];

	snprintf(tname, sizeof(tname), "room-%.10s", r->name);
	pthread_setname_np(pthread_self(), tname);
	cm_thread_media_priority();
	cm_info("mixer", "room %s: worker started", r->name);
	const struct tick_burn burn = test_burn(r->name);
	r->fps_div = 1;
	__atomic_store_n(&r->ctr.video_fps_now, r->cfg.fps, __ATOMIC_RELAXED);
	struct mx_tick_times tt = { 0 }, tt_prev = { 0 };
	r->ahead_us = 0;
	r->ahead_late = false;
	r->tick_tt = &tt;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	for (;;) {
		uint64_t now, cpu0;
		struct timespec late_at;

		add_ns(&deadline, MX_TICK_US * 1000L);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
			;
		/* The tick's own time, not the clock: when late ticks run
		 * back to back to catch up, each still stands for its 20 ms
		 * (jitter buffers play out by it). */
		now = (uint64_t)deadline.tv_sec * 1000000u + (uint64_t)deadline.tv_nsec / 1000u;
		cpu0 = cm_thread_cpu_us();
		/* Starting after the next tick's deadline: catching up. */
		clock_gettime(CLOCK_MONOTONIC, &now_ts);
		if (ts_after(&now_ts, &deadline)) {
			uint64_t late = (uint64_t)((now_ts.tv_sec - deadline.tv_sec) * 1000000L +
						   (now_ts.tv_nsec - deadline.tv_nsec) / 1000);
			if (late > r->ctr.tick_late_max_us)
				__atomic_store_n(&r->ctr.tick_late_max_us, late, __ATOMIC_RELAXED);
		}
		late_at = deadline;
		add_ns(&late_at, MX_TICK_US * 1000L);
		bool behind = ts_after(&now_ts, &late_at);
		tt_prev = tt;
		tt.at = cm_now_us();
		tt.start_late = (int64_t)(tt.at - now);
		tt.ph[PH_NEXT_AUDIO] = 0;
		memset(tt.ahead, 0, sizeof(tt.ahead));
		r->tick_now_us = now;
		mx_fanout_begin(r);
		/* The audio first: its packets, the mix, and its sending, before
		 * the rest of the inbox (feedback, commands) and the video. Its
		 * deadline is the next tick's. Made already when the tick before
		 * ran into this one's deadline (below). */
		int64_t cpu_adjust = 0;
		bool audio_late = r->ahead_late;
		if (r->ahead_us != now) {
			cpu_adjust = audio_out(r, now, &tt);
			audio_late = audio_judged_late(r, now, tt.at);
		} else {
			tt.ph[PH_DRAIN_AUDIO] = tt.ph[PH_AUDIO] = tt.ph[PH_AUDIO_SEND] = 0;
		}
		r->ahead_late = false;
		mx_room_drain(r);
		mx_rate_tick(r, cm_now_us()); /* the clock: feedback carries it */
		phase(&tt, PH_DRAIN);
		mx_screen_tick(r, now);
		if (!behind)
			mx_video_tick(r, now);
		else
			__atomic_add_fetch(&r->ctr.video_skipped_ticks, 1, __ATOMIC_RELAXED);
		tick_burn(r, &burn, cpu0);
		phase(&tt, PH_VIDEO);
		mx_room_audio_due(r);
		/* Each receiver's pacer lets out what its rate allows now
		 * (and a probe's padding); what waits is bounded, never a
		 * reason for the tick to wait. */
		cpu_adjust += mx_fanout_pace(r);
		tp_batch_flush(r->batch);
		phase(&tt, PH_SEND);
		if (audio_late)
			log_audio_late(r, &tt, &tt_prev);
		if (r->changed) {
			r->changed = false;
			mx_engine_publish(r->engine, r);
		}
		r->tick++;
		__atomic_add_fetch(&r->ctr.ticks, 1, __ATOMIC_RELAXED);

		/* A tick that ended after the next deadline is missed. The
		 * next ticks then run at once to catch up, so that no 20 ms
		 * of audio is lost; only when far behind (a stalled
		 * machine) does the room start again from now. */
		clock_gettime(CLOCK_MONOTONIC, &now_ts);
		struct timespec next = deadline, far = deadline;
		add_ns(&next, MX_TICK_US * 1000L);
		add_ns(&far, MX_CATCH_UP_TICKS * MX_TICK_US * 1000L);
		bool missed = ts_after(&now_ts, &next);
		if (missed)
			__atomic_add_fetch(&r->ctr.missed_deadlines, 1, __ATOMIC_RELAXED);
		overload_control(r, audio_late,
				 (uint64_t)((int64_t)(cm_thread_cpu_us() - cpu0) + cpu_adjust), now);
		if (ts_after(&now_ts, &far))
			deadline = now_ts;
		if (r->n_parts == 0 && mx_room_may_end(r))
			break;
		if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED) && mx_room_may_end(r))
			break;
	}
	r->tick_tt = NULL;
	mx_room_wind_up(r);
	__atomic_store_n(&r->ctr.overloaded, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.load_permille, 0, __ATOMIC_RELAXED);
	cm_info("mixer", "room %s: worker stopped (send threads: %llu ms of CPU for it)",
		r->name, (unsigned long long)r->ctr.send_pool_us / 1000);
	return NULL;
}
