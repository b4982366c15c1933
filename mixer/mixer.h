/*
 * mixer/ — the public header: rooms and what happens to media in them.
 *
 * For now a room sends each participant its own audio and video back
 * (an echo): the transport, codecs negotiation and encryption are real,
 * and the mixing rooms of the Audio and Video MCU replace the echo.
 *
 * Threads: every function here may be called from any thread (the HTTP
 * threads); media callbacks run on the transport's I/O thread.
 */
#ifndef TUTTI_MIXER_H
#define TUTTI_MIXER_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/transport.h"

#define MX_ROOM_NAME_MAX 64

struct mx_engine;

/* tp is borrowed and must outlive the engine. The caller owns *out.
 * Returns 0 or ENOMEM. */
int mx_engine_new(struct mx_engine **out, struct tp_server *tp);
/* Removes every participant (they get a BYE) and frees the rooms. */
void mx_engine_free(struct mx_engine **p);

/* True for a valid room id: [a-z0-9-]{1,64}. */
bool mx_room_name_valid(const char *name);
/* Creates a room. Returns 0, EINVAL (bad name), EEXIST or ENOMEM. */
int mx_room_add(struct mx_engine *e, const char *name);
bool mx_room_exists(struct mx_engine *e, const char *name);

/* Joins a participant to a room with its SDP offer. On success *answer
 * is a malloc'd SDP answer (the caller frees it) and id the
 * participant's id. Returns 0; ENOENT (no such room); EBADMSG
 * (unparsable offer) or EPROTO (an offer tutti cannot serve), both with
 * a reason in err; ESHUTDOWN; ENOMEM. */
int mx_join(struct mx_engine *e, const char *room, const char *offer, size_t len,
	    char **answer, char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen);
/* Removes a participant: it gets a BYE and no more media.
 * Returns 0 or ENOENT (no such room or participant). */
int mx_leave(struct mx_engine *e, const char *room, const char *id);

struct mx_stats {
	size_t rooms;
	size_t participants;
	struct tp_stats transport;
};
void mx_engine_stats(struct mx_engine *e, struct mx_stats *out);

#endif
