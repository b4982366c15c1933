/*
 * GET /api/v1/rooms/{room}/events: Server-Sent Events for the web client.
 * Each change of the room that others see (roster: joins, leaves, mute,
 * hands, roles, who speaks; the layout) bumps the room's version; the
 * stream then sends the parts that changed as "roster" and "layout"
 * events (full JSON state, so a client that missed one is not lost; the
 * layout event also says who shares a screen, and who may), a
 * comment every 15 s to keep proxies from closing it, and "ended" when
 * the room ends. libmicrohttpd runs each connection in its own thread, so
 * the reader waits for changes in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/common.h"
#include "admin/internal.h"

#define KEEPALIVE_MS 15000
#define WAIT_MS 1000 /* how often a waiting stream looks at shutdown */

struct stream {
	struct ad_server *s;
	char room[MX_ROOM_NAME_MAX + 1];
	uint64_t version;
	bool started, ended;
	uint64_t last_out_us;
	char *roster, *layout; /* what was last sent */
	char *out; /* pending bytes */
	size_t out_len, out_off;
};

static void append(struct stream *st, const char *event, const char *data)
{
	size_t need = strlen(event) + strlen(data) + 32;
	char *o = realloc(st->out, st->out_len + need);

	if (!o)
		return;
	st->out = o;
	st->out_len += (size_t)snprintf(o + st->out_len, need, "event: %s\ndata: %s\n\n", event,
					data);
}

/* Sends what changed since the last snapshot. */
static void snapshot(struct stream *st)
{
	struct mx_layout_info li;
	json_t *parts = ad_participants_json(st->s, st->room), *lj = NULL;
	char *roster = NULL, *layout = NULL;

	if (mx_room_layout(st->s->mx, st->room, &li) == 0) {
		json_t *tiles = json_array();
		for (size_t i = 0; i < li.n && tiles; i++)
			json_array_append_new(tiles, json_pack("{s:s,s:b,s:b}", "participant",
							       li.tiles[i].id, "large",
							       li.tiles[i].large, "screen",
							       li.tiles[i].screen));
		struct mx_room_stats rs;
		bool rec = mx_room_stats(st->s->mx, st->room, &rs) == 0 && rs.recording;
		/* The room-wide state rides on the layout event: everyone
		 * sees that the room is being recorded. */
		/* ... who shares a screen (null: nobody), and who may. */
		struct mx_room_cfg cfg;
		enum mx_screen_share pol = mx_room_get_cfg(st->s->mx, st->room, &cfg) == 0
						   ? cfg.screen_share
						   : MX_SCREEN_PRESENTERS;
		lj = json_pack("{s:s,s:o,s:b,s:o,s:s}", "kind", mx_layout_name(li.kind), "tiles",
			       tiles, "recording", rec, "screen",
			       li.screen_by[0] ? json_string(li.screen_by) : json_null(),
			       "screen_share", mx_screen_share_name(pol));
	}
	if (parts) {
		/* The roster, not the media counters (they move every frame). */
		size_t i;
		json_t *p;
		json_array_foreach(parts, i, p) {
			json_object_del(p, "video_decodes");
			json_object_del(p, "video_frames_sent");
			json_object_del(p, "network");
			json_object_del(p, "audio_in");
			json_object_del(p, "bandwidth");
		}
		json_t *o = json_pack("{s:o}", "participants", parts);
		roster = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	if (lj)
		layout = json_dumps(lj, JSON_COMPACT);
	json_decref(lj);
	if (roster && (!st->roster || strcmp(roster, st->roster))) {
		append(st, "roster", roster);
		free(st->roster);
		st->roster = roster;
		roster = NULL;
	}
	if (layout && (!st->layout || strcmp(layout, st->layout))) {
		append(st, "layout", layout);
		free(st->layout);
		st->layout = layout;
		layout = NULL;
	}
	free(roster);
	free(layout);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	while (st->out_off == st->out_len) {
		uint64_t v;
		int err;

		st->out_len = st->out_off = 0;
		if (st->ended || ad_draining(st->s))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!st->started) {
			st->started = true;
			append(st, "hello", "{}");
			snapshot(st);
			continue;
		}
		err = mx_room_wait_change(st->s->mx, st->room, st->version, WAIT_MS, &v);
		if (err) {
			append(st, "ended", "{}");
			st->ended = true;
		} else if (v != st->version) {
			st->version = v;
			snapshot(st);
		}
		if (st->out_len == 0 && cm_now_us() - st->last_out_us >= KEEPALIVE_MS * 1000ull) {
			static const char ka[] = ": keep-alive\n\n";
			char *o = realloc(st->out, sizeof(ka));
			if (!o)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			st->out = o;
			memcpy(o, ka, sizeof(ka) - 1);
			st->out_len = sizeof(ka) - 1;
		}
	}
	size_t n = CM_MIN(max, st->out_len - st->out_off);
	memcpy(buf, st->out + st->out_off, n);
	st->out_off += n;
	st->last_out_us = cm_now_us();
	(void)pos;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	free(st->roster);
	free(st->layout);
	free(st->out);
	free(st);
}

/* Who may listen: the admin key, a join token for this room (Bearer, or
 * ?token= since EventSource cannot set headers), or anyone in an open
 * room. */
static bool may_listen(struct ad_server *s, struct MHD_Connection *c, const char *room,
		       enum MHD_Result *ret)
{
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	struct mx_room_cfg cfg;
	struct ad_token t;

	if (mx_room_get_cfg(s->mx, room, &cfg)) {
		*ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
		return false;
	}
	if (h && !strncasecmp(h, "Bearer ", 7) && !strchr(h + 7, '.'))
		return ad_check_admin(s, c, ret);
	if (!q && h && !strncasecmp(h, "Bearer ", 7))
		q = h + 7;
	if (!q) {
		if (cfg.open)
			return true;
		*ret = ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "token_required",
				      "this room needs a join token");
		return false;
	}
	int err = ad_jwt_verify(s->jwt_key, q, strlen(q), (int64_t)time(NULL), &t);
	if (err) {
		*ret = err == ETIMEDOUT
			       ? ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "token_expired",
						"the join token has expired")
			       : ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "bad_token",
						"the join token is not valid");
		return false;
	}
	if (strcmp(t.room, room)) {
		*ret = ad_reply_error(c, MHD_HTTP_FORBIDDEN, "wrong_room",
				      "the join token is for another room");
		return false;
	}
	return true;
}

enum MHD_Result ad_events(struct ad_server *s, struct MHD_Connection *c, const char *room)
{
	struct MHD_Response *r;
	struct stream *st;
	enum MHD_Result ret;

	if (!may_listen(s, c, room, &ret))
		return ret;
	st = calloc(1, sizeof(*st));
	if (!st)
		return MHD_NO;
	st->s = s;
	strcpy(st->room, room);
	st->last_out_us = cm_now_us();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, st, stream_free);
	if (!r) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
