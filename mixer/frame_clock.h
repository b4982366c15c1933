/*
 * mixer/frame_clock — when a room composes its next video frame. Pure
 * logic: the caller passes the time (its 20 ms tick's) and whether a
 * shown source has decoded a new picture since the last frame.
 *
 * The room's frame rate is kept on average (an ideal clock advances one
 * interval per frame), but a frame follows the pictures rather than the
 * clock alone: it is made up to one tick before its time when a new
 * picture is there, and waits up to half an interval past its time for
 * one. Frame times only on the clock, quantised to 20 ms ticks (60, 80,
 * 60 ms at 15 fps), lost a sender's picture whenever two arrived between
 * two frame times; a sender at the room's own rate then lost one frame
 * in three at some phases (a lecture's presenter at 15 fps came out at
 * 10.4-13.5 fps, perf/RESULTS.md).
 */
#ifndef TUTTI_MIXER_FRAME_CLOCK_H
#define TUTTI_MIXER_FRAME_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct mx_frame_clock {
	uint64_t next_us; /* the ideal time of the next frame */
	uint64_t last_us; /* the last frame's */
	bool started;
};

/* Whether the tick at `now` (ticks `tick_us` apart) makes a frame, for a
 * frame every `interval_us`; `fresh`: a shown source has a picture the
 * last frame did not. Frames are at least interval - tick apart, and
 * never more than 1 per interval on average; without pictures, one every
 * interval (a half interval late). The first call makes a frame. */
bool mx_frame_clock_due(struct mx_frame_clock *c, uint64_t now, uint64_t interval_us,
			uint64_t tick_us, bool fresh);

#endif
