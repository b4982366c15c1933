/*
 * When a room composes its next video frame: see frame_clock.h.
 */
#include "mixer/frame_clock.h"

bool mx_frame_clock_due(struct mx_frame_clock *c, uint64_t now, uint64_t interval_us,
			uint64_t tick_us, bool fresh)
{
	uint64_t wait = interval_us / 2;
	bool due;

	if (!c->started) {
		c->started = true;
		due = true;
		c->next_us = now;
	} else {
		/* A picture: from one tick before the frame's time, not
		 * sooner than interval - tick after the last frame (no two
		 * frames a tick apart after a late one). No picture: the
		 * frame waits for one, half an interval at most. */
		bool early = fresh && now + tick_us > c->next_us &&
			     now - c->last_us + tick_us >= interval_us;
		due = early || now >= c->next_us + wait;
	}
	if (!due)
		return false;
	c->last_us = now;
	c->next_us += interval_us;
	if (c->next_us + wait < now)
		c->next_us = now + interval_us; /* fell behind: no burst */
	return true;
}
