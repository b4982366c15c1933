/*
 * The engine: the list of rooms, and the calls of other threads (HTTP)
 * into them. One mutex guards the list, each room's membership count and
 * whether its thread runs; everything else a room holds belongs to its
 * thread, which these calls reach through the room's inbox.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

struct mx_engine {
	struct tp_server *tp;
	pthread_mutex_t lock;
	struct mx_room *rooms;
	bool closing;
};

struct tp_server *mx_engine_tp(struct mx_engine *e)
{
	return e->tp;
}

pthread_mutex_t *mx_engine_lock(struct mx_engine *e)
{
	return &e->lock;
}

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

void mx_room_cfg_init(struct mx_room_cfg *c)
{
	c->mode = MX_MODE_MEETING;
	c->max_participants = 100;
	c->speakers = 3;
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

void mx_engine_free(struct mx_engine **pe)
{
	struct mx_engine *e = pe ? *pe : NULL;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->closing = true;
	pthread_mutex_unlock(&e->lock);
	while (e->rooms) {
		struct mx_room *r = e->rooms;
		e->rooms = r->next;
		mx_room_destroy(&r);
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

int mx_room_add(struct mx_engine *e, const char *name, const struct mx_room_cfg *cfg)
{
	struct mx_room *r;
	int err;

	if (!mx_room_name_valid(name) || !cfg || cfg->max_participants < 1 ||
	    cfg->max_participants > 10000 || cfg->speakers < 1 ||
	    cfg->speakers > MX_MAX_SPEAKERS)
		return EINVAL;
	pthread_mutex_lock(&e->lock);
	if (find_room(e, name)) {
		err = EEXIST;
	} else if (!(err = mx_room_create(&r, e, name, cfg))) {
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

/* Posts a command to a room (its thread started if need be) and waits
 * for the answer. Returns ENOENT for no such room. */
static int command(struct mx_engine *e, const char *room, enum mx_msg_kind kind,
		   const char *id, int flag)
{
	struct mx_reply reply;
	struct mx_msg *m;
	struct mx_room *r;
	int err;

	if (strlen(id) != TP_PEER_ID_LEN)
		return ENOENT;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->kind = kind;
	memcpy(m->id, id, sizeof(m->id));
	m->flag = flag;
	m->reply = &reply;
	mx_reply_init(&reply);
	pthread_mutex_lock(&e->lock);
	r = find_room(e, room);
	err = !r ? ENOENT : !r->members ? ENOENT : mx_room_ensure_running(r);
	if (!err)
		mx_inbox_push(&r->inbox, m);
	pthread_mutex_unlock(&e->lock);
	if (err)
		free(m);
	else
		err = mx_reply_wait(&reply);
	mx_reply_destroy(&reply);
	return err;
}

int mx_join(struct mx_engine *e, const char *room, enum mx_role role,
	    const char *offer, size_t len, char **answer,
	    char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen)
{
	struct mx_link *link;
	struct mx_msg *m;
	struct mx_room *r;
	int rc = 0;

	*answer = NULL;
	link = calloc(1, sizeof(*link));
	m = calloc(1, sizeof(*m));
	if (!link || !m) {
		free(link);
		free(m);
		return ENOMEM;
	}
	/* Reserve a place first, so that a full room refuses at once. */
	pthread_mutex_lock(&e->lock);
	r = e->closing ? NULL : find_room(e, room);
	if (!r)
		rc = e->closing ? ESHUTDOWN : ENOENT;
	else if (r->members >= r->cfg.max_participants)
		rc = EBUSY;
	else
		r->members++;
	pthread_mutex_unlock(&e->lock);
	if (rc)
		goto fail;

	if (role == MX_ROLE_DEFAULT && r->cfg.mode == MX_MODE_LECTURE)
		role = MX_ROLE_ATTENDEE;
	link->room = r;
	link->role = role;
	rc = tp_server_add_peer(e->tp, offer, len, &mx_room_events, link, answer,
				link->id, err, errlen);
	pthread_mutex_lock(&e->lock);
	if (!rc)
		rc = mx_room_ensure_running(r);
	if (rc) {
		r->members--;
	} else {
		m->kind = MX_MSG_ADD;
		m->link = link;
		mx_inbox_push(&r->inbox, m);
	}
	pthread_mutex_unlock(&e->lock);
	if (rc) {
		if (*answer) {
			/* The peer exists but the room thread could not start. */
			tp_server_remove_peer(e->tp, link->id);
			free(*answer);
			*answer = NULL;
		}
		goto fail;
	}
	memcpy(id, link->id, sizeof(link->id));
	cm_info("mixer", "room %s: participant %s joined", room, link->id);
	return 0;
fail:
	free(link);
	free(m);
	return rc;
}

int mx_leave(struct mx_engine *e, const char *room, const char *id)
{
	return command(e, room, MX_MSG_REMOVE, id, 0);
}

int mx_mute(struct mx_engine *e, const char *room, const char *id, bool muted)
{
	return command(e, room, MX_MSG_MUTE, id, muted);
}

static void read_counters(struct mx_room *r, struct mx_room_stats *s)
{
	s->participants = r->members;
	s->ticks = __atomic_load_n(&r->ctr.ticks, __ATOMIC_RELAXED);
	s->missed_deadlines = __atomic_load_n(&r->ctr.missed_deadlines, __ATOMIC_RELAXED);
	s->audio_encodes = __atomic_load_n(&r->ctr.audio_encodes, __ATOMIC_RELAXED);
	s->audio_decodes = __atomic_load_n(&r->ctr.audio_decodes, __ATOMIC_RELAXED);
	pthread_mutex_lock(&r->inbox.lock);
	s->inbound_dropped = r->inbox.dropped;
	pthread_mutex_unlock(&r->inbox.lock);
}

int mx_room_stats(struct mx_engine *e, const char *room, struct mx_room_stats *out)
{
	struct mx_room *r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->lock);
	r = find_room(e, room);
	if (r)
		read_counters(r, out);
	pthread_mutex_unlock(&e->lock);
	return r ? 0 : ENOENT;
}

void mx_engine_stats(struct mx_engine *e, struct mx_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->lock);
	for (struct mx_room *r = e->rooms; r; r = r->next) {
		struct mx_room_stats s;
		read_counters(r, &s);
		out->rooms++;
		out->participants += s.participants;
		out->total.ticks += s.ticks;
		out->total.missed_deadlines += s.missed_deadlines;
		out->total.audio_encodes += s.audio_encodes;
		out->total.audio_decodes += s.audio_decodes;
		out->total.inbound_dropped += s.inbound_dropped;
	}
	out->total.participants = out->participants;
	pthread_mutex_unlock(&e->lock);
	tp_server_stats(e->tp, &out->transport);
}
