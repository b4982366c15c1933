/*
 * The rooms and their participants. One mutex guards the lists; it is
 * never held while waiting on the transport.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

struct mx_room {
	char name[MX_ROOM_NAME_MAX + 1];
	struct mx_part *parts;
	size_t n_parts;
	struct mx_room *next;
};

struct mx_engine {
	struct tp_server *tp;
	pthread_mutex_t lock;
	struct mx_room *rooms;
};

bool mx_room_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > MX_ROOM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

int mx_engine_new(struct mx_engine **out, struct tp_server *tp)
{
	struct mx_engine *e;

	if (!out || !tp)
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->tp = tp;
	pthread_mutex_init(&e->lock, NULL);
	*out = e;
	return 0;
}

/* Unlinks a participant from its room; the caller then owns it. */
static bool unlink_part(struct mx_part *p)
{
	struct mx_part **pp = &p->room->parts;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (!*pp)
		return false;
	*pp = p->next;
	p->room->n_parts--;
	return true;
}

void mx_engine_free(struct mx_engine **pe)
{
	struct mx_engine *e = pe ? *pe : NULL;

	if (!e)
		return;
	for (;;) {
		struct mx_room *r;
		struct mx_part *p = NULL;

		pthread_mutex_lock(&e->lock);
		for (r = e->rooms; r && !p; r = r->next)
			p = r->parts;
		if (p)
			unlink_part(p);
		pthread_mutex_unlock(&e->lock);
		if (!p)
			break;
		tp_server_remove_peer(e->tp, p->id);
		free(p);
	}
	while (e->rooms) {
		struct mx_room *r = e->rooms;
		e->rooms = r->next;
		free(r);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
	*pe = NULL;
}

static struct mx_room *find_room(struct mx_engine *e, const char *name)
{
	for (struct mx_room *r = e->rooms; r; r = r->next)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

int mx_room_add(struct mx_engine *e, const char *name)
{
	struct mx_room *r;
	int err = 0;

	if (!mx_room_name_valid(name))
		return EINVAL;
	pthread_mutex_lock(&e->lock);
	if (find_room(e, name)) {
		err = EEXIST;
	} else if (!(r = calloc(1, sizeof(*r)))) {
		err = ENOMEM;
	} else {
		strcpy(r->name, name);
		r->next = e->rooms;
		e->rooms = r;
	}
	pthread_mutex_unlock(&e->lock);
	return err;
}

bool mx_room_exists(struct mx_engine *e, const char *name)
{
	bool found;

	pthread_mutex_lock(&e->lock);
	found = find_room(e, name) != NULL;
	pthread_mutex_unlock(&e->lock);
	return found;
}

int mx_join(struct mx_engine *e, const char *room, const char *offer, size_t len,
	    char **answer, char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen)
{
	struct mx_part *p;
	struct mx_room *r;
	int rc;

	if (!mx_room_exists(e, room))
		return ENOENT;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->engine = e;
	/* The peer may raise events before p is linked: see closed_early. */
	rc = tp_server_add_peer(e->tp, offer, len, &mx_echo_events, p, answer, p->id,
				err, errlen);
	if (rc) {
		free(p);
		return rc;
	}
	pthread_mutex_lock(&e->lock);
	r = p->closed_early ? NULL : find_room(e, room);
	if (r) {
		p->room = r;
		p->next = r->parts;
		r->parts = p;
		r->n_parts++;
	}
	pthread_mutex_unlock(&e->lock);
	if (!r) {
		/* The room went away, or the peer closed, meanwhile. */
		tp_server_remove_peer(e->tp, p->id);
		free(*answer);
		*answer = NULL;
		free(p);
		return ENOENT;
	}
	memcpy(id, p->id, sizeof(p->id));
	cm_info("mixer", "room %s: participant %s joined", room, p->id);
	return 0;
}

int mx_leave(struct mx_engine *e, const char *room, const char *id)
{
	struct mx_room *r;
	struct mx_part *p = NULL;

	pthread_mutex_lock(&e->lock);
	r = find_room(e, room);
	for (p = r ? r->parts : NULL; p; p = p->next)
		if (!strcmp(p->id, id))
			break;
	if (p)
		unlink_part(p);
	pthread_mutex_unlock(&e->lock);
	if (!p)
		return ENOENT;
	/* After this returns the I/O thread holds no reference to p. */
	tp_server_remove_peer(e->tp, p->id);
	cm_info("mixer", "room %s: participant %s left", room, p->id);
	free(p);
	return 0;
}

void mx_part_closed(struct mx_part *p)
{
	struct mx_engine *e = p->engine;
	bool mine;

	pthread_mutex_lock(&e->lock);
	/* A peer can close before mx_join linked it: mx_join frees it. */
	if (!p->room)
		p->closed_early = true;
	mine = p->room && unlink_part(p);
	pthread_mutex_unlock(&e->lock);
	if (mine) {
		cm_info("mixer", "participant %s disconnected", p->id);
		free(p);
	}
}

void mx_engine_stats(struct mx_engine *e, struct mx_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->lock);
	for (struct mx_room *r = e->rooms; r; r = r->next) {
		out->rooms++;
		out->participants += r->n_parts;
	}
	pthread_mutex_unlock(&e->lock);
	tp_server_stats(e->tp, &out->transport);
}
