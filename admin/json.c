/*
 * JSON in and out of the admin API (jansson only, never string
 * formatting): replies, strict request bodies (an object; unknown fields,
 * wrong types and out-of-range values refused with the reason), and the
 * room's JSON form, which is also what the store keeps. Parsing is pure
 * (no HTTP, no rooms), so it is fuzzed on its own (tests/fuzz).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"

enum MHD_Result ad_reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
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

json_t *ad_json_object(const char *data, size_t len, const char **why)
{
	json_error_t jerr;
	json_t *j;

	*why = "the body must be a JSON object";
	if (!data || !len || len > AD_MAX_BODY)
		return NULL;
	/* Duplicate keys are refused; jansson bounds nesting depth itself
	 * (2048), and nothing here reads below the first level. */
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	*why = NULL;
	return j;
}

json_t *ad_json_body(struct MHD_Connection *c, const struct ad_body *b,
		     enum MHD_Result *ret)
{
	const char *why;
	json_t *j;

	if (!ad_content_type_is(c, "application/json")) {
		*ret = ad_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				      "unsupported_media_type", "the body must be JSON");
		return NULL;
	}
	j = ad_json_object(b->data, b->len, &why);
	if (!j)
		*ret = ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_json", why);
	return j;
}

const char *ad_json_unknown_key(json_t *j, const char *const *allowed)
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

/* An integer field in [lo, hi]; absent leaves *out. */
static bool get_uint(json_t *j, const char *key, long lo, long hi, unsigned *out)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = (unsigned)json_integer_value(v);
	return true;
}

static bool get_bool(json_t *j, const char *key, bool *out)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		return true;
	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

static bool get_tiers(json_t *j, struct mx_room_cfg *cfg)
{
	json_t *a = json_object_get(j, "tiers"), *t;
	size_t i;

	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > MX_VIDEO_TIERS)
		return false;
	json_array_foreach(a, i, t) {
		static const char *const keys[] = { "width", "height", "kbps", NULL };
		unsigned w = 0, h = 0, k = 0;
		if (!json_is_object(t) || ad_json_unknown_key(t, keys) ||
		    !json_object_get(t, "width") || !json_object_get(t, "height") ||
		    !json_object_get(t, "kbps") || !get_uint(t, "width", 16, 1920, &w) ||
		    !get_uint(t, "height", 16, 1080, &h) || !get_uint(t, "kbps", 30, 8000, &k))
			return false;
		cfg->tiers[i] = (struct mx_tier_cfg){ (int)w, (int)h, (int)k };
	}
	cfg->n_tiers = (unsigned)json_array_size(a);
	return true;
}

int ad_room_from_json(json_t *j, bool create, struct mx_room_cfg *cfg,
		      char name[MX_ROOM_NAME_MAX + 1], const char **why)
{
	static const char *const create_keys[] = {
		"name", "mode", "layout", "access", "locked", "max_participants",
		"speakers", "max_tiles", "fps", "tiers", "screen_share", NULL,
	};
	static const char *const patch_keys[] = {
		"layout", "access", "locked", "max_participants", "tiers", "presenter",
		"screen_share", NULL,
	};
	const char *str;
	json_t *v;

	*why = NULL;
	if (ad_json_unknown_key(j, create ? create_keys : patch_keys)) {
		*why = create ? "unknown field (name, mode, layout, access, locked, "
				"max_participants, speakers, max_tiles, fps, tiers, screen_share)"
			      : "unknown field (layout, access, locked, max_participants, tiers, "
				"presenter, screen_share)";
		return EINVAL;
	}
	if (create) {
		str = json_string_value(json_object_get(j, "name"));
		if (!mx_room_name_valid(str)) {
			*why = "name: 1 to 64 of [a-z0-9-]";
			return EINVAL;
		}
		strcpy(name, str);
		if ((v = json_object_get(j, "mode"))) {
			str = json_string_value(v);
			if (str && !strcmp(str, "meeting"))
				cfg->mode = MX_MODE_MEETING;
			else if (str && !strcmp(str, "lecture"))
				cfg->mode = MX_MODE_LECTURE;
			else
				*why = "mode: meeting or lecture";
		}
	}
	if (!*why && (v = json_object_get(j, "layout")) &&
	    mx_layout_parse(json_string_value(v), &cfg->layout))
		*why = "layout: grid, speaker or presenter";
	if (!*why && (v = json_object_get(j, "access"))) {
		str = json_string_value(v);
		if (str && !strcmp(str, "open"))
			cfg->open = true;
		else if (str && !strcmp(str, "token"))
			cfg->open = false;
		else
			*why = "access: open or token";
	}
	if (!*why && (v = json_object_get(j, "screen_share")) &&
	    mx_screen_share_parse(json_string_value(v), &cfg->screen_share))
		*why = "screen_share: presenters, everyone or off";
	if (!*why && !get_bool(j, "locked", &cfg->locked))
		*why = "locked: true or false";
	if (!*why && !get_uint(j, "max_participants", 1, 10000, &cfg->max_participants))
		*why = "max_participants: 1 to 10000";
	if (!*why && !create && !get_tiers(j, cfg))
		*why = "tiers: 1 to 3 of {width 16-1920, height 16-1080, kbps 30-8000}";
	if (!*why && create) {
		if (!get_uint(j, "speakers", 1, MX_MAX_SPEAKERS, &cfg->speakers))
			*why = "speakers: 1 to 8";
		else if (!get_uint(j, "max_tiles", 1, MX_MAX_TILES, &cfg->max_tiles))
			*why = "max_tiles: 1 to 25";
		else if (!get_uint(j, "fps", 1, 30, &cfg->fps))
			*why = "fps: 1 to 30";
		else if (!get_tiers(j, cfg))
			*why = "tiers: 1 to 3 of {width 16-1920, height 16-1080, kbps 30-8000}";
	}
	if (!*why)
		mx_room_cfg_check(cfg, why);
	return *why ? EINVAL : 0;
}

json_t *ad_room_to_json(const char *name, const struct mx_room_cfg *cfg)
{
	json_t *tiers = json_array();

	for (unsigned i = 0; i < cfg->n_tiers && tiers; i++)
		json_array_append_new(tiers, json_pack("{s:i,s:i,s:i}", "width",
						       cfg->tiers[i].width, "height",
						       cfg->tiers[i].height, "kbps",
						       cfg->tiers[i].kbps));
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:i,s:i,s:i,s:i,s:o,s:s}", "name", name, "mode",
			 cfg->mode == MX_MODE_LECTURE ? "lecture" : "meeting", "layout",
			 mx_layout_name(cfg->layout), "access", cfg->open ? "open" : "token",
			 "locked", cfg->locked, "max_participants", (int)cfg->max_participants,
			 "speakers", (int)cfg->speakers, "max_tiles", (int)cfg->max_tiles,
			 "fps", (int)cfg->fps, "tiers", tiers, "screen_share",
			 mx_screen_share_name(cfg->screen_share));
}
