/* The video frame clock: every picture of a sender at (or below) the
 * room's frame rate gets a frame of its own whatever its phase against
 * the 20 ms ticks; the room's rate is kept on average; frames still come
 * without pictures; no burst after a stall. */
#include "mixer/frame_clock.h"
#include "tests/unit/check.h"

#define TICK   20000u
#define IV_15  66667u /* 15 fps */
#define T0     1000000u
#define SECS   10u

struct run {
	unsigned frames, shown, lost, pictures;
	uint64_t min_gap, max_gap;
};

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* A sender whose pictures are decoded at the first tick after phase + k
 * * src_iv + a jitter of 0..jitter µs; ticks every 20 ms for SECS; a
 * tick that skip() says is skipped does no video (the room behind). */
static struct run simulate(uint64_t interval, uint64_t phase, uint64_t src_iv, uint32_t jitter,
			   uint32_t seed, bool (*skip)(uint64_t t))
{
	struct mx_frame_clock c = { 0 };
	struct run r = { .min_gap = UINT64_MAX };
	uint64_t next_pic = T0 + phase + (jitter ? lcg(&seed) % jitter : 0);
	uint32_t k = 0, pic = 0, drawn = 0;
	uint64_t last = 0;

	for (uint64_t t = T0; t < T0 + SECS * 1000000u; t += TICK) {
		while (src_iv && next_pic <= t) {
			if (pic != drawn)
				r.lost++; /* replaced before it was drawn */
			pic++;
			r.pictures++;
			k++;
			next_pic = T0 + phase + k * src_iv + (jitter ? lcg(&seed) % jitter : 0);
		}
		if (skip && skip(t))
			continue;
		if (!mx_frame_clock_due(&c, t, interval, TICK, pic != drawn))
			continue;
		if (pic != drawn)
			r.shown++;
		drawn = pic;
		if (r.frames++) {
			r.min_gap = t - last < r.min_gap ? t - last : r.min_gap;
			r.max_gap = t - last > r.max_gap ? t - last : r.max_gap;
		}
		last = t;
	}
	return r;
}

static void every_picture_at_the_room_rate_whatever_its_phase(void)
{
	/* The phases are those of the ticks (0..20 ms) over three frame
	 * times; clock-only frame times lost a picture in three at some. */
	for (uint64_t phase = 0; phase < IV_15; phase += 1000) {
		for (uint32_t jitter = 0; jitter <= 15000; jitter += 5000) {
			struct run r = simulate(IV_15, phase, IV_15, jitter, (uint32_t)phase + 1, NULL);
			if (r.lost)
				fprintf(stderr, "phase %llu ms, jitter %u ms: %u of %u pictures lost\n",
					(unsigned long long)phase / 1000, jitter / 1000, r.lost,
					r.pictures);
			CHECK_EQ(r.lost, 0);
			CHECK(r.frames <= SECS * 15 + 1);
		}
	}
}

static void every_picture_of_a_slower_sender(void)
{
	for (uint64_t phase = 0; phase < 100000; phase += 7000) {
		struct run r10 = simulate(IV_15, phase, 100000, 20000, 7, NULL);
		struct run r12 = simulate(IV_15, phase, 83333, 15000, 9, NULL);
		CHECK_EQ(r10.lost, 0);
		CHECK_EQ(r12.lost, 0);
		/* Frames without a new picture still come, at the room's rate
		 * at most. */
		CHECK(r10.frames <= SECS * 15 + 1 && r10.frames >= SECS * 14);
	}
}

static void the_rate_is_kept_with_pictures_always_new(void)
{
	/* A grid of many senders: a new picture at every tick. */
	struct run r = simulate(IV_15, 0, TICK, 0, 1, NULL);

	CHECK(r.frames >= SECS * 15 - 1 && r.frames <= SECS * 15 + 1);
	CHECK(r.min_gap >= IV_15 - TICK);
	CHECK(r.max_gap <= IV_15 + TICK);
}

static void frames_come_without_pictures(void)
{
	struct run r = simulate(IV_15, 0, 0, 0, 1, NULL);

	/* Each a half interval after its time (each waited for a picture). */
	CHECK(r.frames >= SECS * 15 - 1 && r.frames <= SECS * 15 + 1);
	CHECK(r.max_gap <= IV_15 + IV_15 / 2 + TICK);
	CHECK(r.min_gap >= IV_15 - TICK);
}

static void a_lowered_rate_is_kept(void)
{
	/* Overload: a frame every second frame time, the sender at 15. */
	struct run r = simulate(2 * IV_15, 3000, IV_15, 10000, 5, NULL);

	CHECK(r.frames >= SECS * 15 / 2 - 1 && r.frames <= SECS * 15 / 2 + 1);
	CHECK(r.min_gap >= 2 * IV_15 - TICK);
}

static bool stalled(uint64_t t)
{
	return t >= T0 + 3000000u && t < T0 + 3700000u;
}

static void no_burst_after_a_stall(void)
{
	struct run r = simulate(IV_15, 5000, IV_15, 5000, 3, stalled);

	CHECK(r.min_gap >= IV_15 - TICK);
	/* 0.7 s without video: about 10 frames fewer, not made up after. */
	CHECK(r.frames <= SECS * 15 - 9 && r.frames >= SECS * 15 - 12);
}

int main(void)
{
	RUN(every_picture_at_the_room_rate_whatever_its_phase);
	RUN(every_picture_of_a_slower_sender);
	RUN(the_rate_is_kept_with_pictures_always_new);
	RUN(frames_come_without_pictures);
	RUN(a_lowered_rate_is_kept);
	RUN(no_burst_after_a_stall);
	return check_report();
}
