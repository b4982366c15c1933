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
					       "speakers", "layout", "max_tiles", "fps",
					       NULL };
	struct mx_room_cfg cfg;
	struct mx_room_stats st;
	enum MHD_Result ret;
	const char *bad, *name, *mode, *why;
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
		cfg.max_participants = json_is_integer(v) && n > 0 && n <= 100000
					       ? (unsigned)n
					       : 0;
	}
	if ((v = json_object_get(j, "speakers")))
		cfg.speakers = json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
	if ((v = json_object_get(j, "max_tiles")))
		cfg.max_tiles = json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
	if ((v = json_object_get(j, "fps")))
		cfg.fps = json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
	if ((v = json_object_get(j, "layout")) &&
	    mx_layout_parse(json_string_value(v), &cfg.layout)) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				     "layout: grid, speaker or presenter");
		goto out;
	}
	if (mx_room_cfg_check(&cfg, &why)) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", why);
		goto out;
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

static json_t *participants_json(const struct mx_part_info *pi, size_t n)
{
	static const char *const roles[] = { "participant", "presenter", "attendee" };
	json_t *a = json_array();

	for (size_t i = 0; i < n && a; i++)
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:I,s:I}", "id", pi[i].id,
				     "role", roles[pi[i].role], "muted", pi[i].muted,
				     "connected", pi[i].connected, "speaking", pi[i].speaking,
				     "audio_mixed", pi[i].audio_speaker, "video_visible",
				     pi[i].video_visible, "video_tier", pi[i].video_tier,
				     "video_decodes", (json_int_t)pi[i].video_decodes,
				     "video_frames_sent", (json_int_t)pi[i].video_frames_sent));
	return a;
}

static json_t *layout_json(const struct mx_layout_info *li)
{
	json_t *tiles = json_array();

	for (size_t i = 0; i < li->n && tiles; i++)
		json_array_append_new(tiles, json_pack("{s:s,s:i,s:i,s:i,s:i,s:b}", "participant",
						       li->tiles[i].id, "x", li->tiles[i].x,
						       "y", li->tiles[i].y, "w", li->tiles[i].w,
						       "h", li->tiles[i].h, "large",
						       li->tiles[i].large));
	return json_pack("{s:s,s:i,s:i,s:o}", "kind", mx_layout_name(li->kind), "width",
			 li->width, "height", li->height, "tiles", tiles);
}

enum MHD_Result ad_get_room(struct ad_server *s, struct MHD_Connection *c,
			    const char *room)
{
	struct mx_room_stats st;
	struct mx_layout_info li;
	struct mx_part_info *pi;
	enum MHD_Result ret;
	size_t n = 0;
	json_t *j;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (mx_room_stats(s->mx, room, &st))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found",
				      "no such room");
	pi = calloc(st.participants + 1, sizeof(*pi));
	if (!pi || mx_room_participants(s->mx, room, pi, st.participants + 1, &n) ||
	    mx_room_layout(s->mx, room, &li)) {
		free(pi);
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found",
				      "no such room");
	}
	j = room_json(room, &st);
	if (j) {
		json_object_set_new(j, "participant_list", participants_json(pi, n));
		json_object_set_new(j, "layout", layout_json(&li));
	}
	free(pi);
	return reply_json(c, MHD_HTTP_OK, j);
}

enum MHD_Result ad_patch_room(struct ad_server *s, struct MHD_Connection *c,
			      const char *room, const struct ad_body *b)
{
	static const char *const allowed[] = { "layout", NULL };
	enum mx_layout_kind kind;
	enum MHD_Result ret;
	const char *bad;
	json_t *j;
	char msg[160];
	int err;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!(j = parse_object(c, b, &ret)))
		return ret;
	if ((bad = unknown_key(j, allowed))) {
		snprintf(msg, sizeof(msg), "unknown field '%.64s'", bad);
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", msg);
	} else if (mx_layout_parse(json_string_value(json_object_get(j, "layout")), &kind)) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				     "layout: grid, speaker or presenter");
	} else if ((err = mx_set_layout(s->mx, room, kind))) {
		ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	} else {
		cm_info("admin", "room %s: layout %s", room, mx_layout_name(kind));
		ret = ad_get_room(s, c, room);
	}
	json_decref(j);
	return ret;
}

enum MHD_Result ad_patch_participant(struct ad_server *s, struct MHD_Connection *c,
				     const char *room, const char *id,
				     const struct ad_body *b)
{
	static const char *const allowed[] = { "muted", "tier", NULL };
	enum MHD_Result ret;
	const char *bad;
	json_t *j, *muted, *tier, *out;
	char msg[160];
	int err = 0;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!(j = parse_object(c, b, &ret)))
		return ret;
	muted = json_object_get(j, "muted");
	tier = json_object_get(j, "tier");
	if ((bad = unknown_key(j, allowed))) {
		snprintf(msg, sizeof(msg), "unknown field '%.64s'", bad);
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", msg);
		goto out;
	}
	if ((!muted && !tier) || (muted && !json_is_boolean(muted)) ||
	    (tier && (!json_is_integer(tier) || json_integer_value(tier) < 0 ||
		      json_integer_value(tier) >= MX_VIDEO_TIERS))) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				     "muted: true or false; tier: 0, 1 or 2");
		goto out;
	}
	if (muted)
		err = mx_mute(s->mx, room, id, json_is_true(muted));
	if (!err && tier)
		err = mx_set_tier(s->mx, room, id, (int)json_integer_value(tier));
	if (err == EINVAL) {
		ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				     "the room has no such tier");
		goto out;
	}
	if (err) {
		ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				     "no such participant");
		goto out;
	}
	out = json_pack("{s:s}", "id", id);
	if (muted) {
		json_object_set(out, "muted", muted);
		cm_info("admin", "room %s: participant %s %s", room, id,
			json_is_true(muted) ? "muted" : "unmuted");
	}
	if (tier) {
		json_object_set(out, "tier", tier);
		cm_info("admin", "room %s: participant %s to video tier %d", room, id,
			(int)json_integer_value(tier));
	}
	ret = reply_json(c, MHD_HTTP_OK, out);
out:
	json_decref(j);
	return ret;
}
