/*
 * Room endpoints: admins (Authorization: Bearer <admin key>) create and
 * list rooms; admins and the room's presenters (Bearer <presenter join
 * token>) read one (participants, layout, live figures), change it and
 * end it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

static json_t *stats_json(const struct mx_room_stats *st)
{
	json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "ticks",
			 (json_int_t)st->ticks, "missed_deadlines",
			 (json_int_t)st->missed_deadlines, "missed_audio_deadlines",
			 (json_int_t)st->missed_audio_deadlines, "audio_encodes",
			 (json_int_t)st->audio_encodes, "audio_decodes",
			 (json_int_t)st->audio_decodes, "video_encodes",
			 (json_int_t)st->video_encodes, "video_decodes",
			 (json_int_t)st->video_decodes, "video_keyframes",
			 (json_int_t)st->video_keyframes, "video_retransmits",
			 (json_int_t)st->video_retransmits, "inbound_dropped",
			 (json_int_t)st->inbound_dropped);
	if (j) {
		json_object_set_new(j, "load_permille", json_integer((json_int_t)st->load_permille));
		json_object_set_new(j, "audio_ahead_ticks",
				    json_integer((json_int_t)st->audio_ahead_ticks));
		json_object_set_new(j, "video_nacks_queued",
				    json_integer((json_int_t)st->video_nacks_queued));
		json_object_set_new(j, "video_repairs_early",
				    json_integer((json_int_t)st->video_repairs_early));
		json_object_set_new(j, "pacer_queued_bytes",
				    json_integer((json_int_t)st->pacer_queued_bytes));
		json_object_set_new(j, "pacer_dropped_bytes",
				    json_integer((json_int_t)st->pacer_dropped_bytes));
	}
	return j;
}

/* The room's definition with its live participant count and figures. */
static json_t *room_summary(struct ad_server *s, const char *name)
{
	struct mx_room_cfg cfg;
	struct mx_room_stats st;
	json_t *j;

	if (mx_room_get_cfg(s->mx, name, &cfg) || mx_room_stats(s->mx, name, &st))
		return NULL;
	j = ad_room_to_json(name, &cfg);
	if (j) {
		json_object_set_new(j, "participants", json_integer((json_int_t)st.participants));
		json_object_set_new(j, "stats", stats_json(&st));
		json_object_set_new(j, "recording", json_boolean(st.recording));
	}
	return j;
}

enum MHD_Result ad_create_room(struct ad_server *s, struct MHD_Connection *c,
			       const struct ad_body *b)
{
	char name[MX_ROOM_NAME_MAX + 1];
	struct mx_room_cfg cfg;
	enum MHD_Result ret;
	const char *why;
	json_t *j;
	int err;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!(j = ad_json_body(c, b, &ret)))
		return ret;
	mx_room_cfg_init(&cfg);
	if (ad_room_from_json(j, true, &cfg, name, &why)) {
		json_decref(j);
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", why);
	}
	json_decref(j);
	err = ad_persist_room(s, name, &cfg, true);
	if (err == EEXIST || (!err && (err = mx_room_add(s->mx, name, &cfg)) == EEXIST))
		return ad_reply_error(c, MHD_HTTP_CONFLICT, "room_exists",
				      "a room with this name exists");
	if (err == EIO)
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
				      "the room store cannot be written (disk full, or the "
				      "database locked by another process: see the server log)");
	if (err)
		return ad_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				      strerror(err));
	ad_audit(s, c, "room.create", name, NULL);
	cm_info("admin", "room %s created", name);
	return ad_reply_json(c, MHD_HTTP_CREATED, room_summary(s, name));
}

enum MHD_Result ad_list_rooms(struct ad_server *s, struct MHD_Connection *c)
{
	char(*names)[MX_ROOM_NAME_MAX + 1] = NULL;
	enum MHD_Result ret;
	size_t n, cap = 0;
	json_t *a;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	/* Rooms may come and go meanwhile: size, then read, then retry. */
	while ((n = mx_room_names(s->mx, names, cap)) > cap) {
		free(names);
		cap = n + 8;
		names = malloc(cap * sizeof(*names));
		if (!names)
			return MHD_NO;
	}
	a = json_array();
	for (size_t i = 0; i < n && a; i++) {
		json_t *r = room_summary(s, names[i]);
		if (r)
			json_array_append_new(a, r);
	}
	free(names);
	return ad_reply_json(c, MHD_HTTP_OK, json_pack("{s:o}", "rooms", a));
}

static json_t *participants_json(const struct mx_part_info *pi, size_t n)
{
	static const char *const roles[] = { "participant", "presenter", "attendee" };
	json_t *a = json_array();

	for (size_t i = 0; i < n && a; i++) {
		json_t *net = json_pack("{s:I,s:I,s:f,s:I,s:i}", "packets_sent",
					(json_int_t)pi[i].net.packets_sent, "bytes_sent",
					(json_int_t)pi[i].net.bytes_sent, "loss", pi[i].net.loss,
					"rtt_ms", (json_int_t)pi[i].net.rtt_ms, "jitter_ms",
					(int)pi[i].net.jitter_ms);
		json_t *bw = json_pack(
			"{s:I,s:I,s:I,s:b,s:i,s:i,s:s,s:b,s:I,s:I}", "estimate_bps",
			(json_int_t)pi[i].estimate_bps, "acked_bps", (json_int_t)pi[i].acked_bps,
			"remb_bps", (json_int_t)pi[i].remb_bps, "twcc", pi[i].twcc, "level",
			pi[i].level, "video_fps", (int)pi[i].video_fps, "audio_tier",
			pi[i].audio_tier == MX_AUDIO_LOW ? "low" : "normal", "tier_pinned",
			pi[i].tier_pinned, "retransmits", (json_int_t)pi[i].retransmits,
			"retransmits_dropped", (json_int_t)pi[i].retransmits_dropped);
		json_t *pj =
			json_pack("{s:s,s:s,s:s,s:b,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:i,s:I,s:I}",
				     "id", pi[i].id, "name", pi[i].name, "role", roles[pi[i].role],
				     "hand",
				     pi[i].hand, "data_cap",
				     pi[i].data_cap == MX_CAP_LOW	    ? "low"
				     : pi[i].data_cap == MX_CAP_AUDIO_ONLY ? "audio-only"
									     : "auto",
				     "muted", pi[i].muted,
				     "connected", pi[i].connected, "speaking", pi[i].speaking,
				     "audio_mixed", pi[i].audio_speaker, "video_visible",
				     pi[i].video_visible, "spotlight", pi[i].spotlight,
				     "video_tier", pi[i].video_tier, "video_decodes",
				     (json_int_t)pi[i].video_decodes, "video_frames_sent",
				     (json_int_t)pi[i].video_frames_sent);
		const struct mx_audio_in_info *ai = &pi[i].audio_in;
		json_t *ain = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i}", "received",
					(json_int_t)ai->received, "late", (json_int_t)ai->late,
					"lost", (json_int_t)ai->lost, "fec", (json_int_t)ai->fec,
					"concealed", (json_int_t)ai->concealed, "discarded",
					(json_int_t)ai->discarded, "flushes",
					(json_int_t)ai->flushes, "target_ms", (int)ai->target_ms,
					"depth_ms", (int)ai->depth_ms);
		const struct tp_pacer_stats *ps = &pi[i].pacer;
		json_t *pacer = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "rate_bps",
					  (json_int_t)ps->rate_bps, "queued_bytes",
					  (json_int_t)ps->queued_bytes, "queued_packets",
					  (json_int_t)ps->queued_pkts, "max_queued_bytes",
					  (json_int_t)ps->max_queued_bytes, "limit_bytes",
					  (json_int_t)ps->limit_bytes, "oldest_ms",
					  (json_int_t)ps->oldest_ms, "dropped_bytes",
					  (json_int_t)ps->dropped_bytes, "dropped_packets",
					  (json_int_t)ps->dropped_pkts, "dropped_video_packets",
					  (json_int_t)ps->dropped_video_pkts, "waited_packets",
					  (json_int_t)ps->queued_total);
		if (bw) {
			json_object_set_new(bw, "probes_ok", json_integer((json_int_t)pi[i].probes_ok));
			json_object_set_new(bw, "probes_failed",
					    json_integer((json_int_t)pi[i].probes_failed));
		}
		if (pj) {
			json_object_set_new(pj, "network", net);
			json_object_set_new(pj, "bandwidth", bw);
			json_object_set_new(pj, "audio_in", ain);
			/* null until connected, or without video */
			json_object_set_new(pj, "video_codec",
					    pi[i].video_codec != TP_CODEC_NONE
						? json_string(tp_codec_name(pi[i].video_codec))
						: json_null());
			json_object_set_new(pj, "pacer", pacer);
		} else {
			json_decref(net);
			json_decref(bw);
			json_decref(ain);
			json_decref(pacer);
		}
		if (pj)
			json_object_set_new(pj, "screen", json_boolean(pi[i].screen));
		json_array_append_new(a, pj);
	}
	return a;
}

static json_t *layout_json(const struct mx_layout_info *li)
{
	json_t *tiles = json_array();

	for (size_t i = 0; i < li->n && tiles; i++)
		json_array_append_new(tiles, json_pack("{s:s,s:i,s:i,s:i,s:i,s:b,s:b}",
						       "participant", li->tiles[i].id, "x",
						       li->tiles[i].x, "y", li->tiles[i].y, "w",
						       li->tiles[i].w, "h", li->tiles[i].h, "large",
						       li->tiles[i].large, "screen",
						       li->tiles[i].screen));
	return json_pack("{s:s,s:i,s:i,s:o,s:o}", "kind", mx_layout_name(li->kind), "width",
			 li->width, "height", li->height, "tiles", tiles, "screen",
			 li->screen_by[0] ? json_string(li->screen_by) : json_null());
}

/* The participants of a room, or NULL (no such room). */
json_t *ad_participants_json(struct ad_server *s, const char *room)
{
	struct mx_room_stats st;
	struct mx_part_info *pi;
	size_t n = 0;
	json_t *a = NULL;

	if (mx_room_stats(s->mx, room, &st))
		return NULL;
	pi = calloc(st.participants + 8, sizeof(*pi));
	if (pi && !mx_room_participants(s->mx, room, pi, st.participants + 8, &n))
		a = participants_json(pi, n);
	free(pi);
	return a;
}

enum MHD_Result ad_get_room(struct ad_server *s, struct MHD_Connection *c,
			    const char *room)
{
	struct mx_layout_info li;
	enum MHD_Result ret;
	json_t *j, *parts;

	if (!ad_check_presenter(s, c, room, &ret))
		return ret;
	j = room_summary(s, room);
	parts = j ? ad_participants_json(s, room) : NULL;
	if (!j || !parts || mx_room_layout(s->mx, room, &li)) {
		json_decref(j);
		json_decref(parts);
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	}
	json_object_set_new(j, "participant_list", parts);
	json_object_set_new(j, "layout", layout_json(&li));
	return ad_reply_json(c, MHD_HTTP_OK, j);
}

static bool has_participant(struct ad_server *s, const char *room, const char *id)
{
	json_t *all = ad_participants_json(s, room), *p;
	bool found = false;
	size_t i;

	json_array_foreach(all, i, p)
		found |= !strcmp(json_string_value(json_object_get(p, "id")), id);
	json_decref(all);
	return found;
}

enum MHD_Result ad_patch_room(struct ad_server *s, struct MHD_Connection *c,
			      const char *room, const struct ad_body *b)
{
	char name[MX_ROOM_NAME_MAX + 1];
	struct mx_room_cfg cfg, old;
	enum MHD_Result ret;
	const char *why;
	json_t *j;
	int err;

	if (!ad_check_presenter(s, c, room, &ret))
		return ret;
	if (!(j = ad_json_body(c, b, &ret)))
		return ret;
	if (mx_room_get_cfg(s->mx, room, &old)) {
		json_decref(j);
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	}
	cfg = old;
	err = ad_room_from_json(j, false, &cfg, name, &why);
	/* "presenter": a participant id that gets the presenter role. */
	json_t *pres = json_object_get(j, "presenter");
	char pid[TP_PEER_ID_LEN + 1] = "";
	if (!err && pres) {
		if (!json_is_string(pres) || strlen(json_string_value(pres)) != TP_PEER_ID_LEN) {
			err = EINVAL;
			why = "presenter: a participant id";
		} else {
			strcpy(pid, json_string_value(pres));
		}
	}
	json_decref(j);
	if (err)
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", why);
	if (pid[0] && !has_participant(s, room, pid))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				      "no such participant");
	if ((err = mx_room_reconfigure(s->mx, room, &cfg, &why)))
		return err == ENOENT ? ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found",
						      "no such room")
				     : ad_reply_error(c, MHD_HTTP_CONFLICT, "conflict", why);
	/* After the checks above, so that a refused change changes nothing. */
	if (pid[0] && mx_set_role(s->mx, room, pid, MX_ROLE_PRESENTER))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				      "no such participant");
	if (cfg.layout != old.layout && mx_set_layout(s->mx, room, cfg.layout))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	if (ad_persist_room(s, room, &cfg, false) == EIO) {
		/* Live, but not stored: say so rather than pretend. */
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
				      "changed, but the room store cannot be written");
	}
	ad_audit(s, c, "room.update", room, NULL);
	cm_info("admin", "room %s changed", room);
	return ad_get_room(s, c, room);
}

enum MHD_Result ad_delete_room(struct ad_server *s, struct MHD_Connection *c,
			       const char *room)
{
	enum MHD_Result ret;

	if (!ad_check_presenter(s, c, room, &ret))
		return ret;
	if (mx_room_remove(s->mx, room))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	ad_unpersist_room(s, room);
	ad_audit(s, c, "room.delete", room, NULL);
	return ad_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}
