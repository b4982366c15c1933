/*
 * A room's worker thread: wakes every 20 ms on an absolute deadline
 * (clock_nanosleep, TIMER_ABSTIME), handles the audio packets in its
 * inbox, runs the audio tick and sends the audio at once, then reads the
 * rest of its inbox in order (media from the I/O thread, commands from
 * HTTP threads) and, at the room's frame rate, runs the video tick, and
 * sends what it made in sendmmsg batches (in a large room that sending is
 * split with the engine's send threads, fanout.c). A tick whose video
 * runs past the next deadline makes the next tick's audio before its own
 * sending. It never
 * blocks on I/O; each tick that ends after the next deadline is counted,
 * and each whose audio was sent after it.
 * It exists only while the room has members.
 *
 * Overload: audio never skips. A tick that starts late (the worker is
 * catching up) does the audio and leaves the video frame for later; and
 * when, over a second, the worker's own work takes most of the tick time
 * (60 %), or ticks run late while it takes a good part of it (25 %), the
 * video frame rate is lowered a step (at most one step a second; back up a
 * step after 5 calm seconds). A worker whose own
 * work fills 90 % of its time is overloaded: joins get 503 (see
 * mx_engine_overloaded). "Its own work" is the room thread's CPU time,
 * except that a fan-out split over the send threads counts as the share
 * each worker would have of it, balanced (fanout.c): the time the tick
 * needs on its path to the deadline, whoever's CPU it is; the room
 * thread's CPU alone would hide the sending the pool does for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "mixer/internal.h"

#define MX_CATCH_UP_TICKS 10 /* further behind than this: start again from now */
#define WIN_TICKS         50 /* overload figures are taken over a second */
#define LATE_STEP_DOWN    5   /* late ticks in a second that lower the frame rate */
#define LOAD_LATE_MATTERS 250 /* ... when the worker's own load is at least this */
#define LOAD_STEP_DOWN    600 /* per mille of the tick time: lower the frame rate */
#define LOAD_STEP_UP      400 /* ... below this (and no late tick): raise it */
#define LOAD_OVERLOADED   900 /* per mille: new joins are refused */
#define FPS_DIV_MAX       5   /* 15 fps down to 3 */
#define STEP_DOWN_GAP_US  1000000
#define STEP_UP_GAP_US    5000000
#define FUTILE_BACKOFF_US 10000000 /* a step down that did not help: late ticks alone lower no more */

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

static void drain(struct mx_room *r)
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
static void drain_audio(struct mx_room *r)
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

/* ---- the thread ------------------------------------------------------------ */

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* True when the thread may end: nobody in the room, nothing coming. */
static bool may_end(struct mx_room *r)
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

static uint64_t thread_cpu_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Fault injection (TUTTI_TEST_TICK_BURN="room:us[/n],..."): the room's
 * worker burns us of CPU in its tick (every n-th tick; every tick without
 * /n), after the audio left and the video was made, as a heavy frame
 * would. */
struct tick_burn {
	uint64_t us;
	unsigned every;
};

static struct tick_burn test_burn(const char *room)
{
	const char *v = getenv("TUTTI_TEST_TICK_BURN");
	size_t n = strlen(room);
	struct tick_burn b = { 0, 1 };

	for (const char *p = v; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, room, n) || p[n] != ':')
			continue;
		char *end;
		b.us = strtoull(p + n + 1, &end, 10);
		if (*end == '/')
			b.every = (unsigned)CM_MAX(1ul, strtoul(end + 1, NULL, 10));
		break;
	}
	return b;
}

static void tick_burn(const struct mx_room *r, const struct tick_burn *b, uint64_t cpu0)
{
	if (!b->us || r->tick % b->every)
		return;
	while (thread_cpu_us() - cpu0 < b->us)
		;
}

static void overload_control(struct mx_room *r, bool late, uint64_t cpu_us, uint64_t now)
{
	unsigned div = r->fps_div;
	uint64_t load;

	r->win_ticks++;
	r->win_late += late;
	r->win_cpu_us += cpu_us;
	if (r->win_ticks < WIN_TICKS)
		return;
	load = r->win_cpu_us * 1000 / ((uint64_t)r->win_ticks * MX_TICK_US);
	bool undo = false;
	if (r->fps_judge) {
		/* The second after a step down for late ticks: if they did not
		 * fall by a quarter, they were not the video's doing (a
		 * machine busy with other processes, the handshakes of many
		 * joins): the step is taken back, and late ticks alone lower
		 * the rate no more for a while. Without this, a loaded
		 * machine held a lecture of 1000 at 3 fps for good. */
		r->fps_judge = false;
		undo = load < LOAD_STEP_DOWN && r->win_late * 4 > r->fps_late_before * 3;
	}
	/* Late ticks lower the frame rate only when the worker's own work
	 * is a good part of the tick: on a machine busy with other things,
	 * less video would not bring the deadlines back. */
	bool late_down = r->win_late >= LATE_STEP_DOWN && load >= LOAD_LATE_MATTERS &&
			 now >= r->fps_futile_until_us;
	if (undo) {
		div--;
		r->fps_futile_until_us = now + FUTILE_BACKOFF_US;
		cm_info("mixer", "room %s: video back at %.1f fps: the step down did not lower "
			"the late ticks (%u, then %u)", r->name, (double)r->cfg.fps / div,
			r->fps_late_before, r->win_late);
	} else if ((late_down || load >= LOAD_STEP_DOWN) && div < FPS_DIV_MAX &&
		   now - r->fps_changed_us >= STEP_DOWN_GAP_US) {
		div++;
		r->fps_judge = load < LOAD_STEP_DOWN;
		r->fps_late_before = r->win_late;
	} else if (!r->win_late && load < LOAD_STEP_UP && div > 1 &&
		   now - r->fps_changed_us >= STEP_UP_GAP_US) {
		div--;
	}
	if (div != r->fps_div) {
		if (!undo)
			cm_info("mixer", "room %s: video at %.1f fps (%u late ticks, worker "
				"load %llu%%)", r->name, (double)r->cfg.fps / div, r->win_late,
				(unsigned long long)load / 10);
		r->fps_div = div;
		r->fps_changed_us = now;
		mx_video_set_fps_div(r->video, div);
	}
	__atomic_store_n(&r->ctr.load_permille, load, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.video_fps_now, r->cfg.fps / div, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.overloaded, load >= LOAD_OVERLOADED, __ATOMIC_RELAXED);
	r->win_ticks = r->win_late = 0;
	r->win_cpu_us = 0;
}

/* Where a tick's time went (µs on the clock): how late it started, then
 * each step. Logged at debug level when a tick's audio missed its
 * deadline, with the tick before it (usually the cause). */
enum { PH_DRAIN_AUDIO, PH_AUDIO, PH_AUDIO_SEND, PH_DRAIN, PH_VIDEO, PH_NEXT_AUDIO, PH_SEND, PH_N };

struct tick_times {
	int64_t start_late;
	uint64_t at, ph[PH_N];
};

static void phase(struct tick_times *t, int ph)
{
	uint64_t now = cm_now_us();

	t->ph[ph] = now - t->at;
	t->at = now;
}

static int tick_times_str(char *buf, size_t cap, const struct tick_times *t)
{
	return snprintf(buf, cap,
			"started %+.1f ms, its audio packets %.1f, audio %.1f, its sending %.1f, "
			"drain %.1f, video %.1f, the next tick's audio %.1f, sending %.1f",
			(double)t->start_late / 1000, (double)t->ph[PH_DRAIN_AUDIO] / 1000,
			(double)t->ph[PH_AUDIO] / 1000, (double)t->ph[PH_AUDIO_SEND] / 1000,
			(double)t->ph[PH_DRAIN] / 1000, (double)t->ph[PH_VIDEO] / 1000,
			(double)t->ph[PH_NEXT_AUDIO] / 1000, (double)t->ph[PH_SEND] / 1000);
}

static void log_audio_late(const struct mx_room *r, const struct tick_times *t,
			   const struct tick_times *prev)
{
	char a[256], b[256];

	if (cm_log_get_level() < CM_LOG_DEBUG)
		return;
	tick_times_str(a, sizeof(a), t);
	tick_times_str(b, sizeof(b), prev);
	cm_log(CM_LOG_DEBUG, "mixer", "room %s: audio late: %s (the tick before: %s)", r->name, a, b);
}

/* The audio of the tick at `tick`, sent at tt->at: late when that was
 * past the next tick's deadline (counted). */
static bool audio_judged_late(struct mx_room *r, uint64_t tick, const struct tick_times *tt)
{
	bool late = tt->at > tick + MX_TICK_US;

	if (late)
		__atomic_add_fetch(&r->ctr.missed_audio_deadlines, 1, __ATOMIC_RELAXED);
	return late;
}

/* A tick's audio: mixed, encoded and sent (mx_fanout_audio). Returns the
 * overload control's adjustment for the sending. */
static int64_t audio_out(struct mx_room *r, uint64_t now, struct tick_times *tt)
{
	int64_t adjust;

	drain_audio(r);
	phase(tt, PH_DRAIN_AUDIO);
	mx_audio_tick(r, now);
	phase(tt, PH_AUDIO);
	adjust = mx_fanout_audio(r);
	phase(tt, PH_AUDIO_SEND);
	return adjust;
}

/* The next tick's audio, made now, and sent at once from this thread (in
 * a split room the video's packets kept so far stay kept for the pace):
 * it waits neither for the video's fan-out nor for the next drain. */
static void audio_ahead(struct mx_room *r, uint64_t at, struct tick_times *tt)
{
	bool keeping = tp_batch_keeping(r->batch, false);

	drain_audio(r);
	mx_audio_tick(r, at);
	tp_batch_flush(r->batch);
	tp_batch_keeping(r->batch, keeping);
	phase(tt, PH_NEXT_AUDIO);
}

static void *room_main(void *arg)
{
	struct mx_room *r = arg;
	struct timespec deadline, now_ts;

	char tname[16];

	snprintf(tname, sizeof(tname), "room-%.10s", r->name);
	pthread_setname_np(pthread_self(), tname);
	cm_thread_media_priority();
	cm_info("mixer", "room %s: worker started", r->name);
	const struct tick_burn burn = test_burn(r->name);
	r->fps_div = 1;
	__atomic_store_n(&r->ctr.video_fps_now, r->cfg.fps, __ATOMIC_RELAXED);
	struct tick_times tt = { 0 }, tt_prev = { 0 };
	uint64_t ahead = 0; /* the tick whose audio was made ahead */
	bool ahead_late = false; /* ... after its deadline */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	for (;;) {
		uint64_t now, cpu0;
		struct timespec late_at;

		add_ns(&deadline, MX_TICK_US * 1000L);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
			;
		/* The tick's own time, not the clock: when late ticks run
		 * back to back to catch up, each still stands for its 20 ms
		 * (jitter buffers play out by it). */
		now = (uint64_t)deadline.tv_sec * 1000000u + (uint64_t)deadline.tv_nsec / 1000u;
		cpu0 = thread_cpu_us();
		/* Starting after the next tick's deadline: catching up. */
		clock_gettime(CLOCK_MONOTONIC, &now_ts);
		if (ts_after(&now_ts, &deadline)) {
			uint64_t late = (uint64_t)((now_ts.tv_sec - deadline.tv_sec) * 1000000L +
						   (now_ts.tv_nsec - deadline.tv_nsec) / 1000);
			if (late > r->ctr.tick_late_max_us)
				__atomic_store_n(&r->ctr.tick_late_max_us, late, __ATOMIC_RELAXED);
		}
		late_at = deadline;
		add_ns(&late_at, MX_TICK_US * 1000L);
		bool behind = ts_after(&now_ts, &late_at);
		tt_prev = tt;
		tt.at = cm_now_us();
		tt.start_late = (int64_t)(tt.at - now);
		mx_fanout_begin(r);
		/* The audio first: its packets, the mix, and its sending, before
		 * the rest of the inbox (feedback, commands) and the video. Its
		 * deadline is the next tick's. Made already when the tick before
		 * ran into this one's deadline (below). */
		int64_t cpu_adjust = 0;
		bool audio_late = ahead_late;
		if (ahead != now) {
			cpu_adjust = audio_out(r, now, &tt);
			audio_late = audio_judged_late(r, now, &tt);
		} else {
			tt.ph[PH_DRAIN_AUDIO] = tt.ph[PH_AUDIO] = tt.ph[PH_AUDIO_SEND] = 0;
		}
		ahead_late = false;
		drain(r);
		mx_rate_tick(r, cm_now_us()); /* the clock: feedback carries it */
		phase(&tt, PH_DRAIN);
		mx_screen_tick(r, now);
		if (!behind)
			mx_video_tick(r, now);
		else
			__atomic_add_fetch(&r->ctr.video_skipped_ticks, 1, __ATOMIC_RELAXED);
		tick_burn(r, &burn, cpu0);
		phase(&tt, PH_VIDEO);
		/* A video tick that ran past the next tick's deadline (a 720p
		 * frame's decode and a tier's encode take 15-25 ms on this
		 * machine) would make that tick's audio wait for this one's
		 * fan-out and the next drain: the next tick's audio is made and
		 * sent now instead. Only once that deadline has passed, never
		 * before its time: made up to 3 ms early, two of six lecture
		 * runs had an audio delay p95 of 650 ms, none of three since
		 * (perf/RESULTS.md; the cause is not pinned down). */
		tt.ph[PH_NEXT_AUDIO] = 0;
		if (tt.at >= now + MX_TICK_US) {
			ahead = now + MX_TICK_US;
			audio_ahead(r, ahead, &tt);
			ahead_late = audio_judged_late(r, ahead, &tt);
			__atomic_add_fetch(&r->ctr.audio_ahead_ticks, 1, __ATOMIC_RELAXED);
		}
		/* Each receiver's pacer lets out what its rate allows now
		 * (and a probe's padding); what waits is bounded, never a
		 * reason for the tick to wait. */
		cpu_adjust += mx_fanout_pace(r);
		tp_batch_flush(r->batch);
		phase(&tt, PH_SEND);
		if (audio_late)
			log_audio_late(r, &tt, &tt_prev);
		if (r->changed) {
			r->changed = false;
			mx_engine_publish(r->engine, r);
		}
		r->tick++;
		__atomic_add_fetch(&r->ctr.ticks, 1, __ATOMIC_RELAXED);

		/* A tick that ended after the next deadline is missed. The
		 * next ticks then run at once to catch up, so that no 20 ms
		 * of audio is lost; only when far behind (a stalled
		 * machine) does the room start again from now. */
		clock_gettime(CLOCK_MONOTONIC, &now_ts);
		struct timespec next = deadline, far = deadline;
		add_ns(&next, MX_TICK_US * 1000L);
		add_ns(&far, MX_CATCH_UP_TICKS * MX_TICK_US * 1000L);
		bool missed = ts_after(&now_ts, &next);
		if (missed)
			__atomic_add_fetch(&r->ctr.missed_deadlines, 1, __ATOMIC_RELAXED);
		overload_control(r, missed,
				 (uint64_t)((int64_t)(thread_cpu_us() - cpu0) + cpu_adjust), now);
		if (ts_after(&now_ts, &far))
			deadline = now_ts;
		if (r->n_parts == 0 && may_end(r))
			break;
		if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED) && may_end(r))
			break;
	}
	if (r->rec)
		record_stop(r, NULL);
	/* Stopping with people inside (server shutdown): they get a BYE. */
	while (r->n_parts) {
		struct mx_part *p = r->parts[r->n_parts - 1];
		tp_server_remove_peer(mx_engine_tp(r->engine), p->id);
		drop_part(r, p);
	}
	__atomic_store_n(&r->ctr.overloaded, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr.load_permille, 0, __ATOMIC_RELAXED);
	cm_info("mixer", "room %s: worker stopped (send threads: %llu ms of CPU for it)",
		r->name, (unsigned long long)r->ctr.send_pool_us / 1000);
	return NULL;
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
	err = pthread_create(&r->thread, NULL, room_main, r);
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
