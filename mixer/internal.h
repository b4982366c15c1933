/* Private to mixer/. */
#ifndef TUTTI_MIXER_INTERNAL_H
#define TUTTI_MIXER_INTERNAL_H

#include "mixer/mixer.h"

struct mx_room;

/* One participant as the room sees it. Owned by whoever unlinks it from
 * its room's list: mx_leave (HTTP thread) or the CLOSED event (I/O). */
struct mx_part {
	struct mx_engine *engine;
	struct mx_room *room;
	char id[TP_PEER_ID_LEN + 1];
	struct mx_part *next;
	bool closed_early; /* closed before mx_join linked it (engine lock) */
	/* Echo state: I/O thread only. */
	uint32_t in_video_ssrc;
	uint64_t last_pli_us;
};

/* The transport events of an echoing participant (echo.c). */
extern const struct tp_peer_events mx_echo_events;

/* Called by echo.c on TP_PEER_CLOSED: unlinks and frees p if it is still
 * in its room (engine.c). */
void mx_part_closed(struct mx_part *p);

#endif
