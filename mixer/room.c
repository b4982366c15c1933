/*
 * A room: its participants (joins, leaves, the links from the transport's
 * peers), its inbox (media from the I/O thread, commands from HTTP
 * threads, handled in order on the room's thread), its recording, and
 * its life (created, its worker started when someone joins, stopped,
 * released). The worker's loop, what it does each 20 ms tick and how it
 * keeps time, is tick.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

/* ---- the I/O thread's side: events into the inbox ---------------------- */

static void post_media(struct mx_link *l, enum mx_msg_kind kind,
		       enum tp_sdp_kind media, int flag, const uint8_t *pkt, size_t len)
{
	struct mx_msg *m;

	if (len > MX_MSG_DATA)
		return;
	m = mx_inbox_get(&l->room->inbox);
	if (!m)
		return; /* counted as dropped */
	m->kind = kind;
	m->link = l;
	m->media = media;
	m->flag = flag;
	m->arrival_us = cm_now_us();
	m->len = len;
	memcpy(m->data, pkt, len);
	mx_inbox_push(&l->room->inbox, m);
}

static void ev_state(void *arg, struct tp_peer *p, enum tp_peer_state st)
{
	struct mx_link *l = arg;
	struct mx_msg *m = calloc(1, sizeof(*m));

	/* Rare events: a malloc'd message, so that they are never dropped. */
	if (!m) {
		cm_error("mixer", "out of memory for an event of %s", l->id);
		return;
	}
	m->link = l;
	if (st == TP_PEER_CONNECTED) {
		m->kind = MX_MSG_CONNECTED;
		m->sender = tp_peer_sender(p);
	} else {
		m->kind = MX_MSG_CLOSED;
	}
	mx_inbox_push(&l->room->inbox, m);
}

static void ev_rtp(void *arg, struct tp_peer *p, enum tp_sdp_kind kind, uint8_t *pkt,
		   size_t len, const struct tp_rtp_hdr *h)
{
	post_media(arg, MX_MSG_RTP, kind, 0, pkt, len);
}

static void ev_screen_rtp(void *arg, struct tp_peer *p, uint8_t *pkt, size_t len,
			  const struct tp_rtp_hdr *h)
{
	post_media(arg, MX_MSG_RTP, TP_SDP_VIDEO, 1, pkt, len);
}

static void ev_rtcp(void *arg, struct tp_peer *p, const uint8_t *pkt, size_t len)
{
	post_media(arg, MX_MSG_RTCP, TP_SDP_OTHER, 0, pkt, len);
}

const struct tp_peer_events mx_room_events = {
	.on_state = ev_state,
	.on_rtp = ev_rtp,
	.on_screen_rtp = ev_screen_rtp,
	.on_rtcp = ev_rtcp,
};

/* ---- participants (room thread) ---------------------------------------- */

/* The participant a command names. A command with a secret is the
 * participant acting on itself: the secret must be its own (compared in
 * constant time); a wrong one looks like no such participant. */
static struct mx_part *find_part(struct mx_room *r, const struct mx_msg *m)
{
	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_part *p = r->parts[i];
		unsigned char diff = 0;
		if (strcmp(p->id, m->id))
			continue;
		if (!m->secret[0])
			return p;
		for (size_t k = 0; k < MX_SECRET_LEN; k++)
			diff |= (unsigned char)(p->secret[k] ^ m->secret[k]);
		return diff ? NULL : p;
	}
	return NULL;
}

/* Messages may still name l: free it after the next drain. */
static void retire_link(struct mx_room *r, struct mx_link *l)
{
	l->part = NULL;
	l->retired_next = r->retired;
	r->retired = l;
}

static void free_links(struct mx_link *l)
{
	while (l) {
		struct mx_link *next = l->retired_next;
		free(l);
		l = next;
	}
}

static void add_part(struct mx_room *r, struct mx_link *l)
{
	struct mx_part *p;

	if (l->closed) {
		/* The transport dropped it before we heard of it. */
		goto gone;
	}
	p = calloc(1, sizeof(*p));
	if (!p || mx_audio_part_init(p) || mx_video_part_init(p)) {
		if (p) {
			mx_audio_part_fini(NULL, p);
			mx_video_part_fini(NULL, p);
		}
		free(p);
		tp_server_remove_peer(mx_engine_tp(r->engine), l->id);
		goto gone;
	}
	p->join_seq = r->next_join_seq++;
	p->link = l;
	memcpy(p->id, l->id, sizeof(p->id));
	memcpy(p->secret, l->secret, sizeof(p->secret));
	memcpy(p->name, l->name, sizeof(p->name));
	p->role = l->role;
	/* In a lecture, attendees join muted; presenters do not. */
	p->muted = r->cfg.mode == MX_MODE_LECTURE && p->role != MX_ROLE_PRESENTER;
	p->slot = -1;
	p->a_seq = (uint16_t)cm_random_u32();
	p->a_ts_base = cm_random_u32();
	p->a_marker = true;
	mx_rate_part_init(r, p, cm_now_us());
	l->part = p;
	r->parts[r->n_parts++] = p;
	return;
gone:
	pthread_mutex_lock(mx_engine_lock(r->engine));
	r->members--;
	pthread_mutex_unlock(mx_engine_lock(r->engine));
	retire_link(r, l);
}

/* Forgets p. The transport must be done with its link already. */
static void drop_part(struct mx_room *r, struct mx_part *p)
{
	for (size_t i = 0; i < r->n_parts; i++) {
		if (r->parts[i] == p) {
			r->parts[i] = r->parts[--r->n_parts];
			break;
		}
	}
	mx_screen_part_gone(r, p);
	mx_audio_part_fini(r->audio, p);
	mx_video_part_fini(r->video, p);
	if (r->active_speaker == p)
		r->active_speaker = NULL;
	if (r->spotlight == p)
		r->spotlight = NULL;
	tp_sender_unref(&p->sender);
	retire_link(r, p->link);
	free(p);
	pthread_mutex_lock(mx_engine_lock(r->engine));
	r->members--;
	pthread_mutex_unlock(mx_engine_lock(r->engine));
}

/* RTCP from a participant: feedback about what tutti sends it. Receiver
 * reports, REMB and TWCC feed its bandwidth estimate (the transport's,
 * on this thread, which sends its RTP); PLI, FIR and NACK go to video,
 * and so do the video packets TWCC reported lost. */
static void rtcp_input(struct mx_room *r, struct mx_part *p, const uint8_t *pkt,
		       size_t len, uint64_t now)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt pk;

	if (p->sender)
		tp_sender_feedback(p->sender, pkt, len, now);
	tp_rtcp_iter_init(&it, pkt, len);
	while (tp_rtcp_next(&it, &pk) == 0)
		if (pk.kind == TP_RTCP_K_PLI || pk.kind == TP_RTCP_K_FIR ||
		    pk.kind == TP_RTCP_K_NACK)
			mx_video_feedback(r, p, &pk, now);
	/* After its NACKs: a packet they asked for is not repaired twice. */
	mx_video_repair_lost(r, p, now);
}

/* ---- recording ------------------------------------------------------------ */

static void record_stop(struct mx_room *r, struct mx_rec_info *info)
{
	struct mx_rec_info tmp;

	mx_rec_close(&r->rec, info ? info : &tmp);
	if (!info)
		info = &tmp;
	__atomic_store_n(&r->ctr.recording, 0, __ATOMIC_RELAXED);
	r->changed = true;
	cm_info("mixer", "room %s: recording stopped: %llu ms, %llu video frames, %llu audio "
		"packets, %llu bytes%s",
		r->name, (unsigned long long)info->duration_ms,
		(unsigned long long)info->video_frames, (unsigned long long)info->audio_packets,
		(unsigned long long)info->bytes, info->ok ? "" : " (the file is not whole)");
}

static int record(struct mx_room *r, struct mx_msg *m)
{
	if (!m->flag) {
		if (!r->rec)
			return ENOENT;
		record_stop(r, m->out);
		return 0;
	}
	if (r->rec)
		return EALREADY;
	int w, h;
	mx_video_record_size(r->video, &w, &h);
	int err = mx_rec_open(&r->rec, m->out, w, h);
	if (err)
		return err;
	mx_video_record_start(r->video);
	__atomic_store_n(&r->ctr.recording, 1, __ATOMIC_RELAXED);
	r->changed = true;
	cm_info("mixer", "room %s: recording %dx%d", r->name, w, h);
	return 0;
}

/* ---- the inbox ------------------------------------------------------------ */

static void handle(struct mx_room *r, struct mx_msg *m)
{
	struct mx_part *p = m->link ? m->link->part : NULL;
	struct tp_rtp_hdr h;
	int result = 0;

	switch (m->kind) {
	case MX_MSG_ADD:
		add_part(r, m->link);
		break;
	case MX_MSG_CONNECTED:
		if (p) {
			p->sender = m->sender;
			m->sender = NULL;
			const struct tp_sdp_neg_media *a =
				tp_sender_media(p->sender, TP_SDP_AUDIO);
			p->level_ext = a ? a->ext_audio_level : 0;
			mx_video_part_connected(r, p);
			cm_info("mixer", "room %s: participant %s connected", r->name, p->id);
		}
		break;
	case MX_MSG_CLOSED:
		if (p) {
			cm_info("mixer", "room %s: participant %s disconnected", r->name,
				p->id);
			drop_part(r, p);
		} else {
			m->link->closed = true; /* ADD comes next and frees it */
		}
		break;
	case MX_MSG_RTP:
		if (!p || tp_rtp_parse(&h, m->data, m->len))
			break;
		if (m->flag)
			mx_screen_input(r, p, m->data, m->len, &h, m->arrival_us);
		else if (m->media == TP_SDP_AUDIO)
			mx_audio_input(p, m->data, m->len, &h, m->arrival_us);
		else if (m->media == TP_SDP_VIDEO)
			mx_video_input(r, p, m->data, m->len, &h, m->arrival_us);
		break;
	case MX_MSG_RTCP:
		if (p)
			rtcp_input(r, p, m->data, m->len, m->arrival_us);
		break;
	case MX_MSG_REMOVE:
		p = find_part(r, m);
		if (!p) {
			result = ENOENT;
			break;
		}
		/* After this returns the I/O thread holds no reference to
		 * p's link: a short wait on the I/O thread, never on a
		 * socket. ENOENT: the transport closed it first, and its
		 * CLOSED message, already queued, drops it. */
		if (tp_server_remove_peer(mx_engine_tp(r->engine), p->id) == 0) {
			cm_info("mixer", "room %s: participant %s left", r->name, p->id);
			drop_part(r, p);
		}
		break;
	case MX_MSG_MUTE:
		p = find_part(r, m);
		if (p)
			p->muted = m->flag;
		else
			result = ENOENT;
		break;
	case MX_MSG_SET_TIER:
		p = find_part(r, m);
		result = p ? mx_video_set_tier(r, p, m->flag) : ENOENT;
		if (!result) /* the admin's choice: the estimate no longer moves it */
			p->rate.pinned = true;
		break;
	case MX_MSG_SET_LAYOUT:
		pthread_mutex_lock(mx_engine_lock(r->engine));
		r->cfg.layout = (enum mx_layout_kind)m->flag;
		pthread_mutex_unlock(mx_engine_lock(r->engine));
		mx_room_apply_layout(r);
		break;
	case MX_MSG_SET_ROLE:
		p = find_part(r, m);
		if (p) {
			p->role = (enum mx_role)m->flag;
			/* In a lecture, being made presenter gives the floor. */
			if (p->role == MX_ROLE_PRESENTER)
				p->muted = false;
			/* No longer a presenter: a share only they may make ends. */
			mx_screen_policy(r);
		} else {
			result = ENOENT;
		}
		break;
	case MX_MSG_RECORD:
		result = record(r, m);
		break;
	case MX_MSG_CHECK:
		if (!find_part(r, m))
			result = ENOENT;
		break;
	case MX_MSG_SET_HAND:
		p = find_part(r, m);
		if (p)
			p->hand = m->flag;
		else
			result = ENOENT;
		break;
	case MX_MSG_SET_CAP:
		p = find_part(r, m);
		if (!p) {
			result = ENOENT;
			break;
		}
		p->cap = (enum mx_data_cap)m->flag;
		p->rate.pinned = false; /* its own choice; a ceiling for the estimate */
		mx_rate_apply(r, p, cm_now_us());
		break;
	case MX_MSG_SET_SCREEN:
		p = find_part(r, m);
		result = p ? mx_screen_set(r, p, m->flag, m->secret[0] != '\0') : ENOENT;
		break;
	case MX_MSG_SCREEN_POLICY:
		mx_screen_policy(r);
		break;
	case MX_MSG_SPOTLIGHT:
		p = m->id[0] ? find_part(r, m) : NULL;
		if (m->id[0] && !p)
			result = ENOENT;
		else
			r->spotlight = p;
		break;
	case MX_MSG_PARTICIPANTS:
		*m->n = 0;
		for (size_t i = 0; i < r->n_parts && *m->n < m->cap; i++)
			mx_part_info(r, r->parts[i], (struct mx_part_info *)m->out + (*m->n)++,
				     cm_now_us());
		break;
	case MX_MSG_LAYOUT:
		mx_video_layout_info(r, m->out);
		break;
	}
	/* Whatever others see of the room: roster, mute, hands, roles,
	 * layout (media messages change none of it). */
	if (m->kind != MX_MSG_RTP && m->kind != MX_MSG_RTCP && m->kind != MX_MSG_PARTICIPANTS &&
	    m->kind != MX_MSG_LAYOUT && m->kind != MX_MSG_CHECK && !result)
		r->changed = true;
	if (m->reply)
		mx_reply_done(m->reply, result);
}

void mx_room_drain(struct mx_room *r)
{
	struct mx_msg *list = mx_inbox_take(&r->inbox);

	for (struct mx_msg *m = list; m; m = m->next)
		handle(r, m);
	mx_inbox_recycle(&r->inbox, list);
	free_links(r->retired_prev);
	r->retired_prev = r->retired;
	r->retired = NULL;
}

/* The audio packets of participants already in the room, handled now,
 * ahead of the rest: so that a tick's audio waits neither for the
 * feedback of a thousand receivers nor for a video tick. The scan stops at
 * the first command or membership change (a join, DTLS done, a leave, a
 * mute...): what follows it may depend on it. Everything not handled goes
 * back to the head of the inbox, in order, for the next drain. */
void mx_room_drain_audio(struct mx_room *r)
{
	struct mx_msg *m = mx_inbox_take(&r->inbox), *next;
	struct mx_msg *keep = NULL, *keep_last = NULL, *done = NULL;
	bool scan = true;

	for (; m; m = next) {
		next = m->next;
		m->next = NULL;
		if (m->kind != MX_MSG_RTP && m->kind != MX_MSG_RTCP)
			scan = false;
		if (scan && m->kind == MX_MSG_RTP && !m->flag && m->media == TP_SDP_AUDIO &&
		    m->link && m->link->part) {
			handle(r, m);
			m->next = done;
			done = m;
			continue;
		}
		if (keep_last)
			keep_last->next = m;
		else
			keep = m;
		keep_last = m;
	}
	mx_inbox_recycle(&r->inbox, done);
	if (keep)
		mx_inbox_unshift(&r->inbox, keep, keep_last);
}

/* True when the thread may end: nobody in the room, nothing coming. */
bool mx_room_may_end(struct mx_room *r)
{
	bool end;

	pthread_mutex_lock(mx_engine_lock(r->engine));
	end = r->stop || (r->n_parts == 0 && r->members == 0 &&
			  mx_inbox_empty(&r->inbox));
	if (end)
		r->running = false;
	pthread_mutex_unlock(mx_engine_lock(r->engine));
	return end;
}

/* The worker's last act: the recording closed; and when it stops with
 * people inside (a server shutdown), each peer removed, which sends it a
 * BYE. */
void mx_room_wind_up(struct mx_room *r)
{
	if (r->rec)
		record_stop(r, NULL);
	while (r->n_parts) {
		struct mx_part *p = r->parts[r->n_parts - 1];
		tp_server_remove_peer(mx_engine_tp(r->engine), p->id);
		drop_part(r, p);
	}
}

int mx_room_retier(struct mx_room *r, const struct mx_room_cfg *cfg)
{
	struct mx_room_cfg sized = r->cfg;
	struct mx_video *v;
	int err;

	sized.n_tiers = cfg->n_tiers;
	memcpy(sized.tiers, cfg->tiers, sizeof(sized.tiers));
	sized.max_participants = (unsigned)r->capacity;
	err = mx_video_new(&v, &sized);
	if (err)
		return err;
	mx_video_free(&r->video);
	r->video = v;
	r->cfg.n_tiers = cfg->n_tiers;
	memcpy(r->cfg.tiers, cfg->tiers, sizeof(r->cfg.tiers));
	return 0;
}

void mx_room_apply_layout(struct mx_room *r)
{
	mx_video_set_layout(r->video, r->cfg.layout);
}

int mx_room_ensure_running(struct mx_room *r)
{
	int err;

	if (r->running)
		return 0;
	if (r->joinable) {
		/* The last worker decided to end; it holds no lock now. */
		pthread_join(r->thread, NULL);
		r->joinable = false;
	}
	err = pthread_create(&r->thread, NULL, mx_room_main, r);
	if (err)
		return err;
	r->running = true;
	r->joinable = true;
	return 0;
}

int mx_room_create(struct mx_room **out, struct mx_engine *e, const char *name,
		   const struct mx_room_cfg *cfg)
{
	struct mx_room *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return ENOMEM;
	r->engine = e;
	strcpy(r->name, name);
	r->cfg = *cfg;
	/* A room may grow up to 4 times its size at creation (PATCH), within
	 * the 10000 a room can have. */
	r->capacity = CM_MIN(10000u, cfg->max_participants * 4u);
	r->parts = calloc(r->capacity, sizeof(*r->parts));
	err = r->parts ? 0 : ENOMEM;
	if (!err)
		err = mx_inbox_init(&r->inbox, MX_INBOX_POOL);
	if (!err)
		err = mx_fanout_init(r);
	struct mx_room_cfg sized = *cfg;
	sized.max_participants = (unsigned)r->capacity;
	if (!err)
		err = mx_audio_new(&r->audio, &sized);
	if (!err)
		err = mx_video_new(&r->video, &sized);
	if (err) {
		mx_room_destroy(&r);
		return err;
	}
	*out = r;
	return 0;
}

/* Stops the worker, which sends everyone a BYE, and settles what was
 * never read: the links of joins never added are freed here; every other
 * link is on a retired list. The engine's lock is not held. */
static void stop(struct mx_room *r)
{
	pthread_mutex_t *lock = mx_engine_lock(r->engine);
	bool join;

	pthread_mutex_lock(lock);
	r->stop = true;
	join = r->joinable;
	r->joinable = false;
	pthread_mutex_unlock(lock);
	if (join)
		pthread_join(r->thread, NULL);
	if (!r->inbox.pool)
		return;
	for (struct mx_msg *m = mx_inbox_take(&r->inbox), *next; m; m = next) {
		next = m->next;
		m->next = NULL;
		if (m->kind == MX_MSG_ADD) {
			tp_server_remove_peer(mx_engine_tp(r->engine), m->link->id);
			free(m->link);
			pthread_mutex_lock(lock);
			r->members--;
			pthread_mutex_unlock(lock);
		}
		if (m->reply)
			mx_reply_done(m->reply, ENOENT);
		mx_inbox_recycle(&r->inbox, m);
	}
}

/* The room's media state: inbox, mixers, canvases, encoders. */
static void release(struct mx_room *r)
{
	free_links(r->retired_prev);
	free_links(r->retired);
	r->retired_prev = r->retired = NULL;
	if (r->inbox.pool)
		mx_inbox_destroy(&r->inbox);
	mx_audio_free(&r->audio);
	mx_video_free(&r->video);
	mx_fanout_fini(r);
}

void mx_room_end(struct mx_room *r)
{
	bool idle;

	stop(r);
	/* A join under way (members > 0) may still have the I/O thread
	 * post to the inbox until it backs out: then the engine frees the
	 * rest when it goes. */
	pthread_mutex_lock(mx_engine_lock(r->engine));
	idle = r->members == 0;
	pthread_mutex_unlock(mx_engine_lock(r->engine));
	if (idle)
		release(r);
}

/* The engine is closing (its lock is not held): stop, then free. */
void mx_room_destroy(struct mx_room **pr)
{
	struct mx_room *r = pr ? *pr : NULL;

	if (!r)
		return;
	stop(r);
	release(r);
	free(r->parts);
	free(r);
	*pr = NULL;
}
