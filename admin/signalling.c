/*
 * Signalling. The web client's join is WHIP-shaped (RFC 9725 form,
 * sendrecv): POST an SDP offer to /api/v1/rooms/{room}/join → 201,
 * Location of the participant, the answer. DELETE on the Location
 * leaves; PATCH takes trickle ICE fragments, which an ICE-lite server
 * does not need (it learns the client's address from its connectivity
 * checks) and so acknowledges.
 *
 * Strict WHIP (RFC 9725) at /api/v1/rooms/{room}/whip and WHEP at .../whep,
 * for encoders (OBS, ffmpeg, simple-whip-client) that send into a room and
 * players that only watch: the offer must send only (WHIP) or receive only
 * (WHEP) on every m-line; 201 with the answer, the session URL in
 * Location, an ETag, and Link rel="ice-server" for each --ice-server;
 * OPTIONS answers CORS preflights with Accept-Post; on the session URL,
 * DELETE ends it (200), PATCH with a trickle-ice-sdpfrag and a matching
 * If-Match is acknowledged (204), a wrong ETag is 412, none is 428, and an
 * ICE restart (If-Match: *) is 422: not supported, the client starts a
 * new session.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "admin/internal.h"

bool ad_content_type_is(struct MHD_Connection *c, const char *ctype)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(ctype);

	return v && !strncasecmp(v, ctype, n) && (v[n] == '\0' || v[n] == ';' || v[n] == ' ');
}

static const char *const kind_path[] = {
	[AD_JOIN] = "participants", [AD_WHIP] = "whip", [AD_WHEP] = "whep",
};

/* CORS for the WHIP and WHEP resources (bearer credentials, no cookies:
 * any origin may call them). */
static void cors(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(r, "Access-Control-Allow-Methods",
				"OPTIONS, POST, PATCH, DELETE");
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
				"Authorization, Content-Type, If-Match");
	MHD_add_response_header(r, "Access-Control-Expose-Headers",
				"Location, ETag, Link, Accept-Patch, Accept-Post");
}

/* A WHIP offer sends only, a WHEP offer receives only, on every m-line
 * (as RFC 9725 and WHEP say); NULL if so, else why not. */
static const char *direction_problem(enum ad_join_kind kind, const char *sdp, size_t len)
{
	const char *want = kind == AD_WHIP ? "a=sendonly" : "a=recvonly";
	size_t m = 0, ok = 0;

	for (const char *p = sdp, *end = sdp + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n >= 2 && !strncmp(p, "m=", 2))
			m++;
		else if (m && n == strlen(want) && !strncmp(p, want, n))
			ok++;
		p += (nl ? (size_t)(nl - p) + 1 : n);
		if (!nl)
			break;
	}
	if (!m || ok != m)
		return kind == AD_WHIP ? "a WHIP offer sends only: a=sendonly on every m-line"
				       : "a WHEP offer receives only: a=recvonly on every m-line";
	return NULL;
}

/* The session's entity tag: it names its ICE session, which never
 * changes (no ICE restarts). */
static void etag_of(const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "\"%s-ice1\"", id);
}

enum MHD_Result ad_join(struct ad_server *s, struct MHD_Connection *c, const char *room,
			const struct ad_body *b, enum ad_join_kind kind)
{
	char id[TP_PEER_ID_LEN + 1], err[256] = "", location[200], name[MX_NAME_MAX + 1];
	char secret[MX_SECRET_LEN + 1];
	char *answer = NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;
	enum mx_role role;
	int rc;

	if (ad_draining(s))
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "draining",
				      "the server is shutting down");
	if (!ad_content_type_is(c, "application/sdp"))
		return ad_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				      "unsupported_media_type",
				      "the body must be an SDP offer (application/sdp)");
	if (!b->len)
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_sdp",
				      "the body must be an SDP offer");
	const char *why = kind != AD_JOIN ? direction_problem(kind, b->data, b->len) : NULL;
	if (why)
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_direction", why);
	if (!ad_rate_allow(c, AD_RATE_JOIN, &ret))
		return ret;
	if (ad_join_allowed(s, c, room, &role, name, &ret))
		return ret;
	/* One more participant would degrade everyone: say so instead. */
	if (mx_engine_overloaded(s->mx))
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded",
				      "the server is overloaded: try again later");
	rc = mx_join(s->mx, room, role, name, b->data, b->len, &answer, id, secret, err,
		     sizeof(err));
	switch (rc) {
	case 0:
		break;
	case ENOENT:
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found",
				      "no such room");
	case EBADMSG:
		cm_info("admin", "room %s: offer refused: %s", room, err);
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_sdp", err);
	case EPROTO:
		cm_info("admin", "room %s: offer refused: %s", room, err);
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "unsupported_offer", err);
	case EBUSY:
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "room_full",
				      "the room is full");
	case EACCES:
		return ad_reply_error(c, MHD_HTTP_FORBIDDEN, "room_locked",
				      "the room is locked");
	case ESHUTDOWN:
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "draining",
				      "the server is shutting down");
	default:
		return ad_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				      strerror(rc));
	}
	/* The participant's URL carries its secret: whoever holds the URL
	 * (the participant) may leave and change its own hand and data
	 * cap; its id alone, which rosters show, does not allow that. */
	snprintf(location, sizeof(location), "/api/v1/rooms/%s/%s/%s?s=%s", room,
		 kind_path[kind], id, secret);
	r = MHD_create_response_from_buffer(strlen(answer), answer,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(answer);
		mx_leave(s->mx, room, id, NULL);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/sdp");
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (kind != AD_JOIN) {
		char etag[64];
		etag_of(id, etag, sizeof(etag));
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(r, "Accept-Patch", "application/trickle-ice-sdpfrag");
		for (size_t i = 0; i < s->n_ice_servers; i++)
			MHD_add_response_header(r, "Link", s->ice_links[i]);
		cors(r);
	}
	ret = MHD_queue_response(c, MHD_HTTP_CREATED, r);
	MHD_destroy_response(r);
	ad_audit(s, c, kind == AD_WHIP ? "participant.whip" : kind == AD_WHEP ? "participant.whep"
									 : "participant.join",
		 room, id);
	return ret;
}

/* A bodiless reply with the WHIP/WHEP headers. */
static enum MHD_Result whip_reply(struct MHD_Connection *c, unsigned status,
				  const char *etag, bool endpoint)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	cors(r);
	if (endpoint)
		MHD_add_response_header(r, "Accept-Post", "application/sdp");
	else
		MHD_add_response_header(r, "Accept-Patch", "application/trickle-ice-sdpfrag");
	if (etag)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result ad_whip_endpoint(struct ad_server *s, struct MHD_Connection *c,
				 const char *method, const char *room, const struct ad_body *b,
				 enum ad_join_kind kind)
{
	if (!strcmp(method, "OPTIONS"))
		return whip_reply(c, MHD_HTTP_NO_CONTENT, NULL, true);
	if (!strcmp(method, "POST"))
		return ad_join(s, c, room, b, kind);
	return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			      "use POST (or OPTIONS)");
}

/* An ICE restart asks for new credentials: a=ice-ufrag / a=ice-pwd in the
 * fragment (a trickle fragment repeats the current ones, or has none). */
static bool asks_ice_restart(const struct ad_body *b, const char *if_match)
{
	return if_match && !strcmp(if_match, "*") && b->len &&
	       strstr(b->data, "a=ice-pwd:") != NULL;
}

enum MHD_Result ad_whip_session(struct ad_server *s, struct MHD_Connection *c,
				const char *method, const char *room, const char *id,
				const struct ad_body *b)
{
	const char *secret = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "s");
	const char *if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_IF_MATCH);
	char etag[64];

	if (strlen(id) != TP_PEER_ID_LEN)
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "session_not_found",
				      "no such session");
	etag_of(id, etag, sizeof(etag));
	if (!strcmp(method, "OPTIONS"))
		return whip_reply(c, MHD_HTTP_NO_CONTENT, NULL, false);
	/* The session URL (with its secret) is the credential: whatever
	 * Authorization the client repeats, the secret decides. */
	if (!secret || !mx_participant_secret_ok(s->mx, room, id, secret))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "session_not_found",
				      "no such session");
	if (!strcmp(method, "DELETE")) {
		if (mx_leave(s->mx, room, id, secret))
			return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "session_not_found",
					      "no such session");
		ad_audit(s, c, "participant.leave", room, id);
		return whip_reply(c, MHD_HTTP_OK, NULL, false);
	}
	if (strcmp(method, "PATCH"))
		return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "use PATCH or DELETE (or OPTIONS)");
	if (!ad_content_type_is(c, "application/trickle-ice-sdpfrag"))
		return ad_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
				      "PATCH takes application/trickle-ice-sdpfrag");
	if (!if_match)
		return ad_reply_error(c, 428, "precondition_required",
				      "PATCH needs If-Match: the session's ETag (or * for an "
				      "ICE restart)");
	if (asks_ice_restart(b, if_match))
		return ad_reply_error(c, 422, "ice_restart_not_supported",
				      "ICE restarts are not supported: DELETE this session and "
				      "start a new one");
	if (strcmp(if_match, etag))
		return ad_reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "precondition_failed",
				      "If-Match does not match the session's ETag");
	/* Trickle: ICE-lite needs no candidates (see the top). */
	return whip_reply(c, MHD_HTTP_NO_CONTENT, etag, false);
}

enum MHD_Result ad_participant(struct ad_server *s, struct MHD_Connection *c,
			       const char *method, const char *room, const char *id,
			       const struct ad_body *b)
{
	if (strlen(id) != TP_PEER_ID_LEN)
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
				      "no such participant");
	if (!strcmp(method, "DELETE")) {
		const char *secret;
		enum MHD_Result ret;
		if (!ad_self_or_presenter(s, c, room, &secret, &ret))
			return ret;
		if (mx_leave(s->mx, room, id, secret))
			return ad_reply_error(c, MHD_HTTP_NOT_FOUND,
					      "participant_not_found",
					      "no such participant");
		ad_audit(s, c, "participant.leave", room, id);
		return ad_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	if (!strcmp(method, "PATCH") && ad_content_type_is(c, "application/json"))
		return ad_patch_participant(s, c, room, id, b);
	if (!strcmp(method, "PATCH")) {
		if (!ad_content_type_is(c, "application/trickle-ice-sdpfrag"))
			return ad_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
					      "unsupported_media_type",
					      "PATCH takes application/trickle-ice-sdpfrag");
		/* ICE-lite: the candidates are not needed; see above. Still
		 * only the participant itself (or a presenter) gets a 204. */
		const char *secret;
		enum MHD_Result ret;
		if (!ad_self_or_presenter(s, c, room, &secret, &ret))
			return ret;
		if (secret && !mx_participant_secret_ok(s->mx, room, id, secret))
			return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "participant_not_found",
					      "no such participant");
		return ad_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			      "use DELETE or PATCH");
}
