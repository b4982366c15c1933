/* Private to admin/. */
#ifndef TUTTI_ADMIN_INTERNAL_H
#define TUTTI_ADMIN_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "admin/admin.h"
#include "admin/jwt.h"
#include "admin/store.h"

#define AD_MAX_BODY (64 * 1024) /* bigger request bodies get 413 */

struct ad_server {
	struct MHD_Daemon *daemon;
	struct mx_engine *mx;
	struct ad_store *store; /* NULL: rooms are not kept (no data dir) */
	uint8_t jwt_key[AD_JWT_KEY_LEN];
	char public_url[256]; /* base of join_url */
	char admin_key[128];
	char web_dir[PATH_MAX];
	bool draining; /* atomic access */
	bool metrics_auth; /* /metrics wants the admin key */
	char data_dir[PATH_MAX]; /* "" without one */
	unsigned recording_retention_days; /* 0: keep recordings */
	/* Link: <url>; rel="ice-server" headers of WHIP/WHEP answers. */
	char ice_links[4][300];
	size_t n_ice_servers;
};

/* A request body, accumulated over MHD's calls. */
struct ad_body {
	char *data;
	size_t len;
	bool too_large;
};

/* Replies. body is copied. */
enum MHD_Result ad_reply(struct MHD_Connection *c, unsigned status,
			 const char *ctype, const void *body, size_t len);
/* {"error":{"code":code,"message":message}} built with jansson. */
enum MHD_Result ad_reply_error(struct MHD_Connection *c, unsigned status,
			       const char *code, const char *message);
bool ad_draining(struct ad_server *s);
/* True when the request's Content-Type is ctype (parameters ignored). */
bool ad_content_type_is(struct MHD_Connection *c, const char *ctype);
/* True when the request carries "Authorization: Bearer <admin key>"
 * (compared in constant time); otherwise queues a 401 into *ret. */
bool ad_check_admin(struct ad_server *s, struct MHD_Connection *c, enum MHD_Result *ret);
/* Who acts on a participant resource: with an Authorization header, the
 * admin or the room's presenter (*secret = NULL); without one, the
 * participant itself, proven by the ?s= secret of its URL (*secret points
 * to it, "" when missing, which no participant matches). False: *ret has
 * the 401/403/429. */
bool ad_self_or_presenter(struct ad_server *s, struct MHD_Connection *c, const char *room,
			  const char **secret, enum MHD_Result *ret);
/* The admin key, or a presenter's join token for room; otherwise queues
 * 401 (no or bad credentials) or 403 (an attendee's token) into *ret. */
bool ad_check_presenter(struct ad_server *s, struct MHD_Connection *c, const char *room,
			enum MHD_Result *ret);

/* signalling.c */
/* recordings.c: POST/DELETE /api/v1/rooms/{room}/recording; GET
 * /api/v1/recordings[/{name}], DELETE /api/v1/recordings/{name}. */
enum MHD_Result ad_room_recording(struct ad_server *s, struct MHD_Connection *c,
				  const char *method, const char *room);
enum MHD_Result ad_recordings(struct ad_server *s, struct MHD_Connection *c,
			      const char *method, const char *name);

enum ad_join_kind { AD_JOIN, AD_WHIP, AD_WHEP };
/* OPTIONS and POST on /whip and /whep; the session URL's methods. */
enum MHD_Result ad_whip_endpoint(struct ad_server *s, struct MHD_Connection *c,
				 const char *method, const char *room, const struct ad_body *b,
				 enum ad_join_kind kind);
enum MHD_Result ad_whip_session(struct ad_server *s, struct MHD_Connection *c,
				const char *method, const char *room, const char *id,
				const struct ad_body *b);
enum MHD_Result ad_join(struct ad_server *s, struct MHD_Connection *c,
			const char *room, const struct ad_body *b, enum ad_join_kind kind);
enum MHD_Result ad_participant(struct ad_server *s, struct MHD_Connection *c,
			       const char *method, const char *room, const char *id,
			       const struct ad_body *b);
/* ratelimit.c: per-address token buckets. */
enum ad_rate { AD_RATE_JOIN, AD_RATE_AUTH_FAIL, AD_RATE_KINDS };
/* True when allowed; else queues 429 into *ret. */
bool ad_rate_allow(struct MHD_Connection *c, enum ad_rate kind, enum MHD_Result *ret);
/* A credential check failed: it counts against the address. */
void ad_rate_failed(struct MHD_Connection *c);

/* json.c */
enum MHD_Result ad_reply_json(struct MHD_Connection *c, unsigned status, json_t *j);
/* A JSON object from a body, or NULL with the reason (pure: fuzzed). */
json_t *ad_json_object(const char *data, size_t len, const char **why);
/* The same, from a request (Content-Type checked); NULL: *ret replied. */
json_t *ad_json_body(struct MHD_Connection *c, const struct ad_body *b,
		     enum MHD_Result *ret);
const char *ad_json_unknown_key(json_t *j, const char *const *allowed);
/* A room body: create (name and every field) or patch (what may change).
 * Fills cfg over its current values. Returns 0 or EINVAL with *why. */
int ad_room_from_json(json_t *j, bool create, struct mx_room_cfg *cfg,
		      char name[MX_ROOM_NAME_MAX + 1], const char **why);
json_t *ad_room_to_json(const char *name, const struct mx_room_cfg *cfg);

/* persist.c: the store behind the API (each a no-op without a store). */
int ad_persist_room(struct ad_server *s, const char *name, const struct mx_room_cfg *cfg,
		    bool create);
void ad_unpersist_room(struct ad_server *s, const char *name);
void ad_audit(struct ad_server *s, struct MHD_Connection *c, const char *action,
	      const char *room, const char *detail);
/* Rooms from the store into the engine, at start. */
void ad_restore_rooms(struct ad_server *s);

/* rooms.c */
enum MHD_Result ad_create_room(struct ad_server *s, struct MHD_Connection *c,
			       const struct ad_body *b);
enum MHD_Result ad_list_rooms(struct ad_server *s, struct MHD_Connection *c);
enum MHD_Result ad_get_room(struct ad_server *s, struct MHD_Connection *c,
			    const char *room);
enum MHD_Result ad_patch_room(struct ad_server *s, struct MHD_Connection *c,
			      const char *room, const struct ad_body *b);
enum MHD_Result ad_delete_room(struct ad_server *s, struct MHD_Connection *c,
			       const char *room);
json_t *ad_participants_json(struct ad_server *s, const char *room);

/* events.c: GET /api/v1/rooms/{room}/events (Server-Sent Events). */
enum MHD_Result ad_events(struct ad_server *s, struct MHD_Connection *c, const char *room);

/* participants.c */
enum MHD_Result ad_list_participants(struct ad_server *s, struct MHD_Connection *c,
				     const char *room);
enum MHD_Result ad_patch_participant(struct ad_server *s, struct MHD_Connection *c,
				     const char *room, const char *id,
				     const struct ad_body *b);

/* tokens.c: POST /api/v1/rooms/{room}/tokens, and the check of a join. */
enum MHD_Result ad_issue_token(struct ad_server *s, struct MHD_Connection *c,
			       const char *room, const struct ad_body *b);
/* Who may join room: for an open room anyone (role default); else the
 * Bearer join token must be valid and for this room. Returns 0 with
 * *role, or queues the 401/403 into *ret and returns EACCES. */
int ad_join_allowed(struct ad_server *s, struct MHD_Connection *c, const char *room,
		    enum mx_role *role, char name[MX_NAME_MAX + 1], enum MHD_Result *ret);
/* static.c: "/", "/r/{room}", "/static/{file}"; false if not such a path. */
bool ad_static(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret);
/* metrics.c: /livez, /readyz, /metrics; false if not such a path. */
bool ad_health(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret);

#endif
