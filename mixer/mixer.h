/*
 * mixer/ — the public header: rooms and what happens to media in them.
 *
 * A room has a worker thread (only while someone is in it) that wakes
 * every 20 ms on an absolute deadline, owns all media state of the room,
 * and talks to the rest only through its inbox. Audio: the loudest K
 * unmuted speakers are decoded and mixed; each speaker gets the mix minus
 * its own voice, everyone else the common mix, encoded once per audio
 * tier. Video: each participant gets its own video back until the video
 * compositor lands.
 *
 * Threads: every function here may be called from any thread (the HTTP
 * threads); they post to the room and wait for its answer.
 */
#ifndef TUTTI_MIXER_H
#define TUTTI_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"

#define MX_ROOM_NAME_MAX 64
#define MX_MAX_SPEAKERS 8

struct mx_engine;

enum mx_mode { MX_MODE_MEETING, MX_MODE_LECTURE };
enum mx_role {
	MX_ROLE_DEFAULT, /* presenter-free meeting member; attendee in a lecture */
	MX_ROLE_PRESENTER,
	MX_ROLE_ATTENDEE,
};
/* Audio tiers of the common mix: normal and low-data receivers. */
enum mx_audio_tier { MX_AUDIO_NORMAL, MX_AUDIO_LOW, MX_AUDIO_TIERS };

struct mx_room_cfg {
	enum mx_mode mode;
	unsigned max_participants; /* 1..10000 */
	unsigned speakers; /* K: 1..MX_MAX_SPEAKERS */
};
void mx_room_cfg_init(struct mx_room_cfg *c); /* meeting, 100, 3 */

/* tp is borrowed and must outlive the engine. The caller owns *out.
 * Returns 0 or ENOMEM. */
int mx_engine_new(struct mx_engine **out, struct tp_server *tp);
/* Removes every participant (they get a BYE), stops the room threads
 * and frees the rooms. */
void mx_engine_free(struct mx_engine **p);

/* True for a valid room id: [a-z0-9-]{1,64}. */
bool mx_room_name_valid(const char *name);
/* Creates a room. Returns 0, EINVAL (bad name or config), EEXIST, ENOMEM. */
int mx_room_add(struct mx_engine *e, const char *name, const struct mx_room_cfg *cfg);
bool mx_room_exists(struct mx_engine *e, const char *name);

/* Joins a participant to a room with its SDP offer. On success *answer
 * is a malloc'd SDP answer (the caller frees it) and id the
 * participant's id. Returns 0; ENOENT (no such room); EBUSY (the room
 * is full); EBADMSG (unparsable offer) or EPROTO (an offer tutti cannot
 * serve), both with a reason in err; ESHUTDOWN; ENOMEM. */
int mx_join(struct mx_engine *e, const char *room, enum mx_role role,
	    const char *offer, size_t len, char **answer,
	    char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen);
/* Removes a participant: it gets a BYE and no more media.
 * Returns 0 or ENOENT (no such room or participant). */
int mx_leave(struct mx_engine *e, const char *room, const char *id);
/* Server-side mute: a muted participant is never mixed.
 * Returns 0 or ENOENT. */
int mx_mute(struct mx_engine *e, const char *room, const char *id, bool muted);

struct mx_room_stats {
	uint64_t participants;
	uint64_t ticks; /* 20 ms ticks run */
	uint64_t missed_deadlines; /* ticks that ended after the next deadline */
	uint64_t audio_encodes; /* Opus encodes: K + tiers per tick, not N */
	uint64_t audio_decodes;
	uint64_t inbound_dropped; /* the inbox was full */
};
/* Returns 0 or ENOENT. */
int mx_room_stats(struct mx_engine *e, const char *room, struct mx_room_stats *out);

struct mx_stats {
	size_t rooms;
	size_t participants;
	struct mx_room_stats total; /* summed over rooms */
	struct tp_stats transport;
};
void mx_engine_stats(struct mx_engine *e, struct mx_stats *out);

#endif
