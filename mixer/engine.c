/*
 * The engine: the list of rooms, and the calls of other threads (HTTP)
 * into them. One mutex guards the list, each room's membership count and
 * whether its thread runs; everything else a room holds belongs to its
 * thread, which these calls reach through the room's inbox.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "mixer/internal.h"

struct mx_engine {
	struct tp_server *tp;
	struct cm_pool *send_pool; /* shared by the rooms (fanout.c) */
	pthread_mutex_t lock;
	struct mx_room *rooms; /* newest first */
	struct mx_room *ended; /* removed rooms, kept until the engine goes */
	bool closing;
	/* Room versions, and the threads waiting for them to move. */
	pthread_mutex_t change_lock;
	pthread_cond_t change_cond;
};

struct tp_server *mx_engine_tp(struct mx_engine *e)
{
	return e->tp;
}

struct cm_pool *mx_engine_send_pool(struct mx_engine *e)
{
	return e->send_pool;
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
	static const struct mx_tier_cfg tiers[MX_VIDEO_TIERS] = {
		{ 320, 180, 150 },
		{ 640, 360, 500 },
		{ 1280, 720, 1500 },
	};

	memset(c, 0, sizeof(*c));
	c->mode = MX_MODE_MEETING;
	c->max_participants = 100;
	c->speakers = 3;
	c->layout = MX_LAYOUT_GRID;
	c->max_tiles = MX_MAX_TILES;
	c->fps = 15;
	c->n_tiers = MX_VIDEO_TIERS;
	memcpy(c->tiers, tiers, sizeof(tiers));
}

int mx_room_cfg_check(const struct mx_room_cfg *c, const char **why)
{
	const char *w = NULL;

	if (c->max_participants < 1 || c->max_participants > 10000)
		w = "max_participants: 1 to 10000";
	else if (c->speakers < 1 || c->speakers > MX_MAX_SPEAKERS)
		w = "speakers: 1 to 8";
	else if (c->layout > MX_LAYOUT_PRESENTER)
		w = "layout: grid, speaker or presenter";
	else if (c->max_tiles < 1 || c->max_tiles > MX_MAX_TILES)
		w = "max_tiles: 1 to 25";
	else if (c->screen_share > MX_SCREEN_OFF)
		w = "screen_share: presenters, everyone or off";
	else if (c->fps < 1 || c->fps > 30)
		w = "fps: 1 to 30";
	else if (c->n_tiers < 1 || c->n_tiers > MX_VIDEO_TIERS)
		w = "tiers: 1 to 3";
	for (unsigned i = 0; !w && i < c->n_tiers; i++) {
		const struct mx_tier_cfg *t = &c->tiers[i];
		if (t->width < 16 || t->width > 1920 || t->height < 16 || t->height > 1080 ||
		    (t->width & 1) || (t->height & 1))
			w = "tier size: even, 16x16 to 1920x1080";
		else if (t->kbps < 30 || t->kbps > 8000)
			w = "tier bitrate: 30 to 8000 kbit/s";
		else if (i && t->width * t->height < c->tiers[i - 1].width * c->tiers[i - 1].height)
			w = "tiers go from the smallest to the largest";
	}
	if (why)
		*why = w;
	return w ? EINVAL : 0;
}

int mx_engine_new(struct mx_engine **out, struct tp_server *tp, unsigned send_threads)
{
	struct mx_engine *e;
	int err;

	if (!out || !tp)
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	/* One pool for all rooms: its threads help whichever room ends a
	 * tick, and a machine's cores are not split up front. */
	if (send_threads) {
		err = cm_pool_new(&e->send_pool, send_threads, true);
		if (err) {
			free(e);
			return err;
		}
	}
	e->tp = tp;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->change_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->change_cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = e;
	return 0;
}

void mx_engine_free(struct mx_engine **pe)
{
	struct mx_engine *e = pe ? *pe : NULL;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	__atomic_store_n(&e->closing, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_lock(&e->change_lock);
	pthread_cond_broadcast(&e->change_cond);
	pthread_mutex_unlock(&e->change_lock);
	while (e->rooms) {
		struct mx_room *r = e->rooms;
		e->rooms = r->next;
		mx_room_destroy(&r);
	}
	while (e->ended) {
		struct mx_room *r = e->ended;
		e->ended = r->next;
		mx_room_destroy(&r);
	}
	cm_pool_free(&e->send_pool); /* no room thread runs a job now */
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->change_lock);
	pthread_cond_destroy(&e->change_cond);
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

	if (!mx_room_name_valid(name) || !cfg || mx_room_cfg_check(cfg, NULL))
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

/* Posts a command to a room's thread and waits for the answer. A room
 * without members has no thread: offline() answers for it, under the
 * engine lock. Returns ENOENT for no such room. */
static int command(struct mx_engine *e, const char *room, struct mx_msg *tmpl,
		   int (*offline)(struct mx_room *r, struct mx_msg *m))
{
	struct mx_reply reply;
	struct mx_msg *m;
	struct mx_room *r;
	bool posted = false;
	int err;

	m = malloc(sizeof(*m));
	if (!m)
		return ENOMEM;
	*m = *tmpl;
	m->next = NULL;
	m->reply = &reply;
	mx_reply_init(&reply);
	pthread_mutex_lock(&e->lock);
	r = find_room(e, room);
	if (!r)
		err = ENOENT;
	else if (!r->members)
		err = offline ? offline(r, m) : ENOENT;
	else if (!(err = mx_room_ensure_running(r))) {
		mx_inbox_push(&r->inbox, m);
		posted = true;
	}
	pthread_mutex_unlock(&e->lock);
	/* Once posted, m belongs to the room thread: nothing here may look
	 * at the room again without the lock. */
	if (posted)
		err = mx_reply_wait(&reply);
	else
		free(m);
	mx_reply_destroy(&reply);
	return err;
}

/* secret: the participant's own (it acts on itself), or NULL (an admin or
 * presenter, already checked). */
static int part_command(struct mx_engine *e, const char *room, enum mx_msg_kind kind,
			const char *id, const char *secret, int flag)
{
	struct mx_msg m = { .kind = kind, .flag = flag };

	if (strlen(id) != TP_PEER_ID_LEN)
		return ENOENT;
	if (secret && (!*secret || strlen(secret) > MX_SECRET_LEN))
		return ENOENT;
	memcpy(m.id, id, sizeof(m.id));
	if (secret)
		strcpy(m.secret, secret);
	return command(e, room, &m, NULL);
}

int mx_join(struct mx_engine *e, const char *room, enum mx_role role, const char *name,
	    const char *offer, size_t len, char **answer,
	    char id[TP_PEER_ID_LEN + 1], char secret[MX_SECRET_LEN + 1], char *err,
	    size_t errlen)
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
	else if (r->cfg.locked)
		rc = EACCES;
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
	cm_random_token(link->secret, MX_SECRET_LEN);
	snprintf(link->name, sizeof(link->name), "%s", name ? name : "");
	rc = tp_server_add_peer(e->tp, offer, len, &mx_room_events, link, answer,
				link->id, err, errlen);
	pthread_mutex_lock(&e->lock);
	if (!rc && r->deleted)
		rc = ENOENT; /* the room ended meanwhile */
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
	memcpy(secret, link->secret, sizeof(link->secret));
	cm_info("mixer", "room %s: participant %s joined", room, link->id);
	return 0;
fail:
	free(link);
	free(m);
	return rc;
}

int mx_room_remove(struct mx_engine *e, const char *name)
{
	struct mx_room **pp, *r = NULL;

	pthread_mutex_lock(&e->lock);
	for (pp = &e->rooms; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			r = *pp;
			*pp = r->next;
			__atomic_store_n(&r->deleted, true, __ATOMIC_RELAXED);
			r->next = e->ended;
			e->ended = r;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (!r)
		return ENOENT;
	/* Its worker sends everyone a BYE and ends; joins that were under
	 * way see `deleted` and back out; event streams hear of it. */
	mx_room_end(r);
	mx_engine_publish(e, r);
	cm_info("mixer", "room %s ended", name);
	return 0;
}

void mx_engine_publish(struct mx_engine *e, struct mx_room *r)
{
	pthread_mutex_lock(&e->change_lock);
	r->version++;
	pthread_cond_broadcast(&e->change_cond);
	pthread_mutex_unlock(&e->change_lock);
}

int mx_room_wait_change(struct mx_engine *e, const char *room, uint64_t seen,
			int timeout_ms, uint64_t *version)
{
	struct timespec until;
	struct mx_room *r;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* Rooms are never freed while the engine lives (ended ones are
	 * kept), so r stays valid; `deleted` says it ended. */
	pthread_mutex_lock(&e->lock);
	r = find_room(e, room);
	pthread_mutex_unlock(&e->lock);
	if (!r)
		return ENOENT;
	pthread_mutex_lock(&e->change_lock);
	while (r->version == seen && !__atomic_load_n(&r->deleted, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&e->closing, __ATOMIC_RELAXED))
		if (pthread_cond_timedwait(&e->change_cond, &e->change_lock, &until) == ETIMEDOUT)
			break;
	*version = r->version;
	if (__atomic_load_n(&r->deleted, __ATOMIC_RELAXED))
		err = ENOENT;
	pthread_mutex_unlock(&e->change_lock);
	return err;
}

static int nothing_offline(struct mx_room *r, struct mx_msg *m)
{
	(void)r;
	(void)m;
	return 0;
}

int mx_room_get_cfg(struct mx_engine *e, const char *name, struct mx_room_cfg *out)
{
	struct mx_room *r;

	pthread_mutex_lock(&e->lock);
	r = find_room(e, name);
	if (r)
		*out = r->cfg;
	pthread_mutex_unlock(&e->lock);
	return r ? 0 : ENOENT;
}

int mx_room_reconfigure(struct mx_engine *e, const char *name,
			const struct mx_room_cfg *cfg, const char **why)
{
	struct mx_room *r;
	int err = 0;

	*why = NULL;
	if (mx_room_cfg_check(cfg, why))
		return EINVAL;
	pthread_mutex_lock(&e->lock);
	r = find_room(e, name);
	if (!r) {
		err = ENOENT;
	} else if (cfg->mode != r->cfg.mode || cfg->speakers != r->cfg.speakers ||
		   cfg->max_tiles != r->cfg.max_tiles || cfg->fps != r->cfg.fps) {
		*why = "mode, speakers, max_tiles and fps are fixed when a room is made";
		err = EINVAL;
	} else if ((cfg->n_tiers != r->cfg.n_tiers ||
		    memcmp(cfg->tiers, r->cfg.tiers, sizeof(cfg->tiers))) &&
		   (r->members || r->running)) {
		*why = "tiers can change while the room is empty";
		err = EINVAL;
	} else if (cfg->max_participants > r->cfg.max_participants &&
		   cfg->max_participants > r->capacity) {
		*why = "max_participants can grow up to what the room was made for";
		err = EINVAL;
	} else if (cfg->max_participants < r->members) {
		*why = "max_participants is below the number of participants in the room";
		err = EINVAL;
	} else if ((cfg->n_tiers != r->cfg.n_tiers ||
		    memcmp(cfg->tiers, r->cfg.tiers, sizeof(cfg->tiers))) &&
		   (err = mx_room_retier(r, cfg))) {
		*why = "out of memory for the new tiers";
	} else {
		r->cfg.max_participants = cfg->max_participants;
		r->cfg.locked = cfg->locked;
		r->cfg.open = cfg->open;
		r->cfg.screen_share = cfg->screen_share;
	}
	pthread_mutex_unlock(&e->lock);
	/* A share the new setting does not allow ends now. */
	if (!err) {
		struct mx_msg m = { .kind = MX_MSG_SCREEN_POLICY };
		command(e, name, &m, nothing_offline);
	}
	return err;
}

size_t mx_room_names(struct mx_engine *e, char (*names)[MX_ROOM_NAME_MAX + 1], size_t cap)
{
	size_t n = 0, i;
	struct mx_room *r;

	pthread_mutex_lock(&e->lock);
	for (r = e->rooms; r; r = r->next)
		n++;
	/* The list is newest first: fill from the end. */
	i = n;
	for (r = e->rooms; r; r = r->next) {
		i--;
		if (i < cap)
			strcpy(names[i], r->name);
	}
	pthread_mutex_unlock(&e->lock);
	return n;
}

int mx_set_role(struct mx_engine *e, const char *room, const char *id, enum mx_role role)
{
	if (role > MX_ROLE_ATTENDEE)
		return EINVAL;
	return part_command(e, room, MX_MSG_SET_ROLE, id, NULL, (int)role);
}

int mx_spotlight(struct mx_engine *e, const char *room, const char *id)
{
	struct mx_msg m = { .kind = MX_MSG_SPOTLIGHT };

	if (id) {
		if (strlen(id) != TP_PEER_ID_LEN)
			return ENOENT;
		memcpy(m.id, id, sizeof(m.id));
	}
	return command(e, room, &m, NULL);
}

int mx_set_hand(struct mx_engine *e, const char *room, const char *id, const char *secret,
		bool raised)
{
	return part_command(e, room, MX_MSG_SET_HAND, id, secret, raised);
}

int mx_set_screen(struct mx_engine *e, const char *room, const char *id, const char *secret,
		  bool on)
{
	return part_command(e, room, MX_MSG_SET_SCREEN, id, secret, on);
}

static const char *const screen_names[] = {
	[MX_SCREEN_PRESENTERS] = "presenters",
	[MX_SCREEN_EVERYONE] = "everyone",
	[MX_SCREEN_OFF] = "off",
};

const char *mx_screen_share_name(enum mx_screen_share s)
{
	return (unsigned)s < CM_ARRAY_SIZE(screen_names) ? screen_names[s] : "presenters";
}

int mx_screen_share_parse(const char *name, enum mx_screen_share *out)
{
	for (size_t i = 0; name && i < CM_ARRAY_SIZE(screen_names); i++)
		if (!strcmp(name, screen_names[i])) {
			*out = (enum mx_screen_share)i;
			return 0;
		}
	return EINVAL;
}

int mx_set_data_cap(struct mx_engine *e, const char *room, const char *id,
		    const char *secret, enum mx_data_cap cap)
{
	if (cap > MX_CAP_AUDIO_ONLY)
		return EINVAL;
	return part_command(e, room, MX_MSG_SET_CAP, id, secret, (int)cap);
}

static int nobody_to_record(struct mx_room *r, struct mx_msg *m)
{
	(void)r;
	return m->flag ? EAGAIN : ENOENT;
}

int mx_record_start(struct mx_engine *e, const char *room, const char *path)
{
	struct mx_msg m = { .kind = MX_MSG_RECORD, .flag = 1, .out = (void *)path };

	return command(e, room, &m, nobody_to_record);
}

int mx_record_stop(struct mx_engine *e, const char *room, struct mx_rec_info *info)
{
	struct mx_msg m = { .kind = MX_MSG_RECORD, .flag = 0, .out = info };

	return command(e, room, &m, nobody_to_record);
}

bool mx_participant_secret_ok(struct mx_engine *e, const char *room, const char *id,
			      const char *secret)
{
	return secret && *secret && part_command(e, room, MX_MSG_CHECK, id, secret, 0) == 0;
}

int mx_leave(struct mx_engine *e, const char *room, const char *id, const char *secret)
{
	return part_command(e, room, MX_MSG_REMOVE, id, secret, 0);
}

int mx_mute(struct mx_engine *e, const char *room, const char *id, bool muted)
{
	return part_command(e, room, MX_MSG_MUTE, id, NULL, muted);
}

int mx_set_tier(struct mx_engine *e, const char *room, const char *id, int tier)
{
	if (tier < 0 || tier >= MX_VIDEO_TIERS)
		return EINVAL;
	return part_command(e, room, MX_MSG_SET_TIER, id, NULL, tier);
}

static int layout_offline(struct mx_room *r, struct mx_msg *m)
{
	if (m->kind == MX_MSG_SET_LAYOUT) {
		r->cfg.layout = (enum mx_layout_kind)m->flag;
		mx_room_apply_layout(r);
	} else if (m->kind == MX_MSG_PARTICIPANTS) {
		*m->n = 0;
	} else if (m->kind == MX_MSG_LAYOUT) {
		struct mx_layout_info *li = m->out;
		memset(li, 0, sizeof(*li));
		li->kind = r->cfg.layout;
		li->width = r->cfg.tiers[r->cfg.n_tiers - 1].width;
		li->height = r->cfg.tiers[r->cfg.n_tiers - 1].height;
	}
	return 0;
}

int mx_set_layout(struct mx_engine *e, const char *room, enum mx_layout_kind kind)
{
	struct mx_msg m = { .kind = MX_MSG_SET_LAYOUT, .flag = (int)kind };

	if (kind > MX_LAYOUT_PRESENTER)
		return EINVAL;
	return command(e, room, &m, layout_offline);
}

int mx_room_participants(struct mx_engine *e, const char *room,
			 struct mx_part_info *out, size_t cap, size_t *n)
{
	struct mx_msg m = { .kind = MX_MSG_PARTICIPANTS, .out = out, .cap = cap, .n = n };

	return command(e, room, &m, layout_offline);
}

int mx_room_layout(struct mx_engine *e, const char *room, struct mx_layout_info *out)
{
	struct mx_msg m = { .kind = MX_MSG_LAYOUT, .out = out };

	return command(e, room, &m, layout_offline);
}

static void read_counters(struct mx_room *r, struct mx_room_stats *s)
{
	const uint64_t *from = (const uint64_t *)&r->ctr;
	uint64_t *to = (uint64_t *)s;

	for (size_t i = 0; i < MX_STATS_WORDS; i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	s->participants = r->members;
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

bool mx_engine_overloaded(struct mx_engine *e)
{
	bool over = false;

	pthread_mutex_lock(&e->lock);
	for (struct mx_room *r = e->rooms; r && !over; r = r->next)
		over = r->running && __atomic_load_n(&r->ctr.overloaded, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&e->lock);
	return over;
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
		uint64_t late = CM_MAX(out->total.tick_late_max_us, s.tick_late_max_us);
		for (size_t i = 0; i < MX_STATS_WORDS; i++)
			((uint64_t *)&out->total)[i] += ((const uint64_t *)&s)[i];
		out->total.tick_late_max_us = late;
	}
	out->total.participants = out->participants;
	pthread_mutex_unlock(&e->lock);
	tp_server_stats(e->tp, &out->transport);
}
