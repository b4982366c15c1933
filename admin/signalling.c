/*
 * WHIP-shaped signalling (RFC 9725 form, sendrecv): POST an SDP offer to
 * /api/v1/rooms/{room}/join → 201, Location of the participant, the
 * answer. DELETE on the Location leaves; PATCH takes trickle ICE
 * fragments, which an ICE-lite server does not need (it learns the
 * client's address from its connectivity checks) and so acknowledges.
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

enum MHD_Result ad_join(struct ad_server *s, struct MHD_Connection *c,
			const char *room, const struct ad_body *b)
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
	snprintf(location, sizeof(location), "/api/v1/rooms/%s/participants/%s?s=%s", room,
		 id, secret);
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
	ret = MHD_queue_response(c, MHD_HTTP_CREATED, r);
	MHD_destroy_response(r);
	ad_audit(s, c, "participant.join", room, id);
	return ret;
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
		/* ICE-lite: the candidates are not needed; see above. */
		return ad_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			      "use DELETE or PATCH");
}
