/*
 * The admin API's use of the store: room definitions (as their JSON form)
 * so that rooms survive a restart, and the audit log of admin actions and
 * joins/leaves — metadata only: who, what, when, from which address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

int ad_persist_room(struct ad_server *s, const char *name, const struct mx_room_cfg *cfg,
		    bool create)
{
	json_t *j;
	char *text;
	int err;

	if (!s->store)
		return 0;
	j = ad_room_to_json(name, cfg);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return ENOMEM;
	err = create ? ad_store_room_insert(s->store, name, text)
		     : ad_store_room_update(s->store, name, text);
	free(text);
	return err;
}

void ad_unpersist_room(struct ad_server *s, const char *name)
{
	if (s->store && ad_store_room_delete(s->store, name) == EIO)
		cm_warn("admin", "room %s ended but is still in the store", name);
}

/* The client's address, for the audit log. */
static void client_addr(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

void ad_audit(struct ad_server *s, struct MHD_Connection *c, const char *action,
	      const char *room, const char *detail)
{
	char addr[INET6_ADDRSTRLEN];

	if (!s->store)
		return;
	client_addr(c, addr, sizeof(addr));
	ad_store_audit(s->store, strncmp(action, "participant.join", 16) ? "admin" : "participant",
		       action, room, detail, addr[0] ? addr : NULL);
}

static void restore_one(void *arg, const char *name, const char *text)
{
	struct ad_server *s = arg;
	struct mx_room_cfg cfg;
	char n[MX_ROOM_NAME_MAX + 1];
	const char *why;
	json_t *j = ad_json_object(text, strlen(text), &why);

	mx_room_cfg_init(&cfg);
	if (!j || ad_room_from_json(j, true, &cfg, n, &why) || strcmp(n, name)) {
		cm_warn("admin", "stored room %s is unreadable (%s): skipped", name,
			why ? why : "name differs");
	} else if (mx_room_add(s->mx, name, &cfg) == 0) {
		cm_info("admin", "room %s restored", name);
	}
	json_decref(j);
}

void ad_restore_rooms(struct ad_server *s)
{
	if (s->store && ad_store_rooms_load(s->store, restore_one, s))
		cm_error("admin", "the stored rooms could not be read");
}
