/*
 * Join tokens: an admin issues them (POST /api/v1/rooms/{room}/tokens);
 * a participant presents one as "Authorization: Bearer <token>" when it
 * joins a room whose access is "token". JWT HS256 with the server secret
 * (jwt.c); the room, the role and the expiry are in the signed claims.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/common.h"
#include "admin/internal.h"

#define TTL_DEFAULT 3600
#define TTL_MAX (30 * 24 * 3600)

enum MHD_Result ad_issue_token(struct ad_server *s, struct MHD_Connection *c,
			       const char *room, const struct ad_body *b)
{
	static const char *const allowed[] = { "name", "role", "ttl", NULL };
	struct ad_token t = { .role = AD_ROLE_ATTENDEE };
	char jwt[AD_JWT_MAX + 1], url[AD_JWT_MAX + 512];
	enum MHD_Result ret;
	const char *name, *role, *why = NULL;
	json_t *j, *ttl;
	int64_t now = (int64_t)time(NULL);

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (!mx_room_exists(s->mx, room))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	if (!(j = ad_json_body(c, b, &ret)))
		return ret;
	name = json_string_value(json_object_get(j, "name"));
	role = json_string_value(json_object_get(j, "role"));
	ttl = json_object_get(j, "ttl");
	if (ad_json_unknown_key(j, allowed))
		why = "unknown field (name, role, ttl)";
	else if (!name || !*name || strlen(name) >= sizeof(t.name))
		why = "name: 1 to 128 bytes";
	else if (json_object_get(j, "role") &&
		 (!role || (strcmp(role, "presenter") && strcmp(role, "attendee"))))
		why = "role: presenter or attendee";
	else if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 60 ||
			 json_integer_value(ttl) > TTL_MAX))
		why = "ttl: 60 to 2592000 seconds";
	if (!why) {
		strcpy(t.room, room);
		strcpy(t.name, name);
		if (role && !strcmp(role, "presenter"))
			t.role = AD_ROLE_PRESENTER;
		t.iat = now;
		t.exp = now + (ttl ? json_integer_value(ttl) : TTL_DEFAULT);
		cm_random_token(t.jti, 32);
		if (ad_jwt_sign(s->jwt_key, &t, jwt, sizeof(jwt)))
			why = "name: no control characters";
	}
	json_decref(j);
	if (why)
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_field", why);
	snprintf(url, sizeof(url), "%s/r/%s?token=%s", s->public_url, room, jwt);
	ad_audit(s, c, "token.issue", room, t.jti);
	return ad_reply_json(c, MHD_HTTP_CREATED,
			     json_pack("{s:s,s:s,s:s,s:I}", "token", jwt, "join_url", url,
				       "role", t.role == AD_ROLE_PRESENTER ? "presenter"
									   : "attendee",
				       "expires_at", (json_int_t)t.exp));
}

/* A display name from ?name= (open rooms): printable, bounded. */
static void name_from_query(struct MHD_Connection *c, char name[MX_NAME_MAX + 1])
{
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	size_t n = 0;

	for (; q && *q && n < MX_NAME_MAX; q++)
		if ((unsigned char)*q >= 0x20 && *q != 0x7f)
			name[n++] = *q;
	/* Never end inside a UTF-8 sequence. */
	while (n > 0 && ((unsigned char)name[n - 1] & 0xc0) == 0x80 && n == MX_NAME_MAX)
		n--;
	name[n] = '\0';
}

int ad_join_allowed(struct ad_server *s, struct MHD_Connection *c, const char *room,
		    enum mx_role *role, char name[MX_NAME_MAX + 1], enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	struct mx_room_cfg cfg;
	struct ad_token t;
	int err;

	*role = MX_ROLE_DEFAULT;
	name_from_query(c, name);
	if (mx_room_get_cfg(s->mx, room, &cfg)) {
		*ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
		return EACCES;
	}
	if (!v || strncasecmp(v, "Bearer ", 7)) {
		if (cfg.open)
			return 0;
		*ret = ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "token_required",
				      "this room needs a join token (Authorization: Bearer ...)");
		return EACCES;
	}
	v += 7;
	if (!ad_rate_allow(c, AD_RATE_AUTH_FAIL, ret))
		return EACCES;
	err = ad_jwt_verify(s->jwt_key, v, strlen(v), (int64_t)time(NULL), &t);
	if (err || strcmp(t.room, room))
		ad_rate_failed(c);
	if (err == ETIMEDOUT) {
		*ret = ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "token_expired",
				      "the join token has expired");
		return EACCES;
	}
	if (err) {
		*ret = ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "bad_token",
				      "the join token is not valid");
		return EACCES;
	}
	if (strcmp(t.room, room)) {
		*ret = ad_reply_error(c, MHD_HTTP_FORBIDDEN, "wrong_room",
				      "the join token is for another room");
		return EACCES;
	}
	*role = t.role == AD_ROLE_PRESENTER ? MX_ROLE_PRESENTER : MX_ROLE_ATTENDEE;
	snprintf(name, MX_NAME_MAX + 1, "%s", t.name); /* the signed name wins */
	return 0;
}

bool ad_check_presenter(struct ad_server *s, struct MHD_Connection *c, const char *room,
			enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	struct ad_token t;

	if (v && !strncasecmp(v, "Bearer ", 7) && strchr(v + 7, '.') &&
	    ad_jwt_verify(s->jwt_key, v + 7, strlen(v + 7), (int64_t)time(NULL), &t) == 0) {
		if (!strcmp(t.room, room) && t.role == AD_ROLE_PRESENTER)
			return true;
		*ret = ad_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden",
				      "this needs the room's presenter (or the admin key)");
		return false;
	}
	return ad_check_admin(s, c, ret);
}

bool ad_self_or_presenter(struct ad_server *s, struct MHD_Connection *c, const char *room,
			  const char **secret, enum MHD_Result *ret)
{
	const char *q;

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) {
		*secret = NULL;
		return ad_check_presenter(s, c, room, ret);
	}
	q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "s");
	*secret = q ? q : "";
	return true;
}
