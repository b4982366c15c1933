/* Private to admin/. */
#ifndef TUTTI_ADMIN_INTERNAL_H
#define TUTTI_ADMIN_INTERNAL_H

#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "admin/admin.h"

#define AD_MAX_BODY (64 * 1024) /* bigger request bodies get 413 */

struct ad_server {
	struct MHD_Daemon *daemon;
	struct mx_engine *mx;
	char admin_key[128];
	char web_dir[PATH_MAX];
	bool draining; /* atomic access */
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

/* signalling.c */
enum MHD_Result ad_join(struct ad_server *s, struct MHD_Connection *c,
			const char *room, const struct ad_body *b);
enum MHD_Result ad_participant(struct ad_server *s, struct MHD_Connection *c,
			       const char *method, const char *room, const char *id,
			       const struct ad_body *b);
/* rooms.c: POST /api/v1/rooms, GET /api/v1/rooms/{room}, and the admin
 * PATCH of a participant (mute). */
enum MHD_Result ad_create_room(struct ad_server *s, struct MHD_Connection *c,
			       const struct ad_body *b);
enum MHD_Result ad_get_room(struct ad_server *s, struct MHD_Connection *c,
			    const char *room);
enum MHD_Result ad_patch_room(struct ad_server *s, struct MHD_Connection *c,
			      const char *room, const struct ad_body *b);
enum MHD_Result ad_patch_participant(struct ad_server *s, struct MHD_Connection *c,
				     const char *room, const char *id,
				     const struct ad_body *b);
/* static.c: "/", "/r/{room}", "/static/{file}"; false if not such a path. */
bool ad_static(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret);
/* metrics.c: /livez, /readyz, /metrics; false if not such a path. */
bool ad_health(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret);

#endif
