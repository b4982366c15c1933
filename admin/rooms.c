/*
 * The first admin endpoints (Authorization: Bearer <admin key>): create a
 * room, read one room's live figures, mute a participant. JSON in and out
 * through jansson; unknown fields and wrong types are refused.
 * Rooms live in memory until the SQLite store lands.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum MHD_Result ret;

	if (!text) {
		json_decref(j);
		return ad_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				      "out of memory");
	}
	ret = ad_reply(c, status, "application/json", text, strlen(text));
	free(text);
	json_decref(j);
	return ret;
}

/* Parses a JSON object body, refusing anything deeper than needed. */
static json_t *parse_object(struct MHD_Connection *c, const struct ad_body *b,
			    enum MHD_Result *ret)
{
	json_error_t jerr;
	json_t *j;

	if (!ad_content_type_is(c, "application/json")) {
		*ret = ad_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				      "unsupported_media_type", "the body must be JSON");
		return NULL;
	}
	j = b->len ? json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_json",
				      "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* The first key of j not in allowed (NULL-terminated), or NULL. */
static const char *unknown_key(json_t *j, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(j, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(key, allowed[i]);
		if (!ok)
			return key;
	}
	return NULL;
}

static json_t *room_json(const char *name, const struct mx_room_stats *st)
{
	return json_pack("{s:s,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "name", name,
			 "participants", (json_int_t)st->participants, "stats", "ticks",
			 (json_int_t)st->ticks, "missed_deadlines",
			 (json_int_t)st->missed_deadlines, "audio_encodes",
			 (json_int_t)st->audio_encodes, "audio_decodes",
			 (json_int_t)st->audio_decodes, "inbound_dropped",
			 (json_int_t)st->inbound_dropped);
}

enum MHD_Result ad_create_room(struct ad_server *s, struct MHD_Connection *c,
			       const struct ad_body *b)
{
	static const char *const allowed[] = { "name", "mode", "max_participants",
					       "speakers", NULL };
	struct mx_room_cfg cfg;
	struct mx_room_stats st;
	enum MHD_Result ret;
	const char *bad, *name, *mode;
	json_t *j, *v;
	char msg[160];
	int err;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!(j = parse_object(c, b, &ret)))
		return ret;
	mx_room_cfg_init(&cfg);
	if ((bad = unknown_key(j, allowed))) {
		snprintf(msg, sizeof(msg), "unknown field '%.64s'", bad);
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", msg);
		goto out;
	}
	name = json_string_value(json_object_get(j, "name"));
	if (!mx_room_name_valid(name)) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_room",
				     "name: 1 to 64 of [a-z0-9-]");
		goto out;
	}
	if ((v = json_object_get(j, "mode"))) {
		mode = json_string_value(v);
		if (mode && !strcmp(mode, "meeting")) {
			cfg.mode = MX_MODE_MEETING;
		} else if (mode && !strcmp(mode, "lecture")) {
			cfg.mode = MX_MODE_LECTURE;
		} else {
			ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
					     "mode: meeting or lecture");
			goto out;
		}
	}
	if ((v = json_object_get(j, "max_participants"))) {
		json_int_t n = json_integer_value(v);
		if (!json_is_integer(v) || n < 1 || n > 10000) {
			ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
					     "max_participants: 1 to 10000");
			goto out;
		}
		cfg.max_participants = (unsigned)n;
	}
	if ((v = json_object_get(j, "speakers"))) {
		json_int_t n = json_integer_value(v);
		if (!json_is_integer(v) || n < 1 || n > MX_MAX_SPEAKERS) {
			ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
					     "speakers: 1 to 8");
			goto out;
		}
		cfg.speakers = (unsigned)n;
	}
	err = mx_room_add(s->mx, name, &cfg);
	if (err == EEXIST) {
		ret = ad_reply_error(c, MHD_HTTP_CONFLICT, "room_exists",
				     "a room with this name exists");
	} else if (err) {
		ret = ad_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				     strerror(err));
	} else {
		cm_info("admin", "room %s created", name);
		mx_room_stats(s->mx, name, &st);
		ret = reply_json(c, MHD_HTTP_CREATED, room_json(name, &st));
	}
out:
	json_decref(j);
	return ret;
}

enum MHD_Result ad_get_room(struct ad_server *s, struct MHD_Connection *c,
			    const char *room)
{
	struct mx_room_stats st;
	enum MHD_Result ret;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (mx_room_stats(s->mx, room, &st))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found",
				      "no such room");
	return reply_json(c, MHD_HTTP_OK, room_json(room, &st));
}

enum MHD_Result ad_patch_participant(struct ad_server *s, struct MHD_Connection *c,
				     const char *room, const char *id,
				     const struct ad_body *b)
{
	static const char *const allowed[] = { "muted", NULL };
	enum MHD_Result ret;
	const char *bad;
	json_t *j, *v;
	char msg[160];

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!(j = parse_object(c, b, &ret)))
		return ret;
	if ((bad = unknown_key(j, allowed))) {
		snprintf(msg, sizeof(msg), "unknown field '%.64s'", bad);
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", msg);
	} else if (!json_is_boolean(v = json_object_get(j, "muted"))) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				     "muted: true or false");
	} else if (mx_mute(s->mx, room, id, json_is_true(v))) {
		ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				     "no such participant");
	} else {
		cm_info("admin", "room %s: participant %s %s", room, id,
			json_is_true(v) ? "muted" : "unmuted");
		ret = reply_json(c, MHD_HTTP_OK,
				 json_pack("{s:s,s:b}", "id", id, "muted", json_is_true(v)));
	}
	json_decref(j);
	return ret;
}
