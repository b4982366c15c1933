/*
 * Participant endpoints: admins (Authorization: Bearer <admin key>) and
 * the room's presenters (Bearer <presenter join token>) list them and
 * change them (mute, video tier, role, spotlight); a participant changes
 * its own hand and data cap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

enum MHD_Result ad_list_participants(struct ad_server *s, struct MHD_Connection *c,
				     const char *room)
{
	enum MHD_Result ret;
	json_t *a;

	if (!ad_check_presenter(s, c, room, &ret))
		return ret;
	a = ad_participants_json(s, room);
	if (!a)
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	return ad_reply_json(c, MHD_HTTP_OK, json_pack("{s:o}", "participants", a));
}

enum MHD_Result ad_patch_participant(struct ad_server *s, struct MHD_Connection *c,
				     const char *room, const char *id,
				     const struct ad_body *b)
{
	static const char *const allowed[] = { "muted", "tier", "role", "spotlight", "hand",
					       "data_cap", "screen", NULL };
	enum MHD_Result ret;
	enum mx_role role = MX_ROLE_DEFAULT;
	enum mx_data_cap cap = MX_CAP_AUTO;
	json_t *j, *muted, *tier, *rl, *spot, *hand, *dc, *screen;
	const char *why = NULL;
	int err = 0;

	if (!(j = ad_json_body(c, b, &ret)))
		return ret;
	muted = json_object_get(j, "muted");
	tier = json_object_get(j, "tier");
	rl = json_object_get(j, "role");
	spot = json_object_get(j, "spotlight");
	hand = json_object_get(j, "hand");
	dc = json_object_get(j, "data_cap");
	screen = json_object_get(j, "screen");
	/* A participant changes its own hand, data cap and screen share
	 * through its own URL (its ?s= secret is the credential, as for DELETE); the rest is
	 * for admins and the room's presenters. */
	const char *secret = NULL;
	if ((muted || tier || rl || spot) ? !ad_check_presenter(s, c, room, &ret)
					  : !ad_self_or_presenter(s, c, room, &secret, &ret)) {
		json_decref(j);
		return ret;
	}
	if (ad_json_unknown_key(j, allowed))
		why = "unknown field (muted, tier, role, spotlight, hand, data_cap, screen)";
	else if (!muted && !tier && !rl && !spot && !hand && !dc && !screen)
		why = "nothing to change (muted, tier, role, spotlight, hand, data_cap, screen)";
	else if (hand && !json_is_boolean(hand))
		why = "hand: true or false";
	else if (screen && !json_is_boolean(screen))
		why = "screen: true or false";
	else if (dc && (!json_is_string(dc) ||
			(strcmp(json_string_value(dc), "auto") &&
			 strcmp(json_string_value(dc), "low") &&
			 strcmp(json_string_value(dc), "audio-only"))))
		why = "data_cap: auto, low or audio-only";
	else if (muted && !json_is_boolean(muted))
		why = "muted: true or false";
	else if (spot && !json_is_boolean(spot))
		why = "spotlight: true or false";
	else if (tier && (!json_is_integer(tier) || json_integer_value(tier) < 0 ||
			  json_integer_value(tier) >= MX_VIDEO_TIERS))
		why = "tier: 0, 1 or 2";
	else if (rl && json_string_value(rl) && !strcmp(json_string_value(rl), "presenter"))
		role = MX_ROLE_PRESENTER;
	else if (rl && json_string_value(rl) && !strcmp(json_string_value(rl), "attendee"))
		role = MX_ROLE_ATTENDEE;
	else if (rl)
		why = "role: presenter or attendee";
	if (why) {
		json_decref(j);
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", why);
	}
	if (muted)
		err = mx_mute(s->mx, room, id, json_is_true(muted));
	if (!err && tier)
		err = mx_set_tier(s->mx, room, id, (int)json_integer_value(tier));
	if (!err && rl)
		err = mx_set_role(s->mx, room, id, role);
	if (!err && spot)
		err = mx_spotlight(s->mx, room, json_is_true(spot) ? id : NULL);
	if (!err && hand)
		err = mx_set_hand(s->mx, room, id, secret, json_is_true(hand));
	if (dc) {
		const char *v = json_string_value(dc);
		cap = !strcmp(v, "low") ? MX_CAP_LOW
		      : !strcmp(v, "audio-only") ? MX_CAP_AUDIO_ONLY
						 : MX_CAP_AUTO;
	}
	if (!err && dc)
		err = mx_set_data_cap(s->mx, room, id, secret, cap);
	if (!err && screen)
		err = mx_set_screen(s->mx, room, id, secret, json_is_true(screen));
	json_decref(j);
	if (err == EPERM)
		return ad_reply_error(c, MHD_HTTP_FORBIDDEN, "screen_not_allowed",
				      "this room's screen_share does not let this participant "
				      "share a screen");
	if (err == EBUSY)
		return ad_reply_error(c, MHD_HTTP_CONFLICT, "screen_busy",
				      "another participant is sharing a screen");
	if (err == EINVAL)
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field",
				      "the room has no such tier");
	if (err)
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				      "no such participant");
	ad_audit(s, c, "participant.update", room, id);
	/* The participant as it is now. */
	json_t *all = ad_participants_json(s, room), *p;
	size_t i;
	json_array_foreach(all, i, p) {
		if (!strcmp(json_string_value(json_object_get(p, "id")), id)) {
			json_incref(p);
			json_decref(all);
			return ad_reply_json(c, MHD_HTTP_OK, p);
		}
	}
	json_decref(all);
	return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
			      "no such participant");
}
